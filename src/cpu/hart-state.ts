// One hart's state as a saved VM keeps it: every SAVED field of the state-block table by
// its own name (SAVED_FIELDS, generated from state-table.mjs, so a field added there is
// saved without a change here), 64-bit values as decimal strings, the multi-word fields
// (X, F, PMPCFG, PMPADDR) as arrays. Read and written straight in the hart's state block in
// the VM's memory: the partition saves harts that are parked and restores them before any
// runs. Free of Node APIs (the hypervisor uses it).
import {
  SAVED_FIELDS, STATE_BLOCKS_OFFSET, STATE_BLOCK_BYTES, MAX_HARTS, X, PRIV, MHARTID, SATP, IRQ_LINES,
  TLB_FLUSH_REQ, TLB_OFFSET, EXIT_ADDR, EXIT_VALUE, EXIT_WIDTH, EXIT_RD, EXIT_INST_LEN,
} from './layout.js';
import { StateReader, type VersionedState } from '../state/contract.js';

export const HART_STATE_VERSION = 1;

type SavedField = (typeof SAVED_FIELDS)[number];
/** `{ version: 1, X: [32 strings], F: [...], PC: "...", ..., IRQ_LINES: "..." }` */
export type HartState = VersionedState & { [F in SavedField as F['name']]: F['count'] extends 1 ? string : string[] };

/** A hart state that passed every check, to be written by writeHartState (decode, then invoke). */
export interface CheckedHartState { readonly hart: number; readonly words: ReadonlyMap<number, bigint> }

const U64_MAX = (1n << 64n) - 1n;
/** What a field may hold beyond being a u64 (the rest is the guest's own business). */
const LIMITS: Record<number, bigint> = { [IRQ_LINES]: 0xffff_ffffn }; // Atomics reach the low word only

function words(memory: WebAssembly.Memory, hart: number): BigUint64Array {
  if (!Number.isInteger(hart) || hart < 0 || hart >= MAX_HARTS) throw new RangeError(`hart ${hart} out of range 0..${MAX_HARTS - 1}`);
  return new BigUint64Array(memory.buffer, STATE_BLOCKS_OFFSET + hart * STATE_BLOCK_BYTES, TLB_OFFSET / 8);
}

/** Hart `hart`'s state from its state block; its thread must not be running it. */
export function saveHartState(memory: WebAssembly.Memory, hart: number): HartState {
  const u64 = words(memory, hart);
  const s: Record<string, unknown> = { version: HART_STATE_VERSION };
  for (const f of SAVED_FIELDS) {
    const at = f.offset / 8;
    s[f.name] = f.count === 1 ? u64[at].toString() : Array.from(u64.subarray(at, at + f.count), String);
  }
  // x0 is zero (unprivileged spec 2.1); its word holds whatever the last instruction wrote
  // there, as the core clears it before each instruction rather than after (execute.ts).
  (s.X as string[])[0] = '0';
  return s as unknown as HartState;
}

/**
 * Checks a saved hart state as untrusted input for hart `hart`; throws StateError naming
 * `device` and the field. Beyond ranges it refuses what the core could never hold: x0 not
 * zero, a privilege level without a TLB set (2 and above 3), a satp MODE writeSatp refuses
 * (priv spec 4.1.11), and another hart's id.
 */
export function checkHartState(state: unknown, hart: number, device = `hart ${hart}`): CheckedHartState {
  const r = new StateReader(device, state, HART_STATE_VERSION);
  const out = new Map<number, bigint>();
  for (const f of SAVED_FIELDS) {
    const max = LIMITS[f.offset] ?? U64_MAX;
    if (f.count === 1) out.set(f.offset, r.bigint(f.name, 0n, max));
    else r.array(f.name, f.count, r.bigintItem(0n, max)).forEach((v, i) => out.set(f.offset + 8 * i, v));
  }
  if (out.get(X) !== 0n) throw r.error('X[0] is not 0');
  if (![0n, 1n, 3n].includes(out.get(PRIV)!)) throw r.error('PRIV is not 0, 1 or 3');
  if (out.get(MHARTID) !== BigInt(hart)) throw r.error(`MHARTID is not ${hart}`);
  if (![0n, 8n, 9n].includes(out.get(SATP)! >> 60n)) throw r.error('SATP MODE is not Bare, Sv39 or Sv48');
  return { hart, words: out };
}

/**
 * Writes a checked hart state into its state block. No exit is outstanding afterwards, and
 * the hart flushes its TLB before its first instruction: entries cached for the state that
 * was there before would translate for the wrong page tables (the core honours
 * TLB_FLUSH_REQ at the top of run(), src/cpu/core/index.ts). The same holds for any cache
 * of decoded code a faster core may add: a restored hart starts with nothing cached.
 * CFG_TOHOST and STOP_REQ are this run's wiring and stay as they are.
 */
export function writeHartState(memory: WebAssembly.Memory, s: CheckedHartState): void {
  const u64 = words(memory, s.hart);
  for (const [offset, v] of s.words) u64[offset / 8] = v;
  for (const f of [EXIT_ADDR, EXIT_VALUE, EXIT_WIDTH, EXIT_RD, EXIT_INST_LEN]) u64[f / 8] = 0n;
  Atomics.store(new Int32Array(u64.buffer, u64.byteOffset, TLB_OFFSET / 4), TLB_FLUSH_REQ / 4, 1);
}

/** Checks, then writes: on bad input throws StateError and the block is unchanged. */
export function restoreHartState(memory: WebAssembly.Memory, hart: number, state: unknown): void {
  writeHartState(memory, checkHartState(state, hart));
}
