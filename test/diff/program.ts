// The frame every differential test program shares: memory map, prologue, trap handler
// and the epilogue that dumps the architectural state over the UART and powers off.
//
//   0x8000_0000  code: prologue, body (the steps under test), epilogue, trap handler
//   0x8010_0c00  SAVE     x1..x31, f0..f31, fcsr as stored by the epilogue   (64 words)  ┐
//   0x8010_0e00  TRAPS    trap count, then (mcause, mtval, mepc) records      (64 words)  ├ dumped
//   0x8010_1000  SCRATCH  data region the body loads from and stores to       (4 KiB)     ┘
//   0x8010_2000  POOL     interesting constants the body reloads registers from
//   0x8010_2400  INIT     initial f0..f31, fcsr, x1..x31
//   0x8010_2600  HSAVE    trap handler's register save slots
//   0x8020_0000  page tables, for bodies that run in S- or U-mode under Sv39/Sv48
//
// SCRATCH is exactly one page. The last 3 words of TRAPS are never written by the handler,
// so accesses may straddle the page boundary at SCRATCH (PAGE_PAD bytes below it are free).
//
// Both QEMU's virt board and tshv put an ns16550a at 0x1000_0000 and a sifive,test0
// syscon at 0x10_0000; the program runs in M-mode from 0x8000_0000 with nothing else set up.

import * as A from './assembler.js';
import * as E from './encoder.js';
import type { Item, Label } from './assembler.js';
import type { Insn } from './encoder.js';
import { writeElf64 } from './elf.js';
import { li } from './macros.js';

export const CODE_BASE = 0x8000_0000;
export const DATA_BASE = 0x8010_0c00;
export const SAVE = DATA_BASE;
export const TRAPS = DATA_BASE + 0x200;
export const SCRATCH = DATA_BASE + 0x400;
export const SCRATCH_SIZE = 4096;
export const POOL = SCRATCH + SCRATCH_SIZE;
export const POOL_INT_WORDS = 64;
export const POOL_FP_WORDS = 64;
export const INIT = POOL + 0x400;
export const HSAVE = INIT + 0x200;
export const DATA_SIZE = HSAVE + 0x20 - DATA_BASE;
export const MAX_TRAP_RECORDS = 20;
/** Free bytes just below SCRATCH (the unused tail of TRAPS), for page-straddling accesses. */
export const PAGE_PAD = 24;
/** Traps beyond this many end the program (a runaway, e.g. a handler that cannot skip). */
export const RUNAWAY_TRAPS = 200;

/** Page tables (one table per level) for bodies run with translation on. */
export const PT_BASE = 0x8020_0000;
/** Identity-mapped with 4 KiB pages: code and data. */
export const MAPPED_BYTES = 0x20_0000;

export const UART = 0x1000_0000;
export const SYSCON = 0x10_0000;

/** Words the epilogue prints: SAVE, TRAPS and SCRATCH, contiguous from DATA_BASE. */
export const DUMP_WORDS = (SCRATCH + SCRATCH_SIZE - DATA_BASE) / 8;
if (SCRATCH % 4096 !== 0 || SCRATCH_SIZE !== 4096 || DUMP_WORDS !== 640) throw new Error('program.ts: memory map constants are inconsistent');
/** Word indices inside a dump. */
export const DUMP_X = 0; // x1..x31 at 0..30
export const DUMP_F = 31; // f0..f31 at 31..62
export const DUMP_FCSR = 63;
export const DUMP_TRAPS = (TRAPS - DATA_BASE) / 8;
export const DUMP_SCRATCH = (SCRATCH - DATA_BASE) / 8;

/** One unit of a test body: a few instructions that make sense only together. */
export interface Step {
  readonly items: readonly Item[];
}

/**
 * Where the body runs. Default: M-mode, no translation. Otherwise the prologue switches
 * to S- or U-mode with an identity map of 4 KiB pages (V R W X A D, and U for U-mode) over
 * code and data, and a final ecall returns to M-mode for the dump.
 */
