// Regenerates the FPU test vectors in test/vectors/fpu/ from an independent oracle: real
// RISC-V F/D instructions executed by QEMU's RISC-V TCG (bit-exact to the unprivileged
// spec, including canonical NaNs, RMM, tininess after rounding and fcvt saturation).
//
//   node scripts/gen-fpu-vectors.mjs
//
// Needs riscv64-unknown-elf-gcc and qemu-system-riscv64 (Debian: gcc-riscv64-unknown-elf,
// qemu-system-misc); on x86-64 hosts the arithmetic vectors are then replayed on the
// host's own FPU as a cross-check (needs cc). The tests only read the committed .txt files.
// Inputs are deterministic (fixed seed), so a rerun reproduces the same files unless the
// oracle disagrees with itself.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(root, 'test/vectors/fpu');
const oracleDir = join(outDir, 'oracle');
const VEC_BASE = 0x80200000;

// ---- deterministic randomness (splitmix64) ----
let seed = 0x5eed_f00d_1234_5678n;
const M64 = (1n << 64n) - 1n;
function next64() {
  seed = (seed + 0x9e3779b97f4a7c15n) & M64;
  let z = seed;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}
const randInt = (n) => Number(next64() % BigInt(n)); // 0 <= r < n
const randBits = (w) => next64() & ((1n << BigInt(w)) - 1n);
const pick = (arr) => arr[randInt(arr.length)];

// ---- formats ----
const F32 = { name: 'f32', width: 32, expBits: 8, fracBits: 23, bias: 127 };
const F64 = { name: 'f64', width: 64, expBits: 11, fracBits: 52, bias: 1023 };
for (const f of [F32, F64]) {
  f.maxExp = (1 << f.expBits) - 1;
  f.fracMask = (1n << BigInt(f.fracBits)) - 1n;
  f.sign = 1n << BigInt(f.width - 1);
  f.inf = BigInt(f.maxExp) << BigInt(f.fracBits);
  f.qnan = f.inf | (1n << BigInt(f.fracBits - 1));
  f.one = BigInt(f.bias) << BigInt(f.fracBits);
}
const pack = (f, s, e, m) => (s ? f.sign : 0n) | (BigInt(e) << BigInt(f.fracBits)) | (m & f.fracMask);
const neg = (f, x) => x ^ f.sign;
const dv = new DataView(new ArrayBuffer(8));
function numBits(f, x) {
  if (f === F64) { dv.setFloat64(0, x); return dv.getBigUint64(0); }
  dv.setFloat32(0, x); return BigInt(dv.getUint32(0));
}
function bitsNum(f, b) {
  if (f === F64) { dv.setBigUint64(0, b); return dv.getFloat64(0); }
  dv.setUint32(0, Number(b)); return dv.getFloat32(0);
}

// Values every operation meets: zeros, subnormal and normal extremes, infinities, NaNs.
function specials(f) {
  const F = f.fracBits, E = f.maxExp;
  const v = [
    0n, pack(f, 0, 0, 1n), pack(f, 0, 0, f.fracMask), pack(f, 0, 0, 1n << BigInt(F - 1)),
    pack(f, 0, 1, 0n), pack(f, 0, 1, 1n), pack(f, 0, E - 1, f.fracMask), pack(f, 0, E - 1, 0n),
    f.one, pack(f, 0, f.bias, 1n), pack(f, 0, f.bias - 1, f.fracMask), pack(f, 0, f.bias + 1, 0n),
    pack(f, 0, f.bias, 1n << BigInt(F - 1)), pack(f, 0, f.bias - 1, 0n), f.inf,
  ];
  const out = [];
  for (const x of v) out.push(x, neg(f, x));
  out.push(f.qnan, neg(f, f.qnan), f.inf | 1n, f.inf | (f.fracMask >> 1n), f.qnan | 1n, neg(f, f.inf | 5n));
  return out;
}

