import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHUNK_BYTES, DirtyChunks, allChunks, dirtyRuns } from './dirty-chunks.js';

const runsOf = (bits: Uint32Array, size: number, max = 1 << 20) => [...dirtyRuns(bits, size, max)].map((r) => [r.offset, r.length]);

test('a write marks every chunk it touches, and a harvest takes them and starts again', () => {
  const size = 40 * CHUNK_BYTES + 512; // a last chunk of one sector
  const d = new DirtyChunks(size);
  d.mark(CHUNK_BYTES - 512, 1024);          // across chunks 0 and 1
  d.mark(5 * CHUNK_BYTES, CHUNK_BYTES);     // chunk 5 exactly
  d.mark(40 * CHUNK_BYTES, 512);            // the short last chunk
  d.mark(7 * CHUNK_BYTES, 0);               // nothing
  assert.deepEqual(runsOf(d.harvest(), size), [[0, 2 * CHUNK_BYTES], [5 * CHUNK_BYTES, CHUNK_BYTES], [40 * CHUNK_BYTES, 512]]);
  assert.deepEqual(runsOf(d.harvest(), size), [], 'nothing written since');
  d.mark(33 * CHUNK_BYTES + 1, 1);
  assert.deepEqual(runsOf(d.harvest(), size), [[33 * CHUNK_BYTES, CHUNK_BYTES]]);
});

test('runs are cut at the largest a frame takes and end at the disk\'s end', () => {
  const size = 100 * CHUNK_BYTES - 4096;
  const runs = runsOf(allChunks(size), size, 16 * CHUNK_BYTES);
  assert.equal(runs.length, 7);
  assert.deepEqual(runs[0], [0, 16 * CHUNK_BYTES]);
  assert.deepEqual(runs[6], [96 * CHUNK_BYTES, 4 * CHUNK_BYTES - 4096]);
  assert.equal(runs.reduce((n, [, l]) => n + l!, 0), size, 'every byte once');
});
