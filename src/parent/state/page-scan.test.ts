import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nonZeroRuns, type PageRun } from './page-scan.js';

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
