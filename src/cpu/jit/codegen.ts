// Emits a WebAssembly function for each region (region.ts): its guest registers in wasm
// locals, its blocks in a loop dispatched by a br_table (a block's fall-through successor
// placed right after it needs no dispatch), the TLB fast path of loads and stores inline.
// Node-free.
//
// The function is   (pc: i64, n: i32, lim: i32, block: i32) -> i32
// Any block of the region can be entered: `block` is its index, pc its virtual address (a
// translation is keyed by physical address, so every pc-relative value is computed from
// pc's page), n the instructions counted so far in this run, lim the interpreter's limit. It returns the new count with the core's `pc` global
// set to where the interpreter goes on. It leaves exactly the state the interpreter would:
//   - a block runs only if all of it fits before lim (so counts and limits stay exact);
//   - a slow-path load or store sets `pc` and `icount` as the interpreter does before
//     calling the same core function; if that traps or exits (`excepted`), the function
//     writes its registers back and returns the core's count, the trap already taken;
//   - after a slow path that ended the slice (a store to a translated page, HTIF), it
//     stops after that instruction.
import { Bytes, Op, I32, I64, VOID, writeModule, type FuncDef, type ValType } from './wasm-writer.js';
import type { Region, Block, Insn } from './region.js';

/** The core's exports a translation imports (src/cpu/core/index.ts), in import order. */
export const CORE_GLOBALS = [
  ['S', I32], ['pc', I64], ['icount', I32], ['limit', I32], ['excepted', I32], ['tlbLoad', I32], ['tlbStore', I32],
] as const;
export const CORE_FUNCS = [
  { name: 'loadSlow', params: [I64, I32, I32, I32], results: [I64] },
  { name: 'storeSlow', params: [I64, I32, I64, I32], results: [] },
  { name: 'mulh', params: [I64, I64], results: [I64] },
  { name: 'mulhu', params: [I64, I64], results: [I64] },
  { name: 'mulhsu', params: [I64, I64], results: [I64] },
] as const satisfies readonly { name: string; params: ValType[]; results: ValType[] }[];

const G = Object.fromEntries(CORE_GLOBALS.map(([name], i) => [name, i])) as Record<(typeof CORE_GLOBALS)[number][0], number>;
const F = Object.fromEntries(CORE_FUNCS.map((f, i) => [f.name, i])) as Record<(typeof CORE_FUNCS)[number]['name'], number>;

/** Geometry of the software TLB (layout.ts), and loadSlow's destination flags (execute.ts). */
export interface CoreLayout { tlbEntries: number; tlbEntryBytes: number; memoryMaximumPages: number }
const RD_SIGNED = 1 << 6;

// Parameters and fixed locals. L_PC holds the virtual address of the page after the prologue.
const L_PC = 0, L_N = 1, L_LIM = 2, L_B = 3, L_S = 4, L_TL = 5, L_TS = 6, L_VA = 7, L_E = 8, L_T = 9;
const PARAMS: ValType[] = [I64, I32, I32, I32];
const FIXED_LOCALS: ValType[] = [I32, I32, I32, I64, I32, I64]; // s, tl, ts, va, e, t
const FIRST_REG_LOCAL = PARAMS.length + FIXED_LOCALS.length;

/** Emits one module for regions: region i is the function exported as `exportName(i)`. */
export function generate(regions: readonly Region[], layout: CoreLayout): Uint8Array<ArrayBuffer> {
  return writeModule({
    memory: { module: 'env', name: 'memory', maximum: layout.memoryMaximumPages },
    globals: CORE_GLOBALS.map(([name, type]) => ({ module: 'core', name, type, mutable: true })),
    funcs: CORE_FUNCS.map((f) => ({ module: 'core', name: f.name, params: [...f.params], results: [...f.results] })),
    fns: regions.map((r, i) => new Generator(r, layout).func(exportName(i))),
  });
}

/** The export name of a module's i-th region. */
export const exportName = (i: number): string => `r${i}`;

