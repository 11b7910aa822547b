// Merging a checkpoint's image into its child (qcow2-merge.ts): chains built with qemu-img
// and qemu-io (or, where noted, with this driver alone), the child's contents recorded,
// merged, and checked byte for byte, by `qemu-img check`, `info --backing-chain` and
// `compare`, and again after the merged image is deleted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiskError } from './block-device.js';
import { openDisk } from './open.js';
import { createQcow2 } from './qcow2-create.js';
import { backingChain, mergeIntoChild } from './qcow2-merge.js';
import { assertClean, contents, firstDifference, noQemu, pattern, qemuCheck, qemuContents, qemuImg, qemuIo, tempDir } from './test-support.js';

const dir = tempDir();
let n = 0;
const fresh = (ext = 'qcow2', folder = dir) => join(folder, `img-${n++}.${ext}`);
const opts = { skip: noQemu };
const SIZE = 2 << 20;

interface Chain {
  base: string | null;
  f: string;
  j: string;
}

interface ChainSpec {
  base: 'raw' | 'qcow2' | null;
  fCluster: string;
  jCluster: string;
  /** J as qcow2 version 2 (no zero flag). */
  jCompat?: '0.10' | '1.1';
  /** F's virtual size (J's is SIZE). */
  fSize?: number;
  /** Each image in a folder of its own, backing names relative to it. */
  folders?: boolean;
}

/**
 * base ← F ← J with qemu-img and qemu-io. base has data everywhere; F data, zero-flag
 * clusters (write -z and discard over a backing file), unaligned writes and untouched
 * space; J overwrites some of F's clusters with data and zeros.
 */
function qemuChain(spec: ChainSpec): Chain {
  const folder = (name: string) => {
    if (!spec.folders) return dir;
    const d = join(dir, `${name}-${n++}`);
    mkdirSync(d);
    return d;
  };
  let base: string | null = null;
  const backing = (of: string, image: string, format: string) => ['-b', spec.folders ? relative(join(image, '..'), of) : of, '-F', format];
  const f = fresh('qcow2', folder('f'));
  const j = fresh('qcow2', folder('j'));
  if (spec.base === 'raw') {
    base = fresh('raw', folder('base'));
    writeFileSync(base, pattern(SIZE, 1));
  } else if (spec.base === 'qcow2') {
    base = fresh('qcow2', folder('base'));
    qemuImg('create', '-q', '-f', 'qcow2', base, String(SIZE));
    qemuIo(base, `write -P 0xb1 0 ${SIZE}`);
  }
  qemuImg('create', '-q', '-f', 'qcow2', '-o', `cluster_size=${spec.fCluster}`, ...(base ? backing(base, f, spec.base!) : []), f, String(spec.fSize ?? SIZE));
  const fEnd = spec.fSize ?? SIZE;
  qemuIo(
    f,
    ...[
      'write -P 0x11 0 192k',
      'write -z 256k 128k',
      'write -z 400k 4k',
      'discard 512k 64k',
      'write -P 0x22 700000 5000',
      'write -P 0x33 1M 64k',
      `write -z 1536k 256k`,
    ].filter((c) => bytes(c.split(' ').at(-2)!) + bytes(c.split(' ').at(-1)!) <= fEnd),
  );
  qemuImg('create', '-q', '-f', 'qcow2', '-o', `cluster_size=${spec.jCluster},compat=${spec.jCompat ?? '1.1'}`, ...backing(f, j, 'qcow2'), j, String(SIZE));
  qemuIo(j, 'write -P 0x44 64k 64k', 'write -P 0x55 300k 16k', 'write -z 1M 32k', 'write -P 0x66 1900k 4k');
  return { base, f, j };
}

/** A qemu-io size: 1000, 64k, 1M. */
const bytes = (s: string): number => Number.parseInt(s, 10) * (s.endsWith('k') ? 1024 : s.endsWith('M') ? 1 << 20 : 1);

/** The child's contents through this driver, which must equal qemu-img's. */
async function read(path: string): Promise<Uint8Array> {
  const disk = await openDisk(path, { readOnly: true });
  const ours = await contents(disk);
  await disk.close();
  if (!noQemu) assert.equal(firstDifference(ours, qemuContents(path, dir)), -1, `${path}: qemu-img reads otherwise`);
  return ours;
}

interface Info {
  filename: string;
  format: string;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
}

/**
 * After the merge: J reads as before (saved), is clean, is backed directly by `backing`
 * (or by nothing), and still reads the same once F is deleted.
 */
