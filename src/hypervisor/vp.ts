// A virtual processor: the hypervisor's loop on one VP thread (ARCHITECTURE.md "Threads").
// core.run() -> exit -> dispatch (hypercall, interrupt controller, MMIO intercept, halt)
// -> core.run() ... It never blocks on I/O: device accesses go to its intercept sink (the
// parent, through the mailbox), and an idle VP parks on its wake word until an interrupt is due.

import type { Hart } from '../cpu/processor.js';
import { Exit, Priv, TICKS_PER_MS } from '../cpu/types.js';
import { CFG_SBI, STIMECMP } from '../cpu/layout.js';
import { StateBlocks } from '../cpu/state-blocks.js';
import { ControlBlock, PartitionState, VpState, VP_IN_GUEST } from './control-block.js';
import type { InterceptResult, InterceptSink } from './intercept-sink.js';
import type { ChannelRegisters } from '../vmbus/channel.js';
import type { Plic } from './plic.js';
import { handleSbi, RfenceKind, SBI_SUCCESS, SBI_ERR_ALREADY_AVAILABLE, SBI_ERR_FAILED, type SbiHost } from './sbi.js';

/** Instructions per run(): how often a busy VP looks at its partition's state. */
const BUDGET = 1 << 22;
/** How often a VP publishes its thread's CPU time (metrics), in ns. */
const CPU_SAMPLE_NS = 250_000_000n;
/** Longest a parked VP sleeps before looking at its partition's state again. */
const PARK_MS = 200;
const SSIP = 1 << 1;

// CSRs the hypervisor programs as the guest's "M-mode firmware" (privileged spec 3.1.8,
// 3.1.11, 3.1.18): every exception and S-level interrupt the guest can handle goes to S.
const CSR_MEDELEG = 0x302, CSR_MIDELEG = 0x303, CSR_MCOUNTEREN = 0x306, CSR_MENVCFG = 0x30a, CSR_SCOUNTEREN = 0x106;
/** Exceptions 0-8 (all but ecall from S), page faults 12, 13, 15. */
const GUEST_MEDELEG = 0xb1ffn;
const GUEST_MIDELEG = 0x222n;            // SSI, STI, SEI
const GUEST_MCOUNTEREN = 0x7n;           // cycle, time, instret readable from S and U
const MENVCFG_STCE = 1n << 63n;          // Sstc: the guest programs stimecmp itself

export interface VpEnv {
  readonly index: number;
  readonly hart: Hart;
  readonly cb: ControlBlock;
  readonly plic: Plic;
  /** Where the machine maps the PLIC's registers (guest-physical). */
  readonly plicWindow: { readonly base: bigint; readonly size: bigint };
  readonly ramBase: bigint;
  readonly ramSize: bigint;
  /** The timebase (10 MHz ticks since the partition's epoch), shared by all its VPs. */
  readonly now: () => bigint;
  /** Monotonic nanoseconds (for the VP's run-time statistics). */
  readonly clock: () => bigint;
  /** This thread's host CPU time in nanoseconds, if the host can tell (sampled a few times a second). */
  readonly threadCpuTime?: () => bigint | undefined;
  /** Where device accesses, the debug console and system reset go. */
  readonly sink: InterceptSink;
  /** VMBus channels' doorbell and interrupt registers, served here without the parent. */
  readonly channels?: ChannelRegisters;
}

/** Why the loop ended. */
export type VpEnd = 'partition-stopped';

/** Sets a hart up as a freshly started guest hart: S-mode at entry, a0 = hartid, a1 = arg. */
export function bootGuestHart(hart: Hart, entry: bigint, arg: bigint): void {
  hart.reset(entry, Priv.S);
  hart.setCsr(CSR_MEDELEG, GUEST_MEDELEG);
  hart.setCsr(CSR_MIDELEG, GUEST_MIDELEG);
  hart.setCsr(CSR_MCOUNTEREN, GUEST_MCOUNTEREN);
  hart.setCsr(CSR_MENVCFG, MENVCFG_STCE);
  // Firmware's choice for a WARL register the kernel may leave alone: Linux 6.1 sets
  // scounteren only from its SBI PMU driver, and without it U-mode rdtime (the vDSO's
  // clock_gettime) would trap as illegal (privileged spec 4.1.5).
  hart.setCsr(CSR_SCOUNTEREN, GUEST_MCOUNTEREN);
  hart.setField(CFG_SBI, 1n);
  hart.setX(10, BigInt(hart.hartId));
  hart.setX(11, arg);
}

