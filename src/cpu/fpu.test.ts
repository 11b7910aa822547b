// Runs the FPU (build/fpu-test.wasm) against the oracle vectors in test/vectors/fpu/,
// recorded from real RISC-V F/D instructions under QEMU (scripts/gen-fpu-vectors.mjs).
// Every vector checks the result bits and the fflags exactly, once with the fast paths
// and once with everything forced through the integer path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

// dist/src/cpu/fpu.test.js -> repository root
const root = fileURLToPath(new URL('../../../', import.meta.url));
const vectorDir = join(root, 'test/vectors/fpu');

type Export = (...args: Array<number | bigint>) => number | bigint;
interface FpuExports {
  [name: string]: unknown;
  clearFpFlags(): void;
  getFpFlags(): number;
  setFpuFastPaths(on: number): void;
}

function loadFpu(): FpuExports {
  const bytes = readFileSync(join(root, 'build/fpu-test.wasm'));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const module = new WebAssembly.Module(bytes);
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as FpuExports;
}

const FMA_OPS: Record<string, number> = { fmadd: 0, fmsub: 1, fnmsub: 2, fnmadd: 3 };
const NO_RM = /_(min|max|eq|lt|le|class)$|^f32_to_f64$/;

interface Vector { line: number; rm: number; args: bigint[]; result: bigint; flags: number }

// A line holds the operands, then "result fflags" for each rounding mode listed in the
// header ("for rm = 0,1,2,3,4"); each pair is one vector.
function readVectors(file: string): Vector[] {
  const text = readFileSync(join(vectorDir, file), 'utf8');
  const header = /for rm = ([0-9,]+)/.exec(text);
  assert.ok(header, `${file}: header names the rounding modes`);
  const modes = header[1].split(',').map(Number);
  const out: Vector[] = [];
  text.split('\n').forEach((row, i) => {
    if (row === '' || row.startsWith('#')) return;
    const f = row.split(' ').map((h) => BigInt('0x' + h));
    const nArgs = f.length - 2 * modes.length;
    assert.ok(nArgs >= 1 && nArgs <= 3, `${file}:${i + 1}: malformed line`);
    modes.forEach((rm, m) => {
      out.push({ line: i + 1, rm, args: f.slice(0, nArgs), result: f[nArgs + 2 * m], flags: Number(f[nArgs + 2 * m + 1]) });
    });
  });
  return out;
}

// Binds a vector file name (e.g. f32_fnmadd, u64_to_f32) to a call of the contract
// function with the right JS types: u32 parameters are numbers, u64 ones BigInts.
function binder(fpu: FpuExports, name: string): (v: Vector) => bigint {
  const fma = /^(f32|f64)_(fmadd|fmsub|fnmsub|fnmadd)$/.exec(name);
  const fnName = fma ? `${fma[1]}_fma` : name;
  const fn = fpu[fnName] as Export | undefined;
  assert.equal(typeof fn, 'function', `fpu-test.wasm exports ${fnName}`);
  const narrow = name.startsWith('f32_'); // operands are binary32 (u32), else u64
  const toArg = (x: bigint): number | bigint => (narrow ? Number(x) : x);
  const normalize = (r: number | bigint): bigint =>
    typeof r === 'bigint' ? BigInt.asUintN(64, r) : BigInt(r >>> 0);
  if (fma) return (v) => normalize(fn!(...v.args.map(toArg), v.rm, FMA_OPS[fma[2]]));
  if (NO_RM.test(name)) return (v) => normalize(fn!(...v.args.map(toArg)));
  return (v) => normalize(fn!(...v.args.map(toArg), v.rm));
}

const hex = (x: bigint): string => '0x' + x.toString(16);

function runFile(fpu: FpuExports, file: string, fast: boolean): void {
  const name = file.replace(/\.txt$/, '');
  const call = binder(fpu, name);
  const vectors = readVectors(file);
  assert.ok(vectors.length >= 50, `${file} holds ${vectors.length} vectors`);
  fpu.setFpuFastPaths(fast ? 1 : 0);
  const failures: string[] = [];
  for (const v of vectors) {
    fpu.clearFpFlags();
    const got = call(v);
    const flags = fpu.getFpFlags();
    if (got !== v.result || flags !== v.flags) {
      failures.push(`${file}:${v.line} rm=${v.rm} args=${v.args.map(hex).join(',')}: ` +
        `got ${hex(got)} flags ${flags.toString(16)}, want ${hex(v.result)} flags ${v.flags.toString(16)}`);
    }
  }
  fpu.setFpuFastPaths(1);
  assert.equal(failures.length, 0, `${failures.length}/${vectors.length} mismatches:\n` + failures.slice(0, 25).join('\n'));
}

const fpu = loadFpu();
const files = readdirSync(vectorDir).filter((f) => f.endsWith('.txt')).sort();

test('every FPU contract function has oracle vectors', () => {
  const covered = new Set(files.map((f) => f.replace(/\.txt$/, '').replace(/_(fmadd|fmsub|fnmsub|fnmadd)$/, '_fma')));
  const contract = Object.keys(fpu).filter((k) => /^(f32|f64|i32|u32|i64|u64)_/.test(k) && typeof fpu[k] === 'function');
  assert.ok(contract.length >= 40, `found ${contract.length} contract functions`);
  for (const fn of contract) assert.ok(covered.has(fn), `no vectors for ${fn}`);
});

for (const file of files) {
  test(`${file.replace(/\.txt$/, '')} matches the oracle (fast paths)`, () => runFile(fpu, file, true));
  test(`${file.replace(/\.txt$/, '')} matches the oracle (integer path only)`, () => runFile(fpu, file, false));
}

