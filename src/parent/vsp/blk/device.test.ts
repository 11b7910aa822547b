import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDisk } from '../../drivers/disk/open.js';
import { tempDir } from '../../drivers/disk/test-support.js';
import { readable, writable, TestRam, type Segment } from '../../../vmbus/test-driver.js';
import { DiskError, type BlockDevice } from '../../drivers/disk/block-device.js';
import { VirtioBlk, S_IOERR, S_OK, S_UNSUPP, T_DISCARD, T_FLUSH, T_GET_ID, T_IN, T_OUT, T_WRITE_ZEROES } from './device.js';
import { F_INDIRECT_DESC, F_VERSION_1, INT_USED_BUFFER, REG } from '../virtio-mmio.js';
import { MmioBench, SLOT_BASE, until } from '../test-support.js';
import { StateError } from '../../../state/contract.js';

const dir = tempDir();
const SECTORS = 128;
const F_RO = 1n << 5n, F_SIZE_MAX = 1n << 1n, F_SEG_MAX = 1n << 2n, F_BLK_SIZE = 1n << 6n;
const F_FLUSH = 1n << 9n, F_DISCARD = 1n << 13n, F_WRITE_ZEROES = 1n << 14n;
const UNMAP = 1;

/** The byte at `i` of a fresh image: never zero, so zeroed ranges show. */
const pattern = (i: number) => ((i * 7) % 251) + 1;

let images = 0;
/** A raw image of SECTORS sectors behind virtio-blk on a started transport. */
async function setup(opts: { readOnly?: boolean; features?: bigint } = {}) {
  const path = join(dir, `disk${images++}.img`);
  writeFileSync(path, Uint8Array.from({ length: SECTORS * 512 }, (_, i) => pattern(i)));
  const disk = await openDisk(path, { format: 'raw', readOnly: opts.readOnly });
  const faults: unknown[] = [];
  const ioErrors: string[] = [];
  const blk = new VirtioBlk('virtio-blk vda', disk, { serial: 'tshv-vda', ioError: (m) => ioErrors.push(m) }, (e) => faults.push(e));
  const b = new MmioBench(blk);
  const [d] = b.start([32], F_VERSION_1 | (opts.features ?? 0n));
  return { path, disk, blk, b, d: d!, faults, ioErrors, file: () => new Uint8Array(readFileSync(path)) };
}

function header(type: number, sector: bigint | number = 0): number[] {
  const h = new DataView(new ArrayBuffer(16));
  h.setUint32(0, type, true);
  h.setBigUint64(8, BigInt(sector), true);
  return [...new Uint8Array(h.buffer)];
}

function segment(sector: number, sectors: number, flags = 0): number[] {
  const v = new DataView(new ArrayBuffer(16));
  v.setBigUint64(0, BigInt(sector), true);
  v.setUint32(8, sectors, true);
  v.setUint32(12, flags, true);
  return [...new Uint8Array(v.buffer)];
}

type Setup = Awaited<ReturnType<typeof setup>>;

/**
 * Submits a request (header, `out` data, `inLen` bytes of room, a status byte), kicks,
 * and waits for it to be used. Returns its used length, status and the data read.
 */
async function request(s: Setup, type: number, sector: bigint | number, opts: { out?: ArrayLike<number>; inLen?: number; indirect?: boolean } = {}) {
  const segs: Segment[] = [readable(s.b.ram, header(type, sector))];
  if (opts.out?.length) segs.push(readable(s.b.ram, opts.out));
  const data = opts.inLen ? writable(s.b.ram, opts.inLen) : undefined;
  if (data) segs.push(data);
  const status = writable(s.b.ram, 1);
  s.b.ram.write(status.gpa as number, [0xff]);
  segs.push(status);
  const r = await submit(s, segs, opts.indirect, () => ({
    status: s.b.ram.u8(status.gpa as number),
    data: data ? s.b.ram.bytes(data.gpa as number, data.len).slice() : new Uint8Array(0),
  }));
  return { ...r.value, len: r.len };
}

