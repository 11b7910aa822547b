// The written-page log: the core logs every page it stores to (plain, crossing a page,
// atomic), and the host's marks cover exactly the pages of a byte range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WasmHart, Exit, Priv } from './wasm-hart.js';
import { createVmMemory, ramBytes } from './memory.js';
import { WrittenLog, PAGE_BYTES } from './written-log.js';

const RAM_BASE = 0x8000_0000n;
const RAM_SIZE = 1 << 20;
const EBREAK = 0x00100073;
/** auipc: rd = pc + (imm << 12) (lui would sign-extend RAM_BASE's bit 31 on RV64). */
const auipc = (rd: number, imm: number) => ((imm & 0xfffff) << 12) | (rd << 7) | 0x17;
const addi = (rd: number, rs1: number, imm: number) => ((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13;
const sd = (rs2: number, rs1: number, imm: number) => (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (3 << 12) | ((imm & 0x1f) << 7) | 0x23;
const amoaddw = (rd: number, rs1: number, rs2: number) => (0 << 27 | rs2 << 20 | rs1 << 15 | 2 << 12 | rd << 7 | 0x2f) >>> 0;
const logged = (log: WrittenLog) => Array.from({ length: log.pages }, (_, p) => p).filter((p) => log.written(p));

test('the core logs the pages it stores to: a store, one across two pages, an AMO; loads and fetches log nothing', () => {
  const memory = createVmMemory(RAM_SIZE);
  const ram = new Uint32Array(ramBytes(memory, RAM_SIZE).buffer, ramBytes(memory, RAM_SIZE).byteOffset, RAM_SIZE / 4);
  // x5 = RAM_BASE + 0x5000; sd x5, 0(x5); x6 = x5 + 6 * 0x7fc: sd at +0x14 across pages 7 and 8; x7 in page 0xc: amoadd.w; ebreak
  const program = [
    auipc(5, 5), sd(5, 5, 0), addi(6, 5, 0x7fc), addi(6, 6, 0x7fc), addi(6, 6, 0x7fc), addi(6, 6, 0x7fc), addi(6, 6, 0x7fc),
    addi(6, 6, 0x7fc), sd(5, 6, 0x14), auipc(7, 0xc), amoaddw(0, 7, 5), EBREAK,
  ];
  ram.set(program.map((x) => x >>> 0), 0);
  const log = new WrittenLog(memory, RAM_SIZE);
  const hart = new WasmHart(memory, 0, RAM_BASE, BigInt(RAM_SIZE), () => 0n);
  hart.reset(RAM_BASE, Priv.M);
  // Everything up to the ebreak (no trap handler: it would trap forever).
  assert.equal(hart.run(program.length - 1), Exit.Budget);
  assert.equal(hart.pc, RAM_BASE + BigInt((program.length - 1) * 4), 'no instruction trapped');
  const crossing = 0x5000 + 6 * 0x7fc + 0x14;
  assert.equal(Math.floor(crossing / PAGE_BYTES) + 1, Math.floor((crossing + 7) / PAGE_BYTES), 'the second store crosses a page');
  assert.deepEqual(logged(log), [5, Math.floor(crossing / PAGE_BYTES), Math.floor(crossing / PAGE_BYTES) + 1, 0xc].sort((a, b) => a - b));
  assert.ok(!log.written(0), 'fetching the program logs nothing');
});

test('host marks cover exactly the pages of the range, whole words and edges alike', () => {
  const memory = createVmMemory(RAM_SIZE);
  const log = new WrittenLog(memory, RAM_SIZE);
  log.mark(PAGE_BYTES - 1, 2);            // the last byte of page 0 and the first of page 1
  log.mark(40 * PAGE_BYTES, 70 * PAGE_BYTES); // pages 40..109: two whole 32-page words in the middle
  log.mark(RAM_SIZE - 1, 100);            // clamped to the last page
  log.mark(5 * PAGE_BYTES, 0);            // nothing
  const expected = [0, 1, ...Array.from({ length: 70 }, (_, i) => 40 + i), RAM_SIZE / PAGE_BYTES - 1];
  assert.deepEqual(logged(log), expected);
  assert.throws(() => new WrittenLog(memory, 2 ** 33), /does not fit/);
});

// ---- harvest and restore: a live migration takes the log once per pass (docs/migration.md) ----

/** The pages whose bits are set in a harvest's result. */
const pagesIn = (bits: Uint32Array) => Array.from({ length: bits.length * 32 }, (_, p) => p).filter((p) => (bits[p >>> 5]! & (1 << (p & 31))) !== 0);

test('harvest takes the bits, in the log\'s layout, and leaves the log clear', () => {
  const log = new WrittenLog(createVmMemory(RAM_SIZE), RAM_SIZE);
  for (const p of [0, 31, 32, 95, 255]) log.mark(p * PAGE_BYTES, 1); // word edges, bit 31 (the sign bit) included
  const bits = log.harvest();
  assert.equal(bits.length, RAM_SIZE / PAGE_BYTES / 32);
  assert.deepEqual(pagesIn(bits), [0, 31, 32, 95, 255]);
  assert.deepEqual(logged(log), [], 'the log is clear');
  assert.deepEqual(pagesIn(log.harvest()), [], 'a second harvest finds nothing');
});

test('pages marked between two harvests are in the second, and only they', () => {
  const log = new WrittenLog(createVmMemory(RAM_SIZE), RAM_SIZE);
  log.mark(5 * PAGE_BYTES, 1);
  assert.deepEqual(pagesIn(log.harvest()), [5]);
  log.mark(5 * PAGE_BYTES, 1); // written again after it was copied: sent again
  log.mark(64 * PAGE_BYTES, 40 * PAGE_BYTES); // pages 64..103: a whole word and part of the next
  assert.deepEqual(pagesIn(log.harvest()), [5, ...Array.from({ length: 40 }, (_, i) => 64 + i)]);
});

test('restore sets again what a harvest took, keeping what was marked since', () => {
  const log = new WrittenLog(createVmMemory(RAM_SIZE), RAM_SIZE);
  log.mark(10 * PAGE_BYTES, 1);
  const first = log.harvest();
  log.mark(11 * PAGE_BYTES, 1);
  const second = log.harvest();
  log.mark(200 * PAGE_BYTES, 1);
  // A migration that fails puts back the union of what its passes took.
  const union = first.slice();
  for (let w = 0; w < union.length; w++) union[w]! |= second[w]!;
  log.restore(union);
  assert.deepEqual(logged(log), [10, 11, 200]);
  // A longer array (another VM's size) is taken as far as this log goes.
  const longer = new Uint32Array(first.length + 4).fill(0xffff_ffff);
  longer.fill(0, 0, first.length);
  longer[0] = 1 << 3;
  log.restore(longer);
  assert.deepEqual(logged(log), [3, 10, 11, 200]);
});
