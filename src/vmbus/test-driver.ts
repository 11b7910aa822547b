// The driver's half of a split virtqueue (virtio 1.2 §2.7), for tests: a guest RAM with
// canary pages on either side, the three ring parts laid out in it, chains made available
// and used elements collected as a guest driver would. Every write goes through plain
// helpers, so a test can also break any rule on purpose (loops, bad indices, addresses).
import { GuestMemory, type Gpa } from './guest-memory.js';
import { ringBytes, type QueueLayout } from './virtqueue.js';

export const RAM_BASE = 0x8000_0000;
const GUARD_BYTES = 4096;
const CANARY = 0xa5;

// Descriptor flags (§2.7.5).
export const F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4;
/** avail.flags bit (§2.7.7). */
export const AVAIL_F_NO_INTERRUPT = 1;

/**
 * Guest RAM for tests: `size` bytes at guest-physical `base`, inside a SharedArrayBuffer
 * whose bytes before and after RAM hold a canary, so a test can check that nothing
 * outside RAM was touched.
 */
export class TestRam {
  readonly mem: GuestMemory;
  private readonly whole: Uint8Array;
  private readonly view: DataView;
  private top: Gpa;

  constructor(readonly size = 1 << 20, readonly base: Gpa = RAM_BASE) {
    this.whole = new Uint8Array(new SharedArrayBuffer(size + 2 * GUARD_BYTES));
    this.whole.fill(CANARY, 0, GUARD_BYTES);
    this.whole.fill(CANARY, GUARD_BYTES + size);
    this.mem = new GuestMemory(this.whole.subarray(GUARD_BYTES, GUARD_BYTES + size), base);
    this.view = new DataView(this.whole.buffer, GUARD_BYTES, size);
    this.top = base;
  }

  get end(): Gpa { return this.base + this.size; }

  /** Bump allocation of zeroed RAM. */
  alloc(bytes: number, align = 16): Gpa {
    const at = Math.ceil(this.top / align) * align;
    if (at + bytes > this.end) throw new RangeError(`test RAM exhausted (${bytes} bytes)`);
    this.top = at + bytes;
    this.bytes(at, bytes).fill(0);
    return at;
  }

  /** A view of guest RAM (the test's own access: no checks beyond the typed array's). */
  bytes(gpa: Gpa, len: number): Uint8Array { return this.mem.ram.subarray(gpa - this.base, gpa - this.base + len); }
  write(gpa: Gpa, data: ArrayLike<number>): void { this.bytes(gpa, data.length).set(data); }

  u8(gpa: Gpa): number { return this.view.getUint8(gpa - this.base); }
  u16(gpa: Gpa): number { return this.view.getUint16(gpa - this.base, true); }
  u32(gpa: Gpa): number { return this.view.getUint32(gpa - this.base, true); }
  u64(gpa: Gpa): bigint { return this.view.getBigUint64(gpa - this.base, true); }
  setU16(gpa: Gpa, v: number): void { this.view.setUint16(gpa - this.base, v, true); }
  setU32(gpa: Gpa, v: number): void { this.view.setUint32(gpa - this.base, v >>> 0, true); }
  setU64(gpa: Gpa, v: bigint): void { this.view.setBigUint64(gpa - this.base, BigInt.asUintN(64, v), true); }

  /** True if every byte outside RAM still holds the canary. */
  guardsIntact(): boolean {
    const w = this.whole;
    for (let i = 0; i < GUARD_BYTES; i++) if (w[i] !== CANARY || w[w.length - 1 - i] !== CANARY) return false;
    return true;
  }
}

/** One buffer of a chain: `len` bytes at `gpa`, device-writable if `write`. */
export interface Segment { gpa: Gpa | bigint; len: number; write?: boolean }

/** A used element as the driver reads it (§2.7.8). */
export interface UsedElem { id: number; len: number }

/**
 * The driver side of one split virtqueue of `size` entries, its parts allocated in `ram`
 * (or placed where `at` says). Descriptors are handed out from a free list and returned
 * when the device uses their chain, so a test can run any number of requests through.
 */
export class TestDriver {
  readonly layout: QueueLayout;
  private readonly free: number[] = [];
  /** Descriptor indices of each chain in flight, by head. */
  private readonly chains = new Map<number, number[]>();
  private availIdx = 0;
  private lastUsed = 0;

  constructor(readonly ram: TestRam, readonly size: number, at?: Partial<Omit<QueueLayout, 'size'>>) {
    const b = ringBytes(size);
    this.layout = {
      size,
      desc: at?.desc ?? ram.alloc(b.desc, 16),
      driver: at?.driver ?? ram.alloc(b.driver, 2),
      device: at?.device ?? ram.alloc(b.device, 4),
    };
    for (let i = 0; i < size; i++) this.free.push(i);
  }

