// The guest-facing transport of a synthetic device: virtio over MMIO, version 2 (virtio
// 1.2 §4.2), in one of the virt board's slots. Stock Linux drivers talk to it unchanged.
// The register file lives here, in the VM worker; the three registers on the data path
// (QueueNotify, InterruptStatus, InterruptACK) are VMBus channel registers the hypervisor
// serves on the VP thread (src/vmbus/channel.ts), so I/O never waits for this thread.
//
// Saved state (virtio-mmio-state.ts): the register file, the channel, and while the device
// is live the context DRIVER_OK built (features, rings, indices) and the VSP's own part.
// A save needs the VSP quiet (quiesce()); a restore rebuilds the context without replaying
// anything the guest could see.
import type { MmioDevice, Width } from '../devices/mmio.js';
import { Channel, type ChannelOffer } from '../../vmbus/channel.js';
import { gpaFromHalves } from '../../vmbus/guest-memory.js';
import { SplitQueue, VirtqueueError, type QueueFeatures, type QueueLayout } from '../../vmbus/virtqueue.js';
import { StateError, type Stateful, type VersionedState } from '../../state/contract.js';
import { MAX_REASON, addressString, parseVirtioMmioState, type QueueRegs, type VirtioMmioState } from './virtio-mmio-state.js';

export type { VirtioMmioState } from './virtio-mmio-state.js';

// Register offsets (§4.2.2, Table "MMIO Device Register Layout").
export const REG = {
  magic: 0x000, version: 0x004, deviceId: 0x008, vendorId: 0x00c,
  deviceFeatures: 0x010, deviceFeaturesSel: 0x014, driverFeatures: 0x020, driverFeaturesSel: 0x024,
  queueSel: 0x030, queueNumMax: 0x034, queueNum: 0x038, queueReady: 0x044, queueNotify: 0x050,
  interruptStatus: 0x060, interruptAck: 0x064, status: 0x070,
  queueDescLow: 0x080, queueDescHigh: 0x084, queueDriverLow: 0x090, queueDriverHigh: 0x094,
  queueDeviceLow: 0x0a0, queueDeviceHigh: 0x0a4, shmSel: 0x0ac, shmLenLow: 0x0b0, shmLenHigh: 0x0b4,
  shmBaseLow: 0x0b8, shmBaseHigh: 0x0bc, queueReset: 0x0c0, configGeneration: 0x0fc, config: 0x100,
} as const;

const MAGIC = 0x7472_6976; // "virt"
const VENDOR = 0x5648_5354; // "TSHV"
export const MMIO_WINDOW = 0x1000;

// Device status bits (§2.1).
export const STATUS = { acknowledge: 1, driver: 2, driverOk: 4, featuresOk: 8, needsReset: 64, failed: 128 } as const;
// Interrupt status bits (§4.2.2 InterruptStatus).
export const INT_USED_BUFFER = 1, INT_CONFIG_CHANGE = 2;

// Transport feature bits (§6).
export const F_INDIRECT_DESC = 1n << 28n;
export const F_EVENT_IDX = 1n << 29n;
export const F_VERSION_1 = 1n << 32n;
const TRANSPORT_FEATURES = F_INDIRECT_DESC | F_EVENT_IDX | F_VERSION_1;

/** What the transport gives a VSP once the driver is ready (DRIVER_OK). */
export interface DeviceContext {
  /** The queues the driver enabled (undefined: not enabled). */
  readonly queues: readonly (SplitQueue | undefined)[];
  /** The features both sides agreed on. */
  readonly features: bigint;
  /** Used-buffer notification for `queue`, if its suppression settings want one. */
  notifyUsed(queue: SplitQueue): void;
  /** The device changed its configuration space: new generation, config interrupt. */
  configChanged(): void;
  /**
   * Runs device code that reads the rings outside a transport call (host input, say): as
   * inside notify, a guest that broke the ring rules gets DEVICE_NEEDS_RESET. Nothing
   * runs once the context is stale (the device was reset).
   */
  run(fn: () => void): void;
}

