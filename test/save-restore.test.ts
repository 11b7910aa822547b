// Save and restore of real guests (docs/state.md): a VM saved while it works — a process
// counting, files in tmpfs and on disk, a disk write in flight, four VPs — resumes from
// the state file exactly where it was; a save that lets the VM go on (a checkpoint's)
// leaves it running, and the file holds the moment of the save, not what came after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vm } from '../src/parent/vm.js';
import { guestConfig } from '../src/parent/guest-config.js';
import { createQcow2 } from '../src/parent/drivers/disk/qcow2-create.js';
import { StateError } from '../src/state/contract.js';
import { VmShell } from './lib/vm-shell.js';
import { ROOT, kernelTrouble } from './lib/guest-shell.js';

const TEST_MS = 240_000;
const dir = mkdtempSync(join(tmpdir(), 'tshv-save-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const hasQemuImg = spawnSync('qemu-img', ['--version']).status === 0;

/** The counter a background loop in the guest keeps in /run/t/count. The loop writes a
 *  new file and renames it over the old one, so a read never sees one half-written
 *  (`echo > file` truncates first: a read between the two saw an empty file). */
async function count(g: VmShell): Promise<number> {
  const text = (await g.run('cat /run/t/count')).trim();
  const n = Number(text);
  assert.ok(text !== '' && Number.isInteger(n) && n > 0, `a count, got ${JSON.stringify(text)}`);
  return n;
}

test('a 4-VP guest saved with a disk write in flight resumes where it was: its counter, tmpfs, disk and console', { timeout: TEST_MS }, async () => {
  const disk = join(dir, 'root.qcow2');
  await createQcow2(disk, { backing: join(ROOT, 'guest/images/rootfs.qcow2'), backingFormat: 'qcow2' });
  const config = await guestConfig({ root: disk, memoryBytes: 256 << 20, cpus: 4 });
  const first = new VmShell(config);
  const state = join(dir, 'vm.tshvstate');
  let before: number, tmpSum: string, pid: string, uptimeAtSave = 0;
  try {
    await first.waitForPrompt(120_000);
    assert.match(await first.run('grep -c ^processor /proc/cpuinfo'), /^4$/m);
    await first.run('mkdir -p /run/t && mount -t tmpfs none /run/t && dd if=/dev/urandom of=/run/t/data bs=64k count=64 2>/dev/null');
    tmpSum = (await first.run('md5sum /run/t/data | cut -d" " -f1')).trim();
    await first.run('echo on-disk > /root/note && sync');
    pid = (await first.run('(i=0; while true; do i=$((i+1)); echo $i > /run/t/next; mv /run/t/next /run/t/count; sleep 0.02; done) >/dev/null 2>&1 & echo $!')).trim();
    await new Promise((r) => setTimeout(r, 500));
    before = await count(first);
    uptimeAtSave = Number((await first.run('cut -d" " -f1 /proc/uptime')).trim());
    // Every page that holds something is in the written-page log (a save reads only those).
    assert.ok(first.vm.pause());
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(first.vm.unloggedPages(), [], 'pages written without being logged');
    assert.ok(first.vm.resume());
    // A 4 MiB copy to disk, synced, still going when the save comes.
    first.write('cp /run/t/data /root/copy && sync && echo copy-done\n');
    await new Promise((r) => setTimeout(r, 150));
    const saved = await first.vm.save(state, { then: 'stop' });
    assert.deepEqual(await first.done, { kind: 'saved', path: state });
    assert.equal(saved.bytes, statSync(state).size);
    // Zero pages are left out: the file is far smaller than the guest's 256 MiB.
    assert.ok(saved.bytes < 128 << 20, `state file of ${saved.bytes} bytes`);
    assert.ok(saved.zeroPages > 0);
  } finally {
    first.vm.stop();
  }

  const { vm, config: restored } = await Vm.restore(state);
  assert.equal(restored.cpus, 4);
  const g = new VmShell(vm);
  try {
    await g.waitFor('the copy to finish', () => g.log.includes('copy-done'), 60_000);
    const after = await count(g);
    assert.ok(after >= before, `the counter went on from ${before} (now ${after}), it did not start again`);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await count(g)) > after, 'the counter still counts');
    assert.match(await g.run(`kill -0 ${pid} && echo alive`), /alive/);
    assert.equal((await g.run('md5sum /run/t/data | cut -d" " -f1')).trim(), tmpSum, 'tmpfs survived');
    // From the disk itself, not the page cache.
    await g.run('echo 3 > /proc/sys/vm/drop_caches');
    assert.equal((await g.run('md5sum /root/copy | cut -d" " -f1')).trim(), tmpSum, 'the write in flight reached the disk');
    assert.match(await g.run('cat /root/note'), /on-disk/);
    // Guest time went on from the save (no jump back), and the RTC tells the guest the host's time now.
    const uptime = Number((await g.run('cut -d" " -f1 /proc/uptime')).trim());
    assert.ok(uptime >= uptimeAtSave, `uptime ${uptime} continues from ${uptimeAtSave}`);
    const rtc = Number((await g.run('hwclock -s && date +%s')).trim());
    assert.ok(Math.abs(rtc - Date.now() / 1000) < 10, `the guest set its clock from the RTC: ${rtc}, host ${Date.now() / 1000}`);
    assert.match(await g.run('grep -c ^processor /proc/cpuinfo'), /^4$/m);
    assert.match(await g.run('cat /sys/devices/system/cpu/online'), /^0-3$/m);
    assert.deepEqual(kernelTrouble(g.log), [], g.log.slice(-3000));
    assert.ok(vm.pause());
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(vm.unloggedPages(), [], 'a restored VM logs what it restored and what it wrote since');
    assert.ok(vm.resume());
    g.write('poweroff -f\n');
    assert.equal((await g.done).kind, 'poweroff');
  } finally {
    vm.stop();
  }
  if (hasQemuImg) {
    const r = spawnSync('qemu-img', ['check', disk], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  }
});

test('a save that lets the VM go on leaves it running; its file holds the moment of the save', { timeout: TEST_MS }, async () => {
  const first = new VmShell({ cpus: 2 });
  const state = join(dir, 'live.tshvstate');
  try {
    await first.waitForPrompt(120_000);
    await first.run('echo before-save > /tmp/mark');
    await first.vm.save(state, { then: 'continue' });
    assert.equal(first.stopped, undefined, 'still running');
    await first.run('echo after-save > /tmp/mark');
    assert.match(await first.run('cat /tmp/mark'), /after-save/);
  } finally {
    first.vm.stop();
    await first.done;
  }
  const g = new VmShell((await Vm.restore(state)).vm);
  try {
    assert.match(await g.run('cat /tmp/mark'), /before-save/);
    assert.deepEqual(kernelTrouble(g.log), []);
  } finally {
    g.vm.stop();
    await g.done;
  }
});

test('a state file that is truncated or not one is refused with a StateError before any thread starts', { timeout: TEST_MS }, async () => {
  const state = join(dir, 'live.tshvstate');
  const bytes = readFileSync(state);
  const cut = join(dir, 'cut.tshvstate');
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await assert.rejects(Vm.restore(cut), StateError);
  writeFileSync(cut, 'not a state file at all');
  await assert.rejects(Vm.restore(cut), StateError);
});