export class VirtualProcessor implements SbiHost {
  readonly vpIndex: number;
  readonly vpCount: number;
  private readonly harts: StateBlocks;
  /** Time parked inside the current dispatch (not run time). */
  private parkedNs = 0n;
  /** This VP has set its VP_PAUSED word (parkPaused) and not yet cleared it. */
  private pauseAcknowledged = false;
  /** When the thread's CPU time was last sampled (clock ns). */
  private cpuSampledAt = 0n;
  /** Parked time the throttle asks for and this VP has not yet paid (ns). */
  private owedNs = 0n;

  constructor(private readonly env: VpEnv) {
    this.vpIndex = env.index;
    this.vpCount = env.cb.vpCount;
    this.harts = new StateBlocks(env.hart.memory, this.vpCount);
  }

  /**
   * Runs until the partition stops. The top of this loop is the one place where the VP has
   * no exit outstanding and is outside run(): a pause parks it here, whatever its run state
   * (stopped and suspended VPs too), and acknowledges it so the parent can tell when every
   * hart's state block holds all of that hart's state (Partition.quiescent).
   */
  run(): VpEnd {
    const { cb, hart, index } = this.env;
    for (;;) {
      const ps = cb.partitionState();
      if (ps === PartitionState.Paused) { this.parkPaused(); continue; }
      if (this.pauseAcknowledged) { this.pauseAcknowledged = false; cb.setPauseAcknowledged(index, false); }
      if (ps === PartitionState.Stopping || ps === PartitionState.Stopped) break;
      if (ps !== PartitionState.Running) { this.park(Infinity); continue; }
      const st = cb.vpState(index);
      if (st === VpState.Stopped || st === VpState.StartClaimed) { this.park(Infinity); continue; }
      if (st === VpState.StartPending) this.start();
      if (st === VpState.Suspended && !this.resumeSuspended()) continue;

      Atomics.store(cb.i32, cb.vp32(index) + VP_IN_GUEST, 1);
      const t0 = this.env.clock();
      const exit = hart.run(BUDGET);
      Atomics.store(cb.i32, cb.vp32(index) + VP_IN_GUEST, 0);
      const going = this.dispatch(exit);
      const t1 = this.env.clock();
      const ran = t1 - t0 - this.parkedNs;
      cb.addRunTime(index, ran);
      this.parkedNs = 0n;
      if (t1 - this.cpuSampledAt >= CPU_SAMPLE_NS) this.sampleCpuTime(t1);
      if (!going) break;
      this.throttle(ran);
    }
    cb.setVpState(index, VpState.Halted);
    return 'partition-stopped';
  }

  /** Handles one exit; false when the partition is going away. */
  private dispatch(exit: Exit): boolean {
    const { hart, cb, index } = this.env;
    switch (exit) {
      case Exit.Budget: cb.countExit(index, 'budget'); return true;
      case Exit.Hypercall: cb.countExit(index, 'hypercall'); handleSbi(this); return true;
      case Exit.Wfi: cb.countExit(index, 'wfi'); this.waitForInterrupt(); return true;
      case Exit.MmioLoad:
      case Exit.MmioStore: return this.mmio(exit === Exit.MmioStore);
      default:
        // HTIF exits need CFG_TOHOST, which guest harts never have: anything else is a bug
        // here, and it ends the VM with this message rather than confusing the guest.
        throw new Error(`virtual processor ${this.vpIndex}: unexpected exit ${Exit[exit] ?? exit} at pc 0x${hart.pc.toString(16)}`);
    }
  }

