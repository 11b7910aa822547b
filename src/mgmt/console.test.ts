import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import websocket from '@fastify/websocket';
import WebSocket from 'ws';
import { CLOSE_INPUT_OVERRUN, CONSOLE_FRAME_BYTES, INPUT_MAX_BYTES, INPUT_PAUSE_BYTES, Scrollback, registerConsole } from './console.js';
import type { Host } from './host.js';

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

/** Host as the console sees it, with input that the test drains by hand. */
class FakeHost extends EventEmitter {
  readonly written: Buffer[] = [];
  pending = 0;
  get(ref: string) { return { id: ref, state: 'running' }; }
  exists() { return true; }
  record() {}
  write(_id: string, bytes: Uint8Array) { this.written.push(Buffer.from(bytes)); this.pending += bytes.length; }
  pendingInput() { return this.pending; }
  /** The guest took everything. */
  drain(id: string) { this.pending = 0; this.emit('input-drained', id); }
}

async function consoleApp(): Promise<{ host: FakeHost; url: string; close: () => Promise<void> }> {
  const host = new FakeHost();
  const app = Fastify();
  await app.register(websocket, { options: { maxPayload: CONSOLE_FRAME_BYTES } });
  registerConsole(app, host as unknown as Host);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { host, url: `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/vms/vm-1/console`, close: () => app.close() };
}

function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => { ws.once('open', () => resolve(ws)); ws.once('error', reject); });
}
const closed = (ws: WebSocket) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('console input: past INPUT_PAUSE_BYTES waiting, a client is no longer read until the guest has taken it; nothing is lost or reordered', async () => {
  const { host, url, close } = await consoleApp();
  try {
    const ws = await open(url);
    const frames = Array.from({ length: 64 }, (_, i) => Buffer.alloc(4096, i));
    for (const f of frames) ws.send(f);
    await sleep(300);
    const taken = () => host.written.reduce((n, b) => n + b.length, 0);
    // What crossed the bound, plus what one socket read had already brought.
    assert.ok(taken() > INPUT_PAUSE_BYTES && taken() <= INPUT_PAUSE_BYTES + 4096 + 65536, `taken ${taken()}`);
    const held = taken();
    await sleep(200);
    assert.equal(taken(), held, 'nothing more is read while the input waits');
    for (let i = 0; i < 20 && taken() < 64 * 4096; i++) { host.drain('vm-1'); await sleep(50); }
    assert.deepEqual(Buffer.concat(host.written), Buffer.concat(frames));
    // A client held back still hears the VM stop.
    host.written.length = 0;
    for (const f of frames) ws.send(f);
    await sleep(200);
    assert.ok(host.pending > INPUT_PAUSE_BYTES);
    const code = closed(ws);
    host.emit('changed', { id: 'vm-1', state: 'off' });
    assert.equal(await Promise.race([code, sleep(5000).then(() => 'timed out')]), 1000);
  } finally {
    await close();
  }
});

test('console input: a frame that would take a VM past INPUT_MAX_BYTES ends its client (4429) and is dropped', async () => {
  const { host, url, close } = await consoleApp();
  try {
    const ws = await open(url);
    host.pending = INPUT_MAX_BYTES - 10;
    const code = closed(ws);
    ws.send(Buffer.alloc(11, 1));
    assert.equal(await code, CLOSE_INPUT_OVERRUN);
    assert.equal(host.written.length, 0);
  } finally {
    await close();
  }
});