/** A VSP: the device-type half of a synthetic device (virtio-blk, -console, -rng, ...). */
export interface VirtioDevice {
  /** For messages: "virtio-blk vda". */
  readonly name: string;
  /** Virtio device ID (§5). */
  readonly deviceId: number;
  /** Device-type feature bits it offers (the transport adds its own). */
  readonly features: bigint;
  /** Largest size of each queue, in queue order. */
  readonly queueMax: readonly number[];
  /** The device configuration space, kept current by the device. */
  readonly config: Uint8Array;
  /** The driver wrote configuration space (most fields are read-only: ignore those). */
  configWrite?(offset: number, bytes: Uint8Array): void;
  /**
   * The driver set DRIVER_OK, or a restore rebuilt a live context: the queues are live. It
   * must not touch them (a restore replays nothing): the transport notifies every queue
   * after DRIVER_OK.
   */
  activate(ctx: DeviceContext): void;
  /** The driver notified `queue` (already known to be enabled). */
  notify(queue: number): void;
  /** The device is reset: forget requests and queues (in-flight I/O must not touch them). */
  reset(): void;
  /** Requests still touching guest memory (a reset completes when there are none). */
  busy?(): boolean;
  /** Set by the transport: the VSP calls it when its last request in flight has completed. */
  onIdle?: () => void;
  /** The VSP's own state beyond the transport's (src/state/contract.ts); called only when it is not busy. */
  save?(): VersionedState;
  /**
   * Validates its part of a saved state and applies it, or throws StateError and changes
   * nothing. The transport calls it first, before any change of its own, and without a
   * context: it must not touch the queues. The transport then resets the device (which
   * drops queues, not this state) and, if the state is live, activates it.
   */
  restore?(state: unknown): void;
}

const newQueueRegs = (): QueueRegs => ({ num: 0, ready: false, desc: [0, 0], driver: [0, 0], device: [0, 0] });

/** The ring features a queue honours, from the features both sides agreed on. */
function queueFeatures(features: bigint): QueueFeatures {
  return { indirect: (features & F_INDIRECT_DESC) !== 0n, eventIdx: (features & F_EVENT_IDX) !== 0n };
}

export class VirtioMmio implements MmioDevice, Stateful<VirtioMmioState> {
  readonly size = MMIO_WINDOW;
  readonly name: string;
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private queueSel = 0;
  private queues: QueueRegs[];
  private configGeneration = 0;
  private live: DeviceContext | undefined;
  /**
   * A reset (Status 0) completes only when the VSP has no request in flight (virtio 1.2
   * §2.4: after the reset the device must not touch the queues or their buffers): the VP's
   * store waits for that, so the driver cannot reuse the memory early.
   */
  readonly syncStores = [REG.status];
  /** Why the device needs a reset, if it does (DEVICE_NEEDS_RESET). */
  broken: string | undefined;
  /** Told when the VSP goes idle (the VM worker's doorbell: a waiting reset may complete). */
  onIdle: (() => void) | undefined;
  /** quiesce() calls waiting for the VSP to go idle. */
  private idleWaiters: (() => void)[] = [];

  /**
   * @param log where the transport reports a guest's protocol errors (the device then
   *   needs a reset; they are the guest's problem, never the host's)
   */
  constructor(readonly device: VirtioDevice, readonly channel: Channel, private readonly log: (m: string) => void) {
    this.name = device.name;
    this.queues = device.queueMax.map(newQueueRegs);
    // The transport hears the VSP go idle first (quiesce() waits for it) and passes it on;
    // a hook the owner set on the device before is kept as this transport's onIdle.
    this.onIdle = device.onIdle;
    device.onIdle = () => this.idle();
  }

  settling(): boolean { return this.device.busy?.() ?? false; }

  get offeredFeatures(): bigint { return this.device.features | TRANSPORT_FEATURES; }
  get driverStatus(): number { return this.status; }

  read(offset: number, width: Width): bigint {
    if (offset >= REG.config) return this.readConfig(offset - REG.config, width);
    if (width !== 4) return 0n;
    return BigInt(this.readRegister(offset) >>> 0);
  }

