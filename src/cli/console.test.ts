// The console client: detach keys, and attaching to a stand-in service's console
// WebSocket (replay, input, --linger, how each kind of close ends the command).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { PassThrough } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiClient, ClientExit } from './client.js';
import { attachConsole, consoleUrl, ConsoleKeys } from './console.js';
import type { ApiVm } from './api-types.js';
import { rejection } from './test-support.js';

const bytes = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));

test('keys: Ctrl-] and Ctrl-A X detach; what came before is still sent', () => {
  const k = new ConsoleKeys();
  assert.deepEqual(k.feed(bytes('ls\r')), { send: bytes('ls\r'), detach: false, help: false });
  assert.deepEqual(k.feed(bytes('ab\x1dcd')), { send: bytes('ab'), detach: true, help: false });
  assert.deepEqual(new ConsoleKeys().feed(bytes('x\x01X')), { send: bytes('x'), detach: true, help: false });
});

test('keys: escapes across chunks; Ctrl-A Ctrl-A sends one; Ctrl-A H helps; others are dropped', () => {
  const k = new ConsoleKeys();
  assert.deepEqual(k.feed(bytes('a\x01')), { send: bytes('a'), detach: false, help: false });
  assert.deepEqual(k.feed(bytes('x')), { send: bytes(''), detach: true, help: false });
  const k2 = new ConsoleKeys();
  assert.deepEqual(k2.feed(bytes('\x01\x01\x01h\x01qz')), { send: bytes('\x01z'), detach: false, help: true });
  assert.deepEqual(k2.feed(bytes('\x03')), { send: bytes('\x03'), detach: false, help: false }); // Ctrl-C is the guest's
});

test('console URLs: http becomes ws, https wss', () => {
  assert.equal(consoleUrl('http://127.0.0.1:7070', 'abc'), 'ws://127.0.0.1:7070/api/vms/abc/console');
  assert.equal(consoleUrl('https://h', 'a b'), 'wss://h/api/vms/a%20b/console');
});

// A stand-in service: GET /api/vms/{id} answers `vmAnswer`, the console calls `onConsole`.
const vm = { id: 'vm-id-1', name: 'web-1', state: 'running', stateReason: null } as ApiVm;
let vmAnswer: Partial<ApiVm> = vm;
let onConsole: (ws: WebSocket, auth: string | undefined) => void = () => {};
let refuseUpgrade: [number, string] | undefined;
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(vmAnswer));
});
const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  if (refuseUpgrade) {
    const [status, body] = refuseUpgrade;
    socket.end(`HTTP/1.1 ${status} No\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    return;
  }
  assert.equal(req.url, '/api/vms/vm-id-1/console');
  wss.handleUpgrade(req, socket, head, (ws) => onConsole(ws, req.headers.authorization));
});
const listening = new Promise<string>((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as { port: number }).port}`)));
after(() => { wss.close(); server.close(); });

function io() {
  const stdin = new PassThrough(), stdout = new PassThrough(), stderr = new PassThrough();
  let out = '', err = '';
  stdout.on('data', (d: Buffer) => { out += d.toString('latin1'); });
  stderr.on('data', (d: Buffer) => { err += d; });
  return { streams: { stdin, stdout, stderr }, stdin, out: () => out, err: () => err };
}

async function api(token = 'tok'): Promise<ApiClient> {
  return new ApiClient({ url: await listening, token, dataDir: undefined });
}

