// The device side of a split virtqueue (virtio 1.2 §2.7), served by a VSP directly in
// guest RAM. Everything in the rings is written by the guest, so every index, length and
// address is checked as it is read; a ring that breaks the rules raises VirtqueueError and
// the transport then marks the device DEVICE_NEEDS_RESET (§2.1.2) instead of guessing.
import { GuestMemory, gpaFromHalves, type Gpa } from './guest-memory.js';
import { StateReader } from '../state/contract.js';

/** Largest queue the transport offers (§2.7: "Queue Size ... maximum is 32768"). */
export const MAX_QUEUE_SIZE = 32768;

// Descriptor flags (§2.7.5).
const VIRTQ_DESC_F_NEXT = 1;
const VIRTQ_DESC_F_WRITE = 2;
const VIRTQ_DESC_F_INDIRECT = 4;
const DESC_BYTES = 16;
/** avail.flags: the driver does not want interrupts (§2.7.7, without EVENT_IDX). */
const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** A used element's `len` is 32 bits (§2.7.8). */
const MAX_CHAIN_BYTES = 0xffff_ffff;

export class VirtqueueError extends Error {
  override readonly name = 'VirtqueueError';
}

/** Where the driver put one queue's three parts, and its size (§4.2.2 Queue* registers). */
export interface QueueLayout {
  size: number;
  desc: Gpa;
  driver: Gpa;   // the available ring
  device: Gpa;   // the used ring
}

/** One descriptor chain the driver made available: its buffers, in order. */
export interface Chain {
  head: number;
  readable: Uint8Array[];
  writable: Uint8Array[];
  readableBytes: number;
  writableBytes: number;
}

export interface QueueFeatures { indirect: boolean; eventIdx: boolean }

/** Bytes of each part for a queue of `size` (§2.7, including the event-index words). */
export function ringBytes(size: number): { desc: number; driver: number; device: number } {
  return { desc: DESC_BYTES * size, driver: 6 + 2 * size, device: 6 + 8 * size };
}

/** Why a layout cannot be used, or undefined if it can (alignment from §2.7 table). */
export function checkLayout(mem: GuestMemory, l: QueueLayout): string | undefined {
  if (!Number.isInteger(l.size) || l.size < 1 || l.size > MAX_QUEUE_SIZE || (l.size & (l.size - 1)) !== 0) {
    return `queue size ${l.size} is not a power of two in 1..${MAX_QUEUE_SIZE}`;
  }
  const b = ringBytes(l.size);
  const parts: [string, Gpa, number, number][] = [
    ['descriptor table', l.desc, b.desc, 16], ['available ring', l.driver, b.driver, 2], ['used ring', l.device, b.device, 4],
  ];
  for (const [name, gpa, len, align] of parts) {
    if (!mem.contains(gpa, len)) return `${name} at 0x${gpa.toString(16)} (+${len}) is not in guest RAM`;
    if (gpa % align !== 0) return `${name} at 0x${gpa.toString(16)} is not ${align}-byte aligned`;
  }
  return undefined;
}

/**
 * The device's side of a queue that is not in guest RAM: its three free-running indices
 * (part of the transport's saved state; the rings themselves are guest RAM's).
 */
export interface SplitQueueState {
  lastAvail: number;
  usedIdx: number;
  signalledUsed: number;
}

/**
 * Validates a queue's saved indices as untrusted input: each a 16-bit index. They are not
 * checked against the rings in guest RAM (restored before the devices), on purpose: the
 * device never reads used.idx back, and the guest may have written anything there or in
 * avail.idx before the save, so a disagreement is a state a live queue can be in too. Every
 * index read from RAM is checked where it is used (pending(), pop()), so a hostile state
 * can do no more than a hostile driver: DEVICE_NEEDS_RESET.
 */
export function parseSplitQueueState(state: unknown, what: string): SplitQueueState {
  const r = StateReader.nested(what, state);
  return { lastAvail: r.int('lastAvail', 0, 0xffff), usedIdx: r.int('usedIdx', 0, 0xffff), signalledUsed: r.int('signalledUsed', 0, 0xffff) };
}