class Generator {
  private readonly out = new Bytes();
  /** wasm local of each guest register used (x0 has none). */
  private readonly regLocal = new Map<number, number>();
  private readonly written = new Set<number>();
  private readonly blockIndex = new Map<number, number>();
  /** Structured-control nesting inside the current block's code, below its labels. */
  private depth = 0;
  private current = 0;

  constructor(private readonly region: Region, private readonly layout: CoreLayout) {
    region.blocks.forEach((b, i) => this.blockIndex.set(b.start, i));
    for (const b of region.blocks) for (const insn of b.insns) this.noteRegisters(insn);
  }

  func(exportName: string): FuncDef {
    this.body();
    const locals: ValType[] = [...FIXED_LOCALS, ...[...this.regLocal.keys()].map(() => I64 as ValType)];
    return { params: PARAMS, results: [I32], locals, body: this.out, exportName };
  }

  // --- registers ---------------------------------------------------------------------------

  private noteRegisters(insn: Insn): void {
    const { inst } = insn;
    const op = inst & 0x7f;
    const rd = (inst >>> 7) & 31, rs1 = (inst >>> 15) & 31, rs2 = (inst >>> 20) & 31;
    const use = (r: number) => { if (r !== 0 && !this.regLocal.has(r)) this.regLocal.set(r, FIRST_REG_LOCAL + this.regLocal.size); };
    const def = (r: number) => { use(r); if (r !== 0) this.written.add(r); };
    if (op !== 0x37 && op !== 0x17 && op !== 0x6f && op !== 0x0f) use(rs1);
    if (op === 0x63 || op === 0x23 || op === 0x33 || op === 0x3b) use(rs2);
    if (op !== 0x63 && op !== 0x23 && op !== 0x0f) def(rd);
  }

  /** Pushes register r (x0 reads as zero). */
  private get(r: number): void {
    if (r === 0) this.out.byte(Op.i64_const).s64(0n);
    else this.out.byte(Op.local_get).u32(this.regLocal.get(r)!);
  }
  /** Pops into register r (a write to x0 is dropped). */
  private set(r: number): void {
    if (r === 0) this.out.byte(Op.drop);
    else this.out.byte(Op.local_set).u32(this.regLocal.get(r)!);
  }

  // --- helpers -----------------------------------------------------------------------------

  private op(...codes: number[]): void { this.out.bytes(codes); }
  private i32(v: number): void { this.out.byte(Op.i32_const).s32(v); }
  private i64(v: bigint | number): void { this.out.byte(Op.i64_const).s64(BigInt(v)); }
  private lget(l: number): void { this.out.byte(Op.local_get).u32(l); }
  private lset(l: number): void { this.out.byte(Op.local_set).u32(l); }
  private ltee(l: number): void { this.out.byte(Op.local_tee).u32(l); }
  private gget(g: number): void { this.out.byte(Op.global_get).u32(g); }
  private gset(g: number): void { this.out.byte(Op.global_set).u32(g); }
  private call(f: number): void { this.out.byte(Op.call).u32(f); }
  private mem(op: number, align: number, offset: number): void { this.out.byte(op).u32(align).u32(offset); }
  private open(kind: number, type: number = VOID): void { this.out.byte(kind).byte(type); this.depth++; }
  private close(): void { this.out.byte(Op.end); this.depth--; }
  private else_(): void { this.out.byte(Op.else); }

  /** Label depths from inside block `current`'s code: its successors' labels, then the loop, then exit. */
  private brDispatch(): void { this.out.byte(Op.br).u32(this.region.blocks.length - 1 - this.current + this.depth); }
  private brExit(): void { this.out.byte(Op.br).u32(this.region.blocks.length - this.current + this.depth); }

  /** Pushes the virtual address of page offset off. */
  private pcOf(off: number): void {
    this.lget(L_PC);
    if (off !== 0) { this.i64(off); this.op(Op.i64_add); }
  }

  /** Leaves for the interpreter at page offset off (n already counts what ran). */
  private exitTo(off: number): void {
    this.pcOf(off);
    this.gset(G.pc);
    this.brExit();
  }

