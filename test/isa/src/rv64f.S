/* RV64F: single precision. Transfers and NaN-boxing, sign injection, min/max,
   comparisons and their invalid-flag rules, fclass (all ten classes),
   conversions (every rounding mode, saturation, NaN), fcsr/frm/fflags,
   reserved rounding modes, mstatus.FS (Off -> illegal, writes -> Dirty + SD),
   and the generated arithmetic cases in rv64f-arith.inc (1000+). */
#include "fp.h"

#define QNAN  0x7fc00000
#define SNAN  0x7f800001
#define PINF  0x7f800000
#define NINF  0xff800000
#define ONE   0x3f800000
#define MONE  0xbf800000
#define TWO   0x40000000
#define MTWO  0xc0000000
#define NZERO 0x80000000

    .globl main
main:
    /* ---- transfers ------------------------------------------------------- */
    /* flw NaN-boxes; fsw stores the low 32 bits */
    CASE(1)
    la a1, fdata
    flw f1, 0(a1)
    CHECK_FS(f1, 0xc0490fdb)
    fsw f1, 8(a1)
    ld a2, 8(a1)
    CHECK(a2, 0x11111111c0490fdb)     /* only the low word written */
    /* fmv.w.x NaN-boxes, ignores the upper half of the integer register */
    CASE(2)
    li a0, 0x123456783f800000
    fmv.w.x f2, a0
    CHECK_FS(f2, 0x3f800000)
    /* fmv.x.w sign-extends bit 31 */
    TEST(3, a0, 0xffffffff80000000, LDS(f1, NZERO); fmv.x.w a0, f1)
    TEST(4, a0, 0x000000007fc00000, LDS(f1, QNAN); fmv.x.w a0, f1)
    TEST(5, a0, 0xffffffffff800001, LDS(f1, 0xff800001); fmv.x.w a0, f1)   /* sNaN bits unchanged */
    /* fmv.x.w and fsw of a register that is not NaN-boxed move the raw low bits */
    TEST(6, a0, 0xffffffff80000001, LDD(f1, 0x0000000080000001); fmv.x.w a0, f1)
    CASE(7)
    LDD(f1, 0x12345678cafebabe)
    la a1, fdata
    fsw f1, 12(a1)
    lwu a2, 12(a1)
    CHECK(a2, 0xcafebabe)
    /* flw with a negative offset */
    CASE(8)
    la a1, fdata + 16
    flw f5, -16(a1)
    CHECK_FS(f5, 0xc0490fdb)

    /* ---- NaN-boxing of inputs: an unboxed value is the canonical NaN ------- */
    CASE(10)
    LDD(f1, 0x000000003f800000)         /* "1.0" without the box */
    LDS(f2, ONE)
    csrwi fflags, 0
    fadd.s f3, f1, f2
    CHECK_FS(f3, QNAN)
    CHECK_FLAGS(0)                      /* canonical NaN is quiet: no NV */
    CASE(11)
    LDD(f1, 0xfffffffe3f800000)         /* one upper bit clear: still unboxed */
    fmul.s f3, f1, f2
    CHECK_FS(f3, QNAN)
    CHECK_FLAGS(0)
    CASE(12)
    LDD(f1, 0x00000000bf800000)
    LDS(f2, MONE)
    fsgnj.s f3, f2, f1                  /* sign taken from canonical NaN: + */
    CHECK_FS(f3, ONE)
    fsgnj.s f3, f1, f2                  /* magnitude of canonical NaN, sign of -1 */
    CHECK_FS(f3, 0xffc00000)
    fsgnjn.s f3, f1, f1
    CHECK_FS(f3, 0xffc00000)
    CASE(13)
    fclass.s a0, f1
    CHECK(a0, 0x200)                    /* quiet NaN */
    CASE(14)
    csrwi fflags, 0
    feq.s a0, f1, f1
    CHECK(a0, 0)
    CHECK_FLAGS(0)
    flt.s a0, f1, f2
    CHECK(a0, 0)
    CHECK_FLAGS(0x10)                   /* flt signals on quiet NaN */
    CASE(15)
    fcvt.w.s a0, f1, rtz
    CHECK(a0, 0x7fffffff)
    CHECK_FLAGS(0x10)
    CASE(16)
    fcvt.d.s f3, f1
    CHECK_FD(f3, 0x7ff8000000000000)
    CHECK_FLAGS(0)
    CASE(17)
    fmin.s f3, f1, f2                   /* NaN input ignored */
    CHECK_FS(f3, MONE)
    CHECK_FLAGS(0)
    CASE(18)
    LDD(f4, 0x000000003f800000)
    fmadd.s f3, f2, f2, f4
    CHECK_FS(f3, QNAN)
    CHECK_FLAGS(0)

    /* ---- sign injection: no canonicalisation, no flags -------------------- */
    FOP2S_NR(20, fsgnj.s,  ONE,  0, MONE, TWO)
    FOP2S_NR(21, fsgnj.s,  MONE, 0, ONE, MTWO)
    FOP2S_NR(22, fsgnjn.s, MONE, 0, ONE, TWO)
    FOP2S_NR(23, fsgnjn.s, ONE,  0, ONE, MTWO)
    FOP2S_NR(24, fsgnjx.s, MONE, 0, ONE, MTWO)
    FOP2S_NR(25, fsgnjx.s, ONE,  0, MONE, MTWO)
    FOP2S_NR(26, fsgnjx.s, MONE, 0, MONE, TWO)
    FOP2S_NR(27, fsgnj.s,  0xff800001, 0, SNAN, MONE)   /* sNaN kept, no NV */
    FOP2S_NR(28, fsgnjn.s, 0x7fc12345, 0, 0xffc12345, 0xffc12345)
    FOP2S_NR(29, fsgnjx.s, NZERO, 0, 0, NZERO)

    /* ---- fmin / fmax (IEEE 754-2019 minimumNumber/maximumNumber) ---------- */
    FOP2S_NR(30, fmin.s, ONE, 0, ONE, TWO)
    FOP2S_NR(31, fmax.s, TWO, 0, ONE, TWO)
    FOP2S_NR(32, fmin.s, MTWO, 0, ONE, MTWO)
    FOP2S_NR(33, fmin.s, NZERO, 0, NZERO, 0)           /* -0 < +0 */
    FOP2S_NR(34, fmin.s, NZERO, 0, 0, NZERO)
    FOP2S_NR(35, fmax.s, 0, 0, NZERO, 0)
    FOP2S_NR(36, fmax.s, 0, 0, 0, NZERO)
    FOP2S_NR(37, fmin.s, ONE, 0, QNAN, ONE)            /* one quiet NaN: the number */
    FOP2S_NR(38, fmax.s, ONE, 0, ONE, QNAN)
    FOP2S_NR(39, fmin.s, ONE, 0x10, SNAN, ONE)         /* signalling NaN: the number, NV */
    FOP2S_NR(40, fmax.s, ONE, 0x10, ONE, SNAN)
    FOP2S_NR(41, fmin.s, QNAN, 0, QNAN, QNAN)          /* both NaN: canonical */
    FOP2S_NR(42, fmax.s, QNAN, 0x10, SNAN, QNAN)
    FOP2S_NR(43, fmin.s, QNAN, 0, 0xffc12345, 0x7fc00001)
    FOP2S_NR(44, fmin.s, NINF, 0, NINF, ONE)
    FOP2S_NR(45, fmax.s, MONE, 0, MONE, NINF)
    FOP2S_NR(46, fmax.s, PINF, 0, PINF, 0x7f7fffff)
    FOP2S_NR(47, fmin.s, 0x00000001, 0, 0x00000002, 0x00000001)
    FOP2S_NR(48, fmin.s, 0x80000002, 0, 0x80000002, 0x80000001)

    /* ---- comparisons: feq quiet, flt/fle signalling ----------------------- */
    FCMPS(50, feq.s, 1, 0, ONE, ONE)
    FCMPS(51, feq.s, 0, 0, ONE, TWO)
    FCMPS(52, feq.s, 1, 0, NZERO, 0)
    FCMPS(53, feq.s, 0, 0, QNAN, ONE)
    FCMPS(54, feq.s, 0, 0, QNAN, QNAN)
    FCMPS(55, feq.s, 0, 0x10, SNAN, ONE)
    FCMPS(56, feq.s, 0, 0x10, ONE, SNAN)
    FCMPS(57, flt.s, 1, 0, ONE, TWO)
    FCMPS(58, flt.s, 0, 0, TWO, ONE)
    FCMPS(59, flt.s, 0, 0, NZERO, 0)
    FCMPS(60, flt.s, 1, 0, NINF, PINF)
    FCMPS(61, flt.s, 1, 0, MTWO, MONE)
    FCMPS(62, flt.s, 0, 0x10, QNAN, ONE)
    FCMPS(63, flt.s, 0, 0x10, ONE, QNAN)
    FCMPS(64, flt.s, 1, 0, 0x80000001, 0)
    FCMPS(65, flt.s, 0, 0, 0x00000001, 0)
    FCMPS(66, fle.s, 1, 0, ONE, ONE)
    FCMPS(67, fle.s, 1, 0, NZERO, 0)
    FCMPS(68, fle.s, 1, 0, 0, NZERO)
    FCMPS(69, fle.s, 0, 0, TWO, ONE)
    FCMPS(70, fle.s, 0, 0x10, QNAN, QNAN)
    FCMPS(71, fle.s, 0, 0x10, SNAN, ONE)
    FCMPS(72, fle.s, 1, 0, NINF, NINF)

    /* ---- fclass: one bit per class ----------------------------------------- */
    FCLASSS(80, 0x001, NINF)
    FCLASSS(81, 0x002, MONE)
    FCLASSS(82, 0x004, 0x80000001)       /* negative subnormal */
    FCLASSS(83, 0x008, NZERO)
    FCLASSS(84, 0x010, 0)
    FCLASSS(85, 0x020, 0x007fffff)       /* positive subnormal */
    FCLASSS(86, 0x040, 0x00800000)       /* smallest normal */
    FCLASSS(87, 0x080, PINF)
    FCLASSS(88, 0x100, SNAN)
    FCLASSS(89, 0x200, QNAN)
    FCLASSS(90, 0x100, 0xffbfffff)       /* negative sNaN */
    FCLASSS(91, 0x200, 0xffc00001)       /* negative qNaN */
    FCLASSS(92, 0x002, 0xff7fffff)       /* -max */

    /* ---- float -> integer ----------------------------------------------------- */
    FCVT_XS(100, fcvt.w.s, rne, 2, 0x01, 0x40200000)            /* 2.5 */
    FCVT_XS(101, fcvt.w.s, rtz, 2, 0x01, 0x40200000)
    FCVT_XS(102, fcvt.w.s, rdn, 2, 0x01, 0x40200000)
    FCVT_XS(103, fcvt.w.s, rup, 3, 0x01, 0x40200000)
    FCVT_XS(104, fcvt.w.s, rmm, 3, 0x01, 0x40200000)
    FCVT_XS(105, fcvt.w.s, rne, -2, 0x01, 0xc0200000)           /* -2.5 */
    FCVT_XS(106, fcvt.w.s, rtz, -2, 0x01, 0xc0200000)
    FCVT_XS(107, fcvt.w.s, rdn, -3, 0x01, 0xc0200000)
    FCVT_XS(108, fcvt.w.s, rup, -2, 0x01, 0xc0200000)
    FCVT_XS(109, fcvt.w.s, rmm, -3, 0x01, 0xc0200000)
    FCVT_XS_DYN(110, fcvt.w.s, 0, 2, 0x01, 0x40200000)
    FCVT_XS_DYN(111, fcvt.w.s, 1, 2, 0x01, 0x40200000)
    FCVT_XS_DYN(112, fcvt.w.s, 2, 2, 0x01, 0x40200000)
    FCVT_XS_DYN(113, fcvt.w.s, 3, 3, 0x01, 0x40200000)
    FCVT_XS_DYN(114, fcvt.w.s, 4, 3, 0x01, 0x40200000)
    FCVT_XS(115, fcvt.w.s, rne, 0, 0x01, 0xbf000000)            /* -0.5 -> 0 */
    FCVT_XS(116, fcvt.w.s, rdn, -1, 0x01, 0xbf000000)
    FCVT_XS(117, fcvt.w.s, rtz, 0x7fffffff, 0x10, 0x4f32d05e)   /* 3e9 saturates */
    FCVT_XS(118, fcvt.w.s, rtz, 0xffffffff80000000, 0x10, 0xcf32d05e)
    FCVT_XS(119, fcvt.w.s, rtz, 0xffffffff80000000, 0, 0xcf000000)   /* -2^31 exact */
    FCVT_XS(120, fcvt.w.s, rtz, 0x7fffffff, 0x10, 0x4f000000)   /* 2^31 */
    FCVT_XS(121, fcvt.w.s, rtz, 0x7fffffff, 0x10, QNAN)         /* NaN -> max */
    FCVT_XS(122, fcvt.w.s, rtz, 0x7fffffff, 0x10, 0xffc00000)   /* negative NaN -> max too */
    FCVT_XS(123, fcvt.w.s, rtz, 0x7fffffff, 0x10, PINF)
    FCVT_XS(124, fcvt.w.s, rtz, 0xffffffff80000000, 0x10, NINF)
    FCVT_XS(125, fcvt.w.s, rtz, 0xffffffffffffffff, 0, MONE)
    FCVT_XS(126, fcvt.w.s, rtz, 0, 0x01, 0x00000001)           /* subnormal */
    FCVT_XS(127, fcvt.wu.s, rtz, 0xffffffffb2d05e00, 0, 0x4f32d05e) /* 3e9: sign-extended */
    FCVT_XS(128, fcvt.wu.s, rtz, 0, 0x10, MONE)
    FCVT_XS(129, fcvt.wu.s, rtz, 0, 0x01, 0xbf000000)          /* -0.5 truncates to 0: inexact only */
    FCVT_XS(130, fcvt.wu.s, rdn, 0, 0x10, 0xbf000000)          /* -0.5 rounds to -1: invalid */
    FCVT_XS(131, fcvt.wu.s, rtz, 0xffffffffffffffff, 0x10, QNAN)
    FCVT_XS(132, fcvt.wu.s, rtz, 0xffffffffffffffff, 0x10, PINF)
    FCVT_XS(133, fcvt.wu.s, rtz, 0, 0x10, NINF)
    FCVT_XS(134, fcvt.wu.s, rtz, 0xffffffffffffffff, 0x10, 0x4f800000)  /* 2^32 */
    FCVT_XS(135, fcvt.wu.s, rtz, 0, 0, NZERO)
    FCVT_XS(136, fcvt.wu.s, rup, 2, 0x01, 0x3fc00000)          /* 1.5 */
    FCVT_XS(137, fcvt.l.s, rtz, 0x7fffffffffffffff, 0x10, 0x5f000000)   /* 2^63 */
    FCVT_XS(138, fcvt.l.s, rtz, 0x8000000000000000, 0, 0xdf000000)      /* -2^63 exact */
    FCVT_XS(139, fcvt.l.s, rtz, 0x7fffffffffffffff, 0x10, SNAN)
    FCVT_XS(140, fcvt.l.s, rtz, 0x8000000000000000, 0x10, NINF)
    FCVT_XS(141, fcvt.l.s, rne, 2, 0x01, 0x3fc00000)
    FCVT_XS(142, fcvt.l.s, rmm, -2, 0x01, 0xbfc00000)
    FCVT_XS(143, fcvt.l.s, rtz, 3000000000, 0, 0x4f32d05e)
    FCVT_XS(144, fcvt.lu.s, rtz, 0, 0x10, MONE)
    FCVT_XS(145, fcvt.lu.s, rtz, 0xffffffffffffffff, 0x10, 0x5f800000) /* 2^64 */
    FCVT_XS(146, fcvt.lu.s, rtz, 0xffffffffffffffff, 0x10, QNAN)
    FCVT_XS(147, fcvt.lu.s, rtz, 0x8000000000000000, 0, 0x5f000000)
    FCVT_XS(148, fcvt.lu.s, rtz, 0, 0, NZERO)
    FCVT_XS(149, fcvt.lu.s, rtz, 0xffffff0000000000, 0, 0x5f7fffff)     /* largest below 2^64 */

    /* ---- integer -> float --------------------------------------------------- */
    FCVT_SX(150, fcvt.s.w, rne, 0x4f000000, 0x01, 0x7fffffff)
    FCVT_SX(151, fcvt.s.w, rtz, 0x4effffff, 0x01, 0x7fffffff)
    FCVT_SX(152, fcvt.s.w, rdn, 0x4effffff, 0x01, 0x7fffffff)
    FCVT_SX(153, fcvt.s.w, rup, 0x4f000000, 0x01, 0x7fffffff)
    FCVT_SX(154, fcvt.s.w, rmm, 0x4f000000, 0x01, 0x7fffffff)
    FCVT_SX(155, fcvt.s.w, rne, 0x4b800000, 0x01, 16777217)     /* 2^24+1: tie */
    FCVT_SX(156, fcvt.s.w, rmm, 0x4b800001, 0x01, 16777217)
    FCVT_SX(157, fcvt.s.w, rdn, 0xcb800001, 0x01, -16777217)
    FCVT_SX(158, fcvt.s.w, rup, 0xcb800000, 0x01, -16777217)
    FCVT_SX(159, fcvt.s.w, rne, MONE, 0, 0x00000000ffffffff)    /* uses the low 32 bits */
    FCVT_SX(160, fcvt.s.w, rne, 0, 0, 0)
    FCVT_SX(161, fcvt.s.w, rne, 0xcf000000, 0, 0x80000000)
    FCVT_SX(162, fcvt.s.wu, rne, 0x4f800000, 0x01, 0xffffffff)
    FCVT_SX(163, fcvt.s.wu, rtz, 0x4f7fffff, 0x01, 0xffffffff)
    FCVT_SX(164, fcvt.s.wu, rne, ONE, 0, 0xffffffff00000001)
    FCVT_SX(165, fcvt.s.wu, rne, 0x4f000000, 0, 0x80000000)
    FCVT_SX(166, fcvt.s.l, rne, MONE, 0, -1)
    FCVT_SX(167, fcvt.s.l, rne, 0xdf000000, 0, 0x8000000000000000)
    FCVT_SX(168, fcvt.s.l, rne, 0x5f000000, 0x01, 0x7fffffffffffffff)
    FCVT_SX(169, fcvt.s.l, rtz, 0x5effffff, 0x01, 0x7fffffffffffffff)
    FCVT_SX(170, fcvt.s.lu, rne, 0x5f800000, 0x01, 0xffffffffffffffff)
    FCVT_SX(171, fcvt.s.lu, rtz, 0x5f7fffff, 0x01, 0xffffffffffffffff)
    FCVT_SX(172, fcvt.s.lu, rne, 0x5f000000, 0, 0x8000000000000000)
    CASE(173)                                                   /* dynamic rounding */
    li a0, 16777217
    fsrmi 4
    fcvt.s.w f3, a0, dyn
    fsrmi 0
    CHECK_FS(f3, 0x4b800001)
    CHECK_FLAGS(0x01)

    /* ---- fcsr, frm, fflags ------------------------------------------------ */
    CASE(180)
    csrwi fcsr, 0
    li a0, 0xff
    csrw fcsr, a0
    csrr a1, fcsr
    CHECK(a1, 0xff)
    csrr a1, frm
    CHECK(a1, 7)
    csrr a1, fflags
    CHECK(a1, 0x1f)
    CASE(181)
    li a0, 0xfffffffffffff123
    csrw fcsr, a0                       /* bits above 7 are ignored */
    csrr a1, fcsr
    CHECK(a1, 0x23)
    CASE(182)
    fsrmi a1, 2                         /* returns the old frm */
    CHECK(a1, 1)
    csrr a1, fcsr
    CHECK(a1, 0x43)
    fsflagsi a1, 0x4
    CHECK(a1, 0x3)
    csrr a1, fcsr
    CHECK(a1, 0x44)
    CASE(183)
    li a0, 0x1e5
    csrw frm, a0                        /* frm is 3 bits */
    csrr a1, frm
    CHECK(a1, 5)
    li a0, 0x3e
    csrw fflags, a0                     /* fflags is 5 bits */
    csrr a1, fflags
    CHECK(a1, 0x1e)
    csrr a1, fcsr
    CHECK(a1, 0xbe)
    csrwi fcsr, 0
    /* flags accumulate until cleared */
    CASE(184)
    LDS(f1, ONE)
    LDS(f2, 0)
    LDS(f4, 0x40400000)
    fdiv.s f3, f1, f2                   /* DZ */
    fdiv.s f3, f1, f4                   /* NX */
    fsqrt.s f3, f3                      /* NX again */
    frflags a1
    CHECK(a1, 0x09)
    fdiv.s f3, f2, f2                   /* NV */
    frflags a1
    CHECK(a1, 0x19)
    csrwi fflags, 0

    /* ---- reserved rounding modes ------------------------------------------ */
    /* static rm 5 and 6 are reserved: illegal instruction, mtval = the instruction */
    ILLEGAL_INSN(190, 0x0020d1d3)       /* fadd.s f3, f1, f2, rm=5 */
    ILLEGAL_INSN(191, 0x0020e1d3)       /* fadd.s f3, f1, f2, rm=6 */
    ILLEGAL_INSN(192, 0x5800e1d3)       /* fsqrt.s f3, f1, rm=6 */
    ILLEGAL_INSN(193, 0xc000d553)       /* fcvt.w.s a0, f1, rm=5 */
    ILLEGAL_INSN(194, 0x2020d1c3)       /* fmadd.s f3, f1, f2, f4, rm=5 */
    /* dynamic rm with frm = 5, 6, 7 is illegal */
    fsrmi 5
    ILLEGAL_INSN(195, 0x0020f1d3)       /* fadd.s f3, f1, f2, dyn */
    fsrmi 6
    ILLEGAL_INSN(196, 0x0020f1d3)
    fsrmi 7
    ILLEGAL_INSN(197, 0x0020f1d3)
    ILLEGAL_INSN(198, 0x2020f1c7)       /* fmsub.s f3, f1, f2, f4, dyn */
    ILLEGAL_INSN(199, 0xd00571d3)       /* fcvt.s.w f3, a0, dyn */
    /* instructions without a rounding mode do not care about frm */
    CASE(200)
    LDS(f1, ONE)
    LDS(f2, MTWO)
    fsgnj.s f3, f1, f2
    fmin.s f3, f3, f1
    feq.s a0, f3, f3
    fclass.s a1, f3
    fmv.x.w a2, f3
    CHECK(a0, 1)
    CHECK(a1, 0x2)
    CHECK(a2, 0xffffffffbf800000)
    csrr a0, frm
    CHECK(a0, 7)
    fsrmi 0

    /* ---- mstatus.FS ---------------------------------------------------------- */
    /* FS = Initial: SD clear; a write to an f register makes FS Dirty and sets SD */
    CASE(210)
    li a0, MSTATUS_FS
    csrc mstatus, a0
    li a0, (1 << 13)
    csrs mstatus, a0
    csrr a1, mstatus
    srli a2, a1, 13
    andi a2, a2, 3
    CHECK(a2, 1)
    bltz a1, fail                       /* SD */
    li a0, 0x40400000
    fmv.w.x f7, a0
    csrr a1, mstatus
    srli a2, a1, 13
    andi a2, a2, 3
    CHECK(a2, 3)
    bgez a1, fail
    /* sstatus shows the same FS and SD */
    csrr a1, sstatus
    srli a2, a1, 13
    andi a2, a2, 3
    CHECK(a2, 3)
    bgez a1, fail
    /* FS = Clean, an FP load makes it Dirty. (An instruction that changes only
       fflags must do so too; QEMU 7.2 does not, so that case is in tshv-choices.S.) */
    CASE(211)
    li a0, MSTATUS_FS
    csrc mstatus, a0
    li a0, (2 << 13)
    csrs mstatus, a0
    csrr a1, mstatus
    bltz a1, fail
    la a1, fdata
    flw f1, 0(a1)
    csrr a1, mstatus
    srli a2, a1, 13
    andi a2, a2, 3
    CHECK(a2, 3)
    bgez a1, fail
    /* FS = Clean, csrw fflags makes it Dirty */
    CASE(212)
    li a0, MSTATUS_FS
    csrc mstatus, a0
    li a0, (2 << 13)
    csrs mstatus, a0
    csrwi fflags, 0
    csrr a1, mstatus
    srli a2, a1, 13
    andi a2, a2, 3
    CHECK(a2, 3)
    /* FS = Off: every F instruction and the FP CSRs are illegal */
    li a0, MSTATUS_FS
    csrc mstatus, a0
    csrr a1, mstatus
    bltz a1, fail                       /* SD clear with FS Off */
    la a1, fdata
    EXPECT_TRAP_TVAL(213, CAUSE_ILLEGAL, 0x0020f1d3, .word 0x0020f1d3)  /* fadd.s */
    EXPECT_TRAP(214, CAUSE_ILLEGAL, flw f1, 0(a1))
    EXPECT_TRAP(215, CAUSE_ILLEGAL, fsw f1, 0(a1))
    EXPECT_TRAP(216, CAUSE_ILLEGAL, fmv.x.w a0, f1)
    EXPECT_TRAP(217, CAUSE_ILLEGAL, fmv.w.x f1, a0)
    EXPECT_TRAP(218, CAUSE_ILLEGAL, csrr a0, fcsr)
    EXPECT_TRAP(219, CAUSE_ILLEGAL, csrr a0, fflags)
    EXPECT_TRAP(220, CAUSE_ILLEGAL, csrwi frm, 1)
    EXPECT_TRAP(221, CAUSE_ILLEGAL, fmadd.s f1, f2, f3, f4)
    EXPECT_TRAP(222, CAUSE_ILLEGAL, fcvt.s.w f1, a0)
    EXPECT_TRAP(223, CAUSE_ILLEGAL, feq.s a0, f1, f2)
    EXPECT_TRAP(224, CAUSE_ILLEGAL, fclass.s a0, f1)
    CASE(225)
    csrr a1, mstatus                    /* the traps did not turn FP on */
    srli a2, a1, 13
    andi a2, a2, 3
    CHECK(a2, 0)
    /* back on: register contents survived */
    li a0, (1 << 13)
    csrs mstatus, a0
    fmv.x.w a0, f7
    CHECK(a0, 0x40400000)

    /* ---- arithmetic (generated) -------------------------------------------- */
    csrwi fcsr, 0
#include "rv64f-arith.inc"

    j pass

    .data
    .align 3
fdata: .word 0xc0490fdb, 0x22222222   /* -pi */
       .dword 0x1111111111111111
