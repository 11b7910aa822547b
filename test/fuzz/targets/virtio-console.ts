// virtio-console (src/parent/vsp/console.ts) behind its transport: receive and transmit
// chains of any shape, host input at any moment, resets, and a hostile driver's raw
// descriptors. Fails on any exception out of the transport or a byte changed outside
// guest RAM; for a well-behaved driver also when the host's output is not exactly the
// transmitted bytes in order, or the guest's received bytes are not the host's input in
// order (no loss, no duplicate), or a used length exceeds the chain's writable bytes.
import fc from 'fast-check';
import { VirtioConsole } from '../../../src/parent/vsp/console/device.js';
import { STATUS } from '../../../src/parent/vsp/virtio-mmio.js';
import { check, jsonCorpus, note, type CorpusFile, type FuzzTarget } from '../harness.js';
import { GuestDriver, driverCaseArb, type DriverCase, type DriverOp } from './vsp-driver.js';

const RX = 0, TX = 1;
const MAX_TX_CHAIN = 1 << 20;

export interface ConsoleCase extends Omit<DriverCase, 'ops'> { ops: (DriverOp | { op: 'input'; bytes: Uint8Array })[] }

const inputArb = fc.record({ op: fc.constant('input' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 200 }) });

export const virtioConsole: FuzzTarget<ConsoleCase> = {
  name: 'virtio-console',
  async: false,
  fromCorpus: (files: readonly CorpusFile[]) => jsonCorpus<ConsoleCase>(files),
  arbitrary: () => driverCaseArb(2).chain((c) =>
    fc.array(inputArb, { maxLength: 8 }).chain((inputs) => fc.shuffledSubarray([...c.ops, ...inputs], { minLength: c.ops.length + inputs.length }))
      .map((ops) => ({ ...c, ops }))),
  expected: () => false,
  memoryBound: () => 64 << 20,
  run(c) {
    const output: Uint8Array[] = [];
    const device = new VirtioConsole((b) => output.push(b.slice()));
    const g = new GuestDriver(device, c.features, c.sizes);
    const input: Uint8Array[] = [];
    for (const o of c.ops) {
      if (o.op === 'input') { input.push(o.bytes); device.receive(o.bytes); } else g.apply(o);
      g.collect();
      check(g.ram.guardsIntact(), `a byte outside guest RAM changed (after ${o.op})`);
    }
    g.bench.kick(RX);
    g.bench.kick(TX);
    g.collect();
    const broken = (g.bench.status() & STATUS.needsReset) !== 0;
    note(g.hostile ? `hostile driver${broken ? ', device needs reset' : ''}` : `${g.used.length ? 'chains used' : 'no chain'}`);
    if (g.hostile) return;
    check(!broken, `a well-behaved driver got DEVICE_NEEDS_RESET: ${g.bench.mmio.broken}`);
    check(g.inFlight[TX]!.size === 0, `${g.inFlight[TX]!.size} transmit chains left unanswered after a kick`);

    const sent = concat(g.used.filter((u) => u.made.q === TX).map((u) => concat(u.made.sent).subarray(0, MAX_TX_CHAIN)));
    check(Buffer.compare(concat(output), sent) === 0, `the host got ${concat(output).length} bytes of output, the guest sent ${sent.length} (or other bytes)`);

    const got: Uint8Array[] = [];
    for (const { made, len } of g.used.filter((u) => u.made.q === RX)) {
      const room = made.writable.reduce((n, s) => n + s.len, 0);
      check(len <= room, `receive chain ${made.head}: used length ${len} for ${room} writable bytes`);
      got.push(concat(made.writable.map((s) => g.bytes(s))).subarray(0, len));
    }
    const received = concat(got), typed = concat(input);
    check(Buffer.compare(received, typed.subarray(0, received.length)) === 0, 'the guest received bytes that are not the host\'s input, in order');
  },
};

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}
