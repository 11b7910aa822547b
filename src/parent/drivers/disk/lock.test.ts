import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { lockDirFor, lockImage } from './lock.js';
import { tempDir } from './test-support.js';

const dir = tempDir();
const root = join(dir, 'locks');
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
  assert.equal(existsSync(lockDirFor(img, root)), false, 'the last release removes the lock directory');
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
  const lockDir = lockDirFor(img, root);
  mkdirSync(lockDir, { recursive: true });
  const stale = join(lockDir, `w-${deadPid}-${randomUUID()}`);
  writeFileSync(stale, JSON.stringify({ pid: deadPid }));
  const l = await lockImage(img, 'exclusive', root);
  assert.equal(existsSync(stale), false);
  await l.release();
});

test('the first lock taken sweeps away dead processes\' entries of other images', async () => {
  const sweepRoot = join(dir, 'sweep');
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
  const other = lockDirFor(image(), sweepRoot);
  mkdirSync(other, { recursive: true });
  writeFileSync(join(other, `r-${deadPid}-${randomUUID()}`), '{}');
  const l = await lockImage(image(), 'shared', sweepRoot);
  assert.equal(existsSync(other), false);
  await l.release();
});

test('a lock of this process that no open file holds (a terminated worker) is stale', { skip: !existsSync('/proc/self/fd') && 'no /proc' }, async () => {
  const img = image();
  const lockDir = lockDirFor(img, root);
  mkdirSync(lockDir, { recursive: true });
  writeFileSync(join(lockDir, `w-${process.pid}-${randomUUID()}`), '{}');
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
  assert.deepEqual(existsSync(lockDirFor(img, root)) ? readdirSync(lockDirFor(img, root)) : [], []);
});

// Found by the qcow2 and virtio-blk fuzz targets (test/fuzz), run while other processes
// used the same lock root: their sweep, or a holder's release, removes an empty lock
// directory, and an opener that had just made it failed with a bare ENOENT (not even a
// DiskError) from realpath(). Another thread removes the directory every millisecond here
// (far more often than sweeps and releases do).
test('an opener whose lock directory is removed under it (another process\'s sweep) makes it again', async () => {
  const img = image();
  const lockDir = lockDirFor(img, root);
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const remover = new Worker(`
    const { rmdirSync } = require('node:fs');
    const { workerData: { dir, stop } } = require('node:worker_threads');
    while (Atomics.wait(stop, 0, 0, 1) === 'timed-out') { try { rmdirSync(dir); } catch {} }
  `, { eval: true, workerData: { dir: lockDir, stop } });
  try {
    await new Promise((r) => setTimeout(r, 50)); // the worker is removing
    for (let i = 0; i < 300; i++) {
      const l = await lockImage(img, i % 2 ? 'shared' : 'exclusive', root);
      await l.release();
    }
  } finally {
    Atomics.store(stop, 0, 1);
    Atomics.notify(stop, 0);
    await remover.terminate();
  }
});
