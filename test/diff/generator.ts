// Random RV64GC test programs from a seed. The same seed always yields the same program
// (see rng.ts), so the golden corpus stores only seeds and QEMU's dumps.
//
// Rules that keep a program's outcome defined, so that any difference between two
// machines is a bug in one of them:
// - every load, store and AMO stays inside SCRATCH (or PAGE_PAD just below it, or the
//   alias of SCRATCH in the sv39 profile, or straddling into the read-only page above it,
//   where stores must fault); AMOs and LR/SC are naturally aligned
//   (misaligned AMOs may trap with either of two causes), ordinary loads and stores may be
//   misaligned (both QEMU and tshv perform them);
// - control flow stays inside one step: forward branches and jumps, and counted loops
//   whose counter no instruction of the body writes, so every program terminates;
// - LR is always followed in the same step by its SC to the same address and width, with
//   only register-register ALU instructions in between (an SC's outcome is otherwise
//   implementation-defined, Unprivileged ISA §8.2-8.3);
// - frm only ever receives valid modes, so dynamic rounding never traps;
// - no counters, no ID CSRs, no mscratch (the trap handler owns it), no wfi;
// - the few trapping instructions are ones every RV64GC machine must trap on.

import * as A from './assembler.js';
import * as E from './encoder.js';
import type { Item } from './assembler.js';
import type { Fmt, XReg } from './encoder.js';
import { ldAbs, flAbs } from './macros.js';
import { Rng } from './rng.js';
import { INT_EDGES, D_EDGES, S_EDGES, box, randomInt, randomDouble, randomSingle, randomFReg } from './values.js';
import {
  PAGE_PAD, POOL_FP_WORDS, POOL_INT_WORDS, SCRATCH, SCRATCH_SIZE, poolFp, poolInt,
} from './program.js';
import type { BodyMode, ProgramSpec, Step } from './program.js';

/** Bump when the generator changes in a way that changes programs: the corpus must be re-recorded. */
export const GENERATOR_VERSION = 6;
export const DEFAULT_STEPS = 1500;

type Maker = (g: Gen) => Item[];

const i = A.insn;

/**
 * full: RV64GC in M-mode; int: no F/D instructions (integer bugs stay visible while the
 * FPU is wrong); sv39: RV64GC in S-mode under Sv39, 4 KiB pages, SCRATCH also mapped at
 * the virtual page below it, the page above read-only (misaligned stores straddling into it
 * take page faults); sv48u: RV64GC in U-mode under Sv48, one 2 MiB megapage.
 */
export type Profile = 'full' | 'int' | 'sv39' | 'sv48u';
export const PROFILES: readonly Profile[] = ['full', 'int', 'sv39', 'sv48u'];
const MODES: Record<Profile, BodyMode | undefined> = {
  full: undefined, int: undefined,
  sv39: { priv: 'S', paging: 'sv39', leaf: '4k', aliasScratch: true, readOnlyAbove: true },
  sv48u: { priv: 'U', paging: 'sv48', leaf: '2m', aliasScratch: false, readOnlyAbove: false },
};

export class Gen {
  private readonly simpleTable: readonly (readonly [Maker, number])[];
  private readonly allTable: readonly (readonly [Maker, number])[];
  constructor(readonly r: Rng, readonly profile: Profile = 'full') {
    const keep = (t: readonly (readonly [Maker, number])[]): (readonly [Maker, number])[] =>
      this.fp ? [...t] : t.filter(([m]) => !FP_MAKERS.has(m));
    this.simpleTable = keep(SIMPLE);
    this.allTable = MODES[profile] ? [...keep(ALL), [sfence, 0.5]] : keep(ALL);
  }
  get fp(): boolean { return this.profile !== 'int'; }

  /** Registers no generated instruction may write (a loop counter while its body is made). */
  readonly reserved = new Set<XReg>();
  private free(pick: () => XReg): XReg {
    for (;;) { const r = pick(); if (!this.reserved.has(r)) return r; }
  }