export class SplitQueue {
  readonly size: number;
  /** Where the rings are (saved with the indices: the registers may change once it is live). */
  readonly layout: QueueLayout;
  private readonly desc: DataView;
  private readonly avail: Uint16Array;      // flags, idx, ring[size], used_event
  private readonly usedHeader: Uint16Array; // flags, idx
  private readonly usedRing: Uint32Array;   // [id, len] * size
  private readonly availEvent: Uint16Array; // used.avail_event
  /** Next available-ring index to take (free-running 16-bit, as the driver's idx). */
  private lastAvail = 0;
  /** Next used-ring index to fill. */
  private usedIdx = 0;
  /** The used index when the driver was last interrupted (for the event-index test). */
  private signalledUsed = 0;

  /**
   * The layout must have passed checkLayout (the channel granted it). `indices` continue a
   * saved queue (parseSplitQueueState); without them the queue starts as enabled.
   */
  constructor(private readonly mem: GuestMemory, layout: QueueLayout, private readonly features: QueueFeatures,
    indices?: SplitQueueState) {
    const bad = checkLayout(mem, layout);
    if (bad) throw new VirtqueueError(bad);
    this.layout = { ...layout };
    const n = this.size = layout.size;
    const buf = mem.ram.buffer;
    this.desc = new DataView(buf, mem.bufferOffset(layout.desc), DESC_BYTES * n);
    this.avail = new Uint16Array(buf, mem.bufferOffset(layout.driver), 3 + n);
    this.usedHeader = new Uint16Array(buf, mem.bufferOffset(layout.device), 2);
    this.usedRing = new Uint32Array(buf, mem.bufferOffset(layout.device + 4), 2 * n);
    this.availEvent = new Uint16Array(buf, mem.bufferOffset(layout.device + 4 + 8 * n), 1);
    mem.willWrite(layout.device, ringBytes(n).device); // the device writes the used ring
    // Both indices start at 0 when the queue is enabled (§2.7.6, §2.7.8); the driver
    // zeroed the rings and may already have made buffers available.
    if (indices) ({ lastAvail: this.lastAvail, usedIdx: this.usedIdx, signalledUsed: this.signalledUsed } = indices);
  }

  /** The indices that continue this queue after a restore (the rings are in guest RAM). */
  save(): SplitQueueState {
    return { lastAvail: this.lastAvail, usedIdx: this.usedIdx, signalledUsed: this.signalledUsed };
  }

  /** Buffers the driver has made available and the device has not taken yet. */
  pending(): number {
    const n = (Atomics.load(this.avail, 1) - this.lastAvail) & 0xffff;
    if (n > this.size) throw new VirtqueueError(`available index moved ${n} entries ahead, more than the queue size ${this.size}`);
    return n;
  }

  /** Takes the next available chain, or undefined if there is none. */
  pop(): Chain | undefined {
    if (this.pending() === 0) return undefined;
    const head = this.avail[2 + (this.lastAvail % this.size)];
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    if (head >= this.size) throw new VirtqueueError(`available ring names descriptor ${head}, past the queue size ${this.size}`);
    return this.walk(head);
  }

  /**
   * Returns a chain to the driver, `written` bytes having been written into it. Its
   * writable buffers and the used ring are logged as written again, now that the writes
   * are done: a live migration may have harvested (and copied) their pages between pop()
   * and now, and must copy them again (docs/migration.md "The dirty log").
   */
  push(chain: Chain, written: number): void {
    const slot = this.usedIdx % this.size;
    this.usedRing[2 * slot] = chain.head;
    this.usedRing[2 * slot + 1] = written;
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    Atomics.store(this.usedHeader, 1, this.usedIdx); // publishes the element (§2.7.8.2)
    for (const b of chain.writable) this.mem.wrote(b);
    this.mem.wrote(this.usedRing.subarray(2 * slot, 2 * slot + 2));
    this.mem.wrote(this.usedHeader);
  }

  /**
   * Whether the driver asked to be interrupted for the elements pushed since the last
   * time this said yes (§2.7.7.2: used_event with VIRTIO_F_EVENT_IDX, else avail.flags).
   */
  needsInterrupt(): boolean {
    const old = this.signalledUsed, now = this.usedIdx;
    if (old === now) return false;
    let wanted: boolean;
    if (this.features.eventIdx) {
      const usedEvent = Atomics.load(this.avail, 2 + this.size);
      wanted = ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff); // vring_need_event
    } else {
      wanted = (Atomics.load(this.avail, 0) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    }
    this.signalledUsed = now;
    return wanted;
  }

