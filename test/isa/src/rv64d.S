/* RV64D: double precision. Transfers (fld/fsd, fmv.x.d/fmv.d.x), sign injection,
   min/max, comparisons, fclass (all ten classes), conversions to and from
   integers (every rounding mode, saturation, NaN), fcvt.s.d / fcvt.d.s (rounding,
   overflow, NaN canonicalisation, subnormals), NaN-boxing across S and D, reserved
   rounding modes, mstatus.FS, and the generated arithmetic cases in
   rv64d-arith.inc (1000+). */
#include "fp.h"

#define QNAN  0x7ff8000000000000
#define SNAN  0x7ff0000000000001
#define PINF  0x7ff0000000000000
#define NINF  0xfff0000000000000
#define ONE   0x3ff0000000000000
#define MONE  0xbff0000000000000
#define TWO   0x4000000000000000
#define MTWO  0xc000000000000000
#define NZERO 0x8000000000000000
#define DMAX  0x7fefffffffffffff

/* fcvt.s.d f3, f1 (double operand, single result) and fcvt.d.s */
#define FCVT_SD(n, rm, res, fl, a) \
    CASE(n); LDD(f1, a); csrwi fflags, 0; fcvt.s.d f3, f1, rm; CHECK_FS(f3, res); CHECK_FLAGS(fl)
#define FCVT_SD_DYN(n, k, res, fl, a) \
    CASE(n); LDD(f1, a); fsrmi k; csrwi fflags, 0; fcvt.s.d f3, f1, dyn; fsrmi 0; CHECK_FS(f3, res); CHECK_FLAGS(fl)
/* fcvt.d.w/fcvt.d.wu are exact and take no rounding mode */
#define FCVT_DX_EXACT(n, op, res, fl, x) \
    CASE(n); li a0, x; csrwi fflags, 0; op f3, a0; CHECK_FD(f3, res); CHECK_FLAGS(fl)
#define FCVT_DS(n, res, fl, a) \
    CASE(n); LDS(f1, a); csrwi fflags, 0; fcvt.d.s f3, f1; CHECK_FD(f3, res); CHECK_FLAGS(fl)

    .globl main
