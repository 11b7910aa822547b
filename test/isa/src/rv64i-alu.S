/* RV64I integer computational instructions: register and immediate forms,
   32-bit W forms (result sign-extended from bit 31), shifts (shamt masking),
   set-less-than, lui/auipc and writes to x0. */
#include "test.h"

    .globl main
main:
    /* add / addi / sub */
    TEST_RR( 1, add, 0, 0, 0)
    TEST_RR( 2, add, 3, 1, 2)
    TEST_RR( 3, add, 0xfffffffffffffffe, -1, -1)
    TEST_RR( 4, add, 0x8000000000000000, 0x7fffffffffffffff, 1)       /* wraps */
    TEST_RR( 5, add, 0, 0x8000000000000000, 0x8000000000000000)
    TEST_RR( 6, add, 0x0000000100000000, 0x00000000ffffffff, 1)       /* no 32-bit truncation */
    TEST_RR_SRC1( 7, add, 24, 13, 11)
    TEST_RR_SRC2( 8, add, 25, 14, 11)
    TEST( 9, a0, 26, li a0, 13; add a0, a0, a0)
    TEST_RI(10, addi, 0x800, 0x1, 0x7ff)
    TEST_RI(11, addi, 0xfffffffffffff801, 0x1, -0x800)               /* imm sign-extends */
    TEST_RI(12, addi, 0x7fffffffffffffff, 0x8000000000000000, -1)
    TEST_RI(13, addi, 0x8000000000000000, 0x7fffffffffffffff, 1)
    TEST_RR(14, sub, 0, 5, 5)
    TEST_RR(15, sub, 0xffffffffffffffff, 0, 1)
    TEST_RR(16, sub, 0x7fffffffffffffff, 0x8000000000000000, 1)
    TEST_RR(17, sub, 0x8000000000000001, 0, 0x7fffffffffffffff)
    TEST_RR_SRC1(18, sub, 2, 13, 11)
    TEST_RR_SRC2(19, sub, 3, 14, 11)

    /* W forms: operate on low 32 bits, sign-extend result */
    TEST_RR(20, addw, 0xffffffff80000000, 0x7fffffff, 1)
    TEST_RR(21, addw, 0, 0xffffffff, 1)
    TEST_RR(22, addw, 0x12345678, 0xabcdef0012345677, 0x1)            /* upper bits ignored */
    TEST_RI(23, addiw, 0xffffffffffffffff, 0x0, -1)
    TEST_RI(24, addiw, 0x000000007fffffff, 0xffffffff80000000, -1)
    TEST_RI(25, addiw, 0xffffffff80000000, 0x7fffffff, 1)
    TEST_RI(26, addiw, 0x12345678, 0x1212345678, 0)                   /* sext.w */
    TEST_RR(27, subw, 0x7fffffff, 0xffffffff80000000, 1)
    TEST_RR(28, subw, 0xffffffffffffffff, 0x100000000, 1)
    TEST_RR(29, subw, 0, 0xaaaaaaaa00000005, 0x5555555500000005)

    /* logic */
    TEST_RR(30, and, 0x0f000f00, 0xff00ff00, 0x0f0f0f0f)
    TEST_RR(31, or,  0xfff0fff0fff0ff0f, 0xff00ff00ff00ff0f, 0x00f000f00ff0ff00)
    TEST_RR(32, xor, 0xf00ff00f, 0xff00ff00, 0x0f0f0f0f)
    TEST_RI(33, andi, 0xff00ff00ff00f800, 0xff00ff00ff00ff00, -0x7f1)
    TEST_RI(34, andi, 0x70f, 0xff00ff00ff00ff0f, 0x70f)
    TEST_RI(35, ori,  0xfffffffffffff80f, 0x0f, -0x800 + 0xf)
    TEST_RI(36, ori,  0xff00ff00ff00ff0f, 0xff00ff00ff00ff00, 0x00f)
    TEST_RI(37, xori, 0x00ff00ff00ff00f0, 0xff00ff00ff00ff0f, -1)    /* not */
    TEST_RI(38, xori, 0xff00ff00ff00f800, 0xff00ff00ff00ff0f, 0x70f)
    TEST_RR_SRC1(39, and, 0x0a, 0x0f, 0xfa)

    /* shifts: shamt is rs2[5:0] for 64-bit, rs2[4:0] for W forms */
    TEST_RR(40, sll, 0x8000000000000000, 1, 63)
    TEST_RR(41, sll, 0x2, 1, 65)                                      /* 65 & 63 = 1 */
    TEST_RR(42, sll, 0x0123456789abcdef, 0x0123456789abcdef, 64)
    TEST_RR(43, srl, 0x1, 0x8000000000000000, 63)
    TEST_RR(44, srl, 0x00ffffffffffffff, 0xffffffffffffffff, 8)
    TEST_RR(45, sra, 0xffffffffffffffff, 0x8000000000000000, 63)
    TEST_RR(46, sra, 0xff80000000000000, 0x8000000000000000, 8)
    TEST_RR(47, sra, 0x0040000000000000, 0x4000000000000000, 8)
    TEST_RR(48, sra, 0xfffffffffffffff0, 0xffffffffffffff00, 0xffffffffffffffc4) /* shamt 4 */
    TEST_RI(49, slli, 0x8000000000000000, 1, 63)
    TEST_RI(50, slli, 0x0000000100000000, 1, 32)
    TEST_RI(51, srli, 0x00000000ffffffff, 0xffffffffffffffff, 32)
    TEST_RI(52, srai, 0xffffffffffffffff, 0x8000000000000000, 63)
    TEST_RI(53, srai, 0xffffffff80000000, 0x8000000000000000, 32)
    TEST_RI(54, srai, 0x000000007fffffff, 0x7fffffffffffffff, 32)
    TEST_RR(55, sllw, 0xffffffff80000000, 1, 31)
    TEST_RR(56, sllw, 0x2, 1, 33)                                     /* 33 & 31 = 1 */
    TEST_RR(57, sllw, 0xffffffff87654321, 0x1234567887654321, 0)      /* sign-extends */
    TEST_RR(58, srlw, 0x1, 0x80000000, 31)
    TEST_RR(59, srlw, 0x7fffffff, 0xffffffffffffffff, 1)              /* zero-fills from bit 31 */
    TEST_RR(60, srlw, 0xffffffff80000000, 0x1180000000, 0)
    TEST_RR(61, sraw, 0xffffffffffffffff, 0x80000000, 31)
    TEST_RR(62, sraw, 0xfffffffff8000000, 0x0000000080000000, 4)
    TEST_RR(63, sraw, 0x0000000007ffffff, 0xffffffff7fffffff, 36)     /* 36 & 31 = 4 */
    TEST_RI(64, slliw, 0xffffffff80000000, 1, 31)
    TEST_RI(65, slliw, 0, 0x100000000, 1)
    TEST_RI(66, srliw, 0x000000000fffffff, 0xffffffffffffffff, 4)
    TEST_RI(67, srliw, 0xffffffff80000000, 0x80000000, 0)
    TEST_RI(68, sraiw, 0xfffffffff8000000, 0x80000000, 4)
    TEST_RI(69, sraiw, 0x0000000001234567, 0xffffffff12345678, 4)

    /* set less than */
    TEST_RR(70, slt, 1, -1, 0)
    TEST_RR(71, slt, 0, 0, -1)
    TEST_RR(72, slt, 1, 0x8000000000000000, 0x7fffffffffffffff)
    TEST_RR(73, slt, 0, 5, 5)
    TEST_RR(74, sltu, 0, -1, 0)
    TEST_RR(75, sltu, 1, 0, -1)
    TEST_RR(76, sltu, 0, 0x8000000000000000, 0x7fffffffffffffff)
    TEST_RR(77, sltu, 1, 0x7fffffffffffffff, 0x8000000000000000)
    TEST_RI(78, slti, 1, -2, -1)
    TEST_RI(79, slti, 0, 0, -0x800)
    TEST_RI(80, slti, 1, 0x8000000000000000, 0)
    TEST_RI(81, sltiu, 1, 0, -1)                                      /* imm sign-extends, then unsigned */
    TEST_RI(82, sltiu, 0, -1, -1)
    TEST_RI(83, sltiu, 1, 0xfffffffffffff000, -1)
    TEST_RI(84, sltiu, 1, 0, 1)                                       /* seqz */
    TEST_RI(85, sltiu, 0, 2, 1)
    TEST_RR(86, sltu, 1, 0, 3)                                        /* snez via x0 below */
    TEST(87, a2, 1, li a1, 7; sltu a2, x0, a1)

    /* lui / auipc (immediate sign-extended from bit 31 on RV64) */
    TEST(88, a0, 0x0000000012345000, lui a0, 0x12345)
    TEST(89, a0, 0xffffffff80000000, lui a0, 0x80000)
    TEST(90, a0, 0xfffffffffffff000, lui a0, 0xfffff)
    TEST(91, a0, 0, lui a0, 0)
    CASE(92)
    .option push
    .option norvc
1:  auipc a0, 0
    la a1, 1b
    CHECK_EQ(a0, a1)
    CASE(93)
2:  auipc a0, 0x1
    la a1, 2b
    sub a0, a0, a1
    CHECK(a0, 0x1000)
    CASE(94)
3:  auipc a0, 0xfffff               /* -0x1000 */
    la a1, 3b
    sub a0, a0, a1
    CHECK(a0, 0xfffffffffffff000)
    CASE(95)
4:  auipc a0, 0x80000               /* -0x80000000, sign-extended */
    la a1, 4b
    sub a0, a0, a1
    CHECK(a0, 0xffffffff80000000)
    .option pop

    /* x0 is hardwired to zero */
    TEST(96, a0, 0, li a0, 5; addi x0, a0, 1; mv a0, x0)
    TEST(97, a0, 0, lui x0, 0x12345; add a0, x0, x0)
    TEST(98, a0, 0, li a1, -1; sub x0, x0, a1; or a0, x0, x0)
    TEST(99, a0, 5, li a0, 5; add a0, a0, x0)

    j pass