async function submit<T>(s: Setup, segs: Segment[], indirect: boolean | undefined, result: () => T): Promise<{ value: T; len: number }> {
  const used = s.d.usedIdx();
  const head = s.d.add(segs, { indirect });
  s.b.kick(0);
  await until(() => s.d.usedIdx() !== used, 2000, 'the request to complete');
  const [e] = s.d.collect();
  assert.equal(e.id, head);
  return { value: result(), len: e.len };
}

test('config space: capacity, size_max, seg_max, blk_size and the feature bits', async () => {
  const s = await setup();
  const cfg = (off: number, width: 1 | 2 | 4 | 8) => s.b.mmio.read(REG.config + off, width);
  assert.equal(cfg(0x00, 8), BigInt(SECTORS));
  assert.equal(cfg(0x00, 4), BigInt(SECTORS)); // 64-bit fields read as two 32-bit halves
  assert.equal(cfg(0x04, 4), 0n);
  assert.equal(cfg(0x08, 4), 1n << 20n);
  assert.equal(cfg(0x0c, 4), 254n);
  assert.equal(cfg(0x14, 4), 512n);
  assert.equal(cfg(0x28, 4), 1n); // max_discard_seg
  assert.equal(cfg(0x34, 4), 1n); // max_write_zeroes_seg
  assert.equal(cfg(0x38, 1), 0n); // write_zeroes_may_unmap: zeroes are written, never unmapped
  const f = s.b.deviceFeatures();
  for (const bit of [F_SIZE_MAX, F_SEG_MAX, F_BLK_SIZE, F_FLUSH, F_DISCARD, F_WRITE_ZEROES, F_VERSION_1]) assert.ok(f & bit, `feature ${bit}`);
  assert.equal(f & F_RO, 0n);
  await s.disk.close();
  const ro = await setup({ readOnly: true });
  assert.ok(ro.b.deviceFeatures() & F_RO);
  await ro.disk.close();
});

test('read: the sectors land in the writable buffer; used len = data + status; an interrupt', async () => {
  const s = await setup();
  const r = await request(s, T_IN, 2, { inLen: 1024 });
  assert.equal(r.status, S_OK);
  assert.equal(r.len, 1025);
  assert.deepEqual(r.data, s.file().subarray(1024, 2048));
  assert.equal(s.b.read(REG.interruptStatus) & INT_USED_BUFFER, INT_USED_BUFFER);
  assert.ok(s.b.line);
  assert.equal(s.blk.counters.reads, 1);
  assert.equal(s.blk.inFlight, 0);
  await s.disk.close();
});

test('write: the data lands in the image at sector * 512; used len = 1 (the status)', async () => {
  const s = await setup();
  const data = Uint8Array.from({ length: 1536 }, (_, i) => (i * 13) & 0xff);
  const before = s.file();
  const r = await request(s, T_OUT, 5, { out: data });
  assert.equal(r.status, S_OK);
  assert.equal(r.len, 1);
  const after = s.file();
  assert.deepEqual(after.subarray(5 * 512, 8 * 512), data);
  assert.deepEqual(after.subarray(0, 5 * 512), before.subarray(0, 5 * 512));
  assert.deepEqual(after.subarray(8 * 512), before.subarray(8 * 512));
  // And it reads back through the device.
  const back = await request(s, T_IN, 5, { inLen: 1536 });
  assert.deepEqual(back.data, data);
  await s.disk.close();
});

test('flush completes with OK', async () => {
  const s = await setup();
  const r = await request(s, T_FLUSH, 0);
  assert.equal(r.status, S_OK);
  assert.equal(r.len, 1);
  assert.equal(s.blk.counters.flushes, 1);
  await s.disk.close();
});

test('get-id: 20 bytes of serial, NUL-padded', async () => {
  const s = await setup();
  const r = await request(s, T_GET_ID, 0, { inLen: 20 });
  assert.equal(r.status, S_OK);
  assert.equal(r.len, 21);
  const id = new Uint8Array(20);
  id.set(new TextEncoder().encode('tshv-vda'));
  assert.deepEqual(r.data, id);
  await s.disk.close();
});