export interface BodyMode {
  readonly priv: 'S' | 'U';
  readonly paging: 'sv39' | 'sv48';
  /** Leaf size: 4 KiB pages, or one 2 MiB megapage over everything. */
  readonly leaf: '4k' | '2m';
  /**
   * With 4 KiB leaves: the virtual page below SCRATCH is a second mapping of SCRATCH's
   * physical page, and the body uses both. A machine that confuses virtual and physical
   * addresses, or translates only the first page of a page-crossing access (here the
   * second half wraps to the start of the same physical page), stores to the wrong place.
   */
  readonly aliasScratch: boolean;
  /**
   * With 4 KiB leaves: the page above SCRATCH (POOL, INIT, HSAVE: read by the body, written
   * only in M-mode) is mapped without W, so a misaligned store straddling into it takes a
   * store page fault on its second portion and must leave the first portion unwritten.
   */
  readonly readOnlyAbove: boolean;
}

export interface ProgramSpec {
  readonly mode?: BodyMode;
  /** x0..x31 initial values (index 0 ignored). */
  readonly initX: readonly bigint[];
  /** f0..f31 initial bit patterns. */
  readonly initF: readonly bigint[];
  readonly initFcsr: number;
  readonly scratch: Uint8Array;
  readonly intPool: readonly bigint[];
  readonly fpPool: readonly bigint[];
  readonly body: readonly Step[];
}

export interface BuiltProgram {
  readonly elf: Uint8Array;
  /** Every instruction with its address, for failure reports. */
  readonly listing: readonly { pc: number; insn: Insn; step: number }[];
  /** The dump's initial contents (SAVE and TRAPS zero, SCRATCH as loaded). */
  readonly initialDump: BigUint64Array;
}

const i = A.insn;
const T0 = 5;

function prologue(handler: Label, mode: BodyMode | undefined, body: Label): Item[] {
  const items: Item[] = [
    A.la(T0, handler), i(E.csrw(E.CSR_MTVEC, T0)),
    // mstatus.FS = Dirty: the F and D instructions are legal (privileged spec §3.1.6.6).
    i(E.lui(T0, 6)), i(E.csrs(E.CSR_MSTATUS, T0)),
    A.la(T0, INIT),
  ];
  for (let f = 0; f < 32; f++) items.push(i(E.fload('D', f, T0, f * 8)));
  items.push(i(E.load('ld', 6, T0, 32 * 8)), i(E.csrw(E.CSR_FCSR, 6)));
  for (let x = 1; x < 32; x++) if (x !== T0) items.push(i(E.load('ld', x, T0, (32 + x) * 8)));
  if (mode) {
    // satp = MODE | PPN of the root table; mstatus.MPP = S or U; mret to the body
    // (privileged spec §4.1.11, §3.3.2). x5 and x6 are reloaded afterwards.
    const satpMode = mode.paging === 'sv39' ? 8n : 9n;
    // PMP entry 0: NAPOT over all of memory, RWX. With PMP implemented and no entry
    // matching, S- and U-mode accesses fail (privileged spec §3.7.1).
    items.push(
      i(E.aluImm('addi', T0, 0, -1)), i(E.shiftImm('srli', T0, T0, 10)), i(E.csrw(0x3b0, T0)),
      i(E.aluImm('addi', T0, 0, 0x1f)), i(E.csrw(0x3a0, T0)),
    );
    items.push(
      ...li(T0, (satpMode << 60n) | BigInt(PT_BASE / 4096)), i(E.csrw(0x180, T0)),
      i(E.lui(T0, 2)), i(E.aluImm('addi', T0, T0, -0x800)), i(E.csr('csrrc', 0, E.CSR_MSTATUS, T0)), // clear MPP (bits 12:11)
    );
    if (mode.priv === 'S') items.push(i(E.lui(T0, 1)), i(E.aluImm('addi', T0, T0, -0x800)), i(E.csrs(E.CSR_MSTATUS, T0))); // MPP = 01
    items.push(A.la(T0, body), i(E.csrw(E.CSR_MEPC, T0)), A.la(T0, INIT));
    items.push(i(E.load('ld', T0, T0, (32 + T0) * 8)), i(E.mret()));
  } else {
    items.push(i(E.load('ld', T0, T0, (32 + T0) * 8)));
  }
  items.push(A.label(body));
  return items;
}

