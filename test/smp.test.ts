// Harts on separate threads over one shared guest RAM: atomics must be atomic across them
// (unprivileged spec chapter 8). Two VP threads run test/smp/counters.S concurrently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { createVmMemory, ramBytes } from '../src/cpu/memory.js';
import { parseElf, loadElf } from '../src/parent/loader/elf.js';
import { Exit } from '../src/cpu/types.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RAM_BASE = 0x8000_0000n;
const RAM_SIZE = 16 * 1024 * 1024;
const ITERATIONS = 2000000n;

test('amoadd, lr/sc and amomax from two threads lose no update', async () => {
  const image = parseElf(readFileSync(root + 'test/smp/counters.elf'));
  const memory = createVmMemory(RAM_SIZE);
  const ram = ramBytes(memory, RAM_SIZE);
  loadElf(image, ram, RAM_BASE);
  const sym = (name: string) => { const v = image.symbols.get(name); assert.ok(v !== undefined, name); return v; };
  const harts = 2;
  const gate = new Int32Array(new SharedArrayBuffer(8)); // [0] harts ready, [1] go
  const started = Array.from({ length: harts }, (_, hartId) => new Promise<{ exit: number; tohost: bigint }>((resolve, reject) => {
    const w = new Worker(new URL('./smp/worker.js', import.meta.url), {
      workerData: { gate, memory, hartId, ramBase: RAM_BASE, ramSize: BigInt(RAM_SIZE), entry: image.entry, tohost: sym('tohost') },
    });
    w.once('message', resolve);
    w.once('error', reject);
  }));
  const all = Promise.all(started);
  while (Atomics.load(gate, 0) < harts) await new Promise((r) => setTimeout(r, 1));
  Atomics.store(gate, 1, 1);
  Atomics.notify(gate, 1);
  const results = await all;
  for (const r of results) { assert.equal(r.exit, Exit.Htif); assert.equal(r.tohost, 1n); }
  const view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const at = (name: string) => Number(sym(name) - RAM_BASE);
  assert.equal(view.getBigUint64(at('amo_counter'), true), ITERATIONS * BigInt(harts), 'amoadd.d total');
  assert.equal(view.getBigUint64(at('lrsc_counter'), true), ITERATIONS * BigInt(harts), 'lr/sc total');
  assert.equal(view.getUint32(at('max_value'), true), Number(ITERATIONS), 'amomax.w');
});
