import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { lockEntries, lockEntryName, lockImage, lockRoot } from './lock.js';
import { tempDir } from './test-support.js';

const dir = tempDir();
const root = join(dir, 'locks');
mkdirSync(root, { mode: 0o700 });
let n = 0;
const image = () => join(dir, `image-${n++}`);

test('one writer or many readers per image', async () => {
  const img = image();
  const w = await lockImage(img, 'exclusive', root);
  await assert.rejects(lockImage(img, 'exclusive', root), { code: 'locked', message: /open writable by another VM in this process/ });
  await assert.rejects(lockImage(img, 'shared', root), { code: 'locked' });
  await w.release();

  const r1 = await lockImage(img, 'shared', root);
  const r2 = await lockImage(img, 'shared', root);
  await assert.rejects(lockImage(img, 'exclusive', root), { code: 'locked', message: /open read-only by 2 other VMs/ });
  await r1.release();
  await assert.rejects(lockImage(img, 'exclusive', root), { code: 'locked' });
  await r2.release();
  await r2.release(); // twice is harmless
  const w2 = await lockImage(img, 'exclusive', root);
  await w2.release();
  assert.deepEqual(await lockEntries(img, root), [], 'the last release leaves no entry');
});

test('different images do not conflict', async () => {
  const a = await lockImage(image(), 'exclusive', root);
  const b = await lockImage(image(), 'exclusive', root);
  await a.release();
  await b.release();
});

test('a lock left by a dead process is stale and taken over', async () => {
  const img = image();
  const child = spawnSync(process.execPath, ['-e', '']);
  const deadPid = child.pid!;
  const stale = join(root, lockEntryName(img, 'exclusive', deadPid));
  writeFileSync(stale, JSON.stringify({ pid: deadPid }));
  const l = await lockImage(img, 'exclusive', root);
  assert.equal(existsSync(stale), false);
  await l.release();
});

test('a lock taken sweeps away dead processes\' entries of other images', async () => {
  const sweepRoot = join(dir, 'sweep');
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
  mkdirSync(sweepRoot, { mode: 0o700 });
  const other = join(sweepRoot, lockEntryName(image(), 'shared', deadPid));
  writeFileSync(other, '{}');
  const l = await lockImage(image(), 'shared', sweepRoot);
  assert.equal(existsSync(other), false);
  await l.release();
});

test('a lock of this process that no open file holds (a terminated worker) is stale', { skip: !existsSync('/proc/self/fd') && 'no /proc' }, async () => {
  const img = image();
  writeFileSync(join(root, lockEntryName(img, 'exclusive')), '{}');
  const l = await lockImage(img, 'exclusive', root);
  await l.release();
});

test('a VM in a worker thread holds its lock until the worker ends', async () => {
  const img = image();
  const lockModule = fileURLToPath(new URL('./lock.js', import.meta.url));
  const worker = new Worker(
    `import { lockImage } from ${JSON.stringify(lockModule)};
     import { parentPort, workerData } from 'node:worker_threads';
     globalThis.lock = await lockImage(workerData.img, 'exclusive', workerData.root);
     parentPort.postMessage('locked');
     setInterval(() => {}, 1000); // a running VM: the worker stays`,
    { eval: true, workerData: { img, root }, type: 'module' } as ConstructorParameters<typeof Worker>[1],
  );
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await assert.rejects(lockImage(img, 'shared', root), { code: 'locked', message: /this process/ });
  await worker.terminate();
  const l = await lockImage(img, 'exclusive', root);
  await l.release();
});

