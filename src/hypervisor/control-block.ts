// The partition control block: the small shared memory through which the threads of one
// VM signal each other (ARCHITECTURE.md "Threads"). One SharedArrayBuffer per partition,
// defined once here for the hypervisor (VP threads) and the parent (VM worker, main).
//
//   header  [doorbell][partition state][vp count][timebase epoch][throttle]  VM worker wakes on the doorbell
//   VP i    [run state][wake][mailbox ...][HSM start ...]           one block per virtual processor
//
// The mailbox carries intercepts the hypervisor forwards to the parent (MMIO to emulated
// devices, console and power requests): the VP writes a request, bumps the doorbell and
// waits on its own mailbox word until the parent answers. Lock rules: a mailbox belongs to
// its VP while MAILBOX_STATE is IDLE or RESPONSE, to the parent while it is REQUEST.

import { MAX_HARTS } from '../cpu/layout.js';

export const HEADER_BYTES = 64;
export const VP_BLOCK_BYTES = 8192;
/** A VP runs one hart, whose state block the VM's memory reserves (cpu/layout.ts). */
export const MAX_VPS = MAX_HARTS;
export const CONTROL_BLOCK_BYTES = HEADER_BYTES + MAX_VPS * VP_BLOCK_BYTES;

// Header, in i32 units.
/** Counter the parent's VM worker waits on; anyone with work for it adds 1 and notifies. */
export const DOORBELL = 0;
export const PARTITION_STATE = 1;
export const VP_COUNT = 2;
/**
 * Header, in i64 units (byte 16): the host timebase tick at which guest time was 0. Every VP
 * reads the guest's `time` as host ticks minus this, so a restore re-bases guest time by
 * writing it once (Partition.rebaseTime).
 */
export const TIMEBASE_EPOCH64 = 2;
/**
 * Header, i32 (byte 24): the share of their time, in percent (0-99), every VP of the
 * partition spends parked rather than running guest code. A live migration raises it for
 * a guest that writes memory faster than the link copies it (auto-converge).
 */
export const THROTTLE_PCT = 6;

/** Partition states (the Hyper-V-style lifecycle the parent reports). */
export enum PartitionState { Created = 0, Running = 1, Paused = 2, Stopping = 3, Stopped = 4 }

/** Virtual processor run states; the numbers of the HSM ones match SBI hart_get_status. */
export enum VpState {
  Started = 0,          // SBI_HSM_STATE_STARTED: running guest code
  Stopped = 1,          // SBI_HSM_STATE_STOPPED: parked until hart_start
  StartPending = 2,     // SBI_HSM_STATE_START_PENDING: hart_start accepted, not yet running
  Suspended = 4,        // SBI_HSM_STATE_SUSPENDED: in hart_suspend (default retentive)
  Halted = 16,          // the VP thread has left its loop (partition stopped or VP failed)
  /** hart_start won the race for a stopped VP and is writing its start address (reads as START_PENDING). */
  StartClaimed = 17,
}

// VP block, i32 indices relative to the block start.
export const VP_RUN_STATE = 0;
/** Futex the VP parks on (WFI, stopped); wakers add 1 and notify. */
export const VP_WAKE = 1;
export const MAILBOX_STATE = 2;
export const MAILBOX_KIND = 3;
export const MAILBOX_WIDTH = 4;
export const MAILBOX_STATUS = 5;
/** Non-zero while the VP is inside run(): remote fences wait for it to flush. */
export const VP_IN_GUEST = 6;
/** Posted-store ring: the VP produces at HEAD, the parent consumes at TAIL (free-running). */
export const POSTED_HEAD = 7;
export const POSTED_TAIL = 8;
/** Exit counters, one i32 per VP_EXIT_REASONS entry from here (written by the VP, read by anyone). */
export const VP_EXITS = 9;
/**
 * Non-zero while the VP is parked because the partition is paused: outside run(), with no
 * exit outstanding, so its hart's state block holds all of its state (Partition.quiescent).
 */
