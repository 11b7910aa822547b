// The synthetic devices of a VM as a whole: quiesce, save and restore over every transport,
// in slot order, as the VM worker calls them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createChannelTable } from '../../vmbus/channel.js';
import { TestDriver, TestRam, readable, writable } from '../../vmbus/test-driver.js';
import { MmioBus } from '../devices/mmio.js';
import { tempDir } from '../drivers/disk/test-support.js';
import { StateError } from '../../state/contract.js';
import { attachSyntheticDevices, type SyntheticDevices, type SyntheticState } from './synthetic.js';
import { REG, STATUS, type VirtioMmio } from './virtio-mmio.js';
import { until } from './test-support.js';

const dir = tempDir();
const image = join(dir, 'vda.img');
writeFileSync(image, Uint8Array.from({ length: 64 * 512 }, (_, i) => (i % 251) + 1));

const BLK = 0, CONSOLE_SLOT = 1, RNG_SLOT = 2;
const roundTrip = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** A VM's synthetic devices over `ram` (one raw disk unless told otherwise). */
async function attach(ram: TestRam, disks = [{ path: image, readOnly: false }]) {
  const console: number[] = [];
  const faults: unknown[] = [];
  const s = await attachSyntheticDevices({
    disks, channelTable: createChannelTable(), memory: ram.mem, bus: new MmioBus(),
    interruptLine: () => () => {}, consoleOutput: (b) => console.push(...b), log: () => {}, wake: () => {},
    fault: (_, e) => faults.push(e), ioError: () => {},
  });
  return { s, console, faults };
}

/** §3.1.1 through the transport's registers: VERSION_1 only, queues of `sizes`, DRIVER_OK. */
function bringUp(t: VirtioMmio, ram: TestRam, sizes: number[]): TestDriver[] {
  const w = (o: number, v: number) => t.write(o, 4, BigInt(v >>> 0));
  w(REG.status, 0);
  w(REG.status, STATUS.acknowledge | STATUS.driver);
  w(REG.driverFeaturesSel, 1); w(REG.driverFeatures, 1); // bit 32: VERSION_1
  w(REG.driverFeaturesSel, 0); w(REG.driverFeatures, 0);
  w(REG.status, STATUS.acknowledge | STATUS.driver | STATUS.featuresOk);
  const drivers = sizes.map((n, q) => {
    const d = new TestDriver(ram, n);
    w(REG.queueSel, q); w(REG.queueNum, n);
    w(REG.queueDescLow, d.layout.desc); w(REG.queueDriverLow, d.layout.driver); w(REG.queueDeviceLow, d.layout.device);
    w(REG.queueReady, 1);
    return d;
  });
  w(REG.status, STATUS.acknowledge | STATUS.driver | STATUS.featuresOk | STATUS.driverOk);
  return drivers;
}

/** A virtio-blk read of one sector into a fresh buffer; returns the status byte's address. */
function readSector(ram: TestRam, d: TestDriver, sector: number): number {
  const h = new DataView(new ArrayBuffer(16));
  h.setBigUint64(8, BigInt(sector), true); // type 0: VIRTIO_BLK_T_IN
  const status = writable(ram, 1);
  d.add([readable(ram, new Uint8Array(h.buffer)), writable(ram, 512), status]);
  return status.gpa as number;
}

const kick = (s: SyntheticDevices, slot: number, q: number) => s.transports[slot].write(REG.queueNotify, 4, BigInt(q));

test('quiesce waits for the disk request in flight; save and restore carry every device into a fresh VM', async () => {
  const ram = new TestRam();
  const a = await attach(ram);
  const [blkQ] = bringUp(a.s.transports[BLK], ram, [16]);
  const [rxQ] = bringUp(a.s.transports[CONSOLE_SLOT], ram, [8, 8]);
  bringUp(a.s.transports[RNG_SLOT], ram, [8]);
  a.s.console.receive(Uint8Array.from([0x68, 0x69]));
  readSector(ram, blkQ, 1);
  kick(a.s, BLK, 0);
  assert.equal(a.s.disks[0].inFlight, 1, 'the read is on its way to the image');
  await a.s.quiesce();
  assert.equal(a.s.disks[0].inFlight, 0);
  assert.equal(blkQ.usedIdx(), 1, 'and its chain is back before quiesce resolved');
  const saved = roundTrip(a.s.save());
  assert.deepEqual(saved.devices.map((d) => d.deviceId), [2, 3, 4]);
  await a.s.close();

  const b = await attach(ram);
  b.s.restore(saved);
  assert.deepEqual(roundTrip(b.s.save()), saved);
  // The console's backlog arrives once the guest posts a buffer.
  const w = writable(ram, 8);
  rxQ.add([w]);
  kick(b.s, CONSOLE_SLOT, 0);
  assert.deepEqual([...ram.bytes(w.gpa as number, 2)], [0x68, 0x69]);
  // The disk continues its ring.
  const status = readSector(ram, blkQ, 2);
  kick(b.s, BLK, 0);
  await until(() => blkQ.usedIdx() === 2, 2000, 'the read after the restore');
  assert.equal(ram.u8(status), 0);
  assert.deepEqual(b.faults, []);
  await b.s.quiesce();
  await b.s.close();
});

test('restore refuses another set of devices, or any bad device, and leaves every device as it was', async () => {
  const ram = new TestRam();
  const a = await attach(ram);
  bringUp(a.s.transports[BLK], ram, [16]);
  bringUp(a.s.transports[CONSOLE_SLOT], ram, [8, 8]);
  bringUp(a.s.transports[RNG_SLOT], ram, [8]);
  const saved = roundTrip(a.s.save());
  await a.s.close();

  const b = await attach(ram);
  const before = JSON.stringify(b.s.save());
  const devices = saved.devices;
  const bad: [string, unknown][] = [
    ['not an object', []], ['version', { ...saved, version: 2 }], ['no devices', { version: 1 }],
    ['one device fewer', { ...saved, devices: devices.slice(1) }],
    ['one device more', { ...saved, devices: [...devices, devices[2]] }],
    ['another kind in a slot', { ...saved, devices: [devices[0], { ...devices[1], deviceId: 4 }, devices[2]] }],
    ['slots swapped', { ...saved, devices: [devices[0], devices[2], devices[1]] }],
    ['a bad device id', { ...saved, devices: [{ ...devices[0], deviceId: -1 }, devices[1], devices[2]] }],
    // The first two slots are fine, the last is not: the first two must go back.
    ['the last transport bad', { ...saved, devices: [devices[0], devices[1], { ...devices[2], transport: { ...devices[2].transport, status: 256 } }] }],
    ['the last device part bad', { ...saved, devices: [devices[0], { ...devices[1], transport: { ...devices[1].transport, device: { version: 1, backlog: '?' } } }, devices[2]] }],
  ];
  for (const [what, state] of bad) assert.throws(() => b.s.restore(state), StateError, what);
  assert.equal(JSON.stringify(b.s.save()), before);
  await b.s.close();

  // A VM without the disk has one device fewer.
  const c = await attach(ram, []);
  assert.throws(() => c.s.restore(saved), /2 entries/);
  const ok: SyntheticState = roundTrip(c.s.save());
  c.s.restore(ok);
  await c.s.close();
});