  /** Continues at page offset off: the block there, or the interpreter. */
  private goto(off: number): void {
    const i = this.blockIndex.get(off);
    if (i === undefined) { this.exitTo(off); return; }
    this.i32(i); this.lset(L_B); this.brDispatch();
  }

  // --- the function ------------------------------------------------------------------------

  private body(): void {
    const blocks = this.region.blocks;
    // Prologue: the page's virtual address, the core's per-hart values, the registers used.
    this.lget(L_PC); this.i64(-4096); this.op(Op.i64_and); this.lset(L_PC);
    this.gget(G.S); this.lset(L_S);
    this.gget(G.tlbLoad); this.lset(L_TL);
    this.gget(G.tlbStore); this.lset(L_TS);
    for (const [r, l] of this.regLocal) { this.lget(L_S); this.mem(Op.i64_load, 3, r * 8); this.lset(l); }

    this.out.byte(Op.block).byte(VOID);   // exit
    this.out.byte(Op.loop).byte(VOID);    // dispatch
    for (let i = blocks.length - 1; i >= 0; i--) this.out.byte(Op.block).byte(VOID);
    this.lget(L_B);
    this.out.byte(Op.br_table).u32(blocks.length);
    for (let i = 0; i < blocks.length; i++) this.out.u32(i);
    this.out.u32(0);
    for (let i = 0; i < blocks.length; i++) {
      this.out.byte(Op.end); // closes block i: its code follows
      this.current = i;
      this.depth = 0;
      this.block(blocks[i], blocks[i + 1]);
    }
    this.out.byte(Op.end); // loop (never falls out: every block ends with a branch)
    this.out.byte(Op.end); // exit
    // Epilogue: registers back to the state block, the count to the dispatcher.
    for (const r of this.written) { this.lget(L_S); this.get(r); this.mem(Op.i64_store, 3, r * 8); }
    this.lget(L_N);
  }

  private block(b: Block, next: Block | undefined): void {
    const k = b.insns.length;
    // Runs only if all k instructions fit before lim.
    this.lget(L_N); this.i32(k); this.op(Op.i32_add); this.lget(L_LIM); this.op(Op.i32_gt_s);
    this.open(Op.if);
    this.exitTo(b.start);
    this.close();

    b.insns.forEach((insn, j) => { if (insn.kind !== 'branch' && insn.kind !== 'jal' && insn.kind !== 'jalr') this.insn(insn, j); });
    const last = b.insns[k - 1];
    const end = b.end;
    const fallTo = (off: number) => { if (!next || next.start !== off) this.goto(off); };
    switch (end.kind) {
      case 'fall': this.count(k); fallTo(end.next); break;
      case 'stop': this.count(k); this.exitTo(end.at); break;
      case 'branch': {
        this.branchCondition(last.inst);
        this.count(k);
        this.open(Op.if);
        this.goto(end.taken);
        this.close();
        fallTo(end.next);
        break;
      }
      case 'jal': {
        const rd = (last.inst >>> 7) & 31;
        if (rd !== 0) { this.pcOf(last.off + last.len); this.set(rd); }
        this.count(k);
        this.goto(end.target);
        break;
      }
      case 'jalr': {
        const rd = (last.inst >>> 7) & 31, rs1 = (last.inst >>> 15) & 31;
        // The target is computed before rd is written: rd may be rs1.
        this.get(rs1); this.i64(last.inst >> 20); this.op(Op.i64_add); this.i64(-2); this.op(Op.i64_and);
        this.gset(G.pc);
        if (rd !== 0) { this.pcOf(last.off + last.len); this.set(rd); }
        this.count(k);
        this.brExit();
        break;
      }
    }
  }

  /** n += k: the block's instructions have run. */
  private count(k: number): void { this.lget(L_N); this.i32(k); this.op(Op.i32_add); this.lset(L_N); }

