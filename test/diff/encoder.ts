// RV64GC instruction encoder for the differential tests: RV64I, M, A, F, D, Zicsr,
// Zifencei and C, written from the RISC-V Unprivileged ISA (20191213) chapter 24
// ("RV32/64G Instruction Set Listings") and chapter 16 (RVC, tables 16.5-16.7).
//
// Every encoder returns an Insn: its length, its bits and a disassembly-ish text used in
// failure reports. Encoders check their operands (register numbers, immediate ranges,
// alignment) and throw on anything the format cannot express, so a generator bug
// surfaces here rather than as a silently different instruction.

export interface Insn {
  readonly size: 2 | 4;
  readonly word: number;
  readonly text: string;
}

export type XReg = number;
export type FReg = number;

/** Rounding modes (Unprivileged ISA §11.2, table 11.1); 5 and 6 are reserved. */
export const RM_NAMES = ['rne', 'rtz', 'rdn', 'rup', 'rmm', 'rm5', 'rm6', 'dyn'] as const;
export const RM_DYN = 7;

export const CSR_FFLAGS = 0x001;
export const CSR_FRM = 0x002;
export const CSR_FCSR = 0x003;
export const CSR_MSTATUS = 0x300;
export const CSR_MTVEC = 0x305;
export const CSR_MSCRATCH = 0x340;
export const CSR_MEPC = 0x341;
export const CSR_MCAUSE = 0x342;
export const CSR_MTVAL = 0x343;

const CSR_NAMES: Record<number, string> = {
  [CSR_FFLAGS]: 'fflags', [CSR_FRM]: 'frm', [CSR_FCSR]: 'fcsr', [CSR_MSTATUS]: 'mstatus',
  [CSR_MTVEC]: 'mtvec', [CSR_MSCRATCH]: 'mscratch', [CSR_MEPC]: 'mepc', [CSR_MCAUSE]: 'mcause',
  [CSR_MTVAL]: 'mtval',
};

export function xn(r: XReg): string { return `x${r}`; }
export function fn(r: FReg): string { return `f${r}`; }
function csrName(csr: number): string { return CSR_NAMES[csr] ?? `0x${csr.toString(16)}`; }

function checkReg(r: number): number {
  if (!Number.isInteger(r) || r < 0 || r > 31) throw new RangeError(`bad register ${r}`);
  return r;
}
function checkCReg(r: number): number {
  if (!Number.isInteger(r) || r < 8 || r > 15) throw new RangeError(`register x${r} not encodable in a 3-bit RVC field`);
  return r - 8;
}
function checkSigned(v: number, bits: number, what: string): number {
  const lim = 2 ** (bits - 1);
  if (!Number.isInteger(v) || v < -lim || v >= lim) throw new RangeError(`${what} ${v} out of ${bits}-bit signed range`);
  return v;
}
function checkUnsigned(v: number, bits: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new RangeError(`${what} ${v} out of ${bits}-bit unsigned range`);
  return v;
}
function checkAlign(v: number, a: number, what: string): void {
  if (v % a !== 0) throw new RangeError(`${what} ${v} not a multiple of ${a}`);
}
function bits(v: number, hi: number, lo: number): number {
  return Math.floor(v / 2 ** lo) & ((1 << (hi - lo + 1)) - 1) >>> 0;
}
function i4(word: number, text: string): Insn { return { size: 4, word: word >>> 0, text }; }
function i2(half: number, text: string): Insn { return { size: 2, word: half & 0xffff, text }; }

/** A raw 32-bit word, for reserved encodings in trap tests. */
export function raw32(word: number, text = `.word 0x${(word >>> 0).toString(16).padStart(8, '0')}`): Insn { return i4(word, text); }
/** A raw 16-bit parcel (a compressed encoding, possibly reserved). */
export function raw16(half: number, text = `.half 0x${(half & 0xffff).toString(16).padStart(4, '0')}`): Insn { return i2(half, text); }

// ---- base formats (§2.3, figure 2.3) -------------------------------------------------

