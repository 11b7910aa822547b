import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory, gpaFromHalves } from './guest-memory.js';

const BASE = 0x8000_0000;

test('contains: whole ranges inside RAM only, no NaN, negative or unsafe numbers', () => {
  const mem = new GuestMemory(new Uint8Array(4096), BASE);
  assert.ok(mem.contains(BASE, 4096));
  assert.ok(mem.contains(BASE + 4096, 0));
  assert.ok(!mem.contains(BASE + 4096, 1));
  assert.ok(!mem.contains(BASE - 1, 1));
  assert.ok(!mem.contains(BASE + 1, 4096));
  assert.ok(!mem.contains(BASE, -1));
  assert.ok(!mem.contains(NaN, 1));
  assert.ok(!mem.contains(BASE, NaN));
  assert.ok(!mem.contains(BASE + 0.5, 1));
  assert.ok(!mem.contains(2 ** 53, 1));
  assert.ok(!mem.contains(BASE, 2 ** 53));
  assert.equal(mem.bytes(BASE + 4000, 97), undefined);
  const b = mem.bytes(BASE + 16, 8)!;
  assert.equal(b.byteOffset, 16);
  assert.equal(b.length, 8);
  assert.equal(mem.bufferOffset(BASE + 100), 100);
});

test('gpaFromHalves: 64-bit register pairs, anything at or past 2^53 refused', () => {
  assert.equal(gpaFromHalves(0x8000_0000, 0), BASE);
  assert.equal(gpaFromHalves(-1, 0), 0xffff_ffff);
  assert.equal(gpaFromHalves(0, 1), 2 ** 32);
  assert.equal(gpaFromHalves(0xffff_ffff, 0x1f_ffff), 2 ** 53 - 1);
  assert.equal(gpaFromHalves(0, 0x20_0000), undefined);
  assert.equal(gpaFromHalves(0x8000_0000, 0xffff_ffff), undefined);
  assert.equal(gpaFromHalves(0, -1), undefined);
});
