// VMBus channels: how a synthetic device's two halves signal each other. The guest's
// driver (our VSC: a stock virtio driver) and the VSP in the parent share rings in guest
// RAM; this layer carries only the events around them, through one small shared table per
// partition, so neither a doorbell nor an interrupt costs a round trip between threads.
//
//   offer     the parent publishes a channel: device class, instance id, interrupt line
//             and the guest-physical doorbell / interrupt-status / ack registers
//   open      the guest has set its queues up: their ranges are checked and granted, and
//             the VSP gets ring views confined to them (GuestMemory for the buffers)
//   signal    guest doorbell -> VSP: the VP thread sets a bit and rings the partition's
//             doorbell; the VP goes straight back to guest code
//   interrupt VSP -> line: status bits are set and the line raised; the guest's ack,
//             served by the hypervisor, lowers it
//   rescind   hot-unplug: doorbells are ignored from then on
//   close     the queues are gone (device reset, VM stop); the channel stays offered
//
// Saved state (Channel.save): the channel's state word, its interrupt-status bits and the
// doorbells rung but not yet taken, so none is lost across a save. The counters are not
// saved: like the VM's metrics, they count from the start of the current run.
//
// This file has no Node APIs: the hypervisor (VP threads) and the parent both import it.
import type { GuestMemory } from './guest-memory.js';
import type { InterruptLine } from '../hypervisor/interrupt-line.js';
import { StateReader, type Stateful } from '../state/contract.js';
import { SplitQueue, checkLayout, type QueueFeatures, type QueueLayout, type SplitQueueState } from './virtqueue.js';

export const MAX_CHANNELS = 8;
const STRIDE = 16; // i32 words per channel
// Words of a channel's entry.
const STATE = 0, CLASS = 1, INSTANCE = 2, SIGNAL = 3, INTERRUPT = 4, LINE = 5, SIGNALS = 6, INTERRUPTS = 7;

export enum ChannelState { Free = 0, Offered = 1, Open = 2, Rescinded = 3 }

export function createChannelTable(): SharedArrayBuffer {
  return new SharedArrayBuffer(MAX_CHANNELS * STRIDE * 4);
}

/** What a channel's offer tells the hypervisor (sent to each VP thread before it runs). */
export interface ChannelOffer {
  index: number;
  /** Device class (the virtio device ID) and instance id, as the guest sees them. */
  deviceClass: number;
  instance: number;
  /** Interrupt line (PLIC source). */
  line: number;
  /** Guest-physical addresses of the fast registers, served by the hypervisor itself. */
  doorbell: bigint;
  interruptStatus: bigint;
  interruptAck: bigint;
}

/** A channel's saved state (src/state/contract.ts). */
export interface SavedChannel {
  version: 1;
  state: 'offered' | 'open' | 'rescinded';
  /** Interrupt-status bits not yet acknowledged (u32). */
  interruptStatus: number;
  /** Queue bits the guest signalled and the VSP has not taken (u32). */
  signals: number;
}

const STATE_NAMES = { offered: ChannelState.Offered, open: ChannelState.Open, rescinded: ChannelState.Rescinded } as const;

/** A channel's state as restore() applies it. */
export interface ChannelWords { state: ChannelState; interruptStatus: number; signals: number }

/** Validates a channel's saved state as untrusted input; throws StateError naming `name` and the field. */
export function parseChannelState(state: unknown, name: string): ChannelWords {
  const r = new StateReader(name, state, 1);
  const word = r.string('state', 16, /^(offered|open|rescinded)$/) as SavedChannel['state'];
  return { state: STATE_NAMES[word], interruptStatus: r.int('interruptStatus', 0, 0xffff_ffff), signals: r.int('signals', 0, 0xffff_ffff) };
}

/** Raises or lowers any channel's line (the hypervisor's side: it serves every channel's ack). */
export type SetLine = (line: number, level: boolean) => void;

/**
 * Drives a line from a channel's interrupt-status word. The re-check after lowering
 * closes the race with a VSP that sets a bit in between: either we see its bit and raise
 * the line again, or its own raise comes after our lower.
 */