  /** Pushes the i32 condition of a branch instruction (2.5). */
  private branchCondition(inst: number): void {
    const f3 = (inst >>> 12) & 7;
    this.get((inst >>> 15) & 31); this.get((inst >>> 20) & 31);
    this.op([Op.i64_eq, Op.i64_ne, 0, 0, Op.i64_lt_s, Op.i64_ge_s, Op.i64_lt_u, Op.i64_ge_u][f3]);
  }

  // --- instructions ------------------------------------------------------------------------

  private insn(insn: Insn, j: number): void {
    const { inst } = insn;
    const rd = (inst >>> 7) & 31, rs1 = (inst >>> 15) & 31, rs2 = (inst >>> 20) & 31;
    const f3 = (inst >>> 12) & 7, f7 = inst >>> 25;
    const immI = inst >> 20;
    switch (inst & 0x7f) {
      // LUI, AUIPC: `inst & 0xfffff000` is a signed 32-bit number in JS, so the 64-bit
      // constant comes out sign-extended as the spec asks.
      case 0x37: if (rd) { this.i64(inst & 0xfffff000); this.set(rd); } return;
      case 0x17: if (rd) { this.pcOf(insn.off); this.i64(inst & 0xfffff000); this.op(Op.i64_add); this.set(rd); } return;
      case 0x0f: return; // FENCE, FENCE.I
      case 0x03: this.load(insn, j); return;
      case 0x23: this.store(insn, j); return;
      case 0x13: if (rd) { this.opImm(f3, rs1, immI, inst); this.set(rd); } return;
      case 0x1b: if (rd) { this.opImm32(f3, f7, rs1, rs2, immI); this.set(rd); } return;
      case 0x33: if (rd) { this.opReg(f3, f7, rs1, rs2); this.set(rd); } return;
      case 0x3b: if (rd) { this.opReg32(f3, f7, rs1, rs2); this.set(rd); } return;
    }
    throw new Error(`codegen: unexpected instruction ${inst.toString(16)}`);
  }

  private opImm(f3: number, rs1: number, imm: number, inst: number): void {
    this.get(rs1);
    switch (f3) {
      case 0: this.i64(imm); this.op(Op.i64_add); return;
      case 1: this.i64(imm & 63); this.op(Op.i64_shl); return;
      case 2: this.i64(imm); this.op(Op.i64_lt_s, Op.i64_extend_i32_u); return;
      case 3: this.i64(imm); this.op(Op.i64_lt_u, Op.i64_extend_i32_u); return;
      case 4: this.i64(imm); this.op(Op.i64_xor); return;
      case 5: this.i64(imm & 63); this.op((inst >>> 26) === 0 ? Op.i64_shr_u : Op.i64_shr_s); return;
      case 6: this.i64(imm); this.op(Op.i64_or); return;
      default: this.i64(imm); this.op(Op.i64_and); return;
    }
  }

  private opImm32(f3: number, f7: number, rs1: number, shamt: number, imm: number): void {
    this.get(rs1); this.op(Op.i32_wrap_i64);
    if (f3 === 0) { this.i32(imm); this.op(Op.i32_add); }
    else { this.i32(shamt); this.op(f3 === 1 ? Op.i32_shl : f7 === 0 ? Op.i32_shr_u : Op.i32_shr_s); }
    this.op(Op.i64_extend_i32_s);
  }

  private opReg(f3: number, f7: number, rs1: number, rs2: number): void {
    if (f7 === 1) { this.mulDiv(f3, rs1, rs2); return; }
    this.get(rs1); this.get(rs2);
    if (f7 === 0x20) { this.op(f3 === 0 ? Op.i64_sub : Op.i64_shr_s); return; }
    switch (f3) {
      case 0: this.op(Op.i64_add); return;
      case 1: this.op(Op.i64_shl); return;   // wasm shifts take the count mod 64, as RV64 does
      case 2: this.op(Op.i64_lt_s, Op.i64_extend_i32_u); return;
      case 3: this.op(Op.i64_lt_u, Op.i64_extend_i32_u); return;
      case 4: this.op(Op.i64_xor); return;
      case 5: this.op(Op.i64_shr_u); return;
      case 6: this.op(Op.i64_or); return;
      default: this.op(Op.i64_and); return;
    }
  }

