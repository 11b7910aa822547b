import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteRing } from './byte-ring.js';

test('bytes come out in order and a full ring takes only what fits', () => {
  const r = ByteRing.create(8);
  assert.equal(r.write(Uint8Array.from([1, 2, 3, 4, 5, 6])), 6);
  assert.deepEqual([...r.read()], [1, 2, 3, 4, 5, 6]);
  assert.equal(r.write(Uint8Array.from([7, 8, 9, 10, 11, 12, 13, 14, 15, 16])), 8); // wraps
  assert.equal(r.available, 8);
  assert.deepEqual([...r.read()], [7, 8, 9, 10, 11, 12, 13, 14]);
  assert.equal(r.read().length, 0);
});

test('capacity must be a power of two', () => {
  assert.throws(() => ByteRing.create(100), /power of two/);
});

test('a read takes at most what is asked for; the rest stays, in order', () => {
  const r = ByteRing.create(8);
  r.write(Uint8Array.from([1, 2, 3, 4, 5]));
  assert.deepEqual([...r.read(2)], [1, 2]);
  assert.equal(r.available, 3);
  assert.equal(r.write(Uint8Array.from([6, 7, 8, 9, 10, 11])), 5);
  assert.deepEqual([...r.read(0)], []);
  assert.deepEqual([...r.read()], [3, 4, 5, 6, 7, 8, 9, 10]);
});
