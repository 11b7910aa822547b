// ByteSource.ofReadable: a migration's connection as a byte source. The sender is
// untrusted, so what it can make the reader hold is bounded by bytes and by pieces (a
// WebSocket message is one piece), and the pieces are read in order however they are cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import { ByteSource } from './byte-source.js';
import { StateStreamError } from './format.js';

/** Bytes the connection still holds (its readable buffer, and the writes behind it). */
const held = (conn: PassThrough) => conn.readableLength + conn.writableLength;
const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 0xff);

/** A connection that has delivered everything the sender wrote before anyone reads. */
async function delivered(pieces: readonly Uint8Array[], end = true): Promise<{ conn: PassThrough; src: ByteSource }> {
  const conn = new PassThrough();
  const src = ByteSource.ofReadable(conn, 'conn');
  for (const p of pieces) conn.write(p);
  if (end) conn.end();
  for (let i = 0; i < 5; i++) await turn();
  return { conn, src };
}

test('bytes come in order whatever the pieces; a short stream is truncated, naming what was read', async () => {
  const all = bytes(300_000);
  const pieces: Uint8Array[] = [];
  for (let at = 0, k = 1; at < all.length; at += k, k = (k * 5 + 3) % 9000 + 1) pieces.push(all.subarray(at, at + k));
  const { src } = await delivered(pieces);
  const got = new Uint8Array(all.length);
  got.set(await src.take(10, 'a header'), 0);
  await src.fill(got.subarray(10, 200_000), 'a payload'); // large: read straight into its destination
  await src.fill(got.subarray(200_000), 'the rest');
  assert.deepEqual(got, all);
  assert.ok(await src.atEnd());
  await assert.rejects(src.take(1, 'one more'), (e: unknown) => e instanceof StateStreamError && /conn: truncated at byte 300000, in one more/.test(e.message));
});

test('a sender of many tiny pieces is held back by their number, far below the byte bound', async () => {
  // 20000 one-byte pieces: 20 KB, nothing against 16 MiB, but 20000 objects in a queue
  // (each far larger than its byte, and the reader took them one by one, in time that
  // grew with the queue). The connection is paused with most of them still in it.
  const { conn, src } = await delivered(Array.from({ length: 20_000 }, (_, i) => Uint8Array.of(i & 0xff)), false);
  assert.ok(conn.isPaused(), 'the connection was paused');
  assert.ok(held(conn) > 10_000, `${held(conn)} bytes left in the connection`);
  conn.end();
  const got = new Uint8Array(20_000);
  await src.fill(got, 'the pieces');
  assert.ok(got.every((b, i) => b === (i & 0xff)), 'every piece, in order');
  assert.ok(await src.atEnd());
});

test('a fast sender is held back at 16 MiB unread, and let go once the reader has taken half', async () => {
  const piece = bytes(64 << 10);
  const { conn, src } = await delivered(Array.from({ length: 320 }, () => piece), false); // 20 MiB
  assert.ok(conn.isPaused());
  assert.ok(held(conn) >= 4 << 20 && held(conn) < 5 << 20, `${held(conn)} bytes left in the connection`);
  await src.fill(new Uint8Array(9 << 20), 'the first 9 MiB');
  for (let i = 0; i < 5; i++) await turn();
  assert.ok(!conn.isPaused(), 'resumed once less than 8 MiB waited');
  assert.equal(held(conn), 0);
  conn.end();
  const rest = new Uint8Array(11 << 20);
  await src.fill(rest, 'the rest');
  for (let at = 0; at < rest.length; at += piece.length) assert.deepEqual(rest.subarray(at, at + piece.length), piece, `at ${at} of the rest`);
  assert.ok(await src.atEnd());
});

test('an error on the connection is a StateStreamError naming the source', async () => {
  const { conn, src } = await delivered([bytes(10)], false);
  await src.take(10, 'ten');
  conn.destroy(new Error('connection reset'));
  await assert.rejects(src.take(1, 'more'), (e: unknown) => e instanceof StateStreamError && /^conn: connection reset$/.test(e.message));
});
