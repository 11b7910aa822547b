// "Interesting" operand values for the generator: the edges where implementations differ
// (overflow, sign extension, division by zero, NaN payloads and boxing, subnormals,
// rounding ties, the limits of every integer conversion), mixed with plain random bits.
// All values are raw 64-bit patterns as unsigned bigints.

import type { Rng } from './rng.js';

export const MASK64 = (1n << 64n) - 1n;
export const MASK32 = (1n << 32n) - 1n;
export const u64 = (v: bigint): bigint => v & MASK64;
export const sext32 = (v: bigint): bigint => u64(BigInt.asIntN(32, v));
/** A single's bits NaN-boxed in a 64-bit f register (Unprivileged ISA §12.2). */
export const box = (s: bigint): bigint => (MASK32 << 32n) | (s & MASK32);

export const INT_EDGES: readonly bigint[] = [
  0n, 1n, 2n, 3n, 7n, 31n, 32n, 33n, 63n, 64n, u64(-1n), u64(-2n), u64(-7n),
  0x7fffffffffffffffn, 0x8000000000000000n, 0x8000000000000001n,
  0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, sext32(0x80000000n), sext32(0x80000001n),
  0x00000000ffff0000n, 0xffffffff7fffffffn, 0x5555555555555555n, 0xaaaaaaaaaaaaaaaan,
];

export function randomInt(r: Rng): bigint {
  switch (r.int(10)) {
    case 0: case 1: return r.pick(INT_EDGES);
    case 2: return BigInt(r.range(-64, 64)) & MASK64;
    case 3: return 1n << BigInt(r.int(64));
    case 4: return u64((1n << BigInt(r.int(64))) - 1n);
    case 5: return sext32(BigInt(r.u32()));
    case 6: return BigInt(r.u32());
    case 7: return u64(r.u64() >> BigInt(r.int(64)));
    default: return r.u64();
  }
}

// IEEE 754 double and single patterns.
export const D_EDGES: readonly bigint[] = [
  0x0000000000000000n, 0x8000000000000000n, // ±0
  0x3ff0000000000000n, 0xbff0000000000000n, // ±1
  0x3fe0000000000000n, 0xbfe0000000000000n, // ±0.5
  0x3ff8000000000000n, 0xc004000000000000n, // 1.5, -2.5
  0x7ff0000000000000n, 0xfff0000000000000n, // ±inf
  0x7ff8000000000000n, 0xfff8000000000000n, 0x7ff8000000000123n, // qNaN (canonical, negative, payload)
  0x7ff0000000000001n, 0x7ff4000000000000n, 0xfff0000000000005n, // sNaN
  0x0000000000000001n, 0x8000000000000001n, 0x000fffffffffffffn, 0x0008000000000000n, // subnormals
  0x0010000000000000n, 0x8010000000000000n, // ±min normal
  0x7fefffffffffffffn, 0xffefffffffffffffn, // ±max
  0x41dfffffffc00000n, 0x41e0000000000000n, 0xc1e0000000000000n, 0xc1e0000000200000n, // ~±2^31
  0x41efffffffe00000n, 0x41f0000000000000n, // ~2^32
  0x43dfffffffffffffn, 0x43e0000000000000n, 0xc3e0000000000000n, // ~±2^63
  0x43efffffffffffffn, 0x43f0000000000000n, // ~2^64
  0x47efffffe0000000n, 0x47f0000000000000n, 0x36a0000000000000n, 0x3690000000000000n, // single max/overflow, single min subnormal
  0x380fffffe0000000n, 0x3810000000000000n, // single min-normal boundary
];
export const S_EDGES: readonly bigint[] = [
  0x00000000n, 0x80000000n, 0x3f800000n, 0xbf800000n, 0x3f000000n, 0xbf000000n, 0x3fc00000n, 0xc0200000n,
  0x7f800000n, 0xff800000n, 0x7fc00000n, 0xffc00000n, 0x7fc00123n, 0x7f800001n, 0x7fa00000n, 0xff800005n,
  0x00000001n, 0x80000001n, 0x007fffffn, 0x00400000n, 0x00800000n, 0x80800000n, 0x7f7fffffn, 0xff7fffffn,
  0x4effffffn, 0x4f000000n, 0xcf000000n, 0xcf000001n, 0x4f7fffffn, 0x4f800000n,
  0x5effffffn, 0x5f000000n, 0xdf000000n, 0x5f7fffffn, 0x5f800000n,
];

/** A double with a moderate exponent: arithmetic on these neither overflows nor underflows at once. */
function moderateDouble(r: Rng): bigint {
  const exp = BigInt(1023 + r.range(-40, 40));
  return (BigInt(r.int(2)) << 63n) | (exp << 52n) | (r.u64() & ((1n << 52n) - 1n));
}
function moderateSingle(r: Rng): bigint {
  const exp = BigInt(127 + r.range(-20, 20));
  return (BigInt(r.int(2)) << 31n) | (exp << 23n) | BigInt(r.u32() & 0x7fffff);
}
/** A small integer value, exactly representable: conversions and ties. */
function smallIntDouble(r: Rng): bigint {
  const f = new Float64Array([r.range(-1000, 1000) / r.pick([1, 2, 4, 8])]);
  return new BigUint64Array(f.buffer)[0]!;
}
function smallIntSingle(r: Rng): bigint {
  const f = new Float32Array([r.range(-1000, 1000) / r.pick([1, 2, 4, 8])]);
  return BigInt(new Uint32Array(f.buffer)[0]!);
}

/** Exponents near the ends of the range: results overflow, underflow, go subnormal. */
function extremeDouble(r: Rng): bigint {
  const exp = BigInt(r.chance(0.5) ? r.range(0, 60) : r.range(1990, 2046));
  return (BigInt(r.int(2)) << 63n) | (exp << 52n) | (r.u64() & ((1n << 52n) - 1n));
}
function extremeSingle(r: Rng): bigint {
  const exp = BigInt(r.chance(0.5) ? r.range(0, 30) : r.range(225, 254));
  return (BigInt(r.int(2)) << 31n) | (exp << 23n) | BigInt(r.u32() & 0x7fffff);
}

export function randomDouble(r: Rng): bigint {
  switch (r.int(9)) {
    case 0: case 1: return r.pick(D_EDGES);
    case 2: return smallIntDouble(r);
    case 3: return r.u64();
    case 4: return extremeDouble(r);
    default: return moderateDouble(r);
  }
}
export function randomSingle(r: Rng): bigint {
  switch (r.int(9)) {
    case 0: case 1: return r.pick(S_EDGES);
    case 2: return smallIntSingle(r);
    case 3: return BigInt(r.u32());
    case 4: return extremeSingle(r);
    default: return moderateSingle(r);
  }
}

/** An f-register value: a NaN-boxed single, a double, or an improperly boxed single. */
export function randomFReg(r: Rng): bigint {
  const k = r.int(20);
  if (k < 9) return box(randomSingle(r));
  if (k < 18) return randomDouble(r);
  const s = randomSingle(r);
  return (r.pick([0n, 0xfffffffen, 0x7fffffffn, BigInt(r.u32())]) << 32n) | s;
}
