// checkJson against the schema an incoming migration's VM record must meet
// (IncomingVmSchema): the record comes from the other host, as untrusted as a request
// body, so every rule the API's validator applies must hold here too, and a refusal must
// be a 400 naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkJson } from './json-check.js';
import { ApiError } from './errors.js';
import { IncomingVmSchema } from './schemas.js';
import { MACHINE_LIMITS, MEMORY_MIB } from '../parent/machine/limits.js';

/** A record as the source host sends it: every field of a definition, set. */
const GOOD = {
  name: 'web-1', id: '0B7C54C6-3f5e-4c39-9a53-2f4d1a0e9b11', createdAt: '2026-01-01T00:00:00.000Z', startedAt: null,
  vcpus: 2, memoryMiB: 256, kernel: null, initrd: '/srv/images/initrd', append: null, root: '/srv/images/root.qcow2',
  disks: [{ path: '/srv/images/data.raw', readOnly: true }, { path: '/srv/images/scratch.qcow2' }],
  console: 'virtio', autoStart: true, stopAction: 'save', jit: false,
};

/** Checks `value` as host.ts does (field "vm"); returns the ApiError it is refused with. */
function refusal(value: unknown): ApiError {
  try {
    checkJson(IncomingVmSchema, value, 'vm');
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected an ApiError, got ${String(e)}`);
    return e;
  }
  assert.fail(`accepted: ${JSON.stringify(value).slice(0, 200)}`);
}

/** Refused with a 400 whose field and message are these. */
function refused(value: unknown, field: string, message: RegExp): void {
  const e = refusal(value);
  assert.equal(e.status, 400);
  assert.equal(e.extra.field, field, e.message);
  assert.match(e.message, message);
}

test('a full record passes, and so does the least one (name, id, createdAt)', () => {
  checkJson(IncomingVmSchema, GOOD, 'vm');
  checkJson(IncomingVmSchema, { name: 'a', id: GOOD.id, createdAt: '' }, 'vm');
  checkJson(IncomingVmSchema, { ...GOOD, startedAt: '2026-01-01T00:00:01.000Z', kernel: '/k', append: 'console=hvc0' }, 'vm');
});

test('a field of the wrong type is refused, naming it (nested ones by their path)', () => {
  refused({ ...GOOD, name: 5 }, 'vm.name', /^vm\.name must be string$/);
  refused({ ...GOOD, vcpus: '2' }, 'vm.vcpus', /must be integer/);
  refused({ ...GOOD, vcpus: 1.5 }, 'vm.vcpus', /must be integer/);
  refused({ ...GOOD, memoryMiB: null }, 'vm.memoryMiB', /must be integer/);
  refused({ ...GOOD, kernel: 7 }, 'vm.kernel', /must be string or null/);
  refused({ ...GOOD, startedAt: false }, 'vm.startedAt', /must be string or null/);
  refused({ ...GOOD, jit: 'yes' }, 'vm.jit', /must be boolean/);
  refused({ ...GOOD, disks: {} }, 'vm.disks', /must be array/);
  refused({ ...GOOD, disks: ['/srv/images/data.raw'] }, 'vm.disks[0]', /must be object/);
  refused({ ...GOOD, disks: [GOOD.disks[0], { path: '/d', readOnly: 'no' }] }, 'vm.disks[1].readOnly', /must be boolean/);
  for (const v of [null, [], 'web-1', 7]) refused(v, 'vm', /^vm must be object$/);
});

test('an unknown field is refused, at the top and inside a disk', () => {
  refused({ ...GOOD, state: 'running' }, 'vm', /vm has an unknown field state/);
  refused({ ...GOOD, disks: [{ path: '/d', readOnly: true, cache: 'none' }] }, 'vm.disks[0]', /has an unknown field cache/);
});

test('a field named like an Object.prototype member is an unknown field too', () => {
  // The schema's properties are a plain object: looking a key up there found
  // Object.prototype's members, which as schemas allow anything.
  for (const key of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__']) {
    const record = JSON.parse(`{"name": "web-1", "id": "${GOOD.id}", "createdAt": "x", "${key}": {"x": 1}}`);
    assert.ok(Object.hasOwn(record, key));
    refused(record, 'vm', new RegExp(`has an unknown field ${key}`));
    refused({ ...GOOD, disks: [JSON.parse(`{"path": "/d", "${key}": 1}`)] }, 'vm.disks[0]', new RegExp(`unknown field ${key}`));
  }
});

test('a string that does not match its pattern, or a value out of its range, is refused', () => {
  refused({ ...GOOD, name: 'Web 1' }, 'vm.name', /must match/);
  refused({ ...GOOD, name: 'a'.repeat(64) }, 'vm.name', /must match/);
  refused({ ...GOOD, id: '0b7c54c6-3f5e-4c39-9a53-2f4d1a0e9b1' }, 'vm.id', /must match/);
  refused({ ...GOOD, id: `${GOOD.id}\n` }, 'vm.id', /must match/);
  refused({ ...GOOD, kernel: 'images/k' }, 'vm.kernel', /must match \^\//);
  refused({ ...GOOD, disks: [{ path: 'd.raw' }] }, 'vm.disks[0].path', /must match/);
  refused({ ...GOOD, root: '' }, 'vm.root', /must be at least 1 characters/);
  refused({ ...GOOD, append: 'x'.repeat(1025) }, 'vm.append', /must be at most 1024 characters/);
  refused({ ...GOOD, createdAt: 'x'.repeat(65) }, 'vm.createdAt', /must be at most 64 characters/);
  refused({ ...GOOD, vcpus: MACHINE_LIMITS.cpus.min - 1 }, 'vm.vcpus', new RegExp(`must be at least ${MACHINE_LIMITS.cpus.min}`));
  refused({ ...GOOD, vcpus: MACHINE_LIMITS.cpus.max + 1 }, 'vm.vcpus', new RegExp(`must be at most ${MACHINE_LIMITS.cpus.max}`));
  refused({ ...GOOD, memoryMiB: MEMORY_MIB.min - 1 }, 'vm.memoryMiB', /must be at least/);
  refused({ ...GOOD, memoryMiB: MEMORY_MIB.max + 1 }, 'vm.memoryMiB', /must be at most/);
  refused({ ...GOOD, console: 'vga' }, 'vm.console', /must be one of serial, virtio/);
  refused({ ...GOOD, stopAction: 'hibernate' }, 'vm.stopAction', /must be one of stop, save/);
  refused({ ...GOOD, disks: Array.from({ length: MACHINE_LIMITS.disks + 1 }, (_, i) => ({ path: `/d${i}` })) }, 'vm.disks', /must have at most \d+ items/);
  // The edges themselves pass.
  checkJson(IncomingVmSchema, { ...GOOD, vcpus: MACHINE_LIMITS.cpus.max, memoryMiB: MEMORY_MIB.min, append: 'x'.repeat(1024), name: 'a'.repeat(63) }, 'vm');
});

test('a missing required field is refused, naming it', () => {
  for (const key of ['name', 'id', 'createdAt'] as const) {
    const { [key]: _, ...rest } = GOOD;
    refused(rest, 'vm', new RegExp(`^vm lacks ${key}$`));
  }
  refused({ ...GOOD, disks: [{ readOnly: true }] }, 'vm.disks[0]', /lacks path/);
});

test('as a request body (the default field), top-level fields are named bare', () => {
  assert.throws(() => checkJson(IncomingVmSchema, { ...GOOD, vcpus: 0 }), (e: unknown) => e instanceof ApiError && e.extra.field === 'vcpus' && /^vcpus must be at least/.test(e.message));
  assert.throws(() => checkJson(IncomingVmSchema, { ...GOOD, disks: [{}] }), (e: unknown) => e instanceof ApiError && e.extra.field === 'disks[0]');
});