  write(offset: number, width: Width, value: bigint): void {
    if (offset >= REG.config) { this.writeConfig(offset - REG.config, width, value); return; }
    if (width === 4) this.writeRegister(offset, Number(value & 0xffff_ffffn));
  }

  private readRegister(offset: number): number {
    const q = this.queues[this.queueSel];
    switch (offset) {
      case REG.magic: return MAGIC;
      case REG.version: return 2;
      case REG.deviceId: return this.device.deviceId;
      case REG.vendorId: return VENDOR;
      case REG.deviceFeatures:
        return this.deviceFeaturesSel > 1 ? 0 : Number((this.offeredFeatures >> BigInt(32 * this.deviceFeaturesSel)) & 0xffff_ffffn);
      case REG.queueNumMax: return q ? this.device.queueMax[this.queueSel] : 0;
      case REG.queueReady: return q?.ready ? 1 : 0;
      case REG.interruptStatus: return this.channel.interruptStatus();
      case REG.status: return this.status;
      // No shared memory regions: length -1 and base 0xffffffffffffffff (§4.2.2).
      case REG.shmLenLow: case REG.shmLenHigh: case REG.shmBaseLow: case REG.shmBaseHigh: return -1;
      case REG.configGeneration: return this.configGeneration;
      default: return 0;
    }
  }

