/* RV64M: mul/mulh/mulhsu/mulhu/mulw, div/divu/rem/remu and the W forms,
   including division by zero and the signed overflow -2^63 / -1 (M spec 13.2). */
#include "test.h"

    .globl main
main:
    TEST_RR( 1, mul, 0, 0, 0)
    TEST_RR( 2, mul, 42, 6, 7)
    TEST_RR( 3, mul, 0xffffffffffffffd6, -6, 7)
    TEST_RR( 4, mul, 1, -1, -1)
    TEST_RR( 5, mul, 0xfffffffffffffffe, 0x7fffffffffffffff, 2)
    TEST_RR( 6, mul, 0x8000000000000000, 0x8000000000000000, -1)
    TEST_RR( 7, mul, 0x0000000100000000 * 3, 0x100000000, 3)
    TEST_RR( 8, mul, 0xfedcba987654321 * 16, 0xfedcba987654321, 16)
    TEST_RR_SRC1( 9, mul, 143, 13, 11)
    TEST_RR_SRC2(10, mul, 154, 14, 11)

    TEST_RR(11, mulh, 0, -1, -1)
    TEST_RR(12, mulh, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000)
    TEST_RR(13, mulh, 0xffffffffffffffff, -1, 1)
    TEST_RR(14, mulh, 0x3fffffffffffffff, 0x7fffffffffffffff, 0x7fffffffffffffff)
    TEST_RR(15, mulh, 0xc000000000000000, 0x8000000000000000, 0x7fffffffffffffff)
    TEST_RR(16, mulh, 0, 0x7fffffff, 0x7fffffff)

    TEST_RR(17, mulhu, 0xfffffffffffffffe, -1, -1)
    TEST_RR(18, mulhu, 1, -1, 2)
    TEST_RR(19, mulhu, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000)
    TEST_RR(20, mulhu, 0, 0xffffffff, 0xffffffff)
    TEST_RR(21, mulhu, 0x0000000000000001, 0x100000000, 0x100000000)

    TEST_RR(22, mulhsu, 0xffffffffffffffff, -1, -1)               /* -1 * (2^64-1) */
    TEST_RR(23, mulhsu, 0x8000000000000000, 0x8000000000000000, -1)
    TEST_RR(24, mulhsu, 1, 2, 0x8000000000000000)
    TEST_RR(25, mulhsu, 0xffffffffffffffff, -2, 0x8000000000000000) /* -2 * 2^63 = -2^64 */
    TEST_RR(26, mulhsu, 0, 0x7fffffffffffffff, 1)

    TEST_RR(27, mulw, 0xfffffffffffffffe, 0x7fffffff, 2)
    TEST_RR(28, mulw, 15, 0x100000003, 0x100000005)               /* upper bits ignored */
    TEST_RR(29, mulw, 0xffffffff80000000, 0x10000, 0x8000)
    TEST_RR(30, mulw, 0, 0x10000, 0x10000)
    TEST_RR(31, mulw, 1, -1, -1)

    /* signed division truncates toward zero; remainder has the dividend's sign */
    TEST_RR(32, div, 3, 20, 6)
    TEST_RR(33, div, -3, -20, 6)
    TEST_RR(34, div, -3, 20, -6)
    TEST_RR(35, div, 3, -20, -6)
    TEST_RR(36, div, -1, 20, 0)                                     /* by zero */
    TEST_RR(37, div, -1, 0, 0)
    TEST_RR(38, div, 0x8000000000000000, 0x8000000000000000, -1)   /* overflow */
    TEST_RR(39, div, 0xc000000000000000, 0x8000000000000000, 2)
    TEST_RR(40, rem, 2, 20, 6)
    TEST_RR(41, rem, -2, -20, 6)
    TEST_RR(42, rem, 2, 20, -6)
    TEST_RR(43, rem, -2, -20, -6)
    TEST_RR(44, rem, 20, 20, 0)                                     /* by zero: dividend */
    TEST_RR(45, rem, 0x8000000000000000, 0x8000000000000000, 0)
    TEST_RR(46, rem, 0, 0x8000000000000000, -1)                     /* overflow */

    TEST_RR(47, divu, 3, 20, 6)
    TEST_RR(48, divu, 0x7fffffffffffffff, -1, 2)
    TEST_RR(49, divu, 0, 20, -6)
    TEST_RR(50, divu, 0xffffffffffffffff, 20, 0)                    /* by zero */
    TEST_RR(51, divu, 0xffffffffffffffff, 0, 0)
    TEST_RR(52, divu, 0, 0x8000000000000000, -1)
    TEST_RR(53, remu, 2, 20, 6)
    TEST_RR(54, remu, 1, -1, 2)
    TEST_RR(55, remu, 20, 20, -6)
    TEST_RR(56, remu, 20, 20, 0)                                    /* by zero: dividend */
    TEST_RR(57, remu, 0xffffffffffffffff, -1, 0)
    TEST_RR(58, remu, 0x8000000000000000, 0x8000000000000000, -1)

    /* W forms: 32-bit operands, result sign-extended from bit 31 */
    TEST_RR(59, divw, 3, 0xffffffff00000014, 6)                      /* upper bits ignored */
    TEST_RR(60, divw, -3, -20, 6)
    TEST_RR(61, divw, -1, 20, 0)                                    /* by zero */
    TEST_RR(62, divw, -1, 20, 0x100000000)                          /* divisor low 32 bits are 0 */
    TEST_RR(63, divw, 0xffffffff80000000, 0x80000000, -1)           /* overflow */
    TEST_RR(64, divuw, 0x7fffffff, 0xfffffffe, 2)
    TEST_RR(65, divuw, 0xffffffff80000000, 0x80000000, 1)           /* result sign-extended */
    TEST_RR(66, divuw, 0xffffffffffffffff, 20, 0)                   /* by zero */
    TEST_RR(67, divuw, 0x55555555, 0xffffffff, 3)
    TEST_RR(68, remw, 2, 20, 6)
    TEST_RR(69, remw, -2, -20, 6)
    TEST_RR(70, remw, 0xffffffff80000000, 0x80000000, 0)            /* by zero: sext dividend */
    TEST_RR(71, remw, 0, 0x80000000, -1)                            /* overflow */
    TEST_RR(72, remw, 0x14, 0x1234567800000014, 0x100000006 + 0x100) /* 20 % 262 */
    TEST_RR(73, remuw, 0xf, 0xffffffff, 0x10)
    TEST_RR(74, remuw, 0xffffffff80000001, 0x80000001, 0)           /* by zero: sext dividend */
    TEST_RR(75, remuw, 0xffffffff80000000, 0x80000000, 0x80000001)  /* result sign-extended */
    TEST_RR(76, remuw, 0, 0xffffffff, 0xffffffff)

    /* destination x0 */
    TEST(77, a0, 0, li a1, 5; li a2, 7; mul x0, a1, a2; div x0, a1, x0; mv a0, x0)

    j pass
