// The files a VM definition names, against a real `tshv serve`: only inside the service's
// storage roots (symbolic links resolved, checked again at start), never the service's own
// files; and read without stalling the API thread (a FIFO, a file larger than the VM's
// RAM, a gzip bomb). Requests have a deadline, so a blocked service fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Service } from './service.js';
import { ROOT, TSHV } from '../lib/guest-shell.js';

const files = mkdtempSync(join(tmpdir(), 'tshv-images-'));
/** A second root, given through a symbolic link to it. */
const extra = join(files, '..', `${files.split('/').pop()}-extra`);
mkdirSync(extra);
symlinkSync(extra, join(files, 'extra-link'));
const disk = join(files, 'disk.raw');
writeFileSync(disk, Buffer.alloc(1 << 20));

/** Roots given: `files` (holding its own data directory) and `extra` through a link. */
let s: Service;
/** The default roots. */
let d: Service;

before(async () => {
  [s, d] = await Promise.all([
    Service.start(join(files, 'data'), ['--storage-root', files, '--storage-root', join(files, 'extra-link')]),
    Service.start(),
  ]);
});
after(async () => { await Promise.all([s?.kill('SIGKILL'), d?.kill('SIGKILL')]); });

/** POST /api/vms, which must answer within 10 s. */
async function create(service: Service, body: object): Promise<{ status: number; body: any }> {
  const res = await fetch(`${service.url}/api/vms`, {
    method: 'POST', headers: { authorization: `Bearer ${service.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body), signal: AbortSignal.timeout(10_000),
  }).catch((e: Error) => assert.fail(`the service did not answer within 10 s (${e.message}): it is blocked`));
  return { status: res.status, body: await res.json() };
}

/** A 400 naming `field` and saying the file is outside the storage roots (and how to allow it). */
function assertOutside(r: { status: number; body: any }, field: string, path: RegExp = /./): void {
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.field, field);
  assert.match(r.body.error, new RegExp(`^${field.replace(/[[\]]/g, '\\$&')}: `));
  assert.match(r.body.error, /is outside the service's storage roots .*--storage-root DIR/);
  assert.match(r.body.error, path);
}

test('default roots: the data directory\'s images/ (made 0700) and guest/images/; nothing else', async () => {
  const images = join(d.dataDir, 'images');
  assert.equal(statSync(images).mode & 0o777, 0o700);
  assert.match(d.output, new RegExp(`images in: +${images}, ${join(ROOT, 'guest/images')}`));
  const inside = join(images, 'data.raw');
  writeFileSync(inside, Buffer.alloc(1 << 20));
  const ok = await create(d, { name: 'inside', disks: [{ path: inside }, { path: join(ROOT, 'guest/images/rootfs.qcow2'), readOnly: true }] });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));

  assertOutside(await create(d, { name: 'passwd', disks: [{ path: '/etc/passwd', readOnly: true }] }), 'disks[0].path', /\/etc\/passwd/);
  for (const [field, f] of [['root', 'tshv.db'], ['initrd', 'token']] as const) {
    const r = await create(d, { name: 'own', [field]: join(d.dataDir, f) });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.field, field);
    assert.match(r.body.error, new RegExp(`${f} is one of the service's own files`));
  }
  assertOutside(await create(d, { name: 'tmp', kernel: disk }), 'kernel');
  // Outside the roots, a missing file is not told apart from an existing one.
  assertOutside(await create(d, { name: 'missing', disks: [{ path: '/nonexistent/x.img' }] }), 'disks[0].path');
  // ".." does not climb out.
  assertOutside(await create(d, { name: 'dotdot', disks: [{ path: `${ROOT}/guest/images/../../package.json` }] }), 'disks[0].path', /really .*\/package\.json/);
  // Updates are checked the same way.
  const patched = await d.api('PATCH', '/api/vms/inside', { disks: [{ path: '/etc/passwd' }] });
  assertOutside(patched, 'disks[0].path');
});

test('symbolic links are resolved: a link inside a root to a file outside is refused, at create and again at start', async () => {
  const images = join(d.dataDir, 'images');
  symlinkSync('/etc/passwd', join(images, 'passwd-link'));
  assertOutside(await create(d, { name: 'link', disks: [{ path: join(images, 'passwd-link') }] }), 'disks[0].path', /really \/etc\/passwd/);
  symlinkSync(join(d.dataDir, 'tshv.db'), join(images, 'db-link'));
  const db = await create(d, { name: 'db-link', root: join(images, 'db-link') });
  assert.equal(db.status, 400);
  assert.match(db.body.error, /one of the service's own files/);
  // A link to a file inside a root is fine.
  const target = join(images, 'target.raw');
  writeFileSync(target, Buffer.alloc(1 << 20));
  symlinkSync(target, join(images, 'good-link'));
  assert.equal((await create(d, { name: 'good-link', disks: [{ path: join(images, 'good-link') }] })).status, 201);

  // Accepted, then the file is swapped for a link to the outside: start refuses it.
  const swapped = join(images, 'swapped.raw');
  writeFileSync(swapped, Buffer.alloc(1 << 20));
  assert.equal((await create(d, { name: 'swapped', memoryMiB: 64, disks: [{ path: swapped }] })).status, 201);
  symlinkSync(join(d.dataDir, 'tshv.db'), `${swapped}.new`);
  renameSync(`${swapped}.new`, swapped);
  const start = await d.api('POST', '/api/vms/swapped/start');
  assert.equal(start.status, 400, JSON.stringify(start.body));
  assert.equal(start.body.field, 'disks[0].path');
  assert.equal((await d.ok('GET', '/api/vms/swapped')).state, 'off');
  const events = await d.ok('GET', '/api/vms/swapped/events');
  assert.match(events.at(-1).message, /cannot start: .*own files/);
});

test('a qcow2 image inside a root whose backing file lies outside: the VM does not start, and the file is never read', async () => {
  const images = join(d.dataDir, 'images');
  const outside = mkdtempSync(join(tmpdir(), 'tshv-outside-'));
  const secret = join(outside, 'secret.raw');
  writeFileSync(secret, Buffer.alloc(1 << 20, 0x53));
  const overlay = join(images, 'overlay.qcow2');
  execFileSync(process.execPath, [TSHV, 'disk', 'create', overlay, '--backing', secret, '--format', 'qcow2', '-F', 'raw']);
  assert.equal((await create(d, { name: 'backed-outside', memoryMiB: 64, disks: [{ path: overlay }] })).status, 201);
  const start = await d.api('POST', '/api/vms/backed-outside/start');
  assert.equal(start.status, 500, JSON.stringify(start.body));
  assert.match(start.body.error, new RegExp(`${secret}.* is outside the storage roots`));
  assert.equal((await d.ok('GET', '/api/vms/backed-outside')).state, 'failed');
  // The same overlay on a backing file inside the roots starts.
  const inside = join(images, 'base.raw');
  writeFileSync(inside, Buffer.alloc(1 << 20));
  const good = join(images, 'overlay-good.qcow2');
  execFileSync(process.execPath, [TSHV, 'disk', 'create', good, '--backing', inside, '-F', 'raw']);
  assert.equal((await create(d, { name: 'backed-inside', memoryMiB: 64, disks: [{ path: good }] })).status, 201);
  const ok = await d.api('POST', '/api/vms/backed-inside/start');
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  await d.ok('POST', '/api/vms/backed-inside/stop');
});

test('--storage-root: the roots given replace the defaults, a root may be a link; the service\'s own files stay refused', async () => {
  assert.equal((await create(s, { name: 'in-files', disks: [{ path: disk }] })).status, 201);
  const viaLink = join(files, 'extra-link', 'e.raw');
  writeFileSync(join(extra, 'e.raw'), Buffer.alloc(1 << 20));
  // The same image twice, by its real path: refused unless both are read-only.
  for (const [body, field] of [
    [{ root: join(extra, 'e.raw'), disks: [{ path: viaLink, readOnly: true }] }, 'disks[0].path'],
    [{ disks: [{ path: disk }, { path: viaLink }, { path: join(extra, 'e.raw'), readOnly: true }] }, 'disks[2].path'],
  ] as const) {
    const r = await create(s, { name: 'twice', ...body });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.field, field);
    assert.match(r.body.error, /is the same image as (root|disks\[1\]\.path) .*both are read-only/);
  }
  assert.equal((await create(s, { name: 'twice-ro', disks: [{ path: viaLink, readOnly: true }, { path: join(extra, 'e.raw'), readOnly: true }] })).status, 201);
  const patch = await s.api('PATCH', '/api/vms/twice-ro', { root: viaLink });
  assert.equal(patch.status, 400, JSON.stringify(patch.body));
  assert.equal(patch.body.field, 'disks[0].path');
  assert.equal((await create(s, { name: 'in-extra', disks: [{ path: viaLink }] })).status, 201);
  assertOutside(await create(s, { name: 'guest', disks: [{ path: join(ROOT, 'guest/images/rootfs.qcow2'), readOnly: true }] }), 'disks[0].path');
  // The data directory is inside the root `files`: its database and token are still not images.
  for (const f of ['tshv.db', 'token', 'service.json']) {
    const r = await create(s, { name: 'own', disks: [{ path: join(s.dataDir, f) }] });
    assert.equal(r.status, 400, f);
    assert.equal(r.body.field, 'disks[0].path');
    assert.match(r.body.error, new RegExp(`${f}.* is one of the service's own files`));
  }
  // Its images/ folder is meant for images.
  const mine = join(s.dataDir, 'images', 'mine.raw');
  writeFileSync(mine, Buffer.alloc(1 << 20));
  assert.equal((await create(s, { name: 'mine', disks: [{ path: mine }] })).status, 201);

  const bad = spawnSync(process.execPath, [TSHV, 'serve', '--listen', '127.0.0.1:0', '--data-dir', mkdtempSync(join(tmpdir(), 'tshv-mgmt-')),
    '--storage-root', join(files, 'no-such-dir')], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /--storage-root .*no-such-dir: no such directory/);
});

test('a FIFO as kernel or initrd is a 400 at once, and the service keeps answering', async () => {
  const fifo = join(files, 'a-fifo');
  execFileSync('mkfifo', [fifo]);
  for (const field of ['kernel', 'initrd']) {
    const r = await create(s, { name: `fifo-${field}`, [field]: fifo });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.field, field);
    assert.match(r.body.error, /a-fifo is (a named pipe \(FIFO\), )?not a (regular )?file/);
  }
  assert.equal((await s.api('GET', '/api/host')).status, 200);
});

test('an initrd larger than the VM\'s RAM, or a kernel that inflates beyond it, is a 400 naming the limit', async () => {
  const initrd = join(files, 'huge.cpio');
  const fd = openSync(initrd, 'w');
  ftruncateSync(fd, 2 ** 30);
  closeSync(fd);
  const big = await create(s, { name: 'big-initrd', memoryMiB: 64, initrd });
  assert.equal(big.status, 400, JSON.stringify(big.body));
  assert.equal(big.body.field, 'initrd');
  assert.match(big.body.error, /is 1024 MiB, more than the VM's 64 MiB RAM/);

  const image = Buffer.alloc(96 << 20);
  image.write('RSC\x05', 0x38, 'latin1');
  const bomb = join(files, 'bomb-Image.gz');
  writeFileSync(bomb, gzipSync(image, { level: 1 }));
  const r = await create(s, { name: 'bomb', memoryMiB: 64, kernel: bomb });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.field, 'kernel');
  assert.match(r.body.error, /the kernel decompresses to more than the VM's 64 MiB RAM/);
  // The same kernel fits a VM with enough RAM.
  assert.equal((await create(s, { name: 'roomy', memoryMiB: 128, kernel: bomb })).status, 201);
});
