// The translation tier (src/cpu/jit, src/cpu/core/jit.ts) against the cases the issue names:
// code changed by the guest, by the host and by another hart while translated; traps and
// exits in the middle of a block; interrupts arriving during long translated loops; exact
// instruction budgets; a bounded translation cache. Every block is translated at its first
// entry (threshold 1) and each program also runs on the interpreter, whose end state the
// translated run must equal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WasmHart, Exit, Priv, coreModule } from '../src/cpu/wasm-hart.js';
import { createVmMemory, ramBytes } from '../src/cpu/memory.js';
import { WrittenLog } from '../src/cpu/written-log.js';
import { CompileThread, compileChannel } from '../src/cpu/jit/compile-thread.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { MTIMECMP } from '../src/cpu/layout.js';
import {
  aluImm, aluReg, lui, auipc, jal, jalr, branch, load, store, csr, csrr, csrw, type Insn,
} from './diff/encoder.js';

const RAM_BASE = 0x8000_0000n;
const RAM_SIZE = 1 << 20;
const CSR_MTVEC = 0x305, CSR_MEPC = 0x341, CSR_MCAUSE = 0x342, CSR_MINSTRET = 0xb02, CSR_MIE = 0x304, CSR_MSTATUS = 0x300;
const addi = (rd: number, rs1: number, imm: number) => aluImm('addi', rd, rs1, imm);
const spin = () => jal(0, 0);

interface Machine { memory: WebAssembly.Memory; ram: Uint8Array; harts: WasmHart[]; log: WrittenLog }

function machine(jit: boolean, opts: { harts?: number; maxTranslations?: number; time?: () => bigint; compiler?: (m: WebAssembly.Memory) => CompileThread } = {}): Machine {
  const memory = createVmMemory(RAM_SIZE);
  const compiler = opts.compiler?.(memory);
  const harts = Array.from({ length: opts.harts ?? 1 }, (_, i) =>
    new WasmHart(memory, i, RAM_BASE, BigInt(RAM_SIZE), opts.time ?? (() => 0n), coreModule(),
      { jit, jitThreshold: 1, maxTranslations: opts.maxTranslations, compileChannel: compiler && compileChannel(compiler.port()) }));
  for (const h of harts) h.reset(RAM_BASE, Priv.M);
  return { memory, ram: ramBytes(memory, RAM_SIZE), harts, log: new WrittenLog(memory, RAM_SIZE) };
}

/** Writes instructions at a RAM offset (as a loader would, without marking: the RAM is fresh). */
function put(m: Machine, offset: number, insns: Insn[]): void {
  for (const i of insns) {
    for (let b = 0; b < i.size; b++) m.ram[offset + b] = (i.word >>> (8 * b)) & 0xff;
    offset += i.size;
  }
}
const word = (i: Insn) => i.word >>> 0;
const addr = (offset: number) => RAM_BASE + BigInt(offset);

/** Everything architectural the two tiers must agree on. */
function snapshot(h: WasmHart) {
  return {
    pc: h.pc, priv: h.priv, instret: h.instret,
    x: Array.from({ length: 32 }, (_, r) => h.x(r)),
    csrs: [CSR_MEPC, CSR_MCAUSE, 0x343, CSR_MSTATUS].map((c) => h.csr(c)),
  };
}

// f at 0x1000 adds 1 to x10 and returns; the main loop at 0 calls it forever: 4 instructions a call.
const LOOP = [jal(1, 0x1000), jal(0, -4)];
const F = [addi(10, 10, 1), jalr(0, 1, 0)];
const F_PATCHED = addi(10, 10, 100);

test('a store by the guest to translated code is seen at once, without fence.i', () => {
  for (const jit of [false, true]) {
    const m = machine(jit);
    // main: call f 100 times, patch f's first instruction (word kept at 0x3000), call f once, spin.
    put(m, 0, [
      addi(12, 0, 100), jal(1, 0x1000 - 4), addi(12, 12, -1), branch('bne', 12, 0, -8),
      aluImm('addi', 14, 0, 1), load('lwu', 13, 15, 0), store('sw', 13, 16, 0), jal(1, 0x1000 - 28), spin(),
    ]);
    put(m, 0x1000, F);
    new DataView(m.ram.buffer, m.ram.byteOffset).setUint32(0x3000, word(F_PATCHED), true);
    m.harts[0].setX(15, addr(0x3000));
    m.harts[0].setX(16, addr(0x1000));
    m.harts[0].run(10_000);
    assert.equal(m.harts[0].x(10), 200n, `${jit ? 'translated' : 'interpreted'}: 100 calls of f, then the patched f`);
    if (jit) assert.ok(m.harts[0].translation!.translated >= 2, 'f and the loop were translated');
  }
});

