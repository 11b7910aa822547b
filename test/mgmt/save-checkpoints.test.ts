// Saved VMs and checkpoints through the REST API of a real `tshv serve` (docs/state.md):
// save, saved in the list, start resumes where it was, discard-state; the stop action
// save across a service restart; a tree of checkpoints on a qcow2 root disk, applied while
// running and while off, deleted with their images merged, every image accepted by qemu-img.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Service, type WsConsole } from './service.js';
import { ROOT, kernelTrouble } from '../lib/guest-shell.js';
import { createQcow2 } from '../../src/parent/drivers/disk/qcow2-create.js';

const BOOT_MS = 120_000;
const hasQemuImg = spawnSync('qemu-img', ['--version']).status === 0;

/** qemu-img check and info --backing-chain accept the image (when qemu-img is installed). */
function assertImageGood(path: string): void {
  if (!hasQemuImg) return;
  const check = spawnSync('qemu-img', ['check', path], { encoding: 'utf8' });
  assert.equal(check.status, 0, `qemu-img check ${path}:\n${check.stdout}${check.stderr}`);
  const info = spawnSync('qemu-img', ['info', '--backing-chain', path], { encoding: 'utf8' });
  assert.equal(info.status, 0, `qemu-img info --backing-chain ${path}:\n${info.stdout}${info.stderr}`);
}

async function shell(s: Service, vm: string): Promise<WsConsole> {
  const c = await s.console(vm);
  await c.waitForPrompt(BOOT_MS);
  return c;
}

test('save a VM, see it saved, resume it where it was; discard a saved state; the stop action save across a service restart', { timeout: 400_000 }, async () => {
  let s = await Service.start();
  try {
    const vm = await s.ok('POST', '/api/vms', { name: 'sv', memoryMiB: 128 }, 201);
    await s.ok('POST', '/api/vms/sv/start');
    let c = await shell(s, 'sv');
    await c.run('echo marker-$((40+2)) > /tmp/m');

    const saved = await s.ok('POST', '/api/vms/sv/save');
    assert.equal(saved.state, 'saved');
    assert.ok(existsSync(join(s.dataDir, 'saved', `${vm.id}.tshvstate`)));
    assert.equal((await s.ok('GET', '/api/vms')).find((v: any) => v.name === 'sv').state, 'saved');
    assert.equal((await s.api('PATCH', '/api/vms/sv', { vcpus: 2 })).status, 409, 'a saved VM\'s definition cannot change');
    const events = await s.ok('GET', `/api/vms/${vm.id}/events?limit=100`);
    assert.ok(events.some((e: any) => e.type === 'saved' && /state saved: [\d.]+ MiB/.test(e.message)), JSON.stringify(events));

    // Start resumes: the tmpfs file is there (a boot would have lost it), the file is gone.
    assert.equal((await s.ok('POST', '/api/vms/sv/start')).state, 'running');
    c = await s.console('sv');
    assert.match(await c.run('cat /tmp/m'), /marker-42/);
    assert.ok(!existsSync(join(s.dataDir, 'saved', `${vm.id}.tshvstate`)), 'the state file is removed once the VM runs');

    // Discard: off, and the next start boots afresh.
    await s.ok('POST', '/api/vms/sv/save');
    assert.equal((await s.ok('POST', '/api/vms/sv/discard-state')).state, 'off');
    assert.ok(!existsSync(join(s.dataDir, 'saved', `${vm.id}.tshvstate`)));
    assert.equal((await s.api('POST', '/api/vms/sv/discard-state')).status, 409);

    // Stop action save: the service's shutdown saves the VM, its next start resumes it.
    await s.ok('PATCH', '/api/vms/sv', { stopAction: 'save' });
    await s.ok('POST', '/api/vms/sv/start');
    c = await shell(s, 'sv');
    await c.run('echo kept > /tmp/k');
    assert.equal((await s.kill('SIGTERM')).code, 0, s.output);
    s = await Service.start(s.dataDir);
    const resumed = await s.waitForVm('sv', (v) => v.state === 'running', 'running again', 60_000);
    assert.equal(resumed.stopAction, 'save');
    c = await s.console('sv');
    assert.match(await c.run('cat /tmp/k'), /kept/);
    assert.deepEqual(kernelTrouble(c.log), []);
    await s.ok('POST', '/api/vms/sv/stop');
  } finally {
    await s.kill();
  }
});

