// A partition as the parent drives it: its lifecycle (the legal transitions between its
// states, decided in one place), booting a VP, raising interrupt lines and reading its
// statistics. The state lives in the partition control block so every thread of the VM
// sees it; the parent drives the transitions (start, pause, resume, stop), the VP threads
// follow.
//
//   Created --start--> Running <--pause/resume--> Paused
//      \                  |                         |
//       `------stop-------+----------stop-----------'--> Stopping --(all VPs halted)--> Stopped

import { ControlBlock, PartitionState, VpState, VP_EXIT_REASONS, VP_IN_GUEST } from './control-block.js';
import { StateBlocks, type TranslationCounters } from '../cpu/state-blocks.js';
import { Plic, SOURCES } from './plic.js';
import type { InterruptLine } from './interrupt-line.js';
import { saveVpStates, checkVpStates, writeVpStates, type VpsState } from './vp-state.js';

export type { InterruptLine } from './interrupt-line.js';
export type { VpsState, SavedVp, VpRunState } from './vp-state.js';

export type PartitionAction = 'start' | 'pause' | 'resume' | 'stop';

/** The states each action is legal in, and the state it leads to. */
const TRANSITIONS: Record<PartitionAction, { from: PartitionState[]; to: PartitionState }> = {
  start: { from: [PartitionState.Created], to: PartitionState.Running },
  pause: { from: [PartitionState.Running], to: PartitionState.Paused },
  resume: { from: [PartitionState.Paused], to: PartitionState.Running },
  stop: { from: [PartitionState.Created, PartitionState.Running, PartitionState.Paused], to: PartitionState.Stopping },
};

export class IllegalTransition extends Error {
  constructor(readonly action: PartitionAction, readonly state: PartitionState) {
    super(`cannot ${action} a partition that is ${PartitionState[state].toLowerCase()}`);
  }
}


export type VpExitCounts = Record<(typeof VP_EXIT_REASONS)[number], number>;

/** What one VP has done so far. */
export interface VpStats {
  vp: number;
  /** Seconds it ran guest code or the hypervisor, parked time excluded. */
  runSeconds: number;
  /** Host CPU time of its thread, as last sampled (0: the host cannot tell). */
  cpuSeconds: number;
  instructions: number;
  exits: VpExitCounts;
  /** Its processor's translation tier. */
  translation: TranslationCounters;
}

export class Partition {
  private readonly harts: StateBlocks;
  private plic: Plic | undefined;

  /**
   * @param cb the partition control block
   * @param guestMemory the VM's shared memory (hart state blocks and RAM)
   * @param plicState the virtual PLIC's shared state, for interruptLine()
   */
  constructor(readonly cb: ControlBlock, private readonly guestMemory: WebAssembly.Memory, private readonly plicState?: SharedArrayBuffer) {
    this.harts = new StateBlocks(guestMemory, cb.vpCount);
  }

  get state(): PartitionState { return this.cb.partitionState(); }

  /** True when the action is legal now. */
  can(action: PartitionAction): boolean { return TRANSITIONS[action].from.includes(this.state); }

  /** Performs the action, or throws IllegalTransition naming the current state. */
  apply(action: PartitionAction): void {
    const state = this.state;
    const t = TRANSITIONS[action];
    if (!t.from.includes(state)) throw new IllegalTransition(action, state);
    // Harts leave run() at their next slice boundary rather than at the end of a budget.
    const leaveGuest = action === 'pause' || action === 'stop';
    if (leaveGuest) this.requestStop(true);
    if (action === 'resume') this.requestStop(false);
    this.cb.setPartitionState(t.to);
  }

  /** Stopping becomes Stopped once every VP thread has left its loop. */
  settle(): boolean {
    if (this.state !== PartitionState.Stopping) return this.state === PartitionState.Stopped;
    for (let i = 0; i < this.cb.vpCount; i++) if (this.cb.vpState(i) !== VpState.Halted) return false;
    this.cb.setPartitionState(PartitionState.Stopped);
    return true;
  }

  /**
   * True when no VP thread can touch its hart: each has parked for the pause (stopped and
   * suspended VPs too, see VirtualProcessor.run) or has halted. A VP rings the doorbell as
   * it parks, so the VM worker, waiting on the doorbell, asks again then.
   */
  quiescent(): boolean {
    const paused = this.state === PartitionState.Paused;
    for (let i = 0; i < this.cb.vpCount; i++) {
      if (this.cb.vpState(i) !== VpState.Halted && !(paused && this.cb.pauseAcknowledged(i))) return false;
    }
    return true;
  }

