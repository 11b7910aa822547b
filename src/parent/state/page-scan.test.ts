import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countMarked, markedRuns, nonZeroRuns, type MarkedRun, type PageRun } from './page-scan.js';

/** The runs, found one byte at a time. */
function model(ram: Uint8Array, maxPages: number): PageRun[] {
  const out: PageRun[] = [];
  for (let p = 0; p < ram.length / 4096; p++) {
    if (!ram.subarray(p * 4096, (p + 1) * 4096).some((b) => b !== 0)) continue;
    const last = out.at(-1);
    if (last && last.first + last.count === p && last.count < maxPages) last.count++;
    else out.push({ first: p, count: 1 });
  }
  return out;
}

test('the runs are the non-zero pages, ascending, cut at maxPages, across 64 KiB blocks and a short last block', () => {
  let seed = 3;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / (1 << 24);
  for (const pages of [1, 5, 16, 17, 64, 300]) {
    for (const density of [0, 0.05, 0.5, 0.95, 1]) {
      const ram = new Uint8Array(pages * 4096);
      for (let p = 0; p < pages; p++) {
        // One byte anywhere in the page, often its last, where a scan that stops short would miss it.
        if (random() < density) ram[p * 4096 + (random() < 0.5 ? 4095 : Math.floor(random() * 4096))] = 1 + Math.floor(random() * 255);
      }
      for (const max of [1, 3, 1024]) assert.deepEqual([...nonZeroRuns(ram, max)], model(ram, max), `${pages} pages, density ${density}, max ${max}`);
    }
  }
});

test('a view into a larger buffer is scanned from its own start', () => {
  const buf = new Uint8Array(new SharedArrayBuffer(20 * 4096));
  buf[4096 * 3 + 7] = 1; // page 0 of the view
  buf[4096 * 2] = 1; // before the view
  assert.deepEqual([...nonZeroRuns(buf.subarray(3 * 4096, 19 * 4096), 1024)], [{ first: 0, count: 1 }]);
});

test('with the written-page log, pages it never saw written are zero without being read', () => {
  const ram = new Uint8Array(64 * 4096);
  ram[3 * 4096] = 1;      // logged: found
  ram[40 * 4096 + 7] = 2; // not logged: taken as zero (the log says nothing wrote it)
  const written = (p: number) => p === 3 || p === 9;
  assert.deepEqual([...nonZeroRuns(ram, 1024, written)], [{ first: 3, count: 1 }]);
  assert.deepEqual([...nonZeroRuns(ram, 1024)], [{ first: 3, count: 1 }, { first: 40, count: 1 }]);
});

// ---- markedRuns and countMarked: what a migration pass sends ----

/** RAM of `n` pages; the pages in `filled` get a byte (at the page's end: a scan that stops short misses it). */
function ramWith(n: number, filled: Iterable<number>): Uint8Array {
  const ram = new Uint8Array(n * 4096);
  for (const p of filled) ram[p * 4096 + 4095] = 1;
  return ram;
}
const bitsFor = (words: number, marked: Iterable<number>) => {
  const bits = new Uint32Array(words);
  for (const p of marked) bits[p >>> 5]! |= 1 << (p & 31);
  return bits;
};
const run = (first: number, count: number, zero: boolean): MarkedRun => ({ first, count, zero });

/** The runs, page by page: marked pages inside RAM, consecutive, alike in zero-ness, cut at maxPages. */
function markedModel(ram: Uint8Array, bits: Uint32Array, maxPages: number): MarkedRun[] {
  const out: MarkedRun[] = [];
  for (let p = 0; p < Math.min(ram.length / 4096, bits.length * 32); p++) {
    if ((bits[p >>> 5]! & (1 << (p & 31))) === 0) continue;
    const zero = !ram.subarray(p * 4096, (p + 1) * 4096).some((b) => b !== 0);
    const last = out.at(-1);
    if (last && last.first + last.count === p && last.zero === zero && last.count < maxPages) last.count++;
    else out.push({ first: p, count: 1, zero });
  }
  return out;
}

