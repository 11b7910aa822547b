import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, constants, copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskError } from './block-device.js';
import { MAX_BACKING_DEPTH, openDisk, probeFormat } from './open.js';
import { createQcow2 } from './qcow2-create.js';
import { noQemu, patchFile, qemuImg, tempDir, u32be, u64be } from './test-support.js';

const dir = tempDir();
let n = 0;
const fresh = (ext = 'qcow2') => join(dir, `img-${n++}.${ext}`);

/** A new empty image (64 KiB clusters: header, refcount table, refcount block, L1 table). */
async function qcow2(opts: Parameters<typeof createQcow2>[1] = { size: 1 << 20 }): Promise<string> {
  const path = fresh();
  await createQcow2(path, opts);
  return path;
}

async function opensWith(path: string, code: DiskError['code'], message: RegExp, readOnly = false): Promise<void> {
  await assert.rejects(openDisk(path, { readOnly }), (e: unknown) => {
    assert.ok(e instanceof DiskError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

async function opens(path: string, readOnly = false): Promise<void> {
  const d = await openDisk(path, { readOnly });
  await d.close();
}

test('probeFormat: qcow2 by its magic, anything else raw', async () => {
  assert.equal(await probeFormat(await qcow2()), 'qcow2');
  const raw = fresh('raw');
  writeFileSync(raw, new Uint8Array(1024));
  assert.equal(await probeFormat(raw), 'raw');
  const d = await openDisk(raw, {});
  assert.equal(d.format, 'raw');
  await d.close();
});

test('a missing image', async () => {
  await opensWith(join(dir, 'nope.qcow2'), 'missing', /nope\.qcow2: no such file/);
});

test('an image in use: one writer or several readers', async () => {
  const path = await qcow2();
  const w = await openDisk(path, {});
  await opensWith(path, 'locked', /open writable by another VM/);
  await opensWith(path, 'locked', /open writable/, true);
  await w.close();
  const r1 = await openDisk(path, { readOnly: true });
  const r2 = await openDisk(path, { readOnly: true });
  await opensWith(path, 'locked', /open read-only by 2 other VMs/);
  await r1.close();
  await r2.close();
  await opens(path); // released on close
});

test('backing files are opened read-only and locked shared', async () => {
  const base = await qcow2();
  const top1 = await qcow2({ backing: base, backingFormat: 'qcow2' });
  const top2 = await qcow2({ backing: base });
  const a = await openDisk(top1, {});
  const b = await openDisk(top2, {}); // both overlays share the base
  assert.equal(a.size, 1 << 20); // the size came from the backing file
  await opensWith(base, 'locked', /open read-only by 2 other VMs/);
  await a.close();
  await b.close();
  await opens(base);
});

// Header fields (qcow2.txt "Header") of an image made by createQcow2 with 64 KiB clusters.
const corruptHeaders: [string, number, number[], RegExp][] = [
  ['cluster_bits below 9', 20, u32be(8), /cluster_bits 8/],
  ['unaligned L1 table', 40, u64be(0x30200n), /L1 table at 197120 is not aligned/],
  ['L1 table outside the file', 40, u64be(0x100000n), /L1 table .* is outside the file/],
  ['L1 table too small', 36, u32be(0), /L1 table of 0 entries is too small/],
  ['refcount table outside the file', 48, u64be(0x500000n), /refcount table .* outside the file/],
  ['no refcount table', 56, u32be(0), /no refcount table/],
  ['header_length too short', 100, u32be(96), /header_length 96/],
  ['backing file name too long', 8, [...u64be(512n), ...u32be(5000)], /backing file name/],
  ['header extension too long', 112, [...u32be(0x12345678), ...u32be(70000)], /header extension 0x12345678/],
  ['size beyond 2^53', 24, u64be(1n << 60n), /size .* out of range/],
];
for (const [what, at, bytes, message] of corruptHeaders) {
  test(`corrupt header: ${what}`, async () => {
    const path = await qcow2();
    patchFile(path, at, bytes);
    await opensWith(path, 'corrupt', message);
    await opensWith(path, 'corrupt', message, true);
  });
}

test('corrupt: not a qcow2 file at all, though it has the magic', async () => {
  const path = fresh();
  writeFileSync(path, Uint8Array.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]));
  await opensWith(path, 'corrupt', /cluster_bits 0/);
});

const unsupportedHeaders: [string, number, number[], RegExp][] = [
  ['version 1 (qcow)', 4, u32be(1), /qcow2 version 1 is not supported/],
  ['version 4', 4, u32be(4), /qcow2 version 4/],
  ['4 MiB clusters', 20, u32be(22), /clusters of 2\^22 bytes/],
  ['AES encryption', 32, u32be(1), /encrypted qcow2 images \(AES\)/],
  ['LUKS encryption', 32, u32be(2), /encrypted qcow2 images \(LUKS\)/],
  ['external data file', 72, u64be(1n << 2n), /"external data file" \(incompatible feature bit 2\)/],
  ['extended L2 entries', 72, u64be(1n << 4n), /"extended L2 entries" \(incompatible feature bit 4\)/],
  ['an unknown incompatible feature', 72, u64be(1n << 40n), /"unknown" \(incompatible feature bit 40\)/],
  ['zstd compression', 72, [...u64be(1n << 3n), ...Array(16).fill(0), ...u32be(4), ...u32be(112), 1], /zstd compression is not supported/],
  ['refcount_order 7', 96, u32be(7), /refcount_order 7 is not supported/],
];
for (const [what, at, bytes, message] of unsupportedHeaders) {
  test(`unsupported: ${what}`, async () => {
    const path = await qcow2();
    patchFile(path, at, bytes);
    await opensWith(path, 'unsupported', message);
  });
}

test('unsupported: an unknown feature is named from the image\'s feature name table', async () => {
  const path = await qcow2();
  const name = [...new TextEncoder().encode('time travel')];
  const table = [0, 17, ...name, ...Array(46 - name.length).fill(0)]; // incompatible, bit 17
  patchFile(path, 112, [...u32be(0x6803f857), ...u32be(48), ...table, ...u32be(0), ...u32be(0)]);
  patchFile(path, 72, u64be(1n << 17n));
  await opensWith(path, 'unsupported', /"time travel" \(incompatible feature bit 17\)/);
});

test('unsupported: images qemu-img makes with extended L2 entries or zstd', { skip: noQemu }, async () => {
  const l2 = fresh();
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on', l2, '1M');
  await opensWith(l2, 'unsupported', /extended L2 entries/);
  const zstd = fresh();
  try {
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'compression_type=zstd', zstd, '1M');
  } catch {
    return; // this qemu-img was built without zstd
  }
  await opensWith(zstd, 'unsupported', /zstd/);
});

test('dirty or corrupt bit: refused for writing, with the repair command; read-only is fine', async () => {
  const dirty = await qcow2();
  patchFile(dirty, 72, u64be(1n));
  await opensWith(dirty, 'corrupt', /not closed cleanly.*qemu-img check -r all/);
  await opens(dirty, true);
  const corrupt = await qcow2();
  patchFile(corrupt, 72, u64be(2n));
  await opensWith(corrupt, 'corrupt', /marked corrupt.*qemu-img check -r all/);
  await opens(corrupt, true);
});

test('autoclear feature bits are cleared when the image is opened for writing', async () => {
  const path = await qcow2();
  patchFile(path, 88, u64be(3n));
  await opens(path, true);
  assert.equal(readFileSync(path).readBigUInt64BE(88), 3n);
  await opens(path);
  assert.equal(readFileSync(path).readBigUInt64BE(88), 0n);
});

test('backing chains: a missing backing file, a loop, too deep, an unknown format or a protocol', async () => {
  const orphan = await qcow2({ size: 1 << 20, backing: 'gone.qcow2', backingFormat: 'qcow2' });
  await opensWith(orphan, 'missing', new RegExp(`${orphan}: cannot open its backing file: .*gone\\.qcow2: no such file`));

  // a -> b -> a: b is a copy of a whose backing file name is a.
  const a = fresh();
  const b = fresh();
  await createQcow2(a, { size: 1 << 20, backing: b, backingFormat: 'qcow2' });
  copyFileSync(a, b);
  const name = new TextEncoder().encode(a);
  const bHeader = readFileSync(b);
  patchFile(b, Number(bHeader.readBigUInt64BE(8)), name);
  patchFile(b, 16, u32be(name.length));
  await opensWith(a, 'corrupt', /backing chain loops/);

  let below = await qcow2();
  for (let i = 0; i < MAX_BACKING_DEPTH; i++) below = await qcow2({ size: 1 << 20, backing: below });
  await opensWith(below, 'unsupported', /deeper than 16/);

  const vmdk = await qcow2({ size: 1 << 20, backing: a, backingFormat: 'qcow2' });
  patchFile(vmdk, 112 + 8, new TextEncoder().encode('vmdk\0\0'));
  patchFile(vmdk, 112 + 4, u32be(4));
  await opensWith(vmdk, 'unsupported', /backing file format "vmdk"/);

  const nbd = await qcow2({ size: 1 << 20, backing: 'nbd://host/export' });
  await opensWith(nbd, 'unsupported', /not a file name/);
});

// A FIFO opened without O_NONBLOCK waits for a writer on a thread of libuv's pool: forever,
// and a few of them stall every file operation of the process (of the service: all VMs).

/** A new FIFO. */
function fifo(): string {
  const path = fresh('fifo');
  execFileSync('mkfifo', [path]);
  return path;
}

/**
 * Runs body; if it is still running after a second and a half, opens the FIFOs' writing ends
 * once (waking opens blocked on them, so the test fails instead of hanging) and fails.
 */
async function promptly(fifos: string[], body: () => Promise<void>): Promise<void> {
  let blocked = false;
  const watchdog = setTimeout(() => {
    blocked = true;
    for (const f of fifos) {
      try { closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK)); } catch { /* nobody was waiting */ }
    }
  }, 1500);
  let failure: unknown = null;
  try {
    await body();
  } catch (e) {
    failure = e;
  } finally {
    clearTimeout(watchdog);
  }
  assert.equal(blocked, false, `an open blocked on a FIFO until a writer came (and then: ${failure ?? 'no error'})`);
  if (failure) throw failure;
}