test('a write by the host (a device, a loader) to translated code is seen at the next entry', () => {
  const m = machine(true);
  put(m, 0, LOOP);
  put(m, 0x1000, F);
  const h = m.harts[0];
  assert.equal(h.run(400), Exit.Budget);
  assert.equal(h.x(10), 100n);
  put(m, 0x1000, [F_PATCHED]);
  m.log.mark(0x1000, 4); // what every host writer does (GuestMemory.willWrite, the loaders)
  assert.equal(h.run(400), Exit.Budget);
  assert.equal(h.x(10), 100n + 100n * 100n, 'the 100 calls after the write ran the new code');
});

/** LOOP calling F on a hart whose translations come from a compile thread. */
async function onCompileThread(body: (m: Machine, h: WasmHart) => Promise<void>): Promise<void> {
  let thread: CompileThread | undefined;
  const m = machine(true, { compiler: (mem) => { thread = new CompileThread(mem); thread.start(); return thread; } });
  try {
    put(m, 0, LOOP);
    put(m, 0x1000, F);
    await body(m, m.harts[0]);
  } finally {
    await thread?.terminate();
  }
}

test('on a compile thread: the hart interprets until the translation comes back, then runs it', () => onCompileThread(async (_m, h) => {
  assert.equal(h.run(400), Exit.Budget);
  assert.equal(h.x(10), 100n, 'interpreted while the compile thread works');
  for (let i = 0; i < 1000 && h.translation!.translated < 2; i++) { await sleep(10); h.run(4); }
  assert.ok(h.translation!.translated >= 2, 'f and the loop came back translated');
  assert.ok(h.translation!.hartMs < h.translation!.compileMs, 'compiling was not done on the hart\'s thread');
  const calls = h.x(10);
  assert.equal(h.run(4000), Exit.Budget);
  assert.equal(h.x(10), calls + 1000n, 'the translated loop computes what the interpreter does');
}));

test('on a compile thread: a translation of code written while it was compiled is dropped', () => onCompileThread(async (m, h) => {
  assert.equal(h.run(8), Exit.Budget); // f and the loop are asked for
  m.log.mark(0x1000, 4);
  put(m, 0x1000, [F_PATCHED]); // before the answer is taken
  for (let i = 0; i < 1000 && h.translation!.failed + h.translation!.translated < 2; i++) { await sleep(10); h.run(0); }
  assert.ok(h.translation!.failed >= 1, 'the translation of f made before the write was not installed');
  const before = h.x(10);
  assert.equal(h.run(400), Exit.Budget);
  assert.equal(h.x(10), before + 100n * 100n, 'the 100 calls after the write ran the new code');
}));

test('a write by another hart to code this hart translated is seen, even through a store TLB entry made before', () => {
  const m = machine(true, { harts: 2 });
  const [a, b] = m.harts;
  put(m, 0, LOOP);
  put(m, 0x1000, F);
  // Hart b: a store into f's page (filling its store TLB), then the patch of f, then spin.
  put(m, 0x2000, [store('sw', 13, 14, 0x100), store('sw', 15, 14, 0), spin()]);
  b.pc = addr(0x2000);
  b.setX(14, addr(0x1000));
  b.setX(15, BigInt(word(F_PATCHED)));
  assert.equal(b.run(1), Exit.Budget, 'b stored into the page before it held translations');
  assert.equal(a.run(400), Exit.Budget);
  assert.equal(a.x(10), 100n);
  assert.equal(b.run(1), Exit.Budget, 'b patched f');
  assert.equal(a.run(400), Exit.Budget);
  assert.equal(a.x(10), 100n + 100n * 100n, 'hart a ran the patched f');
});

test('an exit and a trap in the middle of a translated block leave exactly the interpreter\'s state', () => {
  const ends = [false, true].map((jit) => {
    const m = machine(jit);
    const h = m.harts[0];
    // Handler at 0x400 records the trap and spins. Main: registers before and after an MMIO
    // store (completed) and an MMIO load (faulted by the host), all in one block.
    put(m, 0x400, [csrr(20, CSR_MEPC), csrr(21, CSR_MCAUSE), csrr(22, CSR_MINSTRET), spin()]);
    put(m, 0, [
      auipc(5, 0), addi(5, 5, 0x400), csrw(CSR_MTVEC, 5), jal(0, 4), // a jump: the block below is entered fresh
      addi(6, 0, 1), addi(7, 6, 2), store('sd', 7, 8, 0), addi(9, 7, 3), load('ld', 10, 8, 8), addi(11, 0, 5), spin(),
    ]);
    h.setX(8, 0x1000_0000n); // outside RAM: MMIO
    const exits: Exit[] = [];
    for (let i = 0; i < 10; i++) {
      const exit = h.run(1000);
      exits.push(exit);
      if (exit === Exit.MmioStore) { assert.equal(h.exitValue, 3n); h.mmioComplete(0n); }
      else if (exit === Exit.MmioLoad) h.mmioFault();
      else break;
    }
    assert.deepEqual(exits, [Exit.MmioStore, Exit.MmioLoad, Exit.Budget]);
    return snapshot(h);
  });
  assert.equal(ends[1].x[9], 6n, 'the instruction after the completed store ran');
  assert.equal(ends[1].x[11], 0n, 'nothing after the faulting load ran');
  assert.equal(ends[1].x[20], addr(0x20), 'mepc is the load');
  assert.deepEqual(ends[1], ends[0]);
});

