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
