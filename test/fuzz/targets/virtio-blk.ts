// virtio-blk (src/parent/vsp/blk.ts) behind its transport, on real disks: a raw image, a
// read-only raw image, a qcow2 image with 512-byte clusters and a qcow2 overlay on a raw
// backing file. Each case is a batch of requests of any type (known or not), sector,
// data length (whole sectors or not), discard/write-zeroes segments with any flags, and
// any buffer layout (header and data split anywhere, direct or indirect, no room for a
// status, a short header), run one at a time or all at once, sometimes with a device
// reset while they are in flight.
//
// A model of each disk (its bytes, and which sectors are known) predicts every status and
// used length, and what a read returns. Fails on: a VSP fault (anything but an I/O error
// or a bad request escaping the VSP), a status or used length other than the model's, a
// read that returns other bytes, a byte changed outside guest RAM, or a batch that does
// not complete in time.
import fc from 'fast-check';
import { join } from 'node:path';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { VirtioBlk, T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES, S_OK, S_IOERR, S_UNSUPP } from '../../../src/parent/vsp/blk/device.js';
import { F_VERSION_1, F_INDIRECT_DESC, F_EVENT_IDX, REG } from '../../../src/parent/vsp/virtio-mmio.js';
import { MmioBench } from '../../../src/parent/vsp/test-support.js';
import { TestRam, type Segment, type TestDriver } from '../../../src/vmbus/test-driver.js';
import { openDisk } from '../../../src/parent/drivers/disk/open.js';
import { createQcow2 } from '../../../src/parent/drivers/disk/qcow2-create.js';
import { QCOW2_MAGIC } from '../../../src/parent/drivers/disk/qcow2-header.js';
import type { BlockDevice } from '../../../src/parent/drivers/disk/block-device.js';
import { check, edgeU32, jsonCorpus, note, type CorpusFile, type FuzzTarget } from '../harness.js';

const SECTOR = 512;
const DISK_BYTES = 256 * 1024;
const SECTORS = DISK_BYTES / SECTOR;
const QUEUE = 256;
const SERIAL = 'tshv-vda';
const HEADER = 16;
const MAX_SEGMENTS = 256;

export interface Request {
  type: number;
  sector: bigint;
  /** Bytes of data (out for OUT, room for IN and GET_ID), whole sectors or not. */
  dataLen: number;
  /** Pattern of OUT data. */
  fill: number;
  /** Discard / write-zeroes segments. */
  segments: { sector: bigint; sectors: number; flags: number }[];
  /** Bytes of the header actually given (16 normally). */
  headerLen: number;
  /** Bytes after the data for the status (1 normally). */
  statusLen: number;
  /** Where the readable and writable bytes are cut into buffers (per mille of their length). */
  readCuts: number[];
  writeCuts: number[];
  indirect: boolean;
}

export interface BlkCase {
  /** 0 raw, 1 read-only raw, 2 qcow2, 3 qcow2 over a raw backing file, 4 raw with its format probed. */
  disk: number;
  eventIdx: boolean;
  requests: Request[];
  /** All requests made available, then one kick (they run concurrently). */
  together: boolean;
  /** Reset the device right after the kick (requests still in flight). */
  reset: boolean;
}

const KNOWN_TYPES = [T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES];
const TYPE_NAMES: Record<number, string> = { [T_IN]: 'IN', [T_OUT]: 'OUT', [T_FLUSH]: 'FLUSH', [T_GET_ID]: 'GET_ID', [T_DISCARD]: 'DISCARD', [T_WRITE_ZEROES]: 'WRITE_ZEROES' };

const sectorArb = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt(0n, BigInt(SECTORS)) },
  { weight: 1, arbitrary: fc.constantFrom(BigInt(SECTORS - 1), BigInt(SECTORS), BigInt(SECTORS + 1), 1n << 32n, (1n << 53n) - 1n, 1n << 53n, 1n << 55n, (1n << 64n) - 1n) },
  { weight: 1, arbitrary: fc.bigInt(0n, (1n << 64n) - 1n) },
);

