// Indirect I/O: the intercept sink that posts to the parent partition through the VP's
// mailbox in the control block (control-block.ts), and the parent's side of it. The VP
// side is the hypervisor's; the parent's VM worker answers with InterceptService.
import {
  ControlBlock, MailboxState, MailboxStatus, PartitionState, MAILBOX_STATE, MAILBOX_KIND,
  MAILBOX_WIDTH, MAILBOX_STATUS, MAILBOX_ADDR64, MAILBOX_VALUE64, POSTED_HEAD, POSTED_TAIL, POSTED_RING64,
  POSTED_ENTRIES,
} from './control-block.js';
import type { InterceptResult, InterceptSink } from './intercept-sink.js';
import type { AccessWidth } from '../cpu/processor.js';

export type { InterceptResult } from './intercept-sink.js';

/** The mailbox's request codes: the InterceptSink call a request carries (its wire format). */
export enum MailboxOp {
  MmioLoad = 1,          // addr, width -> value, or status Fault
  MmioStore = 2,         // addr, width, value -> status
  ConsoleWrite = 3,      // addr = guest-physical buffer, value = length (validated by the hypervisor)
  ConsolePutchar = 4,    // value = byte
  SystemReset = 5,       // width = SBI reset type, value = reason
  ConsoleRead = 6,       // addr = guest-physical buffer, value = capacity -> value = bytes read
}

/** A device window the parent emulates, as the VM worker registers it with the VPs. */
export interface MmioRange {
  base: bigint;
  size: bigint;
  /** Registers the parent mirrors for loads without side effects (see RegisterShadow in the devices). */
  shadow?: { bytes: Uint8Array; readable: Uint8Array };
  /** Offsets whose stores wait for the parent (non-posted), e.g. a device reset. */
  syncStores?: readonly number[];
}

/**
 * A load served from a register shadow, if every byte it reads is mirrored: 1 for a status
 * register (served at once), 2 for one served once every posted store is performed (the
 * parent's mmio.ts SHADOW_* contract).
 */
function readShadow(shadow: NonNullable<MmioRange['shadow']>, offset: number, width: number, performed: () => boolean): bigint | undefined {
  let v = 0n, ordered = false;
  for (let i = width - 1; i >= 0; i--) {
    const kind = shadow.readable[offset + i];
    if (kind !== 1 && kind !== 2) return undefined;
    ordered ||= kind === 2;
    v = (v << 8n) | BigInt(Atomics.load(shadow.bytes, offset + i));
  }
  return ordered && !performed() ? undefined : v;
}

const FAULT: InterceptResult = { ok: false };
const DONE: InterceptResult = { ok: true, value: 0n };

/** Busy-wait this long for the parent's answer before sleeping (a round trip is ~10 us). */
const SPIN_MS = 0.05;

/**
 * The VP's side of its mailbox. Device loads are answered by the parent (or from a register
 * shadow without asking), stores are posted like writes on a real bus unless the device
 * needs them synchronous; an access outside every registered range is an access fault, as
 * on hardware.
 */
export class MailboxSink implements InterceptSink {
  private readonly at32: number;
  private readonly at64: number;

  /** i32 indices of the other VPs' blocks, whose posted stores must not be overtaken. */
  private readonly others: number[] = [];

  constructor(private readonly cb: ControlBlock, vp: number, private readonly ranges: readonly MmioRange[] = []) {
    this.at32 = cb.vp32(vp);
    this.at64 = cb.vp64(vp);
    for (let i = 0; i < cb.vpCount; i++) if (i !== vp) this.others.push(cb.vp32(i));
  }

  mmioLoad(addr: bigint, width: AccessWidth): InterceptResult | undefined {
    const range = this.rangeOf(addr, width);
    if (!range) return FAULT;
    if (range.shadow) {
      const value = readShadow(range.shadow, Number(addr - range.base), width, () => this.storesPerformed());
      if (value !== undefined) return { ok: true, value };
    }
    return this.call(MailboxOp.MmioLoad, addr, width, 0n);
  }

  /**
   * True when no VP has a posted store the parent has not performed: an ordered shadow
   * register then shows every store made before this load (a device's shadow changes as it
   * performs them), so reading it is ordered as the mailbox would be. Otherwise the load
   * takes the mailbox, which waits for those stores.
   */
  private storesPerformed(): boolean {
    const i32 = this.cb.i32;
    if (Atomics.load(i32, this.at32 + POSTED_HEAD) !== Atomics.load(i32, this.at32 + POSTED_TAIL)) return false;
    for (const at of this.others) if (Atomics.load(i32, at + POSTED_HEAD) !== Atomics.load(i32, at + POSTED_TAIL)) return false;
    return true;
  }