  // ---- operand choice ----------------------------------------------------------------
  /** A source register: mostly x1..x31, sometimes x0. */
  xs(): XReg { return this.r.chance(0.05) ? 0 : this.r.range(1, 31); }
  /** A destination register: x0 rarely (the write must vanish). */
  xd(): XReg { return this.free(() => (this.r.chance(0.03) ? 0 : this.r.range(1, 31))); }
  /** A non-zero register, written by the caller. */
  xnz(): XReg { return this.free(() => this.r.range(1, 31)); }
  /** A register for a 3-bit RVC field (x8..x15), written by the caller. */
  xc(): XReg { return this.free(() => this.r.range(8, 15)); }
  f(): number { return this.r.int(32); }
  fmt(): Fmt { return this.r.chance(0.5) ? 'S' : 'D'; }
  /** A rounding mode: a static one or dyn (frm always holds a valid mode). */
  rm(): number { return this.r.weighted([[0, 2], [1, 2], [2, 2], [3, 2], [4, 2], [E.RM_DYN, 4]]); }
  imm12(): number {
    switch (this.r.int(6)) {
      case 0: return this.r.pick([0, 1, -1, 2047, -2048, 2046, -2047]);
      case 1: return this.r.range(-16, 16);
      default: return this.r.range(-2048, 2047);
    }
  }
  imm6(): number { return this.r.range(-32, 31); }
  nz6(): number { let v = 0; while (v === 0) v = this.imm6(); return v; }
  /** SCRATCH is also mapped at the virtual page below it (BodyMode.aliasScratch). */
  get alias(): boolean { return MODES[this.profile]?.aliasScratch ?? false; }
  get readOnlyAbove(): boolean { return MODES[this.profile]?.readOnlyAbove ?? false; }
  /**
   * An address for a `size`-byte access in SCRATCH (or its alias page below it), within
   * `span` bytes of the window's start; misaligned sometimes if allowed, and then now and
   * then straddling the page boundary at SCRATCH (into PAGE_PAD, or the alias page).
   */
  addr(size: number, mayMisalign: boolean, span = SCRATCH_SIZE): number {
    if (mayMisalign && size > 1 && this.r.chance(0.03)) return SCRATCH - this.r.range(1, Math.min(size - 1, PAGE_PAD));
    // into the read-only page above SCRATCH: loads read it, stores take a page fault
    if (mayMisalign && size > 1 && this.readOnlyAbove && this.r.chance(0.015)) return SCRATCH + SCRATCH_SIZE - this.r.range(1, size - 1);
    const lo = this.alias ? SCRATCH - SCRATCH_SIZE : SCRATCH;
    const total = span + (this.alias ? SCRATCH_SIZE : 0);
    let a = lo + this.r.int(total - size + 1);
    if (!mayMisalign || this.r.chance(0.75)) a -= (a - lo) % size;
    return a;
  }
  /**
   * Ways of pointing a base register at an address: `la base, addr - imm` then access
   * imm(base), or (data-dependent) base = start + (rs & mask). Returns the set-up items
   * and the immediate to use.
   */
  base(size: number, mayMisalign: boolean, rb: XReg, immRange?: readonly [number, number, number]): { items: Item[]; imm: number } {
    const [lo, hi, step] = immRange ?? [-2048, 2047, 1];
    const pickImm = (): number => lo + step * this.r.int(Math.floor((hi - lo) / step) + 1);
    if (this.r.chance(0.3)) {
      // data-dependent: andi rt, rs, mask; la rb, start - imm; add rb, rb, rt
      const mask = mayMisalign && this.r.chance(0.5) ? 0x7ff : 0x7ff & ~(size - 1) & ~(step - 1);
      let rt = this.xnz();
      while (rt === rb) rt = this.xnz();
      const start = this.addr(size, false, SCRATCH_SIZE - 0x800);
      const imm = pickImm();
      return { items: [i(E.aluImm('andi', rt, this.xs(), mask)), A.la(rb, start - imm), i(E.aluReg('add', rb, rb, rt))], imm };
    }
    const a = this.addr(size, mayMisalign);
    const imm = pickImm();
    return { items: [A.la(rb, a - imm)], imm };
  }

  /** Steps without control flow, for bodies of forward branches. */
  simple(): Item[] { return this.r.weighted(this.simpleTable)(this); }
  any(): Item[] { return this.r.weighted(this.allTable)(this); }
}

