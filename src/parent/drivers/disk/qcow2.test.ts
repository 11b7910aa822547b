import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDisk } from './open.js';
import { createQcow2 } from './qcow2-create.js';
import { assertContents, firstDifference, Model, patchFile, pattern, randomRequest, rng, tempDir, u64be } from './test-support.js';

const dir = tempDir();
let n = 0;
const fresh = () => join(dir, `img-${n++}.qcow2`);

for (const clusterBits of [9, 12]) {
  test(`random writes, reads and discards match a model, also after reopening (${2 ** clusterBits}-byte clusters)`, async () => {
    const path = fresh();
    const size = 256 << 10;
    const cs = 2 ** clusterBits;
    await createQcow2(path, { size, clusterBits });
    const model = new Model(size, cs);
    const r = rng(clusterBits);
    let disk = await openDisk(path, {});
    for (let i = 0; i < 60; i++) {
      const [offset, length] = randomRequest(r, size, cs);
      if (r(6) === 0) {
        await disk.discard(offset, length);
        model.discard(offset, length);
      } else {
        const data = pattern(length, i + 1);
        await disk.write(offset, data);
        model.write(offset, data);
      }
      if (i % 20 === 19) await assertContents(disk, model, `after ${i + 1} requests`);
    }
    await disk.close();
    disk = await openDisk(path, { readOnly: true });
    await assertContents(disk, model, 'reopened');
    await disk.close();
  });
}

test('concurrent requests to the same clusters: allocating writes, in-place writes and reads', async () => {
  const path = fresh();
  const cs = 4096;
  const size = 64 * cs;
  await createQcow2(path, { size, clusterBits: 12 });
  const disk = await openDisk(path, {});
  const model = new Model(size, cs);
  // Every sector written once, in a scrambled order, all at the same time.
  const sectors = [...Array(size / 512).keys()];
  const r = rng(7);
  for (let i = sectors.length - 1; i > 0; i--) {
    const j = r(i + 1);
    [sectors[i], sectors[j]] = [sectors[j]!, sectors[i]!];
  }
  const reads: Promise<void>[] = [];
  await Promise.all(
    sectors.map((s, k) => {
      const data = pattern(512, s + 1);
      model.write(s * 512, data);
      if (k % 16 === 0) reads.push(disk.read(Math.min(size - 8192, Math.max(0, s * 512 - 4096)), new Uint8Array(8192)));
      return disk.write(s * 512, data);
    }),
  );
  await Promise.all(reads);
  await assertContents(disk, model, 'after concurrent writes');
  // Now all allocated: concurrent in-place rewrites of whole clusters.
  await Promise.all([...Array(64).keys()].map((c) => {
    const data = pattern(cs, 1000 + c);
    model.write(c * cs, data);
    return disk.write(c * cs, data);
  }));
  await assertContents(disk, model, 'after in-place writes');
  await disk.close();
});

test('requests outside the disk and writes to read-only images are refused', async () => {
  const path = fresh();
  await createQcow2(path, { size: 1 << 20 });
  let disk = await openDisk(path, {});
  await disk.write(4096, new Uint8Array(0));
  await disk.read(1 << 20, new Uint8Array(0));
  await assert.rejects(disk.write((1 << 20) - 512, new Uint8Array(1024)), { code: 'range' });
  await assert.rejects(disk.read(1 << 20, new Uint8Array(1)), { code: 'range' });
  await assert.rejects(disk.discard(0.5, 1), { code: 'range' });
  await disk.close();
  disk = await openDisk(path, { readOnly: true });
  await assert.rejects(disk.write(0, new Uint8Array(512)), { code: 'read-only' });
  await assert.rejects(disk.discard(0, 512), { code: 'read-only' });
  await disk.close();
});