test('another process holds its lock until it is killed', async () => {
  const img = image();
  const lockModule = fileURLToPath(new URL('./lock.js', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', `import { lockImage } from ${JSON.stringify(lockModule)};
      await lockImage(${JSON.stringify(img)}, 'shared', ${JSON.stringify(root)});
      console.log('locked'); setInterval(() => {}, 1000);`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise((resolve) => child.stdout.once('data', resolve));
  await assert.rejects(lockImage(img, 'exclusive', root), { code: 'locked', message: new RegExp(`process ${child.pid}`) });
  const reader = await lockImage(img, 'shared', root); // readers share
  await reader.release();
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  const l = await lockImage(img, 'exclusive', root);
  await l.release();
});

test('racing writers: never both succeed', async () => {
  const img = image();
  for (let round = 0; round < 3; round++) {
    const results = await Promise.allSettled([lockImage(img, 'exclusive', root), lockImage(img, 'exclusive', root), lockImage(img, 'shared', root)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.ok(won.length <= 1, `round ${round}: ${won.length} holders`);
    for (const r of won) await (r as PromiseFulfilledResult<Awaited<ReturnType<typeof lockImage>>>).value.release();
  }
  assert.deepEqual(await lockEntries(img, root), []);
});

// The lock root may be shared with hostile local users, and tshv may run as root: nothing
// planted there may make tshv change, create or remove anything elsewhere.

/** A directory the attacker would like changed: its mode, its entries, its existence. */
function victim(name: string, files: string[] = []): { path: string; intact(): void } {
  const path = join(dir, name);
  mkdirSync(path);
  chmodSync(path, 0o755);
  for (const f of files) writeFileSync(join(path, f), 'precious');
  return {
    path,
    intact() {
      assert.ok(existsSync(path), `${path} was removed`);
      assert.equal(statSync(path).mode & 0o7777, 0o755, `${path} was chmodded`);
      assert.deepEqual(readdirSync(path).sort(), [...files].sort(), `${path} was written in`);
      for (const f of files) assert.equal(readFileSync(join(path, f), 'utf8'), 'precious');
    },
  };
}

test('symlinks planted in the lock root are neither followed, nor chmodded, nor removed', async () => {
  const planted = join(dir, 'planted');
  mkdirSync(planted, { mode: 0o700 });
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
  const img = image();
  const other = image();
  // Entry-like names of dead processes inside a victim: a sweep through a link would unlink them.
  const full = victim('victim-full', [`w-${deadPid}-${randomUUID()}`, lockEntryName(img, 'exclusive', deadPid)]);
  const empty = victim('victim-empty');
  const sha = (p: string) => createHash('sha256').update(p).digest('hex');
  // Where a per-image lock directory would be; and in the place of entries, live and dead.
  symlinkSync(full.path, join(planted, sha(img)));
  symlinkSync(empty.path, join(planted, sha(other)));
  symlinkSync(full.path, join(planted, lockEntryName(img, 'exclusive', deadPid)));
  symlinkSync(full.path, join(planted, lockEntryName(other, 'shared', deadPid)));
  symlinkSync(empty.path, join(planted, lockEntryName(img, 'exclusive', 1)));
  let failure: unknown = null;
  try {
    for (const i of [img, other]) {
      const w = await lockImage(i, 'exclusive', planted);
      await w.release();
      const r = await lockImage(i, 'shared', planted);
      await r.release();
    }
  } catch (e) {
    failure = e;
  }
  full.intact();
  empty.intact();
  assert.equal(failure, null);
});

test('a lock root that is a symbolic link is refused', async () => {
  const real = victim('real-root');
  const link = join(dir, 'link-root');
  symlinkSync(real.path, link);
  await assert.rejects(lockImage(image(), 'exclusive', link), { code: 'io', message: /unsafe image lock directory .*link-root: .*link-root is a symbolic link/ });
  const dangling = join(dir, 'dangling-root');
  symlinkSync(join(dir, 'nowhere'), dangling);
  await assert.rejects(lockImage(image(), 'exclusive', dangling), { message: /dangling-root is a symbolic link/ });
  assert.equal(existsSync(join(dir, 'nowhere')), false);
  real.intact();
});

test('a lock root others can rename entries in is refused; a sticky one is not', async () => {
  const open = join(dir, 'open-root');
  mkdirSync(open);
  chmodSync(open, 0o777);
  await assert.rejects(lockImage(image(), 'exclusive', open), { message: /open-root is writable by others \(mode 777\) without the sticky bit/ });
  const below = join(open, 'locks'); // nor one below such a directory
  await assert.rejects(lockImage(image(), 'exclusive', below), { message: /open-root is writable by others/ });
  assert.equal(existsSync(below), false);
  const sticky = join(dir, 'sticky-root');
  mkdirSync(sticky);
  chmodSync(sticky, 0o1777);
  const l = await lockImage(image(), 'exclusive', sticky);
  await l.release();
});

const isRoot = process.geteuid?.() === 0;
test('a lock root owned by another user, or below a directory of theirs, is refused', { skip: !isRoot && 'needs root to give a directory away' }, async () => {
  const theirs = join(dir, 'their-root');
  mkdirSync(theirs, { mode: 0o700 });
  chownSync(theirs, 65534, 65534);
  await assert.rejects(lockImage(image(), 'exclusive', theirs), { message: /their-root is owned by uid 65534, not by you \(uid 0\) or root/ });
  const home = join(dir, 'their-home');
  mkdirSync(home, { mode: 0o755 });
  chownSync(home, 65534, 65534);
  await assert.rejects(lockImage(image(), 'exclusive', join(home, 'locks')), { message: /their-home is owned by uid 65534/ });
  assert.equal(existsSync(join(home, 'locks')), false);
});

test('the default lock root is per user and private; a link in its place is refused', async () => {
  const saved = { TMPDIR: process.env.TMPDIR, TSHV_LOCK_DIR: process.env.TSHV_LOCK_DIR };
  try {
    delete process.env.TSHV_LOCK_DIR;
    process.env.TMPDIR = join(dir, 'tmp');
    mkdirSync(process.env.TMPDIR, { mode: 0o1777 });
    chmodSync(process.env.TMPDIR, 0o1777); // a /tmp of our own
    const uid = process.geteuid?.();
    if (uid !== undefined) assert.equal(lockRoot(), join(process.env.TMPDIR, `tshv-locks-${uid}`));
    const l = await lockImage(image(), 'exclusive');
    const st = statSync(lockRoot());
    assert.ok(st.isDirectory());
    assert.equal(st.mode & 0o077, 0, `mode ${(st.mode & 0o7777).toString(8)}`);
    await l.release();

    process.env.TMPDIR = join(dir, 'tmp2');
    mkdirSync(process.env.TMPDIR, { mode: 0o1777 });
    chmodSync(process.env.TMPDIR, 0o1777);
    const target = victim('default-victim');
    symlinkSync(target.path, lockRoot());
    await assert.rejects(lockImage(image(), 'exclusive'), { message: /unsafe image lock directory .*is a symbolic link/ });
    target.intact();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});
