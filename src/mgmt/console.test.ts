import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scrollback } from './console.js';

const bytes = (s: string) => Buffer.from(s);
const text = (sb: Scrollback) => Buffer.from(sb.contents()).toString();

test('scrollback keeps the last `capacity` bytes, cutting the oldest chunk', () => {
  const sb = new Scrollback(8);
  assert.equal(text(sb), '');
  sb.push(bytes('abc'));
  sb.push(bytes('def'));
  assert.equal(text(sb), 'abcdef');
  sb.push(bytes('ghij'));
  assert.equal(text(sb), 'cdefghij');
  sb.push(bytes('0123456789'));
  assert.equal(text(sb), '23456789', 'a chunk larger than the capacity');
  sb.push(bytes('x'));
  assert.equal(text(sb), '3456789x');
  sb.clear();
  assert.equal(text(sb), '');
});

test('scrollback holds a bounded number of chunks however small they are', () => {
  const sb = new Scrollback(1024);
  for (let i = 0; i < 100_000; i++) sb.push(bytes(String(i % 10)));
  assert.equal(sb.contents().length, 1024);
  assert.ok((sb as unknown as { chunks: unknown[] }).chunks.length <= 1025);
  assert.equal(text(sb).slice(-3), '789');
});
