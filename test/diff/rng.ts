// Seeded PRNG for reproducible test programs: xoshiro128** (Blackman and Vigna) seeded
// through splitmix32. Same seed, same program, on every machine and Node version: only
// 32-bit integer arithmetic (Math.imul, >>>) is used, never Math.random or floats.

const MASK64 = (1n << 64n) - 1n;

export class Rng {
  private s0: number; private s1: number; private s2: number; private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next(); this.s1 = next(); this.s2 = next(); this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0; this.s3 ^= this.s1; this.s1 ^= this.s2; this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0; this.s1 >>>= 0; this.s2 >>>= 0; this.s3 >>>= 0;
    return result;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (n <= 0) throw new RangeError('int(n) needs n > 0');
    return Math.floor((this.u32() / 4294967296) * n);
  }
  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number { return lo + this.int(hi - lo + 1); }
  chance(p: number): boolean { return this.u32() / 4294967296 < p; }
  pick<T>(a: readonly T[]): T {
    if (a.length === 0) throw new RangeError('pick from an empty list');
    return a[this.int(a.length)]!;
  }
  u64(): bigint { return ((BigInt(this.u32()) << 32n) | BigInt(this.u32())) & MASK64; }

  /** Picks a key by weight from a table of [value, weight]. */
  weighted<T>(table: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of table) total += w;
    let r = (this.u32() / 4294967296) * total;
    for (const [v, w] of table) {
      if (r < w) return v;
      r -= w;
    }
    return table[table.length - 1]![0];
  }
}

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }
