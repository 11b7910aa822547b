import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelState } from '../../vmbus/channel.js';
import { VirtqueueError } from '../../vmbus/virtqueue.js';
import { RAM_BASE, TestDriver, writable } from '../../vmbus/test-driver.js';
import { StateError, StateReader } from '../../state/contract.js';
import {
  F_EVENT_IDX, F_INDIRECT_DESC, F_VERSION_1, INT_CONFIG_CHANGE, INT_USED_BUFFER, REG, STATUS,
  type DeviceContext, type VirtioDevice, type VirtioMmioState,
} from './virtio-mmio.js';
import { MmioBench, SLOT_BASE } from './test-support.js';

const F_DEVICE_LOW = 1n << 3n, F_DEVICE_HIGH = 1n << 40n;
const ALL_OK = STATUS.acknowledge | STATUS.driver | STATUS.featuresOk | STATUS.driverOk;

/** A VSP that records what the transport asks of it. */
class FakeDevice implements VirtioDevice {
  readonly name = 'fake';
  readonly deviceId = 42;
  readonly features = F_DEVICE_LOW | F_DEVICE_HIGH;
  readonly queueMax = [8, 4];
  readonly config = Uint8Array.from([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa]);
  readonly calls: string[] = [];
  readonly configWrites: [number, number[]][] = [];
  ctx: DeviceContext | undefined;
  onNotify: ((q: number) => void) | undefined;
  onActivate: (() => void) | undefined;

  activate(ctx: DeviceContext): void { this.ctx = ctx; this.calls.push('activate'); this.onActivate?.(); }
  notify(q: number): void { this.calls.push(`notify ${q}`); this.onNotify?.(q); }
  reset(): void { this.ctx = undefined; this.calls.push('reset'); }
  configWrite(offset: number, bytes: Uint8Array): void { this.configWrites.push([offset, [...bytes]]); }
}

function bench() {
  const device = new FakeDevice();
  return { device, b: new MmioBench(device) };
}

/** The device has entered DEVICE_NEEDS_RESET and said so (§2.1.2, §4.2.2). */
function assertNeedsReset(b: MmioBench, generationBefore: number, why: RegExp): void {
  assert.ok(b.status() & STATUS.needsReset, 'DEVICE_NEEDS_RESET is set');
  assert.ok(b.read(REG.interruptStatus) & INT_CONFIG_CHANGE, 'a configuration change interrupt is pending');
  assert.ok(b.line, 'the line is raised');
  assert.notEqual(b.read(REG.configGeneration), generationBefore, 'the configuration generation moved');
  assert.match(b.mmio.broken ?? '', why);
  assert.match(b.log.at(-1) ?? '', /fake: device needs reset/);
}

test('identity registers: magic, version 2, device and vendor id; other widths read 0', () => {
  const { b } = bench();
  assert.equal(b.read(REG.magic), 0x7472_6976);
  assert.equal(b.read(REG.version), 2);
  assert.equal(b.read(REG.deviceId), 42);
  assert.equal(b.read(REG.vendorId), 0x5648_5354);
  assert.equal(b.mmio.read(REG.magic, 2), 0n);
  assert.equal(b.mmio.read(REG.magic, 8), 0n);
  assert.equal(b.read(0x0f8), 0); // a hole in the register file
});

test('DeviceFeatures: word 0 and 1 by DeviceFeaturesSel, the transport bits added, then zeros', () => {
  const { b } = bench();
  const f = b.deviceFeatures();
  assert.equal(f, F_DEVICE_LOW | F_DEVICE_HIGH | F_INDIRECT_DESC | F_EVENT_IDX | F_VERSION_1);
  b.write(REG.deviceFeaturesSel, 0);
  assert.equal(b.read(REG.deviceFeatures), Number(F_DEVICE_LOW | F_INDIRECT_DESC | F_EVENT_IDX));
  b.write(REG.deviceFeaturesSel, 1);
  assert.equal(b.read(REG.deviceFeatures), 0x101); // VERSION_1 (32) and bit 40
  b.write(REG.deviceFeaturesSel, 2);
  assert.equal(b.read(REG.deviceFeatures), 0);
  b.write(REG.deviceFeaturesSel, 0xffff_ffff);
  assert.equal(b.read(REG.deviceFeatures), 0);
});

