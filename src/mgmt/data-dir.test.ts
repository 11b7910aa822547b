import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join } from 'node:path';
import { DataDir, dataDirPath } from './data-dir.js';
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

test('service.json: a live process counts, a dead one or our own does not; removed only by its owner', () => {
  const d = new DataDir(mkdtempSync(join(tmpdir(), 'tshv-dd-')));
  assert.equal(d.runningService(), undefined);
  d.writeService({ url: 'http://127.0.0.1:1', pid: process.ppid });
  assert.deepEqual(d.runningService(), { url: 'http://127.0.0.1:1', pid: process.ppid });
  d.removeService();
  assert.ok(existsSync(d.servicePath), 'not ours: kept');
  d.writeService({ url: 'http://127.0.0.1:1', pid: 2 ** 22 + 12345 }); // above pid_max: no such process
  assert.equal(d.runningService(), undefined);
  d.writeService({ url: 'http://127.0.0.1:2', pid: process.pid });
  assert.equal(d.runningService(), undefined);
  d.removeService();
  assert.equal(existsSync(d.servicePath), false);
});

test('--listen HOST:PORT', () => {
  assert.deepEqual(parseListen('127.0.0.1:7070'), { host: '127.0.0.1', port: 7070 });
  assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
  assert.deepEqual(parseListen('[::1]:8080'), { host: '::1', port: 8080 });
  for (const bad of ['7070', '127.0.0.1', '127.0.0.1:65536', ':80', '[::1]', 'a b:1']) assert.throws(() => parseListen(bad), /expected HOST:PORT/, bad);
});