test('write zeroes: the range reads as zero in the image; neighbours untouched', async () => {
  const s = await setup();
  const before = s.file();
  const r = await request(s, T_WRITE_ZEROES, 0, { out: segment(10, 3) });
  assert.equal(r.status, S_OK);
  const after = s.file();
  assert.ok(after.subarray(10 * 512, 13 * 512).every((b) => b === 0));
  assert.deepEqual(after.subarray(9 * 512, 10 * 512), before.subarray(9 * 512, 10 * 512));
  assert.deepEqual(after.subarray(13 * 512, 14 * 512), before.subarray(13 * 512, 14 * 512));
  // With unmap, still zeroes (§5.2.6.2).
  assert.equal((await request(s, T_WRITE_ZEROES, 0, { out: segment(20, 1, UNMAP) })).status, S_OK);
  assert.ok(s.file().subarray(20 * 512, 21 * 512).every((b) => b === 0));
  await s.disk.close();
});

test('discard completes with OK', async () => {
  const s = await setup();
  const r = await request(s, T_DISCARD, 0, { out: segment(4, 8) });
  assert.equal(r.status, S_OK);
  assert.equal(r.len, 1);
  assert.equal(s.blk.counters.discards, 1);
  await s.disk.close();
});

test('discard with unmap, or any unknown segment flag, is UNSUPP and changes nothing (§5.2.6.2)', async () => {
  const s = await setup();
  const before = s.file();
  assert.equal((await request(s, T_DISCARD, 0, { out: segment(4, 8, UNMAP) })).status, S_UNSUPP);
  assert.equal((await request(s, T_DISCARD, 0, { out: segment(4, 8, 2) })).status, S_UNSUPP);
  assert.equal((await request(s, T_WRITE_ZEROES, 0, { out: segment(4, 8, 2) })).status, S_UNSUPP);
  assert.equal((await request(s, T_WRITE_ZEROES, 0, { out: segment(4, 8, 0x8000_0001) })).status, S_UNSUPP);
  assert.deepEqual(s.file(), before);
  await s.disk.close();
});

test('malformed discard segments (not a multiple of 16 bytes) are IOERR', async () => {
  const s = await setup();
  assert.equal((await request(s, T_DISCARD, 0, { out: segment(4, 8).slice(0, 12) })).status, S_IOERR);
  await s.disk.close();
});

test('a read-only disk answers writes, write zeroes and discards with IOERR and writes nothing', async () => {
  const s = await setup({ readOnly: true });
  const before = s.file();
  assert.equal((await request(s, T_OUT, 0, { out: new Uint8Array(512) })).status, S_IOERR);
  assert.equal((await request(s, T_WRITE_ZEROES, 0, { out: segment(0, 1) })).status, S_IOERR);
  assert.equal((await request(s, T_DISCARD, 0, { out: segment(0, 1) })).status, S_IOERR);
  assert.deepEqual(s.file(), before);
  const r = await request(s, T_IN, 0, { inLen: 512 });
  assert.equal(r.status, S_OK);
  assert.deepEqual(r.data, before.subarray(0, 512));
  assert.equal(s.blk.counters.errors, 3);
  await s.disk.close();
});

test('sectors past the end are IOERR: reads, writes, write zeroes, huge sector numbers', async () => {
  const s = await setup();
  const before = s.file();
  const last = SECTORS - 1;
  assert.equal((await request(s, T_IN, last, { inLen: 512 })).status, S_OK);
  assert.equal((await request(s, T_IN, last, { inLen: 1024 })).status, S_IOERR);
  assert.equal((await request(s, T_IN, SECTORS, { inLen: 512 })).status, S_IOERR);
  assert.equal((await request(s, T_IN, (1n << 64n) - 1n, { inLen: 512 })).status, S_IOERR);
  assert.equal((await request(s, T_IN, 1n << 55n, { inLen: 512 })).status, S_IOERR);
  assert.equal((await request(s, T_OUT, last, { out: new Uint8Array(1024) })).status, S_IOERR);
  assert.equal((await request(s, T_OUT, (1n << 63n), { out: new Uint8Array(512) })).status, S_IOERR);
  assert.equal((await request(s, T_WRITE_ZEROES, 0, { out: segment(last, 2) })).status, S_IOERR);
  assert.equal((await request(s, T_WRITE_ZEROES, 0, { out: segment(1, 0xffff_ffff) })).status, S_IOERR);
  assert.deepEqual(s.file(), before);
  await s.disk.close();
});

