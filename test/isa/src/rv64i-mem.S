/* RV64I loads and stores: every width, sign and zero extension, positive and
   negative offsets, stores touching only their bytes, little-endian order,
   load into x0, and a store followed by a load of the same bytes. */
#include "test.h"

#define LOAD(n, op, val, off) \
    TEST(n, a0, val, la a1, data; op a0, off(a1))

    .globl main
main:
    /* data = 0x8091a2b3c4d5e6f7, 0x0f1e2d3c4b5a6978 */
    LOAD( 1, lb,  0xfffffffffffffff7, 0)
    LOAD( 2, lb,  0xffffffffffffff80, 7)
    LOAD( 3, lb,  0x0000000000000078, 8)
    LOAD( 4, lbu, 0x00000000000000f7, 0)
    LOAD( 5, lbu, 0x0000000000000080, 7)
    LOAD( 6, lh,  0xffffffffffffe6f7, 0)
    LOAD( 7, lh,  0xffffffffffff8091, 6)
    LOAD( 8, lh,  0x0000000000006978, 8)
    LOAD( 9, lhu, 0x000000000000e6f7, 0)
    LOAD(10, lhu, 0x0000000000008091, 6)
    LOAD(11, lw,  0xffffffffc4d5e6f7, 0)
    LOAD(12, lw,  0xffffffff8091a2b3, 4)
    LOAD(13, lw,  0x000000004b5a6978, 8)
    LOAD(14, lwu, 0x00000000c4d5e6f7, 0)
    LOAD(15, lwu, 0x000000008091a2b3, 4)
    LOAD(16, ld,  0x8091a2b3c4d5e6f7, 0)
    LOAD(17, ld,  0x0f1e2d3c4b5a6978, 8)
    /* negative offsets */
    TEST(18, a0, 0x8091a2b3c4d5e6f7, la a1, data + 8; ld a0, -8(a1))
    TEST(19, a0, 0xffffffffffffff80, la a1, data + 2047; lb a0, -2040(a1))
    TEST(20, a0, 0x000000000000000f, la a1, data + 0x800; lbu a0, -0x7f1(a1))
    /* load to x0 has no effect (and does not trap) */
    TEST(21, a0, 0, la a1, data; ld x0, 0(a1); mv a0, x0)

    /* stores: each width writes exactly its bytes */
    CASE(22)
    la a1, buf
    li a0, -1
    sd a0, 0(a1)
    sd a0, 8(a1)
    li a0, 0x12345678abcdef01
    sb a0, 3(a1)
    ld a2, 0(a1)
    CHECK(a2, 0xffffffff01ffffff)
    CASE(23)
    sh a0, 6(a1)
    ld a2, 0(a1)
    CHECK(a2, 0xef01ffff01ffffff)
    CASE(24)
    sw a0, 8(a1)
    ld a2, 8(a1)
    CHECK(a2, 0xffffffffabcdef01)
    CASE(25)
    sd a0, 0(a1)
    ld a2, 0(a1)
    CHECK(a2, 0x12345678abcdef01)
    ld a2, 8(a1)
    CHECK(a2, 0xffffffffabcdef01)
    /* little-endian byte order */
    CASE(26)
    lbu a2, 0(a1)
    CHECK(a2, 0x01)
    lbu a2, 7(a1)
    CHECK(a2, 0x12)
    lhu a2, 2(a1)
    CHECK(a2, 0xabcd)
    /* negative store offset */
    CASE(27)
    addi a3, a1, 16
    li a0, 0x55
    sb a0, -16(a3)
    sh a0, -14(a3)
    lwu a2, 0(a1)
    CHECK(a2, 0x0055ef55)
    /* store of x0 */
    CASE(28)
    sd x0, 8(a1)
    ld a2, 8(a1)
    CHECK(a2, 0)
    /* store/load round trip for each width with sign extension */
    CASE(29)
    li a0, 0x80
    sb a0, 0(a1)
    lb a2, 0(a1)
    CHECK(a2, 0xffffffffffffff80)
    CASE(30)
    li a0, 0x8000
    sh a0, 0(a1)
    lh a2, 0(a1)
    CHECK(a2, 0xffffffffffff8000)
    CASE(31)
    li a0, 0x80000000
    sw a0, 0(a1)
    lw a2, 0(a1)
    CHECK(a2, 0xffffffff80000000)
    lwu a2, 0(a1)
    CHECK(a2, 0x80000000)
    /* base register == destination */
    CASE(32)
    la a2, data
    ld a2, 8(a2)
    CHECK(a2, 0x0f1e2d3c4b5a6978)
    /* store then load with rs1 == rs2 (stores own address) */
    CASE(33)
    la a1, buf
    sd a1, 0(a1)
    ld a2, 0(a1)
    CHECK_EQ(a1, a2)

    j pass

    .data
    .align 3
data: .dword 0x8091a2b3c4d5e6f7, 0x0f1e2d3c4b5a6978
buf:  .dword 0, 0