// A random operand drawn from a mix of regions, so every class and boundary gets traffic.
function randomValue(f) {
  const s = randInt(2);
  switch (randInt(12)) {
    case 0: return randBits(f.width); // anything, NaNs included
    case 1: return pack(f, s, 0, randBits(f.fracBits)); // subnormal
    case 2: return pack(f, s, 1 + randInt(3), randBits(f.fracBits)); // just above subnormal
    case 3: return pack(f, s, f.maxExp - 1 - randInt(3), randBits(f.fracBits)); // near overflow
    case 4: { // few significant bits: exact results and ties
      const m = randBits(randInt(6)) << BigInt(f.fracBits - 5);
      return pack(f, s, f.bias - 8 + randInt(17), m);
    }
    case 5: return pack(f, s, f.bias - 3 + randInt(7), f.fracMask ^ randBits(randInt(4))); // all-ones-ish
    default: return pack(f, s, f.bias - 40 + randInt(81), randBits(f.fracBits)); // ordinary
  }
}

function randomNormalAround(f, e) {
  return pack(f, randInt(2), Math.max(1, Math.min(f.maxExp - 1, e)), randBits(f.fracBits));
}

// ---- hard cases per operation ----
function addPairs(f) {
  const out = [];
  const sp = specials(f);
  for (const a of sp) for (const b of sp) if (randInt(4) === 0) out.push([a, b]);
  for (let i = 0; i < 300; i++) out.push([randomValue(f), randomValue(f)]);
  for (let i = 0; i < 60; i++) { // exact ties: b is an odd multiple of half an ulp of a
    const e = f.bias - 10 + randInt(20);
    const a = pack(f, randInt(2), e, randBits(f.fracBits));
    const be = e - f.fracBits - 1 + randInt(3);
    out.push([a, pack(f, randInt(2), be, randInt(2) ? 0n : randBits(2) << BigInt(f.fracBits - 2))]);
  }
  for (let i = 0; i < 60; i++) { // catastrophic cancellation
    const a = randomNormalAround(f, 1 + randInt(f.maxExp - 2));
    const d = randInt(2) ? a + BigInt(randInt(5)) : a - BigInt(randInt(5));
    out.push([a, neg(f, d)]);
  }
  for (let i = 0; i < 40; i++) { // far apart: the small one is only a sticky bit
    const e = 20 + randInt(f.maxExp - 40);
    out.push([randomNormalAround(f, e), randomNormalAround(f, e - f.fracBits - 2 - randInt(30))]);
  }
  for (let i = 0; i < 40; i++) { // overflow boundary
    out.push([pack(f, 0, f.maxExp - 1, f.fracMask - BigInt(randInt(3))), pack(f, 0, f.maxExp - 1 - f.fracBits - randInt(3), randBits(f.fracBits))]);
  }
  for (let i = 0; i < 30; i++) out.push([pack(f, randInt(2), randInt(2), randBits(f.fracBits)), pack(f, randInt(2), randInt(2), randBits(f.fracBits))]);
  return out;
}

function mulPairs(f) {
  const out = [];
  const sp = specials(f);
  for (const a of sp) for (const b of sp) if (randInt(4) === 0) out.push([a, b]);
  for (let i = 0; i < 300; i++) out.push([randomValue(f), randomValue(f)]);
  // Products straddling the smallest normal (tininess after rounding) and the overflow
  // threshold; operand exponents chosen so the product lands there.
  const p = f.fracBits + 1;
  for (let i = 0; i < 100; i++) {
    const ea = f.bias - 20 + randInt(40);
    const target = randInt(2) ? 1 - randInt(3) - (randInt(4) === 0 ? randInt(p + 3) : 0) : f.maxExp - 1 + randInt(2);
    const eb = target - ea + f.bias;
    const ma = randInt(2) ? f.fracMask - randBits(randInt(4)) : randBits(f.fracBits);
    if (eb < 1 || eb >= f.maxExp) continue;
    out.push([pack(f, randInt(2), ea, ma), pack(f, randInt(2), eb, randInt(2) ? f.fracMask - randBits(3) : randBits(f.fracBits))]);
  }
  // Near 1 times the smallest normal: lands just below it.
  for (let k = 0n; k < 3n; k++) {
    for (let j = 0n; j < 3n; j++) out.push([pack(f, randInt(2), f.bias - 1, f.fracMask - k), pack(f, randInt(2), 1, j)]);
  }
  // Odd significands whose product has 53/54/55 bits (exact results and exact ties).
  for (let i = 0; i < 60; i++) {
    const n1 = 2 + randInt(p - 2), n2 = p + 1 - n1 + randInt(3) - 1;
    if (n2 < 1 || n2 > p) continue;
    const m1 = (1n << BigInt(n1 - 1)) | randBits(n1 - 1) | 1n, m2 = (1n << BigInt(n2 - 1)) | randBits(Math.max(0, n2 - 1)) | 1n;
    const e1 = randInt(4) === 0 ? 1 + randInt(f.maxExp - 2) : f.bias - 5 + randInt(10);
    out.push([numBitsScaled(f, m1, n1, e1), numBitsScaled(f, m2, n2, f.bias - 5 + randInt(10))]);
  }
  return out;
}

