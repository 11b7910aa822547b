// The qcow2 driver (src/parent/drivers/disk/qcow2*.ts) on hostile images: the corpus
// images (made by createQcow2 and filled by the driver: v2 and v3, 512-byte and 4 KiB
// clusters, 1- to 64-bit refcounts, a compressed cluster, a backing file) with byte-level
// mutations aimed at the header, the L1 table, the refcount table and blocks and the L2
// tables; each opened (read-only or writable), then read, written, discarded and flushed,
// one request at a time or several at once, closed, and opened again to read it all.
// Fails on any exception but DiskError, a case past the time bound, an image file that
// grows far beyond what was written, or (for an image left intact) data that reads back
// other than written, also after reopening.
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskError, type BlockDevice } from '../../../src/parent/drivers/disk/block-device.js';
import { openDisk } from '../../../src/parent/drivers/disk/open.js';
import { headerClusterBits, parseHeader } from '../../../src/parent/drivers/disk/qcow2-header.js';
import { refcountEntry } from '../../../src/parent/drivers/disk/qcow2-refcounts.js';
import { check, mutate, mutationArb, note, show, MiB, type CorpusFile, type FuzzTarget, type Mutation } from '../harness.js';
import { HEADER_FIELDS } from './qcow2-header.js';

export type DiskOp =
  | { op: 'read'; offset: number; length: number }
  | { op: 'write'; offset: number; length: number; fill: number }
  | { op: 'discard'; offset: number; length: number }
  | { op: 'flush' };

export interface Qcow2Case {
  seed: number;
  mutations: Mutation[];
  /** A backing file name written into the header (after the mutations), or none. */
  backing?: string;
  readOnly: boolean;
  together: boolean;
  ops: DiskOp[];
}

/** Backing names worth trying: the files setup() leaves beside the image, the image itself, devices. */
const BACKING_NAMES = ['backing.raw', 'b', 'ba', 'bac', 'case.qcow2', '.', '..', '/dev/zero', '/dev/null', '/proc/self/mem', 'missing', 'nbd:x', 'json:{}'];
/** Where a backing name goes: inside the first cluster (512 bytes at least), past the extensions. */
const BACKING_AT = 256;

interface Seed { name: string; bytes: Uint8Array; hot: number[] }
interface Ctx { dir: string }

const offsetArb = fc.oneof(
  { weight: 8, arbitrary: fc.nat(128).map((s) => s * 512) },
  { weight: 2, arbitrary: fc.nat(300 * 1024) },
  { weight: 1, arbitrary: fc.constantFrom(-512, 2 ** 32, 2 ** 53 - 512, 2 ** 53, Number.MAX_VALUE, NaN) },
);
const lengthArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 24 }).map((s) => s * 512) },
  { weight: 2, arbitrary: fc.nat(20 * 1024) },
  { weight: 1, arbitrary: fc.constantFrom(0, 64 * 1024, 256 * 1024) },
);
const opArb: fc.Arbitrary<DiskOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('read' as const), offset: offsetArb, length: lengthArb }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('write' as const), offset: offsetArb, length: lengthArb, fill: fc.nat(255) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('discard' as const), offset: offsetArb, length: lengthArb }) },
  { weight: 1, arbitrary: fc.constant({ op: 'flush' as const }) },
);

let seeds: Seed[] = [];

/** Where the image's metadata is: mutations aimed there find more than random ones. */
function hotOffsets(bytes: Uint8Array): number[] {
  const hot = [...HEADER_FIELDS];
  try {
    const prefix = new Uint8Array(512);
    prefix.set(bytes.subarray(0, 512));
    const cs = 2 ** headerClusterBits('seed', prefix);
    const cluster0 = new Uint8Array(cs);
    cluster0.set(bytes.subarray(0, cs));
    const h = parseHeader('seed', cluster0, bytes.length);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const u64 = (at: number) => (at + 8 <= bytes.length ? Number(v.getBigUint64(at) & 0x00ff_ffff_ffff_fe00n) : 0);
    for (let i = 0; i < h.l1Size; i++) {
      const at = h.l1TableOffset + 8 * i;
      hot.push(at);
      const l2 = u64(at);
      for (let j = 0; l2 && j < Math.min(cs / 8, 32); j++) hot.push(l2 + 8 * j, l2 + 8 * j + 7);
    }
    for (let i = 0; i < (h.refcountTableClusters * cs) / 8 && i < 8; i++) {
      const at = h.refcountTableOffset + 8 * i;
      hot.push(at);
      const block = u64(at);
      for (let j = 0; block && j < 32; j++) hot.push(block + j);
    }
    if (h.nbSnapshots > 0) {
      const at = h.snapshotsOffset;
      hot.push(at, at + 4, at + 8, at + 12, at + 14, at + 36);
      const l1 = u64(at);
      for (let i = 0; l1 && i < 4; i++) hot.push(l1 + 8 * i);
    }
  } catch { /* a seed that does not parse: header fields only */ }
  return hot.filter((o) => o < bytes.length);
}

