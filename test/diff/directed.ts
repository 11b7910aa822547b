// Directed test programs: edge cases enumerated rather than sampled. Each case computes
// something and stores its results (and, for FP, the exception flags it raised) to
// consecutive SCRATCH words through x31, so a mismatch names the case by its address.
//
// Register use inside cases: x31 result pointer, x30 flags, x5..x7 and f1..f4 operands
// and results, x8 address base. Everything else keeps its random initial value.

import * as A from './assembler.js';
import * as E from './encoder.js';
import type { Item } from './assembler.js';
import type { Fmt, IntKind } from './encoder.js';
import { initialState } from './generator.js';
import { li } from './macros.js';
import { PAGE_PAD, SCRATCH, SCRATCH_SIZE } from './program.js';
import type { ProgramSpec, Step } from './program.js';
import { Rng } from './rng.js';
import { box, sext32, u64 } from './values.js';

const i = A.insn;
const RES = 31;
const FLAGS = 30;
const WORDS_PER_PROGRAM = SCRATCH_SIZE / 8;
const ALL_RM = [0, 1, 2, 3, 4];

/**
 * One directed case: its items store `words` doublewords at 0(x31).. and advance x31.
 * Each stored word gets a label naming the instruction that produced it and the operand
 * values it saw, so a mismatch report reads "fdiv.s f3, f1, f2, rne [f1=…, f2=…] → f3".
 */
class Case {
  readonly items: Item[] = [];
  readonly labels: string[] = [];
  private readonly known = new Map<string, bigint>();
  private desc = '';
  /** Bytes x31 was already advanced by inside the case (loops store through it). */
  private moved = 0;
  constructor(readonly title: string) {}
  get words(): number { return this.labels.length; }

  /** Adds items; the last plain instruction becomes the description of the next stores. */
  add(...its: Item[]): this {
    for (const it of its) {
      this.items.push(it);
      if (it.kind !== 'insn') continue;
      const text = it.insn.text;
      const ops = text.slice(text.indexOf(' ') + 1).split(/[ ,()]+/).filter((t) => /^[xf]\d+$/.test(t));
      const vals = ops.slice(1).filter((r, k, a) => a.indexOf(r) === k && this.known.has(r))
        .map((r) => `${r}=${h(this.known.get(r)!)}`);
      this.desc = vals.length ? `${text} [${vals.join(' ')}]` : text;
      if (ops[0] && !/^(s[bhwd]|fs[wd]|c\.f?s)/.test(text)) this.known.delete(ops[0]);
    }
    return this;
  }
  /** Sets the description of the next stores. */
  as(text: string): this { this.desc = text; return this; }
  /** Appends context the registers do not show (e.g. the memory operand). */
  note(text: string): this { this.desc += ` ${text}`; return this; }
  li(rd: number, v: bigint): this { this.items.push(...li(rd, v)); this.known.set(`x${rd}`, u64(v)); return this; }
  /** f register fd = 64-bit pattern v (through x5). */
  lf(fd: number, v: bigint): this {
    this.li(5, v).items.push(i(E.fmvFX('D', fd, 5)));
    this.known.set(`f${fd}`, v);
    return this;
  }
  private store(item: Item, label: string): this { this.items.push(item); this.labels.push(label); return this; }
  private get off(): number { return this.words * 8 - this.moved; }
  storeX(rs: number): this { return this.store(i(E.store('sd', rs, RES, this.off)), `${this.desc} → x${rs}`); }
  storeF(fs: number): this { return this.store(i(E.fstore('D', fs, RES, this.off)), `${this.desc} → f${fs}`); }
  /** Inside a loop of `n` iterations: stores the registers `rs` once per iteration. */
  loopStoreX(rs: readonly number[], n: number, label: (iteration: number, reg: number) => string): this {
    rs.forEach((r, k) => this.items.push(i(E.store('sd', r, RES, this.off + 8 * k))));
    this.items.push(i(E.aluImm('addi', RES, RES, 8 * rs.length)));
    for (let it = 1; it <= n; it++) for (const r of rs) this.labels.push(label(it, r));
    this.moved += 8 * rs.length * n;
    return this;
  }
  clearFlags(): this { this.items.push(i(E.csr('csrrwi', 0, E.CSR_FFLAGS, 0))); return this; }
  /** Reads and clears fflags, stores them. */
  storeFlags(): this {
    this.items.push(i(E.csr('csrrwi', FLAGS, E.CSR_FFLAGS, 0)));
    return this.store(i(E.store('sd', FLAGS, RES, this.off)), `${this.desc} → fflags`);
  }
  done(): Item[] {
    if (this.words > 255) throw new Error(`case ${this.title} stores too many words`);
    return [...this.items, i(E.aluImm('addi', RES, RES, this.off))];
  }
}