async function assertMerged(c: Chain, before: Uint8Array, backing: { path: string; format: string } | null): Promise<void> {
  assert.equal(firstDifference(await read(c.j), before), -1, 'J reads as before');
  assert.deepEqual((await backingChain(c.j)).map((l) => l.path), [c.j, ...(backing ? [backing.path] : [])]);
  if (!noQemu) {
    assertClean(c.j);
    const chain = JSON.parse(qemuImg('info', '--backing-chain', '--output=json', c.j)) as Info[];
    assert.equal(chain.length, backing ? 2 : 1, JSON.stringify(chain));
    const full = chain[0]!['full-backing-filename'];
    assert.equal(full && resolve(full), backing?.path);
    assert.equal(chain[0]!['backing-filename-format'], backing?.format);
  }
  rmSync(c.f);
  assert.equal(firstDifference(await read(c.j), before), -1, 'J reads as before without F');
  if (!noQemu) {
    const saved = fresh('raw');
    writeFileSync(saved, before);
    assert.match(qemuImg('compare', '-f', 'raw', '-F', 'qcow2', saved, c.j), /Images are identical/);
  }
}

/** What J's own layer holds at offset (length bytes). */
async function layer(path: string, offset: number, length: number): Promise<string> {
  const disk = await openDisk(path, { readOnly: true });
  const extents = await disk.layerExtents!(offset, length);
  await disk.close();
  return extents.map((e) => e.kind).join(',');
}

for (const base of ['qcow2', 'raw'] as const) {
  for (const [fCluster, jCluster] of [['64k', '64k'], ['4k', '4k'], ['64k', '4k'], ['4k', '64k'], ['512', '2M']]) {
    test(`merge F (${fCluster} clusters) into J (${jCluster}) over a ${base} base: J reads the same, backed by the base, without F`, opts, async () => {
      const c = qemuChain({ base, fCluster, jCluster });
      const before = await read(c.j);
      const progress: number[] = [];
      await mergeIntoChild(c.j, { onProgress: (done, total) => progress.push(done / total) });
      assert.equal(progress.at(-1), 1);
      assert.deepEqual(progress, [...progress].sort((a, b) => a - b));
      if (jCluster !== '2M') {
        // Zeros F keeps over whole clusters are zero flags in J, not data; what F left to
        // the base is still the base's.
        assert.equal(await layer(c.j, 1600 << 10, 128 << 10), 'zero');
        assert.equal(await layer(c.j, 1200 << 10, 64 << 10), 'absent');
      }
      await assertMerged(c, before, { path: c.base!, format: base });
    });
  }
}

test('merge into a version 2 J (no zero flag): F\'s zeros become zeros written', opts, async () => {
  const c = qemuChain({ base: 'qcow2', fCluster: '4k', jCluster: '4k', jCompat: '0.10' });
  const before = await read(c.j);
  await mergeIntoChild(c.j);
  assert.equal(await layer(c.j, 256 << 10, 128 << 10), 'data');
  await assertMerged(c, before, { path: c.base!, format: 'qcow2' });
});

test('merge an F smaller than J and its base: J keeps reading zeros past F\'s end, not the base', opts, async () => {
  const c = qemuChain({ base: 'qcow2', fCluster: '64k', jCluster: '4k', fSize: 1 << 20 });
  const before = await read(c.j);
  assert.equal(before[1536 << 10], 0);
  await mergeIntoChild(c.j);
  await assertMerged(c, before, { path: c.base!, format: 'qcow2' });
});

test('merge with each image in its own folder: J names the base relative to its own folder', opts, async () => {
  const c = qemuChain({ base: 'qcow2', fCluster: '64k', jCluster: '64k', folders: true });
  const before = await read(c.j);
  await mergeIntoChild(c.j);
  const info = JSON.parse(qemuImg('info', '--output=json', c.j)) as Info;
  assert.equal(info['backing-filename'], join('..', basename(join(c.base!, '..')), basename(c.base!)));
  await assertMerged(c, before, { path: c.base!, format: 'qcow2' });
});

test('merge an F without a backing file: J becomes standalone', opts, async () => {
  const c = qemuChain({ base: null, fCluster: '64k', jCluster: '4k' });
  const before = await read(c.j);
  await mergeIntoChild(c.j);
  // Without a backing file, what F left absent (or zero) reads as zeros anyway.
  assert.equal(await layer(c.j, 1200 << 10, 64 << 10), 'absent');
  await assertMerged(c, before, null);
});

