// Interoperability with QEMU's own qcow2 code (Debian's qemu-utils): images qemu-img and
// qemu-io make read the same through this driver, and images this driver writes pass
// `qemu-img check` without errors or leaks and read back identically through qemu-img.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BlockDevice, LayerExtent } from './block-device.js';
import { DiskError } from './block-device.js';
import { openDisk } from './open.js';
import { createQcow2 } from './qcow2-create.js';
import type { Qcow2Disk } from './qcow2.js';
import {
  assertClean, assertContents, contents, firstDifference, Model, noQemu, pattern, qemuCheck, qemuContents, qemuImg, qemuIo, randomRequest, rng, tempDir,
} from './test-support.js';

const dir = tempDir();
let n = 0;
const fresh = (ext = 'qcow2') => join(dir, `img-${n++}.${ext}`);
const opts = { skip: noQemu };

/** Our view of the disk equals qemu-img's. */
async function sameAsQemu(path: string, disk?: BlockDevice): Promise<Uint8Array> {
  const own = disk ?? (await openDisk(path, { readOnly: true }));
  const ours = await contents(own);
  if (!disk) await own.close();
  const theirs = qemuContents(path, dir);
  const at = firstDifference(ours, theirs);
  assert.equal(at, -1, `${path}: differs from qemu-img at byte ${at}`);
  return ours;
}

/**
 * Random writes and discards through the driver, mirrored in model. Discards: 'zero' when
 * whole clusters must read as zeros after, 'loose' (over a backing file) when they may also
 * keep their data.
 */
type Discards = 'zero' | 'loose' | 'none';
async function scribble(disk: BlockDevice, model: Model, seed: number, count: number, discards: Discards = 'zero'): Promise<void> {
  const r = rng(seed);
  for (let i = 0; i < count; i++) {
    const [offset, length] = randomRequest(r, disk.size, model.clusterSize);
    if (discards !== 'none' && r(5) === 0) {
      await disk.discard(offset, length);
      if (discards === 'zero') model.discard(offset, length);
      else await model.discardLoosely(disk, offset, length);
    } else {
      const data = pattern(length, seed * 1000 + i);
      await disk.write(offset, data);
      model.write(offset, data);
    }
  }
}

/** Writes through the driver, then checks the image with qemu-img and compares contents. */
async function writeAndCheck(path: string, model: Model, seed: number, count: number, discards: Discards = 'zero'): Promise<void> {
  const disk = await openDisk(path, {});
  await scribble(disk, model, seed, count, discards);
  await assertContents(disk, model, 'before close');
  await disk.close();
  assertClean(path);
  assert.equal(firstDifference(qemuContents(path, dir), model.bytes), -1, 'qemu-img reads what was written');
}

for (const cluster of ['4k', '64k']) {
  test(`images qemu-io wrote read the same here (${cluster} clusters; data, zero clusters, unallocated)`, opts, async () => {
    const path = fresh();
    qemuImg('create', '-q', '-f', 'qcow2', '-o', `cluster_size=${cluster}`, path, '2M');
    qemuIo(path, 'write -P 0xab 0 1M', 'write -P 0x17 1000448 70000', 'write -z 65536 131072', 'write -P 0x5e 1900544 512', 'write -z 1901056 1536');
    const ours = await sameAsQemu(path);
    assert.equal(ours[0], 0xab);
    assert.equal(ours[65536], 0);
  });
}

test('compressed clusters (qemu-img convert -c) read, and overwrites and discards of them keep refcounts exact', opts, async () => {
  const raw = fresh('raw');
  const size = 512 << 10;
  const source = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) if ((i / 4096) % 5 !== 0) source.set(pattern(4096, i / 4096), i);
  writeFileSync(raw, source);
  for (const cluster of ['4k', '64k']) {
    const path = fresh();
    qemuImg('convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o', `cluster_size=${cluster}`, raw, path);
    assert.match(qemuImg('check', path), /compressed clusters/);
    const ours = await sameAsQemu(path);
    assert.equal(firstDifference(ours, source), -1);
    const model = new Model(size, cluster === '4k' ? 4096 : 65536);
    model.bytes.set(source);
    await writeAndCheck(path, model, 3, 40);
  }
});

