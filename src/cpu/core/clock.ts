// Counters and time (Zicntr). The loop counts instructions in `icount` during run() and
// commits them to INSTRET when run() returns; readers in between add the uncommitted part.

import { INSTRET } from './state';
import { get, put, icount, unretired } from './hart';

/** The platform timebase (10 MHz ticks), provided by the host. */
@external("env", "hostTime")
export declare function hostTime(): u64;

/** Instructions retired before the current one. */
export function retiredNow(): u64 {
  return get(INSTRET) + <u64>(icount - unretired);
}

/** minstret/mcycle write: the next instruction reads v (3.1.10: the writing one does not count). */
export function setRetired(v: u64): void {
  put(INSTRET, v - <u64>(icount + 1 - unretired));
}

/** Commits this run's retired instructions to INSTRET. */
export function commitRetired(): void {
  put(INSTRET, get(INSTRET) + <u64>(icount - unretired));
}
