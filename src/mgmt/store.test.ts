import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Store } from './store.js';
import type { CheckpointRecord, VmRecord } from './vm-record.js';

const dir = mkdtempSync(join(tmpdir(), 'tshv-store-'));
const vm = (id: string, name: string): VmRecord => ({
  id, name, vcpus: 2, memoryMiB: 64, kernel: '/k', initrd: null, append: 'console=ttyS0', root: null,
  disks: [{ path: '/d.qcow2', readOnly: true }], console: 'virtio', autoStart: true, stopAction: 'stop', jit: false, checkpoint: null, state: 'off', stateReason: null,
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
  assert.deepEqual(again.vms().map((v) => [v.name, v.state, v.disks, v.autoStart, v.jit]), [['a', 'running', [{ path: '/d.qcow2', readOnly: true }], true, false]]);
  again.save({ ...a, jit: true }, []);
  assert.equal(again.vm(a.id)?.jit, true, 'jit can be turned back on');
  assert.deepEqual(again.events(a.id, 10).map((e) => [e.id, e.type, e.state, e.message]), [[1, 'created', undefined, 'hi'], [2, 'state', 'running', undefined]]);
  assert.deepEqual(again.events(a.id, 1).map((e) => e.id), [2], 'the newest, oldest first');
  again.remove(a.id, [{ vmId: a.id, type: 'deleted' }]);
  assert.equal(again.vm(a.id), undefined);
  assert.deepEqual(again.eventsAfter(1, 10).map((e) => e.type), ['state', 'deleted'], 'a deleted VM keeps its events');
  again.close();
  const db = new Database(path);
  assert.equal(db.pragma('user_version', { simple: true }), 4, 'every migration ran');
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

test('checkpoints round-trip with the VM in one transaction; deleting a VM deletes its checkpoints', () => {
  const store = new Store(join(dir, 'cp.db'));
  const a = vm('00000000-0000-4000-8000-0000000000c1', 'cpvm');
  store.save(a, []);
  const { name, vcpus, memoryMiB, kernel, initrd, append, root, disks, console, autoStart, stopAction, jit } = a;
  const definition = { name, vcpus, memoryMiB, kernel, initrd, append, root, disks, console, autoStart, stopAction, jit };
  const one: CheckpointRecord = { id: 'c-1', vmId: a.id, name: 'one', parentId: null, createdAt: '2026-01-01T00:00:00.000Z', stateFile: '/s', definition };
  const two: CheckpointRecord = { ...one, id: 'c-2', name: 'two', parentId: 'c-1', createdAt: '2026-01-02T00:00:00.000Z', stateFile: null };
  const events = store.checkpointChange({ put: [one, two], vm: { ...a, checkpoint: 'c-2' }, events: [{ vmId: a.id, type: 'checkpoint', message: 'taken' }] });
  assert.deepEqual(events.map((e) => e.type), ['checkpoint']);
  assert.deepEqual(store.checkpoints(a.id), [one, two]);
  assert.equal(store.vm(a.id)?.checkpoint, 'c-2');
  store.checkpointChange({ put: [{ ...two, parentId: null }], remove: ['c-1'], vm: { ...a, checkpoint: null }, events: [] });
  assert.deepEqual(store.checkpoints(a.id).map((c) => [c.id, c.parentId]), [['c-2', null]]);
  assert.throws(() => store.checkpointChange({ put: [{ ...two, id: 'c-3' }], vm: a, events: [] }), /UNIQUE/, 'names are unique per VM');
  assert.deepEqual(store.checkpoints(a.id).map((c) => c.id), ['c-2'], 'a failed change changes nothing');
  store.remove(a.id, []);
  assert.deepEqual(store.checkpoints(a.id), []);
  store.close();
});

test('migration 4: VMs and checkpoints of an older database translate (jit true)', () => {
  const path = join(dir, 'v3.db');
  const store = new Store(path);
  const a = vm('00000000-0000-4000-8000-0000000000d1', 'old');
  store.save(a, []);
  store.close();
  // Back to schema 3 as a tshv before this setting wrote it: no jit column, checkpoint
  // definitions without the field.
  const db = new Database(path);
  db.exec('ALTER TABLE vms DROP COLUMN jit');
  db.prepare('INSERT INTO checkpoints (id, vm_id, name, parent_id, created_at, state_file, definition) VALUES (?, ?, ?, NULL, ?, NULL, ?)')
    .run('c-old', a.id, 'before', '2026-01-01T00:00:00.000Z', JSON.stringify({ name: 'old', vcpus: 2 }));
  db.pragma('user_version = 3');
  db.close();

  const migrated = new Store(path);
  assert.equal(migrated.vm(a.id)?.jit, true, 'an existing VM keeps translating');
  assert.deepEqual(migrated.checkpoints(a.id).map((c) => c.definition), [{ name: 'old', vcpus: 2, jit: true }]);
  migrated.save({ ...a, jit: false }, []);
  assert.equal(migrated.vm(a.id)?.jit, false);
  migrated.close();
  const after = new Database(path);
  assert.equal(after.pragma('user_version', { simple: true }), 4);
  after.close();
});