test('an interrupt during a long translated loop is taken at the same instruction as by the interpreter', () => {
  const ends = [false, true].map((jit) => {
    let t = 0n;
    const m = machine(jit, { time: () => t++ }); // every look at the clock moves it one tick
    const h = m.harts[0];
    put(m, 0x400, [csrr(21, CSR_MCAUSE), csrr(22, CSR_MEPC), spin()]);
    put(m, 0, [
      auipc(5, 0), addi(5, 5, 0x400), csrw(CSR_MTVEC, 5), addi(5, 0, 0x80), csrw(CSR_MIE, 5), csr('csrrsi', 0, CSR_MSTATUS, 8),
      addi(10, 10, 1), branch('bne', 10, 0, -4), // counts until interrupted
    ]);
    h.setField(MTIMECMP, 20n);
    h.run(5_000_000);
    return snapshot(h);
  });
  assert.equal(ends[1].x[21], (1n << 63n) | 7n, 'the machine timer interrupt was taken');
  assert.ok(ends[1].x[10] > 0n && ends[1].x[10] < 5_000_000n, `the loop ran ${ends[1].x[10]} times, then was interrupted`);
  assert.deepEqual(ends[1], ends[0]);
});

test('run(budget) retires exactly the budget in both tiers', () => {
  for (const budget of [1, 7, 1000, 65_537]) {
    const ends = [false, true].map((jit) => {
      const m = machine(jit);
      put(m, 0, LOOP);
      put(m, 0x1000, F);
      assert.equal(m.harts[0].run(budget), Exit.Budget);
      return snapshot(m.harts[0]);
    });
    assert.equal(ends[1].instret, BigInt(budget));
    assert.deepEqual(ends[1], ends[0]);
  }
});

test('translations are bounded: a full cache is dropped and the guest runs on correctly', () => {
  const m = machine(true, { maxTranslations: 4 });
  // 32 functions, one per page, each adding its number to x10; main calls each in turn, 3 rounds.
  const main: Insn[] = [addi(12, 0, 3)];
  for (let k = 0; k < 32; k++) main.push(jal(1, 0x1000 * (k + 1) + 0x10 - 4 * main.length));
  main.push(addi(12, 12, -1));
  main.push(branch('bne', 12, 0, -4 * (main.length - 1)), spin()); // back to the first call
  put(m, 0, main);
  for (let k = 0; k < 32; k++) put(m, 0x1000 * (k + 1) + 0x10, [addi(10, 10, k + 1), jalr(0, 1, 0)]);
  m.harts[0].run(100_000);
  assert.equal(m.harts[0].x(10), 3n * (32n * 33n / 2n));
  const t = m.harts[0].translation!;
  assert.ok(t.flushes > 0, `the cache was dropped when full: ${JSON.stringify(t)}`);
  assert.ok(t.translated > 32, `${t.translated} translations made, at most 4 held at a time`);
});

test('a guest that rewrites and runs new code endlessly stays within the cache bound', () => {
  const m = machine(true, { maxTranslations: 8 });
  // 500 times: add 1 << 20 to f's first word (its addi's immediate grows by one: a new
  // instruction every time), then call f.
  put(m, 0, [
    addi(12, 0, 500), lui(17, 0x100),
    load('lwu', 13, 16, 0), aluReg('add', 13, 13, 17), store('sw', 13, 16, 0), jal(1, 0x1000 - 0x14),
    addi(12, 12, -1), branch('bne', 12, 0, -20), spin(),
  ]);
  put(m, 0x1000, F); // addi x10, x10, 1 -> 2 -> 3 ... after each patch
  m.harts[0].setX(16, addr(0x1000));
  m.harts[0].run(1_000_000);
  assert.equal(m.harts[0].x(10), BigInt((2 + 501) * 500 / 2), 'each call ran the code just written');
  const t = m.harts[0].translation!;
  assert.ok(t.flushes > 0 && t.translated > 8);
});

test('a jump to a page no fetch can come from faults as the fetch should, in both tiers', () => {
  // The empty fetch cache names the page at 2^63 (core/hart.ts): a pc there, or in page 0,
  // must take the fetch's access fault, not run what the cache would point at.
  for (const target of [0x400n, (1n << 63n) + 4n]) {
    const ends = [false, true].map((jit) => {
      const m = machine(jit);
      const h = m.harts[0];
      put(m, 0x400, [csrr(20, CSR_MEPC), csrr(21, CSR_MCAUSE), spin()]);
      put(m, 0, [auipc(5, 0), addi(5, 5, 0x400), csrw(CSR_MTVEC, 5), jalr(0, 6, 0)]);
      h.setX(6, target);
      assert.equal(h.run(1000), Exit.Budget);
      return snapshot(h);
    });
    assert.equal(ends[0].x[21], 1n, 'instruction access fault');
    assert.equal(ends[0].x[20], target, 'at the jump target');
    assert.deepEqual(ends[1], ends[0]);
  }
});
