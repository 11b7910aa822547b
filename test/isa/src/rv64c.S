/* RV64C: every compressed instruction of RV64 (quadrants 0, 1, 2), checked for
   its result and, for jumps, its 2-byte link; 32-bit instructions at 2-byte
   aligned addresses; the all-zero illegal instruction (mtval 0) and reserved
   encodings (mtval = the 16 instruction bits); HINT encodings; c.ebreak. */
#include "fp.h"

    .globl main
main:
    .option push
    .option rvc
    /* ---- quadrant 1: immediates and arithmetic ----------------------------- */
    TEST( 1, a0, 0, li a0, 7; c.li a0, 0)
    TEST( 2, a0, 31, c.li a0, 31)
    TEST( 3, a0, -32, c.li a0, -32)
    TEST( 4, a0, 12, li a0, 5; c.addi a0, 7)
    TEST( 5, a0, 0xffffffffffffffe0 + 5, li a0, 5; c.addi a0, -32)
    TEST( 6, a0, 0x100000000, li a0, 0xffffffff; c.addi a0, 1)         /* 64-bit add */
    TEST( 7, a0, 0, li a0, 0xffffffff; c.addiw a0, 1)                   /* 32-bit, sign-extended */
    TEST( 8, a0, 0xffffffff80000000, li a0, 0x7fffffff; c.addiw a0, 1)
    TEST( 9, a0, 0x12345678, li a0, 0xabcd12345678; c.addiw a0, 0)       /* sext.w */
    TEST(10, a0, 0x1f000, c.lui a0, 0x1f)
    TEST(11, a0, 0xfffffffffffe0000, c.lui a0, 0xfffe0)                  /* imm[17] is the sign */
    TEST(12, a0, 0xfffffffffffff000, c.lui a0, 0xfffff)
    TEST(13, s0, 0x0000000080000000 >> 1, li s0, 0x80000000; c.srli s0, 1)
    TEST(14, s0, 1, li s0, 0x8000000000000000; c.srli s0, 63)
    TEST(15, s0, 0xffffffffffffffff, li s0, 0x8000000000000000; c.srai s0, 63)
    TEST(16, s0, 0xffffffff80000000, li s0, 0x8000000000000000; c.srai s0, 32)
    TEST(17, s1, 0x0a, li s1, 0xfa; c.andi s1, 0xf)
    TEST(18, s1, 0xffffffffffffffe0, li s1, -1; c.andi s1, -32)
    TEST(19, a5, 3, li a5, 10; li a4, 7; c.sub a5, a4)
    TEST(20, a5, 0xff, li a5, 0xf0; li a4, 0x0f; c.or a5, a4)
    TEST(21, a5, 0xf0, li a5, 0xff; li a4, 0x0f; c.xor a5, a4)
    TEST(22, a5, 0x0f, li a5, 0xff; li a4, 0x0f; c.and a5, a4)
    TEST(23, a5, 0xffffffff80000000, li a5, 0x7fffffff; li a4, -1; c.subw a5, a4)
    TEST(24, a5, 0, li a5, 0xffffffff; li a4, 1; c.addw a5, a4)
    TEST(25, a5, 0xffffffff80000000, li a5, 0x17fffffff; li a4, 1; c.addw a5, a4)
    TEST(26, a0, 5, li a0, 5; c.nop)
    /* c.addi16sp and c.addi4spn */
    CASE(27)
    mv s11, sp
    c.addi16sp sp, 496
    sub a0, sp, s11
    CHECK(a0, 496)
    c.addi16sp sp, -512
    sub a0, sp, s11
    CHECK(a0, -16)
    mv sp, s11
    CASE(28)
    c.addi4spn a0, sp, 1020
    sub a0, a0, sp
    CHECK(a0, 1020)
    c.addi4spn s1, sp, 4
    sub s1, s1, sp
    CHECK(s1, 4)

    /* ---- quadrant 2: register moves and shifts --------------------------------- */
    TEST(30, a0, 0x1230, li a0, 0x123; c.slli a0, 4)
    TEST(31, t3, 0x8000000000000000, li t3, 1; c.slli t3, 63)
    TEST(32, a0, 0x55, li a1, 0x55; li a0, 1; c.mv a0, a1)
    TEST(33, t4, 0x66, li t4, 0x60; li s2, 6; c.add t4, s2)

    /* ---- loads and stores (quadrant 0: x8..x15 base/data, quadrant 2: sp) --- */
    CASE(40)
    la s0, cdata
    c.lw a0, 0(s0)
    CHECK(a0, 0xffffffff80000001)                                        /* sign-extended */
    c.lw a1, 4(s0)
    CHECK(a1, 0x7ffffffe)
    c.ld a2, 8(s0)
    CHECK(a2, 0x0123456789abcdef)
    CASE(41)
    li a3, 0x1122334455667788
    c.sd a3, 16(s0)
    c.sw a3, 28(s0)
    ld a4, 16(s0)
    CHECK(a4, 0x1122334455667788)
    lwu a4, 28(s0)
    CHECK(a4, 0x55667788)
    CASE(42)
    c.fld fs0, 8(s0)                                                     /* f8 */
    fmv.x.d a0, fs0
    CHECK(a0, 0x0123456789abcdef)
    c.fsd fs0, 32(s0)
    ld a1, 32(s0)
    CHECK(a1, 0x0123456789abcdef)
    /* sp-relative: use a scratch frame */
    CASE(43)
    mv s11, sp
    la sp, cdata
    c.lwsp a0, 0(sp)
    CHECK(a0, 0xffffffff80000001)
    c.ldsp a1, 8(sp)
    CHECK(a1, 0x0123456789abcdef)
    li t1, 0xcafef00ddeadbeef
    c.sdsp t1, 40(sp)
    ld a2, 40(sp)
    CHECK(a2, 0xcafef00ddeadbeef)
    c.swsp t1, 48(sp)
    lwu a2, 48(sp)
    CHECK(a2, 0xdeadbeef)
    c.fldsp ft5, 40(sp)
    fmv.x.d a3, ft5
    CHECK(a3, 0xcafef00ddeadbeef)
    c.fsdsp ft5, 56(sp)
    ld a4, 56(sp)
    CHECK(a4, 0xcafef00ddeadbeef)
    mv sp, s11

    /* ---- control transfer ------------------------------------------------------ */
    CASE(50)
    c.j 1f
    j fail