  /**
   * Asks the driver to notify when it adds the next buffer (with EVENT_IDX: avail_event =
   * the next index we will take). Returns true if buffers arrived meanwhile, so the caller
   * must keep going instead of sleeping.
   */
  armNotify(): boolean {
    if (this.features.eventIdx) Atomics.store(this.availEvent, 0, this.lastAvail);
    return this.pending() > 0;
  }

  /** Follows a chain from `head`, through at most one indirect table (§2.7.5.3). */
  private walk(head: number): Chain {
    const chain: Chain = { head, readable: [], writable: [], readableBytes: 0, writableBytes: 0 };
    let table = this.desc, entries = this.size, i = head, seen = 0, indirect = false;
    for (;;) {
      if (++seen > entries) throw new VirtqueueError(`descriptor chain from ${head} is longer than its table (${entries}): a loop`);
      const at = i * DESC_BYTES;
      const addr = gpaFromHalves(table.getUint32(at, true), table.getUint32(at + 4, true));
      const len = table.getUint32(at + 8, true);
      const flags = table.getUint16(at + 12, true);
      const next = table.getUint16(at + 14, true);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.features.indirect) throw new VirtqueueError('indirect descriptor without VIRTIO_F_INDIRECT_DESC');
        if (indirect) throw new VirtqueueError('indirect descriptor inside an indirect table');
        if (flags & VIRTQ_DESC_F_NEXT) throw new VirtqueueError('indirect descriptor with NEXT set');
        if (len === 0 || len % DESC_BYTES !== 0) throw new VirtqueueError(`indirect table length ${len} is not a non-zero multiple of 16`);
        const bytes = addr === undefined ? undefined : this.mem.bytes(addr, len);
        if (!bytes) throw new VirtqueueError(`indirect table at 0x${(addr ?? 0).toString(16)} (+${len}) is not in guest RAM`);
        table = new DataView(bytes.buffer, bytes.byteOffset, len);
        entries = len / DESC_BYTES;
        i = 0; seen = 0; indirect = true;
        continue;
      }
      const bytes = addr === undefined ? undefined : this.mem.bytes(addr, len);
      if (!bytes) throw new VirtqueueError(`buffer at 0x${(addr ?? 0).toString(16)} (+${len}) is not in guest RAM`);
      if (flags & VIRTQ_DESC_F_WRITE) {
        this.mem.willWrite(addr!, len);
        chain.writable.push(bytes);
        chain.writableBytes += len;
      } else {
        // §2.7.4.2: device-readable descriptors come before device-writable ones.
        if (chain.writable.length) throw new VirtqueueError('a device-readable buffer follows a device-writable one');
        chain.readable.push(bytes);
        chain.readableBytes += len;
      }
      if (chain.readableBytes + chain.writableBytes > MAX_CHAIN_BYTES) throw new VirtqueueError('descriptor chain longer than 4 GiB');
      if (!(flags & VIRTQ_DESC_F_NEXT)) return chain;
      if (next >= entries) throw new VirtqueueError(`descriptor ${i} links to ${next}, past its table (${entries})`);
      i = next;
    }
  }
}

/** Reads `n` bytes at `offset` of the concatenated buffers (a request header split anywhere). */
export function gather(buffers: readonly Uint8Array[], offset: number, n: number): Uint8Array | undefined {
  const out = new Uint8Array(n);
  let got = 0;
  for (const b of buffers) {
    if (offset >= b.length) { offset -= b.length; continue; }
    const take = Math.min(b.length - offset, n - got);
    out.set(b.subarray(offset, offset + take), got);
    got += take;
    offset = 0;
    if (got === n) return out;
  }
  return got === n ? out : undefined;
}

/** Writes `data` at `offset` of the concatenated buffers; returns bytes written. */
export function scatter(buffers: readonly Uint8Array[], offset: number, data: Uint8Array): number {
  let put = 0;
  for (const b of buffers) {
    if (put === data.length) break;
    if (offset >= b.length) { offset -= b.length; continue; }
    const take = Math.min(b.length - offset, data.length - put);
    b.set(data.subarray(put, put + take), offset);
    put += take;
    offset = 0;
  }
  return put;
}