  mmioStore(addr: bigint, width: AccessWidth, value: bigint): InterceptResult | undefined {
    const range = this.rangeOf(addr, width);
    if (!range) return FAULT;
    if (range.syncStores?.includes(Number(addr - range.base))) return this.call(MailboxOp.MmioStore, addr, width, value);
    return this.post(addr, width, value) ? DONE : undefined;
  }

  consoleWrite(addr: bigint, len: bigint): InterceptResult | undefined { return this.call(MailboxOp.ConsoleWrite, addr, 0, len); }
  consoleRead(addr: bigint, len: bigint): InterceptResult | undefined { return this.call(MailboxOp.ConsoleRead, addr, 0, len); }
  consolePutchar(byte: number): void { this.call(MailboxOp.ConsolePutchar, 0n, 0, BigInt(byte)); }
  systemReset(type: number, reason: number): void { this.call(MailboxOp.SystemReset, 0n, type, BigInt(reason)); }

  private rangeOf(addr: bigint, width: number): MmioRange | undefined {
    const end = addr + BigInt(width);
    return this.ranges.find((r) => addr >= r.base && end <= r.base + r.size);
  }

  /**
   * Waits until the parent has performed every store the other VPs had posted when this
   * access was issued, so that device accesses take effect in the order the guest made
   * them. Each VP has its own ring and the parent drains them one after another, so
   * without this a store could overtake an earlier one from another VP that the guest
   * ordered before it with a lock. Linux's 8250 driver does exactly that: the writer's
   * hart sets IER.THRI, the interrupt handler on another hart clears it, and a reordered
   * pair leaves THRI clear while the driver believes it set: the console never transmits
   * again. Usually the other rings are empty and this costs a few loads. False if the
   * partition is stopping.
   */
  private waitForOtherVpsStores(): boolean {
    const i32 = this.cb.i32;
    for (const at of this.others) {
      const head = Atomics.load(i32, at + POSTED_HEAD);
      for (;;) {
        const tail = Atomics.load(i32, at + POSTED_TAIL);
        if (((head - tail) | 0) <= 0) break;
        this.cb.ringDoorbell();
        Atomics.wait(i32, at + POSTED_TAIL, tail, 20);
        const p = this.cb.partitionState();
        if (p === PartitionState.Stopping || p === PartitionState.Stopped) return false;
      }
    }
    return true;
  }

  /**
   * Posts one request and waits for the parent. Returns undefined if the partition is
   * stopping (the parent will not answer any more).
   */
  call(kind: MailboxOp, addr: bigint, width: number, value: bigint): InterceptResult | undefined {
    if (!this.waitForOtherVpsStores()) return undefined;
    const { i32, i64 } = this.cb;
    i32[this.at32 + MAILBOX_KIND] = kind;
    i32[this.at32 + MAILBOX_WIDTH] = width;
    i64[this.at64 + MAILBOX_ADDR64] = addr;
    i64[this.at64 + MAILBOX_VALUE64] = value;
    Atomics.store(i32, this.at32 + MAILBOX_STATE, MailboxState.Request);
    this.cb.ringDoorbell();

    const state = this.at32 + MAILBOX_STATE;
    const spinUntil = performance.now() + SPIN_MS;
    while (Atomics.load(i32, state) === MailboxState.Request) {
      if (performance.now() < spinUntil) continue;
      Atomics.wait(i32, state, MailboxState.Request, 20);
      const p = this.cb.partitionState();
      if (p === PartitionState.Stopping || p === PartitionState.Stopped) return undefined;
    }
    const ok = i32[this.at32 + MAILBOX_STATUS] === MailboxStatus.Ok;
    const result = BigInt.asUintN(64, i64[this.at64 + MAILBOX_VALUE64]);
    Atomics.store(i32, state, MailboxState.Idle);
    return ok ? { ok: true, value: result } : { ok: false };
  }