// ---- fast paths against the integer path, on many random operands ----
// The oracle vectors pin the integer path down; this checks that every fast path agrees
// with it bit for bit (result and flags) far beyond the vectors, with a fixed seed.

let prng = 0x9e3779b9;
function rand32(): number { // mulberry32
  prng = (prng + 0x6d2b79f5) | 0;
  let t = Math.imul(prng ^ (prng >>> 15), 1 | prng);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return (t ^ (t >>> 14)) >>> 0;
}
const randBelow = (n: number): number => rand32() % n;
function randBits(width: 32 | 64): bigint {
  const lo = BigInt(rand32());
  return width === 32 ? lo : (BigInt(rand32()) << 32n) | lo;
}

interface Format { width: 32 | 64; fracBits: number; maxExp: number; bias: number }
const B32: Format = { width: 32, fracBits: 23, maxExp: 255, bias: 127 };
const B64: Format = { width: 64, fracBits: 52, maxExp: 2047, bias: 1023 };

function packBits(f: Format, negative: boolean, exp: number, frac: bigint): bigint {
  const sign = negative ? 1n << BigInt(f.width - 1) : 0n;
  return sign | (BigInt(exp) << BigInt(f.fracBits)) | (frac & ((1n << BigInt(f.fracBits)) - 1n));
}

function randomOperand(f: Format): bigint {
  const neg = randBelow(2) === 1;
  const frac = randBits(f.width) & ((1n << BigInt(f.fracBits)) - 1n);
  switch (randBelow(10)) {
    case 0: return randBits(f.width);
    case 1: return packBits(f, neg, randBelow(f.maxExp + 1), frac);
    case 2: return packBits(f, neg, randBelow(40), frac); // subnormal and just above
    case 3: return packBits(f, neg, f.maxExp - 1 - randBelow(40), frac); // near overflow
    case 4: return packBits(f, neg, f.bias - 10 + randBelow(20), frac >> BigInt(f.fracBits - randBelow(6)) << BigInt(f.fracBits - 6)); // few bits
    default: return packBits(f, neg, f.bias - 60 + randBelow(120), frac);
  }
}

// Operands that make the result land where fast paths must step aside: cancellation,
// exact results, tiny results.
const view = new DataView(new ArrayBuffer(8));
function toNumber(f: Format, bits: bigint): number {
  if (f.width === 64) { view.setBigUint64(0, bits); return view.getFloat64(0); }
  view.setUint32(0, Number(bits)); return view.getFloat32(0);
}
function toBits(f: Format, x: number): bigint {
  if (f.width === 64) { view.setFloat64(0, x); return view.getBigUint64(0); }
  view.setFloat32(0, x); return BigInt(view.getUint32(0));
}
function nearNegation(f: Format, x: number): bigint {
  const mask = (1n << BigInt(f.width)) - 1n;
  return (toBits(f, -x) + BigInt(randBelow(5)) - 2n) & mask;
}

function randomOperands(f: Format, arity: number, fused: boolean): bigint[] {
  const ops = Array.from({ length: arity }, () => randomOperand(f));
  const n = (b: bigint): number => toNumber(f, b);
  if (arity >= 2 && randBelow(4) === 0) { // cancellation
    if (fused) ops[2] = nearNegation(f, n(ops[0]) * n(ops[1]));
    else ops[1] = nearNegation(f, n(ops[0]));
  }
  return ops;
}

const FAST_PATH_OPS: Array<[string, number, Format, number?]> = [
  ['f64_add', 2, B64], ['f64_sub', 2, B64], ['f64_mul', 2, B64], ['f64_div', 2, B64], ['f64_sqrt', 1, B64],
  ['f64_fma', 3, B64, 0], ['f64_fma', 3, B64, 1], ['f64_fma', 3, B64, 2], ['f64_fma', 3, B64, 3],
  ['f32_add', 2, B32], ['f32_sub', 2, B32], ['f32_mul', 2, B32], ['f32_div', 2, B32], ['f32_sqrt', 1, B32],
  ['f32_fma', 3, B32, 0], ['f32_fma', 3, B32, 1], ['f32_fma', 3, B32, 2], ['f32_fma', 3, B32, 3],
  ['f64_to_f32', 1, B64],
];

test('fast paths agree with the integer path on random operands', () => {
  const failures: string[] = [];
  let count = 0;
  for (const [name, arity, f, fmaOp] of FAST_PATH_OPS) {
    const fn = fpu[name] as Export;
    const toArg = (x: bigint): number | bigint => (f.width === 32 ? Number(x) : x);
    for (let i = 0; i < 3000; i++) {
      const args = randomOperands(f, arity, fmaOp !== undefined).map(toArg);
      for (let rm = 0; rm <= 4; rm++) {
        const call = (): string => {
          fpu.clearFpFlags();
          const extra = fmaOp === undefined ? [rm] : [rm, fmaOp];
          const r = fn(...args, ...extra);
          return `${typeof r === 'bigint' ? BigInt.asUintN(64, r).toString(16) : (r >>> 0).toString(16)}/${fpu.getFpFlags().toString(16)}`;
        };
        fpu.setFpuFastPaths(1);
        const fast = call();
        fpu.setFpuFastPaths(0);
        const slow = call();
        count++;
        if (fast !== slow) failures.push(`${name}${fmaOp ?? ''} rm=${rm} (${args.map((a) => a.toString(16)).join(', ')}): fast ${fast}, integer ${slow}`);
      }
    }
  }
  fpu.setFpuFastPaths(1);
  assert.ok(count >= 250_000);
  assert.equal(failures.length, 0, `${failures.length}/${count} disagree:\n${failures.slice(0, 25).join('\n')}`);
});
