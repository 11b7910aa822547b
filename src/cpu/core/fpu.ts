// F and D arithmetic, bit-exact per IEEE 754-2008 and the RISC-V unprivileged spec
// (20191213) chapters 11 (F) and 12 (D).
//
// Contract with the core (src/cpu/core/fp.ts):
// - Values travel as raw bits: f32 as u32, f64 as u64. The core unboxes singles before the
//   call (an improperly NaN-boxed input becomes the canonical NaN 0x7fc00000) and boxes
//   results after it. Sign injection, fmv and NaN-boxing are the core's job.
// - `rm` is already resolved (never 7 = dynamic, never 5/6): 0 RNE, 1 RTZ, 2 RDN, 3 RUP, 4 RMM.
// - Every operation ORs the exception flags it raises into `fpFlags`
//   (NV 0x10, DZ 0x08, OF 0x04, UF 0x02, NX 0x01); the core moves them into fflags.
// - NaN results are always the canonical NaN (0x7fc00000 / 0x7ff8000000000000).
//
// How it works. WebAssembly only has round-to-nearest-even float ops, without flags or
// fma. Each operation first tries the host op plus a cheap exactness test (fast path: the
// result is final when it is exact, in any mode, or when the mode is RNE and the result is
// a normal number clear of the underflow and overflow boundaries, so only NX can be owed).
// binary32 mul and fma go through exact or round-to-odd binary64 intermediates; binary64
// fma in RNE uses Dekker/TwoSum with round-to-odd. Everything else — directed rounding of
// inexact results, subnormal results, overflow, NaNs and infinities — takes the integer
// path: an exact or sticky-bit-jammed significand handed to roundPack(), the one place
// where rounding, tininess and the overflow rules live. binary32 operands take the integer
// path as binary64 values (the widening is exact) and are rounded to binary32 at the end.

export let fpFlags: u32 = 0;

export function clearFpFlags(): void { fpFlags = 0; }

// fflags bits (unpriv. §11.2, Table 11.2)
@inline const NV: u32 = 0x10;
@inline const DZ: u32 = 0x08;
@inline const OF: u32 = 0x04;
@inline const UF: u32 = 0x02;
@inline const NX: u32 = 0x01;

// rounding modes (unpriv. §11.2, Table 11.1)
@inline const RNE: u32 = 0;
@inline const RTZ: u32 = 1;
@inline const RDN: u32 = 2;
@inline const RUP: u32 = 3;
@inline const RMM: u32 = 4;

// result formats for the shared integer path
@inline const FMT64: u32 = 0;
@inline const FMT32: u32 = 1;

@inline const SIGN64: u64 = 0x8000_0000_0000_0000;
@inline const MAG64: u64 = 0x7fff_ffff_ffff_ffff;
@inline const EXP64: u64 = 0x7ff0_0000_0000_0000; // also +inf
@inline const FRAC64: u64 = 0x000f_ffff_ffff_ffff;
@inline const IMPLICIT64: u64 = 0x0010_0000_0000_0000;
@inline const QUIET64: u64 = 0x0008_0000_0000_0000;
@inline const QNAN64: u64 = 0x7ff8_0000_0000_0000;
@inline const MAXF64: u64 = 0x7fef_ffff_ffff_ffff;

@inline const SIGN32: u32 = 0x8000_0000;
@inline const MAG32: u32 = 0x7fff_ffff;
@inline const EXP32: u32 = 0x7f80_0000;
@inline const QUIET32: u32 = 0x0040_0000;
@inline const QNAN32: u32 = 0x7fc0_0000;
@inline const MAXF32: u32 = 0x7f7f_ffff;

// Difference of the exponent biases: a binary32 exponent is the binary64 one minus this.
@inline const BIAS_GAP: i32 = 1023 - 127;

// Test hook: with the fast paths off every operation takes the integer path, so the
// same vectors check both. The core never calls it, so in cpu.wasm the flag is a constant.
let fastPaths: bool = true;
export function setFpuFastPaths(on: bool): void { fastPaths = on; }

// ---------------------------------------------------------------------------------------
// Classification and special results
// ---------------------------------------------------------------------------------------

@inline function isNaN64(a: u64): bool { return (a & MAG64) > EXP64; }
@inline function isSNaN64(a: u64): bool { return isNaN64(a) && (a & QUIET64) == 0; }
@inline function isNaN32(a: u32): bool { return (a & MAG32) > EXP32; }
@inline function isSNaN32(a: u32): bool { return isNaN32(a) && (a & QUIET32) == 0; }

@inline function defaultNaN(fmt: u32): u64 { return fmt == FMT64 ? QNAN64 : <u64>QNAN32; }
@inline function signPos(fmt: u32): u64 { return fmt == FMT64 ? 63 : 31; }
@inline function packZero(sign: u64, fmt: u32): u64 { return sign << signPos(fmt); }
@inline function packInf(sign: u64, fmt: u32): u64 {
  return (sign << signPos(fmt)) | (fmt == FMT64 ? EXP64 : <u64>EXP32);
}
@inline function packMaxFinite(sign: u64, fmt: u32): u64 {
  return (sign << signPos(fmt)) | (fmt == FMT64 ? MAXF64 : <u64>MAXF32);
}

// Invalid operation: NV and the canonical NaN (unpriv. §11.3).
function invalid(fmt: u32): u64 {
  fpFlags |= NV;
  return defaultNaN(fmt);
}

// A NaN operand gives the canonical NaN; only a signaling one raises NV (unpriv. §11.3).
function nanResult(signaling: bool, fmt: u32): u64 {
  if (signaling) fpFlags |= NV;
  return defaultNaN(fmt);
}

// Widens a non-NaN binary32 to binary64 bits: exact, subnormals included.
@inline function widen(a: u32): u64 { return reinterpret<u64>(<f64>reinterpret<f32>(a)); }

