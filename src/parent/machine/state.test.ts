// The saved machine configuration and the state document's frame are untrusted input
// (they come from a state file): every field is checked before a machine is built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMachineState, parseSavedConfig } from './state.js';
import { StateError } from '../../state/contract.js';

const good = { version: 1, cpus: 2, memoryBytes: 64 << 20, console: 'serial', disks: [{ path: '/d.qcow2', readOnly: false }], append: 'console=ttyS0', boot: { kernel: '/k' } };

test('a saved configuration round-trips; every bad field is a StateError naming it', () => {
  assert.deepEqual(parseSavedConfig(good), good);
  const bad: [object, RegExp][] = [
    [{ ...good, version: 2 }, /version/], [{ ...good, cpus: 0 }, /cpus/], [{ ...good, cpus: 99 }, /cpus/],
    [{ ...good, memoryBytes: (64 << 20) + 1 }, /memoryBytes/], [{ ...good, memoryBytes: 2 ** 40 }, /memoryBytes/],
    [{ ...good, console: 'vga' }, /console/], [{ ...good, disks: 'x' }, /disks/],
    [{ ...good, disks: Array.from({ length: 99 }, () => good.disks[0]) }, /disks/],
    [{ ...good, disks: [{ path: 'a\0b', readOnly: false }] }, /path/], [{ ...good, disks: [{ path: '/d' }] }, /readOnly/],
    [{ ...good, append: 'x'.repeat(5000) }, /append/], [{ ...good, boot: { kernel: 7 } }, /kernel/], [[], /not an object/],
  ];
  for (const [v, why] of bad) assert.throws(() => parseSavedConfig(v), (e: unknown) => e instanceof StateError && why.test(e.message), JSON.stringify(v).slice(0, 80));
});

test('a machine state must have every part', () => {
  const state = { version: 1, partition: {}, plic: {}, uart: {}, rtc: {}, synthetic: {} };
  assert.deepEqual(parseMachineState(state), state);
  assert.throws(() => parseMachineState({ ...state, plic: undefined }), /machine state: plic is missing/);
  assert.throws(() => parseMachineState({ ...state, version: 0 }), StateError);
  assert.throws(() => parseMachineState(null), StateError);
});
