// Console input through the WebSocket against real guests, the service's Host in this
// process so its input bound can be watched: a client that writes far faster than the guest
// reads is held back rather than buffered, and input past the bound still arrives whole and
// in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Store } from '../../src/mgmt/store.js';
import { Host } from '../../src/mgmt/host.js';
import { buildApp } from '../../src/mgmt/api.js';
import { INPUT_MAX_BYTES, INPUT_PAUSE_BYTES } from '../../src/mgmt/console.js';
import { WsConsole, sleep } from './service.js';

const TOKEN = 'console-input-test-token';
const BOOT_MS = 120_000;
let store: Store;
let host: Host;
let app: FastifyInstance;

before(async () => {
  store = new Store(join(mkdtempSync(join(tmpdir(), 'tshv-input-')), 'tshv.db'));
  host = new Host(store);
  app = await buildApp({ host, store, token: TOKEN, version: 'test' });
  await app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await host.shutdown();
  await app.close();
  store.close();
});

async function bootedConsole(name: string, console: 'serial' | 'virtio'): Promise<{ id: string; c: WsConsole }> {
  const { id } = await host.create({ name, memoryMiB: 64, console });
  await host.start(id);
  const c = new WsConsole(consoleUrl(name));
  await c.opened;
  await c.waitForPrompt(BOOT_MS);
  return { id, c };
}

const consoleUrl = (name: string) => `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/vms/${name}/console?token=${TOKEN}`;

/** The largest pendingInput(id) seen until stop() is called. */
function watchPending(id: string): { stop: () => number } {
  let max = 0;
  const timer = setInterval(() => { max = Math.max(max, host.pendingInput(id)); }, 1);
  return { stop: () => { clearInterval(timer); return Math.max(max, host.pendingInput(id)); } };
}

test('a client writing MiB after MiB is held back: the service holds a bounded amount of its input', { timeout: 300_000 }, async () => {
  const { id, c } = await bootedConsole('flood', 'serial');
  // Typed slowly, a key at a time: it comes out in order.
  for (const ch of 'echo typed-$((6*7))\n') { c.write(ch); await sleep(5); }
  await c.waitFor('the typed command', () => c.log.includes('\ntyped-42\n'), 30_000);
  await c.waitForPrompt();

  const flood = new WsConsole(consoleUrl('flood'));
  await flood.opened;
  const rss = process.memoryUsage.rss();
  const pending = watchPending(id);
  const chunk = Buffer.alloc(64 * 1024, 'x');
  for (let i = 0; i < 256; i++) flood.ws.send(chunk); // 16 MiB at once: far more than the guest takes in 3 s
  await sleep(3000);
  const max = pending.stop();
  const growth = process.memoryUsage.rss() - rss;
  assert.ok(max > INPUT_PAUSE_BYTES, `the guest is slower than the client: input waited (${max} bytes)`);
  assert.ok(max <= INPUT_MAX_BYTES, `at most ${INPUT_MAX_BYTES} bytes wait in the service, saw ${max}`);
  assert.ok(flood.ws.bufferedAmount > 8 << 20, `the client is held back: ${flood.ws.bufferedAmount} bytes still unsent`);
  // The 16 MiB taken in would be hundreds of MiB here (the VM worker runs in this process).
  assert.ok(growth < 96 << 20, `memory grew by ${growth >> 20} MiB`);

  // A client held back still hears the VM stop.
  await host.stop(id);
  const closed = await Promise.race([flood.closed, sleep(10_000).then(() => undefined)]);
  assert.equal(closed?.code, 1000, 'the held-back client is closed when the VM stops');
  assert.equal(host.pendingInput(id), 0);
  assert.equal((await c.closed).code, 1000);
});

test('input past the bound arrives whole and in order', { timeout: 300_000 }, async () => {
  // virtio-console: a guest that reads fast enough for a test of some size.
  const { id, c } = await bootedConsole('burst', 'virtio');
  let text = '';
  for (let i = 0; text.length < 1_500_000; i++) text += `line ${String(i).padStart(6, '0')} ${'abcdefghijklmnopqrstuvwxyz'.slice(i % 26)}\n`;
  c.write('stty -echo; cat > /tmp/in\n');
  await sleep(500);
  const pending = watchPending(id);
  for (let i = 0; i < text.length; i += 4096) c.write(text.slice(i, i + 4096));
  c.write('\x04');
  const mark = c.log.length;
  c.write('stty echo; md5sum /tmp/in; wc -c < /tmp/in\n');
  const result = /([0-9a-f]{32}) +\/tmp\/in\n(\d+)\n/;
  await c.waitFor('the checksum of what cat got', () => result.test(c.log.slice(mark)), 120_000);
  const max = pending.stop();
  assert.ok(max > INPUT_PAUSE_BYTES && max <= INPUT_MAX_BYTES, `input waited, within the bound: ${max}`);
  const [, md5, bytes] = result.exec(c.log.slice(mark))!;
  assert.deepEqual([md5, Number(bytes)], [createHash('md5').update(text).digest('hex'), text.length]);
  await host.stop(id);
  assert.equal((await c.closed).code, 1000);
});