export function encR(opcode: number, rd: number, f3: number, rs1: number, rs2: number, f7: number): number {
  return ((f7 << 25) | (checkReg(rs2) << 20) | (checkReg(rs1) << 15) | (f3 << 12) | (checkReg(rd) << 7) | opcode) >>> 0;
}
export function encI(opcode: number, rd: number, f3: number, rs1: number, imm: number): number {
  checkSigned(imm, 12, 'I-immediate');
  return (((imm & 0xfff) << 20) | (checkReg(rs1) << 15) | (f3 << 12) | (checkReg(rd) << 7) | opcode) >>> 0;
}
function encS(opcode: number, f3: number, rs1: number, rs2: number, imm: number): number {
  checkSigned(imm, 12, 'S-immediate');
  return ((bits(imm & 0xfff, 11, 5) << 25) | (checkReg(rs2) << 20) | (checkReg(rs1) << 15) | (f3 << 12) |
    (bits(imm & 0xfff, 4, 0) << 7) | opcode) >>> 0;
}
function encB(f3: number, rs1: number, rs2: number, off: number): number {
  checkSigned(off, 13, 'branch offset'); checkAlign(off, 2, 'branch offset');
  const v = off & 0x1fff;
  return ((bits(v, 12, 12) << 31) | (bits(v, 10, 5) << 25) | (checkReg(rs2) << 20) | (checkReg(rs1) << 15) |
    (f3 << 12) | (bits(v, 4, 1) << 8) | (bits(v, 11, 11) << 7) | 0x63) >>> 0;
}
function encU(opcode: number, rd: number, imm20: number): number {
  checkSigned(imm20, 20, 'U-immediate');
  return (((imm20 & 0xfffff) << 12) | (checkReg(rd) << 7) | opcode) >>> 0;
}
function encJ(rd: number, off: number): number {
  checkSigned(off, 21, 'jal offset'); checkAlign(off, 2, 'jal offset');
  const v = off & 0x1fffff;
  return ((bits(v, 20, 20) << 31) | (bits(v, 10, 1) << 21) | (bits(v, 11, 11) << 20) | (bits(v, 19, 12) << 12) |
    (checkReg(rd) << 7) | 0x6f) >>> 0;
}

// ---- RV64I -----------------------------------------------------------------------------

export const lui = (rd: XReg, imm20: number): Insn => i4(encU(0x37, rd, imm20), `lui ${xn(rd)}, ${imm20}`);
export const auipc = (rd: XReg, imm20: number): Insn => i4(encU(0x17, rd, imm20), `auipc ${xn(rd)}, ${imm20}`);
export const jal = (rd: XReg, off: number): Insn => i4(encJ(rd, off), `jal ${xn(rd)}, ${off}`);
export const jalr = (rd: XReg, rs1: XReg, imm: number): Insn =>
  i4(encI(0x67, rd, 0, rs1, imm), `jalr ${xn(rd)}, ${imm}(${xn(rs1)})`);

export const BRANCHES = { beq: 0, bne: 1, blt: 4, bge: 5, bltu: 6, bgeu: 7 } as const;
export type BranchOp = keyof typeof BRANCHES;
export const branch = (op: BranchOp, rs1: XReg, rs2: XReg, off: number): Insn =>
  i4(encB(BRANCHES[op], rs1, rs2, off), `${op} ${xn(rs1)}, ${xn(rs2)}, ${off}`);

export const LOADS = { lb: [0, 1], lh: [1, 2], lw: [2, 4], ld: [3, 8], lbu: [4, 1], lhu: [5, 2], lwu: [6, 4] } as const;
export type LoadOp = keyof typeof LOADS;
export const load = (op: LoadOp, rd: XReg, rs1: XReg, imm: number): Insn =>
  i4(encI(0x03, rd, LOADS[op][0], rs1, imm), `${op} ${xn(rd)}, ${imm}(${xn(rs1)})`);

export const STORES = { sb: [0, 1], sh: [1, 2], sw: [2, 4], sd: [3, 8] } as const;
export type StoreOp = keyof typeof STORES;
export const store = (op: StoreOp, rs2: XReg, rs1: XReg, imm: number): Insn =>
  i4(encS(0x23, STORES[op][0], rs1, rs2, imm), `${op} ${xn(rs2)}, ${imm}(${xn(rs1)})`);