test('checkpoints: a tree on a qcow2 root disk, applied running and off, deleted and merged; qemu-img accepts every image', { timeout: 500_000 }, async () => {
  const s = await Service.start();
  try {
    const root = join(s.dataDir, 'images', 'root.qcow2');
    await createQcow2(root, { backing: join(ROOT, 'guest/images/rootfs.qcow2'), backingFormat: 'qcow2' });
    const vm = await s.ok('POST', '/api/vms', { name: 'cp', memoryMiB: 128, root }, 201);
    const dir = join(s.dataDir, 'checkpoints', vm.id);
    await s.ok('POST', '/api/vms/cp/start');
    let c = await shell(s, 'cp');
    await c.run('echo one > /root/f && echo mem-one > /tmp/m && sync');

    const one = await s.ok('POST', '/api/vms/cp/checkpoints', { name: 'one' }, 201);
    assert.equal(one.memory, true);
    assert.equal(one.current, true);
    assert.deepEqual(one.disks, [root], 'the frozen image of the first checkpoint is the VM\'s own disk');
    const running = await s.ok('GET', '/api/vms/cp');
    assert.equal(running.state, 'running', 'a checkpoint leaves the VM running');
    assert.ok(running.root.startsWith(dir), `the VM goes on in an overlay in ${dir}: ${running.root}`);
    await c.run('echo two > /root/f && echo mem-two > /tmp/m && sync');
    const two = await s.ok('POST', '/api/vms/cp/checkpoints', { name: 'two' }, 201);
    assert.equal(two.parentId, one.id);
    await c.run('echo three > /root/f && sync');
    assert.equal((await s.api('POST', '/api/vms/cp/checkpoints', { name: 'two' })).status, 409, 'names are unique per VM');

    // Apply while running: the VM runs on from checkpoint one, memory and disk.
    const applied = await s.ok('POST', '/api/vms/cp/checkpoints/one/apply');
    assert.equal(applied.state, 'running');
    assert.equal(applied.checkpoint, one.id);
    c = await s.console('cp');
    assert.match(await c.run('cat /root/f /tmp/m'), /^one\nmem-one$/m);
    await c.run('echo branch > /root/f && sync');
    const three = await s.ok('POST', '/api/vms/cp/checkpoints', { name: 'three' }, 201);
    assert.equal(three.parentId, one.id, 'a branch: three hangs from one, like two');

    // Delete two while running: it goes now, its image is merged once the VM stops.
    await s.ok('DELETE', '/api/vms/cp/checkpoints/two', undefined, 204);
    const list = await s.ok('GET', '/api/vms/cp/checkpoints');
    assert.deepEqual(list.map((x: any) => [x.name, x.parentId === one.id, x.current]), [['one', false, false], ['three', true, true]]);
    await s.ok('POST', '/api/vms/cp/stop');
    const afterStop = await s.ok('GET', '/api/vms/cp');
    await s.waitForVm('cp', (v) => v.state === 'off', 'off');
    for (const d of two.disks as string[]) {
      for (let i = 0; i < 50 && existsSync(d); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(!existsSync(d), `two's frozen image ${d} was merged and removed`);
    }
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.qcow2'))) assertImageGood(join(dir, f));
    assertImageGood(afterStop.root);

    // Apply three while off: the VM is left saved at it; start resumes it there.
    const saved = await s.ok('POST', '/api/vms/cp/checkpoints/three/apply');
    assert.equal(saved.state, 'saved');
    await s.ok('POST', '/api/vms/cp/start');
    c = await s.console('cp');
    assert.match(await c.run('cat /root/f'), /^branch$/m);
    assert.deepEqual(kernelTrouble(c.log), []);
    await s.ok('POST', '/api/vms/cp/stop');

    // Deleting the first checkpoint never touches the user's own image.
    await s.ok('DELETE', '/api/vms/cp/checkpoints/one', undefined, 204);
    assert.ok(existsSync(root));
    assertImageGood(root);
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.qcow2'))) assertImageGood(join(dir, f));
    assert.equal((await s.api('POST', '/api/vms/cp/checkpoints/nonesuch/apply')).status, 404);
  } finally {
    await s.kill();
  }
});
