import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { openDisk } from './open.js';
import { tempDir } from './test-support.js';

const dir = tempDir();

test('raw: reads and writes go straight to and from views over shared memory (guest RAM)', async () => {
  const path = join(dir, 'shared.img');
  writeFileSync(path, new Uint8Array(8192));
  const disk = await openDisk(path, { format: 'raw' });
  assert.equal(disk.format, 'raw');
  assert.equal(disk.size, 8192);
  const ram = new Uint8Array(new SharedArrayBuffer(65536));
  ram.fill(0x5a, 1000, 1000 + 3000);
  await disk.write(700, ram.subarray(1000, 4000));
  await disk.flush();
  const file = readFileSync(path);
  assert.equal(file[699], 0);
  assert.equal(file[700], 0x5a);
  assert.equal(file[3699], 0x5a);
  assert.equal(file[3700], 0);
  await disk.read(0, ram.subarray(10000, 10000 + 8192));
  assert.deepEqual(ram.subarray(10000, 10000 + 8192), new Uint8Array(file));
  await disk.close();
});

test('raw: the size is rounded down to whole sectors; bytes past the end of the file read as zero', async () => {
  const path = join(dir, 'odd.img');
  writeFileSync(path, new Uint8Array(3000).fill(1));
  const disk = await openDisk(path, {});
  assert.equal(disk.size, 2560);
  truncateSync(path, 1000); // shrunk under us
  const buf = new Uint8Array(2560).fill(9);
  await disk.read(0, buf);
  assert.equal(buf[999], 1);
  assert.equal(buf[1000], 0);
  assert.equal(buf[2559], 0);
  await disk.close();
});

test('raw: requests outside the disk, writes to a read-only disk, use after close', async () => {
  const path = join(dir, 'ro.img');
  writeFileSync(path, new Uint8Array(4096));
  const disk = await openDisk(path, { readOnly: true });
  assert.equal(disk.readOnly, true);
  await assert.rejects(disk.read(4000, new Uint8Array(512)), { code: 'range' });
  await assert.rejects(disk.read(-1, new Uint8Array(1)), { code: 'range' });
  await assert.rejects(disk.write(0, new Uint8Array(512)), { code: 'read-only' });
  await assert.rejects(disk.discard(0, 512), { code: 'read-only' });
  await disk.flush();
  await disk.close();
  await disk.close();
  await assert.rejects(disk.read(0, new Uint8Array(1)), /closed/);
});

test('raw: close waits for requests in flight', async () => {
  const path = join(dir, 'inflight.img');
  writeFileSync(path, new Uint8Array(1 << 20));
  const disk = await openDisk(path, {});
  const data = new Uint8Array(1 << 20).fill(7);
  const write = disk.write(0, data);
  await disk.close();
  await write;
  assert.equal(readFileSync(path)[(1 << 20) - 1], 7);
});

test('raw: a probed raw image refuses a qcow2 header in sector 0; an explicit format allows it', async () => {
  const path = join(dir, 'probed.img');
  writeFileSync(path, new Uint8Array(4096));
  const magic = Uint8Array.from([0x51, 0x46, 0x49, 0xfb]);
  let disk = await openDisk(path, {});
  await assert.rejects(disk.write(0, magic), /qcow2 header/);
  await disk.write(0, magic.subarray(0, 2)); // half of it is not a header
  await assert.rejects(disk.write(2, magic.subarray(2)), /qcow2 header/);
  await disk.write(512, magic);
  await disk.close();
  disk = await openDisk(path, { format: 'raw' });
  await disk.write(0, magic);
  await disk.close();
});

test('raw: vectored reads and writes fill and take scattered buffers in order; past the end reads zero', async () => {
  const path = join(dir, 'vectored.img');
  writeFileSync(path, new Uint8Array(8192));
  const disk = await openDisk(path, { format: 'raw' });
  const ram = new Uint8Array(new SharedArrayBuffer(65536));
  const parts = [ram.subarray(100, 612), ram.subarray(5000, 5001), ram.subarray(9000, 9511)];
  parts.forEach((p, i) => p.fill(0x10 + i));
  await disk.writev!(1024, parts);
  const file = readFileSync(path);
  assert.equal(file[1023], 0);
  assert.equal(file[1024], 0x10);
  assert.equal(file[1024 + 511], 0x10);
  assert.equal(file[1024 + 512], 0x11);
  assert.equal(file[1024 + 513], 0x12);
  assert.equal(file[1024 + 1023], 0x12);
  assert.equal(file[1024 + 1024], 0);
  const back = [ram.subarray(20000, 20513), ram.subarray(30000, 30511)];
  await disk.readv!(1024, back);
  assert.equal(back[0][512], 0x11);
  assert.equal(back[1][0], 0x12);
  truncateSync(path, 1500); // shrunk under us: the rest reads as zero
  back[1].fill(0xee);
  await disk.readv!(1024, back);
  assert.equal(back[0][475], 0x10);
  assert.equal(back[0][476], 0);
  assert.ok(back[1].every((b) => b === 0));
  await disk.close();
});

// Found while writing the virtio-blk fuzz target (test/fuzz): the sector-0 guard read the
// guest's buffer to check it, and the write read it again later, from the thread pool. A
// guest is another thread with that memory shared: it could pass the check with harmless
// bytes and put the qcow2 magic there before the write, and at the next probe its raw disk
// opened as a qcow2 image naming a host file of its choosing as backing file. A "guest"
// thread flips the buffer between the two as fast as it can here.
test('raw: a probed raw image\'s guard holds against a guest that changes its buffer during the write', async () => {
  const path = join(dir, 'toctou.img');
  writeFileSync(path, new Uint8Array(4096));
  const disk = await openDisk(path, {});
  const ram = new Uint8Array(new SharedArrayBuffer(4096));
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const guest = new Worker(`
    const { workerData: { ram, stop } } = require('node:worker_threads');
    const word = new Int32Array(ram.buffer, 0, 1);
    const magic = new DataView(new Uint8Array([0x51, 0x46, 0x49, 0xfb]).buffer).getInt32(0, true);
    while (Atomics.load(stop, 0) === 0) { Atomics.store(word, 0, magic); Atomics.store(word, 0, 0x58585858); }
  `, { eval: true, workerData: { ram, stop } });
  try {
    const sector = ram.subarray(0, 512);
    for (let i = 0; i < 2000; i++) {
      await (i % 2 ? disk.write(0, sector) : disk.writev!(0, [ram.subarray(0, 2), ram.subarray(2, 512)])).catch((e: Error) => assert.match(e.message, /qcow2 header/));
      assert.notDeepEqual([...readFileSync(path).subarray(0, 4)], [0x51, 0x46, 0x49, 0xfb], `the magic reached the disk at write ${i}`);
    }
  } finally {
    Atomics.store(stop, 0, 1);
    await guest.terminate();
    await disk.close();
  }
});