function syncLine(words: Int32Array, at: number, line: InterruptLine): void {
  if (Atomics.load(words, at + INTERRUPT) !== 0) { line(true); return; }
  line(false);
  if (Atomics.load(words, at + INTERRUPT) !== 0) line(true);
}

/**
 * The hypervisor's side: the fast registers of every offered channel. A doorbell write is
 * a signal, an interrupt-status read and an ack are answered from the table: none of them
 * leaves the VP thread.
 */
export class ChannelRegisters {
  private readonly words: Int32Array;
  /** Every fast register lies in [low, high]: other device accesses skip the offers. */
  private readonly low: bigint;
  private readonly high: bigint;

  constructor(table: SharedArrayBuffer, private readonly offers: readonly ChannelOffer[],
    private readonly setLine: SetLine, private readonly ringDoorbell: () => void) {
    this.words = new Int32Array(table);
    const addrs = offers.flatMap((o) => [o.doorbell, o.interruptStatus, o.interruptAck]);
    this.low = addrs.reduce((a, b) => (b < a ? b : a), addrs[0] ?? 1n);
    this.high = addrs.reduce((a, b) => (b > a ? b : a), addrs[0] ?? 0n);
  }

  /**
   * Serves a guest access if it hits a fast register: the value for a load, 0n for a
   * store; undefined if the address is not one (the access goes the slow way).
   */
  access(addr: bigint, width: number, store: boolean, value: bigint): bigint | undefined {
    if (width !== 4 || addr < this.low || addr > this.high) return undefined;
    for (const o of this.offers) {
      const at = o.index * STRIDE;
      if (addr === o.doorbell && store) {
        // The value is the queue index (virtio-mmio QueueNotify without NOTIFICATION_DATA).
        const q = Number(value & 0xffff_ffffn);
        if (q < 32 && Atomics.load(this.words, at + STATE) === ChannelState.Open) {
          Atomics.or(this.words, at + SIGNAL, 1 << q);
          Atomics.add(this.words, at + SIGNALS, 1);
          this.ringDoorbell();
        }
        return 0n;
      }
      if (addr === o.interruptStatus && !store) return BigInt(Atomics.load(this.words, at + INTERRUPT) >>> 0);
      if (addr === o.interruptAck && store) {
        Atomics.and(this.words, at + INTERRUPT, ~Number(value & 0xffff_ffffn));
        syncLine(this.words, at, (level) => this.setLine(o.line, level));
        return 0n;
      }
    }
    return undefined;
  }
}

/** The parent's side of one channel, used by the transport and its VSP. */
export class Channel implements Stateful<SavedChannel> {
  private readonly words: Int32Array;
  private readonly at: number;

  /** @param line the capability for offer.line, handed out by the partition */
  constructor(table: SharedArrayBuffer, readonly offer: ChannelOffer, private readonly mem: GuestMemory,
    private readonly line: InterruptLine) {
    if (!Number.isInteger(offer.index) || offer.index < 0 || offer.index >= MAX_CHANNELS) {
      throw new RangeError(`channel index ${offer.index} is not 0..${MAX_CHANNELS - 1}`);
    }
    this.words = new Int32Array(table);
    this.at = offer.index * STRIDE;
    const w = this.words, at = this.at;
    if (Atomics.compareExchange(w, at + STATE, ChannelState.Free, ChannelState.Offered) !== ChannelState.Free) {
      throw new Error(`channel ${offer.index} is already offered`);
    }
    w[at + CLASS] = offer.deviceClass;
    w[at + INSTANCE] = offer.instance;
    w[at + LINE] = offer.line;
  }

  get state(): ChannelState { return Atomics.load(this.words, this.at + STATE); }

