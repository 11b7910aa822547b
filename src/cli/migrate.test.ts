// `tshv vm migrate`'s request body from its flags (migrateBody): where to (a URL, or a
// service on this machine found through its data directory), the destination's token, and
// the live migration's bounds, each refused as a usage error (exit 2) before the service
// is asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateBody } from './migrate.js';
import { ClientError, ClientExit } from './client.js';

const TO = 'http://10.0.0.2:7070', TOKEN = 'ab'.repeat(32);

/** The usage error migrateBody refuses `flags` with. */
function usage(flags: Parameters<typeof migrateBody>[0], message: RegExp): void {
  assert.throws(() => migrateBody(flags), (e: unknown) => e instanceof ClientError && e.exit === ClientExit.usage && message.test(e.message),
    JSON.stringify(flags));
}

/** A data directory as a running service on this machine leaves it (its pid: this process, alive). */
function dataDir(url = 'http://127.0.0.1:7171', token = 'cd'.repeat(32)): string {
  const dir = mkdtempSync(join(tmpdir(), 'tshv-migrate-'));
  writeFileSync(join(dir, 'service.json'), JSON.stringify({ url, pid: process.pid }));
  writeFileSync(join(dir, 'token'), token + '\n', { mode: 0o600 });
  return dir;
}

test('--with-disks adds withDisks, and only when set; with --quick too', () => {
  assert.deepEqual(migrateBody({ to: TO, toToken: TOKEN, withDisks: true }), { to: TO, token: TOKEN, withDisks: true });
  assert.deepEqual(migrateBody({ to: TO, toToken: TOKEN, withDisks: true, quick: true }), { to: TO, token: TOKEN, quick: true, withDisks: true });
  assert.deepEqual(migrateBody({ to: TO, toToken: TOKEN, withDisks: false }), { to: TO, token: TOKEN });
});

test('--to with --to-token is the whole body; --quick adds quick, and only when set', () => {
  assert.deepEqual(migrateBody({ to: TO, toToken: TOKEN }), { to: TO, token: TOKEN });
  assert.deepEqual(migrateBody({ to: TO, toToken: TOKEN, quick: true }), { to: TO, token: TOKEN, quick: true });
  assert.deepEqual(migrateBody({ to: TO, toToken: TOKEN, quick: false }), { to: TO, token: TOKEN });
});

test('where to is required: --to or --to-data-dir', () => {
  usage({}, /say where to: --to URL .*--to-data-dir DIR/);
  usage({ toToken: TOKEN, quick: true }, /say where to/);
});

test('the destination\'s token is required with --to', () => {
  usage({ to: TO }, /the destination's token is needed: --to-token TOKEN/);
  usage({ to: TO, maxDowntime: '20' }, /token is needed/);
});

test('--to-data-dir gives the URL and token of the service there; --to and --to-token win over it', () => {
  const dir = dataDir();
  assert.deepEqual(migrateBody({ toDataDir: dir }), { to: 'http://127.0.0.1:7171', token: 'cd'.repeat(32) });
  assert.deepEqual(migrateBody({ toDataDir: dir, to: TO }), { to: TO, token: 'cd'.repeat(32) });
  assert.deepEqual(migrateBody({ toDataDir: dir, toToken: TOKEN }), { to: 'http://127.0.0.1:7171', token: TOKEN });
  // No service there: that is said, not a missing URL.
  const empty = mkdtempSync(join(tmpdir(), 'tshv-migrate-'));
  assert.throws(() => migrateBody({ toDataDir: empty }), (e: unknown) => e instanceof ClientError && e.exit === ClientExit.unreachable && /no service is running/.test(e.message));
});

test('--max-downtime: whole milliseconds from 1 to 60000', () => {
  const ms = (v: string) => migrateBody({ to: TO, toToken: TOKEN, maxDowntime: v }).maxDowntimeMs;
  assert.equal(ms('1'), 1);
  assert.equal(ms('20'), 20);
  assert.equal(ms('60000'), 60_000);
  for (const bad of ['0', '60001', '-5', '1.5', '20ms', 'fast', '', 'NaN', 'Infinity']) {
    usage({ to: TO, toToken: TOKEN, maxDowntime: bad }, new RegExp(`--max-downtime must be a whole number of ms from 1 to 60000, got "${bad}"`));
  }
});

test('--bandwidth: a size in bytes per second, from 1M to 1T', () => {
  const rate = (v: string) => migrateBody({ to: TO, toToken: TOKEN, bandwidth: v }).bandwidth;
  assert.equal(rate('1M'), 1 << 20);
  assert.equal(rate('100M'), 100 << 20);
  assert.equal(rate('2G'), 2 ** 31);
  assert.equal(rate('1048576'), 1 << 20);
  assert.equal(migrateBody({ to: TO, toToken: TOKEN }).bandwidth, undefined, 'no limit unless asked');
  for (const low of ['1023K', '1048575', '0']) usage({ to: TO, toToken: TOKEN, bandwidth: low }, new RegExp(`--bandwidth ${low}: from 1M to 1T`));
  assert.equal(rate('1T'), 2 ** 40);
  usage({ to: TO, toToken: TOKEN, bandwidth: '2T' }, /--bandwidth 2T: from 1M to 1T/);
  for (const bad of ['fast', '1.5M', '-1M', '']) usage({ to: TO, toToken: TOKEN, bandwidth: bad }, /--bandwidth: ".*" is not a size/);
});
