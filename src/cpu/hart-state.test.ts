// A hart's saved state: every SAVED field survives a JSON round trip into another VM's
// memory, a guest program carries on from it as if never interrupted, and hostile input
// is refused without touching the state block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WasmHart, Exit, Priv } from './wasm-hart.js';
import { createVmMemory, ramBytes } from './memory.js';
import * as L from './layout.js';
import { saveHartState, restoreHartState, type HartState } from './hart-state.js';
import { StateError } from '../state/contract.js';

const RAM_BASE = 0x8000_0000n;
const RAM_SIZE = 1 << 16;
const HART = 1;

function block(memory: WebAssembly.Memory, hart = HART): BigUint64Array {
  return new BigUint64Array(memory.buffer, L.STATE_BLOCKS_OFFSET + hart * L.STATE_BLOCK_BYTES, L.STATE_BLOCK_BYTES / 8);
}

test('the saved fields are every field of the table but the exit record, CFG_TOHOST and the cross-thread requests', () => {
  const saved = new Set<number>();
  for (const f of L.SAVED_FIELDS) for (let i = 0; i < f.count; i++) saved.add(f.offset + 8 * i);
  const transient = [L.EXIT_ADDR, L.EXIT_VALUE, L.EXIT_WIDTH, L.EXIT_RD, L.EXIT_INST_LEN, L.CFG_TOHOST, L.TLB_FLUSH_REQ, L.STOP_REQ];
  for (let at = 0; at <= L.STOP_REQ; at += 8) assert.equal(saved.has(at), !transient.includes(at), `word at ${at}`);
  assert.deepEqual(L.SAVED_FIELDS.map((f) => f.name).slice(0, 3), ['X', 'F', 'PC']);
});

test('every saved field survives save, JSON and restore into another memory; the exit record is cleared and the TLB flushed', () => {
  const a = createVmMemory(RAM_SIZE);
  const src = block(a);
  // A distinctive value in every saved word, above 2^63 so no sign or precision is lost.
  let k = 0;
  for (const f of L.SAVED_FIELDS) for (let i = 0; i < f.count; i++) src[f.offset / 8 + i] = 0xf000_0000_0000_0000n | BigInt(++k * 0x0101);
  src[L.PRIV / 8] = 1n;
  src[L.MHARTID / 8] = BigInt(HART);
  src[L.SATP / 8] = (8n << 60n) | 0x1234n;
  src[L.IRQ_LINES / 8] = 0x202n;

  const saved = JSON.parse(JSON.stringify(saveHartState(a, HART))) as HartState;
  assert.equal(saved.version, 1);
  assert.deepEqual(Object.keys(saved).sort(), ['version', ...L.SAVED_FIELDS.map((f) => f.name)].sort());
  assert.equal(saved.X.length, 32);
  assert.equal(saved.X[0], '0', 'x0 is zero, whatever the last instruction left in its word');
  assert.equal(saved.PC, src[L.PC / 8].toString());

  const b = createVmMemory(RAM_SIZE);
  const dst = block(b);
  for (const f of [L.EXIT_ADDR, L.EXIT_VALUE, L.EXIT_WIDTH, L.EXIT_RD, L.EXIT_INST_LEN]) dst[f / 8] = 7n;
  dst[L.CFG_TOHOST / 8] = 0x8000_1000n;
  restoreHartState(b, HART, saved);
  for (const f of L.SAVED_FIELDS) {
    for (let i = f.offset === L.X ? 1 : 0; i < f.count; i++) assert.equal(dst[f.offset / 8 + i], src[f.offset / 8 + i], `${f.name}[${i}]`);
  }
  assert.equal(dst[L.X / 8], 0n);
  for (const f of [L.EXIT_ADDR, L.EXIT_VALUE, L.EXIT_WIDTH, L.EXIT_RD, L.EXIT_INST_LEN]) assert.equal(dst[f / 8], 0n, `exit record at ${f}`);
  assert.equal(dst[L.CFG_TOHOST / 8], 0x8000_1000n, 'this run\'s wiring stays');
  assert.equal(dst[L.TLB_FLUSH_REQ / 8], 1n);
  assert.equal(block(b, 0)[L.PC / 8], 0n, 'no other hart touched');
});

