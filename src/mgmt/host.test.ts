// The lifecycle table drives Host: every action outside its legal states is a 409 naming
// them, with no side effect. (Legal actions boot real guests: test/mgmt/.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host } from './host.js';
import { Vm, type RestoreOptions } from '../parent/vm.js';
import { Store } from './store.js';
import { ApiError } from './errors.js';
import { LIFECYCLE, VM_STATES, type VmAction, type VmState } from './lifecycle.js';
import { vmConfig, type VmRecord } from './vm-record.js';

const store = new Store(join(mkdtempSync(join(tmpdir(), 'tshv-host-')), 'tshv.db'));
const host = new Host(store);

const record = (state: VmState): VmRecord => ({
  id: `00000000-0000-4000-8000-00000000000${VM_STATES.indexOf(state)}`, name: `vm-${state}`, vcpus: 1, memoryMiB: 64,
  kernel: null, initrd: null, append: null, root: null, disks: [], console: 'serial', autoStart: false, stopAction: 'stop', jit: true, checkpoint: null,
  state, stateReason: null, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', startedAt: null,
});
for (const state of VM_STATES) store.save(record(state), []);

/** Host's entry point for each action the table names (the console is the API's: console.ts). */
const act: Record<Exclude<VmAction, 'console'>, (ref: string) => unknown> = {
  start: (ref) => host.start(ref), stop: (ref) => host.stop(ref), restart: (ref) => host.restart(ref),
  pause: (ref) => host.pause(ref), resume: (ref) => host.resume(ref),
  update: (ref) => host.update(ref, { vcpus: 2 }), delete: (ref) => host.remove(ref),
  save: (ref) => host.save(ref), 'discard-state': (ref) => host.discardState(ref), checkpoint: (ref) => host.checkpoint(ref),
  'apply-checkpoint': (ref) => host.applyCheckpoint(ref, 'cp'), 'delete-checkpoint': (ref) => host.deleteCheckpoint(ref, 'cp'),
  migrate: (ref) => host.migrating(ref, async () => undefined),
};

async function refusal(action: keyof typeof act, state: VmState): Promise<ApiError> {
  try {
    await act[action](`vm-${state}`);
  } catch (e) {
    assert.ok(e instanceof ApiError, `${action} in ${state}: ${String(e)}`);
    return e;
  }
  assert.fail(`${action} in ${state} was accepted`);
}

test('an action outside the states the lifecycle table allows is a 409 naming them, with no side effect', async () => {
  let refused = 0;
  for (const action of Object.keys(act) as (keyof typeof act)[]) {
    const verb = action === 'update' ? 'change' : action;
    for (const state of VM_STATES.filter((s) => !LIFECYCLE[action].states.includes(s))) {
      const e = await refusal(action, state);
      assert.equal(e.status, 409);
      assert.deepEqual(e.body(), {
        error: `cannot ${verb} vm-${state}: it is ${state} (${verb} needs ${LIFECYCLE[action].states.join(' or ')})`, state,
      });
      assert.deepEqual(store.vm(record(state).id), record(state), 'nothing changed');
      refused++;
    }
  }
  const illegal = Object.keys(act).reduce((n, a) => n + VM_STATES.length - LIFECYCLE[a as keyof typeof act].states.length, 0);
  assert.equal(refused, illegal, 'every illegal pair was tried');
  assert.ok(refused >= 28);
  assert.deepEqual(store.events(record('off').id, 100), [], 'no events');
});

test('the messages are the ones the API has always given', async () => {
  assert.equal((await refusal('update', 'running')).message, 'cannot change vm-running: it is running (change needs off or failed)');
  assert.equal((await refusal('stop', 'off')).message, 'cannot stop vm-off: it is off (stop needs starting or running or paused or saving or stopping)');
  assert.equal((await refusal('restart', 'stopping')).message, 'cannot restart vm-stopping: it is stopping (restart needs running or paused)');
  assert.equal((await refusal('delete', 'paused')).message, 'cannot delete vm-paused: it is paused (delete needs off or failed or saved)');
});

test('jit: translation by default; off and on again through create and update; it reaches the machine', async () => {
  assert.equal((await host.create({ name: 'jit-default' })).jit, true);
  const off = await host.create({ name: 'jit-off', jit: false });
  assert.equal(off.jit, false);
  assert.equal(store.vm(off.id)?.jit, false, 'as stored');
  assert.equal((await vmConfig(off)).jit, false, 'a start builds the machine interpreting only');
  assert.equal((await vmConfig(store.vm((await host.get('jit-default')).id)!)).jit, true);
  const on = await host.update('jit-off', { jit: true });
  assert.equal(on.jit, true);
  assert.equal(store.vm(off.id)?.jit, true);
  assert.match(store.events(off.id, 1)[0].message!, /changed: jit/);
});

test('jit: a saved VM resumes with its definition\'s setting (a state file does not record it)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tshv-host-saved-'));
  const saving = new Host(store, undefined, undefined, join(dir, 'saved'));
  const saved: VmRecord = { ...record('saved'), id: '00000000-0000-4000-8000-0000000000a1', name: 'jit-saved', jit: false };
  store.save(saved, []);
  const restore = Vm.restore;
  let seen: RestoreOptions | undefined;
  Vm.restore = async (_path: string, options: RestoreOptions = {}) => { seen = options; throw new Error('not this time'); };
  try {
    await assert.rejects(saving.start('jit-saved'), /not this time/);
  } finally {
    Vm.restore = restore;
  }
  assert.equal(seen?.jit, false);
});
