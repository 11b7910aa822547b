// parseQueryMigrate: QEMU's query-migrate replies believed only once checked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseQueryMigrate } from './qemu.js';

/** A completed migration as QEMU 7.2 reports it (one of this benchmark's rounds). */
const COMPLETED = {
  status: 'completed', 'setup-time': 2, downtime: 32, 'total-time': 1468,
  ram: {
    total: 335605760, 'postcopy-requests': 0, 'dirty-sync-count': 3, 'multifd-bytes': 0, 'pages-per-second': 56385, 'downtime-bytes': 0,
    'page-size': 4096, remaining: 0, 'postcopy-bytes': 0, mbps: 82.90137517053206, transferred: 15176652, 'dirty-sync-missed-zero-copy': 0,
    'precopy-bytes': 15176652, duplicate: 78409, 'dirty-pages-rate': 0, skipped: 0, 'normal-bytes': 14442496, normal: 3526,
  },
};

test('parseQueryMigrate: a completed migration\'s figures', () => {
  assert.deepEqual(parseQueryMigrate(COMPLETED), {
    state: 'completed',
    migration: { totalMs: 1468, downtimeMs: 32, setupMs: 2, bytes: 15176652, passes: 3 },
  });
});

test('parseQueryMigrate: one under way, with the dirty rate QEMU measured in MiB/s', () => {
  assert.deepEqual(parseQueryMigrate({ status: 'setup' }), { state: 'running', status: 'setup' });
  assert.deepEqual(parseQueryMigrate({ status: 'active', ram: { 'dirty-pages-rate': 8192, 'page-size': 4096 } }), { state: 'running', status: 'active', dirtyMiBps: 32 });
});

test('parseQueryMigrate: failed and cancelled, with QEMU\'s reason', () => {
  assert.deepEqual(parseQueryMigrate({ status: 'failed', 'error-desc': 'Unable to write to socket: Broken pipe' }), { state: 'failed', why: 'failed: Unable to write to socket: Broken pipe' });
  assert.deepEqual(parseQueryMigrate({ status: 'cancelled' }), { state: 'failed', why: 'cancelled' });
});

test('parseQueryMigrate: a reply without a status, or a completed one without its figures, is refused', () => {
  for (const bad of [null, [], {}, { status: 3 }]) assert.throws(() => parseQueryMigrate(bad), /no status/);
  const { downtime: _, ...noDowntime } = COMPLETED;
  assert.throws(() => parseQueryMigrate(noDowntime), /without downtime/);
  assert.throws(() => parseQueryMigrate({ ...COMPLETED, 'total-time': -1 }), /without total-time/);
  assert.throws(() => parseQueryMigrate({ ...COMPLETED, ram: { ...COMPLETED.ram, transferred: '15176652' } }), /without transferred/);
  assert.throws(() => parseQueryMigrate({ ...COMPLETED, ram: undefined }), /without transferred/);
});