test('writes that need new refcount blocks and a larger refcount table (512-byte clusters)', opts, async () => {
  // 64-bit refcounts: a block counts 64 clusters and the first table 64 blocks (2 MiB).
  const path = fresh();
  const size = 3 << 20;
  await createQcow2(path, { size, clusterBits: 9, refcountOrder: 6 });
  const before = readFileSync(path).readBigUInt64BE(48);
  const model = new Model(size, 512);
  const disk = await openDisk(path, {});
  for (let at = 0; at < size; at += 64 << 10) {
    const data = pattern(64 << 10, at);
    await disk.write(at, data);
    model.write(at, data);
  }
  await scribble(disk, model, 11, 30);
  await disk.close();
  const header = readFileSync(path);
  assert.notEqual(header.readBigUInt64BE(48), before, 'the refcount table moved');
  assert.ok(header.readUInt32BE(56) > 1, 'the refcount table grew');
  assertClean(path);
  assert.equal(firstDifference(qemuContents(path, dir), model.bytes), -1);
});

test('every refcount width, 1 to 64 bits (refcount_order 0 to 6)', opts, async () => {
  for (let order = 0; order <= 6; order++) {
    const path = fresh();
    await createQcow2(path, { size: 256 << 10, clusterBits: 9, refcountOrder: order });
    assertClean(path);
    await writeAndCheck(path, new Model(256 << 10, 512), 20 + order, 25);
  }
  const qemuMade = fresh();
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512,refcount_bits=1', qemuMade, '256k');
  qemuIo(qemuMade, 'write -P 0x33 1000 5000');
  const model = new Model(256 << 10, 512);
  model.bytes.set(await sameAsQemu(qemuMade));
  await writeAndCheck(qemuMade, model, 30, 25);
});

test('version 2 images (compat=0.10)', opts, async () => {
  const path = fresh();
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'compat=0.10,cluster_size=4k', path, '512k');
  qemuIo(path, 'write -P 0x42 4096 100000');
  const model = new Model(512 << 10, 4096);
  model.bytes.set(await sameAsQemu(path));
  await writeAndCheck(path, model, 40, 40);
});

test('backing files: reads fall through, partial writes copy from the backing file, zero clusters hide it', opts, async () => {
  const base = fresh();
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', base, '1M');
  qemuIo(base, 'write -P 0xba 0 1M');
  const top = fresh();
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', '-b', base, '-F', 'qcow2', top, '2M'); // larger than its base
  qemuIo(top, 'write -z 8192 8192', 'write -P 0x70 20000 5000');
  const model = new Model(2 << 20, 4096);
  model.bytes.set(await sameAsQemu(top));
  assert.equal(model.bytes[0], 0xba);
  assert.equal(model.bytes[8192], 0, 'zero cluster over the backing file');
  assert.equal(model.bytes[(1 << 20) + 5], 0, 'past the end of the backing file');
  await writeAndCheck(top, model, 50, 50, 'loose');
  assertClean(base);
  assert.equal(firstDifference(qemuContents(base, dir), new Uint8Array(1 << 20).fill(0xba)), -1, 'the base is untouched');
});

test('backing chains: qcow2 over qcow2 over raw, created here and by qemu-img', opts, async () => {
  const raw = fresh('raw');
  writeFileSync(raw, pattern(256 << 10, 9));
  const mid = fresh();
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', '-b', raw, '-F', 'raw', mid, '256k');
  qemuIo(mid, 'write -P 0x21 30000 40000');
  const top = fresh();
  await createQcow2(top, { backing: mid, backingFormat: 'qcow2', clusterBits: 12 });
  assert.match(qemuImg('info', top), /backing file format: qcow2/);
  const model = new Model(256 << 10, 4096);
  model.bytes.set(await sameAsQemu(top));
  await writeAndCheck(top, model, 60, 40, 'loose');
});

test('preallocated images (zero clusters with host clusters) read zero and are overwritten cleanly', opts, async () => {
  const path = fresh();
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'preallocation=metadata,cluster_size=4k', path, '256k');
  const model = new Model(256 << 10, 4096);
  await sameAsQemu(path);
  await writeAndCheck(path, model, 70, 30);
});

test('internal snapshots: shared L2 tables and clusters are copied, never changed in place', opts, async () => {
  const path = fresh();
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', path, '512k');
  qemuIo(path, 'write -P 0x61 0 300k');
  qemuImg('snapshot', '-c', 's1', path);
  const original = qemuContents(path, dir);
  const model = new Model(512 << 10, 4096);
  model.bytes.set(original);
  await writeAndCheck(path, model, 80, 40, 'none');
  assert.equal(firstDifference(qemuContents(path, dir, 's1'), original), -1, 'the snapshot is intact');
});