// A binary64 value known to be representable in the result format, re-encoded in it.
@inline function packExact(a: u64, fmt: u32): u64 {
  return fmt == FMT64 ? a : <u64>reinterpret<u32>(<f32>reinterpret<f64>(a));
}

// ---------------------------------------------------------------------------------------
// Integer helpers
// ---------------------------------------------------------------------------------------

// Right shift that ORs every bit shifted out into bit 0 ("sticky"), so later rounding
// still knows the value was not exact.
@inline function shiftRightJam(x: u64, n: i32): u64 {
  if (n >= 63) return <u64>(x != 0);
  const k = <u64>n;
  return (x >> k) | <u64>((x & ((<u64>1 << k) - 1)) != 0);
}

// 128-bit results of the helpers below (wasm has no 64x64->128 multiply).
let wHi: u64 = 0;
let wLo: u64 = 0;

@inline function mul128(a: u64, b: u64): void {
  const aL = a & 0xffff_ffff, aH = a >> 32, bL = b & 0xffff_ffff, bH = b >> 32;
  const ll = aL * bL, lh = aL * bH, hl = aH * bL;
  const mid = (ll >> 32) + (lh & 0xffff_ffff) + (hl & 0xffff_ffff);
  wLo = (mid << 32) | (ll & 0xffff_ffff);
  wHi = aH * bH + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

function shiftRightJam128(hi: u64, lo: u64, n: i32): void {
  if (n == 0) {
    wHi = hi; wLo = lo;
  } else if (n < 64) {
    const k = <u64>n;
    wLo = (lo >> k) | (hi << (64 - k)) | <u64>((lo << (64 - k)) != 0);
    wHi = hi >> k;
  } else if (n < 128) {
    const k = <u64>(n - 64);
    wLo = (hi >> k) | <u64>(((hi & ((<u64>1 << k) - 1)) | lo) != 0);
    wHi = 0;
  } else {
    wLo = <u64>((hi | lo) != 0);
    wHi = 0;
  }
}

// Sign of (aHi:aLo - bHi:bLo) as -1, 0, 1.
@inline function compare128(aHi: u64, aLo: u64, bHi: u64, bLo: u64): i32 {
  if (aHi != bHi) return aHi > bHi ? 1 : -1;
  if (aLo != bLo) return aLo > bLo ? 1 : -1;
  return 0;
}

// Significand of a finite binary64 including the implicit bit (none for subnormals).
@inline function significand64(a: u64): u64 {
  const f = a & FRAC64;
  return (a & EXP64) != 0 ? f | IMPLICIT64 : f;
}

@inline function oddPart(x: u64): u64 { return x >> ctz(x); }

// Unpacked finite nonzero binary64: value = uSig * 2^(uExp - 1075), leading 1 of uSig at
// bit 52. Subnormals are normalized, so uExp can be below 1.
let uExp: i32 = 0;
let uSig: u64 = 0;

@inline function unpack64(a: u64): void {
  const e = <i32>((a >> 52) & 0x7ff);
  const f = a & FRAC64;
  if (e == 0) {
    const sh = <i32>clz(f) - 11;
    uSig = f << <u64>sh;
    uExp = 1 - sh;
  } else {
    uSig = f | IMPLICIT64;
    uExp = e;
  }
}

// ---------------------------------------------------------------------------------------
// Rounding (IEEE 754-2008 §4.3, §7.4, §7.5, §7.6)
// ---------------------------------------------------------------------------------------

// What to add below the last kept bit before truncating: half for the two nearest modes,
// all-ones when rounding away from zero, nothing toward zero.
@inline function roundIncrement(sign: u64, rm: u32, half: u64, mask: u64): u64 {
  if (rm == RNE || rm == RMM) return half;
  if (rm == RDN) return sign != 0 ? mask : 0;
  if (rm == RUP) return sign != 0 ? 0 : mask;
  return 0; // RTZ
}

// Rounds sign * sig * 2^(exp - 1023 - 62) to the format and encodes it, raising NX, UF,
// OF. `sig` has its leading 1 at bit 62; bits below the format's precision are round
// bits, with anything lower already jammed into bit 0. `exp` is biased as in binary64.
// Tininess is detected after rounding (unpriv. §11.4): the value is tiny when rounding it
// to the format's precision with an unbounded exponent would still be below the smallest
// normal number; UF is raised only if it is also inexact (IEEE 754-2008 §7.5).
function roundPack(sign: u64, exp: i32, sig: u64, rm: u32, fmt: u32): u64 {
  let shift: u64, fracBits: u64, maxExp: i32;
  if (fmt == FMT64) {
    shift = 10; fracBits = 52; maxExp = 0x7fe;
  } else {
    shift = 39; fracBits = 23; maxExp = 0xfe; exp -= BIAS_GAP;
  }
  const half: u64 = <u64>1 << (shift - 1);
  const mask: u64 = (<u64>1 << shift) - 1;
  const inc = roundIncrement(sign, rm, half, mask);
  if (exp < 1) {
    // Rounding at full precision only reaches the smallest normal from its own binade.
    const tiny = exp < 0 || sig + inc < SIGN64;
    sig = shiftRightJam(sig, 1 - exp);
    exp = 1;
    if (tiny && (sig & mask) != 0) fpFlags |= UF;
  } else if (exp >= maxExp && (exp > maxExp || sig + inc >= SIGN64)) {
    // IEEE 754-2008 §7.4: the nearest modes overflow to infinity, the others stop at the
    // largest finite number unless they round away from zero.
    fpFlags |= OF | NX;
    return inc == 0 ? packMaxFinite(sign, fmt) : packInf(sign, fmt);
  }
  const roundBits = sig & mask;
  if (roundBits != 0) fpFlags |= NX;
  let m = (sig + inc) >> shift;
  if (rm == RNE && roundBits == half) m &= ~(<u64>1); // tie: to even
  // A carry out of the significand lands in the exponent field, as it should; a subnormal
  // (exp 1 here, field 0) that rounds up to the smallest normal becomes exponent 1.
  return (sign << signPos(fmt)) + (<u64>(exp - 1) << fracBits) + m;
}

// roundPack for any nonzero significand below 2^64 (value = sig * 2^(exp - 1023 - 62)).
function normRoundPack(sign: u64, exp: i32, sig: u64, rm: u32, fmt: u32): u64 {
  const lz = <i32>clz(sig);
  if (lz == 0) {
    sig = (sig >> 1) | (sig & 1);
    exp += 1;
  } else {
    sig <<= <u64>(lz - 1);
    exp -= lz - 1;
  }
  return roundPack(sign, exp, sig, rm, fmt);
}

// ---------------------------------------------------------------------------------------
// Fast-path helpers: exactness tests on host results
// ---------------------------------------------------------------------------------------

// TwoSum (Knuth): the exact error a + b - s of s = RN(a + b), when nothing overflows; an
// intermediate overflow makes it non-finite, which callers treat as "take the slow path".
@inline function twoSumError(a: f64, b: f64, s: f64): f64 {
  const bv = s - a;
  const av = s - bv;
  return (a - av) + (b - bv);
}

@inline function twoSumError32(a: f32, b: f32, s: f32): f32 {
  const bv = s - a;
  const av = s - bv;
  return (a - av) + (b - bv);
}

// A normal product of a and b is exact iff the product of their odd significand parts
// fits in 53 bits.
@inline function productIsExact64(a: u64, b: u64): bool {
  const oa = oddPart(significand64(a)), ob = oddPart(significand64(b));
  if (128 - <i32>clz(oa) - <i32>clz(ob) > 54) return false;
  return oa * ob < IMPLICIT64 << 1;
}

// A normal quotient a / b is exact iff b's odd significand part divides a's: the
// quotient is then an odd integer no longer than a's odd part.
@inline function quotientIsExact64(a: u64, b: u64): bool {
  return oddPart(significand64(a)) % oddPart(significand64(b)) == 0;
}

// r = RN(sqrt(a)) is exact iff r's odd significand part squared is a's odd part (an
// exponent mismatch would put r a factor sqrt(2) away from the root).
@inline function sqrtIsExact64(a: u64, r: u64): bool {
  const or = oddPart(significand64(r));
  return or < (<u64>1 << 27) && or * or == oddPart(significand64(a));
}

// Given s = RN(x) and the exact error err = x - s, the round-to-odd value of x at 53 bits:
// rounding that once more to 24 bits gives the correctly rounded binary32 result in any
// mode (53 >= 24 + 2; Boldo & Melquiond, "Emulation of FMA and correctly rounded sums").
@inline function roundToOdd(s: f64, err: f64): f64 {
  const b = reinterpret<u64>(s);
  if (err == 0 || (b & 1) != 0) return s;
  return reinterpret<f64>((err > 0) == (s > 0) ? b + 1 : b - 1);
}

// Biased exponent field of a host result in [2, max-1]: normal, finite, and clear of
// the binade where "tiny after rounding" differs from "subnormal result".
@inline function safeExp64(r: u64): bool { return <u32>((r >> 52) & 0x7ff) - 2 < 0x7fd; }
@inline function safeExp32(r: u32): bool { return ((r >> 23) & 0xff) - 2 < 0xfd; }

// ---------------------------------------------------------------------------------------
// Add / subtract (IEEE 754-2008 §5.4.1, §6.3 for the sign of exact zeros)
// ---------------------------------------------------------------------------------------

// a + b for binary64 bit patterns (binary32 operands widened), rounded to fmt.
function addSlow(a: u64, b: u64, rm: u32, fmt: u32): u64 {
  if (isNaN64(a) || isNaN64(b)) return nanResult(isSNaN64(a) || isSNaN64(b), fmt);
  const sa = a >> 63, sb = b >> 63;
  const ma = a & MAG64, mb = b & MAG64;
  if (ma == EXP64 || mb == EXP64) {
    if (ma == mb && sa != sb) return invalid(fmt); // inf - inf
    return packInf(ma == EXP64 ? sa : sb, fmt);
  }
  if (mb == 0) return ma == 0 ? packZero(sa == sb ? sa : <u64>(rm == RDN), fmt) : packExact(a, fmt);
  if (ma == 0) return packExact(b, fmt);
  // Larger magnitude first; both significands get headroom below bit 62 for the carry.
  let big = a, small = b, sign = sa;
  if (mb > ma) { big = b; small = a; sign = sb; }
  unpack64(big);
  const exp = uExp;
  const bigSig = uSig << 9;
  unpack64(small);
  // Bits shifted out only matter when the distance is >= 2, where cancellation can cost
  // at most one bit, so the sticky bit is enough.
  const smallSig = shiftRightJam(uSig << 9, exp - uExp);
  if (sa == sb) return normRoundPack(sign, exp + 1, bigSig + smallSig, rm, fmt);
  const diff = bigSig - smallSig;
  if (diff == 0) return packZero(<u64>(rm == RDN), fmt);
  return normRoundPack(sign, exp + 1, diff, rm, fmt);
}

export function f64_add(a: u64, b: u64, rm: u32): u64 {
  if (fastPaths) {
    const x = reinterpret<f64>(a), y = reinterpret<f64>(b);
    const s = x + y;
    const sb = reinterpret<u64>(s);
    if ((sb & EXP64) != EXP64) { // finite, so were both operands and nothing overflowed
      const err = twoSumError(x, y, s);
      // Exact results (subnormal sums always are) hold in every mode, except that an
      // exact zero sum is -0 when rounding down.
      if (err == 0) {
        if (s != 0 || rm != RDN) return sb;
      } else if (rm == RNE && err - err == 0) {
        fpFlags |= NX;
        return sb;
      }
    }
  }
  return addSlow(a, b, rm, FMT64);
}

export function f64_sub(a: u64, b: u64, rm: u32): u64 {
  return f64_add(a, b ^ SIGN64, rm);
}

export function f32_add(a: u32, b: u32, rm: u32): u32 {
  if (fastPaths) {
    const x = reinterpret<f32>(a), y = reinterpret<f32>(b);
    const s = x + y;
    const sb = reinterpret<u32>(s);
    if ((sb & EXP32) != EXP32) {
      const err = twoSumError32(x, y, s);
      if (err == 0) {
        if (s != 0 || rm != RDN) return sb;
      } else if (rm == RNE && err - err == 0) {
        fpFlags |= NX;
        return sb;
      }
    }
  }
  if (isNaN32(a) || isNaN32(b)) return <u32>nanResult(isSNaN32(a) || isSNaN32(b), FMT32);
  return <u32>addSlow(widen(a), widen(b), rm, FMT32);
}

export function f32_sub(a: u32, b: u32, rm: u32): u32 {
  return f32_add(a, b ^ SIGN32, rm);
}

// ---------------------------------------------------------------------------------------
// Multiply (IEEE 754-2008 §5.4.1)
// ---------------------------------------------------------------------------------------

function mulSlow(a: u64, b: u64, rm: u32, fmt: u32): u64 {
  if (isNaN64(a) || isNaN64(b)) return nanResult(isSNaN64(a) || isSNaN64(b), fmt);
  const sign = (a ^ b) >> 63;
  const ma = a & MAG64, mb = b & MAG64;
  if (ma == EXP64 || mb == EXP64) return ma == 0 || mb == 0 ? invalid(fmt) : packInf(sign, fmt);
  if (ma == 0 || mb == 0) return packZero(sign, fmt);
  unpack64(a);
  const expA = uExp, sigA = uSig;
  unpack64(b);
  // (sigA << 10) * (sigB << 11) is in [2^125, 2^127): its high word keeps 61-62 bits and
  // the low word only matters as a sticky bit.
  mul128(sigA << 10, uSig << 11);
  return normRoundPack(sign, expA + uExp - 1023 + 1, wHi | <u64>(wLo != 0), rm, fmt);
}

export function f64_mul(a: u64, b: u64, rm: u32): u64 {
  if (fastPaths) {
    const pb = reinterpret<u64>(reinterpret<f64>(a) * reinterpret<f64>(b));
    if (safeExp64(pb)) { // so both operands were finite and nonzero
      if (productIsExact64(a, b)) return pb;
      if (rm == RNE) {
        fpFlags |= NX;
        return pb;
      }
    }
  }
  return mulSlow(a, b, rm, FMT64);
}

export function f32_mul(a: u32, b: u32, rm: u32): u32 {
  if (fastPaths) {
    // 24 x 24 bits: the binary64 product is exact, so only its narrowing rounds.
    const p = <f64>reinterpret<f32>(a) * <f64>reinterpret<f32>(b);
    const r = <f32>p;
    const rb = reinterpret<u32>(r);
    if (<f64>r == p) return rb; // exact, zeros and inf * finite included
    if (rm == RNE && safeExp32(rb)) {
      fpFlags |= NX;
      return rb;
    }
  }
  if (isNaN32(a) || isNaN32(b)) return <u32>nanResult(isSNaN32(a) || isSNaN32(b), FMT32);
  return <u32>mulSlow(widen(a), widen(b), rm, FMT32);
}

// ---------------------------------------------------------------------------------------
// Divide (IEEE 754-2008 §5.4.1; x/0 raises DZ, 0/0 and inf/inf NV)
// ---------------------------------------------------------------------------------------

function divSlow(a: u64, b: u64, rm: u32, fmt: u32): u64 {
  if (isNaN64(a) || isNaN64(b)) return nanResult(isSNaN64(a) || isSNaN64(b), fmt);
  const sign = (a ^ b) >> 63;
  const ma = a & MAG64, mb = b & MAG64;
  if (ma == EXP64) return mb == EXP64 ? invalid(fmt) : packInf(sign, fmt);
  if (mb == EXP64) return packZero(sign, fmt);
  if (mb == 0) {
    if (ma == 0) return invalid(fmt);
    fpFlags |= DZ;
    return packInf(sign, fmt);
  }
  if (ma == 0) return packZero(sign, fmt);
  unpack64(a);
  const expA = uExp, sigA = uSig;
  unpack64(b);
  const expB = uExp, sigB = uSig;
  // The host divides the two 53-bit significands (exact as binary64) correctly rounded,
  // so q is within half an ulp of the true quotient and, the quotient having no 54-bit
  // ties, strictly on one side of it unless exact. One exact 128-bit product tells which
  // side; q nudged by a sticky unit below its last bit then rounds like the true value.
  const qd = reinterpret<u64>(<f64>sigA / <f64>sigB); // in (0.5, 2)
  const q = (qd & FRAC64) | IMPLICIT64;
  const qExp = <i32>(qd >> 52) - 1023; // 0 or -1
  const sh = <u64>(52 - qExp);
  mul128(q, sigB);
  const side = compare128(sigA >> (64 - sh), sigA << sh, wHi, wLo); // sigA*2^sh vs q*sigB
  const sig = (q << 10) + <u64>side; // side -1: just below q
  return normRoundPack(sign, expA - expB + 1023 + qExp, sig, rm, fmt);
}

export function f64_div(a: u64, b: u64, rm: u32): u64 {
  if (fastPaths) {
    const qb = reinterpret<u64>(reinterpret<f64>(a) / reinterpret<f64>(b));
    if (safeExp64(qb)) { // so both operands were finite and nonzero
      if (quotientIsExact64(a, b)) return qb;
      if (rm == RNE) {
        fpFlags |= NX;
        return qb;
      }
    }
  }
  return divSlow(a, b, rm, FMT64);
}

export function f32_div(a: u32, b: u32, rm: u32): u32 {
  if (fastPaths) {
    const x = reinterpret<f32>(a), y = reinterpret<f32>(b);
    const q = x / y;
    const qb = reinterpret<u32>(q);
    if (safeExp32(qb)) {
      if (<f64>q * <f64>y == <f64>x) return qb; // the binary64 product is exact
      if (rm == RNE) {
        fpFlags |= NX;
        return qb;
      }
    }
  }
  if (isNaN32(a) || isNaN32(b)) return <u32>nanResult(isSNaN32(a) || isSNaN32(b), FMT32);
  return <u32>divSlow(widen(a), widen(b), rm, FMT32);
}

// ---------------------------------------------------------------------------------------
// Square root (IEEE 754-2008 §5.4.1: sqrt(-0) = -0, negative operands NV)
// ---------------------------------------------------------------------------------------

function sqrtSlow(a: u64, rm: u32, fmt: u32): u64 {
  if (isNaN64(a)) return nanResult(isSNaN64(a), fmt);
  const sign = a >> 63, mag = a & MAG64;
  if (mag == 0) return a == 0 ? 0 : packZero(1, fmt);
  if (sign != 0) return invalid(fmt);
  if (mag == EXP64) return packInf(0, fmt);
  unpack64(a);
  // value = m * 2^t with t even, m in [2^52, 2^54) exact as binary64; the host's
  // correctly rounded root of m, r in [2^26, 2^27), is then corrected as in divSlow by
  // comparing r^2 with m exactly (a root has no 54-bit ties either).
  let m = uSig;
  let t = uExp - 1075;
  if (t & 1) {
    m <<= 1;
    t -= 1;
  }
  const rd = reinterpret<u64>(sqrt<f64>(<f64>m));
  const r = (rd & FRAC64) | IMPLICIT64;
  const rExp = <i32>(rd >> 52) - 1023;
  const sh = <u64>(2 * (52 - rExp)); // r^2 = (r as integer)^2 * 2^-sh
  mul128(r, r);
  const side = compare128(m >> (64 - sh), m << sh, wHi, wLo);
  return normRoundPack(0, rExp + (t >> 1) + 1023, (r << 10) + <u64>side, rm, fmt);
}

export function f64_sqrt(a: u64, rm: u32): u64 {
  if (fastPaths && a - 1 < EXP64 - 1) { // positive, finite, nonzero: the root is normal
    const r = reinterpret<u64>(sqrt<f64>(reinterpret<f64>(a)));
    if (sqrtIsExact64(a, r)) return r;
    if (rm == RNE) {
      fpFlags |= NX;
      return r;
    }
  }
  return sqrtSlow(a, rm, FMT64);
}

export function f32_sqrt(a: u32, rm: u32): u32 {
  if (fastPaths && a - 1 < EXP32 - 1) {
    const r = sqrt<f32>(reinterpret<f32>(a));
    const rd = <f64>r;
    if (rd * rd == <f64>reinterpret<f32>(a)) return reinterpret<u32>(r); // exact square
    if (rm == RNE) {
      fpFlags |= NX;
      return reinterpret<u32>(r);
    }
  }
  if (isNaN32(a)) return <u32>nanResult(isSNaN32(a), FMT32);
  return <u32>sqrtSlow(widen(a), rm, FMT32);
}

// ---------------------------------------------------------------------------------------
// Fused multiply-add (IEEE 754-2008 §5.4.1: one rounding; unpriv. §11.6 for the variants
// and for NV on inf * 0 even when the addend is a quiet NaN)
// op: 0 a*b+c, 1 a*b-c, 2 -(a*b)+c, 3 -(a*b)-c
// ---------------------------------------------------------------------------------------

@inline function isInfTimesZero(ma: u64, mb: u64): bool {
  return (ma == EXP64 && mb == 0) || (ma == 0 && mb == EXP64);
}

function fmaSlow(a: u64, b: u64, c: u64, rm: u32, op: u32, fmt: u32): u64 {
  const ma = a & MAG64, mb = b & MAG64, mc = c & MAG64;
  if (isInfTimesZero(ma, mb)) return invalid(fmt);
  if (isNaN64(a) || isNaN64(b) || isNaN64(c)) {
    return nanResult(isSNaN64(a) || isSNaN64(b) || isSNaN64(c), fmt);
  }
  const signP = ((a ^ b) >> 63) ^ <u64>(op >> 1);
  const signC = (c >> 63) ^ <u64>(op & 1);
  if (ma == EXP64 || mb == EXP64) {
    if (mc == EXP64 && signC != signP) return invalid(fmt); // inf - inf
    return packInf(signP, fmt);
  }
  if (mc == EXP64) return packInf(signC, fmt);
  if (ma == 0 || mb == 0) { // exact zero product: the sum is exact too
    if (mc == 0) return packZero(signP == signC ? signP : <u64>(rm == RDN), fmt);
    return packExact(mc | (signC << 63), fmt);
  }
  // Exact product of the 53-bit significands, placed with its leading 1 at bit 125 or 126
  // of a 128-bit accumulator: value = acc * 2^(exp - 1023 - 125).
  unpack64(a);
  const expA = uExp, sigA = uSig;
  unpack64(b);
  mul128(sigA, uSig);
  let pHi = (wHi << 21) | (wLo >> 43), pLo = wLo << 21;
  let exp = expA + uExp - 1023;
  let sign = signP;
  let hi = pHi, lo = pLo;
  if (mc != 0) {
    unpack64(c);
    let cHi = uSig << 9, cLo: u64 = 0; // leading 1 at bit 125
    // Align the smaller one; bits shifted out only feed the sticky bit, which is safe
    // because they are lost only when the other term dominates by far.
    const d = exp - uExp;
    if (d >= 0) {
      shiftRightJam128(cHi, cLo, d);
      cHi = wHi; cLo = wLo;
    } else {
      shiftRightJam128(pHi, pLo, -d);
      pHi = wHi; pLo = wLo;
      exp = uExp;
    }
    if (signP == signC) {
      lo = pLo + cLo;
      hi = pHi + cHi + <u64>(lo < pLo);
    } else if (compare128(pHi, pLo, cHi, cLo) >= 0) {
      lo = pLo - cLo;
      hi = pHi - cHi - <u64>(pLo < cLo);
    } else {
      lo = cLo - pLo;
      hi = cHi - pHi - <u64>(cLo < pLo);
      sign = signC;
    }
    if ((hi | lo) == 0) return packZero(<u64>(rm == RDN), fmt);
  }
  // Keep 63 bits from the leading 1 down, the rest as sticky.
  const lead = hi != 0 ? 127 - <i32>clz(hi) : 63 - <i32>clz(lo);
  let sig: u64;
  if (lead >= 62) {
    shiftRightJam128(hi, lo, lead - 62);
    sig = wLo;
  } else {
    sig = lo << <u64>(62 - lead);
  }
  return roundPack(sign, exp + lead - 125, sig, rm, fmt);
}

// Veltkamp's splitting constant 2^27 + 1: x * SPLITTER splits x into two 26-bit halves.
@inline const SPLITTER: f64 = 134217729.0;

// Exponent fields for which the binary64 fast path below cannot overflow or lose the
// product's low part to underflow: every operand below 2^978 and the last bit of the exact
// product (2^(ea-1075) * 2^(eb-1075)) at least 2^-1022.
@inline function fmaInSafeRange(a: u64, b: u64, c: u64): bool {
  const ea = <u32>(a >> 52) & 0x7ff, eb = <u32>(b >> 52) & 0x7ff, ec = <u32>(c >> 52) & 0x7ff;
  return ea <= 2000 && eb <= 2000 && ec <= 2000 && ea + eb >= 1128;
}

export function f64_fma(a: u64, b: u64, c: u64, rm: u32, op: u32): u64 {
  if (fastPaths && rm == RNE && fmaInSafeRange(a, b, c)) {
    // Boldo & Melquiond's emulation (IEEE TC 2008, "Emulation of FMA and correctly
    // rounded sums: proved algorithms using rounding to odd"): with a*b = uh + ul exactly
    // (Dekker) and c + uh = th + tl exactly (TwoSum), RN(th + RO(tl + ul)) is the
    // correctly rounded a*b + c. Negating a operand is exact, so the variants come free.
    let x = reinterpret<f64>(a), y = reinterpret<f64>(b), z = reinterpret<f64>(c);
    if (op & 2) x = -x;
    if (op & 1) z = -z;
    const uh = x * y;
    const sx = SPLITTER * x, sy = SPLITTER * y;
    const xh = sx - (sx - x), yh = sy - (sy - y);
    const xl = x - xh, yl = y - yh;
    const ul = ((xh * yh - uh) + xh * yl + xl * yh) + xl * yl;
    const th = z + uh;
    const tl = twoSumError(z, uh, th);
    const u = tl + ul;
    const uErr = twoSumError(tl, ul, u);
    const v = roundToOdd(u, uErr);
    const r = th + v;
    const rb = reinterpret<u64>(r);
    if (safeExp64(rb)) {
      // Exact only if neither remaining addition rounded (then th + v is the whole sum).
      if (uErr != 0 || twoSumError(th, v, r) != 0) fpFlags |= NX;
      return rb;
    }
  }
  return fmaSlow(a, b, c, rm, op, FMT64);
}

export function f32_fma(a: u32, b: u32, c: u32, rm: u32, op: u32): u32 {
  if (fastPaths) {
    // The binary64 product of two binary32 values is exact; TwoSum gives the exact error
    // of adding c (binary32 magnitudes cannot overflow binary64), and round-to-odd makes
    // the final narrowing a single correct rounding.
    let p = <f64>reinterpret<f32>(a) * <f64>reinterpret<f32>(b);
    let z = <f64>reinterpret<f32>(c);
    if (op & 2) p = -p;
    if (op & 1) z = -z;
    const s = p + z;
    if (s - s == 0) { // finite, so were all operands
      const err = twoSumError(p, z, s);
      const r = <f32>roundToOdd(s, err);
      const rb = reinterpret<u32>(r);
      if (err == 0 && <f64>r == s) {
        if (s != 0 || rm != RDN) return rb;
      } else if (rm == RNE && safeExp32(rb)) {
        fpFlags |= NX;
        return rb;
      }
    }
  }
  if (isNaN32(a) || isNaN32(b) || isNaN32(c)) {
    const nv = isSNaN32(a) || isSNaN32(b) || isSNaN32(c) || isInfTimesZero(widen32Mag(a), widen32Mag(b));
    return <u32>nanResult(nv, FMT32);
  }
  return <u32>fmaSlow(widen(a), widen(b), widen(c), rm, op, FMT32);
}

// Magnitude of a binary32 in binary64 bits, for the inf/zero test only (never NaN here:
// a NaN magnitude maps to a non-inf, nonzero pattern, which is all that test needs).
@inline function widen32Mag(a: u32): u64 {
  const m = a & MAG32;
  if (m == EXP32) return EXP64;
  return <u64>m;
}

// ---------------------------------------------------------------------------------------
// Min / max (unpriv. §11.6: IEEE 754-2019 minimumNumber / maximumNumber; -0 < +0; NaN
// operands lose to numbers, two NaNs give the canonical NaN, a signaling NaN raises NV)
// ---------------------------------------------------------------------------------------

// Maps bits to a signed integer with the same order as the values, -0 just below +0.
@inline function orderKey64(a: u64): i64 { return <i64>(a ^ (<u64>(<i64>a >> 63) >> 1)); }
@inline function orderKey32(a: u32): i32 { return <i32>(a ^ (<u32>(<i32>a >> 31) >> 1)); }

export function f64_min(a: u64, b: u64): u64 {
  if (isNaN64(a) || isNaN64(b)) return minMaxNaN64(a, b);
  return orderKey64(a) < orderKey64(b) ? a : b;
}

export function f64_max(a: u64, b: u64): u64 {
  if (isNaN64(a) || isNaN64(b)) return minMaxNaN64(a, b);
  return orderKey64(a) > orderKey64(b) ? a : b;
}

function minMaxNaN64(a: u64, b: u64): u64 {
  if (isSNaN64(a) || isSNaN64(b)) fpFlags |= NV;
  if (isNaN64(a)) return isNaN64(b) ? QNAN64 : b;
  return a;
}

export function f32_min(a: u32, b: u32): u32 {
  if (isNaN32(a) || isNaN32(b)) return minMaxNaN32(a, b);
  return orderKey32(a) < orderKey32(b) ? a : b;
}

export function f32_max(a: u32, b: u32): u32 {
  if (isNaN32(a) || isNaN32(b)) return minMaxNaN32(a, b);
  return orderKey32(a) > orderKey32(b) ? a : b;
}

function minMaxNaN32(a: u32, b: u32): u32 {
  if (isSNaN32(a) || isSNaN32(b)) fpFlags |= NV;
  if (isNaN32(a)) return isNaN32(b) ? QNAN32 : b;
  return a;
}

// ---------------------------------------------------------------------------------------
// Compare (unpriv. §11.8: feq is quiet, NV only for signaling NaNs; flt and fle signal on
// any NaN). Host comparisons already treat -0 == +0 and NaN as unordered.
// ---------------------------------------------------------------------------------------

export function f64_eq(a: u64, b: u64): u32 {
  if (isNaN64(a) || isNaN64(b)) {
    if (isSNaN64(a) || isSNaN64(b)) fpFlags |= NV;
    return 0;
  }
  return <u32>(reinterpret<f64>(a) == reinterpret<f64>(b));
}

export function f64_lt(a: u64, b: u64): u32 {
  if (isNaN64(a) || isNaN64(b)) {
    fpFlags |= NV;
    return 0;
  }
  return <u32>(reinterpret<f64>(a) < reinterpret<f64>(b));
}

export function f64_le(a: u64, b: u64): u32 {
  if (isNaN64(a) || isNaN64(b)) {
    fpFlags |= NV;
    return 0;
  }
  return <u32>(reinterpret<f64>(a) <= reinterpret<f64>(b));
}

export function f32_eq(a: u32, b: u32): u32 {
  if (isNaN32(a) || isNaN32(b)) {
    if (isSNaN32(a) || isSNaN32(b)) fpFlags |= NV;
    return 0;
  }
  return <u32>(reinterpret<f32>(a) == reinterpret<f32>(b));
}

export function f32_lt(a: u32, b: u32): u32 {
  if (isNaN32(a) || isNaN32(b)) {
    fpFlags |= NV;
    return 0;
  }
  return <u32>(reinterpret<f32>(a) < reinterpret<f32>(b));
}

export function f32_le(a: u32, b: u32): u32 {
  if (isNaN32(a) || isNaN32(b)) {
    fpFlags |= NV;
    return 0;
  }
  return <u32>(reinterpret<f32>(a) <= reinterpret<f32>(b));
}

// ---------------------------------------------------------------------------------------
// Classify (unpriv. §11.9, Table 11.5): bit 0 -inf, 1 -normal, 2 -subnormal, 3 -0,
// 4 +0, 5 +subnormal, 6 +normal, 7 +inf, 8 signaling NaN, 9 quiet NaN
// ---------------------------------------------------------------------------------------

// rank: 0 infinity, 1 normal, 2 subnormal, 3 zero; negative values count up from bit 0,
// positive ones down from bit 7.
@inline function classBit(negative: bool, rank: u32): u32 {
  return negative ? <u32>1 << rank : <u32>1 << (7 - rank);
}

export function f64_class(a: u64): u32 {
  const mag = a & MAG64;
  if (mag > EXP64) return (mag & QUIET64) != 0 ? 1 << 9 : 1 << 8;
  const rank: u32 = mag == EXP64 ? 0 : mag >= IMPLICIT64 ? 1 : mag != 0 ? 2 : 3;
  return classBit((a >> 63) != 0, rank);
}

export function f32_class(a: u32): u32 {
  const mag = a & MAG32;
  if (mag > EXP32) return (mag & QUIET32) != 0 ? 1 << 9 : 1 << 8;
  const rank: u32 = mag == EXP32 ? 0 : mag >= 0x0080_0000 ? 1 : mag != 0 ? 2 : 3;
  return classBit((a >> 31) != 0, rank);
}

// ---------------------------------------------------------------------------------------
// Float -> integer (unpriv. §11.7, Table 11.4): round in rm; out of range (after rounding)
// or NaN raises NV alone and saturates (NaN and +inf to the maximum, -inf to the minimum);
// in range but inexact raises NX. A negative value that rounds to 0 is in range of the
// unsigned types. On RV64 the 32-bit results, fcvt.wu included, are sign-extended (§11.7).
// ---------------------------------------------------------------------------------------

let cvtInexact: bool = false;
let cvtHuge: bool = false; // magnitude >= 2^64 (or infinite): out of range of every type

// Rounds |a| (finite or infinite, not NaN) to an integer in rm (the sign of a decides the
// directed modes).
function roundMagnitude(a: u64, rm: u32): u64 {
  cvtInexact = false;
  cvtHuge = false;
  const mag = a & MAG64;
  const e = <i32>(mag >> 52) - 1023; // unbiased exponent; subnormals are far below 1
  if (e >= 64) {
    cvtHuge = true;
    return 0;
  }
  if (mag == 0) return 0;
  const sig = significand64(a);
  if (e >= 52) return sig << <u64>(e - 52); // an integer already
  let int: u64 = 0, frac: u64; // frac: the fraction as a 64-bit binary fraction (sticky)
  if (e >= 0) {
    int = sig >> <u64>(52 - e);
    frac = sig << <u64>(12 + e);
  } else if (e == -1) {
    frac = sig << 11;
  } else {
    frac = 1; // nonzero, below one half
  }
  if (frac == 0) return int;
  cvtInexact = true;
  const half = SIGN64;
  const negative = (a >> 63) != 0;
  let up = false;
  if (rm == RNE) up = frac > half || (frac == half && (int & 1) != 0);
  else if (rm == RMM) up = frac >= half;
  else if (rm == RDN) up = negative;
  else if (rm == RUP) up = !negative;
  return int + <u64>up;
}

// Converts binary64 bits (binary32 widened) to a `bits`-wide integer: the exact 64-bit
// value for rd, 32-bit results sign-extended.
function toInteger(a: u64, rm: u32, signed: bool, bits: u32): u64 {
  const negative = (a >> 63) != 0;
  const topBit: u64 = <u64>1 << <u64>(bits - 1);
  const typeMax: u64 = signed ? topBit - 1 : topBit + (topBit - 1);
  const typeMin: u64 = signed ? <u64>0 - topBit : 0; // as a two's complement bit pattern
  let result: u64;
  if (isNaN64(a)) {
    fpFlags |= NV;
    result = typeMax;
  } else {
    const mag = roundMagnitude(a, rm);
    const limit: u64 = negative ? (signed ? topBit : 0) : typeMax;
    if (cvtHuge || mag > limit) {
      fpFlags |= NV;
      result = negative ? typeMin : typeMax;
    } else {
      if (cvtInexact) fpFlags |= NX;
      result = negative ? <u64>0 - mag : mag;
    }
  }
  return bits == 32 ? <u64><i64><i32><u32>result : result;
}

export function f64_to_i32(a: u64, rm: u32): u64 { return toInteger(a, rm, true, 32); }
export function f64_to_u32(a: u64, rm: u32): u64 { return toInteger(a, rm, false, 32); }
export function f64_to_i64(a: u64, rm: u32): u64 { return toInteger(a, rm, true, 64); }
export function f64_to_u64(a: u64, rm: u32): u64 { return toInteger(a, rm, false, 64); }

// A binary32 NaN must not be widened by the host (which may quiet it); any NaN stays a
// NaN for toInteger's purposes.
@inline function widenForConvert(a: u32): u64 { return isNaN32(a) ? QNAN64 : widen(a); }

export function f32_to_i32(a: u32, rm: u32): u64 { return toInteger(widenForConvert(a), rm, true, 32); }
export function f32_to_u32(a: u32, rm: u32): u64 { return toInteger(widenForConvert(a), rm, false, 32); }
export function f32_to_i64(a: u32, rm: u32): u64 { return toInteger(widenForConvert(a), rm, true, 64); }
export function f32_to_u64(a: u32, rm: u32): u64 { return toInteger(widenForConvert(a), rm, false, 64); }

// ---------------------------------------------------------------------------------------
// Integer -> float (unpriv. §11.7): exact below 2^24 / 2^53, rounded in rm above
// ---------------------------------------------------------------------------------------

function fromInteger(negative: bool, mag: u64, rm: u32, fmt: u32): u64 {
  const sign = <u64>negative;
  if (fmt == FMT64) {
    if (mag < IMPLICIT64 << 1) return reinterpret<u64>(<f64>mag) | (sign << 63);
  } else if (mag < 0x0100_0000) {
    return <u64>(reinterpret<u32>(<f32>mag) | (<u32>sign << 31));
  }
  const lz = <i32>clz(mag);
  const top = mag << <u64>lz; // leading 1 at bit 63
  return roundPack(sign, 1023 + 63 - lz, (top >> 1) | (top & 1), rm, fmt);
}

@inline function low32Signed(x: u64): i64 { return <i64><i32><u32>x; }

export function i32_to_f64(x: u64, rm: u32): u64 {
  const v = low32Signed(x);
  return fromInteger(v < 0, v < 0 ? <u64>-v : <u64>v, rm, FMT64);
}
export function u32_to_f64(x: u64, rm: u32): u64 { return fromInteger(false, x & 0xffff_ffff, rm, FMT64); }
export function i64_to_f64(x: u64, rm: u32): u64 {
  const negative = <i64>x < 0;
  return fromInteger(negative, negative ? <u64>0 - x : x, rm, FMT64);
}
export function u64_to_f64(x: u64, rm: u32): u64 { return fromInteger(false, x, rm, FMT64); }

export function i32_to_f32(x: u64, rm: u32): u32 {
  const v = low32Signed(x);
  return <u32>fromInteger(v < 0, v < 0 ? <u64>-v : <u64>v, rm, FMT32);
}
export function u32_to_f32(x: u64, rm: u32): u32 { return <u32>fromInteger(false, x & 0xffff_ffff, rm, FMT32); }
export function i64_to_f32(x: u64, rm: u32): u32 {
  const negative = <i64>x < 0;
  return <u32>fromInteger(negative, negative ? <u64>0 - x : x, rm, FMT32);
}
export function u64_to_f32(x: u64, rm: u32): u32 { return <u32>fromInteger(false, x, rm, FMT32); }

// ---------------------------------------------------------------------------------------
// Between the formats (unpriv. §12.5): widening is exact; narrowing rounds in rm. NaNs
// become the canonical NaN, signaling ones raising NV.
// ---------------------------------------------------------------------------------------

export function f32_to_f64(a: u32): u64 {
  if (isNaN32(a)) return nanResult(isSNaN32(a), FMT64);
  return widen(a);
}

export function f64_to_f32(a: u64, rm: u32): u32 {
  if (fastPaths) {
    const x = reinterpret<f64>(a);
    const r = <f32>x;
    const rb = reinterpret<u32>(r);
    if (<f64>r == x) return rb; // exact: zeros and infinities included
    if (rm == RNE && safeExp32(rb)) {
      fpFlags |= NX;
      return rb;
    }
  }
  if (isNaN64(a)) return <u32>nanResult(isSNaN64(a), FMT32);
  const mag = a & MAG64;
  if (mag == EXP64 || mag == 0) return <u32>((a >> 32) & 0xff80_0000); // sign and inf/zero
  unpack64(a);
  return <u32>roundPack(a >> 63, uExp, uSig << 10, rm, FMT32);
}