  private opReg32(f3: number, f7: number, rs1: number, rs2: number): void {
    if (f7 === 1) { this.mulDivW(f3, rs1, rs2); return; }
    this.get(rs1); this.op(Op.i32_wrap_i64); this.get(rs2); this.op(Op.i32_wrap_i64);
    if (f7 === 0x20) this.op(f3 === 0 ? Op.i32_sub : Op.i32_shr_s);
    else this.op(f3 === 0 ? Op.i32_add : f3 === 1 ? Op.i32_shl : Op.i32_shr_u);
    this.op(Op.i64_extend_i32_s);
  }

  /** M extension, 64-bit (7.1, 7.2): division by zero and overflow as in table 7.1, never a wasm trap. */
  private mulDiv(f3: number, a: number, b: number): void {
    const ab = () => { this.get(a); this.get(b); };
    switch (f3) {
      case 0: ab(); this.op(Op.i64_mul); return;
      case 1: ab(); this.call(F.mulh); return;
      case 2: ab(); this.call(F.mulhsu); return;
      case 3: ab(); this.call(F.mulhu); return;
    }
    const signed = f3 === 4 || f3 === 6, rem = f3 >= 6;
    // b == 0: quotient all ones, remainder a.
    this.get(b); this.op(Op.i64_eqz);
    this.open(Op.if, I64);
    if (rem) this.get(a); else this.i64(-1);
    this.else_();
    if (signed && !rem) {
      // MIN / -1 overflows: the quotient is MIN (= a). (wasm rem_s gives 0 there, as RISC-V does.)
      this.get(a); this.i64(-(1n << 63n)); this.op(Op.i64_eq); this.get(b); this.i64(-1); this.op(Op.i64_eq, Op.i32_and);
      this.open(Op.if, I64);
      this.get(a);
      this.else_();
      ab(); this.op(Op.i64_div_s);
      this.close();
    } else {
      ab(); this.op(signed ? Op.i64_rem_s : rem ? Op.i64_rem_u : Op.i64_div_u);
    }
    this.close();
  }

  /** MULW, DIVW, DIVUW, REMW, REMUW: on the low 32 bits, the result sign-extended. */
  private mulDivW(f3: number, a: number, b: number): void {
    const A = () => { this.get(a); this.op(Op.i32_wrap_i64); };
    const B = () => { this.get(b); this.op(Op.i32_wrap_i64); };
    if (f3 === 0) { A(); B(); this.op(Op.i32_mul, Op.i64_extend_i32_s); return; }
    const signed = f3 === 4 || f3 === 6, rem = f3 >= 6;
    B(); this.op(Op.i32_eqz);
    this.open(Op.if, I32);
    if (rem) A(); else this.i32(-1);
    this.else_();
    if (signed && !rem) {
      A(); this.i32(-0x80000000); this.op(Op.i32_eq); B(); this.i32(-1); this.op(Op.i32_eq, Op.i32_and);
      this.open(Op.if, I32);
      A();
      this.else_();
      A(); B(); this.op(Op.i32_div_s);
      this.close();
    } else {
      A(); B(); this.op(signed ? Op.i32_rem_s : rem ? Op.i32_rem_u : Op.i32_div_u);
    }
    this.close();
    this.op(Op.i64_extend_i32_s);
  }

  // --- memory ------------------------------------------------------------------------------

  /**
   * Pushes the TLB test for the address in L_VA with the TLB whose base is in local `tlb`:
   * leaves the entry's address in L_E and an i32 that is true on a hit (the fast path of
   * execute.ts: (va ^ tag) <= 4096 - size checks the page and the in-page bounds at once).
   */
  private tlbHit(tlb: number, size: number): void {
    this.lget(L_VA); this.i64(12); this.op(Op.i64_shr_u, Op.i32_wrap_i64);
    this.i32(this.layout.tlbEntries - 1); this.op(Op.i32_and);
    this.i32(Math.log2(this.layout.tlbEntryBytes)); this.op(Op.i32_shl);
    this.lget(tlb); this.op(Op.i32_add); this.ltee(L_E);
    this.mem(Op.i64_load, 3, 0); this.lget(L_VA); this.op(Op.i64_xor);
    this.i64(4096 - size); this.op(Op.i64_le_u);
  }

