// Finding the non-zero pages of guest RAM, which is all a state stream stores of it. An
// idle guest's RAM is mostly zero, so the scan is the writer's main cost for it: a 64 KiB
// block is first compared whole with zeros (memcmp, through Buffer.compare), and only a
// block with something in it is looked at page by page. memcmp reads at memory speed: 256
// MiB in ~30 ms on the shared 2-core machine, about what a compare per page costs too (it
// makes 16 times as many calls), where a JS loop over 32-bit words took 70-110 ms.
import { PAGE_BYTES } from './format.js';

const BLOCK_BYTES = 64 << 10;
const ZERO_BLOCK = Buffer.alloc(BLOCK_BYTES);

/** A run of consecutive non-zero pages: [first, first + count). */
export interface PageRun { first: number; count: number }

/**
 * The runs of non-zero pages of `ram` (whole pages: its length is a multiple of 4 KiB),
 * in ascending order, none longer than `maxPages`. With `written` (the VM's written-page
 * log: false for a page never written since the memory was made, so still zero), such
 * pages are taken as zero without being read: reading a page for the first time costs a
 * page fault, which for an idle guest's untouched RAM is most of a save.
 */
export function* nonZeroRuns(ram: Uint8Array, maxPages: number, written?: (page: number) => boolean): Generator<PageRun> {
  const mem = Buffer.from(ram.buffer, ram.byteOffset, ram.byteLength);
  let first = 0;
  let count = 0;
  const untouched = (from: number, to: number): boolean => {
    if (!written) return false;
    for (let p = from / PAGE_BYTES; p < to / PAGE_BYTES; p++) if (written(p)) return false;
    return true;
  };
  for (let block = 0; block < ram.length; block += BLOCK_BYTES) {
    const blockEnd = Math.min(block + BLOCK_BYTES, ram.length);
    if (untouched(block, blockEnd) || mem.compare(ZERO_BLOCK, 0, blockEnd - block, block, blockEnd) === 0) {
      if (count > 0) yield { first, count };
      count = 0;
      continue;
    }
    for (let at = block; at < blockEnd; at += PAGE_BYTES) {
      if (!untouched(at, at + PAGE_BYTES) && mem.compare(ZERO_BLOCK, 0, PAGE_BYTES, at, at + PAGE_BYTES) !== 0) {
        if (count === 0) first = at / PAGE_BYTES;
        if (++count === maxPages) {
          yield { first, count };
          count = 0;
        }
      } else if (count > 0) {
        yield { first, count };
        count = 0;
      }
    }
  }
  if (count > 0) yield { first, count };
}

/** A run of consecutive pages that are all zero, or all not. */
export interface MarkedRun extends PageRun { zero: boolean }

/**
 * The pages whose bit is set in `bits` (one per page, as the written-page log holds them),
 * as runs of consecutive pages, each all zero or all non-zero, none longer than `maxPages`:
 * what a migration pass sends (the zero ones as ZERO frames, or not at all in the first
 * pass, when the destination's memory is zero).
 */
export function* markedRuns(ram: Uint8Array, bits: Uint32Array, maxPages: number): Generator<MarkedRun> {
  const mem = Buffer.from(ram.buffer, ram.byteOffset, ram.byteLength);
  const pages = ram.length / PAGE_BYTES;
  let run: MarkedRun | undefined;
  for (let w = 0; w < bits.length; w++) {
    const word = bits[w]!;
    if (word === 0) {
      if (run) { yield run; run = undefined; }
      continue;
    }
    for (let b = 0; b < 32; b++) {
      const p = w * 32 + b;
      if (p >= pages) break;
      if ((word & (1 << b)) === 0) {
        if (run) { yield run; run = undefined; }
        continue;
      }
      const at = p * PAGE_BYTES;
      const zero = mem.compare(ZERO_BLOCK, 0, PAGE_BYTES, at, at + PAGE_BYTES) === 0;
      if (run && run.zero === zero && run.first + run.count === p && run.count < maxPages) { run.count++; continue; }
      if (run) yield run;
      run = { first: p, count: 1, zero };
    }
  }
  if (run) yield run;
}

/** How many bits of `bits` are set: the pages a harvest found written. */
export function countMarked(bits: Uint32Array): number {
  let n = 0;
  for (let w = 0; w < bits.length; w++) {
    let v = bits[w]!;
    while (v !== 0) { v &= v - 1; n++; }
  }
  return n;
}