test('concurrent writes, discards, reads and flushes on disjoint ranges, with cluster reuse', opts, async () => {
  const path = fresh();
  const cs = 512;
  const size = 512 << 10;
  await createQcow2(path, { size, clusterBits: 9 });
  const model = new Model(size, cs);
  const disk = await openDisk(path, {});
  const r = rng(99);
  const slot = 16 << 10; // each request of a batch gets its own slot, so the model is exact
  for (let batch = 0; batch < 12; batch++) {
    const slots = [...Array(size / slot).keys()].filter(() => r(2) === 0);
    await Promise.all([
      ...slots.map(async (k) => {
        const offset = k * slot + r(8) * 512;
        const length = (1 + r(slot / 512 - 8)) * 512;
        const op = r(4);
        if (op === 0) {
          model.discard(offset, length);
          await disk.discard(offset, length);
        } else if (op === 1) {
          const expect = model.bytes.slice(offset, offset + length);
          const got = new Uint8Array(length);
          await disk.read(offset, got);
          assert.equal(firstDifference(got, expect), -1, `batch ${batch}: read at ${offset}`);
        } else {
          const data = pattern(length, batch * 100 + k);
          model.write(offset, data);
          await disk.write(offset, data);
        }
      }),
      ...(batch % 3 === 2 ? [disk.flush()] : []),
    ]);
  }
  await assertContents(disk, model, 'after the batches');
  await disk.close();
  assertClean(path);
  assert.equal(firstDifference(qemuContents(path, dir), model.bytes), -1);
});

test('discarded clusters are reused: rewriting after a discard does not grow the file', opts, async () => {
  const path = fresh();
  await createQcow2(path, { size: 1 << 20, clusterBits: 12 });
  const disk = await openDisk(path, {});
  await disk.write(0, pattern(1 << 20, 1));
  await disk.flush();
  const full = statSync(path).size;
  await disk.discard(0, 1 << 20);
  await disk.flush();
  await disk.write(0, pattern(1 << 20, 2));
  await disk.close();
  assert.equal(statSync(path).size, full);
  assertClean(path);
});

