// The virtio-mmio transport (src/parent/vsp/virtio-mmio.ts) as a hostile driver drives
// it: register reads and writes at any offset and width, in any order, queue setup with
// hostile sizes and addresses, feature negotiation, DRIVER_OK, resets, doorbells and acks
// through the hypervisor's channel registers, and guest writes over the rings. The VSPs
// behind it are the real virtio-rng and virtio-console. The transport turns a broken ring
// into DEVICE_NEEDS_RESET; nothing may escape it (an exception out of the transport would
// stop the VM), no byte outside guest RAM may change, and a register read must be a
// value of the width read.
import fc from 'fast-check';
import { REG, STATUS, F_VERSION_1, F_INDIRECT_DESC, F_EVENT_IDX, type VirtioDevice } from '../../../src/parent/vsp/virtio-mmio.js';
import { MmioBench } from '../../../src/parent/vsp/test-support.js';
import { VirtioRng } from '../../../src/parent/vsp/rng/device.js';
import { VirtioConsole } from '../../../src/parent/vsp/console/device.js';
import { TestRam, TestDriver, type Segment } from '../../../src/vmbus/test-driver.js';
import type { Width } from '../../../src/parent/devices/mmio.js';
import { check, edgeU32, jsonCorpus, note, type CorpusFile, type FuzzTarget } from '../harness.js';
import { addrArb, gpaOf, type Addr } from './virtqueue.js';

const RAM_BYTES = 64 * 1024;
const REGISTERS = Object.values(REG);
const STATUS_STEPS = [
  0, STATUS.acknowledge, STATUS.acknowledge | STATUS.driver, STATUS.acknowledge | STATUS.driver | STATUS.featuresOk,
  STATUS.acknowledge | STATUS.driver | STATUS.featuresOk | STATUS.driverOk, STATUS.failed, STATUS.needsReset, 0xff,
];

export type MmioOp =
  | { op: 'write'; offset: number; width: Width; value: bigint }
  | { op: 'read'; offset: number; width: Width }
  | { op: 'status'; value: number }
  | { op: 'features'; bits: bigint }
  | { op: 'queue'; q: number; size: number; desc: Addr; driver: Addr; device: Addr; ready: boolean }
  /** A well-formed queue from the test driver (so buffers really flow). */
  | { op: 'goodQueue'; q: number; size: number }
  | { op: 'chain'; q: number; segs: { len: number; write: boolean }[] }
  | { op: 'kick'; q: number }
  | { op: 'ack' }
  /** §3.1.1 done right: reset, features, good queues of these sizes (null: disabled), DRIVER_OK. */
  | { op: 'start'; features: bigint; sizes: (number | null)[] }
  | { op: 'scribble'; at: number; bytes: Uint8Array }
  | { op: 'input'; bytes: Uint8Array };

export interface MmioCase { device: 'rng' | 'console'; ops: MmioOp[] }

const widthArb = fc.constantFrom(1 as const, 2 as const, 4 as const, 4 as const, 8 as const);
const offsetArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...REGISTERS) },
  { weight: 2, arbitrary: fc.integer({ min: REG.config, max: REG.config + 0x40 }) },
  { weight: 1, arbitrary: fc.nat(0xfff) },
);
const valueArb = fc.oneof(edgeU32().map(BigInt), fc.bigInt(0n, (1n << 64n) - 1n));

const featuresArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(F_VERSION_1, F_VERSION_1 | F_INDIRECT_DESC | F_EVENT_IDX, F_VERSION_1 | F_EVENT_IDX, F_VERSION_1 | F_INDIRECT_DESC) },
  { weight: 1, arbitrary: fc.bigInt(0n, (1n << 64n) - 1n) },
);
const startArb = fc.record({
  op: fc.constant('start' as const), features: featuresArb,
  sizes: fc.array(fc.option(fc.constantFrom(1, 2, 4, 8, 16, 64), { freq: 5 }), { minLength: 2, maxLength: 2 }),
});

const opArb: fc.Arbitrary<MmioOp> = fc.oneof(
  { weight: 1, arbitrary: startArb },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('write' as const), offset: offsetArb, width: widthArb, value: valueArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('read' as const), offset: offsetArb, width: widthArb }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('status' as const), value: fc.oneof(fc.constantFrom(...STATUS_STEPS), fc.nat(0xff)) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('features' as const),
      bits: featuresArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('queue' as const), q: fc.oneof(fc.nat(2), fc.nat(0xffff)),
      size: fc.oneof(fc.constantFrom(1, 2, 4, 8, 16, 64), edgeU32()),
      desc: addrArb(RAM_BYTES), driver: addrArb(RAM_BYTES), device: addrArb(RAM_BYTES), ready: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('goodQueue' as const), q: fc.nat(1), size: fc.constantFrom(1, 2, 4, 8, 16, 64) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('chain' as const), q: fc.nat(1),
      segs: fc.array(fc.record({ len: fc.oneof(fc.nat(64), fc.constantFrom(0, 4096, 65536, 70000)), write: fc.boolean() }), { minLength: 1, maxLength: 4 }),
    }),
  },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('kick' as const), q: fc.oneof(fc.nat(2), fc.nat(40)) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'ack' as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('scribble' as const), at: fc.nat(RAM_BYTES - 1), bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('input' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) }) },
);