test('merge a raw F: all of it is data, and J becomes standalone', opts, async () => {
  const f = fresh('raw');
  writeFileSync(f, pattern(SIZE, 7));
  const j = fresh();
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', '-b', f, '-F', 'raw', j, String(SIZE));
  qemuIo(j, 'write -P 0x44 64k 64k', 'write -z 1M 32k');
  const before = await read(j);
  await mergeIntoChild(j);
  assert.equal(await layer(j, 0, SIZE), 'data,zero,data');
  await assertMerged({ base: null, f, j }, before, null);
});

/** base ← F ← J built with this driver only (no qemu-img needed): data, zero flags, absent. */
async function ourChain(): Promise<Chain> {
  const base = fresh();
  const f = fresh();
  const j = fresh();
  await createQcow2(base, { size: SIZE, clusterBits: 12 });
  let d = await openDisk(base);
  await d.write(0, pattern(SIZE, 3));
  await d.close();
  await createQcow2(f, { backing: basename(base), backingFormat: 'qcow2', clusterBits: 16 });
  d = await openDisk(f);
  await d.write(100_000, pattern(300_000, 4));
  // A discard of clusters F holds sets the v3 zero flag over the backing file (of
  // clusters it does not hold, it changes nothing: a discard is only a hint).
  await d.write(640 << 10, pattern(256 << 10, 6));
  await d.discard(640 << 10, 256 << 10);
  await d.close();
  assert.equal(await layer(f, 640 << 10, 256 << 10), 'zero');
  await createQcow2(j, { backing: basename(f), backingFormat: 'qcow2', clusterBits: 12 });
  d = await openDisk(j);
  await d.write(200_000, pattern(50_000, 5));
  await d.close();
  return { base, f, j };
}

test('J open in a VM (or F open writable): the merge fails with DiskError locked and changes nothing', async () => {
  const c = await ourChain();
  const bytes = readFileSync(c.j);
  const locked = (e: unknown) => e instanceof DiskError && e.code === 'locked';
  for (const [path, readOnly] of [[c.j, false], [c.j, true], [c.f, false]] as const) {
    const vm = await openDisk(path, { readOnly });
    await assert.rejects(mergeIntoChild(c.j), locked, `${path} open ${readOnly ? 'read-only' : 'writable'}`);
    await vm.close();
    assert.ok(readFileSync(c.j).equals(bytes), 'J unchanged');
  }
  // A VM reading F through a sibling of J does not stand in the way.
  const sibling = fresh();
  await createQcow2(sibling, { backing: basename(c.f), backingFormat: 'qcow2', clusterBits: 12 });
  const vm = await openDisk(sibling);
  const before = await read(c.j);
  await mergeIntoChild(c.j);
  await vm.close();
  await assertMerged(c, before, { path: c.base!, format: 'qcow2' });
});

test('a failure between the copy and the header change leaves J reading the same, still backed by F; merging again finishes', async () => {
  const c = await ourChain();
  const before = await read(c.j);
  await assert.rejects(
    mergeIntoChild(c.j, { afterCopy: () => { throw new Error('power cut'); } }),
    /power cut/,
  );
  assert.equal(firstDifference(await read(c.j), before), -1, 'J reads as before');
  assert.deepEqual((await backingChain(c.j)).map((l) => l.path), [c.j, c.f, c.base]);
  assert.equal(await layer(c.j, 640 << 10, 256 << 10), 'zero', 'the copies were made');
  if (!noQemu) assertClean(c.j);
  await mergeIntoChild(c.j);
  await assertMerged(c, before, { path: c.base!, format: 'qcow2' });
});

test('what cannot be merged: J without a backing file, a raw J, J with internal snapshots', async () => {
  const unsupported = (e: unknown) => e instanceof DiskError && e.code === 'unsupported';
  const alone = fresh();
  await createQcow2(alone, { size: SIZE });
  await assert.rejects(mergeIntoChild(alone), unsupported);
  const raw = fresh('raw');
  writeFileSync(raw, new Uint8Array(4096));
  await assert.rejects(mergeIntoChild(raw), unsupported);
  await assert.rejects(mergeIntoChild(join(dir, 'nope.qcow2')), (e: unknown) => e instanceof DiskError && e.code === 'missing');
  if (noQemu) return;
  const c = await ourChain();
  qemuImg('snapshot', '-c', 's1', c.j);
  const bytes = readFileSync(c.j);
  await assert.rejects(mergeIntoChild(c.j), /internal snapshot/);
  assert.ok(readFileSync(c.j).equals(bytes), 'J unchanged');
});