export interface DirectedProgram {
  readonly name: string;
  readonly spec: ProgramSpec;
  /** Titles of the cases, with the SCRATCH word where each one's results start. */
  readonly cases: readonly { title: string; word: number }[];
  /** What each SCRATCH word holds, by word index (results only). */
  readonly labels: readonly string[];
}

function nameSeed(name: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 0x01000193) >>> 0;
  return h;
}

/** Packs cases into as many programs as their results need. */
function pack(suite: string, cases: readonly Case[]): DirectedProgram[] {
  const out: DirectedProgram[] = [];
  let cur: Case[] = [];
  let words = 0;
  const flush = (): void => {
    if (cur.length === 0) return;
    const name = `${suite}-${out.length}`;
    const init = initialState(new Rng(nameSeed(name)));
    const body: Step[] = [{ items: [A.la(RES, SCRATCH)] }];
    const titles: { title: string; word: number }[] = [];
    const labels: string[] = [];
    for (const c of cur) { titles.push({ title: c.title, word: labels.length }); labels.push(...c.labels); body.push({ items: c.done() }); }
    out.push({ name, spec: { ...init, body }, cases: titles, labels });
    cur = [];
    words = 0;
  };
  for (const c of cases) {
    if (words + c.words > WORDS_PER_PROGRAM) flush();
    cur.push(c);
    words += c.words;
  }
  flush();
  return out;
}

const h = (v: bigint): string => '0x' + v.toString(16);

// ---- integer -------------------------------------------------------------------------

const INT_OPERANDS: readonly bigint[] = [
  0n, 1n, 2n, u64(-1n), u64(-2n), 7n, u64(-7n), 0x7fffffffffffffffn, 0x8000000000000000n,
  0x7fffffffn, 0x80000000n, 0xffffffffn, sext32(0x80000000n), 0x100000000n, 0xffffffff00000001n,
  0x123456789abcdef0n,
];

function mulDivCases(): Case[] {
  const ops = ['mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu', 'rem', 'remu',
    'mulw', 'divw', 'divuw', 'remw', 'remuw'] as const;
  const out: Case[] = [];
  for (const op of ops) {
    for (const a of INT_OPERANDS) {
      const c = new Case(`${op} ${h(a)}, {all operands}`).li(5, a);
      for (const b of INT_OPERANDS) c.li(6, b).add(i(E.aluReg(op, 7, 5, 6))).storeX(7);
      // rd aliasing a source
      c.li(6, a).add(i(E.aluReg(op, 6, 6, 5))).storeX(6);
      out.push(c);
    }
  }
  return out;
}

function shiftCases(): Case[] {
  const ops = ['sll', 'srl', 'sra', 'sllw', 'srlw', 'sraw'] as const;
  const amounts = [0n, 1n, 15n, 31n, 32n, 33n, 63n, 64n, 65n, u64(-1n), 0x7fffffffn, 0xffffffe1n];
  const values = [0x8000000000000001n, 0xfedcba9876543210n, 0x0000000080000000n, 0x7fffffffn, u64(-1n)];
  const out: Case[] = [];
  for (const op of ops) for (const v of values) {
    const c = new Case(`${op} ${h(v)}, {amounts}`).li(5, v);
    for (const s of amounts) c.li(6, s).add(i(E.aluReg(op, 7, 5, 6))).storeX(7);
    out.push(c);
  }
  const imm = [['slli', 64], ['srli', 64], ['srai', 64], ['slliw', 32], ['srliw', 32], ['sraiw', 32]] as const;
  for (const [op, n] of imm) for (const v of [0x8000000080000001n, 0xfedcba9876543210n]) {
    const c = new Case(`${op} ${h(v)}, 0..${n - 1}`).li(5, v);
    for (let s = 0; s < n; s++) c.add(i(E.shiftImm(op, 7, 5, s))).storeX(7);
    out.push(c);
  }
  return out;
}

function wordOpCases(): Case[] {
  // The W forms must sign-extend bit 31 of a 32-bit result and ignore the upper inputs.
  const ops = ['addw', 'subw', 'addiw', 'slt', 'sltu', 'slti', 'sltiu'] as const;
  const out: Case[] = [];
  for (const op of ops) {
    const c = new Case(`${op} {operands}`);
    for (const a of INT_OPERANDS) {
      c.li(5, a);
      if (op === 'addiw' || op === 'slti' || op === 'sltiu') {
        for (const imm of [0, 1, -1, 2047, -2048]) c.add(i(E.aluImm(op, 7, 5, imm))).storeX(7);
      } else {
        for (const b of [0n, 1n, u64(-1n), 0x7fffffffn, 0x80000000n, 0x8000000000000000n]) {
          c.li(6, b).add(i(E.aluReg(op, 7, 5, 6))).storeX(7);
        }
      }
    }
    out.push(c);
  }
  // li itself: every value the encoder's ladder can take, read back through a store.
  const lic = new Case('li ladder');
  for (const v of [...INT_OPERANDS, 0x7ffff800n, 0x7ffffffen, 0xfffffffff8000000n, 0x8000000000000fffn, 0x0000080000000800n]) {
    lic.li(7, v).storeX(7);
  }
  out.push(lic);
  return out;
}

