/* Misaligned accesses. Design choice of this core (as in QEMU): ordinary loads
   and stores, integer and FP, compressed or not, succeed at any alignment,
   including across 8-byte and page boundaries. LR at a misaligned address raises
   load address misaligned (cause 4, mtval = address). An access whose tail runs
   past the end of RAM raises an access fault with mtval = the address of the
   portion that faulted (privileged spec 3.1.16). Misaligned SC/AMO causes are in
   tshv-specific.S. */
#include "test.h"

#define RAM_END 0x88000000

    .globl main
main:
    la s0, mdata            /* bytes 00 11 22 ... ff, 16-byte aligned */
    TEST( 1, a0, 0x2211, lhu a0, 1(s0))
    TEST( 2, a0, 0xffffffffffff8877, lh a0, 7(s0))      /* sign from byte 8 */
    TEST( 3, a0, 0x44332211, lw a0, 1(s0))
    TEST( 4, a0, 0x55443322, lw a0, 2(s0))
    TEST( 5, a0, 0x66554433, lw a0, 3(s0))
    TEST( 6, a0, 0xffffffffaa998877, lw a0, 7(s0))
    TEST( 7, a0, 0x00000000aa998877, lwu a0, 7(s0))
    TEST( 8, a0, 0x8877665544332211, ld a0, 1(s0))
    TEST( 9, a0, 0x9988776655443322, ld a0, 2(s0))
    TEST(10, a0, 0xbbaa998877665544, ld a0, 4(s0))
    TEST(11, a0, 0xeeddccbbaa998877, ld a0, 7(s0))
    /* stores */
    CASE(12)
    la s1, mbuf
    sd zero, 0(s1)
    sd zero, 8(s1)
    li a1, 0x0807060504030201
    sd a1, 3(s1)
    ld a2, 0(s1)
    CHECK(a2, 0x0504030201000000)
    ld a2, 8(s1)
    CHECK(a2, 0x0000000000080706)
    CASE(13)
    li a1, 0xa1a2a3a4
    sw a1, 6(s1)
    ld a2, 0(s1)
    CHECK(a2, 0xa3a4030201000000)
    ld a2, 8(s1)
    CHECK(a2, 0x000000000008a1a2)
    CASE(14)
    li a1, 0xbeef
    sh a1, 15(s1)
    ld a2, 8(s1)
    CHECK(a2, 0xef0000000008a1a2)
    lbu a2, 16(s1)
    CHECK(a2, 0xbe)
    /* across a page boundary (both pages RAM) */
    CASE(15)
    la s2, mpage + 0x1000 - 3
    li a1, 0x1122334455667788
    sd a1, 0(s2)
    ld a2, 0(s2)
    CHECK(a2, 0x1122334455667788)
    lbu a2, 3(s2)
    CHECK(a2, 0x55)
    lw a2, 1(s2)
    CHECK(a2, 0x44556677)
    /* floating point */
    CASE(16)
    flw f1, 1(s0)
    fmv.x.d a0, f1
    CHECK(a0, 0xffffffff44332211)
    fld f2, 3(s0)
    fmv.x.d a0, f2
    CHECK(a0, 0xaa99887766554433)
    fsd f2, 1(s1)
    ld a2, 1(s1)
    CHECK(a2, 0xaa99887766554433)
    fsw f1, 10(s1)
    lwu a2, 10(s1)
    CHECK(a2, 0x44332211)
    /* compressed load/store with a misaligned base */
    CASE(17)
    addi a5, s0, 1
    c.ld a4, 0(a5)
    CHECK(a4, 0x8877665544332211)
    c.lw a4, 4(a5)
    CHECK(a4, 0xffffffff88776655)
    addi a5, s1, 5
    li a3, 0x0123456789abcdef
    c.sd a3, 0(a5)
    ld a2, 5(s1)
    CHECK(a2, 0x0123456789abcdef)

    /* LR at a misaligned address */
    addi a5, s1, 2
    EXPECT_TRAP(20, CAUSE_MISALIGNED_LOAD, lr.w a0, (a5)); CHECK_MEM_EQ(trap_tval, a5)
    addi a5, s1, 4
    EXPECT_TRAP(21, CAUSE_MISALIGNED_LOAD, lr.d a0, (a5)); CHECK_MEM_EQ(trap_tval, a5)
    addi a5, s1, 1
    EXPECT_TRAP(22, CAUSE_MISALIGNED_LOAD, lr.d a0, (a5)); CHECK_MEM_EQ(trap_tval, a5)

    /* tail of the access outside RAM: access fault, mtval = first faulting byte */
    li a5, RAM_END - 4
    EXPECT_TRAP_TVAL(30, CAUSE_LOAD_ACCESS, RAM_END, ld a0, 0(a5))
    li a5, RAM_END - 1
    EXPECT_TRAP_TVAL(31, CAUSE_LOAD_ACCESS, RAM_END, lh a0, 0(a5))
    li a5, RAM_END - 2
    EXPECT_TRAP_TVAL(32, CAUSE_STORE_ACCESS, RAM_END, sw a0, 0(a5))
    /* the last bytes of RAM themselves are fine, aligned or not */
    CASE(33)
    li a5, RAM_END - 8
    li a1, 0x5a5a5a5a5a5a5a5a
    sd a1, 0(a5)
    lw a2, 3(a5)
    CHECK(a2, 0x5a5a5a5a)
    lhu a2, 6(a5)
    CHECK(a2, 0x5a5a)

    j pass

    .data
    .align 4
mdata: .byte 0x00,0x11,0x22,0x33,0x44,0x55,0x66,0x77,0x88,0x99,0xaa,0xbb,0xcc,0xdd,0xee,0xff
       .byte 0x00,0x11,0x22,0x33,0x44,0x55,0x66,0x77,0x88,0x99,0xaa,0xbb,0xcc,0xdd,0xee,0xff
mbuf:  .dword 0, 0, 0, 0
    .align 12
mpage: .skip 0x2000