test('FEATURES_OK sticks for a subset of the offered features with VERSION_1', () => {
  const { b, device } = bench();
  assert.ok(b.negotiate(F_VERSION_1 | F_EVENT_IDX | F_DEVICE_HIGH));
  assert.equal(b.status(), STATUS.acknowledge | STATUS.driver | STATUS.featuresOk);
  // DriverFeatures is frozen once FEATURES_OK is set.
  b.setDriverFeatures(F_VERSION_1 | F_INDIRECT_DESC);
  b.driverOk();
  assert.equal(device.ctx?.features, F_VERSION_1 | F_EVENT_IDX | F_DEVICE_HIGH);
});

test('FEATURES_OK is refused when the driver accepts a feature the device does not offer', () => {
  const { b } = bench();
  assert.equal(b.negotiate(F_VERSION_1 | (1n << 0n)), false);
  assert.equal(b.negotiate(F_VERSION_1 | (1n << 63n)), false);
  assert.equal(b.status() & STATUS.featuresOk, 0);
  // Fixing the features and writing FEATURES_OK again works.
  b.setDriverFeatures(F_VERSION_1);
  b.write(REG.status, STATUS.acknowledge | STATUS.driver | STATUS.featuresOk);
  assert.ok(b.status() & STATUS.featuresOk);
});

test('FEATURES_OK is refused without VIRTIO_F_VERSION_1 (a legacy driver)', () => {
  const { b } = bench();
  assert.equal(b.negotiate(F_DEVICE_LOW), false);
  assert.equal(b.negotiate(0n), false);
});

test('DRIVER_OK without FEATURES_OK: DEVICE_NEEDS_RESET, the device is not activated', () => {
  const { b, device } = bench();
  b.negotiate(0n); // refused
  const gen = b.read(REG.configGeneration);
  b.write(REG.status, STATUS.acknowledge | STATUS.driver | STATUS.driverOk);
  assertNeedsReset(b, gen, /DRIVER_OK without FEATURES_OK/);
  assert.ok(!device.calls.includes('activate'));
  assert.equal(b.channel.state, ChannelState.Offered);
});

for (const [what, num, why] of [
  ['size 0', 0, /queue size 0/],
  ['a size that is not a power of two', 6, /not a power of two/],
  ['a size above QueueNumMax', 16, /size 16 exceeds the maximum 8/],
] as const) {
  test(`a queue of ${what} at DRIVER_OK: DEVICE_NEEDS_RESET`, () => {
    const { b, device } = bench();
    assert.ok(b.negotiate());
    const l = { size: 8, desc: b.ram.alloc(16 * 16, 16), driver: b.ram.alloc(64, 2), device: b.ram.alloc(256, 4) };
    b.setQueue(0, l, num);
    const gen = b.read(REG.configGeneration);
    b.driverOk();
    assertNeedsReset(b, gen, why);
    assert.ok(!device.calls.includes('activate'));
    assert.equal(b.channel.state, ChannelState.Offered);
  });
}

test('a ring address with a high half past 2^53 at DRIVER_OK: DEVICE_NEEDS_RESET', () => {
  const { b } = bench();
  b.negotiate();
  b.write(REG.queueSel, 0);
  b.write(REG.queueNum, 8);
  b.write(REG.queueDescHigh, 0x8000_0000);
  b.write(REG.queueReady, 1);
  const gen = b.read(REG.configGeneration);
  b.driverOk();
  assertNeedsReset(b, gen, /beyond guest RAM/);
});

test('a ring outside guest RAM at DRIVER_OK: DEVICE_NEEDS_RESET', () => {
  const { b } = bench();
  b.negotiate();
  b.setQueue(1, { size: 4, desc: RAM_BASE - 0x1000, driver: RAM_BASE, device: RAM_BASE + 0x100 });
  const gen = b.read(REG.configGeneration);
  b.driverOk();
  assertNeedsReset(b, gen, /queue 1: descriptor table .* not in guest RAM/);
});

test('the driver cannot set DEVICE_NEEDS_RESET itself, nor clear it', () => {
  const { b } = bench();
  b.write(REG.status, STATUS.acknowledge | STATUS.needsReset);
  assert.equal(b.status(), STATUS.acknowledge);
  b.negotiate(0n);
  b.write(REG.status, STATUS.acknowledge | STATUS.driver | STATUS.driverOk); // broken now
  b.write(REG.status, STATUS.acknowledge | STATUS.driver | STATUS.driverOk);
  assert.ok(b.status() & STATUS.needsReset);
});