/** Page tables mapping [RAM start, + MAPPED_BYTES) as BodyMode says. */
function pageTables(mode: BodyMode): Uint8Array {
  const levels = mode.paging === 'sv39' ? 3 : 4;
  const leafLevel = mode.leaf === '4k' ? 0 : 1;
  const tables = levels - leafLevel;
  const out = new Uint8Array(tables * 4096);
  const dv = new DataView(out.buffer);
  const V = 1n, R = 2n, W = 4n, X = 8n, U = 16n, A_ = 64n, D = 128n;
  const pte = (pa: number, flags: bigint): bigint => (BigInt(pa / 4096) << 10n) | flags;
  const vpn = (va: number, lvl: number): number => Math.floor(va / 2 ** (12 + 9 * lvl)) % 512;
  // table k at PT_BASE + k * 4096, k = 0 the root, one table per level down to the leaves
  for (let lvl = levels - 1, k = 0; lvl > leafLevel; lvl--, k++) {
    dv.setBigUint64(k * 4096 + vpn(CODE_BASE, lvl) * 8, pte(PT_BASE + (k + 1) * 4096, V), true);
  }
  const leafTable = (tables - 1) * 4096;
  const leafFlags = V | R | W | X | A_ | D | (mode.priv === 'U' ? U : 0n);
  if (mode.leaf === '2m') {
    dv.setBigUint64(leafTable + vpn(CODE_BASE, 1) * 8, pte(CODE_BASE, leafFlags), true);
    return out;
  }
  for (let p = 0; p < MAPPED_BYTES / 4096; p++) {
    const va = CODE_BASE + p * 4096;
    const pa = mode.aliasScratch && va === SCRATCH - 4096 ? SCRATCH : va;
    const flags = mode.readOnlyAbove && va === SCRATCH + SCRATCH_SIZE ? leafFlags & ~W : leafFlags;
    dv.setBigUint64(leafTable + vpn(va, 0) * 8, pte(pa, flags), true);
  }
  return out;
}

/** Saves every register to SAVE, prints DUMP_WORDS words as hex lines, powers off. */
function epilogue(end: Label): Item[] {
  const putc = new A.Label('putc');
  const wordLoop = new A.Label('dump_word');
  const nibLoop = new A.Label('dump_nibble');
  const digit = new A.Label('dump_digit');
  const halt = new A.Label('halt');
  const drain = new A.Label('drain');
  const items: Item[] = [
    A.label(end),
    i(E.csrw(E.CSR_MSCRATCH, 31)),
    A.la(31, SAVE),
  ];
  for (let x = 1; x <= 30; x++) items.push(i(E.store('sd', x, 31, (x - 1) * 8)));
  items.push(i(E.csrr(30, E.CSR_MSCRATCH)), i(E.store('sd', 30, 31, 30 * 8)));
  for (let f = 0; f < 32; f++) items.push(i(E.fstore('D', f, 31, (DUMP_F + f) * 8)));
  items.push(i(E.csrr(30, E.CSR_FCSR)), i(E.store('sd', 30, 31, DUMP_FCSR * 8)));
  items.push(
    A.la(8, DATA_BASE),
    i(E.aluImm('addi', 9, 0, DUMP_WORDS)),
    i(E.lui(18, UART >>> 12)),
    A.label(wordLoop),
    i(E.load('ld', 10, 8, 0)),
    i(E.aluImm('addi', 19, 0, 16)),
    A.label(nibLoop),
    i(E.shiftImm('srli', 11, 10, 60)),
    i(E.shiftImm('slli', 10, 10, 4)),
    i(E.aluImm('addi', 11, 11, 48)),
    i(E.aluImm('addi', 12, 0, 58)),
    A.toLabel(4, digit, (o) => E.branch('blt', 11, 12, o)),
    i(E.aluImm('addi', 11, 11, 39)),
    A.label(digit),
    A.toLabel(4, putc, (o) => E.jal(1, o)),
    i(E.aluImm('addi', 19, 19, -1)),
    A.toLabel(4, nibLoop, (o) => E.branch('bne', 19, 0, o)),
    i(E.aluImm('addi', 11, 0, 10)),
    A.toLabel(4, putc, (o) => E.jal(1, o)),
    i(E.aluImm('addi', 8, 8, 8)),
    i(E.aluImm('addi', 9, 9, -1)),
    A.toLabel(4, wordLoop, (o) => E.branch('bne', 9, 0, o)),
    // Wait for LSR.TEMT (bit 6): QEMU's UART may still hold the last byte for a retry
    // when its output pipe is full, and powering off would lose it.
    A.label(drain),
    i(E.load('lbu', 13, 18, 5)),
    i(E.aluImm('andi', 13, 13, 0x40)),
    A.toLabel(4, drain, (o) => E.branch('beq', 13, 0, o)),
    // sifive,test0: writing 0x5555 means "pass, power off".
    i(E.lui(5, SYSCON >>> 12)),
    i(E.lui(6, 5)), i(E.aluImm('addi', 6, 6, 0x555)),
    i(E.store('sw', 6, 5, 0)),
    A.label(halt),
    A.toLabel(4, halt, (o) => E.jal(0, o)),
    // putc(x11): wait for LSR.THRE (bit 5 of the line status register at +5), then send.
    A.label(putc),
    i(E.load('lbu', 13, 18, 5)),
    i(E.aluImm('andi', 13, 13, 0x20)),
    A.toLabel(4, putc, (o) => E.branch('beq', 13, 0, o)),
    i(E.store('sb', 11, 18, 0)),
    i(E.jalr(0, 1, 0)),
  );
  return items;
}