export const VP_PAUSED = 15;
// VP block, i64 (BigInt64) indices relative to the block start; they begin at byte 64,
// after the i32 fields above (control-block.test.ts checks that nothing overlaps).
export const MAILBOX_ADDR64 = 8;   // byte 64
export const MAILBOX_VALUE64 = 9;  // byte 72
export const HSM_START_ADDR64 = 10; // byte 80
export const HSM_OPAQUE64 = 11;     // byte 88
/** Nanoseconds the VP has spent running (guest code and the hypervisor), parked time excluded. */
export const VP_RUN_NS64 = 12;      // byte 96
/** The VP thread's own host CPU time in nanoseconds, as last sampled (0: not available). */
export const VP_CPU_NS64 = 13;      // byte 104
/**
 * Posted MMIO stores (like posted writes on a real bus, the VP does not wait for them):
 * POSTED_ENTRIES entries of three i64 [addr, value, width] from byte 128 of the VP block.
 * The parent drains a VP's ring before it answers that VP's mailbox, so a load that follows
 * stores to a device sees them done.
 */
export const POSTED_RING64 = 16;
export const POSTED_ENTRIES = 256;

/**
 * Where a VP's exit was served, the words of its exit counters (and of the metrics): the
 * core's Exit says why run() returned; the hypervisor classifies each exit as one of these.
 */
export const VP_EXIT_REASONS = ['hypercall', 'wfi', 'plic', 'channel', 'mmio', 'budget'] as const;
export type VpExitReason = (typeof VP_EXIT_REASONS)[number];
const EXIT_COUNTER = Object.fromEntries(VP_EXIT_REASONS.map((r, i) => [r, i])) as Record<VpExitReason, number>;

export enum MailboxState { Idle = 0, Request = 1, Response = 2 }

export enum MailboxStatus { Ok = 0, Fault = 1 }

