// The harts' state blocks as other threads reach them: the one place that knows where hart
// h's fields lie in the VM's shared memory (layout.ts, generated from state-table.mjs).
// Only the fields meant for cross-thread signalling are offered, each with the atomic
// access its protocol needs; a hart's own thread uses its Hart instead.
import {
  STATE_BLOCKS_OFFSET, STATE_BLOCK_BYTES, MAX_HARTS, IRQ_LINES, STOP_REQ, TLB_FLUSH_REQ, INSTRET,
  JIT_RUNS, JIT_MISSES, JIT_INVALIDATIONS, JIT_TRANSLATED, JIT_COMPILE_US, JIT_DROPPED,
} from './layout.js';

export class StateBlocks {
  private readonly i32: Int32Array;
  private readonly u64: BigUint64Array;

  constructor(memory: WebAssembly.Memory, readonly harts: number) {
    if (!Number.isInteger(harts) || harts < 1 || harts > MAX_HARTS) throw new RangeError(`harts must be 1..${MAX_HARTS}, got ${harts}`);
    this.i32 = new Int32Array(memory.buffer, STATE_BLOCKS_OFFSET, (harts * STATE_BLOCK_BYTES) >> 2);
    this.u64 = new BigUint64Array(memory.buffer, STATE_BLOCKS_OFFSET, (harts * STATE_BLOCK_BYTES) >> 3);
  }

  /** Raises (level true) or lowers interrupt lines of a hart, in mip bit positions; returns the lines before. */
  setLines(hart: number, bits: number, level: boolean): number {
    const at = this.at32(hart, IRQ_LINES);
    return level ? Atomics.or(this.i32, at, bits) : Atomics.and(this.i32, at, ~bits);
  }

  /** The interrupt lines a hart sees raised now. */
  lines(hart: number): number { return Atomics.load(this.i32, this.at32(hart, IRQ_LINES)); }

  /** Asks a hart in run() to return at its next slice boundary (on) or lets it run on (off). */
  requestStop(hart: number, on: boolean): void { Atomics.store(this.i32, this.at32(hart, STOP_REQ), on ? 1 : 0); }
  stopRequested(hart: number): boolean { return Atomics.load(this.i32, this.at32(hart, STOP_REQ)) !== 0; }

  /** Asks a hart to flush its TLB before it runs another guest instruction. */
  requestTlbFlush(hart: number): void { Atomics.store(this.i32, this.at32(hart, TLB_FLUSH_REQ), 1); }
  /** True until the hart has done the flush asked for. */
  tlbFlushPending(hart: number): boolean { return Atomics.load(this.i32, this.at32(hart, TLB_FLUSH_REQ)) !== 0; }

  /** Instructions the hart has retired (a plain read: a statistic, not a signal). */
  instret(hart: number): bigint { return this.u64[this.at64(hart, INSTRET)]; }

  /** What the hart's translation tier has done (plain reads of its counters; all 0 without translation). */
  translation(hart: number): TranslationCounters {
    const at = (f: number) => Number(this.u64[this.at64(hart, f)]);
    return {
      runs: at(JIT_RUNS), misses: at(JIT_MISSES), invalidations: at(JIT_INVALIDATIONS),
      translated: at(JIT_TRANSLATED), compileSeconds: at(JIT_COMPILE_US) / 1e6, dropped: at(JIT_DROPPED),
    };
  }

  private at32(hart: number, field: number): number { return (hart * STATE_BLOCK_BYTES + field) >> 2; }
  private at64(hart: number, field: number): number { return (hart * STATE_BLOCK_BYTES + field) >> 3; }
}

/** Counters of a hart's translation tier (docs/cpu.md "Translation"), since the hart was made. */
export interface TranslationCounters {
  /** Calls of translated code (lookup cache hits). */
  runs: number;
  /** Block entries without a translation in the lookup cache. */
  misses: number;
  /** Stores by this hart that made translated code stale. */
  invalidations: number;
  /** Regions translated. */
  translated: number;
  /** Time spent translating them, on the compile thread and the hart's. */
  compileSeconds: number;
  /** Translations given up (the code was written while compiled). */
  dropped: number;
}