// ---- integer ---------------------------------------------------------------------------

const BASE_REG_OPS = ['add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and',
  'addw', 'subw', 'sllw', 'srlw', 'sraw'] as const;
const M_OPS = ['mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu', 'rem', 'remu',
  'mulw', 'divw', 'divuw', 'remw', 'remuw'] as const;
const IMM_OPS = ['addi', 'slti', 'sltiu', 'xori', 'ori', 'andi', 'addiw'] as const;
const SHIFT_OPS = ['slli', 'srli', 'srai', 'slliw', 'srliw', 'sraiw'] as const;

const aluReg: Maker = (g) => [i(E.aluReg(g.r.pick(BASE_REG_OPS), g.xd(), g.xs(), g.xs()))];
const mulDiv: Maker = (g) => {
  const rs1 = g.xs();
  // Same-register operands hit x/x, x*x and the INT_MIN/-1 paths more often.
  const rs2 = g.r.chance(0.1) ? rs1 : g.xs();
  return [i(E.aluReg(g.r.pick(M_OPS), g.xd(), rs1, rs2))];
};
const aluImm: Maker = (g) => [i(E.aluImm(g.r.pick(IMM_OPS), g.xd(), g.xs(), g.imm12()))];
const shiftImm: Maker = (g) => {
  const op = g.r.pick(SHIFT_OPS);
  const w = op.endsWith('w') ? 32 : 64;
  const sh = g.r.chance(0.3) ? g.r.pick([0, 1, w - 1, w / 2 - 1, w / 2]) : g.r.int(w);
  return [i(E.shiftImm(op, g.xd(), g.xs(), sh))];
};
const upper: Maker = (g) => {
  const imm = g.r.chance(0.3) ? g.r.pick([0, 1, -1, 0x7ffff, -0x80000]) : g.r.range(-0x80000, 0x7ffff);
  return [i(g.r.chance(0.6) ? E.lui(g.xd(), imm) : E.auipc(g.xd(), imm))];
};

// ---- memory ----------------------------------------------------------------------------

const LOAD_OPS = Object.keys(E.LOADS) as E.LoadOp[];
const STORE_OPS = Object.keys(E.STORES) as E.StoreOp[];

const load: Maker = (g) => {
  const op = g.r.pick(LOAD_OPS);
  const rb = g.xnz();
  const b = g.base(E.LOADS[op][1], true, rb);
  return [...b.items, i(E.load(op, g.xd(), rb, b.imm))];
};
const store: Maker = (g) => {
  const op = g.r.pick(STORE_OPS);
  const rb = g.xnz();
  const b = g.base(E.STORES[op][1], true, rb);
  return [...b.items, i(E.store(op, g.xs(), rb, b.imm))];
};
const fpLoad: Maker = (g) => {
  const fmt = g.fmt();
  const rb = g.xnz();
  const b = g.base(fmt === 'S' ? 4 : 8, true, rb);
  return [...b.items, i(E.fload(fmt, g.f(), rb, b.imm))];
};
const fpStore: Maker = (g) => {
  const fmt = g.fmt();
  const rb = g.xnz();
  const b = g.base(fmt === 'S' ? 4 : 8, true, rb);
  return [...b.items, i(E.fstore(fmt, g.f(), rb, b.imm))];
};

const AMO_OPS = ['amoadd', 'amoswap', 'amoxor', 'amoor', 'amoand', 'amomin', 'amomax', 'amominu', 'amomaxu'] as const;
const amo: Maker = (g) => {
  const w = g.r.chance(0.5) ? 4 : 8;
  const rb = g.xnz();
  return [A.la(rb, g.addr(w, false)), i(E.amo(g.r.pick(AMO_OPS), w, g.xd(), rb, g.xs(), g.r.chance(0.3), g.r.chance(0.3)))];
};
const lrsc: Maker = (g) => {
  const w = g.r.chance(0.5) ? 4 : 8;
  const rb = g.xnz();
  const items: Item[] = [A.la(rb, g.addr(w, false))];
  const notRb = (): XReg => { let r = g.xd(); while (r === rb) r = g.xd(); return r; };
  if (g.r.chance(0.15)) {
    // SC with no reservation: the previous SC consumed it, so this one must fail (rd = 1).
    items.push(i(E.amo('sc', w, g.xd(), rb, g.xs())));
    return items;
  }
  items.push(i(E.amo('lr', w, notRb(), rb, 0, g.r.chance(0.3), g.r.chance(0.1))));
  for (let k = g.r.int(3); k > 0; k--) items.push(i(E.aluReg(g.r.pick(BASE_REG_OPS), notRb(), g.xs(), g.xs())));
  items.push(i(E.amo('sc', w, g.xd(), rb, g.xs(), g.r.chance(0.1), g.r.chance(0.3))));
  return items;
};