// The normal number with odd significand m (n bits) and biased exponent e.
function numBitsScaled(f, m, n, e) { return pack(f, randInt(2), e, (m << BigInt(f.fracBits + 1 - n)) & f.fracMask); }

function divPairs(f) {
  const out = [];
  const sp = specials(f);
  for (const a of sp) for (const b of sp) if (randInt(4) === 0) out.push([a, b]);
  for (let i = 0; i < 300; i++) out.push([randomValue(f), randomValue(f)]);
  for (let i = 0; i < 40; i++) { // subnormal halvings: exact ties at subnormal precision
    out.push([pack(f, randInt(2), randInt(2), randBits(f.fracBits) | 1n), pack(f, randInt(2), f.bias + 1 + randInt(3), 0n)]);
  }
  for (let i = 0; i < 40; i++) { // exact quotients
    const q = BigInt(1 + randInt(1000));
    const b = randomNormalAround(f, f.bias + randInt(10) - 5);
    const qb = numBits(f, bitsNum(f, b) * Number(q));
    out.push([qb, b]);
  }
  for (let i = 0; i < 60; i++) { // quotient near the smallest normal / overflow
    const ea = randInt(2) ? 1 + randInt(f.fracBits) : f.maxExp - 1 - randInt(3);
    const eb = ea < f.bias ? f.bias + randInt(3) - 1 : f.bias - randInt(3) + 1;
    out.push([pack(f, randInt(2), ea, randBits(f.fracBits)), pack(f, randInt(2), eb, randBits(f.fracBits))]);
  }
  for (let i = 0; i < 60; i++) { // quotient a hair below the smallest normal: tiny only before rounding
    const a = pack(f, randInt(2), 1 + randInt(2), BigInt(randInt(4)));
    out.push([a, pack(f, randInt(2), f.bias + randInt(2), BigInt(1 + randInt(3)) << BigInt(randInt(3) * 8))]);
    out.push([pack(f, randInt(2), f.bias - 1, f.fracMask - BigInt(randInt(4))), pack(f, randInt(2), 2 * f.bias - 2 - randInt(2), f.fracMask - BigInt(randInt(4)))]);
  }
  for (let i = 0; i < 20; i++) out.push([randomValue(f), randInt(2) ? 0n : f.sign]); // divide by zero
  return out;
}

function sqrtInputs(f) {
  const out = specials(f).map((a) => [a]);
  for (let i = 0; i < 250; i++) out.push([randomValue(f)]);
  for (let i = 0; i < 60; i++) { // perfect squares
    const r = 1 + randInt(1 << 12);
    out.push([numBits(f, r * r * Math.pow(4, randInt(20) - 10))]);
  }
  for (let i = 0; i < 40; i++) out.push([pack(f, 0, randInt(3), randBits(f.fracBits))]);
  return out;
}

