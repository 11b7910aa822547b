// virtio-rng (src/parent/vsp/rng.ts) behind its transport: chains of any shape and size
// from a well-behaved driver, and from a hostile one (raw descriptors, heads and indices).
// Fails on any exception out of the transport, a byte changed outside guest RAM, and, for
// a well-behaved driver, a chain left unanswered, a used length other than
// min(writable bytes, 64 KiB), or a write into a device-readable buffer.
import { VirtioRng } from '../../../src/parent/vsp/rng/device.js';
import { STATUS } from '../../../src/parent/vsp/virtio-mmio.js';
import { check, jsonCorpus, note, type CorpusFile, type FuzzTarget } from '../harness.js';
import { GuestDriver, driverCaseArb, type DriverCase } from './vsp-driver.js';

const MAX_BYTES_PER_BUFFER = 64 * 1024;

export const virtioRng: FuzzTarget<DriverCase> = {
  name: 'virtio-rng',
  async: false,
  fromCorpus: (files: readonly CorpusFile[]) => jsonCorpus<DriverCase>(files),
  arbitrary: () => driverCaseArb(1),
  expected: () => false,
  memoryBound: () => 64 << 20,
  run(c) {
    const g = new GuestDriver(new VirtioRng(), c.features, c.sizes);
    for (const o of c.ops) {
      g.apply(o);
      g.collect();
      check(g.ram.guardsIntact(), `a byte outside guest RAM changed (after ${o.op})`);
    }
    g.bench.kick(0);
    g.collect();
    const broken = (g.bench.status() & STATUS.needsReset) !== 0;
    note(g.hostile ? `hostile driver${broken ? ', device needs reset' : ''}` : `${g.used.length ? 'chains used' : 'no chain'}`);
    if (g.hostile) return;
    check(!broken, `a well-behaved driver got DEVICE_NEEDS_RESET: ${g.bench.mmio.broken}`);
    check(g.inFlight[0]!.size === 0, `${g.inFlight[0]!.size} chains left unanswered after a kick`);
    for (const { made, len } of g.used) {
      const room = made.writable.reduce((n, s) => n + s.len, 0);
      check(len === Math.min(room, MAX_BYTES_PER_BUFFER), `chain ${made.head}: used length ${len} for ${room} writable bytes`);
      made.readable.forEach((r, i) => check(Buffer.compare(g.bytes(r), made.sent[i]!) === 0, `chain ${made.head}: the device wrote into a readable buffer`));
    }
  },
};