test('a FIFO is not a disk image: refused at once, as the image or as a backing file at any depth', { timeout: 10_000 }, async () => {
  const pipes = [fifo(), fifo(), fifo(), fifo(), fifo(), fifo()]; // more than libuv's 4 pool threads
  const p = pipes[0]!;
  const overlay = await qcow2({ size: 1 << 20, backing: p, backingFormat: 'raw' });
  const probed = await qcow2({ size: 1 << 20, backing: p });
  const deeper = await qcow2({ size: 1 << 20, backing: overlay, backingFormat: 'qcow2' });
  await promptly(pipes, async () => {
    const fifoError = (path: string) => new RegExp(`${path}: is a FIFO, not a disk image`);
    await opensWith(p, 'unsupported', fifoError(p), true);
    await opensWith(p, 'unsupported', fifoError(p));
    await assert.rejects(openDisk(p, { readOnly: true, format: 'raw' }), { code: 'unsupported', message: fifoError(p) });
    await assert.rejects(probeFormat(p), { code: 'unsupported', message: fifoError(p) });
    for (const top of [overlay, probed]) {
      await opensWith(top, 'unsupported', new RegExp(`${top}: cannot open its backing file: ${p}: is a FIFO`));
      await opensWith(top, 'unsupported', /is a FIFO/, true);
    }
    await opensWith(deeper, 'unsupported', new RegExp(`${deeper}: cannot open its backing file: ${overlay}: cannot open its backing file: ${p}: is a FIFO`));
    // Several at once, as a service starting VMs would: file I/O goes on meanwhile.
    const all = pipes.map((f) => openDisk(f, { readOnly: true }));
    assert.equal((await readFile(overlay)).length > 0, true);
    for (const r of await Promise.allSettled(all)) assert.equal(r.status, 'rejected');
  });
});

