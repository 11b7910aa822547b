import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDriver, readable, writable } from '../../../vmbus/test-driver.js';
import { VirtioRng, VIRTIO_ID_RNG } from './device.js';
import { INT_USED_BUFFER, REG } from '../virtio-mmio.js';
import { MmioBench, SLOT_BASE } from '../test-support.js';

test('rng fills each writable buffer with random bytes and interrupts', () => {
  const b = new MmioBench(new VirtioRng());
  assert.equal(b.read(REG.deviceId), VIRTIO_ID_RNG);
  const [d] = b.start([8]);
  const w1 = writable(b.ram, 64), w2 = writable(b.ram, 64);
  d!.add([w1]);
  d!.add([w2]);
  b.kick(0);
  assert.deepEqual(d!.collect().map((e) => e.len), [64, 64]);
  const a = b.ram.bytes(w1.gpa as number, 64), c = b.ram.bytes(w2.gpa as number, 64);
  assert.ok(new Set(a).size > 16, 'not a constant');
  assert.notDeepEqual(a, c);
  assert.equal(b.read(REG.interruptStatus), INT_USED_BUFFER);
});

test('rng gives at most 64 KiB per request, across the chain\'s buffers, and nothing to readable ones', () => {
  const b = new MmioBench(new VirtioRng());
  const [d] = b.start([8]);
  const big = writable(b.ram, 0x18000);
  d!.add([writable(b.ram, 0x8000), big]);
  d!.add([readable(b.ram, [1, 2, 3])]);
  b.kick(0);
  assert.deepEqual(d!.collect().map((e) => e.len), [0x10000, 0]);
  const tail = b.ram.bytes(big.gpa as number + 0x8000, 0x10000);
  assert.ok(tail.every((x) => x === 0), 'bytes past 64 KiB are left alone');
  const one = writable(b.ram, 0x20000); // a single buffer: 64 KiB in one piece
  d!.add([one]);
  b.kick(0);
  assert.deepEqual(d!.collect().map((e) => e.len), [0x10000]);
  assert.ok(b.ram.bytes(one.gpa as number + 0x10000, 0x10000).every((x) => x === 0));
});

test('buffers the driver queued (and kicked) before DRIVER_OK are filled at DRIVER_OK', () => {
  const b = new MmioBench(new VirtioRng());
  assert.ok(b.negotiate());
  const d = new TestDriver(b.ram, 8);
  b.setQueue(0, d.layout);
  const w = writable(b.ram, 32);
  d.add([w]);
  b.kick(0);
  assert.equal(d.usedIdx(), 0);
  b.driverOk();
  assert.deepEqual(d.collect(), [{ id: 0, len: 32 }]);
  assert.ok(!b.ram.bytes(w.gpa as number, 32).every((x) => x === 0));
});

test('save/restore: only the transport\'s part; a fresh rng serves the buffer posted and rung before the save', () => {
  const a = new MmioBench(new VirtioRng());
  const [d] = a.start([8]);
  d!.add([writable(a.ram, 16)]);
  a.kick(0);
  const w = writable(a.ram, 32);
  d!.add([w]);
  a.regs.access(SLOT_BASE + BigInt(REG.queueNotify), 4, true, 0n); // rung, not yet delivered
  const saved = JSON.parse(JSON.stringify(a.mmio.save()));
  assert.equal(saved.device, null);
  const b = new MmioBench(new VirtioRng(), a.ram);
  b.mmio.restore(saved);
  assert.equal(d!.usedIdx(), 1);
  b.mmio.serviceSignals(b.channel.takeSignals());
  assert.deepEqual(d!.collect(), [{ id: 0, len: 16 }, { id: 1, len: 32 }]);
  assert.ok(!b.ram.bytes(w.gpa as number, 32).every((x) => x === 0));
});