// ---- floating point -------------------------------------------------------------------

const D_SPECIAL: readonly bigint[] = [
  0x0000000000000000n, 0x8000000000000000n, 0x3ff0000000000000n, 0xbff0000000000000n,
  0x7ff0000000000000n, 0xfff0000000000000n, 0x7ff8000000000000n, 0x7ff0000000000001n,
  0x0000000000000001n, 0x800fffffffffffffn, 0x7fefffffffffffffn, 0x0010000000000000n,
  0x4008000000000000n, 0x3fd5555555555555n,
];
const S_SPECIAL: readonly bigint[] = [
  0x00000000n, 0x80000000n, 0x3f800000n, 0xbf800000n, 0x7f800000n, 0xff800000n, 0x7fc00000n, 0x7f800001n,
  0x00000001n, 0x807fffffn, 0x7f7fffffn, 0x00800000n, 0x40400000n, 0x3eaaaaabn,
];
const special = (fmt: Fmt): readonly bigint[] => (fmt === 'S' ? S_SPECIAL.map(box) : D_SPECIAL);

function fpArithCases(): Case[] {
  const out: Case[] = [];
  for (const fmt of ['S', 'D'] as const) {
    const vals = special(fmt);
    for (const op of ['fadd', 'fsub', 'fmul', 'fdiv'] as const) for (const rm of [0, 2]) for (const a of vals) {
      const c = new Case(`${op}.${fmt.toLowerCase()} ${h(a)}, {specials}, rm=${rm}`).lf(1, a);
      for (const b of vals) c.lf(2, b).clearFlags().add(i(E.fpArith(op, fmt, 3, 1, 2, rm))).storeF(3).storeFlags();
      out.push(c);
    }
    for (const op of ['fmin', 'fmax', 'fsgnj', 'fsgnjn', 'fsgnjx'] as const) for (const a of vals) {
      const c = new Case(`${op}.${fmt.toLowerCase()} ${h(a)}, {specials}`).lf(1, a);
      for (const b of vals) c.lf(2, b).clearFlags().add(i(E.fpNorm(op, fmt, 3, 1, 2))).storeF(3).storeFlags();
      out.push(c);
    }
    for (const op of ['feq', 'flt', 'fle'] as const) for (const a of vals) {
      const c = new Case(`${op}.${fmt.toLowerCase()} ${h(a)}, {specials}`).lf(1, a);
      for (const b of vals) c.lf(2, b).clearFlags().add(i(E.fpCmp(op, fmt, 7, 1, 2))).storeX(7).storeFlags();
      out.push(c);
    }
    const sq = new Case(`fsqrt.${fmt.toLowerCase()} / fclass.${fmt.toLowerCase()} {specials}`);
    for (const a of vals) {
      sq.lf(1, a);
      for (const rm of ALL_RM) sq.clearFlags().add(i(E.fsqrt(fmt, 3, 1, rm))).storeF(3).storeFlags();
      sq.add(i(E.fclass(fmt, 7, 1))).storeX(7);
    }
    out.push(sq);
    // fused multiply-add: a deterministic sample of special triples, all four forms
    const r = new Rng(fmt === 'S' ? 11 : 12);
    for (let n = 0; n < 8; n++) {
      const c = new Case(`fma.${fmt.toLowerCase()} special triples #${n}`);
      for (let k = 0; k < 15; k++) {
        const [a, b, d] = [r.pick(vals), r.pick(vals), r.pick(vals)];
        c.lf(1, a).lf(2, b).lf(4, d);
        for (const op of ['fmadd', 'fmsub', 'fnmsub', 'fnmadd'] as const) {
          c.clearFlags().add(i(E.fma(op, fmt, 3, 1, 2, 4, r.pick(ALL_RM)))).storeF(3).storeFlags();
        }
      }
      out.push(c);
    }
  }
  return out;
}

/** Inputs at and around every integer conversion limit, with rounding-sensitive fractions. */
function cvtInputs(fmt: Fmt): bigint[] {
  const fromNumber = (x: number): bigint => {
    if (fmt === 'D') return new BigUint64Array(new Float64Array([x]).buffer)[0]!;
    return box(BigInt(new Uint32Array(new Float32Array([x]).buffer)[0]!));
  };
  const nums = [0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.9999, -0.9999, -1, 3.7,
    2 ** 31 - 1, 2 ** 31 - 0.5, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 31) - 0.5, 2 ** 32 - 1, 2 ** 32 - 0.5, 2 ** 32,
    2 ** 63, -(2 ** 63), 2 ** 64, 2 ** 62 + 2 ** 61, 1e30, -1e30, Infinity, -Infinity];
  const out = nums.map(fromNumber);
  // just below 2^63 and 2^64 (exact in each format), NaNs, a subnormal
  if (fmt === 'D') out.push(0x43dfffffffffffffn, 0x43efffffffffffffn, 0xc3e0000000000001n, 0x7ff8000000000000n, 0xfff0000000000001n, 0x8000000000000001n);
  else out.push(box(0x5effffffn), box(0x5f7fffffn), box(0xdf000001n), box(0x7fc00000n), box(0xff800001n), box(0x80000001n));
  return out;
}

