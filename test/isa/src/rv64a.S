/* RV64A: lr/sc success and failure (no reservation, reservation used up, other
   address), lr.w sign extension, every AMO in .w and .d form (old value returned,
   .w results sign-extended, .w touching only its word), rd == x0 and rd == rs2.
   Misaligned LR/SC/AMO faults are in tshv-choices.S (QEMU 7.2 differs). */
#include "test.h"

/* case n: word at buf = init, then `op a2, operand, (buf)`; a2 == ret, 64-bit word == mem */
#define AMO(n, op, init, operand, ret, mem) \
    CASE(n); la a0, buf; li a1, init; sd a1, 0(a0); li a1, operand; \
    op a2, a1, (a0); CHECK(a2, ret); ld a3, 0(a0); CHECK(a3, mem)

    .globl main
main:
    /* lr.d / sc.d */
    CASE(1)
    la a0, buf
    li a1, 0x1122334455667788
    sd a1, 0(a0)
    lr.d a2, (a0)
    CHECK(a2, 0x1122334455667788)
    li a3, 0x0102030405060708
    sc.d a4, a3, (a0)
    CHECK(a4, 0)                         /* success writes 0 */
    ld a5, 0(a0)
    CHECK(a5, 0x0102030405060708)
    /* the reservation is used up: a second sc fails and does not write */
    CASE(2)
    li a3, 0x55
    sc.d a4, a3, (a0)
    beqz a4, fail
    ld a5, 0(a0)
    CHECK(a5, 0x0102030405060708)
    /* sc to an address outside the reservation fails */
    CASE(3)
    lr.d a2, (a0)
    addi a6, a0, 8
    sd zero, 0(a6)
    li a3, 0x77
    sc.d a4, a3, (a6)
    beqz a4, fail
    ld a5, 0(a6)
    CHECK(a5, 0)
    sc.d a4, a3, (a0)                    /* clear the reservation */
    /* lr.w sign-extends, sc.w writes only 32 bits */
    CASE(4)
    li a1, 0x11111111ffffff80
    sd a1, 0(a0)
    lr.w a2, (a0)
    CHECK(a2, 0xffffffffffffff80)
    li a3, 0xaaaaaaaa12345678
    sc.w a4, a3, (a0)
    CHECK(a4, 0)
    ld a5, 0(a0)
    CHECK(a5, 0x1111111112345678)
    CASE(5)
    addi a7, a0, 4
    lr.w a2, (a7)
    CHECK(a2, 0x11111111)
    li a3, 0x80000000
    sc.w a4, a3, (a7)
    CHECK(a4, 0)
    ld a5, 0(a0)
    CHECK(a5, 0x8000000012345678)
    lw a5, 4(a0)
    CHECK(a5, 0xffffffff80000000)
    CASE(6)
    sc.w a4, a3, (a0)                    /* no reservation */
    beqz a4, fail
    /* lr/sc loop increment (the usual pattern) */
    CASE(7)
    sd zero, 0(a0)
    li a6, 5