/** Register-immediate ALU ops with a 12-bit signed immediate: [opcode, funct3]. */
export const ALU_IMM = {
  addi: [0x13, 0], slti: [0x13, 2], sltiu: [0x13, 3], xori: [0x13, 4], ori: [0x13, 6], andi: [0x13, 7],
  addiw: [0x1b, 0],
} as const;
export type AluImmOp = keyof typeof ALU_IMM;
export const aluImm = (op: AluImmOp, rd: XReg, rs1: XReg, imm: number): Insn =>
  i4(encI(ALU_IMM[op][0], rd, ALU_IMM[op][1], rs1, imm), `${op} ${xn(rd)}, ${xn(rs1)}, ${imm}`);

/** Shifts by immediate: [opcode, funct3, high bits of the immediate field, shamt bits]. */
export const SHIFT_IMM = {
  slli: [0x13, 1, 0x000, 6], srli: [0x13, 5, 0x000, 6], srai: [0x13, 5, 0x400, 6],
  slliw: [0x1b, 1, 0x000, 5], srliw: [0x1b, 5, 0x000, 5], sraiw: [0x1b, 5, 0x400, 5],
} as const;
export type ShiftImmOp = keyof typeof SHIFT_IMM;
export const shiftImm = (op: ShiftImmOp, rd: XReg, rs1: XReg, shamt: number): Insn => {
  const [opc, f3, hi, w] = SHIFT_IMM[op];
  checkUnsigned(shamt, w, 'shift amount');
  return i4(((((hi | shamt) & 0xfff) << 20) | (checkReg(rs1) << 15) | (f3 << 12) | (checkReg(rd) << 7) | opc) >>> 0,
    `${op} ${xn(rd)}, ${xn(rs1)}, ${shamt}`);
};

/** Register-register ops (RV64I and M): [opcode, funct3, funct7]. */
export const ALU_REG = {
  add: [0x33, 0, 0x00], sub: [0x33, 0, 0x20], sll: [0x33, 1, 0x00], slt: [0x33, 2, 0x00], sltu: [0x33, 3, 0x00],
  xor: [0x33, 4, 0x00], srl: [0x33, 5, 0x00], sra: [0x33, 5, 0x20], or: [0x33, 6, 0x00], and: [0x33, 7, 0x00],
  addw: [0x3b, 0, 0x00], subw: [0x3b, 0, 0x20], sllw: [0x3b, 1, 0x00], srlw: [0x3b, 5, 0x00], sraw: [0x3b, 5, 0x20],
  mul: [0x33, 0, 0x01], mulh: [0x33, 1, 0x01], mulhsu: [0x33, 2, 0x01], mulhu: [0x33, 3, 0x01],
  div: [0x33, 4, 0x01], divu: [0x33, 5, 0x01], rem: [0x33, 6, 0x01], remu: [0x33, 7, 0x01],
  mulw: [0x3b, 0, 0x01], divw: [0x3b, 4, 0x01], divuw: [0x3b, 5, 0x01], remw: [0x3b, 6, 0x01], remuw: [0x3b, 7, 0x01],
} as const;
export type AluRegOp = keyof typeof ALU_REG;
export const aluReg = (op: AluRegOp, rd: XReg, rs1: XReg, rs2: XReg): Insn =>
  i4(encR(ALU_REG[op][0], rd, ALU_REG[op][1], rs1, rs2, ALU_REG[op][2]), `${op} ${xn(rd)}, ${xn(rs1)}, ${xn(rs2)}`);

export const fence = (pred = 0xf, succ = 0xf): Insn => i4(((pred << 24) | (succ << 20) | 0x0f) >>> 0, `fence ${pred},${succ}`);
export const fenceI = (): Insn => i4(0x0000100f, 'fence.i');
export const ecall = (): Insn => i4(0x00000073, 'ecall');
export const ebreak = (): Insn => i4(0x00100073, 'ebreak');
export const mret = (): Insn => i4(0x30200073, 'mret');
export const sfenceVma = (rs1: XReg, rs2: XReg): Insn =>
  i4(encR(0x73, 0, 0, rs1, rs2, 0x09), `sfence.vma ${xn(rs1)}, ${xn(rs2)}`);

// ---- Zicsr (chapter 9) ---------------------------------------------------------------