function fcvtCases(): Case[] {
  const out: Case[] = [];
  const kinds: IntKind[] = ['w', 'wu', 'l', 'lu'];
  for (const fmt of ['S', 'D'] as const) for (const kind of kinds) for (const rm of ALL_RM) {
    const c = new Case(`fcvt.${kind}.${fmt.toLowerCase()} {limits}, rm=${rm}`);
    for (const v of cvtInputs(fmt)) c.lf(1, v).clearFlags().add(i(E.fcvtToInt(kind, fmt, 7, 1, rm))).storeX(7).storeFlags();
    out.push(c);
  }
  const ints = [0n, 1n, u64(-1n), 0x7fffffffn, 0x80000000n, 0xffffffffn, sext32(0x80000000n), 0x7fffffffffffffffn,
    0x8000000000000000n, 0x0000000001000001n, 0x0020000000000001n, 0xffffffff01000001n, 0x00000000ffffff81n,
    0x123456789abcdef1n, 0xfffffffffffffc01n];
  for (const fmt of ['S', 'D'] as const) for (const kind of kinds) {
    const c = new Case(`fcvt.${fmt.toLowerCase()}.${kind} {ints}, all rm`);
    for (const v of ints) {
      c.li(6, v);
      for (const rm of ALL_RM) c.clearFlags().add(i(E.fcvtFromInt(kind, fmt, 3, 6, rm))).storeF(3).storeFlags();
    }
    out.push(c);
  }
  for (const to of ['S', 'D'] as const) {
    const from = to === 'S' ? 'D' : 'S';
    const vals = [...special(from), ...(from === 'D'
      ? [0x47efffffe0000000n, 0x47efffffefffffffn, 0x47effffff0000000n, 0x36a0000000000000n, 0x3690000000000001n, 0x380fffffe0000000n, 0x380ffffff0000000n]
      : [box(0x00000003n), box(0x7fc00001n), box(0xffa00000n)])];
    const c = new Case(`fcvt.${to.toLowerCase()}.${from.toLowerCase()} {values}, all rm`);
    for (const v of vals) {
      c.lf(1, v);
      for (const rm of ALL_RM) c.clearFlags().add(i(E.fcvtFF(to, 3, 1, rm))).storeF(3).storeFlags();
    }
    out.push(c);
  }
  return out;
}

/** Single-precision operands that are not properly NaN-boxed read as the canonical NaN (§12.2). */
function nanBoxCases(): Case[] {
  const unboxed = [0x000000003f800000n, 0xfffffffe3f800000n, 0x7fffffff3f800000n, 0xffffffff7f800001n /* boxed sNaN */,
    0x3ff0000000000000n, 0xffffffff3f800000n /* boxed 1.0 */];
  const out: Case[] = [];
  const c = new Case('NaN-boxing of single operands');
  for (const v of unboxed) {
    c.lf(1, v).lf(2, box(0x40000000n)).clearFlags();
    c.add(i(E.fpArith('fadd', 'S', 3, 1, 2, 0))).storeF(3).storeFlags();
    c.add(i(E.fpNorm('fsgnj', 'S', 3, 1, 2))).storeF(3);
    c.add(i(E.fpNorm('fsgnjn', 'S', 3, 2, 1))).storeF(3);
    c.add(i(E.fpNorm('fsgnjx', 'S', 3, 1, 1))).storeF(3);
    c.add(i(E.fpNorm('fmin', 'S', 3, 1, 2))).storeF(3).storeFlags();
    c.add(i(E.fclass('S', 7, 1))).storeX(7);
    c.add(i(E.fmvXF('S', 7, 1))).storeX(7); // moves the low 32 bits whatever the boxing
    c.add(i(E.fpCmp('feq', 'S', 7, 1, 1))).storeX(7).storeFlags();
    c.add(i(E.fcvtFF('D', 3, 1, 0))).storeF(3).storeFlags();
    c.add(i(E.fcvtToInt('w', 'S', 7, 1, 1))).storeX(7).storeFlags();
    c.add(i(E.fma('fmadd', 'S', 3, 2, 2, 1, 0))).storeF(3).storeFlags();
    // fsw stores the low 32 bits unchanged; flw boxes what it loads
    c.add(A.la(8, SCRATCH + SCRATCH_SIZE - 8), i(E.fstore('S', 1, 8, 0)), i(E.load('ld', 7, 8, 0))).storeX(7);
    c.add(i(E.fload('S', 4, 8, 0))).storeF(4);
  }
  // fmv.w.x boxes; a double op on a boxed single sees a NaN bit pattern (no unboxing for D)
  for (const x of [0x3f800000n, 0xffffffff7f800001n, 0x12345678ff800000n]) {
    c.li(6, x).add(i(E.fmvFX('S', 3, 6))).storeF(3).clearFlags();
    c.add(i(E.fpArith('fadd', 'D', 4, 3, 3, 0))).storeF(4).storeFlags();
    c.add(i(E.fclass('D', 7, 3))).storeX(7);
    c.add(i(E.fmvXF('D', 7, 3))).storeX(7);
  }
  out.push(c);
  return out;
}

