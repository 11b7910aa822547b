// A partition's lifecycle: the legal transitions between its states, decided in one place.
// The state lives in the partition control block so every thread of the VM sees it; the
// parent drives the transitions (start, pause, resume, stop), the VP threads follow.
//
//   Created --start--> Running <--pause/resume--> Paused
//      \                  |                         |
//       `------stop-------+----------stop-----------'--> Stopping --(all VPs halted)--> Stopped

import { ControlBlock, PartitionState, VpState } from './control-block.js';
import { STATE_BLOCKS_OFFSET, STATE_BLOCK_BYTES, STOP_REQ } from '../cpu/layout.js';

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

export class Partition {
  /** The STOP_REQ words of the harts, in the VM's memory. */
  private readonly harts: Int32Array;

  constructor(readonly cb: ControlBlock, guestMemory: WebAssembly.Memory) {
    this.harts = new Int32Array(guestMemory.buffer, STATE_BLOCKS_OFFSET, (cb.vpCount * STATE_BLOCK_BYTES) >> 2);
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

  private requestStop(on: boolean): void {
    for (let i = 0; i < this.cb.vpCount; i++) Atomics.store(this.harts, (i * STATE_BLOCK_BYTES + STOP_REQ) >> 2, on ? 1 : 0);
  }
}