export const CSR_OPS = { csrrw: 1, csrrs: 2, csrrc: 3, csrrwi: 5, csrrsi: 6, csrrci: 7 } as const;
export type CsrOp = keyof typeof CSR_OPS;
/** For the immediate forms, `src` is the 5-bit zero-extended immediate; otherwise rs1. */
export const csr = (op: CsrOp, rd: XReg, csrNum: number, src: number): Insn => {
  checkUnsigned(csrNum, 12, 'csr');
  checkUnsigned(src, 5, 'csr source');
  const imm = op.endsWith('i');
  return i4(((csrNum << 20) | (src << 15) | (CSR_OPS[op] << 12) | (checkReg(rd) << 7) | 0x73) >>> 0,
    `${op} ${xn(rd)}, ${csrName(csrNum)}, ${imm ? src : xn(src)}`);
};
export const csrr = (rd: XReg, c: number): Insn => csr('csrrs', rd, c, 0);
export const csrw = (c: number, rs: XReg): Insn => csr('csrrw', 0, c, rs);
export const csrs = (c: number, rs: XReg): Insn => csr('csrrs', 0, c, rs);

// ---- A (chapter 8) -------------------------------------------------------------------

export const AMOS = {
  'amoadd': 0x00, 'amoswap': 0x01, 'lr': 0x02, 'sc': 0x03, 'amoxor': 0x04, 'amoor': 0x08, 'amoand': 0x0c,
  'amomin': 0x10, 'amomax': 0x14, 'amominu': 0x18, 'amomaxu': 0x1c,
} as const;
export type AmoOp = keyof typeof AMOS;
/** width 4 (.w) or 8 (.d). For lr, rs2 must be 0. */
export const amo = (op: AmoOp, width: 4 | 8, rd: XReg, rs1: XReg, rs2: XReg, aq = false, rl = false): Insn => {
  const f7 = (AMOS[op] << 2) | (aq ? 2 : 0) | (rl ? 1 : 0);
  const suffix = (width === 4 ? '.w' : '.d') + (aq ? '.aq' : '') + (rl ? '.rl' : '');
  const text = op === 'lr' ? `lr${suffix} ${xn(rd)}, (${xn(rs1)})` : `${op}${suffix} ${xn(rd)}, ${xn(rs2)}, (${xn(rs1)})`;
  return i4(encR(0x2f, rd, width === 4 ? 2 : 3, rs1, rs2, f7), text);
};

// ---- F and D (chapters 11, 12) -------------------------------------------------------

export type Fmt = 'S' | 'D';
const FMT_BITS: Record<Fmt, number> = { S: 0, D: 1 };
const sfx = (f: Fmt): string => (f === 'S' ? '.s' : '.d');

function checkRm(rm: number): number { return checkUnsigned(rm, 3, 'rounding mode'); }
const rmText = (rm: number): string => (rm === RM_DYN ? '' : `, ${RM_NAMES[rm]}`);

export const fload = (fmt: Fmt, rd: FReg, rs1: XReg, imm: number): Insn =>
  i4(encI(0x07, rd, fmt === 'S' ? 2 : 3, rs1, imm), `${fmt === 'S' ? 'flw' : 'fld'} ${fn(rd)}, ${imm}(${xn(rs1)})`);
export const fstore = (fmt: Fmt, rs2: FReg, rs1: XReg, imm: number): Insn =>
  i4(encS(0x27, fmt === 'S' ? 2 : 3, rs1, rs2, imm), `${fmt === 'S' ? 'fsw' : 'fsd'} ${fn(rs2)}, ${imm}(${xn(rs1)})`);

/** Two-operand arithmetic with a rounding mode: funct5. */
export const FP_ARITH = { fadd: 0x00, fsub: 0x01, fmul: 0x02, fdiv: 0x03 } as const;
export type FpArithOp = keyof typeof FP_ARITH;
export const fpArith = (op: FpArithOp, fmt: Fmt, rd: FReg, rs1: FReg, rs2: FReg, rm: number): Insn =>
  i4(encR(0x53, rd, checkRm(rm), rs1, rs2, (FP_ARITH[op] << 2) | FMT_BITS[fmt]),
    `${op}${sfx(fmt)} ${fn(rd)}, ${fn(rs1)}, ${fn(rs2)}${rmText(rm)}`);