test('queue registers: QueueNumMax per queue (0 past the last), QueueReady reads back', () => {
  const { b } = bench();
  for (const [q, max] of [[0, 8], [1, 4], [2, 0], [0xffff_ffff, 0]]) {
    b.write(REG.queueSel, q);
    assert.equal(b.read(REG.queueNumMax), max, `queue ${q}`);
    assert.equal(b.read(REG.queueReady), 0);
  }
  b.write(REG.queueSel, 2);
  b.write(REG.queueReady, 1); // no such queue: ignored
  assert.equal(b.read(REG.queueReady), 0);
  b.write(REG.queueSel, 1);
  b.write(REG.queueReady, 1);
  assert.equal(b.read(REG.queueReady), 1);
  b.write(REG.queueSel, 0);
  assert.equal(b.read(REG.queueReady), 0);
});

test('queue registers are ignored while QueueReady is 1 (§4.2.2.2)', () => {
  const { b, device } = bench();
  b.negotiate();
  const l = { size: 8, desc: b.ram.alloc(16 * 8, 16), driver: b.ram.alloc(22, 2), device: b.ram.alloc(70, 4) };
  b.setQueue(0, l);
  b.write(REG.queueNum, 3);
  b.write(REG.queueDescLow, 0x1234);
  b.write(REG.queueDescHigh, 0xffff_ffff);
  b.write(REG.queueDriverLow, 1);
  b.write(REG.queueDeviceHigh, 7);
  b.driverOk();
  assert.equal(b.status(), ALL_OK);
  assert.equal(device.ctx?.queues[0]?.size, 8);
});

test('notifications before DRIVER_OK are ignored (both through the doorbell and the register)', () => {
  const { b, device } = bench();
  b.negotiate();
  const l = { size: 8, desc: b.ram.alloc(16 * 8, 16), driver: b.ram.alloc(22, 2), device: b.ram.alloc(70, 4) };
  b.setQueue(0, l);
  b.kick(0);
  b.write(REG.queueNotify, 0);
  assert.deepEqual(device.calls, ['reset']); // the reset of negotiate()
  assert.equal(b.channel.takeSignals(), 0);
});

test('at DRIVER_OK every enabled queue is looked at once: buffers queued before it are processed', () => {
  const { b, device } = bench();
  const done: number[] = [];
  device.onNotify = (q) => {
    const queue = device.ctx!.queues[q]!;
    for (let c = queue.pop(); c; c = queue.pop()) { queue.push(c, 0); done.push(c.head); }
  };
  b.negotiate();
  const d0 = { size: 8, desc: b.ram.alloc(16 * 8, 16), driver: b.ram.alloc(22, 2), device: b.ram.alloc(70, 4) };
  b.setQueue(0, d0);
  // The driver fills the ring and kicks before DRIVER_OK (Linux's virtio-rng does).
  b.ram.setU64(d0.desc, BigInt(b.ram.alloc(16)));
  b.ram.setU32(d0.desc + 8, 16);
  b.ram.setU16(d0.desc + 12, 2);
  b.ram.setU16(d0.driver + 4, 0);
  b.ram.setU16(d0.driver + 2, 1);
  b.kick(0);
  assert.deepEqual(done, []);
  b.driverOk();
  assert.deepEqual(device.calls.slice(1), ['activate', 'notify 0']); // queue 1 is not enabled
  assert.deepEqual(done, [0]);
  assert.equal(b.ram.u16(d0.device + 2), 1);
});

test('doorbells after DRIVER_OK reach the device, one notify per queue bit; disabled queues are skipped', () => {
  const { b, device } = bench();
  b.start([8, undefined]);
  device.calls.length = 0;
  b.kick(0);
  b.kick(1); // not enabled
  b.kick(5); // no such queue
  b.write(REG.queueNotify, 0); // the slow path
  assert.deepEqual(device.calls, ['notify 0', 'notify 0']);
  device.calls.length = 0;
  b.mmio.serviceSignals(0b11 | (1 << 31));
  assert.deepEqual(device.calls, ['notify 0']);
});

test('notifyUsed interrupts as the queue asks; the guest acks through the hypervisor', () => {
  const { b, device } = bench();
  const [d] = b.start([8]);
  device.onNotify = (q) => {
    const queue = device.ctx!.queues[q]!;
    for (let c = queue.pop(); c; c = queue.pop()) queue.push(c, 1);
    device.ctx!.notifyUsed(queue);
  };
  d!.add([writable(b.ram, 1)]);
  b.kick(0);
  assert.equal(b.read(REG.interruptStatus), INT_USED_BUFFER);
  assert.ok(b.line);
  assert.equal(b.ack(), INT_USED_BUFFER);
  assert.equal(b.line, false);
  d!.setAvailFlags(1); // VIRTQ_AVAIL_F_NO_INTERRUPT
  d!.add([writable(b.ram, 1)]);
  b.kick(0);
  assert.equal(b.read(REG.interruptStatus), 0);
  assert.equal(b.line, false);
  assert.deepEqual(d!.collect().map((e) => e.len), [1, 1]);
});