  /**
   * Asks every VP to flush its TLB before it runs another guest instruction (the dirty
   * log's harvest: a page reachable through a store TLB entry filled before the harvest
   * would be written without being logged again). See flushesPending.
   */
  requestTlbFlushes(): void {
    for (let i = 0; i < this.cb.vpCount; i++) this.harts.requestTlbFlush(i);
  }

  /**
   * True while some VP is in guest code with the flush still to do. A VP outside run()
   * flushes when it enters it, before its first instruction (the request is read after
   * VP_IN_GUEST is set: both are sequentially consistent, so one of the two sees the other).
   */
  tlbFlushesPending(): boolean {
    for (let i = 0; i < this.cb.vpCount; i++) {
      if (this.harts.tlbFlushPending(i) && Atomics.load(this.cb.i32, this.cb.vp32(i) + VP_IN_GUEST) !== 0) return true;
    }
    return false;
  }

  /** The guest's timebase (its `time` CSR) at host timebase tick `hostTicks`; the hypervisor has no clock of its own. */
  guestTime(hostTicks: bigint): bigint { return hostTicks - this.cb.epoch(); }

  /** Makes the guest's timebase read `guestTicks` at host tick `hostTicks`, for every VP at once. */
  rebaseTime(guestTicks: bigint, hostTicks: bigint): void { this.cb.setEpoch(hostTicks - guestTicks); }

  /**
   * The VPs' state (vp-state.ts) with the guest's timebase at `hostTicks`. Legal only when
   * paused and quiescent: then every hart's state block holds all of its state.
   */
  saveVps(hostTicks: bigint): VpsState {
    if (this.state !== PartitionState.Paused || !this.quiescent()) throw new Error('the VPs can be saved only when the partition is paused and every VP has parked');
    return saveVpStates(this.cb, this.guestMemory, this.guestTime(hostTicks));
  }

  /**
   * Restores saved VPs before the partition starts; guest time goes on from the saved
   * timebase at `hostTicks` (no jump back, no stall). Checks all of it first: on bad input
   * it throws StateError naming the field and changes nothing.
   */
  restoreVps(state: unknown, hostTicks: bigint): void {
    if (this.state !== PartitionState.Created) throw new Error(`VPs can be restored only before the partition starts; it is ${PartitionState[this.state].toLowerCase()}`);
    const checked = checkVpStates(state, this.cb.vpCount);
    writeVpStates(this.cb, this.guestMemory, checked);
    this.rebaseTime(checked.timebase, hostTicks);
  }

  /**
   * Starts a stopped VP at entry in S-mode with a0 = its hart id and a1 = arg, the way the
   * guest's own SBI hart_start does (the boot hart gets the kernel entry and the FDT).
   */
  bootVp(vp: number, entry: bigint, arg: bigint): void {
    if (!Number.isInteger(vp) || vp < 0 || vp >= this.cb.vpCount) throw new RangeError(`no VP ${vp} in a partition of ${this.cb.vpCount}`);
    if (!this.cb.requestStart(vp, entry, arg)) throw new Error(`VP ${vp} is not stopped`);
  }

  /** The capability to drive PLIC source `source` (1..SOURCES-1), for the device wired to it. */
  interruptLine(source: number): InterruptLine {
    if (!Number.isInteger(source) || source < 1 || source >= SOURCES) throw new RangeError(`PLIC source ${source} out of range 1..${SOURCES - 1}`);
    if (!this.plicState) throw new Error('this partition handle was made without the PLIC state');
    this.plic ??= new Plic(this.plicState, this.guestMemory, this.cb.vpCount, this.cb);
    const plic = this.plic;
    return (level) => plic.setLine(source, level);
  }

  /** Per-VP run time, host CPU time, instructions and exits (read from shared memory). */
  stats(): VpStats[] {
    return Array.from({ length: this.cb.vpCount }, (_, vp) => {
      const counts = this.cb.exits(vp);
      return {
        vp,
        runSeconds: Number(this.cb.runTimeNs(vp)) / 1e9,
        cpuSeconds: Number(this.cb.cpuTimeNs(vp)) / 1e9,
        instructions: Number(this.harts.instret(vp)),
        translation: this.harts.translation(vp),
        exits: Object.fromEntries(VP_EXIT_REASONS.map((r, i) => [r, counts[i]])) as VpExitCounts,
      };
    });
  }

  private requestStop(on: boolean): void {
    for (let i = 0; i < this.cb.vpCount; i++) this.harts.requestStop(i, on);
  }
}
