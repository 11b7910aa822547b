/*
 * tshv ISA tests — floating-point case macros (F and D). Operands and expected
 * results are raw bit patterns; singles are checked NaN-boxed (upper 32 bits of
 * the f register all ones). fflags is cleared before and read (and cleared) after
 * every case. Uses t0, t5, t6 and f1..f4.
 */
#ifndef TSHV_FP_H
#define TSHV_FP_H
#include "test.h"

#define LDS(freg, bits) li t0, bits; fmv.w.x freg, t0
#define LDD(freg, bits) li t0, bits; fmv.d.x freg, t0

/* fail unless f register holds the NaN-boxed single `bits` / the double `bits` */
#define CHECK_FS(freg, bits) fmv.x.d t0, freg; CHECK(t0, (0xffffffff00000000 | (bits)))
#define CHECK_FD(freg, bits) fmv.x.d t0, freg; CHECK(t0, bits)
/* fail unless fflags == fl; clears fflags */
#define CHECK_FLAGS(fl) csrrw t0, fflags, zero; CHECK(t0, fl)

/* op f3, f1[, f2[, f4]], rm  (static rounding mode) */
#define FOP1S(n, op, rm, res, fl, a) \
    CASE(n); LDS(f1, a); csrwi fflags, 0; op f3, f1, rm; CHECK_FS(f3, res); CHECK_FLAGS(fl)
#define FOP2S(n, op, rm, res, fl, a, b) \
    CASE(n); LDS(f1, a); LDS(f2, b); csrwi fflags, 0; op f3, f1, f2, rm; CHECK_FS(f3, res); CHECK_FLAGS(fl)
#define FOP3S(n, op, rm, res, fl, a, b, c) \
    CASE(n); LDS(f1, a); LDS(f2, b); LDS(f4, c); csrwi fflags, 0; op f3, f1, f2, f4, rm; CHECK_FS(f3, res); CHECK_FLAGS(fl)
#define FOP1D(n, op, rm, res, fl, a) \
    CASE(n); LDD(f1, a); csrwi fflags, 0; op f3, f1, rm; CHECK_FD(f3, res); CHECK_FLAGS(fl)
#define FOP2D(n, op, rm, res, fl, a, b) \
    CASE(n); LDD(f1, a); LDD(f2, b); csrwi fflags, 0; op f3, f1, f2, rm; CHECK_FD(f3, res); CHECK_FLAGS(fl)
#define FOP3D(n, op, rm, res, fl, a, b, c) \
    CASE(n); LDD(f1, a); LDD(f2, b); LDD(f4, c); csrwi fflags, 0; op f3, f1, f2, f4, rm; CHECK_FD(f3, res); CHECK_FLAGS(fl)

/* the same with rm = dyn and frm = k (0..4) */
#define FOP1S_DYN(n, op, k, res, fl, a) \
    CASE(n); LDS(f1, a); fsrmi k; csrwi fflags, 0; op f3, f1, dyn; fsrmi 0; CHECK_FS(f3, res); CHECK_FLAGS(fl)
#define FOP2S_DYN(n, op, k, res, fl, a, b) \
    CASE(n); LDS(f1, a); LDS(f2, b); fsrmi k; csrwi fflags, 0; op f3, f1, f2, dyn; fsrmi 0; CHECK_FS(f3, res); CHECK_FLAGS(fl)
#define FOP3S_DYN(n, op, k, res, fl, a, b, c) \
    CASE(n); LDS(f1, a); LDS(f2, b); LDS(f4, c); fsrmi k; csrwi fflags, 0; op f3, f1, f2, f4, dyn; fsrmi 0; CHECK_FS(f3, res); CHECK_FLAGS(fl)
#define FOP1D_DYN(n, op, k, res, fl, a) \
    CASE(n); LDD(f1, a); fsrmi k; csrwi fflags, 0; op f3, f1, dyn; fsrmi 0; CHECK_FD(f3, res); CHECK_FLAGS(fl)
#define FOP2D_DYN(n, op, k, res, fl, a, b) \
    CASE(n); LDD(f1, a); LDD(f2, b); fsrmi k; csrwi fflags, 0; op f3, f1, f2, dyn; fsrmi 0; CHECK_FD(f3, res); CHECK_FLAGS(fl)
