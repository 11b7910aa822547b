// Finding the service (flags, environment, data directory) and how the API's answers and
// failures become values and exit codes, against a stand-in HTTP server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, ClientError, ClientExit, defaultDataDir, findService, startHint, vmPath } from './client.js';
import { rejection } from './test-support.js';

const alive = () => true;
const dead = () => false;

/** A data directory as a running service leaves it; null leaves a file out. */
function dataDir(service: unknown = { url: 'http://127.0.0.1:7777', pid: 1234 }, token: string | null = 'ab'.repeat(32)): string {
  const dir = mkdtempSync(join(tmpdir(), 'tshv-client-'));
  if (service !== null) writeFileSync(join(dir, 'service.json'), typeof service === 'string' ? service : JSON.stringify(service));
  if (token !== null) writeFileSync(join(dir, 'token'), token + '\n', { mode: 0o600 });
  return dir;
}

function clientError(fn: () => unknown): ClientError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ClientError, `expected a ClientError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ClientError');
}

test('the default data directory is $XDG_DATA_HOME/tshv, else ~/.local/share/tshv', () => {
  assert.equal(defaultDataDir({ XDG_DATA_HOME: '/data' }), '/data/tshv');
  assert.equal(defaultDataDir({}), join(homedir(), '.local/share/tshv'));
  // The XDG spec: a relative XDG_DATA_HOME is invalid and ignored.
  assert.equal(defaultDataDir({ XDG_DATA_HOME: 'rel' }), join(homedir(), '.local/share/tshv'));
});

test('a data directory gives the URL of service.json and the token file, trimmed', () => {
  const dir = dataDir();
  const s = findService({ dataDir: dir }, {}, alive);
  assert.deepEqual(s, { url: 'http://127.0.0.1:7777', token: 'ab'.repeat(32), dataDir: dir });
});

test('the order: --url, --data-dir, TSHV_URL, TSHV_DATA_DIR, XDG_DATA_HOME', () => {
  const a = dataDir({ url: 'http://127.0.0.1:1001', pid: 1 });
  const b = dataDir({ url: 'http://127.0.0.1:1002', pid: 1 });
  const xdg = mkdtempSync(join(tmpdir(), 'tshv-xdg-'));
  mkdirSync(join(xdg, 'tshv'));
  writeFileSync(join(xdg, 'tshv', 'service.json'), JSON.stringify({ url: 'http://127.0.0.1:1003', pid: 1 }));
  writeFileSync(join(xdg, 'tshv', 'token'), 'cd');
  const env = { TSHV_URL: 'http://10.0.0.1:7070/', TSHV_TOKEN: 'env-token', TSHV_DATA_DIR: b, XDG_DATA_HOME: xdg };

  assert.deepEqual(findService({ url: 'http://h:1' }, env, alive), { url: 'http://h:1', token: 'env-token', dataDir: undefined });
  assert.equal(findService({ dataDir: a }, env, alive).url, 'http://127.0.0.1:1001');
  assert.equal(findService({ dataDir: a }, env, alive).token, 'ab'.repeat(32)); // the directory's, not TSHV_TOKEN
  assert.deepEqual(findService({}, env, alive), { url: 'http://10.0.0.1:7070', token: 'env-token', dataDir: undefined });
  assert.equal(findService({}, { ...env, TSHV_URL: undefined }, alive).url, 'http://127.0.0.1:1002');
  assert.deepEqual(findService({}, { XDG_DATA_HOME: xdg }, alive), { url: 'http://127.0.0.1:1003', token: 'cd', dataDir: join(xdg, 'tshv') });
  // A URL without TSHV_TOKEN goes without a token (the service answers 401, with a hint).
  assert.equal(findService({ url: 'http://h:1' }, {}, alive).token, undefined);
});

test('usage errors: both --url and --data-dir, URLs that are not http(s)', () => {
  assert.equal(clientError(() => findService({ url: 'http://h:1', dataDir: '/x' }, {})).exit, ClientExit.usage);
  const bad = clientError(() => findService({ url: 'localhost:7070' }, {}));
  assert.equal(bad.exit, ClientExit.usage);
  assert.match(bad.message, /--url: "localhost:7070" is not an http/);
  assert.match(clientError(() => findService({}, { TSHV_URL: 'nonsense' })).message, /TSHV_URL: "nonsense" is not a URL/);
});

test('no service: a missing or stale service.json is exit 3 with how to start one', () => {
  const none = dataDir(null);
  const e = clientError(() => findService({ dataDir: none }, {}, alive));
  assert.equal(e.exit, ClientExit.unreachable);
  assert.match(e.message, /no service is running for the data directory .* start it with: tshv serve --data-dir /);

  const stale = dataDir({ url: 'http://127.0.0.1:7777', pid: 424242 });
  const s = clientError(() => findService({ dataDir: stale }, {}, dead));
  assert.equal(s.exit, ClientExit.unreachable);
  assert.match(s.message, /\(pid 424242\) is not running; start it with/);

  assert.equal(clientError(() => findService({ dataDir: dataDir('{nope') }, {}, alive)).exit, ClientExit.unreachable);
  assert.equal(clientError(() => findService({ dataDir: dataDir({ pid: 1 }) }, {}, alive)).exit, ClientExit.unreachable);
});

test('a service.json without its token file is a failure naming the file', () => {
  const dir = dataDir(null, null);
  writeFileSync(join(dir, 'service.json'), JSON.stringify({ url: 'http://127.0.0.1:7777', pid: process.pid }));
  const e = clientError(() => findService({ dataDir: dir }, {}));
  assert.equal(e.exit, ClientExit.failed);
  assert.match(e.message, /token .*: it does not exist/);
});

test('start hints: the default data directory needs no flag; a URL asks to check it', () => {
  assert.equal(startHint('/d/tshv', { XDG_DATA_HOME: '/d' }), 'start it with: tshv serve');
  assert.equal(startHint('/x', { XDG_DATA_HOME: '/d' }), 'start it with: tshv serve --data-dir /x');
  assert.match(startHint(undefined), /check the URL/);
});

test('VM paths escape names and ids', () => {
  assert.equal(vmPath('web-1'), '/api/vms/web-1');
  assert.equal(vmPath('a/b?c', 'start'), '/api/vms/a%2Fb%3Fc/start');
});

/** A stand-in service: answers each request with handler's [status, body]. */
async function fakeService(handler: (req: IncomingMessage, body: string) => [number, string?, string?]): Promise<{ server: Server; url: string; seen: { method: string; url: string; auth?: string; body: string }[] }> {
  const seen: { method: string; url: string; auth?: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d; });
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
      const [status, text, type] = handler(req, body);
      res.writeHead(status, text === undefined ? {} : { 'content-type': type ?? 'application/json' });
      res.end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, url: `http://127.0.0.1:${port}`, seen };
}

