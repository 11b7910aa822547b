// `tshv vm` without a service: the create body from the flags, the list table, the show text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientError, ClientExit } from './client.js';
import { createBody, stateText, updateBody, vmFields, vmTable, withFlag } from './vm.js';
import type { ApiVm } from './api-types.js';

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ClientError);
    assert.equal(e.exit, ClientExit.usage);
    return e.message;
  }
  assert.fail('expected a usage error');
}

test('create: only the given fields are sent; memory in MiB; paths made absolute', () => {
  assert.deepEqual(createBody('web-1', {}), { name: 'web-1' });
  assert.deepEqual(createBody('db', {
    vcpus: '2', memory: '1G', kernel: 'Image', initrd: '/abs/initrd.gz', append: 'console=hvc0 quiet', root: 'disks/root.qcow2',
    disk: ['data.qcow2', '/seed.img,readonly', 'x.img,ro'], console: 'virtio', autoStart: true,
  }, '/home/u'), {
    name: 'db', vcpus: 2, memoryMiB: 1024, kernel: '/home/u/Image', initrd: '/abs/initrd.gz', append: 'console=hvc0 quiet',
    root: '/home/u/disks/root.qcow2',
    disks: [{ path: '/home/u/data.qcow2', readOnly: false }, { path: '/seed.img', readOnly: true }, { path: '/home/u/x.img', readOnly: true }],
    console: 'virtio', autoStart: true,
  });
  assert.equal(createBody('m', { memory: '256M' }).memoryMiB, 256);
  assert.equal(createBody('m', { memory: '524288K' }).memoryMiB, 512);
});

test('--no-jit: sent as jit false; create leaves the default (commander\'s true) to the service; update turns it either way', () => {
  assert.deepEqual(createBody('i', { jit: false }), { name: 'i', jit: false });
  assert.deepEqual(createBody('t', { jit: true }), { name: 't' });
  assert.deepEqual(updateBody({ jit: false }), { jit: false });
  assert.deepEqual(updateBody({ jit: true }), { jit: true });
  assert.deepEqual(updateBody({ vcpus: '2' }), { vcpus: 2 }, 'not given: not changed');
});

test('create: bad flags are usage errors naming the flag', () => {
  assert.match(usage(() => createBody('a', { vcpus: 'two' })), /--vcpus must be a whole number/);
  assert.match(usage(() => createBody('a', { vcpus: '1.5' })), /--vcpus/);
  assert.match(usage(() => createBody('a', { memory: 'lots' })), /--memory: "lots" is not a size/);
  assert.match(usage(() => createBody('a', { memory: '1000K' })), /whole number of MiB/);
  assert.match(usage(() => createBody('a', { disk: ['d.img,rw'] })), /unknown option "rw"/);
  assert.match(usage(() => createBody('a', { disk: [',readonly'] })), /no image file/);
});

const base: ApiVm = {
  id: '9b2c4f0e-1d2a-4c1e-9f7a-0b3c5d7e9f11', name: 'web-1', vcpus: 1, memoryMiB: 256, kernel: null, initrd: null, append: null,
  root: null, disks: [], console: 'serial', autoStart: false, stopAction: 'stop', jit: true, checkpoint: null, state: 'off', stateReason: null,
  createdAt: '2026-11-21T13:00:00.000Z', updatedAt: '2026-11-21T13:00:00.000Z', startedAt: null,
};

test('list: one aligned row per VM; uptime only while running or paused', () => {
  const now = Date.parse('2026-11-21T14:00:00.000Z');
  const text = vmTable([
    base,
    { ...base, id: '00000000-0000-4000-8000-000000000001', name: 'database-primary', vcpus: 4, memoryMiB: 2048, state: 'running', startedAt: '2026-11-21T13:30:00.000Z' },
  ], now);
  assert.equal(text, [
    'NAME               STATE     VCPUS   MEMORY   UPTIME   ID',
    'web-1              off           1     256M        -   9b2c4f0e-1d2a-4c1e-9f7a-0b3c5d7e9f11',
    'database-primary   running       4       2G      30m   00000000-0000-4000-8000-000000000001',
    '',
  ].join('\n'));
});

test('show: defaults spelled out, disks one per line, the stop reason with the state', () => {
  const text = vmFields({ ...base, state: 'off', stateReason: 'poweroff', root: '/r.qcow2', disks: [{ path: '/a', readOnly: false }, { path: '/b', readOnly: true }] });
  assert.match(text, /^Name: +web-1$/m);
  assert.match(text, /^State: +off \(poweroff\)$/m);
  assert.match(text, /^Kernel: +\(the built-in guest kernel\)$/m);
  assert.match(text, /^Initrd: +\(none\)$/m); // a root disk replaces the initramfs
  assert.match(text, /^Disks: +\/a\n +\/b \(read-only\)$/m);
  assert.match(text, /^Memory: +256M$/m);
  assert.doesNotMatch(text, /Started/);
  const running = vmFields({ ...base, state: 'running', startedAt: '2026-11-21T13:00:00.000Z' }, Date.parse('2026-11-21T13:00:42.000Z'));
  assert.match(running, /^Started: +2026-11-21T13:00:00.000Z \(up 42s\)$/m);
  assert.match(running, /^Initrd: +\(the built-in initramfs\)$/m);
  assert.doesNotMatch(running, /^Root:/m);
  assert.match(running, /^Processor: +translation on/m);
  assert.match(vmFields({ ...base, jit: false }), /^Processor: +interpreter only$/m);
});

test('state text: a reason only for off and failed', () => {
  assert.equal(stateText({ state: 'failed', stateReason: 'cannot open /x: no such file' }), 'failed (cannot open /x: no such file)');
  assert.equal(stateText({ state: 'running', stateReason: 'poweroff' }), 'running');
  assert.equal(stateText({ state: 'off', stateReason: null }), 'off');
});

test('create: the service\'s 400s are usage errors naming the option the field came from', () => {
  const e400 = (field?: string) => new ClientError('bad', ClientExit.failed, 400, { error: 'bad', field });
  const memory = withFlag(e400('memoryMiB')) as ClientError;
  assert.equal(memory.message, 'bad (--memory)');
  assert.equal(memory.exit, ClientExit.usage);
  assert.equal((withFlag(e400('disks[1].path')) as Error).message, 'bad (--disk)');
  assert.equal((withFlag(e400('name')) as Error).message, 'bad');
  assert.equal((withFlag(e400('jit')) as Error).message, 'bad (--no-jit)');
  assert.equal((withFlag(e400()) as ClientError).exit, ClientExit.usage);
  const e409 = new ClientError('taken', ClientExit.failed, 409, { error: 'taken', field: 'name' });
  assert.equal(withFlag(e409), e409);
});
