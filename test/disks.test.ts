// Synthetic disks end to end: `tshv run` with --root and --disk on real images made and
// checked by Debian's qemu-img, data written in the guest read back outside it, the
// image lock, read-only disks, and the virtio console. Needs qemu-img (skipped without).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { ROOT, kernelTrouble, withGuest } from './lib/guest-shell.js';

const TEST_MS = 180_000;
const ROOTFS = join(ROOT, 'guest/images/rootfs.qcow2');
const dir = mkdtempSync(join(tmpdir(), 'tshv-disks-'));
const hasQemuImg = spawnSync('qemu-img', ['--version']).status === 0;
const needs = hasQemuImg ? {} : { skip: 'qemu-img is not installed (apt-get install qemu-utils)' };
const hasE2fs = spawnSync('debugfs', ['-V']).status === 0 && spawnSync('e2fsck', ['-V']).status === 0;
/** Reading files back out of an image also needs e2fsprogs (e2fsck, debugfs). */
const needsFs = !hasQemuImg ? needs : hasE2fs ? {} : { skip: 'e2fsprogs is not installed (apt-get install e2fsprogs)' };

const qemuImg = (...args: string[]) => execFileSync('qemu-img', args, { encoding: 'utf8' });

/** A qcow2 overlay on the committed root filesystem (backing file, read-only, shared). */
function overlay(name: string): string {
  const path = join(dir, name);
  qemuImg('create', '-q', '-f', 'qcow2', '-b', ROOTFS, '-F', 'qcow2', path);
  return path;
}