test('a data length that is not whole sectors is IOERR', async () => {
  const s = await setup();
  const before = s.file();
  assert.equal((await request(s, T_IN, 0, { inLen: 100 })).status, S_IOERR);
  assert.equal((await request(s, T_OUT, 0, { out: new Uint8Array(513) })).status, S_IOERR);
  assert.deepEqual(s.file(), before);
  await s.disk.close();
});

test('unknown request types are UNSUPP with used len 1', async () => {
  const s = await setup();
  for (const type of [2, 10, 14, 99, 0xffff_ffff]) {
    const r = await request(s, type, 0, { inLen: 512 });
    assert.equal(r.status, S_UNSUPP, `type ${type}`);
    assert.equal(r.len, 1);
  }
  await s.disk.close();
});

test('any layout: a header split across three buffers, data and status sharing one', async () => {
  const s = await setup();
  const h = header(T_IN, 3);
  const segs: Segment[] = [readable(s.b.ram, h.slice(0, 5)), readable(s.b.ram, h.slice(5, 12)), readable(s.b.ram, h.slice(12))];
  const out = writable(s.b.ram, 513);
  segs.push(out);
  const r = await submit(s, segs, false, () => s.b.ram.bytes(out.gpa as number, 513).slice());
  assert.equal(r.len, 513);
  assert.deepEqual(r.value.subarray(0, 512), s.file().subarray(3 * 512, 4 * 512));
  assert.equal(r.value[512], S_OK);
  await s.disk.close();
});

test('any layout: a write whose data follows the header in the same buffer, the data split unevenly', async () => {
  const s = await setup();
  const data = Uint8Array.from({ length: 1024 }, (_, i) => 255 - (i & 0xff));
  const segs: Segment[] = [readable(s.b.ram, [...header(T_OUT, 7), ...data.subarray(0, 100)]), readable(s.b.ram, data.subarray(100)), writable(s.b.ram, 1)];
  const r = await submit(s, segs, false, () => s.b.ram.u8(segs[2].gpa as number));
  assert.deepEqual(r, { value: S_OK, len: 1 });
  assert.deepEqual(s.file().subarray(7 * 512, 9 * 512), data);
  await s.disk.close();
});

test('a read scattered over several writable buffers (and through an indirect table)', async () => {
  const s = await setup({ features: F_INDIRECT_DESC });
  const parts = [writable(s.b.ram, 100), writable(s.b.ram, 412), writable(s.b.ram, 512)];
  const status = writable(s.b.ram, 1);
  const segs = [readable(s.b.ram, header(T_IN, 9)), ...parts, status];
  const r = await submit(s, segs, true, () => parts.map((p) => s.b.ram.bytes(p.gpa as number, p.len).slice()));
  assert.equal(r.len, 1025);
  const got = new Uint8Array(1024);
  let at = 0;
  for (const p of r.value) { got.set(p, at); at += p.length; }
  assert.deepEqual(got, s.file().subarray(9 * 512, 11 * 512));
  assert.equal(s.b.ram.u8(status.gpa as number), S_OK);
  await s.disk.close();
});

test('a request with no room for a status, or a short header, is returned with len 0', async () => {
  const s = await setup();
  const r1 = await submit(s, [readable(s.b.ram, header(T_IN, 0))], false, () => 0);
  assert.equal(r1.len, 0);
  const st = writable(s.b.ram, 1);
  s.b.ram.write(st.gpa as number, [0xee]);
  const r2 = await submit(s, [readable(s.b.ram, header(T_IN, 0).slice(0, 15)), st], false, () => s.b.ram.u8(st.gpa as number));
  assert.equal(r2.len, 0);
  assert.equal(s.b.ram.u8(st.gpa as number), 0xee, 'nothing written');
  await s.disk.close();
});