// An image with one allocated L2 table and data cluster, 4 KiB clusters:
//   0 header, 1 refcount table, 2 refcount block, 3 L1 table, 4 L2 table, 5 data.
async function oneCluster(): Promise<string> {
  const path = fresh();
  await createQcow2(path, { size: 1 << 20, clusterBits: 12 });
  const disk = await openDisk(path, {});
  await disk.write(0, new Uint8Array(4096).fill(0x11));
  await disk.close();
  const f = readFileSync(path);
  assert.equal(f.readBigUInt64BE(3 * 4096), (1n << 63n) | (4n * 4096n), 'L1[0] -> cluster 4');
  assert.equal(f.readBigUInt64BE(4 * 4096), (1n << 63n) | (5n * 4096n), 'L2[0] -> cluster 5');
  return path;
}

const COPIED = 1n << 63n;
const hostile: [string, number, bigint, 'open' | 'read' | 'write', RegExp][] = [
  ['an L1 entry pointing at the L1 table', 3 * 4096, COPIED | (3n * 4096n), 'open', /L2 table at 12288 overlaps the L1 table/],
  ['an unaligned L1 entry', 3 * 4096, COPIED | (4n * 4096n + 512n), 'open', /L2 table 0 at 16896 is not aligned/],
  ['an L1 entry past the end of the file', 3 * 4096, COPIED | (1000n * 4096n), 'open', /L2 table 0 at 4096000 is outside the image/],
  ['a data cluster on the refcount table', 4 * 4096, COPIED | 4096n, 'write', /data cluster at 4096 overlaps the refcount table/],
  ['a data cluster on the L2 table itself', 4 * 4096, COPIED | (4n * 4096n), 'write', /data cluster at 16384 overlaps the L2 table/],
  ['an unaligned data cluster', 4 * 4096, COPIED | (5n * 4096n + 1024n), 'read', /data cluster at 21504 is not aligned/],
  ['a data cluster past the end of the file', 4 * 4096, COPIED | (1n << 40n), 'read', /data cluster at 1099511627776 is outside the image/],
  ['compressed data that is not deflate', 4 * 4096, (1n << 62n) | (5n * 4096n), 'read', /compressed cluster at 20480 does not inflate/],
  ['compressed data past the end of the file', 4 * 4096, (1n << 62n) | (1n << 40n), 'read', /compressed cluster .* is outside the image/],
  ['a refcount block past the end of the file', 4096, 1n << 40n, 'open', /refcount block at 1099511627776 is outside the image/],
  ['a refcount block on the L1 table', 4096, 3n * 4096n, 'open', /refcount block at 12288 overlaps the L1 table/],
  ['an L2 table with refcount 0 (the allocator would hand it out)', 2 * 4096 + 4 * 2, 0n, 'write', /cluster 4 holds the L2 table but its refcount is 0/],
];
for (const [what, at, value, when, message] of hostile) {
  test(`hostile image: ${what} gives 'corrupt', not a wild write`, async () => {
    const path = await oneCluster();
    // Refcount entries are 16 bits: patch only 2 bytes there.
    patchFile(path, at, at >= 2 * 4096 && at < 3 * 4096 ? [0, 0] : u64be(value));
    const before = readFileSync(path);
    const check = (e: { code?: string; message?: string }) => {
      assert.equal(e.code, 'corrupt', e.message);
      assert.match(e.message!, message);
      return true;
    };
    if (when === 'open') {
      await assert.rejects(openDisk(path, {}), check);
    } else {
      const disk = await openDisk(path, {});
      if (when === 'read') await assert.rejects(disk.read(0, new Uint8Array(512)), check);
      // write: in place into cluster 0, or (refcount case) a new cluster at guest 1 MiB - 4 KiB
      else await assert.rejects(disk.write(what.includes('refcount 0') ? 4096 : 0, new Uint8Array(512)), check);
      await disk.close();
    }
    const after = readFileSync(path);
    assert.equal(firstDifference(before.subarray(0, after.length), after.subarray(0, before.length)), -1, 'nothing was written');
  });
}