  /**
   * Path 2: the interrupt controller and VMBus channel signals are served here; every other
   * device access goes to the intercept sink. False when the partition is going away.
   */
  private mmio(store: boolean): boolean {
    const { hart, plic, plicWindow, sink, cb } = this.env;
    const addr = hart.exitAddr, width = hart.exitWidth, end = addr + BigInt(width);
    if (addr >= plicWindow.base && end <= plicWindow.base + plicWindow.size) {
      cb.countExit(this.vpIndex, 'plic');
      const offset = Number(addr - plicWindow.base);
      if (store) { plic.write(offset, width, hart.exitValue); hart.mmioComplete(0n); }
      else hart.mmioComplete(plic.read(offset, width));
      return true;
    }
    const fast = this.env.channels?.access(addr, width, store, hart.exitValue);
    if (fast !== undefined) { cb.countExit(this.vpIndex, 'channel'); hart.mmioComplete(fast); return true; }
    cb.countExit(this.vpIndex, 'mmio');
    return this.complete(store ? sink.mmioStore(addr, width, hart.exitValue) : sink.mmioLoad(addr, width));
  }

  /** Finishes an MMIO exit with the sink's answer; false if there was none (stopping). */
  private complete(r: InterceptResult | undefined): boolean {
    if (!r) return false;
    if (r.ok) this.env.hart.mmioComplete(r.value);
    else this.env.hart.mmioFault();
    return true;
  }

  /**
   * WFI: park until an interrupt is pending and enabled, the timer is due, or we are woken.
   * A pause or stop ends the wait: the guest sees its WFI complete early, which WFI allows
   * (priv spec 3.3.3), and the pc is already past it.
   */
  private waitForInterrupt(): void {
    const { cb, hart, index, now } = this.env;
    for (;;) {
      const seq = cb.wakeSeq(index);
      const t = now();
      if (hart.canWake(t)) return;
      if (cb.partitionState() !== PartitionState.Running) return;
      const deadline = hart.field(STIMECMP);
      const ms = deadline > t ? Number(deadline - t) / TICKS_PER_MS : Infinity;
      this.parkTimed(seq, Math.min(ms, PARK_MS));
    }
  }

  /**
   * Keeps the VP parked for the partition's throttle share of its time (THROTTLE_PCT):
   * each run adds its share of parked time owed, paid once a millisecond is owed, so a
   * guest of short runs is held back as much as one of long ones.
   */
  private throttle(ranNs: bigint): void {
    const pct = this.env.cb.throttle();
    if (pct <= 0) { this.owedNs = 0n; return; }
    this.owedNs += (ranNs * BigInt(pct)) / BigInt(100 - pct);
    if (this.owedNs < 1_000_000n) return;
    const ms = Math.min(Number(this.owedNs) / 1e6, PARK_MS);
    this.owedNs = 0n;
    const { cb, index } = this.env;
    const seq = cb.wakeSeq(index);
    if (cb.partitionState() === PartitionState.Running) this.parkTimed(seq, ms);
    this.parkedNs = 0n; // parked between runs: outside the run time the loop measures
  }

  /** Publishes the thread's CPU time for metrics (a read of /proc costs ~20 us: not each exit). */
  private sampleCpuTime(now: bigint): void {
    this.cpuSampledAt = now;
    const ns = this.env.threadCpuTime?.();
    if (ns !== undefined) this.env.cb.setCpuTime(this.env.index, ns);
  }

  /** Parks on the wake word, keeping the time out of the VP's run time. */
  private parkTimed(seq: number, ms: number): void {
    const t0 = this.env.clock();
    if (t0 - this.cpuSampledAt >= CPU_SAMPLE_NS) this.sampleCpuTime(t0); // before a long sleep
    this.env.cb.parkVp(this.env.index, seq, ms);
    this.parkedNs += this.env.clock() - t0;
  }

  /** Parks while the partition is paused, acknowledged once per pause (the doorbell rings with it). */
  private parkPaused(): void {
    const { cb, index } = this.env;
    const seq = cb.wakeSeq(index);
    if (!this.pauseAcknowledged) { this.pauseAcknowledged = true; cb.setPauseAcknowledged(index, true); }
    if (cb.partitionState() === PartitionState.Paused) cb.parkVp(index, seq, PARK_MS);
  }

  private park(ms: number): void {
    const { cb, index } = this.env;
    const seq = cb.wakeSeq(index);
    const st = cb.vpState(index);
    const ps = cb.partitionState();
    if (st === VpState.Stopped || ps === PartitionState.Paused || ps === PartitionState.Created) {
      cb.parkVp(index, seq, Math.min(ms, PARK_MS));
    }
  }

  /** HSM start: the hart begins at the requested address (SBI §9.1). */
  private start(): void {
    const { cb, hart, index } = this.env;
    const { addr, opaque } = cb.startRequest(index);
    bootGuestHart(hart, addr, opaque);
    cb.setVpState(index, VpState.Started);
  }