test('a character device or a directory is not a disk image', async () => {
  await opensWith('/dev/zero', 'unsupported', /\/dev\/zero: is a character device, not a disk image/, true);
  await opensWith('/dev/zero', 'unsupported', /\/dev\/zero: is a character device/);
  await assert.rejects(probeFormat('/dev/zero'), { code: 'unsupported' });
  const folder = join(dir, 'a-folder');
  mkdirSync(folder);
  await opensWith(folder, 'unsupported', /a-folder: is a directory, not a disk image/, true);
  await opensWith(folder, 'unsupported', /a-folder: is a directory/);
  const overlay = await qcow2({ size: 1 << 20, backing: '/dev/zero', backingFormat: 'raw' });
  await opensWith(overlay, 'unsupported', /cannot open its backing file: \/dev\/zero: is a character device/);
});

test('an image policy is applied to every layer: a backing file outside the roots is refused before it is opened', async () => {
  const roots = join(dir, 'policy-root');
  const outside = join(dir, 'policy-outside');
  mkdirSync(roots, { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'secret.raw'), Buffer.alloc(4096, 0x53));
  writeFileSync(join(roots, 'base.raw'), Buffer.alloc(4096));
  await createQcow2(join(roots, 'bad.qcow2'), { size: 4096, backing: join(outside, 'secret.raw'), backingFormat: 'raw' });
  await createQcow2(join(roots, 'good.qcow2'), { size: 4096, backing: 'base.raw', backingFormat: 'raw' });
  const policy = { roots: [roots], reserved: [] };
  await assert.rejects(openDisk(join(roots, 'bad.qcow2'), { readOnly: true, policy }),
    (e: unknown) => e instanceof DiskError && e.code === 'denied' && /cannot open its backing file: .*secret\.raw is outside the storage roots/.test(e.message));
  await assert.rejects(openDisk(join(outside, 'secret.raw'), { policy }), (e: unknown) => e instanceof DiskError && e.code === 'denied');
  const good = await openDisk(join(roots, 'good.qcow2'), { policy });
  assert.equal(good.backing?.format, 'raw');
  await good.close();
  // Without a policy (tshv run) the same chain opens.
  const free = await openDisk(join(roots, 'bad.qcow2'), { readOnly: true });
  await free.close();
});
