import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateError, StateReader, base64ToBytes, bytesToBase64 } from './contract.js';

test('base64 round-trips every length and refuses what is not base64', () => {
  for (let n = 0; n < 40; n++) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
    const s = bytesToBase64(b);
    assert.equal(s, Buffer.from(b).toString('base64'));
    assert.deepEqual(base64ToBytes(s), b);
  }
  for (const bad of ['a', 'ab=c', '@@@@', 'ab==cd==', 'abc=abcd', '\u00e9bcd']) assert.equal(base64ToBytes(bad), undefined, bad);
});

test('the reader checks arrays, nested objects, strings and bytes, naming the field', () => {
  const r = new StateReader('dev', { version: 2, a: [1, 2, 3], o: { x: '5' }, s: 'ok', b: bytesToBase64(new Uint8Array(10)) }, 2);
  assert.deepEqual(r.array('a', 3, r.intItem(0, 9)), [1, 2, 3]);
  assert.throws(() => r.array('a', 2, r.intItem(0, 9)), /dev state: a is not an array of 2 entries/);
  assert.throws(() => r.array('a', [0, 3], r.intItem(0, 1)), /a\[1\] is not an integer in 0\.\.1/);
  assert.equal(r.object('o').bigint('x', 0n, 9n), 5n);
  assert.throws(() => r.object('s'), /dev o|dev s state: is not an object/);
  assert.throws(() => r.object('o').bigint('x', 6n, 9n), StateError);
  assert.equal(r.string('s', 2), 'ok');
  assert.throws(() => r.string('s', 1), /s is not a valid string/);
  assert.equal(r.bytes('b', 10).length, 10);
  assert.throws(() => r.bytes('b', 9), /at most 9 bytes/);
  assert.throws(() => new StateReader('dev', { version: 1 }, 2), /version 1 is not 2/);
});