  /**
   * The guest has set up its queues: checks each ring lies in RAM, suitably aligned, and
   * grants them (undefined: a queue the driver did not enable). Returns the queues, or the reason one cannot be used.
   */
  open(layouts: readonly (QueueLayout | undefined)[], features: QueueFeatures): (SplitQueue | undefined)[] | string {
    if (this.state === ChannelState.Rescinded) return 'the channel was rescinded';
    const queues = this.grant(layouts, features);
    if (typeof queues === 'string') return queues;
    Atomics.store(this.words, this.at + SIGNAL, 0);
    Atomics.store(this.words, this.at + STATE, ChannelState.Open);
    return queues;
  }

  /**
   * The queues over `layouts`, each checked as open() does, without changing the channel:
   * open() uses it, and a restore, which continues the saved `indices` of each queue and
   * sets the channel's state from its own saved state.
   */
  grant(layouts: readonly (QueueLayout | undefined)[], features: QueueFeatures,
    indices?: readonly (SplitQueueState | undefined)[]): (SplitQueue | undefined)[] | string {
    for (const [q, l] of layouts.entries()) {
      const bad = l && checkLayout(this.mem, l);
      if (bad) return `queue ${q}: ${bad}`;
    }
    return layouts.map((l, q) => l && new SplitQueue(this.mem, l, features, indices?.[q]));
  }

  /** Queue bits the guest has signalled since the last call (each bit: a queue index). */
  takeSignals(): number {
    return Atomics.exchange(this.words, this.at + SIGNAL, 0);
  }

  /** Sets interrupt-status bits and raises the line. */
  interrupt(bits: number): void {
    Atomics.or(this.words, this.at + INTERRUPT, bits);
    Atomics.add(this.words, this.at + INTERRUPTS, 1);
    this.line(true);
  }

  interruptStatus(): number { return Atomics.load(this.words, this.at + INTERRUPT); }

  /** Clears interrupt-status bits (the slow-path ack; the hypervisor serves the fast one). */
  acknowledge(bits: number): void {
    Atomics.and(this.words, this.at + INTERRUPT, ~bits);
    syncLine(this.words, this.at, this.line);
  }

  /** The queues are gone (device reset or VM stop): no more signals, no interrupt pending. */
  close(): void {
    if (this.state === ChannelState.Open) Atomics.store(this.words, this.at + STATE, ChannelState.Offered);
    Atomics.store(this.words, this.at + SIGNAL, 0);
    this.acknowledge(-1);
  }

  /** Hot-unplug: the device is going away; doorbells are ignored from now on. */
  rescind(): void {
    Atomics.store(this.words, this.at + STATE, ChannelState.Rescinded);
    Atomics.store(this.words, this.at + SIGNAL, 0);
    this.acknowledge(-1);
  }

  save(): SavedChannel {
    const state = this.state;
    if (state === ChannelState.Free) throw new Error(`channel ${this.offer.index} is not offered`); // a Channel is always offered: a bug
    const name = (Object.keys(STATE_NAMES) as SavedChannel['state'][]).find((k) => STATE_NAMES[k] === state)!;
    return {
      version: 1, state: name, interruptStatus: this.interruptStatus() >>> 0,
      signals: Atomics.load(this.words, this.at + SIGNAL) >>> 0,
    };
  }

  /**
   * Validates a saved state, then sets the state word, the interrupt-status bits and the
   * signals not yet taken (the VM worker takes them on its next turn), and drives the line
   * from the status. An open channel's queues are the transport's to restore (grant()).
   */
  restore(state: unknown): void {
    const s = parseChannelState(state, `channel ${this.offer.index}`);
    Atomics.store(this.words, this.at + STATE, s.state);
    Atomics.store(this.words, this.at + SIGNAL, s.signals | 0);
    Atomics.store(this.words, this.at + INTERRUPT, s.interruptStatus | 0);
    syncLine(this.words, this.at, this.line);
  }

  /** Counters for metrics: doorbells rung and interrupts raised so far. */
  stats(): { signals: number; interrupts: number } {
    return { signals: Atomics.load(this.words, this.at + SIGNALS) >>> 0, interrupts: Atomics.load(this.words, this.at + INTERRUPTS) >>> 0 };
  }
}