test('many requests at once all complete, each interrupt acknowledged', async () => {
  const s = await setup();
  const statuses: Segment[] = [];
  const datas: Segment[] = [];
  for (let i = 0; i < 8; i++) {
    const data = writable(s.b.ram, 512), st = writable(s.b.ram, 1);
    datas.push(data); statuses.push(st);
    s.d.add([readable(s.b.ram, header(T_IN, i)), data, st], { publish: false });
  }
  s.d.publish();
  s.b.kick(0);
  assert.equal(s.blk.inFlight, 8);
  await until(() => s.d.usedIdx() === 8, 2000, 'eight requests');
  assert.equal(s.d.collect().length, 8);
  const file = s.file();
  datas.forEach((d, i) => assert.deepEqual(s.b.ram.bytes(d.gpa as number, 512), file.subarray(i * 512, (i + 1) * 512)));
  assert.ok(statuses.every((st) => s.b.ram.u8(st.gpa as number) === S_OK));
  assert.ok(s.b.line);
  assert.equal(s.b.ack(), INT_USED_BUFFER);
  assert.equal(s.b.line, false);
  await s.disk.close();
});

test('a reset waits for the request in flight, which then does not touch the used ring', async () => {
  const s = await setup();
  s.d.add([readable(s.b.ram, header(T_IN, 0)), writable(s.b.ram, 512), writable(s.b.ram, 1)]);
  s.b.kick(0);
  assert.equal(s.blk.inFlight, 1);
  s.b.write(REG.status, 0);
  // The reset is a synchronous store (§2.4): it completes once nothing is in flight, and
  // the VSP says when that is.
  assert.deepEqual(s.b.mmio.syncStores, [REG.status]);
  assert.equal(s.b.mmio.settling(), true, 'the reset waits for the request in flight');
  let idle = 0;
  s.b.mmio.onIdle = () => idle++; // the VM worker's doorbell, rung through the transport
  await until(() => s.blk.inFlight === 0, 2000, 'the request to finish');
  assert.equal(s.b.mmio.settling(), false);
  assert.equal(idle, 1, 'onIdle told the VM worker');
  assert.equal(s.d.usedIdx(), 0);
  assert.equal(s.b.read(REG.interruptStatus), 0);
  assert.deepEqual(s.faults, []);
  await s.disk.close();
});

test('an image the driver cannot read (corrupt) is IOERR for the guest and an ioError for the host, naming the request', async () => {
  const s = await setup();
  s.disk.read = async () => { throw new DiskError(`${s.path}: compressed cluster at 20480 does not inflate`, 'corrupt'); };
  s.disk.flush = async () => { throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }); };
  assert.equal((await request(s, T_IN, 8, { inLen: 512 })).status, S_IOERR);
  assert.equal((await request(s, T_FLUSH, 0)).status, S_IOERR);
  assert.deepEqual(s.ioErrors, [
    `read at sector 8: ${s.path}: compressed cluster at 20480 does not inflate`,
    'flush at sector 0: EIO: i/o error, fdatasync',
  ]);
  // The guest's own mistakes (past the end, a write to a read-only disk) are not the host's business.
  assert.equal((await request(s, T_IN, SECTORS, { inLen: 512 })).status, S_IOERR);
  assert.equal(s.ioErrors.length, 2);
  assert.equal(s.blk.counters.errors, 3);
  assert.deepEqual(s.faults, []);
});

test('a back-end fault (not an I/O error) is reported, not turned into a status', async () => {
  const s = await setup();
  s.blk.injectFault();
  s.d.add([readable(s.b.ram, header(T_IN, 0)), writable(s.b.ram, 512), writable(s.b.ram, 1)]);
  s.b.kick(0);
  await until(() => s.faults.length === 1, 2000, 'the fault');
  assert.match(String(s.faults[0]), /injected/);
  assert.equal(s.d.usedIdx(), 0);
  await s.disk.close();
});

test('a broken ring (a loop) marks the device needs-reset instead of throwing', async () => {
  const s = await setup();
  s.d.desc(0, s.b.ram.alloc(16), 16, 1, 0);
  s.d.offer(0);
  s.b.kick(0);
  assert.ok(s.b.status() & 64);
  assert.match(s.b.mmio.broken ?? '', /loop/);
  await s.disk.close();
});

