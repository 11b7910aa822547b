// Reading the boot images of a VM definition (the API's create/update and `tshv run`): found
// while writing the api fuzz target (test/fuzz): a kernel path naming a block device or a
// huge file was read whole into the host's memory, and a gzip kernel was decompressed up to
// 1 GiB whatever the VM's memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { guestConfig, GuestConfigError } from './guest-config.js';

const dir = mkdtempSync(join(tmpdir(), 'tshv-guest-config-test-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const MiB = 1 << 20;

/** A RISC-V Image header (magic2 "RSC\x05") and `bytes` in all. */
function image(bytes: number): Uint8Array {
  const b = new Uint8Array(bytes);
  new DataView(b.buffer).setUint32(0x38, 0x05435352, true);
  return b;
}

const refused = (field: string, message: RegExp) => (e: unknown) => {
  assert.ok(e instanceof GuestConfigError, String(e));
  assert.equal(e.field, field);
  assert.match(e.message, message);
  return true;
};

test('a kernel or initrd that is not a regular file is refused before it is read (a block device would be read whole)', { skip: !existsSync('/dev/loop0') && 'no /dev/loop0' }, () => {
  assert.throws(() => guestConfig({ kernel: '/dev/loop0', memoryBytes: 64 * MiB, cpus: 1 }), refused('kernel', /not a regular file/));
  const kernel = join(dir, 'Image');
  writeFileSync(kernel, image(4096));
  assert.throws(() => guestConfig({ kernel, initrd: '/dev/loop0', memoryBytes: 64 * MiB, cpus: 1 }), refused('initrd', /not a regular file/));
});

test('a kernel or initrd larger than the VM\'s memory is refused before it is read', () => {
  const big = join(dir, 'big');
  writeFileSync(big, image(4096));
  truncateSync(big, 32 * MiB); // sparse
  assert.throws(() => guestConfig({ kernel: big, memoryBytes: 16 * MiB, cpus: 1 }), refused('kernel', /33554432 bytes, more than the VM's memory/));
  const kernel = join(dir, 'Image-small');
  writeFileSync(kernel, image(4096));
  assert.throws(() => guestConfig({ kernel, initrd: big, memoryBytes: 16 * MiB, cpus: 1 }), refused('initrd', /more than the VM's memory/));
  assert.equal(guestConfig({ kernel, initrd: big, memoryBytes: 64 * MiB, cpus: 1 }).initrd?.length, 32 * MiB);
});

test('a gzip kernel is decompressed up to the VM\'s memory, not beyond', () => {
  const gz = join(dir, 'Image.gz');
  writeFileSync(gz, gzipSync(image(8 * MiB)));
  assert.throws(() => guestConfig({ kernel: gz, memoryBytes: 4 * MiB, cpus: 1 }), refused('kernel', /decompresses to more than 4 MiB/));
  assert.equal(guestConfig({ kernel: gz, memoryBytes: 16 * MiB, cpus: 1 }).kernel.length, (gzipSync(image(8 * MiB))).length);
});