/** fcsr, frm and fflags as CSRs: field masking, the accrued-flag semantics, immediate forms. */
function csrCases(): Case[] {
  const c = new Case('fcsr/frm/fflags access');
  for (const v of [0n, 0xffn, 0x1ffn, u64(-1n), 0x25n, 0xe0n]) {
    c.li(6, v).add(i(E.csr('csrrw', 7, E.CSR_FCSR, 6))).add(i(E.csrr(7, E.CSR_FCSR))).storeX(7);
    c.add(i(E.csrr(7, E.CSR_FRM))).storeX(7).add(i(E.csrr(7, E.CSR_FFLAGS))).storeX(7);
    c.add(i(E.csr('csrrw', 7, E.CSR_FFLAGS, 6))).storeX(7).add(i(E.csrr(7, E.CSR_FCSR))).storeX(7);
    c.add(i(E.csr('csrrwi', 0, E.CSR_FRM, 0)));
  }
  for (const op of ['csrrsi', 'csrrci', 'csrrwi'] as const) for (const imm of [0, 1, 0x1f]) {
    c.add(i(E.csr(op, 7, E.CSR_FFLAGS, imm))).storeX(7).add(i(E.csr(op, 7, E.CSR_FCSR, imm))).storeX(7);
  }
  // frm changes take effect at once for dynamic rounding
  c.lf(1, 0x3ff0000000000001n).lf(2, 0x3ca0000000000000n);
  for (let rm = 0; rm < 5; rm++) {
    c.add(i(E.csr('csrrwi', 0, E.CSR_FRM, rm)), i(E.fpArith('fadd', 'D', 3, 1, 2, E.RM_DYN))).storeF(3);
    c.add(i(E.fpArith('fadd', 'S', 3, 1, 2, E.RM_DYN))).storeF(3);
  }
  c.add(i(E.csr('csrrwi', 0, E.CSR_FRM, 0))).storeFlags();
  return [c];
}

// ---- memory ---------------------------------------------------------------------------

/** SCRATCH starts a page; PAGE_PAD bytes below it may be written: accesses there touch two pages. */
const PAGE_IN_SCRATCH = SCRATCH;
if (PAGE_PAD < 8) throw new Error('directed.ts needs 8 writable bytes below SCRATCH');

function misalignedCases(): Case[] {
  const out: Case[] = [];
  const base = SCRATCH + 2048;
  for (const op of Object.keys(E.LOADS) as E.LoadOp[]) {
    for (const [where, b] of [['', base], [' across a page boundary', PAGE_IN_SCRATCH - 8]] as const) {
      const c = new Case(`${op} at offsets 0..15${where}`);
      c.add(A.la(8, b));
      for (let off = 0; off < 16; off++) c.add(i(E.load(op, 7, 8, off))).storeX(7);
      out.push(c);
    }
  }
  for (const op of ['sh', 'sw', 'sd'] as const) {
    const c = new Case(`${op} across a page boundary, read back`).add(A.la(8, PAGE_IN_SCRATCH - 8)).li(6, 0x0102030405060708n);
    for (let off = 1; off < 8; off++) {
      c.add(i(E.store('sd', 0, 8, 0)), i(E.store('sd', 0, 8, 8)));
      c.add(i(E.store(op, 6, 8, off)), i(E.load('ld', 7, 8, 0))).storeX(7).add(i(E.load('ld', 7, 8, 8))).storeX(7);
    }
    out.push(c);
  }
  for (const fmt of ['S', 'D'] as const) {
    const c = new Case(`${fmt === 'S' ? 'flw' : 'fld'} at offsets 0..15`).add(A.la(8, base));
    for (let off = 0; off < 16; off++) c.add(i(E.fload(fmt, 3, 8, off))).storeF(3);
    out.push(c);
  }
  for (const op of Object.keys(E.STORES) as E.StoreOp[]) {
    const c = new Case(`${op} at offsets 0..8, read back`);
    c.add(A.la(8, base + 64)).li(6, 0x0102030405060708n).li(5, 0xa1b2c3d4e5f60718n);
    for (let off = 0; off <= 8; off++) {
      c.add(i(E.store('sd', 0, 8, 0)), i(E.store('sd', 0, 8, 8)), i(E.store('sd', 0, 8, 16)));
      c.add(i(E.store(op, off % 2 ? 5 : 6, 8, off)), i(E.load('ld', 7, 8, 0))).storeX(7);
      c.add(i(E.load('ld', 7, 8, 8))).storeX(7);
    }
    out.push(c);
  }
  for (const fmt of ['S', 'D'] as const) {
    const c = new Case(`${fmt === 'S' ? 'fsw' : 'fsd'} at offsets 0..8, read back`).add(A.la(8, base + 96));
    c.lf(3, 0x0102030405060708n);
    for (let off = 0; off <= 8; off++) {
      c.add(i(E.store('sd', 0, 8, 0)), i(E.store('sd', 0, 8, 8)));
      c.add(i(E.fstore(fmt, 3, 8, off)), i(E.load('ld', 7, 8, 0))).storeX(7).add(i(E.load('ld', 7, 8, 8))).storeX(7);
    }
    out.push(c);
  }
  return out;
}