export const fsqrt = (fmt: Fmt, rd: FReg, rs1: FReg, rm: number): Insn =>
  i4(encR(0x53, rd, checkRm(rm), rs1, 0, (0x0b << 2) | FMT_BITS[fmt]), `fsqrt${sfx(fmt)} ${fn(rd)}, ${fn(rs1)}${rmText(rm)}`);

/** Ops selected by funct3 and funct5 with no rounding mode: [funct5, funct3]. */
export const FP_NORM = {
  fsgnj: [0x04, 0], fsgnjn: [0x04, 1], fsgnjx: [0x04, 2], fmin: [0x05, 0], fmax: [0x05, 1],
} as const;
export type FpNormOp = keyof typeof FP_NORM;
export const fpNorm = (op: FpNormOp, fmt: Fmt, rd: FReg, rs1: FReg, rs2: FReg): Insn =>
  i4(encR(0x53, rd, FP_NORM[op][1], rs1, rs2, (FP_NORM[op][0] << 2) | FMT_BITS[fmt]),
    `${op}${sfx(fmt)} ${fn(rd)}, ${fn(rs1)}, ${fn(rs2)}`);

export const FP_CMP = { fle: 0, flt: 1, feq: 2 } as const;
export type FpCmpOp = keyof typeof FP_CMP;
export const fpCmp = (op: FpCmpOp, fmt: Fmt, rd: XReg, rs1: FReg, rs2: FReg): Insn =>
  i4(encR(0x53, rd, FP_CMP[op], rs1, rs2, (0x14 << 2) | FMT_BITS[fmt]), `${op}${sfx(fmt)} ${xn(rd)}, ${fn(rs1)}, ${fn(rs2)}`);

export const fclass = (fmt: Fmt, rd: XReg, rs1: FReg): Insn =>
  i4(encR(0x53, rd, 1, rs1, 0, (0x1c << 2) | FMT_BITS[fmt]), `fclass${sfx(fmt)} ${xn(rd)}, ${fn(rs1)}`);
/** fmv.x.w / fmv.x.d: f register bits to an x register. */
export const fmvXF = (fmt: Fmt, rd: XReg, rs1: FReg): Insn =>
  i4(encR(0x53, rd, 0, rs1, 0, (0x1c << 2) | FMT_BITS[fmt]), `fmv.x${fmt === 'S' ? '.w' : '.d'} ${xn(rd)}, ${fn(rs1)}`);
/** fmv.w.x / fmv.d.x: x register bits to an f register. */
export const fmvFX = (fmt: Fmt, rd: FReg, rs1: XReg): Insn =>
  i4(encR(0x53, rd, 0, rs1, 0, (0x1e << 2) | FMT_BITS[fmt]), `fmv${fmt === 'S' ? '.w' : '.d'}.x ${fn(rd)}, ${xn(rs1)}`);

export type IntKind = 'w' | 'wu' | 'l' | 'lu';
const INT_KIND: Record<IntKind, number> = { w: 0, wu: 1, l: 2, lu: 3 };
/** fcvt.{w,wu,l,lu}.{s,d}: FP to integer. */
export const fcvtToInt = (kind: IntKind, fmt: Fmt, rd: XReg, rs1: FReg, rm: number): Insn =>
  i4(encR(0x53, rd, checkRm(rm), rs1, INT_KIND[kind], (0x18 << 2) | FMT_BITS[fmt]),
    `fcvt.${kind}${sfx(fmt)} ${xn(rd)}, ${fn(rs1)}${rmText(rm)}`);
/** fcvt.{s,d}.{w,wu,l,lu}: integer to FP. */
export const fcvtFromInt = (kind: IntKind, fmt: Fmt, rd: FReg, rs1: XReg, rm: number): Insn =>
  i4(encR(0x53, rd, checkRm(rm), rs1, INT_KIND[kind], (0x1a << 2) | FMT_BITS[fmt]),
    `fcvt${sfx(fmt)}.${kind} ${fn(rd)}, ${xn(rs1)}${rmText(rm)}`);
