// The saved state of a partition's virtual processors (Partition.saveVps/restoreVps): the
// guest's timebase at the save, and per VP its HSM run state by name, the start request of
// a START_PENDING VP, and the hart's state (src/cpu/hart-state.ts) for the VPs whose hart
// holds any. A STOPPED or START_PENDING hart carries none: hart_start resets it before it
// runs (SBI §9.1; bootGuestHart), so a restore leaves those blocks alone.
import { ControlBlock, VpState, HSM_START_ADDR64, HSM_OPAQUE64 } from './control-block.js';
import { saveHartState, checkHartState, writeHartState, type HartState, type CheckedHartState } from '../cpu/hart-state.js';
import { StateReader, type VersionedState } from '../state/contract.js';

export const VPS_STATE_VERSION = 1;

export type VpRunState = 'started' | 'stopped' | 'start-pending' | 'suspended';

export interface SavedVp {
  runState: VpRunState;
  /** START_PENDING: where hart_start asked the hart to begin, and its a1 (decimal strings). */
  start?: { addr: string; opaque: string };
  /** STARTED and SUSPENDED only. */
  hart?: HartState;
}

export interface VpsState extends VersionedState {
  /** Guest timebase ticks (the `time` CSR) at the save, a decimal string. */
  timebase: string;
  vps: SavedVp[];
}

const RUN_STATES: Record<VpRunState, VpState> = {
  started: VpState.Started, stopped: VpState.Stopped, 'start-pending': VpState.StartPending, suspended: VpState.Suspended,
};
const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;

/** A VP state that passed every check (decode, then invoke). */
interface CheckedVp { runState: VpRunState; start?: { addr: bigint; opaque: bigint }; hart?: CheckedHartState }
export interface CheckedVps { timebase: bigint; vps: CheckedVp[] }

/** Saves every VP; the caller makes sure none is running (paused and quiescent). */
export function saveVpStates(cb: ControlBlock, memory: WebAssembly.Memory, timebase: bigint): VpsState {
  const vps = Array.from({ length: cb.vpCount }, (_, i): SavedVp => {
    const st = cb.vpState(i);
    const runState = (Object.keys(RUN_STATES) as VpRunState[]).find((k) => RUN_STATES[k] === st);
    // Halted (the thread left its loop) and StartClaimed (a hart_start in progress) are
    // not states a quiescent partition can be in.
    if (!runState) throw new Error(`VP ${i} cannot be saved: it is ${VpState[st] ?? st}`);
    if (runState === 'start-pending') {
      const { addr, opaque } = cb.startRequest(i);
      return { runState, start: { addr: addr.toString(), opaque: opaque.toString() } };
    }
    return runState === 'stopped' ? { runState } : { runState, hart: saveHartState(memory, i) };
  });
  return { version: VPS_STATE_VERSION, timebase: timebase.toString(), vps };
}

/** Checks a saved VPs state as untrusted input for a partition of `vpCount` VPs; throws StateError. */
export function checkVpStates(state: unknown, vpCount: number): CheckedVps {
  const r = new StateReader('virtual processors', state, VPS_STATE_VERSION);
  const timebase = r.bigint('timebase', 0n, I64_MAX);
  const vps = r.array('vps', vpCount, (v, at) => [v, at] as const).map(([v, at], i): CheckedVp => {
    const vp = StateReader.nested(`virtual processors ${at}`, v);
    const runState = vp.string('runState', 16, /^(started|stopped|start-pending|suspended)$/) as VpRunState;
    if (runState === 'start-pending') {
      const start = vp.object('start');
      return { runState, start: { addr: start.bigint('addr', 0n, U64_MAX), opaque: start.bigint('opaque', 0n, U64_MAX) } };
    }
    return runState === 'stopped' ? { runState } : { runState, hart: checkHartState((v as { hart?: unknown }).hart, i, `virtual processors ${at} hart`) };
  });
  return { timebase, vps };
}

/** Writes checked VP states: hart state blocks, start requests, then the run states. */
export function writeVpStates(cb: ControlBlock, memory: WebAssembly.Memory, s: CheckedVps): void {
  s.vps.forEach((vp, i) => {
    if (vp.hart) writeHartState(memory, vp.hart);
    if (vp.start) {
      cb.i64[cb.vp64(i) + HSM_START_ADDR64] = vp.start.addr;
      cb.i64[cb.vp64(i) + HSM_OPAQUE64] = vp.start.opaque;
    }
    cb.setVpState(i, RUN_STATES[vp.runState]); // a seq-cst store: the words above are visible with it
  });
}