  /**
   * Queues an MMIO store without waiting for the device (a posted write). Waits only when
   * the ring is full. Rings the doorbell only when the parent had taken every earlier store:
   * while it has not, it is awake or will be for those (drainStores looks again before it
   * stops), so a console line costs one wake-up, not one per character. Returns false if
   * the partition is stopping.
   */
  post(addr: bigint, width: number, value: bigint): boolean {
    if (!this.waitForOtherVpsStores()) return false;
    const { i32, i64 } = this.cb;
    const head = i32[this.at32 + POSTED_HEAD];
    for (;;) {
      const tail = Atomics.load(i32, this.at32 + POSTED_TAIL);
      if (((head - tail) >>> 0) < POSTED_ENTRIES) break;
      this.cb.ringDoorbell();
      Atomics.wait(i32, this.at32 + POSTED_TAIL, tail, 20);
      const p = this.cb.partitionState();
      if (p === PartitionState.Stopping || p === PartitionState.Stopped) return false;
    }
    const e = this.at64 + POSTED_RING64 + (head & (POSTED_ENTRIES - 1)) * 3;
    i64[e] = addr;
    i64[e + 1] = value;
    i64[e + 2] = BigInt(width);
    Atomics.store(i32, this.at32 + POSTED_HEAD, (head + 1) | 0);
    if (Atomics.load(i32, this.at32 + POSTED_TAIL) === head) this.cb.ringDoorbell();
    return true;
  }
}

/** One posted store or mailbox request, as the parent sees it. */
export interface InterceptRequest { kind: MailboxOp; addr: bigint; width: number; value: bigint }

/**
 * The parent's side of one VP's mailbox and posted-store ring. Stores are performed in the
 * order the VP posted them, and all of them before its next mailbox request is answered.
 */
export class InterceptService {
  private readonly at32: number;
  private readonly at64: number;

  constructor(private readonly cb: ControlBlock, vp: number) {
    this.at32 = cb.vp32(vp);
    this.at64 = cb.vp64(vp);
  }

  /** Stores posted and not yet performed. */
  get queuedStores(): number {
    return (Atomics.load(this.cb.i32, this.at32 + POSTED_HEAD) - this.cb.i32[this.at32 + POSTED_TAIL]) >>> 0;
  }

  /** Performs every posted store; true if there were any. */
  drainStores(perform: (addr: bigint, width: number, value: bigint) => void): boolean {
    const { i32, i64 } = this.cb;
    let head = Atomics.load(i32, this.at32 + POSTED_HEAD);
    let tail = i32[this.at32 + POSTED_TAIL];
    if (head === tail) return false;
    do {
      for (; tail !== head; tail = (tail + 1) | 0) {
        const e = this.at64 + POSTED_RING64 + (tail & (POSTED_ENTRIES - 1)) * 3;
        perform(BigInt.asUintN(64, i64[e]), Number(i64[e + 2]), BigInt.asUintN(64, i64[e + 1]));
      }
      Atomics.store(i32, this.at32 + POSTED_TAIL, tail);
      Atomics.notify(i32, this.at32 + POSTED_TAIL); // a VP may wait for room in the ring
      // The VP rings only when it finds the ring empty (post): a store it made while this
      // drain ran, before the tail moved, is taken now, not left for a doorbell that never comes.
      head = Atomics.load(i32, this.at32 + POSTED_HEAD);
    } while (head !== tail);
    return true;
  }

  /**
   * Performs every posted store and returns the mailbox request, if any. The mailbox is
   * looked at first: a VP posts its stores before it fills the mailbox, so every store
   * that precedes the request is in the ring by then and is performed here before the
   * request is answered. (Draining first would race: a store and a request arriving
   * between the two steps would see the load answered before the store was done.)
   */
  take(perform: (addr: bigint, width: number, value: bigint) => void): InterceptRequest | undefined {
    const req = this.request();
    this.drainStores(perform);
    return req;
  }

  /** The request waiting in the mailbox, if any. */
  request(): InterceptRequest | undefined {
    const { i32, i64 } = this.cb;
    if (Atomics.load(i32, this.at32 + MAILBOX_STATE) !== MailboxState.Request) return undefined;
    return {
      kind: i32[this.at32 + MAILBOX_KIND],
      width: i32[this.at32 + MAILBOX_WIDTH],
      addr: BigInt.asUintN(64, i64[this.at64 + MAILBOX_ADDR64]),
      value: BigInt.asUintN(64, i64[this.at64 + MAILBOX_VALUE64]),
    };
  }

  /** Answers the mailbox request and wakes the VP. */
  respond(ok: boolean, value = 0n): void {
    const { i32, i64 } = this.cb;
    i32[this.at32 + MAILBOX_STATUS] = ok ? MailboxStatus.Ok : MailboxStatus.Fault;
    i64[this.at64 + MAILBOX_VALUE64] = value;
    Atomics.store(i32, this.at32 + MAILBOX_STATE, MailboxState.Response);
    Atomics.notify(i32, this.at32 + MAILBOX_STATE);
  }
}