test('requests carry the bearer token and JSON; answers are parsed; 204 is undefined', async () => {
  const { server, url, seen } = await fakeService((req) => req.method === 'DELETE' ? [204] : [200, '{"ok":true}']);
  try {
    const api = new ApiClient({ url, token: 'secret', dataDir: undefined });
    assert.deepEqual(await api.post('/api/vms', { name: 'a' }), { ok: true });
    assert.equal(await api.delete('/api/vms/a'), undefined);
    assert.deepEqual(seen[0], { method: 'POST', url: '/api/vms', auth: 'Bearer secret', body: '{"name":"a"}' });
    assert.equal(seen[1].method, 'DELETE');
  } finally {
    server.close();
  }
});

test('error statuses map to exit codes with the service\'s message', async () => {
  const answers: Record<string, [number, string?, string?]> = {
    '/400': [400, '{"error":"name: must match [a-z0-9]...","field":"name"}'],
    '/401': [401, '{"error":"missing or wrong token"}'],
    '/404': [404, '{"error":"no VM named nope"}'],
    '/409': [409, '{"error":"web-1 is running","state":"running"}'],
    '/500': [500, 'Internal Server Error', 'text/plain'],
    '/html': [200, '<html>hello</html>', 'text/html'],
  };
  const { server, url } = await fakeService((req) => answers[req.url!]);
  try {
    const api = new ApiClient({ url, token: undefined, dataDir: undefined });
    const e400 = await rejection(api.get('/400'));
    assert.equal(e400.exit, ClientExit.failed); // vm create makes it a usage error
    assert.equal(e400.status, 400);
    assert.equal(e400.body?.field, 'name');
    const e401 = await rejection(api.get('/401'));
    assert.equal(e401.exit, ClientExit.failed);
    assert.match(e401.message, /missing or wrong token \(set TSHV_TOKEN/);
    assert.equal((await rejection(api.get('/404'))).exit, ClientExit.notFound);
    const e409 = await rejection(api.get('/409'));
    assert.equal(e409.exit, ClientExit.failed);
    assert.equal(e409.message, 'web-1 is running');
    assert.equal(e409.body?.state, 'running');
    const e500 = await rejection(api.get('/500'));
    assert.equal(e500.exit, ClientExit.failed);
    assert.match(e500.message, /HTTP 500 Internal Server Error/);
    assert.match((await rejection(api.get('/html'))).message, /not JSON; is .* a tshv service\?/);
    const dirApi = new ApiClient({ url, token: 'x', dataDir: '/d' });
    assert.match((await rejection(dirApi.get('/401'))).message, /the token in \/d\/token was refused/);
  } finally {
    server.close();
  }
});

test('no answer: connection refused and timeouts are exit 3', async () => {
  const { server, url } = await fakeService(() => [200, '{}']);
  await new Promise((r) => server.close(r));
  const refused = await rejection(new ApiClient({ url, token: undefined, dataDir: '/d' }).get('/api/host'));
  assert.equal(refused.exit, ClientExit.unreachable);
  assert.match(refused.message, /cannot reach the tshv service at .* \(connection refused\); start it with: tshv serve/);

  const silent = createServer(() => { /* never answers */ });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const slow = new ApiClient({ url: `http://127.0.0.1:${(silent.address() as { port: number }).port}`, token: undefined, dataDir: undefined }, 200);
    const e = await rejection(slow.get('/api/host'));
    assert.equal(e.exit, ClientExit.unreachable);
    assert.match(e.message, /no answer within 0.2 s/);
  } finally {
    silent.closeAllConnections();
    silent.close();
  }
});