main:
    /* ---- transfers ------------------------------------------------------- */
    CASE(1)
    la a1, ddata
    fld f1, 0(a1)
    CHECK_FD(f1, 0xc00921fb54442d18)
    fsd f1, 8(a1)
    ld a2, 8(a1)
    CHECK(a2, 0xc00921fb54442d18)
    TEST(2, a0, 0x7ff0000000000001, li a1, 0x7ff0000000000001; fmv.d.x f2, a1; fmv.x.d a0, f2)  /* sNaN bits kept */
    CASE(3)
    la a1, ddata + 16
    fld f5, -16(a1)
    fsd f5, -8(a1)
    ld a2, -8(a1)
    CHECK(a2, 0xc00921fb54442d18)
    /* a NaN-boxed single read as a double is just a (negative quiet) NaN */
    CASE(4)
    LDS(f1, 0x3f800000)
    LDD(f2, ONE)
    csrwi fflags, 0
    fadd.d f3, f1, f2
    CHECK_FD(f3, QNAN)
    CHECK_FLAGS(0)
    fclass.d a0, f1
    CHECK(a0, 0x200)
    /* fld of a single-looking value and flw after fsd */
    CASE(5)
    la a1, ddata
    LDD(f4, 0x4000000040400000)
    fsd f4, 8(a1)
    flw f6, 8(a1)
    CHECK_FS(f6, 0x40400000)

    /* ---- sign injection ------------------------------------------------------ */
    FOP2D_NR(10, fsgnj.d,  ONE,  0, MONE, TWO)
    FOP2D_NR(11, fsgnj.d,  MONE, 0, ONE, MTWO)
    FOP2D_NR(12, fsgnjn.d, MONE, 0, ONE, TWO)
    FOP2D_NR(13, fsgnjn.d, ONE,  0, ONE, MTWO)
    FOP2D_NR(14, fsgnjx.d, MONE, 0, ONE, MTWO)
    FOP2D_NR(15, fsgnjx.d, ONE,  0, MONE, MTWO)
    FOP2D_NR(16, fsgnj.d,  0xfff0000000000001, 0, SNAN, MONE)   /* no canonicalisation, no NV */
    FOP2D_NR(17, fsgnjx.d, NZERO, 0, 0, NZERO)

    /* ---- fmin / fmax ----------------------------------------------------------- */
    FOP2D_NR(20, fmin.d, ONE, 0, ONE, TWO)
    FOP2D_NR(21, fmax.d, TWO, 0, ONE, TWO)
    FOP2D_NR(22, fmin.d, NZERO, 0, NZERO, 0)
    FOP2D_NR(23, fmin.d, NZERO, 0, 0, NZERO)
    FOP2D_NR(24, fmax.d, 0, 0, NZERO, 0)
    FOP2D_NR(25, fmax.d, 0, 0, 0, NZERO)
    FOP2D_NR(26, fmin.d, ONE, 0, QNAN, ONE)
    FOP2D_NR(27, fmax.d, ONE, 0, ONE, QNAN)
    FOP2D_NR(28, fmin.d, ONE, 0x10, SNAN, ONE)
    FOP2D_NR(29, fmax.d, MONE, 0x10, MONE, SNAN)
    FOP2D_NR(30, fmin.d, QNAN, 0, 0xfff8000000001234, QNAN)
    FOP2D_NR(31, fmax.d, QNAN, 0x10, SNAN, SNAN)
    FOP2D_NR(32, fmin.d, NINF, 0, DMAX, NINF)
    FOP2D_NR(33, fmax.d, 0x0000000000000002, 0, 0x0000000000000002, 0x8000000000000003)

    /* ---- comparisons ------------------------------------------------------------- */
    FCMPD(40, feq.d, 1, 0, ONE, ONE)
    FCMPD(41, feq.d, 1, 0, NZERO, 0)
    FCMPD(42, feq.d, 0, 0, QNAN, QNAN)
    FCMPD(43, feq.d, 0, 0x10, SNAN, ONE)
    FCMPD(44, feq.d, 0, 0, ONE, 0x3ff0000000000001)
    FCMPD(45, flt.d, 1, 0, ONE, 0x3ff0000000000001)
    FCMPD(46, flt.d, 0, 0, NZERO, 0)
    FCMPD(47, flt.d, 1, 0, MTWO, MONE)
    FCMPD(48, flt.d, 0, 0x10, QNAN, ONE)
    FCMPD(49, flt.d, 0, 0x10, ONE, SNAN)
    FCMPD(50, fle.d, 1, 0, 0, NZERO)
    FCMPD(51, fle.d, 0, 0, TWO, ONE)
    FCMPD(52, fle.d, 1, 0, NINF, DMAX)
    FCMPD(53, fle.d, 0, 0x10, ONE, QNAN)

    /* ---- fclass --------------------------------------------------------------------- */
    FCLASSD(60, 0x001, NINF)
    FCLASSD(61, 0x002, MONE)
    FCLASSD(62, 0x004, 0x800fffffffffffff)
    FCLASSD(63, 0x008, NZERO)
    FCLASSD(64, 0x010, 0)
    FCLASSD(65, 0x020, 0x0000000000000001)
    FCLASSD(66, 0x040, 0x0010000000000000)
    FCLASSD(67, 0x080, PINF)
    FCLASSD(68, 0x100, SNAN)
    FCLASSD(69, 0x200, QNAN)
    FCLASSD(70, 0x100, 0xfff7ffffffffffff)
    FCLASSD(71, 0x200, 0xfff8000000000000)

    /* ---- double -> integer ------------------------------------------------------- */
    FCVT_XD(80, fcvt.w.d, rne, 2, 0x01, 0x4004000000000000)            /* 2.5 */
    FCVT_XD(81, fcvt.w.d, rtz, 2, 0x01, 0x4004000000000000)
    FCVT_XD(82, fcvt.w.d, rdn, 2, 0x01, 0x4004000000000000)
    FCVT_XD(83, fcvt.w.d, rup, 3, 0x01, 0x4004000000000000)
    FCVT_XD(84, fcvt.w.d, rmm, 3, 0x01, 0x4004000000000000)
    FCVT_XD(85, fcvt.w.d, rne, -2, 0x01, 0xc004000000000000)           /* -2.5 */
    FCVT_XD(86, fcvt.w.d, rdn, -3, 0x01, 0xc004000000000000)
    FCVT_XD(87, fcvt.w.d, rup, -2, 0x01, 0xc004000000000000)
    FCVT_XD(88, fcvt.w.d, rmm, -3, 0x01, 0xc004000000000000)
    FCVT_XD_DYN(89, fcvt.w.d, 3, 3, 0x01, 0x4004000000000000)
    FCVT_XD_DYN(90, fcvt.w.d, 2, -3, 0x01, 0xc004000000000000)
    FCVT_XD(91, fcvt.w.d, rtz, 0x7fffffff, 0x01, 0x41dfffffffe00000)   /* 2147483647.5 */
    FCVT_XD(92, fcvt.w.d, rne, 0x7fffffff, 0x10, 0x41dfffffffe00000)   /* rounds to 2^31: invalid */
    FCVT_XD(93, fcvt.w.d, rne, 0xffffffff80000000, 0x01, 0xc1e0000000100000) /* -2147483648.5 ties to even */
    FCVT_XD(94, fcvt.w.d, rdn, 0xffffffff80000000, 0x10, 0xc1e0000000100000) /* rounds to -2^31-1: invalid */
    FCVT_XD(95, fcvt.w.d, rtz, 0x7fffffff, 0x10, QNAN)
    FCVT_XD(96, fcvt.w.d, rtz, 0x7fffffff, 0x10, 0xfff8000000000000)
    FCVT_XD(97, fcvt.w.d, rtz, 0xffffffff80000000, 0x10, NINF)
    FCVT_XD(98, fcvt.wu.d, rtz, 0xffffffffffffffff, 0, 0x41efffffffe00000)  /* 2^32-1: sign-extended */
    FCVT_XD(99, fcvt.wu.d, rtz, 0xffffffffffffffff, 0x10, 0x41f0000000000000) /* 2^32 */
    FCVT_XD(100, fcvt.wu.d, rtz, 0, 0, NZERO)
    FCVT_XD(101, fcvt.wu.d, rtz, 0, 0x10, MONE)
    FCVT_XD(102, fcvt.wu.d, rtz, 0xffffffffffffffff, 0x10, SNAN)
    FCVT_XD(103, fcvt.wu.d, rtz, 0x7fffffff, 0, 0x41dfffffffc00000)
    FCVT_XD(104, fcvt.l.d, rtz, 0x7fffffffffffffff, 0x10, 0x43e0000000000000)  /* 2^63 */
    FCVT_XD(105, fcvt.l.d, rtz, 0x8000000000000000, 0, 0xc3e0000000000000)     /* -2^63 */
    FCVT_XD(106, fcvt.l.d, rtz, 0x7ffffffffffffc00, 0, 0x43dfffffffffffff)
    FCVT_XD(107, fcvt.l.d, rtz, 0x7fffffffffffffff, 0x10, QNAN)
    FCVT_XD(108, fcvt.l.d, rtz, 0x8000000000000000, 0x10, NINF)
    FCVT_XD(109, fcvt.l.d, rtz, 0x7fffffffffffffff, 0x10, PINF)
    FCVT_XD(110, fcvt.l.d, rmm, -3, 0x01, 0xc004000000000000)
    FCVT_XD(111, fcvt.l.d, rne, 0, 0x01, 0x0000000000000001)              /* subnormal */
    FCVT_XD(112, fcvt.l.d, rup, 1, 0x01, 0x0000000000000001)
    FCVT_XD(113, fcvt.lu.d, rtz, 0xfffffffffffff800, 0, 0x43efffffffffffff)
    FCVT_XD(114, fcvt.lu.d, rtz, 0xffffffffffffffff, 0x10, 0x43f0000000000000)  /* 2^64 */
    FCVT_XD(115, fcvt.lu.d, rtz, 0, 0x10, MONE)
    FCVT_XD(116, fcvt.lu.d, rtz, 0, 0x01, 0xbfe0000000000000)             /* -0.5 */
    FCVT_XD(117, fcvt.lu.d, rtz, 0xffffffffffffffff, 0x10, QNAN)
    FCVT_XD(118, fcvt.lu.d, rtz, 0, 0x10, NINF)

    /* ---- integer -> double -------------------------------------------------------- */
    FCVT_DX_EXACT(120, fcvt.d.w, MONE, 0, -1)
    FCVT_DX_EXACT(121, fcvt.d.w, 0x41dfffffffc00000, 0, 0x7fffffff)
    FCVT_DX_EXACT(122, fcvt.d.w, 0xc1e0000000000000, 0, 0xffffffff80000000)
    FCVT_DX_EXACT(123, fcvt.d.w, MONE, 0, 0x12345678ffffffff)               /* low 32 bits */
    FCVT_DX_EXACT(124, fcvt.d.wu, 0x41efffffffe00000, 0, 0xffffffff)
    FCVT_DX_EXACT(125, fcvt.d.wu, ONE, 0, 0xffffffff00000001)
    FCVT_DX(126, fcvt.d.l, rne, 0x4340000000000000, 0x01, 9007199254740993) /* 2^53+1: tie */
    FCVT_DX(127, fcvt.d.l, rup, 0x4340000000000001, 0x01, 9007199254740993)
    FCVT_DX(128, fcvt.d.l, rmm, 0x4340000000000001, 0x01, 9007199254740993)
    FCVT_DX(129, fcvt.d.l, rtz, 0x4340000000000000, 0x01, 9007199254740993)
    FCVT_DX(130, fcvt.d.l, rdn, 0xc340000000000001, 0x01, -9007199254740993)
    FCVT_DX(131, fcvt.d.l, rne, 0xc3e0000000000000, 0, 0x8000000000000000)
    FCVT_DX(132, fcvt.d.l, rne, 0, 0, 0)
    FCVT_DX(133, fcvt.d.lu, rne, 0x43f0000000000000, 0x01, 0xffffffffffffffff)
    FCVT_DX(134, fcvt.d.lu, rtz, 0x43efffffffffffff, 0x01, 0xffffffffffffffff)
    FCVT_DX(135, fcvt.d.lu, rne, 0x43e0000000000000, 0, 0x8000000000000000)

    /* ---- fcvt.s.d / fcvt.d.s ------------------------------------------------------ */
    FCVT_SD(140, rne, 0x3eaaaaab, 0x01, 0x3fd5555555555555)   /* 1/3 */
    FCVT_SD(141, rtz, 0x3eaaaaaa, 0x01, 0x3fd5555555555555)
    FCVT_SD(142, rdn, 0x3eaaaaaa, 0x01, 0x3fd5555555555555)
    FCVT_SD(143, rup, 0x3eaaaaab, 0x01, 0x3fd5555555555555)
    FCVT_SD(144, rmm, 0x3eaaaaab, 0x01, 0x3fd5555555555555)
    FCVT_SD(145, rne, 0x7f800000, 0x05, DMAX)                /* overflow */
    FCVT_SD(146, rtz, 0x7f7fffff, 0x05, DMAX)
    FCVT_SD(147, rdn, 0xff800000, 0x05, 0xffefffffffffffff)
    FCVT_SD(148, rne, 0x7fc00000, 0, 0x7ff8000000012345)     /* NaN: canonical */
    FCVT_SD(149, rne, 0x7fc00000, 0x10, SNAN)
    FCVT_SD(150, rne, 0x7fc00000, 0, 0xfff8000000000000)
    FCVT_SD(151, rne, 0x00000000, 0x03, 0x01a56e1fc2f8f359)  /* 1e-300 underflows to 0 */
    FCVT_SD(152, rup, 0x00000001, 0x03, 0x01a56e1fc2f8f359)
    FCVT_SD(153, rne, 0x80000000, 0, NZERO)
    FCVT_SD(154, rne, 0xff800000, 0, NINF)
    FCVT_SD(155, rne, 0x00000001, 0, 0x36a0000000000000)     /* 2^-149: exact subnormal, no UF */
    FCVT_SD(156, rne, 0x00800000, 0x01, 0x380fffffffffffff)  /* rounds up to min normal: not tiny after rounding */
    FCVT_SD(157, rtz, 0x007fffff, 0x03, 0x380fffffffffffff)
    FCVT_DS(160, 0x3fd5555560000000, 0, 0x3eaaaaab)
    FCVT_DS(161, 0x36a0000000000000, 0, 0x00000001)          /* subnormal single is normal double */
    FCVT_DS(162, 0xb810000000000000, 0, 0x80800000)
    FCVT_DS(163, 0x7ff8000000000000, 0x10, 0x7f800001)       /* sNaN: NV, canonical */
    FCVT_DS(164, 0x7ff8000000000000, 0, 0xffc12345)          /* qNaN: canonical, no flag */
    FCVT_DS(165, NINF, 0, 0xff800000)
    FCVT_DS(166, NZERO, 0, 0x80000000)
    FCVT_DS(167, 0x47efffffe0000000, 0, 0x7f7fffff)
    CASE(168)                                               /* dynamic rounding */
    LDD(f1, 0x3fd5555555555555)
    fsrmi 3
    fcvt.s.d f3, f1, dyn
    fsrmi 0
    CHECK_FS(f3, 0x3eaaaaab)
    CHECK_FLAGS(0x01)

    /* ---- reserved rounding modes ---------------------------------------------------- */
    ILLEGAL_INSN(180, 0x1220d1d3)       /* fmul.d f3, f1, f2, rm=5 */
    ILLEGAL_INSN(181, 0x1220e1d3)       /* fmul.d f3, f1, f2, rm=6 */
    ILLEGAL_INSN(182, 0x1a20d1d3)       /* fdiv.d f3, f1, f2, rm=5 */
    ILLEGAL_INSN(183, 0x2220e1c3)       /* fmadd.d f3, f1, f2, f4, rm=6 */
    ILLEGAL_INSN(184, 0x4010d1d3)       /* fcvt.s.d f3, f1, rm=5 */
    fsrmi 5
    ILLEGAL_INSN(185, 0x0a20f1d3)       /* fsub.d f3, f1, f2, dyn */
    fsrmi 6
    ILLEGAL_INSN(186, 0x5a00f1d3)       /* fsqrt.d f3, f1, dyn */
    fsrmi 7
    ILLEGAL_INSN(187, 0xc220f553)       /* fcvt.l.d a0, f1, dyn */
    ILLEGAL_INSN(188, 0x2220f1cf)       /* fnmadd.d f3, f1, f2, f4, dyn */
    CASE(189)
    LDD(f1, ONE)
    fsgnjn.d f3, f1, f1
    fmax.d f3, f3, f1
    fmv.x.d a0, f3
    CHECK(a0, ONE)
    fsrmi 0

    /* ---- mstatus.FS = Off --------------------------------------------------------- */
    li a0, MSTATUS_FS
    csrc mstatus, a0
    la a1, ddata
    EXPECT_TRAP(190, CAUSE_ILLEGAL, fld f1, 0(a1))
    EXPECT_TRAP(191, CAUSE_ILLEGAL, fsd f1, 0(a1))
    EXPECT_TRAP(192, CAUSE_ILLEGAL, fmv.x.d a0, f1)
    EXPECT_TRAP(193, CAUSE_ILLEGAL, fmv.d.x f1, a0)
    EXPECT_TRAP(194, CAUSE_ILLEGAL, fadd.d f1, f2, f3)
    EXPECT_TRAP(195, CAUSE_ILLEGAL, fcvt.d.s f1, f2)
    EXPECT_TRAP(196, CAUSE_ILLEGAL, fcvt.l.d a0, f2)
    CASE(197)
    li a0, (1 << 13)
    csrs mstatus, a0
    fmv.d.x f1, zero                    /* Initial -> Dirty */
    csrr a1, mstatus
    srli a2, a1, 13
    andi a2, a2, 3
    CHECK(a2, 3)
    bgez a1, fail

    /* ---- arithmetic (generated) ----------------------------------------------------- */
    csrwi fcsr, 0
#include "rv64d-arith.inc"

    j pass

    .data
    .align 3
ddata: .dword 0xc00921fb54442d18, 0, 0   /* -pi */