test('InterruptACK through the register file (the slow path) clears bits too', () => {
  const { b } = bench();
  b.channel.interrupt(INT_USED_BUFFER | INT_CONFIG_CHANGE);
  b.write(REG.interruptAck, INT_USED_BUFFER);
  assert.equal(b.read(REG.interruptStatus), INT_CONFIG_CHANGE);
  assert.ok(b.line);
  b.write(REG.interruptAck, INT_CONFIG_CHANGE);
  assert.equal(b.read(REG.interruptStatus), 0);
  assert.equal(b.line, false);
});

test('reset (Status 0) clears status, queues, features and interrupts, and closes the channel', () => {
  const { b, device } = bench();
  const [d] = b.start([8, 4], F_VERSION_1 | F_EVENT_IDX);
  const ctx = device.ctx!;
  b.channel.interrupt(INT_USED_BUFFER);
  b.write(REG.queueSel, 1);
  assert.equal(b.channel.state, ChannelState.Open);
  device.calls.length = 0;
  b.write(REG.status, 0);
  assert.deepEqual(device.calls, ['reset']);
  assert.equal(b.status(), 0);
  assert.equal(b.read(REG.interruptStatus), 0);
  assert.equal(b.line, false);
  assert.equal(b.channel.state, ChannelState.Offered);
  for (const q of [0, 1]) {
    b.write(REG.queueSel, q);
    assert.equal(b.read(REG.queueReady), 0, `queue ${q}`);
  }
  // A stale context can no longer interrupt.
  d!.add([writable(b.ram, 1)]);
  const q0 = ctx.queues[0]!;
  q0.push(q0.pop()!, 1);
  ctx.notifyUsed(q0);
  ctx.configChanged();
  assert.equal(b.read(REG.interruptStatus), 0);
  // Doorbells are ignored until the next DRIVER_OK.
  b.kick(0);
  assert.deepEqual(device.calls, ['reset']);
  // The driver features were forgotten: FEATURES_OK alone is refused (no VERSION_1).
  b.write(REG.status, STATUS.acknowledge | STATUS.driver | STATUS.featuresOk);
  assert.equal(b.status() & STATUS.featuresOk, 0);
  // DeviceFeaturesSel went back to 0.
  assert.equal(b.read(REG.deviceFeatures), Number(F_DEVICE_LOW | F_INDIRECT_DESC | F_EVENT_IDX));
});

test('a VirtqueueError in the device marks it DEVICE_NEEDS_RESET; the next doorbells are ignored; reset recovers', () => {
  const { b, device } = bench();
  b.start([8]);
  device.onNotify = () => { throw new VirtqueueError('the guest broke the ring'); };
  const gen = b.read(REG.configGeneration);
  b.kick(0);
  assertNeedsReset(b, gen, /broke the ring/);
  assert.ok(device.calls.includes('reset'));
  assert.equal(b.channel.state, ChannelState.Offered);
  device.calls.length = 0;
  b.write(REG.queueNotify, 0);
  b.mmio.serviceSignals(1);
  assert.deepEqual(device.calls, []);
  // The driver resets and starts over.
  device.onNotify = undefined;
  b.start([8]);
  assert.equal(b.status(), ALL_OK);
  assert.equal(b.mmio.broken, undefined);
  b.kick(0);
  assert.deepEqual(device.calls.slice(-2), ['notify 0', 'notify 0']);
});

test('a VirtqueueError while activating marks DEVICE_NEEDS_RESET too', () => {
  const { b, device } = bench();
  device.onActivate = () => { throw new VirtqueueError('bad ring at activation'); };
  const gen = b.read(REG.configGeneration);
  b.start([8]);
  assertNeedsReset(b, gen, /bad ring at activation/);
  assert.ok(!device.calls.includes('notify 0'));
});

test('any other error in the device is a VSP fault and propagates', () => {
  const { b, device } = bench();
  b.start([8]);
  device.onNotify = () => { throw new TypeError('a bug in the VSP'); };
  assert.throws(() => b.kick(0), TypeError);
  assert.throws(() => b.write(REG.queueNotify, 0), TypeError);
  assert.equal(b.status() & STATUS.needsReset, 0);
  assert.equal(b.mmio.broken, undefined);
});