function fmaTriples(f) {
  const out = [];
  const sp = specials(f);
  for (let i = 0; i < 250; i++) out.push([pick(sp), pick(sp), pick(sp)]);
  for (let i = 0; i < 300; i++) out.push([randomValue(f), randomValue(f), randomValue(f)]);
  const n = (x) => bitsNum(f, x);
  for (let i = 0; i < 120; i++) { // c cancels most of the product: only its low part is left
    const a = randomNormalAround(f, f.bias - 30 + randInt(60)), b = randomNormalAround(f, f.bias - 30 + randInt(60));
    let c = neg(f, numBits(f, n(a) * n(b)));
    if (f === F32) c = neg(f, numBits(f, Math.fround(n(a) * n(b))));
    c += BigInt(randInt(5)) - 2n;
    out.push([a, b, c]);
  }
  for (let i = 0; i < 60; i++) { // c is tiny next to the product (sticky), or the reverse
    const a = randomValue(f), b = randomValue(f);
    const pe = 1 + randInt(f.maxExp - 2);
    out.push([a, b, randomNormalAround(f, pe)]);
  }
  for (let i = 0; i < 60; i++) { // product near the smallest normal, c tiny or zero
    const ea = f.bias - 10 + randInt(20), eb = 1 - randInt(3) - ea + f.bias + randInt(2);
    if (eb < 1) continue;
    out.push([randomNormalAround(f, ea), randomNormalAround(f, eb), randInt(2) ? pack(f, randInt(2), 0, randBits(f.fracBits)) : (randInt(2) ? 0n : f.sign)]);
  }
  // smallest normal minus a little: tiny before rounding, maybe not after
  for (let k = 0n; k < 3n; k++) {
    for (let j = 0n; j < 2n; j++) {
      for (const c of [0n, 1n, 2n, f.sign | 1n, f.sign | 2n]) out.push([pack(f, randInt(2), f.bias - 1, f.fracMask - k), pack(f, randInt(2), 1, j), c]);
    }
  }
  for (let i = 0; i < 40; i++) { // product overflows; c of either sign
    out.push([randomNormalAround(f, f.maxExp - 2), randomNormalAround(f, f.bias + 2 + randInt(3)), randInt(2) ? randomValue(f) : pack(f, randInt(2), f.maxExp - 1, f.fracMask)]);
  }
  for (let i = 0; i < 40; i++) { // exact zero products and zero addends: signs of zero
    out.push([randInt(2) ? 0n : f.sign, randomValue(f), randInt(2) ? 0n : f.sign]);
    out.push([randomNormalAround(f, f.bias), randomNormalAround(f, f.bias), randInt(2) ? 0n : f.sign]);
  }
  for (let i = 0; i < 10; i++) out.push([f.inf ^ (randInt(2) ? f.sign : 0n), randInt(2) ? 0n : f.sign, randInt(2) ? f.qnan : randomValue(f)]);
  return out;
}

function comparePairs(f) {
  const out = [];
  const core = [0n, f.sign, f.one, neg(f, f.one), f.inf, neg(f, f.inf), f.qnan, f.inf | 1n, neg(f, f.qnan), pack(f, 0, 0, 1n)];
  for (const a of core) for (const b of core) out.push([a, b]);
  const sp = specials(f);
  for (const a of sp) for (const b of sp) if (randInt(2) === 0) out.push([a, b]);
  for (let i = 0; i < 150; i++) { const a = randomValue(f); out.push([a, randInt(3) ? randomValue(f) : a + BigInt(randInt(3)) - 1n]); }
  return out;
}

// Floats around the integer limits (2^31, 2^32, 2^63, 2^64), halves, -1, -0.5, NaN, inf.
function toIntInputs(f) {
  const out = specials(f).map((a) => [a]);
  const anchors = [0.5, 1, 1.5, 2.5, 3.5, 0.25, 0.75, 2 ** 31, 2 ** 32, 2 ** 63, 2 ** 64, 2 ** 30, 2 ** 52, 2 ** 53, 2 ** 23, 2 ** 24];
  for (const x of anchors) {
    for (const s of [1, -1]) {
      const b = numBits(f, s * x);
      for (let d = -3n; d <= 3n; d++) out.push([b + d]);
    }
  }
  for (const x of [2 ** 31 - 0.5, 2 ** 31 + 0.5, 2 ** 32 - 0.5, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 31 - 1.5, 2 ** 32 - 1.5]) {
    for (const s of [1, -1]) out.push([numBits(f, s * x)]);
  }
  for (let i = 0; i < 120; i++) out.push([pack(f, randInt(2), f.bias - 2 + randInt(70), randBits(f.fracBits))]);
  for (let i = 0; i < 30; i++) out.push([randomValue(f)]);
  return out;
}

// Integers whose magnitude sits at the precision limits (2^24, 2^53) and the type limits,
// with garbage in bits 63:32 for the w/wu forms (only the low word may be used).
function fromIntInputs(wide) {
  const out = [];
  const base = [0n, 1n, M64, 2n ** 31n, 2n ** 31n - 1n, 2n ** 32n - 1n, 2n ** 63n, 2n ** 63n - 1n, 2n ** 63n + 1n, 2n ** 24n + 1n, 2n ** 53n + 1n, 2n ** 25n + 3n, 2n ** 54n + 2n, 2n ** 54n + 6n, 0x7fffff80n, 0x7fffffc0n, 0xffffff80n, 0xffffffffffffe800n, 0xfffffffffffff800n, 0xfffffffffffffc00n];
  for (const x of base) { out.push([x], [(-x) & M64], [(x + 1n) & M64], [(x - 1n) & M64]); }
  for (let i = 0; i < 120; i++) {
    const w = 1 + randInt(wide ? 64 : 32);
    let x = randBits(w) | (1n << BigInt(w - 1));
    if (randInt(2)) x = (-x) & M64;
    if (!wide && randInt(2)) x = (x & 0xffffffffn) | (randBits(32) << 32n);
    out.push([x]);
  }
  return out;
}