/**
 * Trap handler: records (mcause, mtval, mepc) for the first MAX_TRAP_RECORDS traps, counts
 * all of them, and resumes after the trapping instruction (2 or 4 bytes, from its low
 * bits, Unprivileged ISA §1.5). Uses mscratch and HSAVE only, so the body must not write
 * mscratch.
 */
function handler(self: Label, end: Label, finalEcall: Label | undefined): Item[] {
  const skipRecord = new A.Label('trap_skip_record');
  const short = new A.Label('trap_short');
  const runaway = new A.Label('trap_runaway');
  return [
    A.align4(),
    A.label(self),
    i(E.csrw(E.CSR_MSCRATCH, 31)),
    A.la(31, HSAVE),
    i(E.store('sd', 30, 31, 0)), i(E.store('sd', 29, 31, 8)), i(E.store('sd', 28, 31, 16)),
    A.la(30, TRAPS),
    i(E.load('ld', 29, 30, 0)), i(E.aluImm('addi', 29, 29, 1)), i(E.store('sd', 29, 30, 0)),
    i(E.aluImm('addi', 28, 0, RUNAWAY_TRAPS)),
    A.toLabel(4, runaway, (o) => E.branch('bgeu', 29, 28, o)),
    // the ecall that ends a body run in S- or U-mode: on to the dump, in M-mode
    ...(finalEcall ? [
      i(E.csrr(28, E.CSR_MEPC)), A.la(30, finalEcall),
      A.toLabel(4, runaway, (o) => E.branch('beq', 28, 30, o)), A.la(30, TRAPS),
    ] : []),
    i(E.aluImm('addi', 28, 0, MAX_TRAP_RECORDS + 1)),
    A.toLabel(4, skipRecord, (o) => E.branch('bgeu', 29, 28, o)),
    // record address = TRAPS + 8 + (count - 1) * 24 = TRAPS + count * 24 - 16
    i(E.shiftImm('slli', 28, 29, 4)), i(E.aluReg('add', 30, 30, 28)),
    i(E.shiftImm('slli', 28, 29, 3)), i(E.aluReg('add', 30, 30, 28)),
    i(E.csrr(28, E.CSR_MCAUSE)), i(E.store('sd', 28, 30, -16)),
    i(E.csrr(28, E.CSR_MTVAL)), i(E.store('sd', 28, 30, -8)),
    i(E.csrr(28, E.CSR_MEPC)), i(E.store('sd', 28, 30, 0)),
    A.label(skipRecord),
    i(E.csrr(30, E.CSR_MEPC)),
    i(E.load('lhu', 29, 30, 0)),
    i(E.aluImm('andi', 29, 29, 3)),
    i(E.aluImm('addi', 29, 29, -3)),
    i(E.aluImm('addi', 30, 30, 2)),
    A.toLabel(4, short, (o) => E.branch('bne', 29, 0, o)),
    i(E.aluImm('addi', 30, 30, 2)),
    A.label(short),
    i(E.csrw(E.CSR_MEPC, 30)),
    i(E.load('ld', 30, 31, 0)), i(E.load('ld', 29, 31, 8)), i(E.load('ld', 28, 31, 16)),
    i(E.csrr(31, E.CSR_MSCRATCH)),
    i(E.mret()),
    A.label(runaway),
    i(E.load('ld', 30, 31, 0)), i(E.load('ld', 29, 31, 8)), i(E.load('ld', 28, 31, 16)),
    i(E.csrr(31, E.CSR_MSCRATCH)),
    A.toLabel(4, end, (o) => E.jal(0, o)),
  ];
}