test('without vectored I/O, scattered requests go through bounded bounce buffers (at most 1 MiB a copy)', async () => {
  const MiB = 1 << 20;
  const path = join(dir, 'bounce.img');
  writeFileSync(path, Uint8Array.from({ length: 3 * MiB }, (_, i) => pattern(i)));
  const raw = await openDisk(path, { format: 'raw' });
  const sizes: number[] = [];
  // A driver like qcow2: no readv/writev.
  const disk: BlockDevice = {
    path, format: 'test', size: raw.size, readOnly: false,
    read: (o, b) => { sizes.push(b.length); return raw.read(o, b); },
    write: (o, b) => { sizes.push(b.length); return raw.write(o, b); },
    flush: () => raw.flush(), discard: (o, n) => raw.discard(o, n), close: () => raw.close(),
  };
  const blk = new VirtioBlk('virtio-blk vda', disk, { serial: 'x' }, (e) => { throw e; });
  const b = new MmioBench(blk, new TestRam(8 * MiB));
  const [d] = b.start([32], F_VERSION_1);
  const s = { b, d: d! } as unknown as Setup;
  // Read 2.5 MiB from offset 512 into three buffers of 1.5, 0.5 and 0.5 MiB.
  const parts = [writable(b.ram, 1.5 * MiB), writable(b.ram, 0.5 * MiB), writable(b.ram, 0.5 * MiB)];
  const status = writable(b.ram, 1);
  const r = await submit(s, [readable(b.ram, header(T_IN, 1)), ...parts, status], false, () => b.ram.u8(status.gpa as number));
  assert.equal(r.value, S_OK);
  const got = Buffer.concat(parts.map((p) => b.ram.bytes(p.gpa as number, p.len)));
  assert.ok(got.equals(Uint8Array.from({ length: 2.5 * MiB }, (_, i) => pattern(512 + i))), 'the data read is the image\'s');
  assert.ok(sizes.length >= 3 && Math.max(...sizes) <= MiB, `copies of at most 1 MiB: ${sizes}`);

  // And back: write them at sector 0 through the same windows.
  sizes.length = 0;
  const out = parts.map((p) => readable(b.ram, b.ram.bytes(p.gpa as number, p.len)));
  const status2 = writable(b.ram, 1);
  const w = await submit(s, [readable(b.ram, header(T_OUT, 0)), ...out, status2], false, () => b.ram.u8(status2.gpa as number));
  assert.equal(w.value, S_OK);
  assert.ok(Math.max(...sizes) <= MiB, `copies of at most 1 MiB: ${sizes}`);
  const file = readFileSync(path);
  assert.ok(file.subarray(0, 2.5 * MiB).equals(got), 'the image holds what was written');
  await raw.close();
});

test('discard segments beyond 256 are refused (IOERR) without copying them', async () => {
  const s = await setup();
  const many = Array.from({ length: 257 }, () => segment(0, 1)).flat();
  const r = await request(s, T_DISCARD, 0, { out: many });
  assert.equal(r.status, S_IOERR);
});

// --- Quiesce, save and restore ---------------------------------------------------------------------

/** Holds every disk read until released: a request stays in flight as long as the test wants. */
function holdReads(s: Setup): () => void {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const read = s.disk.read.bind(s.disk);
  s.disk.read = async (at, buf) => { await gate; return read(at, buf); };
  return release;
}

