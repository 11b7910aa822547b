// A guest driver for the VSP targets (virtio-rng, virtio-console): brings a device up on a
// test RAM, makes chains of random shapes, and can also turn hostile (descriptors written
// raw into its queue's table, available indices from nowhere). It remembers each chain it
// made, so a target can check what the device did with the buffers.
import fc from 'fast-check';
import { F_VERSION_1, F_INDIRECT_DESC, F_EVENT_IDX, type VirtioDevice } from '../../../src/parent/vsp/virtio-mmio.js';
import { MmioBench } from '../../../src/parent/vsp/test-support.js';
import { TestDriver, TestRam, type Segment } from '../../../src/vmbus/test-driver.js';
import { rawDescArb, gpaOf, type RawDesc } from './virtqueue.js';

export const RAM_BYTES = 256 << 10;

export type DriverOp =
  /** A chain: readable buffers then writable ones, each filled with a pattern. */
  | { op: 'chain'; q: number; readable: number[]; writable: number[]; indirect: boolean; publish: boolean }
  | { op: 'kick'; q: number }
  | { op: 'ack' }
  | { op: 'reset' }
  /** A hostile driver: a descriptor written raw over the queue's table, or a raw head made available. */
  | { op: 'raw'; q: number; index: number; desc: RawDesc }
  | { op: 'rawHead'; q: number; head: number }
  | { op: 'availIdx'; q: number; idx: number };

const lenArb = fc.oneof({ weight: 6, arbitrary: fc.nat(200) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 4096, 65535, 65536, 65537, 100_000) });

export const driverOpArb = (queues: number, hostile: boolean): fc.Arbitrary<DriverOp> => {
  const q = fc.nat(queues - 1);
  const good: fc.Arbitrary<DriverOp>[] = [
    fc.record({
      op: fc.constant('chain' as const), q, readable: fc.array(lenArb, { maxLength: 3 }), writable: fc.array(lenArb, { maxLength: 3 }),
      indirect: fc.boolean(), publish: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    }),
    fc.record({ op: fc.constant('kick' as const), q }),
  ];
  const rare: fc.Arbitrary<DriverOp>[] = [fc.constant({ op: 'ack' as const }), fc.constant({ op: 'reset' as const })];
  const bad: fc.Arbitrary<DriverOp>[] = hostile ? [
    fc.record({ op: fc.constant('raw' as const), q, index: fc.nat(63), desc: rawDescArb(64) }),
    fc.record({ op: fc.constant('rawHead' as const), q, head: fc.oneof(fc.nat(63), fc.nat(0xffff)) }),
    fc.record({ op: fc.constant('availIdx' as const), q, idx: fc.nat(0xffff) }),
  ] : [];
  return fc.oneof(
    ...good.map((arbitrary) => ({ weight: 6, arbitrary })),
    ...rare.map((arbitrary) => ({ weight: 1, arbitrary })),
    ...bad.map((arbitrary) => ({ weight: 1, arbitrary })),
  );
};

export interface DriverCase { features: bigint; sizes: number[]; hostile: boolean; ops: DriverOp[] }

export const driverCaseArb = (queues: number): fc.Arbitrary<DriverCase> =>
  fc.record({
    features: fc.constantFrom(F_VERSION_1, F_VERSION_1 | F_INDIRECT_DESC, F_VERSION_1 | F_EVENT_IDX, F_VERSION_1 | F_INDIRECT_DESC | F_EVENT_IDX),
    sizes: fc.array(fc.constantFrom(1, 2, 4, 16, 64), { minLength: queues, maxLength: queues }),
    hostile: fc.boolean(),
  }).chain((c) => fc.array(driverOpArb(queues, c.hostile), { minLength: 1, maxLength: 30 }).map((ops) => ({ ...c, ops })));

/** A chain as made: its buffers (readable filled with a pattern, kept in `sent`; writable with 0xee). */
export interface Made { q: number; head: number; readable: Segment[]; writable: Segment[]; sent: Uint8Array[] }

export class GuestDriver {
  readonly ram = new TestRam(RAM_BYTES);
  readonly bench: MmioBench;
  drivers: TestDriver[] = [];
  /** Chains in flight by queue and head. */
  readonly inFlight: Map<number, Made>[] = [];
  /** Used elements in the order the device returned them. */
  readonly used: { made: Made; len: number }[] = [];
  /** True once anything hostile was done (the content checks no longer hold). */
  hostile = false;
  private pattern = 1;

  constructor(device: VirtioDevice, readonly features: bigint, readonly sizes: number[]) {
    this.bench = new MmioBench(device, this.ram);
    this.start();
  }

  start(): void {
    this.drivers = this.bench.start(this.sizes, this.features) as TestDriver[];
    this.inFlight.length = 0;
    for (const _ of this.sizes) this.inFlight.push(new Map());
  }

  /** Runs one op (a chain that finds no room is simply not made). */
  apply(o: DriverOp): void {
    const b = this.bench;
    switch (o.op) {
      case 'chain': {
        const d = this.drivers[o.q]!;
        const indirect = o.indirect && (this.features & F_INDIRECT_DESC) !== 0n && o.readable.length + o.writable.length > 0;
        try {
          const readable = o.readable.map((len) => this.buffer(len, false));
          const writable = o.writable.map((len) => this.buffer(len, true));
          if (readable.length + writable.length === 0) return;
          const head = d.add([...readable, ...writable], { indirect, publish: o.publish });
          this.inFlight[o.q]!.set(head, { q: o.q, head, readable, writable, sent: readable.map((r) => this.bytes(r).slice()) });
          if (!o.publish) d.publish(); // published late: still made available
        } catch { /* no free descriptors or RAM left */ }
        return;
      }
      case 'kick': b.kick(o.q); return;
      case 'ack': b.ack(); return;
      case 'reset':
        // The device forgets the chains in flight; a driver starts over with fresh queues.
        b.write(0x070, 0);
        this.start();
        return;
      case 'raw': {
        this.hostile = true;
        const d = this.drivers[o.q]!;
        const at = d.layout.desc + 16 * (o.index % d.size);
        this.ram.setU64(at, gpaOf(o.desc.addr));
        this.ram.setU32(at + 8, o.desc.len);
        this.ram.setU16(at + 12, o.desc.flags);
        this.ram.setU16(at + 14, o.desc.next);
        return;
      }
      case 'rawHead': this.hostile = true; this.drivers[o.q]!.offer(o.head); return;
      case 'availIdx': this.hostile = true; this.drivers[o.q]!.setAvailIdx(o.idx); return;
    }
  }

  /** Takes the used elements of every queue (the driver's interrupt handler). */
  collect(): void {
    for (const [q, d] of this.drivers.entries()) {
      if (!d) continue;
      let elems;
      try { elems = d.collect(); } catch { this.hostile = true; continue; } // an id the driver never made: only after hostile ops
      for (const e of elems) {
        const made = this.inFlight[q]!.get(e.id);
        if (!made) { this.hostile = true; continue; }
        this.inFlight[q]!.delete(e.id);
        this.used.push({ made, len: e.len });
      }
    }
  }

  private buffer(len: number, write: boolean): Segment {
    const gpa = this.ram.alloc(Math.max(len, 1), 8);
    const bytes = this.ram.bytes(gpa, len);
    if (write) bytes.fill(0xee);
    else for (let i = 0; i < len; i++) bytes[i] = (this.pattern + i * 13) & 0xff;
    this.pattern++;
    return { gpa, len, write };
  }

  /** The bytes of a buffer now. */
  bytes(s: Segment): Uint8Array { return this.ram.bytes(Number(s.gpa), s.len); }
}