/** qemu-img check's verdict: no corruptions, no leaks. */
function assertImageClean(path: string): void {
  const r = spawnSync('qemu-img', ['check', '--output=json', path], { encoding: 'utf8' });
  const report = JSON.parse(r.stdout) as { corruptions?: number; leaks?: number; 'check-errors': number };
  assert.equal(r.status, 0, `qemu-img check ${path}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  assert.equal(report.corruptions ?? 0, 0, `corruptions in ${path}`);
  assert.equal(report.leaks ?? 0, 0, `leaked clusters in ${path}`);
  assert.equal(report['check-errors'], 0, `check errors in ${path}`);
}

/**
 * A file's bytes from an ext4 image as qemu-img sees it (convert to raw, then debugfs).
 * After a crash the file may still be in ext4's journal (committed by sync, not yet
 * written to its home): e2fsck replays the journal first, as mounting would.
 */
function fileFromImage(image: string, file: string): Buffer {
  const raw = join(dir, `read-${Date.now()}.raw`);
  qemuImg('convert', '-O', 'raw', image, raw);
  const fsck = spawnSync('e2fsck', ['-fy', raw], { encoding: 'utf8' });
  assert.ok(fsck.status === 0 || fsck.status === 1, `e2fsck found the file system broken:\n${fsck.stdout}${fsck.stderr}`);
  return execFileSync('debugfs', ['-R', `cat ${file}`, raw], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
}

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

test('boot from a qcow2 root disk with a backing file; files written and synced are in the image', { ...needsFs, timeout: TEST_MS }, async () => {
  const disk = overlay('root.qcow2');
  let guestSum = '';
  await withGuest(['--root', disk], async (g) => {
    await g.waitForPrompt();
    assert.match(await g.run('cat /proc/cmdline'), /root=\/dev\/vda/);
    assert.match(await g.run('grep " / " /proc/mounts'), /^\/dev\/root \/ ext4 rw/m);
    // 3 MiB from the guest's own entropy (virtio-rng feeds the kernel's pool).
    await g.run('dd if=/dev/urandom of=/root/data bs=64k count=48 2>/dev/null; echo hello from the guest > /root/hello');
    guestSum = (await g.run('md5sum /root/data')).trim().split(/\s+/)[0];
    await g.run('sync');
    const exit = await g.poweroff();
    assert.equal(exit.code, 0);
    assert.deepEqual(kernelTrouble(g.log), []);
  });
  assertImageClean(disk);
  assert.equal(fileFromImage(disk, '/root/hello').toString(), 'hello from the guest\n');
  assert.equal(md5(fileFromImage(disk, '/root/data')), guestSum, 'the data file read back through qemu-img has the md5 the guest computed');

  // And the next boot sees it too.
  await withGuest(['--root', disk], async (g) => {
    assert.equal((await g.run('cat /root/hello')).trim(), 'hello from the guest');
    assert.equal((await g.run('md5sum /root/data')).trim().split(/\s+/)[0], guestSum);
    assert.equal((await g.poweroff()).code, 0);
  });
  assertImageClean(disk);
});

test('data synced in the guest survives SIGKILL of the host right after the sync', { ...needsFs, timeout: TEST_MS }, async () => {
  const disk = overlay('killed.qcow2');
  const payload = randomBytes(200_000).toString('hex').slice(0, 300_000);
  writeFileSync(join(dir, 'payload'), payload);
  await withGuest(['--root', disk], async (g) => {
    await g.waitForPrompt();
    // Typed in as a here-doc would be slow: make the file from a pattern instead.
    await g.run('i=0; while [ $i -lt 2000 ]; do echo "line $i of the file that must survive"; i=$((i+1)); done > /root/survivor');
    await g.run('sync');
    g.child.kill('SIGKILL');
    const exit = await g.exited;
    assert.equal(exit.signal, 'SIGKILL');
  });
  assertImageClean(disk);
  const text = fileFromImage(disk, '/root/survivor').toString();
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 2000);
  assert.equal(lines[1999], 'line 1999 of the file that must survive');
});

test('several disks, one read-only, on the initramfs guest: data, sizes, serials, EROFS', { ...needs, timeout: TEST_MS }, async () => {
  const a = join(dir, 'a.raw'), b = join(dir, 'b.qcow2');
  const pattern = randomBytes(1 << 20);
  writeFileSync(a, Buffer.concat([pattern, Buffer.alloc((8 << 20) - pattern.length)]));
  const braw = join(dir, 'b-src.raw');
  writeFileSync(braw, Buffer.alloc(4 << 20, 0x5a));
  qemuImg('convert', '-q', '-f', 'raw', '-O', 'qcow2', braw, b);
  await withGuest(['--disk', a, '--disk', `${b},readonly`], async (g) => {
    await g.waitForPrompt();
    assert.equal((await g.run('cat /sys/block/vda/size /sys/block/vdb/size')).trim(), '16384\n8192');
    assert.equal((await g.run('cat /sys/block/vda/ro /sys/block/vdb/ro')).trim(), '0\n1');
    assert.equal((await g.run('for d in vda vdb; do cat /sys/block/$d/serial; echo; done')).trim(), 'tshv-vda\ntshv-vdb');
    assert.equal((await g.run('dd if=/dev/vda bs=1M count=1 2>/dev/null | md5sum')).trim().split(/\s+/)[0], md5(pattern));
    assert.equal((await g.run('dd if=/dev/vdb bs=4M count=1 2>/dev/null | md5sum')).trim().split(/\s+/)[0], md5(Buffer.alloc(4 << 20, 0x5a)));
    assert.match(await g.run('dd if=/dev/zero of=/dev/vdb bs=4k count=1 2>&1'), /Operation not permitted|Read-only/);
    // A write to vda with direct I/O lands in the file at its offset.
    await g.run('echo -n tshv-was-here | dd of=/dev/vda bs=512 seek=4096 conv=notrunc oflag=direct 2>/dev/null; sync');
    assert.equal((await g.poweroff()).code, 0);
  });
  assert.equal(readFileSync(a).subarray(4096 * 512, 4096 * 512 + 13).toString(), 'tshv-was-here');
  assertImageClean(b);
});

test('an image in use by a running VM is locked; a missing or corrupt image is a clear error', { ...needs, timeout: TEST_MS }, async () => {
  const shared = join(dir, 'shared.raw');
  writeFileSync(shared, Buffer.alloc(1 << 20));
  await withGuest(['--disk', shared], async (first) => {
    await first.waitForPrompt();
    const second = spawnSync(process.execPath, [join(ROOT, 'bin/tshv.js'), 'run', '--disk', shared], { encoding: 'utf8', input: '', timeout: 60_000 });
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, /open writable by another VM/);
    assert.match(second.stderr, /shared\.raw/);
    assert.equal((await first.poweroff()).code, 0);
  });
  // Released with the VM: it can be used again.
  await withGuest(['--disk', shared], async (g) => {
    await g.waitForPrompt();
    assert.equal((await g.poweroff()).code, 0);
  });

  const missing = spawnSync(process.execPath, [join(ROOT, 'bin/tshv.js'), 'run', '--disk', join(dir, 'nope.qcow2')], { encoding: 'utf8' });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope\.qcow2: no such file/);

  const corrupt = join(dir, 'corrupt.qcow2');
  const header = Buffer.alloc(4096);
  header.write('QFI\xfb', 0, 'latin1');
  header.writeUInt32BE(3, 4);
  header.writeUInt32BE(99, 20); // cluster_bits 99
  writeFileSync(corrupt, header);
  const bad = spawnSync(process.execPath, [join(ROOT, 'bin/tshv.js'), 'run', '--disk', corrupt], { encoding: 'utf8', input: '' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /corrupt\.qcow2/);
  assert.match(bad.stderr, /cluster/i);
});

test('--console virtio: the shell runs on hvc0', { timeout: TEST_MS }, async () => {
  await withGuest(['--console', 'virtio'], async (g) => {
    await g.waitForPrompt();
    assert.match(await g.run('cat /proc/cmdline'), /console=hvc0/);
    assert.equal((await g.run('tty')).trim(), '/dev/hvc0');
    assert.match(await g.run('cat /proc/consoles'), /hvc0/);
    assert.equal((await g.poweroff()).code, 0);
  });
});