function convInputs(from) {
  const out = specials(from).map((a) => [a]);
  for (let i = 0; i < 250; i++) out.push([randomValue(from)]);
  if (from === F64) {
    for (let i = 0; i < 200; i++) { // around f32's subnormal, normal and overflow limits
      const e = pick([1023 - 126, 1023 - 127, 1023 - 149, 1023 - 150, 1023 - 140, 1023 + 127, 1023 + 128, 1023 - 126 + randInt(3)]);
      out.push([pack(F64, randInt(2), e, randInt(2) ? randBits(52) : (randBits(3) << 49n) | (randInt(2) ? 1n << 28n : 0n) | BigInt(randInt(2)))]);
    }
  }
  return out;
}

// ---- the operation table (codes shared with oracle.c) ----
const RM_ALL = [0, 1, 2, 3, 4];
const ops = [];
for (const f of [F32, F64]) {
  const base = f === F32 ? 0 : 32, o = f.name;
  const fl = { fmt: f, res: f.width / 4 };
  ops.push({ name: `${o}_add`, code: base + 0, gen: () => addPairs(f), rms: RM_ALL, ...fl });
  ops.push({ name: `${o}_sub`, code: base + 1, gen: () => addPairs(f), rms: RM_ALL, ...fl });
  ops.push({ name: `${o}_mul`, code: base + 2, gen: () => mulPairs(f), rms: RM_ALL, ...fl });
  ops.push({ name: `${o}_div`, code: base + 3, gen: () => divPairs(f), rms: RM_ALL, ...fl });
  ops.push({ name: `${o}_sqrt`, code: base + 4, gen: () => sqrtInputs(f), rms: RM_ALL, ...fl });
  ['fmadd', 'fmsub', 'fnmsub', 'fnmadd'].forEach((n, i) => ops.push({ name: `${o}_${n}`, code: base + 5 + i, gen: () => fmaTriples(f), rms: RM_ALL, ...fl }));
  ops.push({ name: `${o}_min`, code: base + 9, gen: () => comparePairs(f), rms: [0], ...fl });
  ops.push({ name: `${o}_max`, code: base + 10, gen: () => comparePairs(f), rms: [0], ...fl });
  for (const [n, c] of [['eq', 11], ['lt', 12], ['le', 13]]) ops.push({ name: `${o}_${n}`, code: base + c, gen: () => comparePairs(f), rms: [0], fmt: f, res: 0 });
  ops.push({ name: `${o}_class`, code: base + 14, gen: () => specials(f).concat(Array.from({ length: 60 }, () => randomValue(f))).map((a) => [a]), rms: [0], fmt: f, res: 0 });
  for (const [n, c] of [['i32', 15], ['u32', 16], ['i64', 17], ['u64', 18]]) ops.push({ name: `${o}_to_${n}`, code: base + c, gen: () => toIntInputs(f), rms: RM_ALL, fmt: f, res: 16 });
  for (const [n, c] of [['i32', 19], ['u32', 20], ['i64', 21], ['u64', 22]]) ops.push({ name: `${n}_to_${o}`, code: base + c, gen: () => fromIntInputs(n.endsWith('64')), rms: RM_ALL, fmt: { width: 64 }, res: f.width / 4 });
}
ops.push({ name: 'f32_to_f64', code: 23, gen: () => convInputs(F32), rms: [0], fmt: F32, res: 16 });
ops.push({ name: 'f64_to_f32', code: 55, gen: () => convInputs(F64), rms: RM_ALL, fmt: F64, res: 8 });