const requestArb: fc.Arbitrary<Request> = fc.record({
  type: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...KNOWN_TYPES) }, { weight: 1, arbitrary: edgeU32() }),
  sector: sectorArb,
  dataLen: fc.oneof(
    { weight: 6, arbitrary: fc.nat(24).map((n) => n * SECTOR) },
    { weight: 1, arbitrary: fc.nat(24 * SECTOR) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, 20, 21, 64 * 1024) },
  ),
  fill: fc.nat(255),
  segments: fc.array(fc.record({
    sector: sectorArb,
    sectors: fc.oneof({ weight: 6, arbitrary: fc.nat(64) }, { weight: 1, arbitrary: edgeU32() }),
    flags: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(0, 0, 1) }, { weight: 1, arbitrary: edgeU32() }),
  }), { minLength: 1, maxLength: 3 }),
  headerLen: fc.oneof({ weight: 20, arbitrary: fc.constant(HEADER) }, { weight: 1, arbitrary: fc.nat(HEADER + 8) }),
  statusLen: fc.oneof({ weight: 20, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.nat(3) }),
  readCuts: fc.array(fc.nat(1000), { maxLength: 3 }),
  writeCuts: fc.array(fc.nat(1000), { maxLength: 3 }),
  indirect: fc.boolean(),
});