  private writeRegister(offset: number, v: number): void {
    const q = this.queues[this.queueSel];
    // Queue registers may change only while the queue is disabled (§4.2.2.2).
    const editable = q !== undefined && !q.ready;
    switch (offset) {
      case REG.deviceFeaturesSel: this.deviceFeaturesSel = v >>> 0; return;
      case REG.driverFeaturesSel: this.driverFeaturesSel = v >>> 0; return;
      case REG.driverFeatures:
        if (this.driverFeaturesSel <= 1 && !(this.status & STATUS.featuresOk)) {
          const shift = BigInt(32 * this.driverFeaturesSel);
          this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(v >>> 0) << shift);
        }
        return;
      case REG.queueSel: this.queueSel = v >>> 0; return;
      case REG.queueNum: if (editable) q.num = v >>> 0; return;
      case REG.queueReady: if (q) q.ready = (v & 1) === 1; return;
      case REG.queueDescLow: if (editable) q.desc[0] = v; return;
      case REG.queueDescHigh: if (editable) q.desc[1] = v; return;
      case REG.queueDriverLow: if (editable) q.driver[0] = v; return;
      case REG.queueDriverHigh: if (editable) q.driver[1] = v; return;
      case REG.queueDeviceLow: if (editable) q.device[0] = v; return;
      case REG.queueDeviceHigh: if (editable) q.device[1] = v; return;
      case REG.queueNotify: this.notify(v >>> 0); return; // normally served by the hypervisor
      case REG.interruptAck: this.channel.acknowledge(v); return;
      case REG.status: this.writeStatus(v & 0xff); return;
      default: return; // read-only or unknown: ignored
    }
  }

  /** Device status (§2.1, §3.1.1): the driver's initialization steps and reset. */
  private writeStatus(v: number): void {
    if (v === 0) { this.reset(); return; }
    const added = v & ~this.status;
    // The driver writes back the whole byte; DEVICE_NEEDS_RESET is the device's to set.
    this.status = (v & ~STATUS.needsReset) | (this.broken ? STATUS.needsReset : 0);
    if (added & STATUS.featuresOk) {
      const unknown = this.driverFeatures & ~this.offeredFeatures;
      if (unknown || !(this.driverFeatures & F_VERSION_1)) this.status &= ~STATUS.featuresOk; // §3.1.1 step 6
    }
    if ((added & STATUS.driverOk) && !this.broken) this.start();
  }

  /** DRIVER_OK: open the channel over the enabled queues and hand them to the VSP. */
  private start(): void {
    if (!(this.status & STATUS.featuresOk)) { this.fail('DRIVER_OK without FEATURES_OK'); return; }
    const layouts: (QueueLayout | undefined)[] = [];
    for (const [i, r] of this.queues.entries()) {
      if (!r.ready) { layouts.push(undefined); continue; }
      const desc = gpaFromHalves(r.desc[0], r.desc[1]), driver = gpaFromHalves(r.driver[0], r.driver[1]);
      const device = gpaFromHalves(r.device[0], r.device[1]);
      if (desc === undefined || driver === undefined || device === undefined) { this.fail(`queue ${i}: ring address beyond guest RAM`); return; }
      if (r.num > this.device.queueMax[i]) { this.fail(`queue ${i}: size ${r.num} exceeds the maximum ${this.device.queueMax[i]}`); return; }
      layouts.push({ size: r.num, desc, driver, device });
    }
    const features = this.driverFeatures;
    const queues = this.channel.open(layouts, queueFeatures(features));
    if (typeof queues === 'string') { this.fail(queues); return; }
    this.goLive(queues, features);
    // A driver may queue buffers and kick before DRIVER_OK (Linux's virtio-rng does); the
    // kick was dropped, so look at every queue once now that they are live.
    for (const [q, queue] of queues.entries()) if (queue) this.notify(q);
  }

  /** The live context over granted queues, handed to the VSP (DRIVER_OK and restore). */
  private goLive(queues: (SplitQueue | undefined)[], features: bigint): void {
    const ctx: DeviceContext = {
      queues,
      features,
      notifyUsed: (q) => { if (this.live === ctx && q.needsInterrupt()) this.channel.interrupt(INT_USED_BUFFER); },
      configChanged: () => { if (this.live === ctx) this.configChanged(); },
      run: (fn) => { if (this.live === ctx) this.guard(fn); },
    };
    this.live = ctx;
    this.guard(() => this.device.activate(ctx));
  }

  /** Delivers doorbells the hypervisor collected for this channel (Channel.takeSignals). */
  serviceSignals(bits: number): void {
    for (let b = bits; b !== 0; b &= b - 1) this.notify(31 - Math.clz32(b & -b));
  }

  /** A notification for queue q; ignored before DRIVER_OK or for a queue not enabled. */
  private notify(q: number): void {
    if (!this.live || this.broken || !this.live.queues[q]) return;
    this.guard(() => this.device.notify(q));
  }

  /**
   * Runs VSP code that reads the rings: a guest that broke the ring rules gets
   * DEVICE_NEEDS_RESET; anything else is a fault in the VSP and goes up (it ends the VM).
   */
  guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof VirtqueueError)) throw e;
      this.fail(e.message);
    }
  }

  /** §2.1.2: the device has hit an error the driver must reset it to recover from. */
  fail(reason: string): void {
    if (this.broken) return;
    this.broken = reason;
    this.log(`${this.name}: device needs reset: ${reason}`);
    this.live = undefined;
    this.device.reset();
    this.channel.close();
    this.status |= STATUS.needsReset;
    this.configChanged();
  }

  private configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) | 0;
    this.channel.interrupt(INT_CONFIG_CHANGE);
  }

  /**
   * Hot-unplug: the channel is rescinded and the device stops. virtio-mmio has no removal
   * event, so the driver sees DEVICE_NEEDS_RESET (and a configuration interrupt) and its
   * requests go unanswered; a reset does not bring the device back.
   */
  rescind(): void {
    this.channel.rescind();
    this.fail('the device was removed');
  }

  /** Writing 0 to Status (§4.2.2.1): back to the state after power-on. */
  reset(): void {
    this.live = undefined;
    this.device.reset();
    this.channel.close();
    this.broken = undefined;
    this.status = 0;
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = 0;
    this.driverFeatures = 0n;
    this.queues = this.device.queueMax.map(newQueueRegs);
  }

  /**
   * Resolves once the VSP has no request in flight: across a save a request is finished,
   * never lost nor done twice, as every chain the device took must come back in the used
   * ring (virtio 1.2 §2.7.8). The VM's VPs are paused by then, so no new doorbell is
   * served; requests already taken complete as usual, returning their chains and raising
   * their interrupts, which guest RAM, the channel and the PLIC then carry in the state.
   */
  quiesce(): Promise<void> {
    if (!this.settling()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private idle(): void {
    this.onIdle?.();
    if (this.settling()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** The transport's state and its VSP's; a request in flight is a bug here (quiesce() first). */
  save(): VirtioMmioState {
    if (this.settling()) throw new Error(`${this.name}: saved with requests in flight (quiesce first)`);
    const live = this.live, device = this.device;
    return {
      version: 1,
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: this.driverFeatures.toString(),
      queueSel: this.queueSel,
      queues: this.queues.map((q) => ({
        num: q.num, ready: q.ready, desc: addressString(q.desc), driver: addressString(q.driver), device: addressString(q.device),
      })),
      configGeneration: this.configGeneration >>> 0,
      broken: this.broken === undefined ? null : this.broken.slice(0, MAX_REASON),
      channel: this.channel.save(),
      live: live ? {
        features: live.features.toString(),
        queues: live.queues.map((q) => q ? {
          size: q.size, desc: String(q.layout.desc), driver: String(q.layout.driver), device: String(q.layout.device), ...q.save(),
        } : null),
      } : null,
      device: device.save && device.restore ? device.save() : null,
    };
  }

  /**
   * Validates a saved state (the VSP's part by the VSP), then applies it: the registers,
   * the channel (its line re-driven) and, if it was live, the context DRIVER_OK built, over
   * the saved rings and indices. Nothing is replayed: no queue is looked at, no interrupt
   * raised beyond the saved status. Restoring while the VSP is busy is a bug (an Error).
   */
  restore(state: unknown): void {
    if (this.settling()) throw new Error(`${this.name}: restored with requests in flight`);
    const s = parseVirtioMmioState(state, {
      name: this.name, queueMax: this.device.queueMax, offeredFeatures: this.offeredFeatures, versionFeature: F_VERSION_1,
    });
    const queues = s.live && this.channel.grant(s.live.layouts, queueFeatures(s.live.features), s.live.indices);
    if (typeof queues === 'string') throw new StateError(`${this.name} state: live ${queues}`);
    const hasState = this.device.save !== undefined && this.device.restore !== undefined;
    if (hasState !== (s.device !== null)) {
      throw new StateError(`${this.name} state: device ${hasState ? 'is missing' : 'is given, but the device has no state'}`);
    }
    // The VSP validates its part and applies it, or throws and nothing has changed yet;
    // everything after it has been validated and cannot fail.
    if (s.device !== null) this.device.restore!(s.device);
    this.live = undefined;
    this.device.reset();
    this.status = s.status;
    this.deviceFeaturesSel = s.deviceFeaturesSel;
    this.driverFeaturesSel = s.driverFeaturesSel;
    this.driverFeatures = s.driverFeatures;
    this.queueSel = s.queueSel;
    this.queues = s.queues;
    this.configGeneration = s.configGeneration | 0;
    this.broken = s.broken;
    this.channel.restore((state as { channel: unknown }).channel);
    if (queues) this.goLive(queues, s.live!.features);
  }

  private readConfig(offset: number, width: Width): bigint {
    const c = this.device.config;
    if (offset + width > c.length) return 0n;
    let v = 0n;
    for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(c[offset + i]);
    return v;
  }

  private writeConfig(offset: number, width: Width, value: bigint): void {
    if (offset + width > this.device.config.length || !this.device.configWrite) return;
    const bytes = new Uint8Array(width);
    for (let i = 0; i < width; i++) bytes[i] = Number((value >> BigInt(8 * i)) & 0xffn);
    this.device.configWrite(offset, bytes);
  }

  /** The channel's offer for a device at `base` (its fast registers are in this window). */
  static offer(index: number, deviceClass: number, line: number, base: bigint): ChannelOffer {
    return {
      index, deviceClass, instance: index, line,
      doorbell: base + BigInt(REG.queueNotify),
      interruptStatus: base + BigInt(REG.interruptStatus),
      interruptAck: base + BigInt(REG.interruptAck),
    };
  }
}