1:  li a0, 0
    c.beqz a0, 2f
    j fail
2:  li s0, 1
    c.beqz s0, fail_near
    c.bnez s0, 3f
    j fail
3:  li s1, 0
    c.bnez s1, fail_near
    /* c.jr */
    CASE(51)
    la a1, 4f
    c.jr a1
    j fail
4:  /* c.jalr links pc + 2 */
    CASE(52)
    la a1, 5f
6:  c.jalr a1
5:  la a2, 6b
    sub a0, ra, a2
    CHECK(a0, 2)
    /* c.jalr where the target register is ra */
    CASE(53)
    la ra, 7f
8:  c.jalr ra
7:  la a2, 8b
    addi a2, a2, 2
    CHECK_EQ(ra, a2)
    /* backward c.j loop */
    CASE(54)
    li a0, 0
    li a1, 4
9:  addi a0, a0, 1
    c.beqz a0, fail_near
    blt a0, a1, 9b
    CHECK(a0, 4)
    /* 32-bit instruction at a 2-byte aligned address */
    CASE(55)
    .balign 4
    c.nop
    li a0, 0x12345000                   /* lui + addiw at pc = 2 mod 4 */
    .option push
    .option norvc
    addi a0, a0, 0x678
    .option pop
    CHECK(a0, 0x12345678)
    j 10f
fail_near:
    j fail
10:

    /* ---- HINT encodings execute as no-ops (unprivileged 16.7) ------------------ */
    CASE(56)
    li a0, 0x55
    li s0, 0x66
    .half 0x4015                        /* c.li x0, 5 */
    .half 0x0005                        /* c.addi x0, 1 (c.nop with nzimm) */
    .half 0x0501                        /* c.addi a0, 0 */
    .half 0x802a                        /* c.mv x0, a0 */
    .half 0x902a                        /* c.add x0, a0 */
    .half 0x0006                        /* c.slli x0, 1 */
    .half 0x0502                        /* c.slli a0, 0 (c.slli64) */
    .half 0x8001                        /* c.srli s0, 0 (c.srli64) */
    .half 0x8401                        /* c.srai s0, 0 (c.srai64) */
    .half 0x6005                        /* c.lui x0, 1 */
    CHECK(x0, 0)
    CHECK(a0, 0x55)
    CHECK(s0, 0x66)

    /* ---- illegal and reserved encodings: mtval holds the 16 bits ------------- */
    EXPECT_TRAP_TVAL(60, CAUSE_ILLEGAL, 0, .half 0x0000)   /* all-zero instruction */
    EXPECT_TRAP_TVAL(61, CAUSE_ILLEGAL, 0x0004, .half 0x0004)  /* c.addi4spn, nzuimm = 0 */
    EXPECT_TRAP_TVAL(62, CAUSE_ILLEGAL, 0x6101, .half 0x6101)  /* c.addi16sp, nzimm = 0 */
    EXPECT_TRAP_TVAL(63, CAUSE_ILLEGAL, 0x6081, .half 0x6081)  /* c.lui x1, 0 */
    EXPECT_TRAP_TVAL(64, CAUSE_ILLEGAL, 0x2001, .half 0x2001)  /* c.addiw x0 */
    EXPECT_TRAP_TVAL(65, CAUSE_ILLEGAL, 0x4002, .half 0x4002)  /* c.lwsp x0 */
    EXPECT_TRAP_TVAL(66, CAUSE_ILLEGAL, 0x6002, .half 0x6002)  /* c.ldsp x0 */
    EXPECT_TRAP_TVAL(67, CAUSE_ILLEGAL, 0x8002, .half 0x8002)  /* c.jr x0 */
    /* the trapping instruction's address is mepc */
    CASE(68)
    ARM_TRAP(2f)
1:  .half 0x0000
    j fail
2:  la a0, 1b
    la a1, trap_epc
    ld a1, 0(a1)
    CHECK_EQ(a0, a1)

    /* ---- c.ebreak: breakpoint, mepc = its address -------------------------- */
    CASE(70)
    ARM_TRAP(2f)
1:  c.ebreak
    j fail
2:  CHECK_MEM(trap_cause, CAUSE_BREAKPOINT)
    la a0, 1b
    la a1, trap_epc
    ld a1, 0(a1)
    CHECK_EQ(a0, a1)

    /* ---- compressed FP loads need FS on ------------------------------------------ */
    CASE(71)
    li a0, MSTATUS_FS
    csrc mstatus, a0
    la s0, cdata
    EXPECT_TRAP_TVAL(72, CAUSE_ILLEGAL, 0x2400, c.fld fs0, 8(s0))
    li a0, (1 << 13)
    csrs mstatus, a0
    .option pop

    j pass

    .data
    .align 3
cdata: .word 0x80000001, 0x7ffffffe
       .dword 0x0123456789abcdef
       .dword 0, 0, 0, 0, 0, 0, 0, 0