test('configuration space reads at widths 1, 2, 4 and 8 are little-endian; past the end reads 0', () => {
  const { b } = bench();
  assert.equal(b.mmio.read(REG.config, 1), 0x11n);
  assert.equal(b.mmio.read(REG.config + 3, 1), 0x44n);
  assert.equal(b.mmio.read(REG.config + 2, 2), 0x4433n);
  assert.equal(b.mmio.read(REG.config + 4, 4), 0x8877_6655n);
  assert.equal(b.mmio.read(REG.config, 8), 0x8877_6655_4433_2211n);
  assert.equal(b.mmio.read(REG.config + 8, 2), 0xaa99n);
  assert.equal(b.mmio.read(REG.config + 9, 2), 0n); // straddles the end
  assert.equal(b.mmio.read(REG.config + 0x100, 4), 0n);
});

test('configuration space writes reach the device as little-endian bytes; past the end they are dropped', () => {
  const { b, device } = bench();
  b.mmio.write(REG.config + 2, 2, 0xbeefn);
  b.mmio.write(REG.config, 8, 0x0102_0304_0506_0708n);
  b.mmio.write(REG.config + 9, 4, 1n);
  assert.deepEqual(device.configWrites, [[2, [0xef, 0xbe]], [0, [8, 7, 6, 5, 4, 3, 2, 1]]]);
});

test('no shared memory regions: SHMLen and SHMBase read as all ones (§4.2.2)', () => {
  const { b } = bench();
  b.write(REG.shmSel, 0);
  assert.equal(b.read(REG.shmLenLow), 0xffff_ffff);
  assert.equal(b.read(REG.shmLenHigh), 0xffff_ffff);
  assert.equal(b.read(REG.shmBaseLow), 0xffff_ffff);
  assert.equal(b.read(REG.shmBaseHigh), 0xffff_ffff);
});

test('configChanged from a live device bumps the generation and raises a configuration interrupt', () => {
  const { b, device } = bench();
  b.start([8]);
  const gen = b.read(REG.configGeneration);
  device.ctx!.configChanged();
  assert.equal(b.read(REG.configGeneration), (gen + 1) >>> 0);
  assert.equal(b.read(REG.interruptStatus), INT_CONFIG_CHANGE);
  assert.equal(b.status() & STATUS.needsReset, 0);
});

test('ctx.run guards device code outside a transport call, and runs nothing once the context is stale', () => {
  const { b, device } = bench();
  b.start([8]);
  const ctx = device.ctx!;
  let ran = 0;
  ctx.run(() => { ran++; });
  assert.equal(ran, 1);
  const gen = b.read(REG.configGeneration);
  assert.doesNotThrow(() => ctx.run(() => { throw new VirtqueueError('bad ring seen on host input'); }));
  assertNeedsReset(b, gen, /bad ring seen on host input/);
  ctx.run(() => { ran++; });
  assert.equal(ran, 1, 'stale after DEVICE_NEEDS_RESET');
  b.start([8]);
  assert.throws(() => device.ctx!.run(() => { throw new RangeError('a VSP bug'); }), RangeError);
});

test('rescind (hot-unplug): the driver sees DEVICE_NEEDS_RESET, doorbells stop, a reset does not revive it', () => {
  const { b, device } = bench();
  b.start([8]);
  const generation = b.read(REG.configGeneration);
  b.mmio.rescind();
  assertNeedsReset(b, generation, /removed/);
  assert.equal(b.channel.state, ChannelState.Rescinded);
  device.calls.length = 0;
  b.kick(0);
  assert.deepEqual(device.calls, [], 'no notify after rescind');
  b.start([8]);
  assert.ok(b.status() & STATUS.needsReset, 'DRIVER_OK after a reset fails again');
  assert.match(b.mmio.broken ?? '', /rescinded/);
});

// --- Save and restore ----------------------------------------------------------------------------
// A restore goes into a fresh transport and device over the same guest RAM (restored before
// the devices, as the VM worker does); the TestDrivers play the guest, whose state is that RAM.

const roundTrip = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The device serves a queue as the VSPs do: every chain used with length 1, then notifyUsed. */
function serve(device: FakeDevice): void {
  device.onNotify = (q) => {
    const queue = device.ctx!.queues[q]!;
    for (let c = queue.pop(); c; c = queue.pop()) queue.push(c, 1);
    device.ctx!.notifyUsed(queue);
  };
}

/**
 * A live device with EVENT_IDX: two chains served on queue 0 and their interrupt pending,
 * then a third chain made available with its doorbell rung but not yet taken by the VM
 * worker; queue 1 enabled and idle.
 */