test('pipe mode: replay, stdin to the guest, output to stdout, detach after --linger of quiet', async () => {
  refuseUpgrade = undefined;
  let auth: string | undefined;
  const received: string[] = [];
  onConsole = (ws, a) => {
    auth = a;
    ws.send(Buffer.from('earlier output\n'));
    ws.on('message', (d: Buffer) => {
      received.push(d.toString());
      // The guest's echo and the command's output, a little later.
      setTimeout(() => ws.send(Buffer.from('echo hi\r\n')), 20);
      setTimeout(() => ws.send(Buffer.from('hi\r\n')), 150);
    });
  };
  const t = io();
  t.stdin.end('echo hi\n');
  const started = Date.now();
  await attachConsole(await api(), vm, { linger: '0.3' }, t.streams);
  assert.equal(auth, 'Bearer tok');
  assert.deepEqual(received, ['echo hi\n']);
  assert.equal(t.out(), 'earlier output\necho hi\r\nhi\r\n');
  assert.ok(Date.now() - started >= 450, 'waited for the quiet after the last output');
  assert.equal(t.err(), '');
});

test('the VM stopping ends the console with exit 0 and says how it stopped', async () => {
  refuseUpgrade = undefined;
  vmAnswer = { ...vm, state: 'off', stateReason: 'poweroff' };
  onConsole = (ws) => { ws.send(Buffer.from('reboot: Power down\n')); setTimeout(() => ws.close(1000, 'vm stopped'), 50); };
  const t = io();
  await attachConsole(await api(), vm, { linger: '2' }, t.streams); // stdin stays open
  assert.equal(t.out(), 'reboot: Power down\n');
  assert.match(t.err(), /web-1's console closed \(off: poweroff\)/);
  vmAnswer = vm;
});

test('close codes 4404 and 4409 are exit 4 and exit 1 with the service\'s reason', async () => {
  refuseUpgrade = undefined;
  onConsole = (ws) => ws.close(4404, 'no VM named web-1');
  const nf = await rejection(attachConsole(await api(), vm, { linger: '2' }, io().streams));
  assert.equal(nf.exit, ClientExit.notFound);
  assert.equal(nf.message, 'no VM web-1 (no VM named web-1)');
  onConsole = (ws) => ws.close(4409, 'the VM is off');
  const nr = await rejection(attachConsole(await api(), vm, { linger: '2' }, io().streams));
  assert.equal(nr.exit, ClientExit.failed);
  assert.equal(nr.message, 'web-1 is not running (the VM is off); start it with: tshv vm start web-1');
  onConsole = (ws) => ws.close(4409);
  assert.match((await rejection(attachConsole(await api(), vm, { linger: '2' }, io().streams))).message, /^web-1 is not running; start/);
});

test('a refused upgrade is reported like any refused request', async () => {
  refuseUpgrade = [401, '{"error":"missing or wrong token"}'];
  const e = await rejection(attachConsole(await api(), vm, { linger: '2' }, io().streams));
  assert.equal(e.exit, ClientExit.failed);
  assert.match(e.message, /missing or wrong token \(TSHV_TOKEN was refused\)/);
  refuseUpgrade = [404, '{"error":"no VM named x"}'];
  assert.equal((await rejection(attachConsole(await api(), vm, { linger: '2' }, io().streams))).exit, ClientExit.notFound);
  refuseUpgrade = undefined;
});

test('losing the service mid-session is exit 3; no service at all is exit 3', async () => {
  refuseUpgrade = undefined;
  onConsole = (ws) => setTimeout(() => ws.terminate(), 20);
  const lost = await rejection(attachConsole(await api(), vm, { linger: '2' }, io().streams));
  assert.equal(lost.exit, ClientExit.unreachable);
  assert.match(lost.message, /lost the connection/);

  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(closed.address() as { port: number }).port}`;
  await new Promise((r) => closed.close(r));
  const e = await rejection(attachConsole(new ApiClient({ url, token: undefined, dataDir: '/d' }), vm, { linger: '2' }, io().streams));
  assert.equal(e.exit, ClientExit.unreachable);
  assert.match(e.message, /cannot reach the tshv service .*connect ECONNREFUSED|cannot reach the tshv service .*connection refused/);
});

test('--linger must be a number', async () => {
  assert.equal((await rejection(attachConsole(await api(), vm, { linger: 'soon' }, io().streams))).exit, ClientExit.usage);
});