function atomicCases(): Case[] {
  const ops = ['amoadd', 'amoswap', 'amoxor', 'amoor', 'amoand', 'amomin', 'amomax', 'amominu', 'amomaxu'] as const;
  const vals = [0n, 1n, u64(-1n), 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x8000000000000000n, 0x7fffffffffffffffn,
    0x00000001ffffffffn];
  const out: Case[] = [];
  const slot = SCRATCH + SCRATCH_SIZE - 64;
  for (const w of [4, 8] as const) for (const op of ops) {
    const c = new Case(`${op}.${w === 4 ? 'w' : 'd'} {memory} x {operand}: rd, memory`).add(A.la(8, slot));
    for (const m of vals) for (const v of vals.slice(0, 6)) {
      c.li(6, m).add(i(E.store('sd', 6, 8, 0))).li(5, v);
      c.add(i(E.amo(op, w, 7, 8, 5))).note(`mem=${h(m)}`).storeX(7);
      c.add(i(E.load('ld', 7, 8, 0))).note(`after ${op}.${w === 4 ? 'w' : 'd'} mem=${h(m)} x5=${h(v)}`).storeX(7);
    }
    out.push(c);
  }
  const c = new Case('lr/sc sequences').add(A.la(8, slot)).li(6, 0xfedcba9876543210n).add(i(E.store('sd', 6, 8, 0)));
  for (const w of [4, 8] as const) {
    // success, value sign-extended by lr.w, stored by sc
    c.add(i(E.amo('lr', w, 7, 8, 0))).storeX(7).li(5, 0x80000001n).add(i(E.amo('sc', w, 7, 8, 5))).storeX(7);
    c.add(i(E.load('ld', 7, 8, 0))).storeX(7);
    // no reservation left: must fail and leave memory alone
    c.add(i(E.amo('sc', w, 7, 8, 6))).storeX(7).add(i(E.load('ld', 7, 8, 0))).storeX(7);
    // rd = rs2 on success
    c.add(i(E.amo('lr', w, 7, 8, 0)), i(E.amo('sc', w, 5, 8, 5))).storeX(5).add(i(E.load('ld', 7, 8, 0))).storeX(7);
  }
  out.push(c);
  return out;
}

// ---- control flow and instruction fetch ------------------------------------------------

