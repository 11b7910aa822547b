// Test helpers for the VSPs: a virtio-mmio transport on a test guest RAM, and the driver's
// side of it (§3.1.1 initialization, §4.2.3 queue setup), doorbells rung the way the
// hypervisor serves them (ChannelRegisters) and delivered the way the VM worker does.
import { Channel, ChannelRegisters, createChannelTable } from '../../vmbus/channel.js';
import { TestDriver, TestRam } from '../../vmbus/test-driver.js';
import type { QueueLayout } from '../../vmbus/virtqueue.js';
import { F_VERSION_1, REG, STATUS, VirtioMmio, type VirtioDevice } from './virtio-mmio.js';

export const SLOT_BASE = 0x1000_1000n;
export const LINE = 1;

/** A device behind a transport, as the VM worker sets it up, with everything recorded. */
export class MmioBench {
  readonly ram: TestRam;
  readonly channel: Channel;
  readonly regs: ChannelRegisters;
  readonly mmio: VirtioMmio;
  /** The interrupt line's level after each change, in order. */
  readonly levels: boolean[] = [];
  readonly log: string[] = [];

  constructor(readonly device: VirtioDevice, ram = new TestRam()) {
    this.ram = ram;
    const table = createChannelTable();
    const offer = VirtioMmio.offer(0, device.deviceId, LINE, SLOT_BASE);
    const setLine = (line: number, level: boolean) => { if (line === LINE) this.levels.push(level); };
    this.channel = new Channel(table, offer, ram.mem, (level) => setLine(LINE, level));
    this.regs = new ChannelRegisters(table, [offer], setLine, () => {});
    this.mmio = new VirtioMmio(device, this.channel, (m) => this.log.push(m));
  }

  /** The line's level now. */
  get line(): boolean { return this.levels.at(-1) ?? false; }

  read(offset: number): number { return Number(this.mmio.read(offset, 4)); }
  write(offset: number, value: number): void { this.mmio.write(offset, 4, BigInt(value >>> 0)); }
  status(): number { return this.read(REG.status); }

  /** §3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; true if it stuck. */
  negotiate(features: bigint = F_VERSION_1): boolean {
    this.write(REG.status, 0);
    this.write(REG.status, STATUS.acknowledge);
    this.write(REG.status, STATUS.acknowledge | STATUS.driver);
    this.setDriverFeatures(features);
    this.write(REG.status, STATUS.acknowledge | STATUS.driver | STATUS.featuresOk);
    return (this.status() & STATUS.featuresOk) !== 0;
  }

  /** The two DriverFeatures words. */
  setDriverFeatures(features: bigint): void {
    for (const sel of [0, 1]) {
      this.write(REG.driverFeaturesSel, sel);
      this.write(REG.driverFeatures, Number((features >> BigInt(32 * sel)) & 0xffff_ffffn));
    }
  }

  /** The 64 feature bits the device offers, read as a driver does. */
  deviceFeatures(): bigint {
    let f = 0n;
    for (const sel of [1, 0]) {
      this.write(REG.deviceFeaturesSel, sel);
      f = (f << 32n) | BigInt(this.read(REG.deviceFeatures));
    }
    return f;
  }

  /** §4.2.3.2: size, the three addresses, QueueReady. */
  setQueue(q: number, l: QueueLayout, num = l.size): void {
    this.write(REG.queueSel, q);
    this.write(REG.queueNum, num);
    const halves = (gpa: number) => [gpa % 2 ** 32, Math.floor(gpa / 2 ** 32)];
    const [dl, dh] = halves(l.desc), [al, ah] = halves(l.driver), [ul, uh] = halves(l.device);
    this.write(REG.queueDescLow, dl); this.write(REG.queueDescHigh, dh);
    this.write(REG.queueDriverLow, al); this.write(REG.queueDriverHigh, ah);
    this.write(REG.queueDeviceLow, ul); this.write(REG.queueDeviceHigh, uh);
    this.write(REG.queueReady, 1);
  }

  driverOk(): void {
    this.write(REG.status, STATUS.acknowledge | STATUS.driver | STATUS.featuresOk | STATUS.driverOk);
  }

  /**
   * Brings the device up the way Linux does: features, a TestDriver queue of each size
   * given (undefined: leave that queue disabled), DRIVER_OK.
   */
  start(sizes: readonly (number | undefined)[], features: bigint = F_VERSION_1): (TestDriver | undefined)[] {
    if (!this.negotiate(features)) throw new Error('FEATURES_OK refused');
    const drivers = sizes.map((n, q) => {
      if (n === undefined) return undefined;
      const d = new TestDriver(this.ram, n);
      this.setQueue(q, d.layout);
      return d;
    });
    this.driverOk();
    return drivers;
  }

  /** A doorbell for queue q: a store the hypervisor serves, then the VM worker's delivery. */
  kick(q: number): void {
    this.regs.access(SLOT_BASE + BigInt(REG.queueNotify), 4, true, BigInt(q));
    const bits = this.channel.takeSignals();
    if (bits) this.mmio.serviceSignals(bits);
  }

  /** Reads InterruptStatus and acknowledges it through the hypervisor's register; returns it. */
  ack(): number {
    const bits = Number(this.regs.access(SLOT_BASE + BigInt(REG.interruptStatus), 4, false, 0n));
    this.regs.access(SLOT_BASE + BigInt(REG.interruptAck), 4, true, BigInt(bits));
    return bits;
  }
}

/** Waits (without blocking the event loop) until `done` holds, for at most `ms`. */
export async function until(done: () => boolean, ms = 2000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