function liveBench() {
  const { b, device } = bench();
  serve(device);
  const [d0, d1] = b.start([8, 4], F_VERSION_1 | F_EVENT_IDX) as TestDriver[];
  d0.add([writable(b.ram, 1)]);
  d0.add([writable(b.ram, 1)]);
  b.kick(0);
  const third = d0.add([writable(b.ram, 1)]);
  b.regs.access(SLOT_BASE + BigInt(REG.queueNotify), 4, true, 0n); // rung, not delivered
  b.write(REG.queueSel, 1);
  return { b, device, d0, d1, third };
}

test('save/restore: a live device continues over the saved rings and indices, and nothing is replayed', () => {
  const a = liveBench();
  const usedBefore = a.b.ram.bytes(a.d0.layout.device, 6 + 8 * 8).slice();
  const saved = roundTrip(a.b.mmio.save());
  assert.equal(saved.version, 1);
  assert.deepEqual(saved.live?.queues.map((q) => q && [q.lastAvail, q.usedIdx, q.signalledUsed]), [[2, 2, 2], [0, 0, 0]]);
  assert.equal(saved.device, null, 'the fake device has no state of its own');

  const b = new MmioBench(new FakeDevice(), a.b.ram);
  const device = b.device as FakeDevice;
  serve(device);
  b.mmio.restore(saved);
  assert.deepEqual(device.calls, ['reset', 'activate'], 'no queue is looked at');
  assert.deepEqual(b.ram.bytes(a.d0.layout.device, usedBefore.length), usedBefore, 'the used ring is untouched');
  assert.deepEqual(b.levels, [true], 'the pending used-buffer interrupt drives the line');
  assert.equal(b.status(), ALL_OK);
  assert.equal(b.read(REG.interruptStatus), INT_USED_BUFFER);
  assert.equal(b.read(REG.queueReady), 1, 'queue 1 is ready');
  assert.equal(b.read(REG.queueNumMax), 4, 'QueueSel 1 carried over');
  assert.equal(b.read(REG.configGeneration), a.b.read(REG.configGeneration));
  assert.equal(device.ctx!.features, F_VERSION_1 | F_EVENT_IDX);
  assert.deepEqual(device.ctx!.queues.map((q) => q?.layout), [a.d0.layout, a.d1.layout]);
  assert.deepEqual(JSON.parse(JSON.stringify(b.mmio.save())), saved, 'saving again gives the same state');

  // The doorbell rung before the save is served now, continuing the used ring.
  const bits = b.channel.takeSignals();
  assert.equal(bits, 1);
  b.mmio.serviceSignals(bits);
  assert.deepEqual(device.calls.slice(2), ['notify 0']);
  assert.deepEqual(a.d0.collect().map((e) => e.id).at(-1), a.third);
  assert.equal(a.d0.usedIdx(), 3);
  // Interrupts and acks work as before.
  assert.equal(b.ack(), INT_USED_BUFFER);
  assert.equal(b.line, false);
  a.d1.add([writable(b.ram, 1)]);
  b.kick(1);
  assert.equal(a.d1.usedIdx(), 1);
  assert.ok(b.line);
});

test('save/restore: the live queue is the one DRIVER_OK granted, even if the driver rewrote its registers since', () => {
  const a = liveBench();
  a.b.write(REG.queueSel, 0);
  a.b.write(REG.queueReady, 0); // QueueReady 0 makes the registers editable again
  a.b.write(REG.queueDescLow, 0x1230);
  const saved = roundTrip(a.b.mmio.save());
  assert.equal(saved.queues[0].ready, false);
  assert.equal(saved.queues[0].desc, String(0x1230));
  const b = new MmioBench(new FakeDevice(), a.b.ram);
  b.mmio.restore(saved);
  assert.deepEqual((b.device as FakeDevice).ctx!.queues[0]!.layout, a.d0.layout);
  assert.equal(b.read(REG.queueReady), 0);
  assert.deepEqual(JSON.parse(JSON.stringify(b.mmio.save())), saved);
});

test('save/restore: a device being set up continues its initialization after the restore', () => {
  const a = bench();
  a.b.write(REG.status, STATUS.acknowledge | STATUS.driver);
  a.b.setDriverFeatures(F_VERSION_1 | F_DEVICE_HIGH);
  a.b.write(REG.driverFeaturesSel, 1);
  a.b.write(REG.deviceFeaturesSel, 1);
  const d = new TestDriver(a.b.ram, 8);
  a.b.setQueue(0, d.layout);
  a.b.write(REG.queueReady, 0);
  const saved = roundTrip(a.b.mmio.save());
  assert.equal(saved.live, null);
  assert.equal(saved.channel.state, 'offered');

  const b = new MmioBench(new FakeDevice(), a.b.ram);
  b.mmio.restore(saved);
  assert.equal(b.status(), STATUS.acknowledge | STATUS.driver);
  assert.equal(b.read(REG.deviceFeatures), Number(F_DEVICE_HIGH >> 32n) | 1, 'DeviceFeaturesSel 1');
  assert.equal(b.line, false);
  b.write(REG.queueSel, 0);
  b.write(REG.queueReady, 1);
  b.write(REG.status, STATUS.acknowledge | STATUS.driver | STATUS.featuresOk);
  b.driverOk();
  const device = b.device as FakeDevice;
  assert.deepEqual(device.calls, ['reset', 'activate', 'notify 0']);
  assert.equal(device.ctx!.features, F_VERSION_1 | F_DEVICE_HIGH, 'the driver features carried over');
  assert.deepEqual(device.ctx!.queues[0]!.layout, d.layout, 'the queue registers carried over');
});