#define FOP3D_DYN(n, op, k, res, fl, a, b, c) \
    CASE(n); LDD(f1, a); LDD(f2, b); LDD(f4, c); fsrmi k; csrwi fflags, 0; op f3, f1, f2, f4, dyn; fsrmi 0; CHECK_FD(f3, res); CHECK_FLAGS(fl)

/* ops without a rounding mode: fmin/fmax/fsgnj* (f result) */
#define FOP2S_NR(n, op, res, fl, a, b) \
    CASE(n); LDS(f1, a); LDS(f2, b); csrwi fflags, 0; op f3, f1, f2; CHECK_FS(f3, res); CHECK_FLAGS(fl)
#define FOP2D_NR(n, op, res, fl, a, b) \
    CASE(n); LDD(f1, a); LDD(f2, b); csrwi fflags, 0; op f3, f1, f2; CHECK_FD(f3, res); CHECK_FLAGS(fl)

/* integer results: feq/flt/fle (2 operands), fclass (1), fcvt to integer (with rm) */
#define FCMPS(n, op, res, fl, a, b) \
    CASE(n); LDS(f1, a); LDS(f2, b); csrwi fflags, 0; op a0, f1, f2; CHECK(a0, res); CHECK_FLAGS(fl)
#define FCMPD(n, op, res, fl, a, b) \
    CASE(n); LDD(f1, a); LDD(f2, b); csrwi fflags, 0; op a0, f1, f2; CHECK(a0, res); CHECK_FLAGS(fl)
#define FCLASSS(n, res, a) \
    CASE(n); LDS(f1, a); csrwi fflags, 0; fclass.s a0, f1; CHECK(a0, res); CHECK_FLAGS(0)
#define FCLASSD(n, res, a) \
    CASE(n); LDD(f1, a); csrwi fflags, 0; fclass.d a0, f1; CHECK(a0, res); CHECK_FLAGS(0)
#define FCVT_XS(n, op, rm, res, fl, a) \
    CASE(n); LDS(f1, a); csrwi fflags, 0; op a0, f1, rm; CHECK(a0, res); CHECK_FLAGS(fl)
#define FCVT_XD(n, op, rm, res, fl, a) \
    CASE(n); LDD(f1, a); csrwi fflags, 0; op a0, f1, rm; CHECK(a0, res); CHECK_FLAGS(fl)
#define FCVT_XS_DYN(n, op, k, res, fl, a) \
    CASE(n); LDS(f1, a); fsrmi k; csrwi fflags, 0; op a0, f1, dyn; fsrmi 0; CHECK(a0, res); CHECK_FLAGS(fl)
#define FCVT_XD_DYN(n, op, k, res, fl, a) \
    CASE(n); LDD(f1, a); fsrmi k; csrwi fflags, 0; op a0, f1, dyn; fsrmi 0; CHECK(a0, res); CHECK_FLAGS(fl)
/* integer -> float */
#define FCVT_SX(n, op, rm, res, fl, x) \
    CASE(n); li a0, x; csrwi fflags, 0; op f3, a0, rm; CHECK_FS(f3, res); CHECK_FLAGS(fl)
#define FCVT_DX(n, op, rm, res, fl, x) \
    CASE(n); li a0, x; csrwi fflags, 0; op f3, a0, rm; CHECK_FD(f3, res); CHECK_FLAGS(fl)

#define FCVT_SX_DYN(n, op, k, res, fl, x) \
    CASE(n); li a0, x; fsrmi k; csrwi fflags, 0; op f3, a0, dyn; fsrmi 0; CHECK_FS(f3, res); CHECK_FLAGS(fl)
#define FCVT_DX_DYN(n, op, k, res, fl, x) \
    CASE(n); li a0, x; fsrmi k; csrwi fflags, 0; op f3, a0, dyn; fsrmi 0; CHECK_FD(f3, res); CHECK_FLAGS(fl)

/* Case n: the 32-bit instruction word `insn` must raise illegal instruction with mtval = insn. */
#define ILLEGAL_INSN(n, insn) \
    EXPECT_TRAP_TVAL(n, CAUSE_ILLEGAL, insn, .word insn)

#endif
