// guestConfig as the reader of untrusted kernel and initrd files: sizes bounded by the VM's
// RAM before anything is read, gzip inflated only up to the RAM, regular files only.
// (A FIFO would block the old synchronous reader forever, so that case is tested in child
// processes: test/cli-run.test.ts and test/mgmt/images.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tempDir } from './drivers/disk/test-support.js';
import { DEFAULT_KERNEL, GuestConfigError, guestConfig } from './guest-config.js';

const dir = tempDir();
const MiB = 2 ** 20;

/** A RISC-V Image header (magic2 "RSC\x05", text_offset 0 = 2 MiB, image_size 0 = the file) and `bytes` of zeros in all. */
function fakeImage(bytes: number): Buffer {
  const image = Buffer.alloc(bytes);
  image.write('RSC\x05', 0x38, 'latin1');
  return image;
}

async function refusal(p: Promise<unknown>): Promise<GuestConfigError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof GuestConfigError, `expected a GuestConfigError, got ${(e as Error).stack}`);
    return e;
  }
  assert.fail('expected the guest to be refused');
}

test('an initrd larger than the VM\'s RAM is refused by its size, before it is read', async () => {
  const initrd = join(dir, 'huge.cpio');
  const fd = openSync(initrd, 'w');
  ftruncateSync(fd, 2 ** 30); // sparse: 1 GiB that reads as zeros
  closeSync(fd);
  const started = performance.now();
  const e = await refusal(guestConfig({ initrd, memoryBytes: 64 * MiB, cpus: 1 }));
  const ms = performance.now() - started;
  assert.equal(e.field, 'initrd');
  assert.match(e.message, /the initrd .*huge\.cpio is 1024 MiB, more than the VM's 64 MiB RAM/);
  assert.ok(ms < 2000, `refused after ${ms.toFixed(0)} ms: it was read`);
});

test('a kernel (raw) larger than the VM\'s RAM is refused by its size', async () => {
  const kernel = join(dir, 'big-Image');
  writeFileSync(kernel, fakeImage(40 * MiB));
  const e = await refusal(guestConfig({ kernel, memoryBytes: 32 * MiB, cpus: 1 }));
  assert.equal(e.field, 'kernel');
  assert.match(e.message, /the kernel .*big-Image is 40 MiB, more than the VM's 32 MiB RAM/);
});

test('a gzip bomb as kernel stops inflating at the VM\'s RAM and says so', async () => {
  // A valid Image header in 96 MiB of zeros: under 100 KiB gzipped. The old reader inflated
  // up to 1 GiB whatever the RAM, and accepted it.
  const kernel = join(dir, 'bomb-Image.gz');
  writeFileSync(kernel, gzipSync(fakeImage(96 * MiB), { level: 1 }));
  const e = await refusal(guestConfig({ kernel, memoryBytes: 64 * MiB, cpus: 1 }));
  assert.equal(e.field, 'kernel');
  assert.match(e.message, /bomb-Image\.gz: the kernel decompresses to more than the VM's 64 MiB RAM/);
});

test('directories and broken gzip are refused naming the field; the default kernel still boots at 64 MiB', async () => {
  const sub = join(dir, 'a-dir');
  mkdirSync(sub);
  const e = await refusal(guestConfig({ initrd: sub, memoryBytes: 64 * MiB, cpus: 1 }));
  assert.equal(e.field, 'initrd');
  assert.match(e.message, /a-dir is a directory, not a regular file/);
  const broken = join(dir, 'broken.gz');
  writeFileSync(broken, readFileSync(DEFAULT_KERNEL).subarray(0, 4096));
  assert.match((await refusal(guestConfig({ kernel: broken, memoryBytes: 64 * MiB, cpus: 1 }))).message, /broken\.gz: the kernel is gzip data that does not decompress/);

  const config = await guestConfig({ memoryBytes: 64 * MiB, cpus: 1 });
  assert.equal(config.kernel[0x38], 0x52, 'the kernel is handed over inflated ("RSC\\x05" at 0x38)');
  assert.ok(config.initrd && config.initrd.length > 0);
});