function putU64(view: DataView, off: number, v: bigint): void { view.setBigUint64(off, v, true); }

/** Builds the ELF for a spec, keeping only the first `steps` body steps if given. */
export function buildProgram(spec: ProgramSpec, steps = spec.body.length): BuiltProgram {
  const end = new A.Label('end');
  const trap = new A.Label('trap_handler');
  const bodyStart = new A.Label('body');
  const finalEcall = spec.mode ? new A.Label('final_ecall') : undefined;
  const items: Item[] = [...prologue(trap, spec.mode, bodyStart)];
  const stepOfItem: number[] = items.map(() => -1);
  spec.body.slice(0, steps).forEach((s, n) => {
    for (const it of s.items) { items.push(it); stepOfItem.push(n); }
  });
  const tail = [...(finalEcall ? [A.label(finalEcall), i(E.ecall())] : []), ...epilogue(end), ...handler(trap, end, finalEcall)];
  for (const it of tail) { items.push(it); stepOfItem.push(-1); }

  const asm = A.assemble(items, CODE_BASE);
  const listing = asm.listing.map((l) => ({ pc: l.pc, insn: l.insn, step: stepOfItem[l.item]! }));

  const data = new Uint8Array(DATA_SIZE);
  const dv = new DataView(data.buffer);
  data.set(spec.scratch.subarray(0, SCRATCH_SIZE), SCRATCH - DATA_BASE);
  spec.intPool.slice(0, POOL_INT_WORDS).forEach((v, k) => putU64(dv, POOL - DATA_BASE + k * 8, v));
  spec.fpPool.slice(0, POOL_FP_WORDS).forEach((v, k) => putU64(dv, POOL - DATA_BASE + (POOL_INT_WORDS + k) * 8, v));
  for (let f = 0; f < 32; f++) putU64(dv, INIT - DATA_BASE + f * 8, spec.initF[f] ?? 0n);
  putU64(dv, INIT - DATA_BASE + 32 * 8, BigInt(spec.initFcsr));
  for (let x = 1; x < 32; x++) putU64(dv, INIT - DATA_BASE + (32 + x) * 8, spec.initX[x] ?? 0n);

  if (asm.bytes.length > DATA_BASE - CODE_BASE) throw new Error('program code overlaps the data region');
  const elf = writeElf64(CODE_BASE, [
    { vaddr: CODE_BASE, data: asm.bytes, flags: 5 },
    { vaddr: DATA_BASE, data, flags: 6 },
    ...(spec.mode ? [{ vaddr: PT_BASE, data: pageTables(spec.mode), flags: 4 }] : []),
  ]);
  const initialDump = new BigUint64Array(DUMP_WORDS);
  for (let k = 0; k < DUMP_WORDS; k++) initialDump[k] = dv.getBigUint64(k * 8, true);
  return { elf, listing, initialDump };
}

/** Address of the k-th integer / floating-point pool constant. */
export const poolInt = (k: number): number => POOL + k * 8;
export const poolFp = (k: number): number => POOL + (POOL_INT_WORDS + k) * 8;