function controlCases(): Case[] {
  const out: Case[] = [];
  {
    // The target is computed from rs1 before rd is written (§2.5).
    const c = new Case('jalr / c.jalr / c.jr with rd = rs1');
    const l1 = new A.Label(); const l2 = new A.Label(); const l3 = new A.Label();
    c.li(6, 0n);
    c.add(A.la(5, l1), i(E.jalr(5, 5, 0)), i(E.aluImm('addi', 6, 6, 1)), A.label(l1)).as('jalr x5, 0(x5) link').storeX(5);
    c.add(A.la(1, l2), i(E.cJalr(1)), i(E.aluImm('addi', 6, 6, 2)), A.label(l2)).as('c.jalr x1 link').storeX(1);
    c.add(A.la(9, l3), i(E.cJr(9)), i(E.aluImm('addi', 6, 6, 4)), A.label(l3)).as('c.jr x9').storeX(9);
    c.as('skipped instructions (must stay 0)').storeX(6);
    out.push(c);
  }
  {
    // 32-bit instructions whose two halves sit on different pages.
    const c = new Case('instructions across a page boundary');
    const tgt = new A.Label();
    c.add(A.padTo(4096, 4094), i(E.aluImm('addi', 7, 0, 0x123))).storeX(7);
    c.add(A.padTo(4096, 4094), i(E.lui(7, 0x12345))).storeX(7);
    c.li(6, 5n).add(A.padTo(4096, 4094), A.toLabel(4, tgt, (o) => E.branch('bne', 6, 0, o)), i(E.aluImm('addi', 6, 6, 1)), A.label(tgt))
      .as('bne across the boundary, taken (x6 must stay 5)').storeX(6);
    // a jump whose target instruction straddles the boundary
    const far = new A.Label();
    c.add(A.toLabel(4, far, (o) => E.jal(7, o)), A.padTo(4096, 4094), A.label(far), i(E.aluImm('addi', 6, 0, 77))).storeX(6);
    out.push(c);
  }
  {
    // Self-modifying code: an instruction executed, patched by a store, made visible with
    // fence.i (Zifencei), executed again. Covers decode caches keyed on the address.
    const c = new Case('self-modifying code with fence.i');
    const top = new A.Label(); const slot = new A.Label(); const cslot = new A.Label();
    const n = 5;
    c.li(7, 0n).li(11, 0n).li(9, BigInt(n)).li(10, 1n << 20n);
    c.add(A.label(top), A.label(slot), i(E.aluImm('addi', 7, 7, 1)), A.label(cslot), i(E.cAddi(11, 1)));
    c.loopStoreX([7, 11], n, (it, r) => (r === 7 ? `patched addi x7, x7, ${it}` : `patched c.addi x11, ${it}`) +
      `: running sum after iteration ${it} → x${r}`);
    c.add(A.la(8, slot), i(E.load('lw', 6, 8, 0)), i(E.aluReg('add', 6, 6, 10)), i(E.store('sw', 6, 8, 0)));
    c.add(A.la(8, cslot), i(E.load('lh', 6, 8, 0)), i(E.aluImm('addi', 6, 6, 4)), i(E.store('sh', 6, 8, 0)));
    c.add(i(E.fenceI()), i(E.aluImm('addi', 9, 9, -1)), A.toLabel(4, top, (o) => E.branch('bne', 9, 0, o)));
    out.push(c);
  }
  return out;
}

// ---- traps ----------------------------------------------------------------------------

/**
 * Instructions that must trap. Each case pre-loads x7 with a marker, runs the instruction
 * (which must not write its destination) and stores x7. The trap handler records mcause,
 * mtval and mepc. QEMU writes the instruction bits to mtval on an illegal instruction and
 * the address on a misaligned access; the privileged spec also allows zero (§3.1.16).
 */