// x5 counts to 1000 in a loop, then the hart waits in WFI (exit WFI: nothing is enabled).
const addi = (rd: number, rs1: number, imm: number) => ((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13;
const bne = (rs1: number, rs2: number, off: number) => (((off >> 12) & 1) << 31 | ((off >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15
  | 1 << 12 | ((off >> 1) & 0xf) << 8 | ((off >> 11) & 1) << 7 | 0x63) >>> 0;
const WFI = 0x10500073;
const COUNT = [addi(5, 0, 0), addi(6, 0, 1000), addi(5, 5, 1), bne(5, 6, -4), WFI];

function machine(): { memory: WebAssembly.Memory; hart: WasmHart } {
  const memory = createVmMemory(RAM_SIZE);
  const ram = new Uint32Array(ramBytes(memory, RAM_SIZE).buffer, L.RAM_OFFSET, RAM_SIZE / 4);
  ram.set(COUNT);
  ram.fill(WFI, 0x1000 / 4, 0x2000 / 4); // the page the poisoned TLB entry below points at
  return { memory, hart: new WasmHart(memory, HART, RAM_BASE, BigInt(RAM_SIZE), () => 0n) };
}

function runToWfi(hart: WasmHart): void {
  let exit: Exit;
  do exit = hart.run(1 << 16); while (exit === Exit.Budget);
  assert.equal(exit, Exit.Wfi);
}

/**
 * Leaves a fetch-TLB entry in the M set that maps the program's page onto the page of
 * WFIs: a hart that ran with other page tables before the restore.
 */
function poisonTlb(memory: WebAssembly.Memory): void {
  const at = (L.TLB_OFFSET + 2 * L.TLB_SET_BYTES + 2 * L.TLB_KIND_BYTES) / 8;
  block(memory)[at] = RAM_BASE;
  block(memory)[at + 1] = BigInt.asUintN(64, BigInt(L.RAM_OFFSET + 0x1000) - RAM_BASE);
}

test('a guest program restored mid-loop into another VM finishes exactly as the original does; stale TLB entries are not used', () => {
  const a = machine();
  a.hart.reset(RAM_BASE, Priv.M);
  assert.equal(a.hart.run(501), Exit.Budget);
  const saved = JSON.parse(JSON.stringify(saveHartState(a.memory, HART)));
  assert.ok(a.hart.x(5) > 0n && a.hart.x(5) < 1000n, 'saved mid-loop');
  runToWfi(a.hart);
  assert.equal(a.hart.x(5), 1000n);

  const b = machine();
  poisonTlb(b.memory);
  restoreHartState(b.memory, HART, saved);
  runToWfi(b.hart);
  assert.deepEqual([b.hart.x(5), b.hart.pc, b.hart.instret], [a.hart.x(5), a.hart.pc, a.hart.instret]);

  // The same restore without the flush request runs the WFIs of the poisoned page: the
  // check above would fail if the restore did not flush.
  const c = machine();
  poisonTlb(c.memory);
  restoreHartState(c.memory, HART, saved);
  block(c.memory)[L.TLB_FLUSH_REQ / 8] = 0n;
  runToWfi(c.hart);
  assert.notEqual(c.hart.x(5), 1000n);
});

test('a hostile hart state is refused with a StateError naming the field, and the block is unchanged', () => {
  const m = machine();
  m.hart.reset(RAM_BASE, Priv.S);
  m.hart.setX(5, 42n);
  const good = JSON.parse(JSON.stringify(saveHartState(m.memory, HART))) as Record<string, unknown>;
  const x = (i: number, v: string) => (good.X as string[]).map((r, j) => (j === i ? v : r));
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['wrong version', { ...good, version: 2 }, /version 2 is not 1/],
    ['no version', { ...good, version: undefined }, /version/],
    ['missing field', { ...good, PC: undefined }, /PC is not an integer string/],
    ['2^64', { ...good, MEPC: '18446744073709551616' }, /MEPC out of range/],
    ['negative', { ...good, SEPC: '-1' }, /SEPC out of range/],
    ['a number, not a string', { ...good, STVEC: 4096 }, /STVEC is not an integer string/],
    ['x0 not zero', { ...good, X: x(0, '1') }, /X\[0\] is not 0/],
    ['register out of range', { ...good, X: x(7, '99999999999999999999') }, /X\[7\] out of range/],
    ['31 registers', { ...good, X: (good.X as string[]).slice(1) }, /X is not an array of 32/],
    ['F not an array', { ...good, F: '0' }, /F is not an array/],
    ['PRIV 2', { ...good, PRIV: '2' }, /PRIV is not 0, 1 or 3/],
    ['PRIV 7', { ...good, PRIV: '7' }, /PRIV/],
    ['another hart\'s id', { ...good, MHARTID: '0' }, /MHARTID is not 1/],
    ['satp MODE 5', { ...good, SATP: (5n << 60n).toString() }, /SATP MODE/],
    ['lines above the low word', { ...good, IRQ_LINES: (1n << 32n).toString() }, /IRQ_LINES out of range/],
    ['not an object', [] as unknown as Record<string, unknown>, /is not an object/],
  ];
  const before = block(m.memory).slice();
  for (const [name, state, message] of cases) {
    assert.throws(() => restoreHartState(m.memory, HART, state), (e: unknown) => e instanceof StateError && /^hart 1 state: /.test(e.message) && message.test(e.message), name);
    assert.deepEqual(block(m.memory), before, `${name}: block unchanged`);
  }
  restoreHartState(m.memory, HART, good); // and the untouched state is accepted
  assert.equal(m.hart.x(5), 42n);
});
