import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelState } from '../../vmbus/channel.js';
import { VirtqueueError } from '../../vmbus/virtqueue.js';
import { RAM_BASE, writable } from '../../vmbus/test-driver.js';
import {
  F_EVENT_IDX, F_INDIRECT_DESC, F_VERSION_1, INT_CONFIG_CHANGE, INT_USED_BUFFER, REG, STATUS,
  type DeviceContext, type VirtioDevice,
} from './virtio-mmio.js';
import { MmioBench } from './test-support.js';

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
    for (let c = queue.pop(); c; c = queue.pop()) { queue.push(c.head, 0); done.push(c.head); }
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
    for (let c = queue.pop(); c; c = queue.pop()) queue.push(c.head, 1);
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
  q0.push(q0.pop()!.head, 1);
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