  // --- SbiHost ----------------------------------------------------------------------------

  reg(n: number): bigint { return this.env.hart.x(n); }
  setReg(n: number, v: bigint): void { this.env.hart.setX(n, v); }

  setTimer(deadline: bigint): void { this.env.hart.setCsr(0x14d, deadline); }

  sendIpi(harts: number[]): void {
    for (const h of harts) {
      this.harts.setLines(h, SSIP, true);
      this.env.cb.wakeVp(h);
    }
  }

  clearIpi(): void { this.env.hart.setCsr(0x144, this.env.hart.csr(0x144) & ~BigInt(SSIP)); }

  remoteFence(harts: number[], kind: RfenceKind): void {
    // Nothing decoded is cached, so FENCE.I needs no remote work (see execute.ts). A future
    // translation cache must keep the invariant this relies on: after FENCE.I, or this
    // call, no hart runs code translated from instruction bytes older than the fence; and a
    // restored hart starts with nothing cached, as it starts with an empty TLB (hart-state.ts).
    if (kind === RfenceKind.FenceI) return;
    const { cb } = this.env;
    for (const h of harts) {
      if (h === this.vpIndex) { this.env.hart.flushTlb(); continue; }
      this.harts.requestTlbFlush(h);
      cb.wakeVp(h);
      // The target flushes before it runs another guest instruction; wait only while it is
      // inside run() with the request still set (a parked hart flushes when it resumes; a
      // pause ends the wait, and a restore flushes every hart anyway).
      while (this.harts.tlbFlushPending(h) && Atomics.load(cb.i32, cb.vp32(h) + VP_IN_GUEST) !== 0) {
        if (cb.partitionState() !== PartitionState.Running) return;
      }
    }
  }

  hartStart(hart: number, addr: bigint, opaque: bigint): bigint {
    return this.env.cb.requestStart(hart, addr, opaque) ? SBI_SUCCESS : SBI_ERR_ALREADY_AVAILABLE;
  }

  hartStop(): bigint {
    // On success the call does not return (SBI §9.2): the loop parks this VP as stopped.
    this.env.cb.setVpState(this.vpIndex, VpState.Stopped);
    return SBI_SUCCESS;
  }

  hartStatus(hart: number): bigint {
    const st = this.env.cb.vpState(hart);
    if (st === VpState.Halted) return BigInt(VpState.Stopped);
    if (st === VpState.StartClaimed) return BigInt(VpState.StartPending);
    return BigInt(st);
  }

  /**
   * Default retentive suspend (SBI §9.4): the call returns SBI_SUCCESS when the hart
   * resumes, so the hart gets its return values now and the VP waits as SUSPENDED at the
   * top of its loop (resumeSuspended). Waiting there rather than inside this call lets a
   * pause park the VP like any other, and it stays SUSPENDED: a saved VM keeps it so, and
   * resume (or a restore) goes back to waiting for an interrupt.
   */
  suspend(): void { this.env.cb.setVpState(this.vpIndex, VpState.Suspended); }

  /** Waits like WFI; true when an interrupt resumed the hart, false when the partition left Running first. */
  private resumeSuspended(): boolean {
    const { cb, index } = this.env;
    this.waitForInterrupt();
    this.parkedNs = 0n; // this wait is outside the run time the loop measures
    if (cb.partitionState() !== PartitionState.Running) return false;
    cb.transitionVp(index, VpState.Suspended, VpState.Started);
    return true;
  }

  systemReset(type: number, reason: number): void { this.env.sink.systemReset(type, reason); }

  isRam(addr: bigint, len: bigint): boolean {
    const { ramBase, ramSize } = this.env;
    return len >= 0n && addr >= ramBase && addr + len <= ramBase + ramSize;
  }

  consoleWrite(addr: bigint, len: bigint): bigint {
    const r = this.env.sink.consoleWrite(addr, len);
    return r && r.ok ? r.value : SBI_ERR_FAILED;
  }

  consoleRead(addr: bigint, len: bigint): bigint {
    const r = this.env.sink.consoleRead(addr, len);
    return r && r.ok ? r.value : 0n;
  }

  consolePutchar(byte: number): void { this.env.sink.consolePutchar(byte); }
}