export const virtioMmio: FuzzTarget<MmioCase> = {
  name: 'virtio-mmio',
  async: false,
  fromCorpus: (files: readonly CorpusFile[]) => jsonCorpus<MmioCase>(files),
  arbitrary: () => fc.record({
    device: fc.constantFrom('rng' as const, 'console' as const),
    // Mostly a device brought up properly first, so the hostile part meets live queues.
    ops: fc.tuple(fc.option(startArb, { freq: 8, nil: undefined }), fc.array(opArb, { minLength: 1, maxLength: 40 }))
      .map(([start, ops]) => (start ? [start, ...ops] : ops)),
  }),
  expected: () => false, // the transport has no error of its own: a broken ring is DEVICE_NEEDS_RESET
  memoryBound: () => 64 << 20,
  run: runMmio,
};

function runMmio(c: MmioCase): void {
  const ram = new TestRam(RAM_BYTES);
  const output: Uint8Array[] = [];
  const device: VirtioDevice & { receive?: (b: Uint8Array) => void } =
    c.device === 'rng' ? new VirtioRng() : new VirtioConsole((b) => output.push(b));
  const b = new MmioBench(device, ram);
  const drivers: (TestDriver | undefined)[] = [];
  const halves = (a: Addr): [number, number] => {
    const g = BigInt.asUintN(64, gpaOf(a));
    return [Number(g & 0xffff_ffffn), Number(g >> 32n)];
  };
  for (const o of c.ops) {
    switch (o.op) {
      case 'write': b.mmio.write(o.offset, o.width, BigInt.asUintN(8 * o.width, o.value)); break;
      case 'read': {
        const v = b.mmio.read(o.offset, o.width);
        check(typeof v === 'bigint' && v >= 0n && v < 1n << BigInt(8 * o.width), `a ${o.width}-byte read at 0x${o.offset.toString(16)} gave ${v}`);
        break;
      }
      case 'status':
        b.write(REG.status, o.value);
        if (o.value === 0) drivers.length = 0;
        break;
      case 'features': b.setDriverFeatures(o.bits); break;
      case 'queue': {
        b.write(REG.queueSel, o.q);
        b.write(REG.queueNum, o.size);
        const [dl, dh] = halves(o.desc), [al, ah] = halves(o.driver), [ul, uh] = halves(o.device);
        b.write(REG.queueDescLow, dl); b.write(REG.queueDescHigh, dh);
        b.write(REG.queueDriverLow, al); b.write(REG.queueDriverHigh, ah);
        b.write(REG.queueDeviceLow, ul); b.write(REG.queueDeviceHigh, uh);
        if (o.ready) b.write(REG.queueReady, 1);
        break;
      }
      case 'goodQueue': {
        let d: TestDriver;
        try { d = new TestDriver(ram, o.size); } catch { break; } // test RAM used up
        drivers[o.q] = d;
        b.setQueue(o.q, d.layout);
        break;
      }
      case 'chain': {
        const d = drivers[o.q];
        if (!d) break;
        try {
          // Readable before writable, as a well-behaved driver does; the device may still see junk from scribbles.
          const ordered = [...o.segs.filter((s) => !s.write), ...o.segs.filter((s) => s.write)];
          const segs: Segment[] = ordered.map((s) => ({ gpa: ram.alloc(Math.max(1, Math.min(s.len, 4096)), 8), len: Math.min(s.len, 4096), write: s.write }));
          d.add(segs, { indirect: segs.length > 1 && (b.status() & STATUS.featuresOk) !== 0 && o.segs.length % 2 === 0 });
        } catch { /* no descriptors or RAM left */ }
        break;
      }
      case 'start': {
        drivers.length = 0;
        if (!b.negotiate(o.features)) break;
        o.sizes.forEach((size, q) => {
          if (size === null) return;
          try { drivers[q] = new TestDriver(ram, size); } catch { return; }
          b.setQueue(q, drivers[q]!.layout);
        });
        b.driverOk();
        break;
      }
      case 'kick': b.kick(o.q); break;
      case 'ack': b.ack(); break;
      case 'scribble': ram.write(ram.base + Math.min(o.at, RAM_BYTES - o.bytes.length), o.bytes); break;
      case 'input': device.receive?.(o.bytes); break;
    }
    check(ram.guardsIntact(), `a byte outside guest RAM changed (after ${o.op})`);
  }
  const status = b.status();
  note(status & STATUS.needsReset ? `needs reset: ${b.mmio.broken}` : status & STATUS.driverOk ? 'live' : 'not live');
  if (b.mmio.broken) check((status & STATUS.needsReset) !== 0, 'the device is broken but Status lacks DEVICE_NEEDS_RESET');
}
