// Split virtqueues (src/vmbus/virtqueue.ts) as a hostile guest writes them: queue sizes
// and ring addresses, descriptor tables with any address, length, flag and next index,
// indirect tables, loops, the available index and ring, event-index words. The device
// side pops, pushes and asks about interrupts. Fails on any exception but VirtqueueError,
// a buffer handed out that is not inside guest RAM, byte counts that do not add up, a
// byte changed outside RAM, or (for chains a well-behaved driver made) a chain that does
// not come back exactly as it was made.
import fc from 'fast-check';
import { SplitQueue, VirtqueueError, checkLayout, gather, scatter, ringBytes, type Chain, type QueueFeatures } from '../../../src/vmbus/virtqueue.js';
import { TestDriver, TestRam, F_INDIRECT, F_NEXT, F_WRITE, RAM_BASE, type Segment } from '../../../src/vmbus/test-driver.js';
import { check, edgeU32, jsonCorpus, note, noteError, type CorpusFile, type FuzzTarget } from '../harness.js';

const RAM_BYTES = 64 * 1024;

/** A guest-physical address: mostly in or next to RAM, sometimes anywhere. */
export type Addr = { ram: number } | { abs: bigint };

export const addrArb = (ramBytes = RAM_BYTES): fc.Arbitrary<Addr> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: -64, max: ramBytes + 64 }).map((ram) => ({ ram })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(0n, 0xffff_ffffn, 0x1_0000_0000n, (1n << 53n) - 1n, 1n << 53n, (1n << 63n), (1n << 64n) - 1n,
        BigInt(RAM_BASE) - 1n, BigInt(RAM_BASE) + BigInt(ramBytes) - 1n).map((abs) => ({ abs })),
    },
  );

export const gpaOf = (a: Addr): bigint => ('ram' in a ? BigInt(RAM_BASE + a.ram) : a.abs);

/** A descriptor as the guest writes it; `table` points it at one of the case's indirect tables. */
export interface RawDesc { addr: Addr; len: number; flags: number; next: number; table?: number }

export const rawDescArb = (entries: number): fc.Arbitrary<RawDesc> =>
  fc.record({
    addr: addrArb(),
    len: fc.oneof({ weight: 3, arbitrary: fc.nat(256) }, { weight: 1, arbitrary: edgeU32() }),
    flags: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(0, F_NEXT, F_WRITE, F_NEXT | F_WRITE, F_INDIRECT, F_INDIRECT | F_NEXT, F_INDIRECT | F_WRITE) },
      { weight: 1, arbitrary: fc.nat(0xffff) },
    ),
    next: fc.oneof({ weight: 4, arbitrary: fc.nat(Math.max(0, entries - 1)) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
    table: fc.option(fc.nat(3), { freq: 4, nil: undefined }),
  }, { requiredKeys: ['addr', 'len', 'flags', 'next'] });

/** Device-side operations, in order. */
export type DeviceOp =
  | { op: 'pop' } | { op: 'push'; head: number; written: number } | { op: 'interrupt' } | { op: 'arm' }
  | { op: 'availIdx'; idx: number } | { op: 'usedEvent'; v: number } | { op: 'availFlags'; v: number };

const deviceOpArb = (size: number): fc.Arbitrary<DeviceOp> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant({ op: 'pop' as const }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('push' as const), head: fc.nat(Math.max(0, size - 1)), written: edgeU32() }) },
    { weight: 2, arbitrary: fc.constant({ op: 'interrupt' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'arm' as const }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('availIdx' as const), idx: fc.nat(0xffff) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('usedEvent' as const), v: fc.nat(0xffff) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('availFlags' as const), v: fc.nat(3) }) },
  );

/** A queue laid out by a hostile driver: every byte of the rings is chosen. */
interface HostileCase {
  kind: 'hostile';
  size: number;
  /** Ring offsets in RAM (or anywhere). */
  desc: Addr; driver: Addr; device: Addr;
  features: QueueFeatures;
  /** Descriptors written into the queue's table. */
  descs: { index: number; d: RawDesc }[];
  /** Indirect tables written at RAM offsets. */
  tables: { at: number; entries: RawDesc[] }[];
  avail: { ring: number[]; idx: number };
  ops: DeviceOp[];
}

/** Chains a well-behaved driver made (TestDriver): they must come back exactly. */
interface DriverCase {
  kind: 'driver';
  size: number;
  features: QueueFeatures;
  chains: { segs: { at: number; len: number; write: boolean }[]; indirect: boolean }[];
  ops: DeviceOp[];
}

export type VirtqueueCase = HostileCase | DriverCase;

const featuresArb = fc.record({ indirect: fc.boolean(), eventIdx: fc.boolean() });
const pow2 = fc.constantFrom(1, 2, 4, 8, 16, 32, 64, 128, 256);