/** Reload a register from the constant pool, keeping interesting values in circulation. */
const reloadX: Maker = (g) => [ldAbs(g.xnz(), poolInt(g.r.int(POOL_INT_WORDS)))];
const reloadF: Maker = (g) => [flAbs(g.fmt(), g.f(), g.xnz(), poolFp(g.r.int(POOL_FP_WORDS)))];

// ---- control flow (forward only) ---------------------------------------------------------

function skipped(g: Gen, max: number): Item[] {
  const out: Item[] = [];
  for (let k = g.r.int(max + 1); k > 0; k--) out.push(...g.simple());
  return out;
}
const BRANCH_OPS = Object.keys(E.BRANCHES) as E.BranchOp[];
const branch: Maker = (g) => {
  const L = new A.Label();
  const rs1 = g.xs();
  const rs2 = g.r.chance(0.2) ? rs1 : g.xs();
  const op = g.r.pick(BRANCH_OPS);
  return [A.toLabel(4, L, (o) => E.branch(op, rs1, rs2, o)), ...skipped(g, 3), A.label(L)];
};
const jal: Maker = (g) => {
  const L = new A.Label();
  const rd = g.r.chance(0.3) ? 0 : g.xd();
  return [A.toLabel(4, L, (o) => E.jal(rd, o)), ...skipped(g, 3), A.label(L)];
};
const jalr: Maker = (g) => {
  const L = new A.Label();
  const rt = g.xnz();
  const rd = g.xd();
  // jalr clears bit 0 of the target (§2.5): sometimes aim one byte past the label.
  const odd = g.r.chance(0.3) ? 1 : 0;
  const body = skipped(g, 3);
  return [
    A.dyn(8, (pc, resolve) => [E.auipc(rt, 0), E.jalr(rd, rt, resolve(L) - pc + odd)]),
    ...body, A.label(L),
  ];
};

// ---- F and D -----------------------------------------------------------------------------

const fpArith: Maker = (g) =>
  [i(E.fpArith(g.r.pick(['fadd', 'fsub', 'fmul', 'fdiv'] as const), g.fmt(), g.f(), g.f(), g.f(), g.rm()))];
const fpSqrt: Maker = (g) => [i(E.fsqrt(g.fmt(), g.f(), g.f(), g.rm()))];
const fpFma: Maker = (g) =>
  [i(E.fma(g.r.pick(['fmadd', 'fmsub', 'fnmsub', 'fnmadd'] as const), g.fmt(), g.f(), g.f(), g.f(), g.f(), g.rm()))];
const fpNorm: Maker = (g) => {
  const a = g.f();
  const b = g.r.chance(0.15) ? a : g.f();
  return [i(E.fpNorm(g.r.pick(['fsgnj', 'fsgnjn', 'fsgnjx', 'fmin', 'fmax'] as const), g.fmt(), g.f(), a, b))];
};
const fpCmp: Maker = (g) => {
  const a = g.f();
  const b = g.r.chance(0.15) ? a : g.f();
  return [i(E.fpCmp(g.r.pick(['feq', 'flt', 'fle'] as const), g.fmt(), g.xd(), a, b))];
};
const fpClass: Maker = (g) => [i(E.fclass(g.fmt(), g.xd(), g.f()))];
const fpMove: Maker = (g) =>
  [i(g.r.chance(0.5) ? E.fmvXF(g.fmt(), g.xd(), g.f()) : E.fmvFX(g.fmt(), g.f(), g.xs()))];