test('save/restore: a device that needs a reset stays so until the driver resets it', () => {
  const a = bench();
  a.b.negotiate();
  a.b.setQueue(0, { size: 8, desc: a.b.ram.end, driver: RAM_BASE, device: RAM_BASE });
  a.b.driverOk();
  assert.ok(a.b.mmio.broken);
  const saved = roundTrip(a.b.mmio.save());
  const b = new MmioBench(new FakeDevice(), a.b.ram);
  b.mmio.restore(saved);
  assert.equal(b.mmio.broken, a.b.mmio.broken);
  assert.ok(b.status() & STATUS.needsReset);
  assert.equal(b.read(REG.interruptStatus), INT_CONFIG_CHANGE);
  assert.ok(b.line);
  assert.equal(b.read(REG.configGeneration), a.b.read(REG.configGeneration));
  b.start([8]);
  assert.equal(b.mmio.broken, undefined, 'a reset recovers it');
  assert.equal(b.status(), ALL_OK);
});

/** A VSP with a state of its own: a number in 0..100. */
class StatefulDevice extends FakeDevice {
  value = 0;
  save(): { version: 1; value: number } { return { version: 1, value: this.value }; }
  restore(state: unknown): void {
    this.value = new StateReader('stateful', state, 1).int('value', 0, 100);
    this.calls.push(`restore ${this.value} ${this.ctx ? 'with' : 'without'} a context`);
  }
}

test('save/restore: the VSP gets its own part first, without a context, then is activated', () => {
  const a = new StatefulDevice();
  const ab = new MmioBench(a);
  ab.start([8]);
  a.value = 42;
  const saved = roundTrip(ab.mmio.save());
  assert.deepEqual(saved.device, { version: 1, value: 42 });
  const d = new StatefulDevice();
  const b = new MmioBench(d, ab.ram);
  b.mmio.restore(saved);
  assert.equal(d.value, 42);
  assert.deepEqual(d.calls, ['restore 42 without a context', 'reset', 'activate']);

  // Its part is checked by itself; a refusal leaves the transport and the device unchanged.
  const c = new StatefulDevice();
  const cb = new MmioBench(c, ab.ram);
  const before = JSON.stringify(cb.mmio.save());
  for (const device of [{ version: 1, value: 101 }, { version: 2, value: 1 }, null, [], 'x']) {
    assert.throws(() => cb.mmio.restore({ ...saved, device }), StateError, JSON.stringify(device));
  }
  assert.equal(JSON.stringify(cb.mmio.save()), before);
  assert.deepEqual(c.calls, []);
  // A device without a state of its own refuses one.
  assert.throws(() => new MmioBench(new FakeDevice(), ab.ram).mmio.restore(saved), StateError);
});