const caseArb: fc.Arbitrary<BlkCase> = fc.record({
  disk: fc.nat(4),
  eventIdx: fc.boolean(),
  requests: fc.array(requestArb, { minLength: 1, maxLength: 8 }),
  together: fc.boolean(),
  reset: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

/** One disk and what is known of its contents. */
class ModelDisk {
  readonly bytes = new Uint8Array(DISK_BYTES);
  /** Sector is known to hold `bytes` (cleared where concurrent writes or a discard leave it open). */
  readonly known = new Uint8Array(SECTORS).fill(1);
  /** A raw image opened without a format: writes may not put the qcow2 magic in bytes 0..3. */
  probed = false;
  constructor(readonly disk: BlockDevice, readonly readOnly: boolean, readonly discardZeroes: boolean, initial: Uint8Array) {
    this.bytes.set(initial);
  }
  forget(at: number, bytes: number): void { this.known.fill(0, Math.floor(at / SECTOR), Math.ceil((at + bytes) / SECTOR)); }
  learn(at: number, data: Uint8Array): void {
    this.bytes.set(data, at);
    this.known.fill(1, at / SECTOR, (at + data.length) / SECTOR);
  }
  isKnown(at: number, bytes: number): boolean { return this.known.subarray(at / SECTOR, (at + bytes) / SECTOR).every((k) => k === 1); }
}

interface Ctx { dir: string; initial: Uint8Array }

/** What the device must answer, and what it does to the disk. */
interface Expect {
  /** undefined: no status is written (no header or no room). */
  status?: number;
  used: number;
  /** For IN: [disk offset, bytes] read into the data buffers. */
  read?: [number, number];
  /** Effects on the model if the request completes. */
  writes: { at: number; data: Uint8Array }[];
  /** Ranges that may now hold anything (discard). */
  fuzzy: [number, number][];
}

function inRange(sector: bigint, bytes: number): number | undefined {
  const at = sector * BigInt(SECTOR);
  return at + BigInt(bytes) <= BigInt(DISK_BYTES) ? Number(at) : undefined;
}

/** The request's readable and writable bytes, before they are cut into buffers. */
function layout(r: Request): { readable: Uint8Array; writable: number } {
  const header = new Uint8Array(HEADER);
  const h = new DataView(header.buffer);
  h.setUint32(0, r.type >>> 0, true);
  h.setBigUint64(8, BigInt.asUintN(64, r.sector), true);
  let payload = new Uint8Array(0), room = 0;
  if (r.type === T_OUT || (!KNOWN_TYPES.includes(r.type) && r.dataLen < 4096)) {
    payload = new Uint8Array(r.dataLen);
    for (let i = 0; i < payload.length; i++) payload[i] = (r.fill + i * 31 + (i >> 9)) & 0xff;
    if (r.fill === 0x51 && payload.length >= 4) payload.set([0x51, 0x46, 0x49, 0xfb]); // a qcow2 header, now and then
  } else if (r.type === T_DISCARD || r.type === T_WRITE_ZEROES) {
    payload = new Uint8Array(16 * r.segments.length);
    const v = new DataView(payload.buffer);
    r.segments.forEach((s, i) => {
      v.setBigUint64(16 * i, BigInt.asUintN(64, s.sector), true);
      v.setUint32(16 * i + 8, s.sectors >>> 0, true);
      v.setUint32(16 * i + 12, s.flags >>> 0, true);
    });
  }
  if (r.type === T_IN || r.type === T_GET_ID) room = r.dataLen;
  const readable = new Uint8Array(r.headerLen === HEADER ? HEADER + payload.length : r.headerLen);
  readable.set(header.subarray(0, Math.min(HEADER, readable.length)));
  if (r.headerLen === HEADER) readable.set(payload, HEADER);
  return { readable, writable: room + r.statusLen };
}

function expect(r: Request, m: ModelDisk, readableBytes: number, writableBytes: number): Expect {
  const none: Expect = { used: 0, writes: [], fuzzy: [] };
  if (readableBytes < HEADER || writableBytes < 1) return none;
  const done = (status: number, extra: Partial<Expect> = {}): Expect => ({ status, used: 1, writes: [], fuzzy: [], ...extra });
  const dataIn = writableBytes - 1, dataOut = readableBytes - HEADER;
  switch (r.type) {
    case T_IN: {
      const at = dataIn % SECTOR === 0 ? inRange(r.sector, dataIn) : undefined;
      return at === undefined ? done(S_IOERR) : done(S_OK, { used: dataIn + 1, read: [at, dataIn] });
    }
    case T_OUT: {
      if (m.readOnly) return done(S_IOERR);
      const at = dataOut % SECTOR === 0 ? inRange(r.sector, dataOut) : undefined;
      if (at === undefined) return done(S_IOERR);
      const { readable } = layout(r);
      const data = readable.slice(HEADER);
      if (m.probed && at === 0 && data.length >= 4 && new DataView(data.buffer).getUint32(0) === QCOW2_MAGIC) return done(S_IOERR);
      return done(S_OK, { writes: [{ at, data }] });
    }
    case T_FLUSH: return done(S_OK);
    case T_GET_ID: return done(S_OK, { used: Math.min(20, dataIn) + 1 });
    case T_DISCARD: case T_WRITE_ZEROES: {
      if (m.readOnly) return done(S_IOERR);
      if (dataOut > MAX_SEGMENTS * 16 || dataOut % 16 !== 0) return done(S_IOERR);
      // §5.2.6.2: an unknown flag, or unmap on a discard, makes the whole request UNSUPP.
      if (r.segments.some((s) => (s.flags & ~1) !== 0 || (r.type === T_DISCARD && s.flags !== 0))) return done(S_UNSUPP);
      const writes: Expect['writes'] = [], fuzzy: Expect['fuzzy'] = [];
      for (const s of r.segments) {
        const at = inRange(s.sector, s.sectors * SECTOR);
        // Segments before a bad one have been done.
        if (at === undefined) return done(S_IOERR, { writes, fuzzy });
        if (r.type === T_WRITE_ZEROES) writes.push({ at, data: new Uint8Array(s.sectors * SECTOR) });
        else if (m.discardZeroes) fuzzy.push([at, s.sectors * SECTOR]);
      }
      return done(S_OK, { writes, fuzzy });
    }
    default: return done(S_UNSUPP);
  }
}

/** Cuts `total` bytes at the given per-mille points: the lengths of the pieces. */
function pieces(total: number, cuts: number[]): number[] {
  const at = [...new Set(cuts.map((c) => Math.floor((c * total) / 1000)))].sort((a, b) => a - b);
  const out: number[] = [];
  let prev = 0;
  for (const a of [...at, total]) { out.push(a - prev); prev = a; }
  return out;
}

interface Submitted { r: Request; head: number; readable: Segment[]; writable: Segment[]; exp: Expect; statusAt?: number }

export const virtioBlk: FuzzTarget<BlkCase, Ctx> = {
  name: 'virtio-blk',
  async: true,
  fromCorpus: (files: readonly CorpusFile[]) => jsonCorpus<BlkCase>(files),
  arbitrary: () => caseArb,
  expected: () => false, // I/O errors and bad requests are statuses; nothing may escape
  memoryBound: () => 96 << 20,
  async setup() {
    // Templates; each case gets fresh copies, so a case replays alone (--path) as it ran.
    const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tshv-fuzz-blk-'));
    const initial = new Uint8Array(DISK_BYTES);
    for (let i = 0; i < initial.length; i++) initial[i] = ((i * 7) % 251) + 1;
    writeFileSync(join(dir, 'raw.img'), initial);
    writeFileSync(join(dir, 'backing.img'), initial);
    await createQcow2(join(dir, 'plain.qcow2'), { size: DISK_BYTES, clusterBits: 9 });
    await createQcow2(join(dir, 'overlay.qcow2'), { backing: join(dir, 'backing.img'), backingFormat: 'raw', clusterBits: 12 });
    return { dir, initial };
  },
  async teardown(ctx) {
    rmSync(ctx.dir, { recursive: true, force: true });
  },
  run: runBlk,
};

/** A fresh copy of disk `n` (see BlkCase.disk), opened, with its model. */
async function openCase(ctx: Ctx, n: number): Promise<ModelDisk> {
  const [template, format, readOnly] = ([['raw.img', 'raw', false], ['raw.img', 'raw', true], ['plain.qcow2', 'qcow2', false],
    ['overlay.qcow2', 'qcow2', false], ['raw.img', undefined, false]] as const)[n % 5]!;
  const path = join(ctx.dir, `case-${template}`);
  copyFileSync(join(ctx.dir, template), path);
  const disk = await openDisk(path, { format, readOnly });
  const m = new ModelDisk(disk, readOnly, format === 'qcow2', n % 5 === 2 ? new Uint8Array(DISK_BYTES) : ctx.initial);
  m.probed = format === undefined;
  return m;
}

async function runBlk(c: BlkCase, ctx: Ctx): Promise<void> {
  const m = await openCase(ctx, c.disk);
  try {
    await runRequests(c, m);
  } finally {
    await m.disk.close();
  }
}

async function runRequests(c: BlkCase, m: ModelDisk): Promise<void> {
  const faults: unknown[] = [];
  const blk = new VirtioBlk('virtio-blk vda', m.disk, { serial: SERIAL }, (e) => faults.push(e));
  let idle: (() => void) | undefined;
  blk.onIdle = () => idle?.();
  const settled = () => (blk.inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => { idle = r; }));
  const ram = new TestRam(1 << 20);
  const b = new MmioBench(blk, ram);
  const [d] = b.start([QUEUE], F_VERSION_1 | F_INDIRECT_DESC | (c.eventIdx ? F_EVENT_IDX : 0n)) as TestDriver[];

  const submit = (r: Request): Submitted | undefined => {
    const { readable, writable } = layout(r);
    const readSegs: Segment[] = [];
    let o = 0;
    for (const len of pieces(readable.length, r.readCuts)) {
      const gpa = ram.alloc(Math.max(len, 1), 8);
      ram.write(gpa, readable.subarray(o, o + len));
      readSegs.push({ gpa, len });
      o += len;
    }
    const writeSegs = pieces(writable, r.writeCuts).map((len) => {
      const gpa = ram.alloc(Math.max(len, 1), 8);
      ram.bytes(gpa, len).fill(0xee);
      return { gpa, len, write: true };
    });
    const head = d!.add([...readSegs, ...writeSegs], { indirect: r.indirect });
    const last = [...writeSegs].reverse().find((s) => s.len > 0);
    return { r, head, readable: readSegs, writable: writeSegs, exp: expect(r, m, readable.length, writable), statusAt: last && last.gpa + last.len - 1 };
  };

  const batches = c.together ? [c.requests] : c.requests.map((r) => [r]);
  for (const batch of batches) {
    let subs: Submitted[];
    try {
      subs = batch.map(submit).filter((s): s is Submitted => s !== undefined);
    } catch {
      note('no room in guest RAM or the queue');
      break;
    }
    const usedBefore = d!.usedIdx();
    b.kick(0);
    if (c.reset) {
      b.write(REG.status, 0); // in-flight requests finish, but must not be returned
      await settled();
      check(d!.usedIdx() === usedBefore, 'a request completed after the device was reset was returned to the driver');
      for (const s of subs) for (const w of [...s.exp.writes, ...s.exp.fuzzy.map(([at, len]) => ({ at, data: new Uint8Array(len) }))]) m.forget(w.at, w.data.length);
      note('reset with requests in flight');
      break;
    }
    await settled();
    check(faults.length === 0, `the VSP faulted: ${faults.map(String).join('; ')}`);
    const used = new Map(d!.collect().map((e) => [e.id, e.len]));
    check(used.size === subs.length, `${subs.length} requests, ${used.size} returned`);

    // Which sectors this batch wrote more than once (or read while writing): left open.
    const writers = new Uint8Array(SECTORS);
    for (const s of subs) for (const w of s.exp.writes) for (let i = w.at / SECTOR; i < (w.at + w.data.length) / SECTOR; i++) writers[i]!++;
    for (const s of subs) {
      const { r, exp } = s;
      const what = `request type ${r.type} sector ${r.sector} (${exp.status === undefined ? 'no status' : `status ${exp.status}`})`;
      check(used.get(s.head) === exp.used, `${what}: used length ${used.get(s.head)}, expected ${exp.used}`);
      if (exp.status !== undefined) {
        const got = ram.u8(s.statusAt!);
        check(got === exp.status, `${what}: status ${got}`);
        note(`${TYPE_NAMES[r.type] ?? 'unknown type'}: ${['OK', 'IOERR', 'UNSUPP'][got] ?? got}`);
      } else note('no status (short header or no room)');
      if (exp.read && exp.status === S_OK) {
        const [at, len] = exp.read;
        const lo = at / SECTOR, hi = (at + len) / SECTOR;
        if (m.isKnown(at, len) && writers.subarray(lo, hi).every((n) => n === 0)) {
          const got = Buffer.concat(s.writable.map((w) => ram.bytes(Number(w.gpa), w.len))).subarray(0, len);
          const want = m.bytes.subarray(at, at + len);
          const diff = got.findIndex((x, i) => x !== want[i]);
          check(diff < 0, `${what}: read byte ${at + diff} of the disk as ${got[diff]}, the model has ${want[diff]}`);
          note('IN: data checked against the model');
        }
      }
      if (r.type === T_GET_ID && exp.status === S_OK) {
        const id = Buffer.concat(s.writable.map((w) => ram.bytes(Number(w.gpa), w.len))).subarray(0, exp.used - 1);
        const want = Buffer.alloc(20); want.write(SERIAL);
        check(Buffer.compare(id, want.subarray(0, id.length)) === 0, 'GET_ID wrote something other than the serial');
      }
    }
    for (const s of subs) {
      for (const w of s.exp.writes) {
        if (writers.subarray(w.at / SECTOR, (w.at + w.data.length) / SECTOR).every((n) => n === 1)) m.learn(w.at, w.data);
        else m.forget(w.at, w.data.length);
      }
      for (const [at, len] of s.exp.fuzzy) m.forget(at, len);
    }
    check(ram.guardsIntact(), 'a byte outside guest RAM changed');
  }
  await settled();
  check(faults.length === 0, `the VSP faulted: ${faults.map(String).join('; ')}`);
}