const hostileArb: fc.Arbitrary<HostileCase> = fc.oneof(
  { weight: 6, arbitrary: pow2 },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom(0, 3, 6, 32768, 65535, 65536), edgeU32()) },
).chain((size) => {
  const entries = Math.min(size, 256);
  const b = ringBytes(Math.min(Math.max(size, 1), 32768));
  // Usually the rings are where a driver would put them; sometimes anywhere.
  const laid = (at: number): fc.Arbitrary<Addr> => fc.oneof({ weight: 12, arbitrary: fc.constant({ ram: at }) }, { weight: 1, arbitrary: addrArb() });
  const descAt = 0, driverAt = b.desc, deviceAt = Math.ceil((b.desc + b.driver) / 4) * 4;
  return fc.record({
    kind: fc.constant('hostile' as const),
    size: fc.constant(size),
    desc: laid(descAt), driver: laid(driverAt), device: laid(deviceAt),
    features: featuresArb,
    descs: fc.array(fc.record({ index: fc.nat(Math.max(0, entries - 1)), d: rawDescArb(entries) }), { maxLength: 16 }),
    tables: fc.array(fc.record({ at: fc.nat(RAM_BYTES - 1), entries: fc.array(rawDescArb(8), { minLength: 1, maxLength: 8 }) }), { maxLength: 3 }),
    avail: fc.record({
      ring: fc.array(fc.oneof({ weight: 6, arbitrary: fc.nat(Math.max(0, entries - 1)) }, { weight: 1, arbitrary: fc.nat(0xffff) }), { maxLength: 8 }),
      idx: fc.oneof({ weight: 6, arbitrary: fc.nat(Math.min(8, size)) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
    }),
    ops: fc.array(deviceOpArb(size), { minLength: 1, maxLength: 24 }),
  });
});

const driverArb: fc.Arbitrary<DriverCase> = fc.constantFrom(1, 2, 4, 8, 16, 64).chain((size) =>
  fc.record({
    kind: fc.constant('driver' as const),
    size: fc.constant(size),
    features: featuresArb,
    chains: fc.array(fc.record({
      // Readable buffers first, then writable ones (§2.7.4.2).
      segs: fc.tuple(fc.array(fc.integer({ min: 0, max: 2048 }), { maxLength: 4 }), fc.array(fc.integer({ min: 0, max: 2048 }), { maxLength: 4 }))
        .filter(([r, w]) => r.length + w.length > 0)
        .map(([r, w]) => [...r.map((len) => ({ at: 0, len, write: false })), ...w.map((len) => ({ at: 0, len, write: true }))]),
      indirect: fc.boolean(),
    }), { maxLength: 6 }),
    ops: fc.array(deviceOpArb(size), { maxLength: 16 }),
  }),
);

export const virtqueue: FuzzTarget<VirtqueueCase> = {
  name: 'virtqueue',
  async: false,
  fromCorpus: (files: readonly CorpusFile[]) => jsonCorpus<VirtqueueCase>(files),
  arbitrary: () => fc.oneof({ weight: 3, arbitrary: hostileArb }, { weight: 2, arbitrary: driverArb }),
  expected: (e) => e instanceof VirtqueueError,
  memoryBound: () => 64 << 20,
  run(c) {
    if (c.kind === 'hostile') runHostile(c);
    else runDriver(c);
  },
};

/** Where the case's indirect tables are (gpa and length), for descriptors that point at one. */
type Tables = { gpa: number; len: number }[];

function writeRawDesc(ram: TestRam, table: number, i: number, d: RawDesc, tables: Tables): void {
  const at = table + 16 * i;
  if (at < ram.base || at + 16 > ram.end) return;
  const t = d.table !== undefined && tables.length ? tables[d.table % tables.length]! : undefined;
  ram.setU64(at, t ? BigInt(t.gpa) : gpaOf(d.addr));
  ram.setU32(at + 8, t ? t.len : d.len);
  ram.setU16(at + 12, (t ? d.flags | F_INDIRECT : d.flags) & 0xffff);
  ram.setU16(at + 14, d.next & 0xffff);
}

function runHostile(c: HostileCase): void {
  const ram = new TestRam(RAM_BYTES);
  const toGpa = (a: Addr): number => {
    const g = gpaOf(a);
    return g <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(g) : Number.MAX_SAFE_INTEGER;
  };
  const layout = { size: c.size, desc: toGpa(c.desc), driver: toGpa(c.driver), device: toGpa(c.device) };
  const bad = checkLayout(ram.mem, layout);
  let q: SplitQueue;
  try {
    q = new SplitQueue(ram.mem, layout, c.features);
  } catch (e) {
    check(e instanceof VirtqueueError, `SplitQueue refused a layout with ${String(e)}`);
    noteError(e);
    check(bad !== undefined, 'SplitQueue refused a layout checkLayout accepted');
    return;
  }
  check(bad === undefined, `SplitQueue took a layout checkLayout refused: ${bad}`);
  // The rings as the driver wrote them (within RAM; the layout is known to be in RAM).
  const tables: Tables = c.tables.map((t) => ({ gpa: RAM_BASE + (t.at & ~15), len: 16 * t.entries.length }));
  for (const { index, d } of c.descs) writeRawDesc(ram, layout.desc, index % c.size, d, tables);
  for (const t of c.tables) t.entries.forEach((d, i) => writeRawDesc(ram, RAM_BASE + (t.at & ~15), i, d, tables));
  c.avail.ring.forEach((h, i) => ram.setU16(layout.driver + 4 + 2 * (i % c.size), h));
  ram.setU16(layout.driver + 2, c.avail.idx);
  runOps(ram, q, layout, c.ops, undefined);
}

function runDriver(c: DriverCase): void {
  const ram = new TestRam(RAM_BYTES);
  const drv = new TestDriver(ram, c.size);
  const q = new SplitQueue(ram.mem, drv.layout, c.features);
  const made = new Map<number, Segment[]>();
  for (const ch of c.chains) {
    const indirect = ch.indirect && c.features.indirect;
    try {
      const segs = ch.segs.map((s) => ({ gpa: ram.alloc(Math.max(1, s.len), 8), len: s.len, write: s.write }));
      made.set(drv.add(segs, { indirect }), segs);
    } catch {
      continue; // no free descriptors or test RAM left: the driver could not make this one
    }
  }
  runOps(ram, q, drv.layout, c.ops.filter((o) => o.op !== 'availIdx'), made);
  // Everything the driver made available must come out exactly as made.
  for (let chain = q.pop(); chain; chain = q.pop()) checkMade(ram, chain, made);
}

function checkMade(ram: TestRam, chain: Chain, made: Map<number, Segment[]>): void {
  const segs = made.get(chain.head);
  check(segs !== undefined, `popped head ${chain.head}, which the driver never offered`);
  const want = (w: boolean) => segs.filter((s) => !!s.write === w);
  for (const [got, exp] of [[chain.readable, want(false)], [chain.writable, want(true)]] as const) {
    check(got.length === exp.length, `chain ${chain.head}: ${got.length} buffers, made with ${exp.length}`);
    got.forEach((b, i) => {
      check(b.byteOffset - ram.mem.ram.byteOffset + RAM_BASE === Number(exp[i]!.gpa) && b.length === exp[i]!.len,
        `chain ${chain.head}: buffer ${i} is not the one the driver made`);
    });
  }
  made.delete(chain.head);
}

function runOps(ram: TestRam, q: SplitQueue, layout: { size: number; driver: number; device: number }, ops: DeviceOp[],
  made: Map<number, Segment[]> | undefined): void {
  for (const o of ops) {
    try {
      switch (o.op) {
        case 'pop': {
          const chain = q.pop();
          note(chain ? `pop: a chain of ${chain.readable.length + chain.writable.length > 1 ? 'several buffers' : 'one buffer'}` : 'pop: nothing');
          if (chain) {
            checkChain(ram, q, chain);
            if (made) checkMade(ram, chain, made);
          }
          break;
        }
        case 'push': q.push({ head: o.head % layout.size, readable: [], writable: [], readableBytes: 0, writableBytes: 0 }, o.written); break;
        case 'interrupt': q.needsInterrupt(); break;
        case 'arm': q.armNotify(); break;
        case 'availIdx': ram.setU16(layout.driver + 2, o.idx); break;
        case 'usedEvent': ram.setU16(layout.driver + 4 + 2 * layout.size, o.v); break;
        case 'availFlags': ram.setU16(layout.driver, o.v); break;
      }
    } catch (e) {
      if (!(e instanceof VirtqueueError)) throw e;
      noteError(e);
    }
    check(ram.guardsIntact(), `a byte outside guest RAM changed (after ${o.op})`);
  }
}

/** Every buffer is a view of guest RAM; the counts add up; device writes stay inside RAM. */
function checkChain(ram: TestRam, q: SplitQueue, chain: Chain): void {
  check(Number.isInteger(chain.head) && chain.head >= 0 && chain.head < q.size, `head ${chain.head} is outside the queue`);
  const lo = ram.mem.ram.byteOffset, hi = lo + ram.size;
  let r = 0, w = 0;
  for (const b of chain.readable) { r += b.length; checkInRam(b, ram, lo, hi); }
  for (const b of chain.writable) { w += b.length; checkInRam(b, ram, lo, hi); }
  check(r === chain.readableBytes && w === chain.writableBytes, 'readableBytes/writableBytes do not match the buffers');
  check(r + w <= 0xffff_ffff, 'a chain over 4 GiB was accepted');
  // What a VSP does with them: read a header, fill the writable part.
  gather(chain.readable, 0, Math.min(16, r));
  scatter(chain.writable, 0, new Uint8Array(Math.min(w, 4096)).fill(0x5a));
}

function checkInRam(b: Uint8Array, ram: TestRam, lo: number, hi: number): void {
  check(b.buffer === ram.mem.ram.buffer && b.byteOffset >= lo && b.byteOffset + b.length <= hi, 'a buffer outside guest RAM was handed out');
}
