// Writes the seed corpus (test/fuzz/corpus/<target>/) from the project's own writers:
// qcow2 images made by createQcow2 and filled by the driver, DTBs from buildVirtDtb and
// FdtBuilder, ELFs and Linux Images built here, and JSON cases for the structured targets.
// The files are committed; run this again (node dist/test/fuzz/make-corpus.js) only to
// change them. Everything is deterministic.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { createQcow2 } from '../../src/parent/drivers/disk/qcow2-create.js';
import { openDisk } from '../../src/parent/drivers/disk/open.js';
import { buildVirtDtb } from '../../src/parent/machine/virt.js';
import { FdtBuilder } from '../../src/parent/machine/fdt.js';
import { FLAG_IGNORABLE, TAG } from '../../src/parent/state/format.js';
import { buildStream, patternRam, runPayload, splitFrames, u64le } from '../../src/parent/state/test-support.js';
import { writeStateStream } from '../../src/parent/state/writer.js';
import { SMALL_CONFIG, bitsOf, frames as mframes, migrationStream, pages, withEnd, writeMigration } from '../../src/parent/migration/test-support.js';
import { CORPUS_DIR } from './corpus.js';
import { buildElf } from './targets/elf.js';
import { show } from './harness.js';

const put = (target: string, name: string, bytes: Uint8Array | string) => {
  const dir = join(CORPUS_DIR, target);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), bytes);
};
const json = (target: string, name: string, value: unknown) => put(target, name, JSON.stringify(JSON.parse(show(value)), null, 1) + '\n');

const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (seed + i * 7 + (i >> 9)) & 0xff);