// ---- run the oracle ----
function buildOracle(dir) {
  const elf = join(dir, 'oracle.elf');
  execFileSync('riscv64-unknown-elf-gcc', [
    '-march=rv64gc', '-mabi=lp64d', '-mcmodel=medany', '-O2', '-ffreestanding', '-nostdlib', '-nostartfiles',
    '-T', join(oracleDir, 'link.ld'), '-o', elf, join(oracleDir, 'start.S'), join(oracleDir, 'oracle.c'),
  ], { stdio: 'inherit' });
  return elf;
}

function runOracle(dir, elf, records) {
  const bin = Buffer.alloc(8 + records.length * 32);
  bin.writeBigUInt64LE(BigInt(records.length), 0);
  records.forEach((r, i) => {
    const o = 8 + i * 32;
    bin.writeUInt32LE(r.code, o); bin.writeUInt32LE(r.rm, o + 4);
    bin.writeBigUInt64LE(r.args[0] ?? 0n, o + 8); bin.writeBigUInt64LE(r.args[1] ?? 0n, o + 16); bin.writeBigUInt64LE(r.args[2] ?? 0n, o + 24);
  });
  const vec = join(dir, 'vec.bin');
  writeFileSync(vec, bin);
  const out = execFileSync('qemu-system-riscv64', [
    '-M', 'virt', '-bios', 'none', '-nographic', '-m', '256M', '-kernel', elf,
    '-device', `loader,file=${vec},addr=0x${VEC_BASE.toString(16)}`,
  ], { maxBuffer: 1 << 28, timeout: 600_000 }).toString();
  const lines = out.split('\n').filter((l) => /^[0-9a-f]{16} [0-9a-f]{2}$/.test(l.trim()));
  if (lines.length !== records.length) throw new Error(`oracle printed ${lines.length} results for ${records.length} vectors`);
  lines.forEach((l, i) => { const [r, fl] = l.trim().split(' '); records[i].result = BigInt('0x' + r); records[i].flags = parseInt(fl, 16); });
}

const hex = (x, digits) => x.toString(16).padStart(digits, '0');
const qemuVersion = execFileSync('qemu-system-riscv64', ['--version']).toString().split('\n')[0];
const dir = mkdtempSync(join(tmpdir(), 'fpu-oracle-'));
try {
  const elf = buildOracle(dir);
  const records = [];
  for (const op of ops) {
    for (const args of op.gen()) {
      for (const rm of op.rms) records.push({ op, code: op.code, rm, args: args.map((a) => a & M64) });
    }
  }
  runOracle(dir, elf, records);
  for (const f of readdirSync(outDir)) if (f.endsWith('.txt')) unlinkSync(join(outDir, f));
  // One line per input: the operands, then (result, fflags) for each rounding mode the
  // operation is run in, so operands are not repeated five times.
  let total = 0;
  for (const op of ops) {
    const mine = records.filter((r) => r.op === op);
    const argDigits = op.fmt.width / 4;
    const argMask = (1n << BigInt(op.fmt.width)) - 1n;
    const lines = [
      `# ${op.name}: oracle ${qemuVersion}, RISC-V TCG; generated by scripts/gen-fpu-vectors.mjs`,
      `# operand... then "result fflags" for rm = ${op.rms.join(',')} (0 RNE 1 RTZ 2 RDN 3 RUP 4 RMM); hex; fflags NV=10 DZ=08 OF=04 UF=02 NX=01`,
    ];
    for (let i = 0; i < mine.length; i += op.rms.length) {
      const group = mine.slice(i, i + op.rms.length);
      const operands = group[0].args.map((a) => hex(a & argMask, argDigits));
      const results = group.map((r) => `${hex(op.res === 8 ? r.result & 0xffffffffn : r.result, op.res)} ${hex(BigInt(r.flags), 2)}`);
      lines.push([...operands, ...results].join(' '));
    }
    writeFileSync(join(outDir, `${op.name}.txt`), lines.join('\n') + '\n');
    total += mine.length;
  }
  console.log(`wrote ${total} vectors for ${ops.length} operations to ${outDir}`);
  // Second opinion on the arithmetic and int->float vectors from the host's x86-64
  // hardware (oracle/crosscheck.c), when this is an x86-64 host with a C compiler.
  if (process.arch === 'x64') {
    const cross = join(dir, 'crosscheck');
    execFileSync('cc', ['-O0', '-mfma', '-frounding-math', '-o', cross, join(oracleDir, 'crosscheck.c'), '-lm'], { stdio: 'inherit' });
    execFileSync(cross, [outDir], { stdio: 'inherit' });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