const INT_KINDS = ['w', 'wu', 'l', 'lu'] as const;
const fpCvt: Maker = (g) => {
  switch (g.r.int(3)) {
    case 0: return [i(E.fcvtToInt(g.r.pick(INT_KINDS), g.fmt(), g.xd(), g.f(), g.rm()))];
    case 1: return [i(E.fcvtFromInt(g.r.pick(INT_KINDS), g.fmt(), g.f(), g.xs(), g.rm()))];
    default: return [i(E.fcvtFF(g.fmt(), g.f(), g.f(), g.rm()))];
  }
};
/** fflags/frm/fcsr accesses; frm only ever receives a valid rounding mode. */
const fpCsr: Maker = (g) => {
  const rd = g.xd();
  switch (g.r.int(9)) {
    case 0: return [i(E.csrr(rd, g.r.pick([E.CSR_FFLAGS, E.CSR_FRM, E.CSR_FCSR])))];
    case 1: return [i(E.csr(g.r.pick(['csrrw', 'csrrs', 'csrrc'] as const), rd, E.CSR_FFLAGS, g.xs()))];
    case 2: return [i(E.csr(g.r.pick(['csrrwi', 'csrrsi', 'csrrci'] as const), rd, E.CSR_FFLAGS, g.r.int(32)))];
    case 3: return [i(E.csr('csrrwi', rd, E.CSR_FRM, g.r.int(5)))];
    case 4: return [i(E.csr('csrrci', rd, E.CSR_FRM, g.r.int(8)))];
    case 5: return [i(E.csr(g.r.pick(['csrrwi', 'csrrsi', 'csrrci'] as const), rd, E.CSR_FCSR, g.r.int(32)))];
    case 6: {
      // mask keeps frm in {0, 4}: bits 7 and 4..0
      const rt = g.xnz();
      return [i(E.aluImm('andi', rt, g.xs(), 0x9f)), i(E.csr('csrrw', rd, E.CSR_FCSR, rt))];
    }
    case 7: {
      const rt = g.xnz();
      return [i(E.aluImm('andi', rt, g.xs(), 3)), i(E.csr(g.r.pick(['csrrw', 'csrrs'] as const), rd, E.CSR_FRM, rt))];
    }
    default: return [i(E.csr('csrrc', rd, E.CSR_FCSR, g.xs()))];
  }
};

// ---- C -----------------------------------------------------------------------------------

const C_ARITH_OPS = Object.keys(E.C_ARITH) as E.CArithOp[];
const cAlu: Maker = (g) => {
  switch (g.r.int(14)) {
    case 0: return [i(E.cAddi(g.xnz(), g.nz6()))];
    case 1: return [i(E.cAddiw(g.xnz(), g.imm6()))];
    case 2: return [i(E.cLi(g.xnz(), g.imm6()))];
    case 3: { let rd = g.xnz(); while (rd === 2) rd = g.xnz(); return [i(E.cLui(rd, g.nz6()))]; }
    case 4: { let v = 0; while (v === 0) v = g.r.range(-32, 31) * 16; return [i(E.cAddi16sp(v))]; }
    case 5: return [i(E.cAddi4spn(g.xc(), g.r.range(1, 255) * 4))];
    case 6: return [i(E.cShiftImm(g.r.pick(['srli', 'srai'] as const), g.xc(), g.r.range(1, 63)))];
    case 7: return [i(E.cAndi(g.xc(), g.imm6()))];
    case 8: case 9: return [i(E.cArith(g.r.pick(C_ARITH_OPS), g.xc(), g.xc()))];
    case 10: return [i(E.cSlli(g.xnz(), g.r.range(1, 63)))];
    case 11: return [i(E.cMv(g.xnz(), g.xnz()))];
    case 12: return [i(E.cAdd(g.xnz(), g.xnz()))];
    default: return [i(E.cNop())];
  }
};
const cMem: Maker = (g) => {
  const kind = g.r.pick(g.fp ? ['lw', 'ld', 'fld', 'sw', 'sd', 'fsd'] as const : ['lw', 'ld', 'sw', 'sd'] as const);
  const size = kind === 'lw' || kind === 'sw' ? 4 : 8;
  const rb = g.xc();
  let r = g.xc();
  if (kind.startsWith('f')) r = g.r.range(8, 15);
  // uimm: 5 bits scaled by the access size (c.lw: 0..124, c.ld: 0..248)
  const b = g.base(size, true, rb, [0, size * 31, size]);
  return [...b.items, i(E.cMem(kind, r, rb, b.imm))];
};
const cSpMem: Maker = (g) => {
  const kind = g.r.pick(g.fp ? ['lwsp', 'ldsp', 'fldsp', 'swsp', 'sdsp', 'fsdsp'] as const : ['lwsp', 'ldsp', 'swsp', 'sdsp'] as const);
  const size = kind === 'lwsp' || kind === 'swsp' ? 4 : 8;
  const uimm = size * g.r.int(64);
  const a = g.addr(size, true);
  const r = kind.startsWith('f') ? g.f() : kind.startsWith('l') ? g.xnz() : g.xs();
  return [A.la(2, a - uimm), i(E.cSp(kind, r, uimm))];
};
const cBranch: Maker = (g) => {
  const L = new A.Label();
  const rs = g.xc();
  const op = g.r.pick(['beqz', 'bnez'] as const);
  return [A.toLabel(2, L, (o) => E.cBranch(op, rs, o)), ...skipped(g, 3), A.label(L)];
};
const cJump: Maker = (g) => {
  const L = new A.Label();
  const body = skipped(g, 3);
  switch (g.r.int(3)) {
    case 0: return [A.toLabel(2, L, (o) => E.cJ(o)), ...body, A.label(L)];
    default: {
      const rt = g.xnz();
      return [A.la(rt, L), i(g.r.chance(0.5) ? E.cJr(rt) : E.cJalr(rt)), ...body, A.label(L)];
    }
  }
};