1:  lr.d a2, (a0)
    addi a2, a2, 3
    sc.d a4, a2, (a0)
    bnez a4, 1b
    addi a6, a6, -1
    bnez a6, 1b
    ld a5, 0(a0)
    CHECK(a5, 15)
    /* aq/rl variants */
    CASE(8)
    lr.d.aqrl a2, (a0)
    addi a2, a2, 1
    sc.d.rl a4, a2, (a0)
    CHECK(a4, 0)
    ld a5, 0(a0)
    CHECK(a5, 16)

    /* AMO .d */
    AMO(10, amoswap.d, 0x1111111111111111, 0x2222222222222222, 0x1111111111111111, 0x2222222222222222)
    AMO(11, amoadd.d,  0x7fffffffffffffff, 1, 0x7fffffffffffffff, 0x8000000000000000)
    AMO(12, amoadd.d,  0xffffffff, 1, 0xffffffff, 0x100000000)
    AMO(13, amoxor.d,  0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0)
    AMO(14, amoand.d,  0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0x0f000f000f000f00)
    AMO(15, amoor.d,   0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0xfff0fff0fff0fff0)
    AMO(16, amomin.d,  5, -3, 5, -3)
    AMO(17, amomin.d,  -3, 5, -3, -3)
    AMO(18, amomin.d,  0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x8000000000000000)
    AMO(19, amomax.d,  5, -3, 5, 5)
    AMO(20, amomax.d,  0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff)
    AMO(21, amominu.d, 5, -3, 5, 5)
    AMO(22, amominu.d, -1, 0x8000000000000000, -1, 0x8000000000000000)
    AMO(23, amomaxu.d, 5, -3, 5, -3)
    AMO(24, amomaxu.d, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000)

    /* AMO .w on the low word: old value sign-extended, upper word untouched */
    AMO(30, amoswap.w, 0xaaaaaaaa80000000, 0x1234567812345678, 0xffffffff80000000, 0xaaaaaaaa12345678)
    AMO(31, amoadd.w,  0xaaaaaaaa7fffffff, 1, 0x7fffffff, 0xaaaaaaaa80000000)
    AMO(32, amoadd.w,  0xaaaaaaaaffffffff, 1, 0xffffffffffffffff, 0xaaaaaaaa00000000)   /* no carry out */
    AMO(33, amoxor.w,  0xaaaaaaaaff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0xaaaaaaaaf0f0f0f0)
    AMO(34, amoand.w,  0xaaaaaaaaff00ff00, 0xfffffffff0f0f0f0, 0xffffffffff00ff00, 0xaaaaaaaaf000f000)
    AMO(35, amoor.w,   0xaaaaaaaa0000ff00, 0x80000000, 0xff00, 0xaaaaaaaa8000ff00)
    AMO(36, amomin.w,  0xaaaaaaaa00000005, 0xfffffffd, 5, 0xaaaaaaaafffffffd)        /* -3 < 5 (32-bit signed) */
    AMO(37, amomin.w,  0xaaaaaaaa80000000, 0x7fffffff, 0xffffffff80000000, 0xaaaaaaaa80000000)
    AMO(38, amomax.w,  0xaaaaaaaa00000005, 0xfffffffd, 5, 0xaaaaaaaa00000005)
    AMO(39, amomax.w,  0xaaaaaaaa80000000, 0x000000017fffffff, 0xffffffff80000000, 0xaaaaaaaa7fffffff) /* rs2 upper bits ignored */
    AMO(40, amominu.w, 0xaaaaaaaa00000005, 0xfffffffd, 5, 0xaaaaaaaa00000005)
    AMO(41, amominu.w, 0xaaaaaaaaffffffff, 0x0000000180000000, 0xffffffffffffffff, 0xaaaaaaaa80000000)
    AMO(42, amomaxu.w, 0xaaaaaaaa00000005, 0xfffffffd, 5, 0xaaaaaaaafffffffd)
    AMO(43, amomaxu.w, 0xaaaaaaaa7fffffff, 0x80000000, 0x7fffffff, 0xaaaaaaaa80000000)

    /* AMO .w on the high word of a doubleword */
    CASE(44)
    la a0, buf
    li a1, 0x7ffffffe00000001
    sd a1, 0(a0)
    addi a4, a0, 4
    li a1, 1
    amoadd.w a2, a1, (a4)
    CHECK(a2, 0x7ffffffe)
    ld a3, 0(a0)
    CHECK(a3, 0x7fffffff00000001)

    /* rd == x0: memory still updated */
    CASE(45)
    sd zero, 0(a0)
    li a1, 9
    amoadd.d x0, a1, (a0)
    ld a3, 0(a0)
    CHECK(a3, 9)
    CHECK(x0, 0)
    /* rd == rs2: old value lands in rd, memory gets the operand */
    CASE(46)
    li a1, 100
    amoswap.d a1, a1, (a0)
    CHECK(a1, 9)
    ld a3, 0(a0)
    CHECK(a3, 100)
    CASE(47)
    li a1, 5
    amoadd.w.aqrl a1, a1, (a0)
    CHECK(a1, 100)
    ld a3, 0(a0)
    CHECK(a3, 105)

    j pass

    .data
    .align 4
buf: .dword 0, 0