test('save/restore: a hostile state is refused with StateError and the transport is unchanged', () => {
  const a = liveBench();
  const saved = roundTrip(a.b.mmio.save());
  const live = saved.live!;
  const q0 = live.queues[0]!;
  const withLive = (queues: unknown[], extra: object = {}) => ({ ...saved, live: { ...live, queues, ...extra } });
  const bad: [string, unknown][] = [
    ['not an object', 'state'], ['version', { ...saved, version: 2 }], ['no status', { ...saved, status: undefined }],
    ['status', { ...saved, status: 256 }], ['selector', { ...saved, queueSel: -1 }], ['selector', { ...saved, driverFeaturesSel: 2 ** 32 }],
    ['features', { ...saved, driverFeatures: '18446744073709551616' }], ['features', { ...saved, driverFeatures: 3 }],
    ['generation', { ...saved, configGeneration: -1 }],
    ['queue count', { ...saved, queues: saved.queues.slice(1) }], ['queue count', { ...saved, queues: [...saved.queues, saved.queues[0]] }],
    ['queue num', { ...saved, queues: [{ ...saved.queues[0], num: 2 ** 32 }, saved.queues[1]] }],
    ['queue address', { ...saved, queues: [{ ...saved.queues[0], desc: '-1' }, saved.queues[1]] }],
    ['queue ready', { ...saved, queues: [{ ...saved.queues[0], ready: 1 }, saved.queues[1]] }],
    ['reason without NEEDS_RESET', { ...saved, broken: 'x' }],
    ['NEEDS_RESET without reason', { ...saved, status: saved.status | STATUS.needsReset }],
    ['reason too long', { ...saved, live: null, channel: { ...saved.channel, state: 'offered' }, status: saved.status | STATUS.needsReset, broken: 'x'.repeat(1025) }],
    ['live and broken', { ...saved, status: saved.status | STATUS.needsReset, broken: 'x' }],
    ['live without an open channel', { ...saved, channel: { ...saved.channel, state: 'offered' } }],
    ['open channel without live', { ...saved, live: null }],
    ['channel', { ...saved, channel: { ...saved.channel, signals: -1 } }], ['channel', { ...saved, channel: undefined }],
    ['live queue count', withLive([q0])], ['live queue count', withLive([q0, null, null])],
    ['a queue beyond queueMax', withLive([{ ...q0, size: 16 }, null])],
    ['queue size 0', withLive([{ ...q0, size: 0 }, null])],
    ['queue size not a power of two', withLive([{ ...q0, size: 6 }, null])],
    ['ring outside RAM', withLive([{ ...q0, desc: String(a.b.ram.end) }, null])],
    ['ring past 2^53', withLive([{ ...q0, device: String(2n ** 60n) }, null])],
    ['ring misaligned', withLive([{ ...q0, device: String(Number(q0.device) + 2) }, null])],
    ['index', withLive([{ ...q0, lastAvail: 0x10000 }, null])], ['index', withLive([{ ...q0, usedIdx: undefined }, null])],
    ['live features not offered', withLive(live.queues, { features: String(F_VERSION_1 | (1n << 50n)) })],
    ['live features without VERSION_1', withLive(live.queues, { features: String(F_EVENT_IDX) })],
    ['live not an object', { ...saved, live: [] }],
    ['device state for a device without one', { ...saved, device: { version: 1 } }], ['device missing', { ...saved, device: undefined }],
  ];
  const b = liveBench();
  const before = JSON.stringify(b.b.mmio.save());
  const calls = b.device.calls.length, levels = b.b.levels.length;
  for (const [what, state] of bad) assert.throws(() => b.b.mmio.restore(state), StateError, what);
  assert.equal(JSON.stringify(b.b.mmio.save()), before);
  assert.equal(b.device.calls.length, calls, 'the device was not touched');
  assert.equal(b.b.levels.length, levels, 'the line was not touched');
  assert.equal(b.b.channel.takeSignals(), 1, 'the channel still holds its doorbell');
  // The unchanged saved state itself is fine.
  const c = new MmioBench(new FakeDevice(), a.b.ram);
  c.mmio.restore(saved);
  assert.equal(c.status(), ALL_OK);
});

test('save and restore while the VSP has requests in flight are bugs (plain Errors), not bad states', () => {
  const { b, device } = bench();
  const d = device as FakeDevice & { busy?: () => boolean };
  let busy = true;
  d.busy = () => busy;
  assert.throws(() => b.mmio.save(), (e: unknown) => e instanceof Error && !(e instanceof StateError) && /in flight/.test(e.message));
  busy = false;
  const saved: VirtioMmioState = b.mmio.save();
  busy = true;
  assert.throws(() => b.mmio.restore(saved), (e: unknown) => e instanceof Error && !(e instanceof StateError));
});

test('quiesce resolves at once when idle, else when the VSP says it went idle; the owner hears it too', async () => {
  const { b, device } = bench();
  const d = device as FakeDevice & { busy?: () => boolean; onIdle?: () => void };
  let inFlight = 0, woken = 0;
  d.busy = () => inFlight > 0;
  b.mmio.onIdle = () => woken++;
  await b.mmio.quiesce();
  inFlight = 2;
  let resolved = false;
  const q = b.mmio.quiesce().then(() => { resolved = true; });
  const q2 = b.mmio.quiesce();
  inFlight = 1;
  d.onIdle!(); // a VSP calls it only at zero; the transport checks anyway
  await new Promise((r) => setImmediate(r));
  assert.equal(resolved, false, 'one request is still in flight');
  inFlight = 0;
  d.onIdle!();
  await q; await q2;
  assert.equal(woken, 2, 'the VM worker is woken each time, as before');
});
