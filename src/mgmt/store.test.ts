import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Store } from './store.js';
import type { VmRecord } from './vm-record.js';

const dir = mkdtempSync(join(tmpdir(), 'tshv-store-'));
const vm = (id: string, name: string): VmRecord => ({
  id, name, vcpus: 2, memoryMiB: 64, kernel: '/k', initrd: null, append: 'console=ttyS0', root: null,
  disks: [{ path: '/d.qcow2', readOnly: true }], console: 'virtio', autoStart: true, state: 'off', stateReason: null,
  createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', startedAt: null,
});

test('VMs round-trip with their events; the schema is versioned; it survives reopening', () => {
  const path = join(dir, 'a.db');
  const store = new Store(path);
  const a = vm('00000000-0000-4000-8000-000000000001', 'a');
  const [created] = store.save(a, [{ vmId: a.id, type: 'created', message: 'hi' }]);
  assert.equal(created.id, 1);
  assert.ok(!Number.isNaN(Date.parse(created.at)));
  store.save({ ...a, state: 'running', stateReason: 'reboot' }, [{ vmId: a.id, type: 'state', state: 'running' }]);
  assert.deepEqual(store.vm(a.id), { ...a, state: 'running', stateReason: 'reboot' });
  assert.deepEqual(store.vmByName('a')?.id, a.id);
  store.close();

  const again = new Store(path);
  assert.deepEqual(again.vms().map((v) => [v.name, v.state, v.disks, v.autoStart]), [['a', 'running', [{ path: '/d.qcow2', readOnly: true }], true]]);
  assert.deepEqual(again.events(a.id, 10).map((e) => [e.id, e.type, e.state, e.message]), [[1, 'created', undefined, 'hi'], [2, 'state', 'running', undefined]]);
  assert.deepEqual(again.events(a.id, 1).map((e) => e.id), [2], 'the newest, oldest first');
  again.remove(a.id, [{ vmId: a.id, type: 'deleted' }]);
  assert.equal(again.vm(a.id), undefined);
  assert.deepEqual(again.eventsAfter(1, 10).map((e) => e.type), ['state', 'deleted'], 'a deleted VM keeps its events');
  again.close();
  const db = new Database(path);
  assert.equal(db.pragma('user_version', { simple: true }), 1);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
});

test('names are unique; a database from a newer tshv is refused', () => {
  const path = join(dir, 'b.db');
  const store = new Store(path);
  store.save(vm('00000000-0000-4000-8000-000000000001', 'same'), []);
  assert.throws(() => store.save(vm('00000000-0000-4000-8000-000000000002', 'same'), []), /UNIQUE/);
  store.close();
  const db = new Database(path);
  db.pragma('user_version = 99');
  db.close();
  assert.throws(() => new Store(path), /newer tshv \(schema version 99/);
});