  /** Writes descriptor `i` of the table at `table` (the queue's own, or an indirect one). */
  writeDesc(table: Gpa, i: number, addr: Gpa | bigint, len: number, flags: number, next = 0): void {
    const at = table + 16 * i;
    this.ram.setU64(at, BigInt(addr));
    this.ram.setU32(at + 8, len);
    this.ram.setU16(at + 12, flags);
    this.ram.setU16(at + 14, next);
  }

  /** Descriptor `i` of the queue's table. */
  desc(i: number, addr: Gpa | bigint, len: number, flags: number, next = 0): void {
    this.writeDesc(this.layout.desc, i, addr, len, flags, next);
  }

  /** Puts `head` in the next available-ring slot and, unless told not to, publishes it. */
  offer(head: number, publish = true): void {
    this.ram.setU16(this.layout.driver + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    if (publish) this.publish();
  }

  /** Writes avail.idx (§2.7.6): makes every chain offered so far visible to the device. */
  publish(): void { this.ram.setU16(this.layout.driver + 2, this.availIdx); }

  /** Sets avail.idx to anything at all (a hostile driver). */
  setAvailIdx(idx: number): void { this.availIdx = idx & 0xffff; this.publish(); }

  /**
   * Makes a chain of `segs` available; with `indirect`, the queue gets one descriptor
   * pointing at a table (allocated in RAM) that holds the chain. Returns the head.
   */
  add(segs: readonly Segment[], opts: { indirect?: boolean; publish?: boolean } = {}): number {
    if (opts.indirect) {
      const table = this.ram.alloc(16 * segs.length, 16);
      segs.forEach((s, i) => this.writeDesc(table, i, s.gpa, s.len, flagsOf(s, i < segs.length - 1), i + 1));
      const head = this.take(1)[0];
      this.desc(head, table, 16 * segs.length, F_INDIRECT);
      this.chains.set(head, [head]);
      this.offer(head, opts.publish ?? true);
      return head;
    }
    const ids = this.take(segs.length);
    segs.forEach((s, i) => this.desc(ids[i], s.gpa, s.len, flagsOf(s, i < segs.length - 1), ids[i + 1] ?? 0));
    this.chains.set(ids[0], ids);
    this.offer(ids[0], opts.publish ?? true);
    return ids[0];
  }

  /** used.idx as the device last published it. */
  usedIdx(): number { return this.ram.u16(this.layout.device + 2); }
  /** used.flags. */
  usedFlags(): number { return this.ram.u16(this.layout.device); }

  /** Used ring element `i` (a free-running index: taken modulo the size). */
  usedElem(i: number): UsedElem {
    const at = this.layout.device + 4 + 8 * (i % this.size);
    return { id: this.ram.u32(at), len: this.ram.u32(at + 4) };
  }

  /** The elements the device used since the last call; their descriptors become free. */
  collect(): UsedElem[] {
    const out: UsedElem[] = [];
    for (const idx = this.usedIdx(); this.lastUsed !== idx; this.lastUsed = (this.lastUsed + 1) & 0xffff) {
      const e = this.usedElem(this.lastUsed);
      const ids = this.chains.get(e.id);
      if (!ids) throw new Error(`device used ${e.id}, which is not a chain in flight`);
      this.chains.delete(e.id);
      this.free.push(...ids);
      out.push(e);
    }
    return out;
  }

  /** avail.flags (VIRTQ_AVAIL_F_NO_INTERRUPT). */
  setAvailFlags(flags: number): void { this.ram.setU16(this.layout.driver, flags); }
  /** avail.used_event (§2.7.10, with VIRTIO_F_EVENT_IDX). */
  setUsedEvent(v: number): void { this.ram.setU16(this.layout.driver + 4 + 2 * this.size, v); }
  /** used.avail_event, written by the device (§2.7.10). */
  availEvent(): number { return this.ram.u16(this.layout.device + 4 + 8 * this.size); }

  private take(n: number): number[] {
    if (n > this.free.length) throw new Error(`only ${this.free.length} free descriptors, ${n} wanted`);
    return this.free.splice(0, n);
  }
}

function flagsOf(s: Segment, more: boolean): number {
  return (s.write ? F_WRITE : 0) | (more ? F_NEXT : 0);
}

/** A device-readable buffer holding `data`, allocated in `ram`. */
export function readable(ram: TestRam, data: ArrayLike<number>): Segment {
  const gpa = ram.alloc(data.length, 8);
  ram.write(gpa, data);
  return { gpa, len: data.length };
}

/** A zeroed device-writable buffer of `len` bytes, allocated in `ram`. */
export function writable(ram: TestRam, len: number): Segment {
  return { gpa: ram.alloc(len, 8), len, write: true };
}