const fence: Maker = (g) => [i(g.r.chance(0.7) ? E.fence() : E.fenceI())];

/** sfence.vma (S-mode; illegal in U-mode): the page tables do not change, the TLB refills. */
const sfence: Maker = (g) => [i(E.sfenceVma(g.r.chance(0.5) ? 0 : g.xs(), g.r.chance(0.7) ? 0 : g.xs()))];

/** A counted loop (1..4 iterations) with a backward branch around a few simple steps. */
const loop: Maker = (g) => {
  const top = new A.Label();
  let rc = g.xnz();
  while (rc === 2) rc = g.xnz(); // c.*sp steps and c.addi16sp write x2
  g.reserved.add(rc);
  const body = skipped(g, 3);
  g.reserved.delete(rc);
  const compressed = rc >= 8 && rc <= 15 && g.r.chance(0.5);
  return [
    i(E.aluImm('addi', rc, 0, g.r.range(1, 4))),
    A.label(top), ...body,
    i(E.aluImm('addi', rc, rc, -1)),
    compressed ? A.toLabel(2, top, (o) => E.cBranch('bnez', rc, o)) : A.toLabel(4, top, (o) => E.branch('bne', rc, 0, o)),
  ];
};

/**
 * An instruction that must trap (illegal, ecall, ebreak, misaligned LR); the handler
 * records mcause, mtval and mepc and resumes after it. Never Zb* encodings: QEMU 7.2
 * implements Zba/Zbb/Zbc/Zbs by default, tshv does not.
 */
const trap: Maker = (g) => {
  const k = g.r.int(g.fp ? 10 : 7);
  switch (k) {
    case 0: return [i(E.ecall())];
    case 1: return [i(g.r.chance(0.5) ? E.ebreak() : E.cEbreak())];
    case 2: return [i(E.raw16(0))];
    // OP with funct7=0x20 and funct3=2: reserved in RV64GC and in every Zb* extension
    case 3: return [i(E.raw32(E.encR(0x33, g.xd(), 2, g.xs(), g.xs(), 0x20)))];
    case 4: return [i(E.csr('csrrw', g.xd(), 0x0ff, g.xs()))];
    case 5: {
      const w = g.r.chance(0.5) ? 4 : 8;
      const rb = g.xnz();
      let a = g.addr(w, false) + g.r.range(1, w - 1);
      if (a + w > SCRATCH + SCRATCH_SIZE) a -= w;
      return [A.la(rb, a), i(E.amo('lr', w, g.xd(), rb, 0))];
    }
    case 6: return [i(E.raw32(E.encI(0x1b, g.xd(), 1, g.xs(), 0x400 | g.r.int(32))))]; // slliw with funct7=0x20
    case 7: {
      // dynamic rounding with frm = 5, 6 or 7
      const rt = g.xnz();
      return [i(E.csr('csrrwi', rt, E.CSR_FRM, g.r.range(5, 7))), i(E.fpArith('fadd', g.fmt(), g.f(), g.f(), g.f(), E.RM_DYN)),
        i(E.csr('csrrw', 0, E.CSR_FRM, rt))];
    }
    case 8: return [i(E.raw32(E.fma('fmadd', g.fmt(), g.f(), g.f(), g.f(), g.f(), g.r.range(5, 6)).word))];
    default: return [i(E.raw32(E.encR(0x53, g.f(), 0, g.f(), g.f(), g.r.pick([0x02, 0x03]))))]; // fadd.h / fadd.q
  }
};