const imageOf = (c: Qcow2Case): Uint8Array => {
  const s = seeds[c.seed % seeds.length]!;
  const img = mutate(s.bytes, c.mutations, s.hot);
  if (c.backing !== undefined && img.length >= 512) {
    const name = new TextEncoder().encode(c.backing);
    const v = new DataView(img.buffer, img.byteOffset, img.byteLength);
    img.set(name.subarray(0, 512 - BACKING_AT), BACKING_AT);
    v.setBigUint64(8, BigInt(BACKING_AT));
    v.setUint32(16, name.length);
  }
  return img;
};

export const qcow2: FuzzTarget<Qcow2Case, Ctx> = {
  name: 'qcow2',
  async: true,
  fromCorpus(files: readonly CorpusFile[]) {
    seeds = files.map((f) => ({ name: f.name, bytes: f.bytes, hot: hotOffsets(f.bytes) }));
    return seeds.map((_, seed) => ({
      seed, mutations: [], readOnly: false, together: false,
      ops: [{ op: 'write', offset: 1024, length: 4096, fill: 1 }, { op: 'read', offset: 0, length: 8192 }, { op: 'discard', offset: 0, length: 2048 }, { op: 'flush' }],
    }));
  },
  arbitrary: (s) => fc.record({
    seed: fc.nat(Math.max(0, s.length - 1)),
    mutations: fc.oneof({ weight: 1, arbitrary: fc.constant<Mutation[]>([]) }, { weight: 5, arbitrary: fc.array(mutationArb(), { minLength: 1, maxLength: 6 }) }),
    backing: fc.option(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...BACKING_NAMES) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }), { freq: 8, nil: undefined }),
    readOnly: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    together: fc.boolean(),
    ops: fc.array(opArb, { minLength: 1, maxLength: 10 }),
  }),
  expected: (e) => e instanceof DiskError,
  memoryBound: () => 96 * MiB,
  show: (c) => `${show({ ...c, image: seeds[c.seed % seeds.length]?.name })}`,
  async setup() {
    const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tshv-fuzz-qcow2-'));
    // The overlay in the corpus names this backing file.
    writeFileSync(join(dir, 'backing.raw'), Uint8Array.from({ length: 64 * 1024 }, (_, i) => (3 + i * 7 + (i >> 9)) & 0xff));
    // What a shortened backing name finds: "b" a FIFO, "ba" a directory, "bac" a symlink to a
    // character device.
    spawnSync('mkfifo', [join(dir, 'b')]);
    mkdirSync(join(dir, 'ba'));
    symlinkSync('/dev/zero', join(dir, 'bac'));
    return { dir };
  },
  async teardown(ctx) { rmSync(ctx.dir, { recursive: true, force: true }); },
  async run(c, ctx) {
    const path = join(ctx.dir, 'case.qcow2');
    const image = imageOf(c);
    writeFileSync(path, image);
    const intact = c.mutations.length === 0 && c.backing === undefined;
    let disk: BlockDevice;
    try {
      disk = await openDisk(path, { format: 'qcow2', readOnly: c.readOnly });
    } catch (e) {
      if (intact && !(e instanceof DiskError && e.code === 'locked')) throw new Error(`an intact corpus image does not open: ${String(e)}`);
      throw e;
    }
    note(`opened ${c.readOnly ? 'read-only' : 'writable'}${intact ? ' (intact)' : ''}`);
    // A model of the disk, for intact images: what was there, then each write.
    const model = intact ? new Uint8Array(disk.size) : undefined;
    const known = intact ? new Uint8Array(disk.size).fill(1) : undefined;
    if (model) await disk.read(0, model);
    let written = 0;
    try {
      const one = async (o: DiskOp): Promise<void> => {
        try {
          switch (o.op) {
            case 'read': {
              const buf = new Uint8Array(Math.max(0, Math.min(o.length, 1 << 20)));
              await disk.read(o.offset, buf);
              note('read');
              if (model && !c.together && known!.subarray(o.offset, o.offset + buf.length).every((k) => k === 1)) {
                const diff = buf.findIndex((x, i) => x !== model[o.offset + i]);
                check(diff < 0, `intact image: byte ${o.offset + diff} reads ${buf[diff]}, ${model[o.offset + diff]} was written`);
              }
              return;
            }
            case 'write': {
              const data = new Uint8Array(Math.max(0, Math.min(o.length, 1 << 20))).fill(o.fill);
              written += data.length;
              if (model && c.together) known!.fill(0, o.offset, o.offset + data.length);
              try {
                await disk.write(o.offset, data);
              } catch (e) {
                if (model) known!.fill(0, Math.max(0, o.offset), o.offset + data.length); // partly written, maybe
                throw e;
              }
              if (model && !c.together) model.set(data, o.offset);
              note('write');
              return;
            }
            case 'discard':
              await disk.discard(o.offset, o.length);
              if (model) known!.fill(0, Math.max(0, o.offset), o.offset + o.length); // whole clusters may read zero now
              note('discard');
              return;
            case 'flush': await disk.flush(); note('flush'); return;
          }
        } catch (e) {
          if (!(e instanceof DiskError)) throw e;
          note(`${o.op}: DiskError ${e.code}`);
        }
      };
      if (c.together) await Promise.all(c.ops.map(one));
      else for (const o of c.ops) await one(o);
    } finally {
      await disk.close().catch((e: unknown) => { if (!(e instanceof DiskError)) throw e; });
    }
    if (intact && !c.readOnly) {
      const problem = refcountProblem(new Uint8Array(readFileSync(path)));
      check(problem === undefined, `intact image, closed: ${problem}`);
      note('refcounts exact after close');
    }
    const grown = statSync(path).size - image.length;
    check(grown <= 4 * written + 16 * MiB, `the image grew by ${grown} bytes for ${written} bytes written`);

    // Opened again, it reads whole (and an intact one reads what was written).
    const again = await openDisk(path, { format: 'qcow2', readOnly: true });
    try {
      const all = new Uint8Array(Math.min(again.size, 4 * MiB));
      await again.read(0, all);
      if (model && !c.together) {
        const diff = all.findIndex((x, i) => known![i] === 1 && x !== model[i]);
        check(diff < 0, `intact image, reopened: byte ${diff} reads ${all[diff]}, ${model[diff]} was written`);
      }
      note('reopened and read');
    } finally {
      await again.close();
    }
  },
};