test('fuzzed images (random bytes changed in metadata): DiskErrors only, no crash', opts, async () => {
  const raw = fresh('raw');
  writeFileSync(raw, pattern(128 << 10, 3));
  const source = fresh();
  qemuImg('convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=4k', raw, source);
  qemuIo(source, 'write -P 0x11 0 20000', 'write -z 40960 8192');
  qemuImg('snapshot', '-c', 's', source);
  qemuIo(source, 'write -P 0x22 100000 20000');
  const original = readFileSync(source);
  const outcomes = new Map<string, number>();
  for (let it = 0; it < 80; it++) {
    const r = rng(it + 1);
    const image = Buffer.from(original);
    for (let k = 1 + r(6); k > 0; k--) {
      const at = r(3) === 0 ? r(4 * 4096) : r(image.length); // often the header and first tables
      image[at] = r(2) ? image[at]! ^ (1 << r(8)) : r(256);
    }
    const path = join(dir, `fuzz-${it % 2}.qcow2`);
    writeFileSync(path, image);
    let outcome = 'ok';
    try {
      const disk = await openDisk(path, { readOnly: r(3) === 0, format: 'qcow2' });
      try {
        for (let j = 0; j < 6; j++) {
          const length = (1 + r(64)) * 512;
          const offset = r((disk.size - length) / 512) * 512;
          const op = disk.readOnly ? 0 : r(4);
          await (op === 0 ? disk.read(offset, new Uint8Array(length)) : op === 1 ? disk.write(offset, pattern(length, j)) : op === 2 ? disk.discard(offset, length) : disk.flush());
        }
      } finally {
        await disk.close();
      }
    } catch (e) {
      assert.ok(e instanceof DiskError, `iteration ${it}: ${(e as Error).stack}`);
      outcome = e.code;
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  assert.ok((outcomes.get('corrupt') ?? 0) > 0 && (outcomes.get('ok') ?? 0) > 0, JSON.stringify([...outcomes]));
});

test('SIGKILL: after a completed flush the image is consistent and holds the data; a kill at any other moment leaks at most', opts, async () => {
  const path = fresh();
  const size = 1 << 20;
  await createQcow2(path, { size, clusterBits: 12 });
  const openModule = fileURLToPath(new URL('./open.js', import.meta.url));
  const helpers = fileURLToPath(new URL('./test-support.js', import.meta.url));
  // Each round: a process writes and flushes the first half, says so, then keeps writing
  // (allocating and flushing now and then) to the second half until it is killed.
  for (const [round, delay] of [5, 40, 90].entries()) {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', `
        import { openDisk } from ${JSON.stringify(openModule)};
        import { pattern } from ${JSON.stringify(helpers)};
        const disk = await openDisk(${JSON.stringify(path)}, {});
        for (let i = 0; i < 64; i++) await disk.write(i * 8192, pattern(4096, i));
        await disk.flush();
        console.log('flushed');
        for (let i = 0; ; i++) {
          await disk.write(${size / 2} + ((i + ${round * 37}) * 4608) % ${size / 2 - 4608}, pattern(4608, i));
          if (i % 5 === 4) await disk.discard(${size / 2} + (i * 12288) % ${size / 2 - 12288}, 12288);
          if (i % 7 === 6) await disk.flush();
        }`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((resolve) => child.stdout.once('data', resolve));
    await new Promise((resolve) => setTimeout(resolve, delay));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    const r = qemuCheck(path);
    assert.equal(r['check-errors'] + (r.corruptions ?? 0), 0, `round ${round}: ${JSON.stringify(r)}`);
    const disk = await openDisk(path, {}); // the dead process's lock is stale
    const got = new Uint8Array(size / 2);
    await disk.read(0, got);
    for (let i = 0; i < 64; i++) {
      assert.equal(firstDifference(got.subarray(i * 8192, i * 8192 + 4096), pattern(4096, i)), -1, `round ${round}: flushed write ${i}`);
    }
    await disk.close();
  }
});

/** One image's own layer as `qemu-img map` reports it with the backing file cut off. */
function qemuLayer(path: string): LayerExtent[] {
  const alone = `json:${JSON.stringify({ driver: 'qcow2', backing: null, file: { driver: 'file', filename: path } })}`;
  const map = JSON.parse(qemuImg('map', '--output=json', alone)) as { start: number; length: number; present: boolean; data: boolean }[];
  const out: LayerExtent[] = [];
  for (const m of map) {
    const kind = !m.present ? 'absent' : m.data ? 'data' : 'zero';
    const last = out[out.length - 1];
    if (last?.kind === kind) last.length += m.length;
    else out.push({ offset: m.start, length: m.length, kind });
  }
  return out;
}

for (const cluster of ['4k', '64k']) {
  test(`layerExtents: one layer's data, zero-flag and absent runs, as qemu-img map of the image alone has them (${cluster} clusters)`, opts, async () => {
    const base = fresh();
    qemuImg('create', '-q', '-f', 'qcow2', base, '4M');
    qemuIo(base, 'write -P 0xb1 0 4M');
    const top = fresh();
    qemuImg('create', '-q', '-f', 'qcow2', '-o', `cluster_size=${cluster}`, '-b', base, '-F', 'qcow2', top, '4M');
    // Data (one write crossing L2 tables with 4k clusters: a table maps 2 MiB), zero flags
    // (write -z and discard over a backing file), an unaligned write, and untouched space.
    qemuIo(top, 'write -P 0x11 1920k 256k', 'write -z 256k 128k', 'discard 512k 64k', 'write -P 0x22 700000 5000', 'write -z 3M 64k');
    const disk = await openDisk(top, { readOnly: true });
    assert.deepEqual(await disk.layerExtents!(0, disk.size), qemuLayer(top));
    // A range inside clusters is clipped to itself.
    const cs = cluster === '4k' ? 4096 : 65536;
    assert.deepEqual(await disk.layerExtents!(1920 * 1024 + 100, 1000), [{ offset: 1920 * 1024 + 100, length: 1000, kind: 'data' }]);
    assert.deepEqual(await disk.layerExtents!(cs * 2 + 1, 0), []);
    // Its raw base's layer is data everywhere.
    const raw = fresh('raw');
    writeFileSync(raw, new Uint8Array(1 << 20));
    const r = await openDisk(raw, { format: 'raw', readOnly: true });
    assert.deepEqual(await r.layerExtents!(512, 4096), [{ offset: 512, length: 4096, kind: 'data' }]);
    await r.close();
    await disk.close();
  });
}

test('layerExtents: compressed clusters are data', opts, async () => {
  const raw = fresh('raw');
  const source = new Uint8Array(1 << 20);
  source.set(pattern(300 << 10, 5), 64 << 10);
  writeFileSync(raw, source);
  const path = fresh();
  qemuImg('convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=4k', raw, path);
  const disk = await openDisk(path, { readOnly: true });
  const extents = await disk.layerExtents!(0, disk.size);
  await disk.close();
  assert.deepEqual(extents, qemuLayer(path));
  assert.ok(extents.some((e) => e.kind === 'data' && e.offset === 64 << 10), JSON.stringify(extents));
});

for (const compat of ['1.1', '0.10']) {
  test(`writeZeroes over a backing file: ${compat === '1.1' ? 'whole clusters get the zero flag, partial ones zeros' : 'v2 has no zero flag: zeros are written'}`, opts, async () => {
    const base = fresh();
    qemuImg('create', '-q', '-f', 'qcow2', base, '6M');
    qemuIo(base, 'write -P 0xb2 0 6M');
    const top = fresh();
    qemuImg('create', '-q', '-f', 'qcow2', '-o', `cluster_size=4k,compat=${compat}`, '-b', base, '-F', 'qcow2', top, '6M');
    qemuIo(top, 'write -P 0x31 0 64k', 'write -P 0x32 2040k 16k');
    const model = new Model(6 << 20, 4096);
    model.bytes.set(await sameAsQemu(top));
    const disk = await openDisk(top, {}) as Qcow2Disk;
    // Over data and absent clusters, unaligned, across the L2 tables' 2 MiB boundaries;
    // the last one runs to the end of the disk.
    for (const [offset, length] of [[1000, 40000], [2030 << 10, 40 << 10], [3 << 20, (1 << 20) + 12345], [(6 << 20) - 8192, 8192]] as const) {
      await disk.writeZeroes(offset, length);
      model.bytes.fill(0, offset, offset + length);
    }
    await assertContents(disk, model, 'after writeZeroes');
    const whole = await disk.layerExtents!(4096, 32768);
    assert.deepEqual(whole, [{ offset: 4096, length: 32768, kind: compat === '1.1' ? 'zero' : 'data' }]);
    await disk.close();
    assertClean(top);
    assert.equal(firstDifference(qemuContents(top, dir), model.bytes), -1, 'qemu-img reads the zeros');
    if (compat === '1.1') assert.deepEqual(qemuLayer(top).find((e) => e.offset <= 3 << 20 && e.offset + e.length > 3 << 20)?.kind, 'zero');
  });
}

test('setBackingFile: the header names the new backing file and format, or none; other header extensions are kept', opts, async () => {
  const a = fresh();
  qemuImg('create', '-q', '-f', 'qcow2', a, '1M');
  const top = fresh();
  qemuImg('create', '-q', '-f', 'qcow2', '-b', a, '-F', 'qcow2', top, '1M');
  const features = (path: string) => (JSON.parse(qemuImg('info', '--output=json', path)) as { 'format-specific': { data: { compat: string } } })['format-specific'];
  const before = features(top);
  // A name long enough to push the header past its first sector.
  const folder = join(dir, 'f'.repeat(200), 'g'.repeat(200));
  mkdirSync(folder, { recursive: true });
  const raw = join(folder, 'backing.raw');
  writeFileSync(raw, new Uint8Array(1 << 20));
  for (const backing of [{ name: raw, format: 'raw' }, null, { name: a, format: 'qcow2' }]) {
    const disk = await openDisk(top, {}) as Qcow2Disk;
    await disk.setBackingFile(backing);
    await disk.close();
    const info = JSON.parse(qemuImg('info', '--output=json', top)) as Record<string, unknown>;
    assert.equal(info['backing-filename'], backing?.name);
    assert.equal(info['backing-filename-format'], backing?.format);
    assert.deepEqual(features(top), before);
    assertClean(top);
    const again = await openDisk(top, { readOnly: true });
    assert.equal(again.backing?.path ?? null, backing?.name ?? null);
    await again.close();
  }
});