/** fcvt.s.d (to = 'S') and fcvt.d.s (to = 'D'). */
export const fcvtFF = (to: Fmt, rd: FReg, rs1: FReg, rm: number): Insn =>
  i4(encR(0x53, rd, checkRm(rm), rs1, to === 'S' ? 1 : 0, (0x08 << 2) | FMT_BITS[to]),
    `fcvt${sfx(to)}${to === 'S' ? '.d' : '.s'} ${fn(rd)}, ${fn(rs1)}${rmText(rm)}`);

export const FMA = { fmadd: 0x43, fmsub: 0x47, fnmsub: 0x4b, fnmadd: 0x4f } as const;
export type FmaOp = keyof typeof FMA;
export const fma = (op: FmaOp, fmt: Fmt, rd: FReg, rs1: FReg, rs2: FReg, rs3: FReg, rm: number): Insn =>
  i4(((checkReg(rs3) << 27) | (FMT_BITS[fmt] << 25) | (checkReg(rs2) << 20) | (checkReg(rs1) << 15) |
    (checkRm(rm) << 12) | (checkReg(rd) << 7) | FMA[op]) >>> 0,
    `${op}${sfx(fmt)} ${fn(rd)}, ${fn(rs1)}, ${fn(rs2)}, ${fn(rs3)}${rmText(rm)}`);

// ---- C (chapter 16) ------------------------------------------------------------------

const cr3 = (r: number): number => checkCReg(r);

/** c.addi4spn rd', sp, nzuimm (quadrant 0, funct3 000). */
export const cAddi4spn = (rd: XReg, uimm: number): Insn => {
  checkUnsigned(uimm, 10, 'c.addi4spn imm'); checkAlign(uimm, 4, 'c.addi4spn imm');
  if (uimm === 0) throw new RangeError('c.addi4spn with zero immediate is reserved');
  const f = (bits(uimm, 5, 4) << 11) | (bits(uimm, 9, 6) << 7) | (bits(uimm, 2, 2) << 6) | (bits(uimm, 3, 3) << 5);
  return i2(f | (cr3(rd) << 2), `c.addi4spn ${xn(rd)}, x2, ${uimm}`);
};

type CMemKind = 'lw' | 'ld' | 'fld' | 'sw' | 'sd' | 'fsd';
const CMEM: Record<CMemKind, [number, number]> = {
  fld: [1, 8], lw: [2, 4], ld: [3, 8], fsd: [5, 8], sw: [6, 4], sd: [7, 8],
};
/** c.lw/c.ld/c.fld/c.sw/c.sd/c.fsd rX', uimm(rs1'): register rX is x8..x15 (or f8..f15). */
export const cMem = (kind: CMemKind, r: number, rs1: XReg, uimm: number): Insn => {
  const [f3, size] = CMEM[kind];
  checkUnsigned(uimm, size === 4 ? 7 : 8, `c.${kind} offset`); checkAlign(uimm, size, `c.${kind} offset`);
  const hiLo = size === 4
    ? (bits(uimm, 5, 3) << 10) | (bits(uimm, 2, 2) << 6) | (bits(uimm, 6, 6) << 5)
    : (bits(uimm, 5, 3) << 10) | (bits(uimm, 7, 6) << 5);
  const rName = kind.startsWith('f') ? fn(r) : xn(r);
  return i2((f3 << 13) | hiLo | (cr3(rs1) << 7) | (cr3(r) << 2), `c.${kind} ${rName}, ${uimm}(${xn(rs1)})`);
};

function ciImm6(imm: number): number { return (bits(imm & 0x3f, 5, 5) << 12) | (bits(imm & 0x3f, 4, 0) << 2); }