const SIMPLE: readonly (readonly [Maker, number])[] = [
  [aluReg, 10], [mulDiv, 7], [aluImm, 8], [shiftImm, 5], [upper, 2],
  [load, 6], [store, 6], [fpLoad, 3], [fpStore, 3], [amo, 4], [lrsc, 2],
  [reloadX, 3], [reloadF, 3],
  [fpArith, 10], [fpSqrt, 2], [fpFma, 5], [fpNorm, 4], [fpCmp, 4], [fpClass, 2], [fpMove, 3], [fpCvt, 8], [fpCsr, 3],
  [cAlu, 8], [cMem, 3], [cSpMem, 2], [fence, 0.3],
];
const FP_MAKERS: ReadonlySet<Maker> = new Set([fpLoad, fpStore, reloadF, fpArith, fpSqrt, fpFma, fpNorm, fpCmp, fpClass, fpMove, fpCvt, fpCsr]);
const ALL: readonly (readonly [Maker, number])[] = [
  ...SIMPLE,
  [branch, 5], [jal, 1.5], [jalr, 1.5], [cBranch, 2], [cJump, 1.5], [loop, 1.5], [trap, 0.25],
];

// ---- initial state ---------------------------------------------------------------------

/** Initial registers, fcsr, scratch memory and constant pools for a seed. */
export function initialState(r: Rng): Omit<ProgramSpec, 'body'> {
  const initX = [0n];
  for (let x = 1; x < 32; x++) initX.push(randomInt(r));
  const initF: bigint[] = [];
  for (let f = 0; f < 32; f++) initF.push(randomFReg(r));
  const initFcsr = (r.int(5) << 5) | r.int(32);
  const scratch = new Uint8Array(SCRATCH_SIZE);
  const dv = new DataView(scratch.buffer);
  for (let o = 0; o < SCRATCH_SIZE; o += 8) {
    const k = r.int(4);
    dv.setBigUint64(o, k === 0 ? randomInt(r) : k === 1 ? randomDouble(r) : k === 2 ? box(randomSingle(r)) : r.u64(), true);
  }
  const intPool: bigint[] = [];
  for (let k = 0; k < POOL_INT_WORDS; k++) intPool.push(k < INT_EDGES.length ? INT_EDGES[k]! : randomInt(r));
  const fpPool: bigint[] = [];
  for (let k = 0; k < POOL_FP_WORDS; k++) {
    // Low halves hold singles for flw; fld of the same word gives an unboxed value.
    if (k % 2 === 0) fpPool.push(D_EDGES[(k / 2) % D_EDGES.length]!);
    else fpPool.push(((r.chance(0.5) ? 0xffffffffn : BigInt(r.u32())) << 32n) | S_EDGES[((k - 1) / 2) % S_EDGES.length]!);
  }
  return { initX, initF, initFcsr, scratch, intPool, fpPool };
}

export function generateRandom(seed: number, steps = DEFAULT_STEPS, profile: Profile = 'full'): ProgramSpec {
  const r = new Rng(seed);
  const init = initialState(r);
  const g = new Gen(r, profile);
  const body: Step[] = [];
  for (let k = 0; k < steps; k++) body.push({ items: g.any() });
  const mode = MODES[profile];
  return mode ? { ...init, mode, body } : { ...init, body };
}