async function qcow2Images(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'tshv-corpus-'));
  try {
    writeFileSync(join(tmp, 'backing.raw'), pattern(64 * 1024, 3));
    const make = async (name: string, opts: Parameters<typeof createQcow2>[1], fill: (d: Awaited<ReturnType<typeof openDisk>>) => Promise<void>) => {
      const path = join(tmp, name);
      await createQcow2(path, opts);
      const d = await openDisk(path, { format: 'qcow2' });
      await fill(d);
      await d.close();
      return path;
    };
    // 512-byte clusters: every table is small, requests cross many clusters.
    const v3 = await make('v3-512.qcow2', { size: 64 * 1024, clusterBits: 9 }, async (d) => {
      await d.write(0, pattern(1536, 1));
      await d.write(40 * 1024, pattern(1024, 2));
      await d.write(8 * 1024, pattern(512, 4));
      await d.discard(8 * 1024, 512); // a zero cluster
    });
    await make('order0-4k.qcow2', { size: 256 * 1024, clusterBits: 12, refcountOrder: 0 }, async (d) => {
      await d.write(4096, pattern(8192, 5));
      await d.write(200 * 1024, pattern(4096, 6));
    });
    await make('order6-512.qcow2', { size: 32 * 1024, clusterBits: 9, refcountOrder: 6 }, async (d) => { await d.write(512, pattern(2048, 7)); });
    await make('overlay-512.qcow2', { backing: 'backing.raw', backingFormat: 'raw', clusterBits: 9 }, async (d) => { await d.write(1024, pattern(700, 8).subarray(0, 512)); });
    // Version 2: the same layout, no zero clusters, the v3 fields past byte 72 are extension space (all zero: the end marker).
    await make('v2-512.qcow2', { size: 32 * 1024, clusterBits: 9 }, async (d) => { await d.write(0, pattern(1024, 9)); });
    const v2 = readFileSync(join(tmp, 'v2-512.qcow2'));
    v2.writeUInt32BE(2, 4);
    v2.fill(0, 72, 112);
    writeFileSync(join(tmp, 'v2-512.qcow2'), v2);
    // A compressed cluster: guest cluster 1's own host cluster rewritten as deflate data.
    const compressed = join(tmp, 'compressed-512.qcow2');
    copyFileSync(v3, compressed);
    const img = readFileSync(compressed);
    const l1 = Number(img.readBigUInt64BE(40));
    const l2 = Number(img.readBigUInt64BE(l1) & 0x00ff_ffff_ffff_fe00n);
    const host = Number(img.readBigUInt64BE(l2 + 8) & 0x00ff_ffff_ffff_fe00n);
    const packed = deflateRawSync(pattern(512, 11));
    if (packed.length > 512) throw new Error('the compressed cluster does not fit');
    img.fill(0, host, host + 512);
    img.set(packed, host);
    // Descriptor (cluster_bits 9): x = 62 - 1 = 61 offset bits, then the count of extra sectors (0).
    img.writeBigUInt64BE(1n << 62n | BigInt(host), l2 + 8);
    writeFileSync(compressed, img);
    writeFileSync(join(tmp, 'snapshot-512.qcow2'), withSnapshot(readFileSync(v3)));
    for (const name of ['v3-512.qcow2', 'order0-4k.qcow2', 'order6-512.qcow2', 'overlay-512.qcow2', 'v2-512.qcow2', 'compressed-512.qcow2', 'snapshot-512.qcow2']) {
      const bytes = readFileSync(join(tmp, name));
      put('qcow2', name, bytes);
      put('qcow2-header', name, bytes);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * An internal snapshot of the image's current state (qcow2.txt "Snapshots"), added the way
 * QEMU's `qemu-img snapshot -c` leaves an image: a copy of the L1 table and a snapshot
 * table in two new clusters, every L2 table and data cluster now counted twice and their
 * COPIED flags cleared. For 512-byte clusters and 16-bit refcounts with one refcount block.
 */
function withSnapshot(img: Buffer): Buffer {
  const cs = 512;
  const OFFSET = 0x00ff_ffff_ffff_fe00n, COPIED = 1n << 63n, COMPRESSED = 1n << 62n;
  const l1At = Number(img.readBigUInt64BE(40)), l1Size = img.readUInt32BE(36);
  const block = Number(img.readBigUInt64BE(Number(img.readBigUInt64BE(48))) & OFFSET);
  const clusters = Math.ceil(img.length / cs);
  const out = Buffer.alloc((clusters + 2) * cs);
  img.copy(out);
  const count = (c: number, n: number) => out.writeUInt16BE(n, block + 2 * c);
  const more = (c: number) => count(c, out.readUInt16BE(block + 2 * c) + 1);
  for (let i = 0; i < l1Size; i++) {
    const e = out.readBigUInt64BE(l1At + 8 * i);
    const l2 = Number(e & OFFSET);
    if (!l2) continue;
    out.writeBigUInt64BE(e & ~COPIED, l1At + 8 * i);
    more(l2 / cs);
    for (let j = 0; j < cs / 8; j++) {
      const x = out.readBigUInt64BE(l2 + 8 * j);
      if (x & COMPRESSED) throw new Error('no compressed clusters here');
      const host = Number(x & OFFSET);
      if (!host) continue;
      out.writeBigUInt64BE(x & ~COPIED, l2 + 8 * j);
      more(host / cs);
    }
  }
  // The snapshot's L1 table: the active one as it is now (COPIED clear).
  const snapL1 = clusters * cs, table = (clusters + 1) * cs;
  out.copy(out, snapL1, l1At, l1At + 8 * l1Size);
  count(clusters, 1);
  count(clusters + 1, 1);
  const id = Buffer.from('1'), name = Buffer.from('fuzz');
  out.writeBigUInt64BE(BigInt(snapL1), table);
  out.writeUInt32BE(l1Size, table + 8);
  out.writeUInt16BE(id.length, table + 12);
  out.writeUInt16BE(name.length, table + 14);
  out.writeUInt32BE(16, table + 36); // extra data: vm_state_size_large, disk_size
  out.writeBigUInt64BE(img.readBigUInt64BE(24), table + 48);
  id.copy(out, table + 56);
  name.copy(out, table + 56 + id.length);
  out.writeUInt32BE(1, 60);
  out.writeBigUInt64BE(BigInt(table), 64);
  return out;
}

function dtbs(): void {
  const initrd = { start: 0x8800_0000n, end: 0x8810_0000n };
  put('fdt', 'virt-2cpu.dtb', buildVirtDtb({ cpus: 2, ramBytes: 256n << 20n, bootargs: 'console=ttyS0', initrd, virtioSlots: [0, 1, 2], rngSeed: pattern(32, 1) }));
  put('fdt', 'virt-1cpu.dtb', buildVirtDtb({ cpus: 1, ramBytes: 64n << 20n, bootargs: '', rngSeed: null }));
  const b = new FdtBuilder(1);
  b.reserve(0x8000_0000n, 0x20_0000n).reserve(0x9000_0000n, 0x1000n);
  b.beginNode('').u32('#address-cells', 2).beginNode('a@1').string('s', 'x').empty('e').endNode().endNode();
  const small = b.finish();
  put('fdt', 'reservations.dtb', small);
  const v16 = small.slice();
  new DataView(v16.buffer).setUint32(20, 16); // version 16: no size_dt_struct
  put('fdt', 'version16.dtb', v16);
}

function elfs(): void {
  put('elf', 'minimal.elf', buildElf({
    type: 2, machine: 243, entry: 0x8000_0000n, phentsize: 56, shentsize: 64,
    segments: [{ type: 1, paddr: 0x8000_0000n, filesz: 64, memsz: 128n, fill: 0x13 }],
    symbols: [{ name: 'tohost', value: 0x8000_1000n }, { name: 'fromhost', value: 0x8000_1008n }], symtabs: 1, runaway: 0, runawaySymbols: 0,
  }));
  put('elf', 'two-segments.elf', buildElf({
    type: 3, machine: 243, entry: 0x8000_0100n, phentsize: 56, shentsize: 64,
    segments: [{ type: 1, paddr: 0x8000_0000n, filesz: 256, memsz: 256n, fill: 0x6f }, { type: 1, paddr: 0x8000_2000n, filesz: 16, memsz: 4096n, fill: 1 }],
    symbols: [], symtabs: 0, runaway: 0, runawaySymbols: 0,
  }));
  // A real program the ISA tests build (riscv64-unknown-elf-gcc).
  put('elf', 'mmio.elf', readFileSync(join(CORPUS_DIR, '..', '..', 'isa', 'bin', 'mmio.elf')));
}

function images(): void {
  const image = (textOffset: bigint, imageSize: bigint, length: number, magic2 = true) => {
    const b = new Uint8Array(length);
    const v = new DataView(b.buffer);
    v.setUint32(0, 0x0000_0013, true); // nop
    v.setBigUint64(0x08, textOffset, true);
    v.setBigUint64(0x10, imageSize, true);
    v.setUint32(0x20, 2, true);
    v.setBigUint64(0x30, 0x5643534952n, true);
    if (magic2) v.setUint32(0x38, 0x05435352, true);
    for (let i = 64; i < length; i++) b[i] = i & 0xff;
    return b;
  };
  const small = image(0n, 16384n, 4096);
  put('kernel-image', 'Image', small);
  put('kernel-image', 'Image.gz', gzipSync(small, { level: 9 }));
  put('kernel-image', 'Image-4MiB-offset', image(4n << 20n, 8192n, 512));
  put('kernel-image', 'Image-old-magic', image(0n, 0n, 1024, false));
}

/** Small state streams: RAM of a few pages, so a mutation lands on a frame field often. */
async function stateStreams(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'tshv-corpus-'));
  try {
    const write = async (name: string, config: unknown, state: unknown, ram: Uint8Array) => {
      await writeStateStream(join(tmp, name), { config, state, ram });
      const bytes = readFileSync(join(tmp, name));
      put('state-stream', name, bytes);
      return new Uint8Array(bytes);
    };
    const config = { cpus: 2, memoryBytes: 65536, console: 'virtio', disks: [{ path: 'root.qcow2', readOnly: true }], append: 'quiet' };
    const two = await write('two-runs.tshvstate', config, { version: 1, vps: [{ pc: '2147483648' }] }, patternRam(65536, (p) => (p <= 1 || p === 15 ? p + 1 : 0)));
    await write('zero-ram.tshvstate', { cpus: 1 }, {}, new Uint8Array(16384));
    await write('one-page.tshvstate', null, [1, 'two', { three: 3 }], patternRam(4096, () => 7));
    // Ignorable frames of an unknown tag between every other frame (END's count includes them).
    const [conf, stat, r1, r2] = splitFrames(two);
    const note = (n: number) => ({ tag: 0x45544f4e, flags: FLAG_IGNORABLE, payload: pattern(n, n) }); // "NOTE"
    put('state-stream', 'ignorable-frames.tshvstate', buildStream([note(3), conf!, note(0), stat!, r1!, note(40), r2!, { tag: TAG.END, payload: u64le(3, 7) }]));
    put('state-stream', 'run-at-end.tshvstate', buildStream([conf!, stat!, { tag: TAG.RAM, payload: runPayload(14, 2, pattern(8192, 5)) }, { tag: TAG.END, payload: u64le(2, 3) }]));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Migration streams of the smallest machine (16 MiB): written as the source writes them
 * (FrameWriter, markedRuns per pass, SYNC between passes, RAMZ on a slow link), with few
 * pages so a mutation lands on a frame field often; one run of the largest size; and a
 * minimal one built frame by frame.
 */
async function migrationStreams(): Promise<void> {
  const PAGES = SMALL_CONFIG.memoryBytes / 4096;
  const identity = { name: 'web-1', id: '0b7c54c6-3f5e-4c39-9a53-2f4d1a0e9b11', createdAt: '2026-01-01T00:00:00.000Z', vcpus: 1, memoryMiB: 16 };
  const state = { version: 1, partition: { vps: [{ pc: '2147483648' }] }, plic: {}, uart: {}, rtc: {}, synthetic: {} };
  const at = 1_767_225_600_000.25;
  const ram0 = new Uint8Array(SMALL_CONFIG.memoryBytes);
  ram0.set(pages(2, 1), 0);
  ram0.set(pages(1, 2), 15 * 4096);
  ram0.set(pages(1, 3), (PAGES - 1) * 4096);
  const pass0 = { ram: ram0, bits: bitsOf(PAGES, [0, 1, 6, 15, PAGES - 1]) }; // page 6: written, still zero
  const write = async (name: string, passes: Parameters<typeof writeMigration>[0]['passes']) =>
    put('migration-stream', name, await writeMigration({ identity, config: SMALL_CONFIG, passes, state, pausedAt: at }));
  await write('one-pass.tshvmigr', [pass0]);
  // Pass 1 writes page 1 again and zeroes page 15 (a ZERO frame); pass 2 zeroes 0..1 and writes 15 again.
  const ram1 = ram0.slice();
  ram1.set(pages(1, 4), 4096);
  ram1.fill(0, 15 * 4096, 16 * 4096);
  const ram2 = ram1.slice();
  ram2.fill(0, 0, 2 * 4096);
  ram2.set(pages(1, 5), 15 * 4096);
  const three = [pass0, { ram: ram1, bits: bitsOf(PAGES, [1, 15]) }, { ram: ram2, bits: bitsOf(PAGES, [0, 1, 15]) }];
  await write('three-passes.tshvmigr', three);
  // The same on a slow link: runs deflated (RAMZ).
  put('migration-stream', 'slow-link.tshvmigr', await writeMigration({ identity, config: SMALL_CONFIG, passes: three, state, pausedAt: at, slow: true }));
  // The largest run (1024 pages) and one page after it in a run of its own.
  const big = new Uint8Array(SMALL_CONFIG.memoryBytes);
  big.set(pages(1025, 6), 8 * 4096);
  await write('max-run.tshvmigr', [{ ram: big, bits: bitsOf(PAGES, Array.from({ length: 1025 }, (_, i) => 8 + i)) }]);
  // Nothing but the frames every stream has, and a pass without pages.
  put('migration-stream', 'minimal.tshvmigr', migrationStream(withEnd([mframes.helo(null), mframes.conf(SMALL_CONFIG), mframes.dsks(), mframes.pass(0, 0), mframes.stat(0, {})])));
  // Shared-nothing: two disks, data and zeros in the first, the second read-only.
  const withDisks = { ...SMALL_CONFIG, disks: [{ path: '/a.qcow2', readOnly: false }, { path: '/b.img', readOnly: true }] };
  put('migration-stream', 'with-disks.tshvmigr', migrationStream(withEnd([
    mframes.helo(identity), mframes.conf(withDisks),
    mframes.dsks([{ size: 256 << 10, format: 'qcow2', readOnly: false }, { size: 8192, format: 'raw', readOnly: true }]),
    mframes.disk(0, 0, pages(2, 9)), mframes.disk(1, 0, pages(2, 10)), mframes.pass(0, 1), mframes.ram(3, pages(1, 11)),
    mframes.disk(0, 4096, 512), mframes.disk(0, (256 << 10) - 4096, pages(1, 12)), mframes.stat(at, state),
  ])));
}

function structured(): void {
  json('virtqueue', 'driver-chains.json', {
    kind: 'driver', size: 8, features: { indirect: true, eventIdx: true },
    chains: [
      { segs: [{ at: 0, len: 16, write: false }, { at: 0, len: 512, write: true }, { at: 0, len: 1, write: true }], indirect: false },
      { segs: [{ at: 0, len: 16, write: false }, { at: 0, len: 1024, write: false }, { at: 0, len: 1, write: true }], indirect: true },
    ],
    ops: [{ op: 'pop' }, { op: 'push', head: 0, written: 513 }, { op: 'interrupt' }, { op: 'arm' }, { op: 'pop' }],
  });
  const desc = (ram: number, len: number, flags: number, next: number) => ({ addr: { ram }, len, flags, next });
  json('virtqueue', 'hostile-loop.json', {
    kind: 'hostile', size: 4, desc: { ram: 0 }, driver: { ram: 64 }, device: { ram: 80 }, features: { indirect: true, eventIdx: false },
    descs: [{ index: 0, d: desc(4096, 64, 1, 1) }, { index: 1, d: desc(4160, 64, 1, 0) }],
    tables: [], avail: { ring: [0], idx: 1 }, ops: [{ op: 'pop' }],
  });
  json('virtqueue', 'hostile-indirect.json', {
    kind: 'hostile', size: 4, desc: { ram: 0 }, driver: { ram: 64 }, device: { ram: 80 }, features: { indirect: true, eventIdx: true },
    descs: [{ index: 2, d: { ...desc(0, 0, 4, 0), table: 0 } }],
    tables: [{ at: 8192, entries: [desc(12288, 16, 1, 1), desc(12304, 4096, 3, 2), desc(16400, 1, 2, 0)] }],
    avail: { ring: [2], idx: 1 }, ops: [{ op: 'pop' }, { op: 'push', head: 2, written: 4097 }, { op: 'interrupt' }],
  });
  const F_VERSION_1 = 1n << 32n, F_INDIRECT = 1n << 28n, F_EVENT_IDX = 1n << 29n;
  json('virtio-mmio', 'rng-bring-up.json', {
    device: 'rng', ops: [
      { op: 'start', features: F_VERSION_1 | F_INDIRECT, sizes: [8, null] },
      { op: 'chain', q: 0, segs: [{ len: 64, write: true }] }, { op: 'kick', q: 0 }, { op: 'ack' },
      { op: 'read', offset: 0x70, width: 4 }, { op: 'status', value: 0 },
    ],
  });
  json('virtio-mmio', 'console-by-hand.json', {
    device: 'console', ops: [
      { op: 'status', value: 0 }, { op: 'status', value: 1 }, { op: 'status', value: 3 }, { op: 'features', bits: F_VERSION_1 | F_EVENT_IDX },
      { op: 'status', value: 11 }, { op: 'goodQueue', q: 0, size: 4 }, { op: 'goodQueue', q: 1, size: 4 }, { op: 'status', value: 15 },
      { op: 'input', bytes: 'hello' }, { op: 'chain', q: 0, segs: [{ len: 16, write: true }] }, { op: 'kick', q: 0 },
      { op: 'chain', q: 1, segs: [{ len: 8, write: false }] }, { op: 'kick', q: 1 }, { op: 'read', offset: 0x100, width: 2 },
    ].map((o) => ('bytes' in o ? { ...o, bytes: new TextEncoder().encode(o.bytes as string) } : o)),
  });
  const chain = (q: number, readable: number[], writable: number[]) => ({ op: 'chain', q, readable, writable, indirect: false, publish: true });
  json('virtio-rng', 'two-chains.json', { features: F_VERSION_1 | F_EVENT_IDX, sizes: [16], hostile: false, ops: [chain(0, [], [64]), chain(0, [], [70000, 8]), { op: 'kick', q: 0 }] });
  json('virtio-console', 'echo.json', {
    features: F_VERSION_1, sizes: [4, 4], hostile: false,
    ops: [chain(0, [], [32]), { op: 'kick', q: 0 }, { op: 'input', bytes: Uint8Array.from([104, 105]) }, chain(1, [5, 3], []), { op: 'kick', q: 1 }],
  });
  const req = (type: number, sector: bigint, dataLen: number, extra: object = {}) => ({
    type, sector, dataLen, fill: 7, segments: [{ sector: 0n, sectors: 1, flags: 0 }], headerLen: 16, statusLen: 1, readCuts: [], writeCuts: [], indirect: false, ...extra,
  });
  for (const [disk, name] of [[0, 'raw'], [1, 'read-only'], [2, 'qcow2'], [3, 'overlay']] as const) {
    json('virtio-blk', `${name}.json`, {
      disk, eventIdx: disk % 2 === 0, together: false, reset: false,
      requests: [req(1, 3n, 1024, { readCuts: [500] }), req(0, 2n, 2048, { writeCuts: [250, 999], indirect: true }), req(4, 0n, 0), req(8, 0n, 20),
        req(13, 0n, 0, { segments: [{ sector: 4n, sectors: 2, flags: 1 }] }), req(11, 0n, 0, { segments: [{ sector: 6n, sectors: 1, flags: 0 }] })],
    });
  }
  json('virtio-blk', 'probed-raw.json', {
    disk: 4, eventIdx: false, together: false, reset: false,
    requests: [req(1, 0n, 512, { fill: 0x51 }), req(1, 0n, 512, { fill: 0x52 }), req(0, 0n, 1024)],
  });
  json('api', 'lifecycle.json', [
    { method: 'POST', path: '/api/vms', auth: 'good', contentType: 'application/json', body: { json: { name: 'vm-a', vcpus: 2, memoryMiB: 128, console: 'virtio' } } },
    { method: 'GET', path: '/api/vms/vm-a', auth: 'good', contentType: null, body: null },
    { method: 'PATCH', path: '/api/vms/vm-a', auth: 'good', contentType: 'application/json', body: { json: { append: 'quiet', disks: [{ path: '$DISK', readOnly: true }] } } },
    { method: 'POST', path: '/api/vms/vm-a/pause', auth: 'good', contentType: null, body: null },
    { method: 'GET', path: '/api/vms/vm-a/events?limit=5', auth: 'good', contentType: null, body: null },
    { method: 'DELETE', path: '/api/vms/vm-a', auth: 'good', contentType: null, body: null },
  ]);
  json('api', 'junk.json', [
    { method: 'POST', path: '/api/vms', auth: 'good', contentType: 'application/json', body: { raw: '{"name": "x", ' } },
    { method: 'POST', path: '/api/vms', auth: 'good', contentType: 'application/json', body: { json: { name: 'vm-b', kernel: '$TEXT' } } },
    { method: 'GET', path: '/assets/../../package.json', auth: 'none', contentType: null, body: null },
  ]);
}

await qcow2Images();
dtbs();
elfs();
images();
await stateStreams();
await migrationStreams();
structured();
console.log(`corpus written to ${CORPUS_DIR}`);