/** Typed views of a partition control block. */
export class ControlBlock {
  readonly i32: Int32Array;
  readonly i64: BigInt64Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    if (buffer.byteLength < CONTROL_BLOCK_BYTES) throw new RangeError('control block too small');
    this.i32 = new Int32Array(buffer);
    this.i64 = new BigInt64Array(buffer);
  }

  static create(vps: number): ControlBlock {
    if (!Number.isInteger(vps) || vps < 1 || vps > MAX_VPS) throw new RangeError(`VP count must be 1..${MAX_VPS}, got ${vps}`);
    const cb = new ControlBlock(new SharedArrayBuffer(CONTROL_BLOCK_BYTES));
    cb.i32[VP_COUNT] = vps;
    for (let i = 0; i < vps; i++) cb.i32[cb.vp32(i) + VP_RUN_STATE] = VpState.Stopped;
    return cb;
  }

  get vpCount(): number { return this.i32[VP_COUNT]; }
  /** i32 index of VP i's block. */
  vp32(i: number): number { return (HEADER_BYTES + i * VP_BLOCK_BYTES) >> 2; }
  /** i64 index of VP i's block. */
  vp64(i: number): number { return (HEADER_BYTES + i * VP_BLOCK_BYTES) >> 3; }

  partitionState(): PartitionState { return Atomics.load(this.i32, PARTITION_STATE); }
  setPartitionState(s: PartitionState): void {
    Atomics.store(this.i32, PARTITION_STATE, s);
    for (let i = 0; i < this.vpCount; i++) this.wakeVp(i);
    this.ringDoorbell();
  }

  vpState(i: number): VpState { return Atomics.load(this.i32, this.vp32(i) + VP_RUN_STATE); }
  setVpState(i: number, s: VpState): void { Atomics.store(this.i32, this.vp32(i) + VP_RUN_STATE, s); }
  /** Atomically moves VP i from one state to another; false if it was not in `from`. */
  transitionVp(i: number, from: VpState, to: VpState): boolean {
    return Atomics.compareExchange(this.i32, this.vp32(i) + VP_RUN_STATE, from, to) === from;
  }

  /**
   * SBI HSM hart_start (§9.1): a stopped VP starts at addr with a1 = opaque. The VP is
   * claimed first, then its start words written, then published as START_PENDING, so two
   * racing callers cannot both write them: the loser finds it not stopped and changes
   * nothing. False if the VP was not stopped.
   */
  requestStart(i: number, addr: bigint, opaque: bigint): boolean {
    if (!this.transitionVp(i, VpState.Stopped, VpState.StartClaimed)) return false;
    const at = this.vp64(i);
    this.i64[at + HSM_START_ADDR64] = addr;
    this.i64[at + HSM_OPAQUE64] = opaque;
    this.setVpState(i, VpState.StartPending); // a seq-cst store: the words above are visible with it
    this.wakeVp(i);
    return true;
  }

  /** The start address and a1 of a VP that is START_PENDING (written by requestStart). */
  startRequest(i: number): { addr: bigint; opaque: bigint } {
    const at = this.vp64(i);
    return { addr: BigInt.asUintN(64, this.i64[at + HSM_START_ADDR64]), opaque: BigInt.asUintN(64, this.i64[at + HSM_OPAQUE64]) };
  }

  /** Wakes VP i if it is parked (WFI, stopped, waiting for its mailbox). */
  wakeVp(i: number): void {
    const at = this.vp32(i) + VP_WAKE;
    Atomics.add(this.i32, at, 1);
    Atomics.notify(this.i32, at);
  }
  wakeSeq(i: number): number { return Atomics.load(this.i32, this.vp32(i) + VP_WAKE); }
  /** Parks the calling VP thread until woken or `ms` passes (Infinity: no timeout). */
  parkVp(i: number, seq: number, ms: number): void {
    Atomics.wait(this.i32, this.vp32(i) + VP_WAKE, seq, ms);
  }

  /** Counts one exit of VP i (called by the VP itself). */
  countExit(i: number, reason: VpExitReason): void { this.i32[this.vp32(i) + VP_EXITS + EXIT_COUNTER[reason]]++; }
  exits(i: number): number[] {
    return VP_EXIT_REASONS.map((_, r) => this.i32[this.vp32(i) + VP_EXITS + r] >>> 0);
  }
  addRunTime(i: number, ns: bigint): void { this.i64[this.vp64(i) + VP_RUN_NS64] += ns; }
  runTimeNs(i: number): bigint { return this.i64[this.vp64(i) + VP_RUN_NS64]; }
  setCpuTime(i: number, ns: bigint): void { this.i64[this.vp64(i) + VP_CPU_NS64] = ns; }
  cpuTimeNs(i: number): bigint { return this.i64[this.vp64(i) + VP_CPU_NS64]; }

  /** Host timebase ticks at guest time 0 (see TIMEBASE_EPOCH64). */
  epoch(): bigint { return Atomics.load(this.i64, TIMEBASE_EPOCH64); }
  setEpoch(ticks: bigint): void { Atomics.store(this.i64, TIMEBASE_EPOCH64, ticks); }

  /** The partition's throttle (THROTTLE_PCT): 0 runs freely. */
  throttle(): number { return Atomics.load(this.i32, THROTTLE_PCT); }
  setThrottle(pct: number): void { Atomics.store(this.i32, THROTTLE_PCT, Math.max(0, Math.min(99, Math.floor(pct)))); }

  /** Set by VP i when it has parked for a pause, cleared when it leaves; the doorbell tells the VM worker. */
  setPauseAcknowledged(i: number, on: boolean): void {
    Atomics.store(this.i32, this.vp32(i) + VP_PAUSED, on ? 1 : 0);
    if (on) this.ringDoorbell();
  }
  pauseAcknowledged(i: number): boolean { return Atomics.load(this.i32, this.vp32(i) + VP_PAUSED) !== 0; }

  ringDoorbell(): void {
    Atomics.add(this.i32, DOORBELL, 1);
    Atomics.notify(this.i32, DOORBELL);
  }
}