function trapCases(): Case[] {
  const marker = 0x5a5a5a5a5a5a5a5an;
  const t = (title: string, ...its: Item[]): Case => new Case(title).li(7, marker).add(...its).storeX(7);
  const raw = (w: number): Item => i(E.raw32(w));
  const cases: Case[] = [
    t('all-zero parcel (defined illegal)', i(E.raw16(0x0000))),
    t('c.addi4spn x9, x2, 0 (reserved)', i(E.raw16(0x0004))),
    t('c.lui x7, 0 (reserved)', i(E.raw16(0x6001 | (7 << 7)))),
    t('c.addi16sp 0 (reserved)', i(E.raw16(0x6101))),
    t('c.lwsp x0 (reserved)', i(E.raw16(0x4002))),
    t('c.ldsp x0 (reserved)', i(E.raw16(0x6002))),
    t('c.jr x0 (reserved)', i(E.raw16(0x8002))),
    t('c.addiw x0 (reserved)', i(E.raw16(0x2001))),
    t('quadrant 0 funct3=100 (reserved)', i(E.raw16(0x8000))),
    t('fadd.h (Zfh not implemented)', raw(0x04000053 | (7 << 7))),
    t('fadd.q (Q not implemented)', raw(0x06000053 | (7 << 7))),
    t('fadd.s rm=5', raw(E.fpArith('fadd', 'S', 3, 1, 2, 5).word)),
    t('fadd.d rm=6', raw(E.fpArith('fadd', 'D', 3, 1, 2, 6).word)),
    t('fcvt.w.s rm=5 into x7', raw(E.fcvtToInt('w', 'S', 7, 1, 5).word)),
    t('fsgnj.s funct3=3 (reserved)', raw(0x20003053 | (3 << 7))),
    t('fmin.d funct3=2 (reserved)', raw(0x2a002053 | (3 << 7))),
    t('csrrwi x7, 0x0ff (no such CSR)', i(E.csr('csrrwi', 7, 0x0ff, 1))),
    t('csrrwi x0, mvendorid (read-only)', i(E.csr('csrrwi', 0, 0xf11, 0))),
    t('csrrs x7, mhartid, x5 (write to read-only, rs1 != x0)', i(E.csr('csrrs', 7, 0xf14, 5))),
    t('OP-V opcode (V not implemented)', raw(0x00000057 | (7 << 7))),
  ];
  const frm = (rm: number): Case => t(`fadd.d dyn with frm=${rm}`,
    i(E.csr('csrrwi', 0, E.CSR_FRM, rm)), i(E.fpArith('fadd', 'D', 3, 1, 2, E.RM_DYN)),
    i(E.csr('csrrwi', 0, E.CSR_FRM, 0)));
  const fsOff = (title: string, ...its: Item[]): Case => t(`${title} with mstatus.FS=Off`,
    i(E.lui(5, 6)), i(E.csr('csrrc', 0, E.CSR_MSTATUS, 5)), ...its, i(E.lui(5, 6)), i(E.csrs(E.CSR_MSTATUS, 5)));
  const env: Case[] = [
    t('ecall', i(E.ecall())),
    t('ebreak', i(E.ebreak())),
    t('c.ebreak', i(E.cEbreak())),
    frm(5), frm(6), frm(7),
    fsOff('fadd.d', i(E.fpArith('fadd', 'D', 3, 1, 2, 0))),
    fsOff('fmv.x.d into x7', i(E.fmvXF('D', 7, 1))),
    fsOff('csrr x7, fflags', i(E.csrr(7, E.CSR_FFLAGS))),
    fsOff('flw', A.la(8, SCRATCH), i(E.fload('S', 3, 8, 0))),
    fsOff('c.fsd', A.la(8, SCRATCH), i(E.cMem('fsd', 9, 8, 0))),
  ];
  // Misaligned LR raises a load exception. Misaligned AMOs and SC are not here: QEMU 7.2
  // reports AMOs as load-misaligned (cause 4, or 6 depending on its TLB state) and lets a
  // misaligned SC without a matching reservation fail silently; spec.ts checks those
  // against the specification instead.
  const misaligned: Case[] = [];
  for (const [w, off] of [[4, 1], [8, 6], [8, 4]] as const) {
    misaligned.push(t(`lr.${w === 4 ? 'w' : 'd'} x7 at +${off} (misaligned)`,
      A.la(8, SCRATCH + 256 + off), i(E.amo('lr', w, 7, 8, 0))));
  }
  // HINTs (§2.9 and table 16.7): must execute as no-ops, never trap.
  const hints: [string, Item][] = [
    ['c.nop 1', i(E.raw16(0x0005))], ['c.addi x1, 0', i(E.raw16(0x0081))], ['c.li x0, 1', i(E.raw16(0x4005))],
    ['c.lui x0, 1', i(E.raw16(0x6005))], ['c.mv x0, x1', i(E.raw16(0x8006))], ['c.add x0, x1', i(E.raw16(0x9006))],
    ['c.slli x0, 1', i(E.raw16(0x0006))], ['c.slli x1, 0', i(E.raw16(0x0082))], ['c.srli x8, 0', i(E.raw16(0x8001))],
    ['c.srai x8, 0', i(E.raw16(0x8401))], ['addi x0, x5, 3', i(E.aluImm('addi', 0, 5, 3))], ['lui x0, 5', i(E.lui(0, 5))],
    ['auipc x0, 1', i(E.auipc(0, 1))], ['add x0, x1, x2', i(E.aluReg('add', 0, 1, 2))], ['slli x0, x1, 3', i(E.shiftImm('slli', 0, 1, 3))],
    ['fence 0, rw', i(E.fence(0, 3))], ['pause (fence w, 0)', i(E.fence(1, 0))],
  ];
  const hintCase = new Case('HINTs execute as no-ops');
  for (const [title, it] of hints) hintCase.add(it).note(title);
  hintCase.add(i(E.csrr(7, E.CSR_FCSR))).storeX(7);
  // Check fcsr survives the trapped FP instructions untouched.
  const tail = new Case('fcsr after trapping FP instructions').add(i(E.csrr(7, E.CSR_FCSR))).storeX(7);
  return [...cases, ...env, ...misaligned, hintCase, tail];
}

/** Up to 20 traps per program so every one gets a record (program.ts MAX_TRAP_RECORDS). */
function packTraps(cases: Case[]): DirectedProgram[] {
  const out: DirectedProgram[] = [];
  for (let k = 0; k < cases.length; k += 18) out.push(...pack(`traps${out.length}`, cases.slice(k, k + 18)));
  return out;
}

export function directedPrograms(): DirectedProgram[] {
  return [
    ...pack('muldiv', mulDivCases()),
    ...pack('shift', shiftCases()),
    ...pack('wordops', wordOpCases()),
    ...pack('fparith', fpArithCases()),
    ...pack('fcvt', fcvtCases()),
    ...pack('nanbox', nanBoxCases()),
    ...pack('fcsr', csrCases()),
    ...pack('misaligned', misalignedCases()),
    ...pack('atomics', atomicCases()),
    ...pack('control', controlCases()),
    ...packTraps(trapCases()),
  ];
}