test('quiesce: a request in flight completes, into the used ring with its interrupt, before quiesce resolves', async () => {
  const s = await setup();
  const release = holdReads(s);
  const data = writable(s.b.ram, 512), status = writable(s.b.ram, 1);
  const head = s.d.add([readable(s.b.ram, header(T_IN, 3)), data, status]);
  s.b.kick(0);
  assert.equal(s.blk.inFlight, 1);
  // Saving now would lose the request or do it twice: a bug in the caller, not a bad state.
  const inFlight = (e: unknown) => e instanceof Error && !(e instanceof StateError) && /in flight/.test(e.message);
  assert.throws(() => s.blk.save(), inFlight);
  assert.throws(() => s.b.mmio.save(), inFlight);
  let quiet = false;
  const q = s.b.mmio.quiesce().then(() => { quiet = true; });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(quiet, false, 'the read is still held');
  release();
  await q;
  assert.equal(s.blk.inFlight, 0);
  assert.equal(s.d.usedIdx(), 1, 'the chain was returned before quiesce resolved');
  assert.deepEqual(s.d.usedElem(0), { id: head, len: 513 });
  assert.equal(s.b.ram.u8(status.gpa as number), S_OK);
  assert.deepEqual([...s.b.ram.bytes(data.gpa as number, 512)], Array.from({ length: 512 }, (_, i) => pattern(3 * 512 + i)));
  assert.equal(s.b.read(REG.interruptStatus), INT_USED_BUFFER, 'and its interrupt raised');
  assert.ok(s.b.line);
  assert.deepEqual(s.blk.save(), { version: 1 });
  await s.disk.close();
});

test('save/restore: a fresh virtio-blk over the same disk and RAM serves the requests the guest made after the save', async () => {
  const s = await setup();
  await request(s, T_OUT, 5, { out: new Array(512).fill(0x5a) });
  s.b.ack();
  // A request posted and rung just before the save: its doorbell is in the saved channel.
  const data = writable(s.b.ram, 512), status = writable(s.b.ram, 1);
  const head = s.d.add([readable(s.b.ram, header(T_IN, 5)), data, status]);
  s.b.regs.access(SLOT_BASE + BigInt(REG.queueNotify), 4, true, 0n);
  await s.b.mmio.quiesce();
  const saved = JSON.parse(JSON.stringify(s.b.mmio.save()));
  assert.deepEqual(saved.device, { version: 1 });

  const blk = new VirtioBlk('virtio-blk vda', s.disk, { serial: 'tshv-vda' }, (e) => { throw e; });
  const b = new MmioBench(blk, s.b.ram);
  b.mmio.restore(saved);
  assert.equal(blk.inFlight, 0, 'nothing was started by the restore');
  b.mmio.serviceSignals(b.channel.takeSignals());
  await until(() => s.d.usedIdx() === 2, 2000, 'the request rung before the save');
  assert.deepEqual(s.d.collect().map((e) => e.id), [head]);
  assert.deepEqual([...s.b.ram.bytes(data.gpa as number, 512)], new Array(512).fill(0x5a));
  assert.ok(b.line, 'its interrupt');
  // And the next one, rung through the restored channel.
  const s2 = { ...s, b, blk } as Setup;
  const r = await request(s2, T_IN, 5, { inLen: 512 });
  assert.equal(r.status, S_OK);
  assert.equal(s.d.usedIdx(), 3);
  assert.throws(() => blk.restore({ version: 2 }), StateError);
  assert.throws(() => blk.restore(null), StateError);
  await s.disk.close();
});

test('the write log (a shared-nothing migration): writes, write-zeroes and discards are logged as they complete, reads and flushes not', async () => {
  const s = await setup();
  const logged: [number, number][] = [];
  s.blk.writeLog = { mark: (offset, length) => logged.push([offset, length]) };
  await request(s, T_IN, 0, { inLen: 512 });
  await request(s, T_FLUSH, 0);
  assert.deepEqual(logged, []);
  await request(s, T_OUT, 5, { out: new Uint8Array(1024) });
  await request(s, T_WRITE_ZEROES, 0, { out: segment(10, 3) });
  await request(s, T_DISCARD, 0, { out: segment(20, 2) });
  assert.deepEqual(logged, [[5 * 512, 1024], [10 * 512, 3 * 512], [20 * 512, 2 * 512]]);
  // A write the guest may not make (read-only, past the end) changes nothing and is not logged.
  logged.length = 0;
  assert.equal((await request(s, T_OUT, SECTORS, { out: new Uint8Array(512) })).status, S_IOERR);
  assert.deepEqual(logged, []);
  s.blk.writeLog = undefined;
  await request(s, T_OUT, 1, { out: new Uint8Array(512) });
  assert.deepEqual(logged, []);
  await s.disk.close();
});