  /** Pushes the host address of L_VA through the TLB entry in L_E. */
  private hostAddress(): void {
    this.lget(L_VA); this.lget(L_E); this.mem(Op.i64_load, 3, 8); this.op(Op.i64_add, Op.i32_wrap_i64);
  }

  /** Before a slow path: the interpreter's pc and count at instruction j of the block. */
  private syncForSlowPath(insn: Insn, j: number): void {
    this.pcOf(insn.off); this.gset(G.pc);
    this.lget(L_N); this.i32(j + 1); this.op(Op.i32_add); this.gset(G.icount);
  }

  /**
   * After a slow path: on a trap or exit, leave with the core's count; else a load's value
   * (on the stack when rd is given) goes to rd; if the slice was ended (limit lowered),
   * leave after this instruction.
   */
  private afterSlowPath(insn: Insn, j: number, rd?: number): void {
    if (rd !== undefined) this.lset(L_T);
    this.gget(G.excepted);
    this.open(Op.if);
    this.gget(G.icount); this.lset(L_N); this.brExit();
    this.close();
    if (rd !== undefined) { this.lget(L_T); this.set(rd); }
    this.gget(G.limit); this.lget(L_N); this.i32(j + 1); this.op(Op.i32_add); this.op(Op.i32_le_s);
    this.open(Op.if);
    this.lget(L_N); this.i32(j + 1); this.op(Op.i32_add); this.lset(L_N);
    this.exitTo(insn.off + insn.len);
    this.close();
  }

  private load(insn: Insn, j: number): void {
    const { inst } = insn;
    const rd = (inst >>> 7) & 31, rs1 = (inst >>> 15) & 31, f3 = (inst >>> 12) & 7;
    const size = 1 << (f3 & 3);
    this.get(rs1); this.i64(inst >> 20); this.op(Op.i64_add); this.lset(L_VA);
    this.tlbHit(L_TL, size);
    this.open(Op.if);
    this.hostAddress();
    this.mem([Op.i64_load8_s, Op.i64_load16_s, Op.i64_load32_s, Op.i64_load, Op.i64_load8_u, Op.i64_load16_u, Op.i64_load32_u][f3], 0, 0);
    this.set(rd);
    this.else_();
    this.syncForSlowPath(insn, j);
    this.lget(L_VA); this.i32(size); this.i32(rd | (f3 < 3 ? RD_SIGNED : 0)); this.i32(insn.len);
    this.call(F.loadSlow);
    if (f3 < 3) { const sh = 64 - 8 * size; this.i64(sh); this.op(Op.i64_shl); this.i64(sh); this.op(Op.i64_shr_s); }
    this.afterSlowPath(insn, j, rd);
    this.close();
  }

  private store(insn: Insn, j: number): void {
    const { inst } = insn;
    const rs1 = (inst >>> 15) & 31, rs2 = (inst >>> 20) & 31, f3 = (inst >>> 12) & 7;
    const size = 1 << f3;
    const immS = ((inst >> 20) & ~0x1f) | ((inst >>> 7) & 0x1f);
    this.get(rs1); this.i64(immS); this.op(Op.i64_add); this.lset(L_VA);
    this.tlbHit(L_TS, size);
    this.open(Op.if);
    this.hostAddress();
    this.get(rs2);
    this.mem([Op.i64_store8, Op.i64_store16, Op.i64_store32, Op.i64_store][f3], 0, 0);
    this.else_();
    this.syncForSlowPath(insn, j);
    this.lget(L_VA); this.i32(size); this.get(rs2);
    if (size < 8) { this.i64((1n << BigInt(8 * size)) - 1n); this.op(Op.i64_and); }
    this.i32(insn.len);
    this.call(F.storeSlow);
    this.afterSlowPath(insn, j);
    this.close();
  }
}
