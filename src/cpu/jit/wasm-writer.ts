// A small WebAssembly binary writer: just what the translator emits (WebAssembly core
// specification 2.0, chapter 5 "Binary Format"). Node-free.

/** Value types (5.3.1). */
export const I32 = 0x7f;
export const I64 = 0x7e;
export type ValType = typeof I32 | typeof I64;

/** The opcodes the translator uses (5.4). */
export const Op = {
  unreachable: 0x00, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b,
  br: 0x0c, br_if: 0x0d, br_table: 0x0e, return: 0x0f, call: 0x10, drop: 0x1a, select: 0x1b,
  local_get: 0x20, local_set: 0x21, local_tee: 0x22, global_get: 0x23, global_set: 0x24,
  i32_load: 0x28, i64_load: 0x29,
  i64_load8_s: 0x30, i64_load8_u: 0x31, i64_load16_s: 0x32, i64_load16_u: 0x33,
  i64_load32_s: 0x34, i64_load32_u: 0x35,
  i64_store: 0x37, i64_store8: 0x3c, i64_store16: 0x3d, i64_store32: 0x3e,
  i32_const: 0x41, i64_const: 0x42,
  i32_eqz: 0x45, i32_eq: 0x46, i32_ne: 0x47, i32_lt_s: 0x48, i32_lt_u: 0x49, i32_gt_s: 0x4a,
  i32_gt_u: 0x4b, i32_le_s: 0x4c, i32_le_u: 0x4d, i32_ge_s: 0x4e, i32_ge_u: 0x4f,
  i64_eqz: 0x50, i64_eq: 0x51, i64_ne: 0x52, i64_lt_s: 0x53, i64_lt_u: 0x54, i64_gt_s: 0x55,
  i64_gt_u: 0x56, i64_le_s: 0x57, i64_le_u: 0x58, i64_ge_s: 0x59, i64_ge_u: 0x5a,
  i32_add: 0x6a, i32_sub: 0x6b, i32_mul: 0x6c, i32_div_s: 0x6d, i32_div_u: 0x6e, i32_rem_s: 0x6f,
  i32_rem_u: 0x70, i32_and: 0x71, i32_or: 0x72, i32_xor: 0x73, i32_shl: 0x74, i32_shr_s: 0x75,
  i32_shr_u: 0x76,
  i64_add: 0x7c, i64_sub: 0x7d, i64_mul: 0x7e, i64_div_s: 0x7f, i64_div_u: 0x80, i64_rem_s: 0x81,
  i64_rem_u: 0x82, i64_and: 0x83, i64_or: 0x84, i64_xor: 0x85, i64_shl: 0x86, i64_shr_s: 0x87,
  i64_shr_u: 0x88,
  i32_wrap_i64: 0xa7, i64_extend_i32_s: 0xac, i64_extend_i32_u: 0xad,
} as const;

/** Block type of a structured instruction without a result (5.3.5). */
export const VOID = 0x40;

/** A growable byte buffer with LEB128 encoders. */
export class Bytes {
  private buf: Uint8Array<ArrayBuffer> = new Uint8Array(256);
  length = 0;

  byte(b: number): this {
    if (this.length === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = b;
    return this;
  }
  bytes(bs: ArrayLike<number>): this { for (let i = 0; i < bs.length; i++) this.byte(bs[i]); return this; }
  /** Unsigned LEB128 of a number below 2^32. */
  u32(v: number): this {
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
    return this;
  }
  /** Signed LEB128 of a 32-bit integer. */
  s32(v: number): this {
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) { this.byte(b); return this; }
      this.byte(b | 0x80);
    }
  }
  /** Signed LEB128 of a 64-bit integer (any bigint, taken modulo 2^64). */
  s64(v: bigint): this {
    v = BigInt.asIntN(64, v);
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) { this.byte(b); return this; }
      this.byte(b | 0x80);
    }
  }
  name(s: string): this { const e = new TextEncoder().encode(s); return this.u32(e.length).bytes(e); }
  /** A length-prefixed copy of another buffer. */
  sized(b: Bytes): this { this.u32(b.length); return this.bytes(b.view()); }
  view(): Uint8Array<ArrayBuffer> { return this.buf.subarray(0, this.length); }
}

export interface FuncImport { module: string; name: string; params: ValType[]; results: ValType[] }
export interface GlobalImport { module: string; name: string; type: ValType; mutable: boolean }

/** A defined function of a module. */
export interface FuncDef { params: ValType[]; results: ValType[]; locals: ValType[]; body: Bytes; exportName: string }

/**
 * A module of imports (a shared memory, globals, functions) and exported functions.
 * Function indices: the imported functions in order, then the defined ones.
 */
export function writeModule(opts: {
  memory: { module: string; name: string; maximum: number };
  globals: GlobalImport[];
  funcs: FuncImport[];
  fns: FuncDef[];
}): Uint8Array<ArrayBuffer> {
  const types: string[] = [];
  const typeIndex = (params: ValType[], results: ValType[]): number => {
    const key = params.join(',') + '>' + results.join(',');
    let i = types.indexOf(key);
    if (i < 0) { i = types.length; types.push(key); }
    return i;
  };
  const importTypes = opts.funcs.map((f) => typeIndex(f.params, f.results));
  const fnTypes = opts.fns.map((f) => typeIndex(f.params, f.results));

  const out = new Bytes().bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const section = (id: number, body: Bytes) => { out.byte(id).sized(body); };

  const typeSec = new Bytes().u32(types.length);
  for (const key of types) {
    const [p, r] = key.split('>').map((s) => (s ? s.split(',').map(Number) : []));
    typeSec.byte(0x60).u32(p.length).bytes(p).u32(r.length).bytes(r);
  }
  section(1, typeSec);

  const imports = new Bytes().u32(1 + opts.globals.length + opts.funcs.length);
  // Shared memory: limits flag 0x03 = maximum present, shared (threads proposal).
  imports.name(opts.memory.module).name(opts.memory.name).byte(0x02).byte(0x03).u32(0).u32(opts.memory.maximum);
  for (const g of opts.globals) imports.name(g.module).name(g.name).byte(0x03).byte(g.type).byte(g.mutable ? 1 : 0);
  opts.funcs.forEach((f, i) => imports.name(f.module).name(f.name).byte(0x00).u32(importTypes[i]));
  section(2, imports);

  const funcSec = new Bytes().u32(opts.fns.length);
  for (const t of fnTypes) funcSec.u32(t);
  section(3, funcSec);
  const exportSec = new Bytes().u32(opts.fns.length);
  opts.fns.forEach((f, i) => exportSec.name(f.exportName).byte(0x00).u32(opts.funcs.length + i));
  section(7, exportSec);

  const codeSec = new Bytes().u32(opts.fns.length);
  for (const f of opts.fns) {
    // Locals are declared in runs of one type (5.5.13).
    const runs: [number, ValType][] = [];
    for (const t of f.locals) {
      if (runs.length && runs[runs.length - 1][1] === t) runs[runs.length - 1][0]++;
      else runs.push([1, t]);
    }
    const fnBody = new Bytes().u32(runs.length);
    for (const [count, t] of runs) fnBody.u32(count).byte(t);
    fnBody.bytes(f.body.view()).byte(Op.end);
    codeSec.sized(fnBody);
  }
  section(10, codeSec);
  return out.view().slice();
}