test('backingChain: every file of the chain, top first, with its format, resolved as openDisk resolves names', async () => {
  const c = await ourChain();
  assert.deepEqual(await backingChain(c.j), [
    { path: c.j, format: 'qcow2' },
    { path: c.f, format: 'qcow2' },
    { path: c.base, format: 'qcow2' },
  ]);
  const raw = fresh('raw');
  writeFileSync(raw, new Uint8Array(4096));
  const top = fresh();
  await createQcow2(top, { backing: raw, backingFormat: 'raw' });
  assert.deepEqual(await backingChain(top), [{ path: top, format: 'qcow2' }, { path: raw, format: 'raw' }]);
  // A chain that loops: two images backed by each other.
  const a = fresh();
  const b = fresh();
  await createQcow2(a, { size: SIZE, backing: basename(b) });
  await createQcow2(b, { size: SIZE, backing: basename(a) });
  await assert.rejects(backingChain(a), (e: unknown) => e instanceof DiskError && e.code === 'corrupt');
});

test('SIGKILL at any moment of a merge: J is never corrupt and always reads the same, through whichever chain its header names', opts, async () => {
  const size = 16 << 20;
  const mergeModule = fileURLToPath(new URL('./qcow2-merge.js', import.meta.url));
  // The first round merges to the end and times it. The others are killed at a fraction
  // of that time (while copying, mostly), or a few milliseconds after the copies were
  // flushed (around the header write).
  type Kill = { after: 'start'; fraction: number } | { after: 'copied'; ms: number };
  const kills: (Kill | null)[] = [null, ...[0.3, 0.7, 1.3].map((fraction) => ({ after: 'start', fraction }) as const),
    ...[0, 2, 8].map((ms) => ({ after: 'copied', ms }) as const)];
  let full = 0;
  const outcomes = { killedBefore: 0, finished: 0 };
  for (const [round, kill] of kills.entries()) {
    const base = fresh();
    qemuImg('create', '-q', '-f', 'qcow2', base, String(size));
    qemuIo(base, `write -P 0xb1 0 ${size}`);
    const f = fresh();
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', '-b', base, '-F', 'qcow2', f, String(size));
    // Data in most of F, zeros in some: thousands of clusters to copy.
    qemuIo(f, ...Array.from({ length: 16 }, (_, i) => (i % 4 === 3 ? `write -z ${i}M 512k` : `write -P ${i + 1} ${i}M 768k`)));
    const j = fresh();
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', '-b', f, '-F', 'qcow2', j, String(size));
    qemuIo(j, 'write -P 0x44 5M 3M');
    const before = qemuContents(j, dir);
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', `
        import { mergeIntoChild } from ${JSON.stringify(mergeModule)};
        console.log('start');
        await mergeIntoChild(${JSON.stringify(j)}, { afterCopy: () => console.log('copied') });
        console.log('done');`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    const said = (word: string) => new Promise<void>((resolve) => {
      const look = () => (out.includes(word) ? resolve() : child.stdout.once('data', look));
      look();
    });
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await said('start');
    const started = Date.now();
    if (!kill) {
      await exited;
      full = Date.now() - started;
      assert.match(out, /done/);
    } else {
      if (kill.after === 'copied') await Promise.race([said('copied'), exited]);
      await new Promise((resolve) => setTimeout(resolve, kill.after === 'start' ? full * kill.fraction : kill.ms));
      child.kill('SIGKILL');
      await exited;
    }

    const r = qemuCheck(j);
    assert.equal(r['check-errors'] + (r.corruptions ?? 0), 0, `round ${round}: ${JSON.stringify(r)}`);
    assert.equal(firstDifference(qemuContents(j, dir), before), -1, `round ${round}: J reads as before`);
    if ((await backingChain(j)).length === 3) {
      outcomes.killedBefore++;
      await mergeIntoChild(j); // merging again finishes the job
    } else {
      outcomes.finished++;
    }
    assert.deepEqual((await backingChain(j)).map((l) => l.path), [j, base]);
    assert.equal(firstDifference(qemuContents(j, dir), before), -1, `round ${round}: J reads as before after the merge`);
  }
  assert.ok(outcomes.killedBefore > 0, `a kill came before the header changed (${JSON.stringify(outcomes)})`);
});
