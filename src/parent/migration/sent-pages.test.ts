// SentPages: a page written again with the bytes last sent is recognised; any change,
// however small, is not; a forgotten page is sent again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SentPages } from './sent-pages.js';

test('a page is unchanged only when its bytes are the ones last sent', () => {
  const ram = new Uint8Array(4 * 4096);
  for (let i = 0; i < ram.length; i++) ram[i] = (i * 7) & 0xff;
  const sent = new SentPages(ram);
  assert.equal(sent.unchanged(1), false, 'never sent: it goes');
  assert.equal(sent.unchanged(1), true, 'the same bytes again: it stays out');
  ram[4096 + 4095] ^= 1;
  assert.equal(sent.unchanged(1), false, 'one bit changed in its last byte: it goes');
  assert.equal(sent.unchanged(1), true);
  // Words swapped: the same bytes in another order are another page.
  const w = new Uint32Array(ram.buffer, 4096, 1024);
  [w[3], w[4]] = [w[4]!, w[3]!];
  assert.equal(sent.unchanged(1), false, 'two words swapped: it goes');
  sent.forget(1);
  assert.equal(sent.unchanged(1), false, 'forgotten (sent as zero meanwhile): it goes');
  assert.equal(sent.unchanged(2), false, 'each page has its own record');
});