/**
 * What `qemu-img check` finds, for an image the driver closed: every cluster's refcount is
 * the number of references to it (header, L1 tables, refcount table and blocks, L2 tables,
 * snapshot table, data clusters, each once per L1 table that reaches it; a compressed
 * cluster counts once for each cluster its bytes touch). Returns the first difference, or undefined. Written from qcow2.txt, apart
 * from the driver, so the two do not share a mistake.
 */
export function refcountProblem(img: Uint8Array): string | undefined {
  const v = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const u64 = (at: number) => v.getBigUint64(at);
  const OFFSET = 0x00ff_ffff_ffff_fe00n;
  const bits = v.getUint32(20), cs = 2 ** bits, order = v.getUint32(4) === 3 ? v.getUint32(96) : 4;
  const refs = new Map<number, number>();
  const ref = (offset: number, bytes = cs) => {
    for (let c = Math.floor(offset / cs); c <= Math.floor((offset + bytes - 1) / cs); c++) refs.set(c, (refs.get(c) ?? 0) + 1);
  };
  ref(0);
  const walkL1 = (l1At: number, l1Size: number) => {
    if (l1Size) ref(l1At, 8 * l1Size);
    for (let i = 0; i < l1Size; i++) {
      const l2 = Number(u64(l1At + 8 * i) & OFFSET);
      if (!l2) continue;
      ref(l2); // a table shared with a snapshot counts once per L1 table, and so do its clusters
      for (let j = 0; j < cs / 8; j++) {
        const e = u64(l2 + 8 * j);
        if (e & (1n << 62n)) {
          const x = BigInt(62 - (bits - 8));
          const d = e & ((1n << 62n) - 1n);
          const host = Number(d & ((1n << x) - 1n)), sectors = Number(d >> x) + 1;
          ref(host, sectors * 512 - (host % 512));
        } else if (e & OFFSET) ref(Number(e & OFFSET));
      }
    }
  };
  walkL1(Number(u64(40)), v.getUint32(36));
  const rtAt = Number(u64(48)), rtClusters = v.getUint32(56);
  ref(rtAt, rtClusters * cs);
  const blocks: number[] = [];
  for (let i = 0; i < (rtClusters * cs) / 8; i++) {
    const b = Number(u64(rtAt + 8 * i) & OFFSET);
    blocks.push(b);
    if (b) ref(b);
  }
  const nbSnapshots = v.getUint32(60);
  let at = Number(u64(64));
  const start = at;
  for (let s = 0; s < nbSnapshots; s++) {
    walkL1(Number(u64(at)), v.getUint32(at + 8));
    at += Math.ceil((40 + v.getUint32(at + 36) + v.getUint16(at + 12) + v.getUint16(at + 14)) / 8) * 8;
  }
  if (nbSnapshots) ref(start, at - start);
  const perBlock = (cs * 8) / 2 ** order;
  const clusters = Math.ceil(img.length / cs);
  for (let c = 0; c < Math.max(clusters, ...refs.keys()) + 1; c++) {
    const b = blocks[Math.floor(c / perBlock)] ?? 0;
    const count = b ? refcountEntry(img.subarray(b, b + cs), order, c % perBlock) : 0;
    const want = refs.get(c) ?? 0;
    if (count !== want) return `cluster ${c} has refcount ${count} but ${want} references`;
  }
  return undefined;
}
