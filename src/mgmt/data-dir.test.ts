import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataDir, dataDirPath } from './data-dir.js';
import { MISSING_TOKEN } from './auth.js';
import { Store } from './store.js';
import { parseListen } from './service.js';

test('the data directory: --data-dir, then $TSHV_DATA_DIR, then $XDG_DATA_HOME/tshv, then ~/.local/share/tshv', () => {
  assert.equal(dataDirPath('/x/flag', { TSHV_DATA_DIR: '/x/env', XDG_DATA_HOME: '/x/xdg' }), '/x/flag');
  assert.equal(dataDirPath(undefined, { TSHV_DATA_DIR: '/x/env', XDG_DATA_HOME: '/x/xdg' }), '/x/env');
  assert.equal(dataDirPath(undefined, { XDG_DATA_HOME: '/x/xdg' }), '/x/xdg/tshv');
  assert.equal(dataDirPath(undefined, {}), join(homedir(), '.local/share/tshv'));
});

test('the token is made once, 0600, and kept; a too-open one is closed', () => {
  const d = new DataDir(join(mkdtempSync(join(tmpdir(), 'tshv-dd-')), 'nested'));
  assert.equal(statSync(d.path).mode & 0o777, 0o700);
  const t = d.token();
  assert.match(t, /^[0-9a-f]{64}$/);
  assert.equal(statSync(d.tokenPath).mode & 0o777, 0o600);
  assert.equal(d.token(), t);
  chmodSync(d.tokenPath, 0o644);
  assert.equal(d.token(), t);
  assert.equal(statSync(d.tokenPath).mode & 0o777, 0o600);
  writeFileSync(d.tokenPath, '\n');
  assert.throws(() => d.token(), /no usable token/);
});

test('service.json: a dead pid is stale, our own is none; removed only by its owner', async () => {
  const d = new DataDir(mkdtempSync(join(tmpdir(), 'tshv-dd-')));
  assert.deepEqual(await d.service(), { kind: 'none' });
  d.writeService({ url: 'http://127.0.0.1:1', pid: 2 ** 22 + 12345 }); // above pid_max: no such process
  assert.deepEqual(await d.service(), { kind: 'stale', info: { url: 'http://127.0.0.1:1', pid: 2 ** 22 + 12345 }, why: `pid ${2 ** 22 + 12345} is not running` });
  d.removeService();
  assert.ok(existsSync(d.servicePath), 'not ours: kept');
  d.writeService({ url: 'http://127.0.0.1:2', pid: process.pid });
  assert.deepEqual(await d.service(), { kind: 'none' });
  d.removeService();
  assert.equal(existsSync(d.servicePath), false);
  writeFileSync(d.servicePath, '{"url": "http://127.0.0.1:');
  assert.equal((await d.service()).kind, 'stale', 'half a file');
});

/** A live process that is no tshv service, with the given arguments. */
function otherProcess(args: string[] = []): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)', ...args], { stdio: 'ignore' });
}

/** An HTTP server on a free port answering every request with `status` and `body`. */
async function answering(status: number, body: string): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end(body));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('service.json naming a live pid: running only if it is a tshv service; another program\'s pid is stale', async () => {
  const d = new DataDir(mkdtempSync(join(tmpdir(), 'tshv-dd-')));
  const other = otherProcess();
  const tshvLike = otherProcess(['/opt/x/bin/tshv.js', 'serve', '--listen', '127.0.0.1:0']);
  const plain = await answering(200, '{"hello": "world"}');
  const tshv = await answering(401, JSON.stringify({ error: MISSING_TOKEN }));
  const closed = await answering(200, '');
  await new Promise((r) => closed.server.close(r));
  try {
    // The pid now belongs to another program: whatever does or does not answer at the URL, the file is stale.
    for (const url of [closed.url, plain.url]) {
      d.writeService({ url, pid: other.pid! });
      const status = await d.service();
      assert.equal(status.kind, 'stale', url);
      assert.match((status as { why: string }).why, new RegExp(`pid ${other.pid} is now another program .* does not answer as tshv`));
    }
    // It answers as a tshv service does (without our token): running.
    d.writeService({ url: tshv.url, pid: other.pid! });
    assert.deepEqual(await d.service(), { kind: 'running', info: { url: tshv.url, pid: other.pid } });
    // A `tshv serve` that does not answer (hung, or not listening yet) is one all the same.
    d.writeService({ url: closed.url, pid: tshvLike.pid! });
    assert.equal((await d.service()).kind, 'running');
  } finally {
    other.kill();
    tshvLike.kill();
    plain.server.close();
    tshv.server.close();
  }
});

test('the directory 0700 and the database files 0600, also when they were made open', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'tshv-dd-')), 'old');
  mkdirSync(path, { mode: 0o755 });
  chmodSync(path, 0o755);
  const d = new DataDir(path);
  const old = new Store(d.dbPath); // an older service's database, left open: its -wal and -shm exist
  for (const f of [d.dbPath, `${d.dbPath}-wal`, `${d.dbPath}-shm`]) chmodSync(f, 0o644);
  const notes = d.secure();
  assert.equal(statSync(path).mode & 0o777, 0o700);
  for (const f of [d.dbPath, `${d.dbPath}-wal`, `${d.dbPath}-shm`]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
  assert.equal(notes.length, 4, notes.join('\n'));
  assert.match(notes[0], /closed the data directory .* \(mode 0755 -> 0700\)/);
  old.close();
  assert.deepEqual(d.secure(), [], 'nothing left to close');

  // A new data directory: the database is made 0600 before SQLite opens it, and its -wal and -shm follow.
  const fresh = new DataDir(join(mkdtempSync(join(tmpdir(), 'tshv-dd-')), 'new'));
  fresh.secure();
  const store = new Store(fresh.dbPath);
  for (const f of [fresh.dbPath, `${fresh.dbPath}-wal`, `${fresh.dbPath}-shm`]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
  store.close();
});

test('a shared directory (sticky, like /tmp) is not closed, only reported', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'tshv-dd-')), 'shared');
  mkdirSync(path);
  chmodSync(path, 0o1777);
  const notes = new DataDir(path).secure();
  assert.equal(statSync(path).mode & 0o7777, 0o1777);
  assert.match(notes[0], /is open to others \(mode 01777\)/);
});

test('--listen HOST:PORT', () => {
  assert.deepEqual(parseListen('127.0.0.1:7070'), { host: '127.0.0.1', port: 7070 });
  assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
  assert.deepEqual(parseListen('[::1]:8080'), { host: '::1', port: 8080 });
  for (const bad of ['7070', '127.0.0.1', '127.0.0.1:65536', ':80', '[::1]', 'a b:1']) assert.throws(() => parseListen(bad), /expected HOST:PORT/, bad);
});