export const cNop = (): Insn => i2(0x0001, 'c.nop');
export const cAddi = (rd: XReg, imm: number): Insn => {
  checkSigned(imm, 6, 'c.addi imm');
  if (rd === 0 || imm === 0) throw new RangeError('c.addi with rd=x0 or imm=0 is a HINT/NOP');
  return i2((0 << 13) | ciImm6(imm) | (checkReg(rd) << 7) | 1, `c.addi ${xn(rd)}, ${imm}`);
};
export const cAddiw = (rd: XReg, imm: number): Insn => {
  checkSigned(imm, 6, 'c.addiw imm');
  if (rd === 0) throw new RangeError('c.addiw with rd=x0 is reserved');
  return i2((1 << 13) | ciImm6(imm) | (checkReg(rd) << 7) | 1, `c.addiw ${xn(rd)}, ${imm}`);
};
export const cLi = (rd: XReg, imm: number): Insn => {
  checkSigned(imm, 6, 'c.li imm');
  if (rd === 0) throw new RangeError('c.li with rd=x0 is a HINT');
  return i2((2 << 13) | ciImm6(imm) | (checkReg(rd) << 7) | 1, `c.li ${xn(rd)}, ${imm}`);
};
export const cAddi16sp = (imm: number): Insn => {
  checkSigned(imm, 10, 'c.addi16sp imm'); checkAlign(imm, 16, 'c.addi16sp imm');
  if (imm === 0) throw new RangeError('c.addi16sp with zero immediate is reserved');
  const v = imm & 0x3ff;
  const f = (bits(v, 9, 9) << 12) | (bits(v, 4, 4) << 6) | (bits(v, 6, 6) << 5) | (bits(v, 8, 7) << 3) | (bits(v, 5, 5) << 2);
  return i2((3 << 13) | f | (2 << 7) | 1, `c.addi16sp x2, ${imm}`);
};
/** c.lui rd, nzimm where nzimm is the 6-bit signed value placed in bits 17:12. */
export const cLui = (rd: XReg, imm6: number): Insn => {
  checkSigned(imm6, 6, 'c.lui imm');
  if (rd === 0 || rd === 2 || imm6 === 0) throw new RangeError('c.lui with rd=x0/x2 or imm=0 is reserved/HINT');
  return i2((3 << 13) | ciImm6(imm6) | (checkReg(rd) << 7) | 1, `c.lui ${xn(rd)}, ${imm6}`);
};
export const cShiftImm = (op: 'srli' | 'srai', rd: XReg, shamt: number): Insn => {
  checkUnsigned(shamt, 6, 'shift amount');
  if (shamt === 0) throw new RangeError(`c.${op} with shamt=0 is a HINT`);
  return i2((4 << 13) | (bits(shamt, 5, 5) << 12) | ((op === 'srli' ? 0 : 1) << 10) | (cr3(rd) << 7) |
    (bits(shamt, 4, 0) << 2) | 1, `c.${op} ${xn(rd)}, ${shamt}`);
};
export const cAndi = (rd: XReg, imm: number): Insn => {
  checkSigned(imm, 6, 'c.andi imm');
  return i2((4 << 13) | (bits(imm & 0x3f, 5, 5) << 12) | (2 << 10) | (cr3(rd) << 7) | (bits(imm & 0x3f, 4, 0) << 2) | 1,
    `c.andi ${xn(rd)}, ${imm}`);
};
export const C_ARITH = { sub: [0, 0], xor: [0, 1], or: [0, 2], and: [0, 3], subw: [1, 0], addw: [1, 1] } as const;
export type CArithOp = keyof typeof C_ARITH;
export const cArith = (op: CArithOp, rd: XReg, rs2: XReg): Insn => {
  const [b12, f2] = C_ARITH[op];
  return i2((4 << 13) | (b12 << 12) | (3 << 10) | (cr3(rd) << 7) | (f2 << 5) | (cr3(rs2) << 2) | 1,
    `c.${op} ${xn(rd)}, ${xn(rs2)}`);
};
export const cJ = (off: number): Insn => {
  checkSigned(off, 12, 'c.j offset'); checkAlign(off, 2, 'c.j offset');
  const v = off & 0xfff;
  const f = (bits(v, 11, 11) << 12) | (bits(v, 4, 4) << 11) | (bits(v, 9, 8) << 9) | (bits(v, 10, 10) << 8) |
    (bits(v, 6, 6) << 7) | (bits(v, 7, 7) << 6) | (bits(v, 3, 1) << 3) | (bits(v, 5, 5) << 2);
  return i2((5 << 13) | f | 1, `c.j ${off}`);
};
export const cBranch = (op: 'beqz' | 'bnez', rs1: XReg, off: number): Insn => {
  checkSigned(off, 9, 'c.b offset'); checkAlign(off, 2, 'c.b offset');
  const v = off & 0x1ff;
  const f = (bits(v, 8, 8) << 12) | (bits(v, 4, 3) << 10) | (bits(v, 7, 6) << 5) | (bits(v, 2, 1) << 3) | (bits(v, 5, 5) << 2);
  return i2(((op === 'beqz' ? 6 : 7) << 13) | f | (cr3(rs1) << 7) | 1, `c.${op} ${xn(rs1)}, ${off}`);
};
export const cSlli = (rd: XReg, shamt: number): Insn => {
  checkUnsigned(shamt, 6, 'shift amount');
  if (rd === 0 || shamt === 0) throw new RangeError('c.slli with rd=x0 or shamt=0 is a HINT');
  return i2((0 << 13) | (bits(shamt, 5, 5) << 12) | (checkReg(rd) << 7) | (bits(shamt, 4, 0) << 2) | 2, `c.slli ${xn(rd)}, ${shamt}`);
};
type CSpKind = 'lwsp' | 'ldsp' | 'fldsp' | 'swsp' | 'sdsp' | 'fsdsp';
/** Stack-pointer-relative loads and stores (CI and CSS formats). */
export const cSp = (kind: CSpKind, r: number, uimm: number): Insn => {
  const size = kind === 'lwsp' || kind === 'swsp' ? 4 : 8;
  checkUnsigned(uimm, size === 4 ? 8 : 9, `c.${kind} offset`); checkAlign(uimm, size, `c.${kind} offset`);
  checkReg(r);
  const rName = kind.startsWith('f') ? fn(r) : xn(r);
  const text = `c.${kind} ${rName}, ${uimm}(x2)`;
  switch (kind) {
    case 'lwsp':
      if (r === 0) throw new RangeError('c.lwsp with rd=x0 is reserved');
      return i2((2 << 13) | (bits(uimm, 5, 5) << 12) | (r << 7) | (bits(uimm, 4, 2) << 4) | (bits(uimm, 7, 6) << 2) | 2, text);
    case 'ldsp':
    case 'fldsp':
      if (kind === 'ldsp' && r === 0) throw new RangeError('c.ldsp with rd=x0 is reserved');
      return i2(((kind === 'ldsp' ? 3 : 1) << 13) | (bits(uimm, 5, 5) << 12) | (r << 7) | (bits(uimm, 4, 3) << 5) |
        (bits(uimm, 8, 6) << 2) | 2, text);
    case 'swsp':
      return i2((6 << 13) | (bits(uimm, 5, 2) << 9) | (bits(uimm, 7, 6) << 7) | (r << 2) | 2, text);
    case 'sdsp':
    case 'fsdsp':
      return i2(((kind === 'sdsp' ? 7 : 5) << 13) | (bits(uimm, 5, 3) << 10) | (bits(uimm, 8, 6) << 7) | (r << 2) | 2, text);
  }
};
export const cJr = (rs1: XReg): Insn => {
  if (rs1 === 0) throw new RangeError('c.jr with rs1=x0 is reserved');
  return i2((4 << 13) | (checkReg(rs1) << 7) | 2, `c.jr ${xn(rs1)}`);
};
export const cJalr = (rs1: XReg): Insn => {
  if (rs1 === 0) throw new RangeError('c.jalr with rs1=x0 is c.ebreak');
  return i2((4 << 13) | (1 << 12) | (checkReg(rs1) << 7) | 2, `c.jalr ${xn(rs1)}`);
};
export const cMv = (rd: XReg, rs2: XReg): Insn => {
  if (rd === 0 || rs2 === 0) throw new RangeError('c.mv with x0 is a HINT or c.jr');
  return i2((4 << 13) | (checkReg(rd) << 7) | (checkReg(rs2) << 2) | 2, `c.mv ${xn(rd)}, ${xn(rs2)}`);
};
export const cAdd = (rd: XReg, rs2: XReg): Insn => {
  if (rd === 0 || rs2 === 0) throw new RangeError('c.add with x0 is a HINT or c.jalr');
  return i2((4 << 13) | (1 << 12) | (checkReg(rd) << 7) | (checkReg(rs2) << 2) | 2, `c.add ${xn(rd)}, ${xn(rs2)}`);
};
export const cEbreak = (): Insn => i2(0x9002, 'c.ebreak');