test('marked runs split where zero-ness changes and where a bit is clear', () => {
  const ram = ramWith(64, [0, 1, 4, 9, 10]);
  // Marked 0..5: non-zero 0-1, zero 2-3, non-zero 4, zero 5; 7 alone; 9-10 non-zero with 8 unmarked before them.
  assert.deepEqual([...markedRuns(ram, bitsFor(2, [0, 1, 2, 3, 4, 5, 7, 9, 10]), 1024)],
    [run(0, 2, false), run(2, 2, true), run(4, 1, false), run(5, 1, true), run(7, 1, true), run(9, 2, false)]);
  assert.deepEqual([...markedRuns(ram, bitsFor(2, []), 1024)], [], 'nothing marked, nothing sent');
});

test('marked runs are cut at maxPages, zero and non-zero alike, and go on across 32-page words', () => {
  const ram = ramWith(128, Array.from({ length: 40 }, (_, i) => 20 + i)); // non-zero 20..59
  const bits = bitsFor(4, Array.from({ length: 100 }, (_, i) => 20 + i)); // marked 20..119: words 0 to 3
  assert.deepEqual([...markedRuns(ram, bits, 1024)], [run(20, 40, false), run(60, 60, true)]);
  assert.deepEqual([...markedRuns(ram, bits, 16)],
    [run(20, 16, false), run(36, 16, false), run(52, 8, false), run(60, 16, true), run(76, 16, true), run(92, 16, true), run(108, 12, true)]);
  // A whole word set (0xffffffff: bit 31 is the sign bit) between two partly set ones.
  assert.deepEqual([...markedRuns(ramWith(96, []), bitsFor(3, Array.from({ length: 34 }, (_, i) => 31 + i)), 1024)], [run(31, 34, true)]);
});

test('bits past the end of RAM are ignored (the log\'s last word covers more pages than RAM has)', () => {
  const ram = ramWith(40, [39]);
  const all = new Uint32Array(4).fill(0xffff_ffff); // 128 bits for 40 pages
  assert.deepEqual([...markedRuns(ram, all, 1024)], [run(0, 39, true), run(39, 1, false)]);
});

test('markedRuns reads a view into a larger buffer from the view\'s own start', () => {
  const buf = new Uint8Array(new SharedArrayBuffer(8 * 4096));
  buf[2 * 4096] = 1;      // page 0 of the view
  buf[4096 + 4095] = 1;   // before the view
  assert.deepEqual([...markedRuns(buf.subarray(2 * 4096, 6 * 4096), bitsFor(1, [0, 1, 2, 3]), 1024)], [run(0, 1, false), run(1, 3, true)]);
});

test('marked runs match a page-by-page model over random RAM and bits', () => {
  let seed = 11;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / (1 << 24);
  for (const pages of [1, 31, 32, 33, 100, 300]) {
    for (const [dirty, marked] of [[0.5, 0.5], [0.1, 0.9], [0.9, 0.1], [1, 1], [0, 1]]) {
      const ram = ramWith(pages, Array.from({ length: pages }, (_, p) => p).filter(() => random() < dirty!));
      const bits = bitsFor(Math.ceil(pages / 32) + 1, Array.from({ length: pages + 32 }, (_, p) => p).filter(() => random() < marked!));
      for (const max of [1, 3, 1024]) assert.deepEqual([...markedRuns(ram, bits, max)], markedModel(ram, bits, max), `${pages} pages, ${dirty}/${marked}, max ${max}`);
    }
  }
});

test('countMarked counts every set bit, bit 31 and whole words included', () => {
  assert.equal(countMarked(new Uint32Array(0)), 0);
  assert.equal(countMarked(Uint32Array.of(0, 0x8000_0000, 1)), 2);
  assert.equal(countMarked(new Uint32Array(5).fill(0xffff_ffff)), 160);
  assert.equal(countMarked(bitsFor(8, [0, 5, 31, 32, 63, 200, 255])), 7);
});
