// Virtual PLIC: interrupt virtualization for external interrupts (RISC-V Platform-Level
// Interrupt Controller Specification 1.0.0). Devices in the parent only raise or lower a
// line (setLine); the guest programs priorities, enables and thresholds and claims and
// completes through MMIO, which the VP thread serves here without leaving the hypervisor.
//
// One context per hart: the hart's S-mode external interrupt (the device tree lists
// `interrupts-extended = <&cpuN_intc 9>` in hart order). The PLIC's state lives in a
// SharedArrayBuffer seen by every VP thread and the VM worker; a spin lock orders updates.
// The output of context c is SEIP in hart c's IRQ_LINES word in guest memory's state block.
//
// Saved state (plic-state.ts): the registers of this partition's contexts and each line's
// level; restore re-drives every context's SEIP from them.

import { StateBlocks } from '../cpu/state-blocks.js';
import { MAX_VPS, type ControlBlock } from './control-block.js';
import type { Stateful } from '../state/contract.js';
import { parsePlicState, type PlicState } from './plic-state.js';

export type { PlicState } from './plic-state.js';

/** Sources 1..SOURCES-1 (0 means "no interrupt"); the device tree says riscv,ndev = 95. */
export const SOURCES = 96;
const WORDS = SOURCES / 32;
/** One context per VP. */
const MAX_CONTEXTS = MAX_VPS;
const SEIP = 1 << 9;

// Register map (PLIC spec chapter 3 "Memory Map").
const PRIORITY_END = 4 * SOURCES;
const PENDING_BASE = 0x1000;
const ENABLE_BASE = 0x2000, ENABLE_STRIDE = 0x80;
const CONTEXT_BASE = 0x20_0000, CONTEXT_STRIDE = 0x1000;

// Shared state, i32 indices.
const LOCK = 0;
const PRIORITY = 8;                               // [SOURCES]
const PENDING = PRIORITY + SOURCES;               // [WORDS] bit per source
const LEVEL = PENDING + WORDS;                    // [WORDS] current line level
const IN_SERVICE = LEVEL + WORDS;                 // [WORDS] claimed, not yet completed
const ENABLE = IN_SERVICE + WORDS;                // [MAX_CONTEXTS][WORDS]
const THRESHOLD = ENABLE + MAX_CONTEXTS * WORDS;  // [MAX_CONTEXTS]
const STATE_WORDS = THRESHOLD + MAX_CONTEXTS;

export function createPlicState(): SharedArrayBuffer { return new SharedArrayBuffer(STATE_WORDS * 4); }

export class Plic implements Stateful<PlicState> {
  private readonly s: Int32Array;
  private readonly harts: StateBlocks;

  /**
   * @param state the shared PLIC state (createPlicState)
   * @param guestMemory the VM's memory, whose hart state blocks hold the IRQ_LINES words
   * @param contexts number of harts
   */
  constructor(state: SharedArrayBuffer, guestMemory: WebAssembly.Memory, private readonly contexts: number,
    private readonly cb: ControlBlock) {
    if (contexts < 1 || contexts > MAX_CONTEXTS) throw new RangeError(`PLIC contexts must be 1..${MAX_CONTEXTS}`);
    this.s = new Int32Array(state);
    this.harts = new StateBlocks(guestMemory, contexts);
  }

  /** A device raises (true) or lowers its level-triggered line. */
  setLine(source: number, level: boolean): void {
    if (!Number.isInteger(source) || source < 1 || source >= SOURCES) throw new RangeError(`PLIC source ${source} out of range`);
    this.locked(() => {
      setBit(this.s, LEVEL, source, level);
      // The gateway (spec 1.0.0 "Interrupt Gateways") turns an assertion into a request unless
      // the source is in service; it cannot retract a request, so a line lowered before the
      // claim stays pending and the handler finds the device no longer needs service.
      if (level && !getBit(this.s, IN_SERVICE, source)) setBit(this.s, PENDING, source, true);
      this.update();
    });
  }

  /** Guest load from the PLIC window (offset from the start of its window); 32-bit registers only. */
  read(offset: number, width: number): bigint {
    if (width !== 4 || offset % 4 !== 0) return 0n;
    return BigInt(this.locked(() => this.readRegister(offset)) >>> 0);
  }

  /** Guest store to the PLIC window. */
  write(offset: number, width: number, value: bigint): void {
    if (width !== 4 || offset % 4 !== 0) return;
    const v = Number(value & 0xffff_ffffn) | 0;
    this.locked(() => this.writeRegister(offset, v));
  }

  save(): PlicState {
    return this.locked(() => {
      const words = (base: number, n: number) => Array.from(this.s.subarray(base, base + n), (w) => w >>> 0);
      return {
        version: 1,
        priority: words(PRIORITY, SOURCES),
        pending: words(PENDING, WORDS),
        level: words(LEVEL, WORDS),
        inService: words(IN_SERVICE, WORDS),
        enable: Array.from({ length: this.contexts }, (_, ctx) => words(this.enableIndex(ctx, 0), WORDS)),
        threshold: words(THRESHOLD, this.contexts),
      };
    });
  }

  /**
   * Validates a saved state (its contexts must be this partition's), then writes every
   * register under the lock and drives each context's SEIP from them. The enables and
   * thresholds of contexts past the partition's are cleared: the shared words are then
   * exactly what the state says.
   */
  restore(state: unknown): void {
    const p = parsePlicState(state, { sources: SOURCES, contexts: this.contexts });
    this.locked(() => {
      const put = (base: number, values: readonly number[]) => values.forEach((v, i) => { this.s[base + i] = v | 0; });
      put(PRIORITY, p.priority);
      put(PENDING, p.pending);
      put(LEVEL, p.level);
      put(IN_SERVICE, p.inService);
      this.s.fill(0, ENABLE, STATE_WORDS);
      p.enable.forEach((words, ctx) => put(this.enableIndex(ctx, 0), words));
      put(THRESHOLD, p.threshold);
      this.update();
    });
  }

  private readRegister(offset: number): number {
    if (offset < PRIORITY_END) return this.s[PRIORITY + offset / 4];
    if (offset >= PENDING_BASE && offset < PENDING_BASE + 4 * WORDS) return this.s[PENDING + (offset - PENDING_BASE) / 4];
    const enable = this.enableWord(offset);
    if (enable !== undefined) return this.s[enable];
    const ctx = this.contextOf(offset);
    if (ctx === undefined) return 0;
    const reg = (offset - CONTEXT_BASE) % CONTEXT_STRIDE;
    if (reg === 0) return this.s[THRESHOLD + ctx];
    if (reg === 4) return this.claim(ctx);
    return 0;
  }

  private writeRegister(offset: number, v: number): void {
    if (offset < PRIORITY_END) {
      if (offset >= 4) this.s[PRIORITY + offset / 4] = v & 7; // 3 priority bits (WARL)
    } else {
      const enable = this.enableWord(offset);
      if (enable !== undefined) {
        // Source 0 does not exist: its enable bit is hardwired to zero.
        this.s[enable] = (enable - ENABLE) % WORDS === 0 ? v & ~1 : v;
      } else {
        const ctx = this.contextOf(offset);
        if (ctx === undefined) return;
        const reg = (offset - CONTEXT_BASE) % CONTEXT_STRIDE;
        if (reg === 0) this.s[THRESHOLD + ctx] = v & 7;
        else if (reg === 4) this.complete(ctx, v);
        else return;
      }
    }
    this.update();
  }

  private enableIndex(ctx: number, word: number): number { return ENABLE + ctx * WORDS + word; }

  /** i32 index of the enable word at offset, if offset addresses one of our contexts. */
  private enableWord(offset: number): number | undefined {
    if (offset < ENABLE_BASE || offset >= ENABLE_BASE + ENABLE_STRIDE * this.contexts) return undefined;
    const ctx = Math.floor((offset - ENABLE_BASE) / ENABLE_STRIDE);
    const word = ((offset - ENABLE_BASE) % ENABLE_STRIDE) / 4;
    return word < WORDS ? this.enableIndex(ctx, word) : undefined;
  }

  private contextOf(offset: number): number | undefined {
    if (offset < CONTEXT_BASE) return undefined;
    const ctx = Math.floor((offset - CONTEXT_BASE) / CONTEXT_STRIDE);
    return ctx < this.contexts ? ctx : undefined;
  }

  /** Highest-priority pending, enabled source with priority above `floor` (ties: lowest id). */
  private best(ctx: number, floor: number): number {
    let best = 0, bestPriority = floor;
    for (let w = 0; w < WORDS; w++) {
      let bits = this.s[PENDING + w] & this.s[this.enableIndex(ctx, w)];
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const src = w * 32 + b;
        const p = this.s[PRIORITY + src];
        if (p > bestPriority) { best = src; bestPriority = p; }
      }
    }
    return best;
  }

  /**
   * Claim (spec "Interrupt Claim Process"): returns the best source and marks it in service.
   * The threshold masks notifications only: "the claim operation is not affected by the
   * setting of the priority threshold register", so a hart can poll with SEIP masked.
   */
  private claim(ctx: number): number {
    const src = this.best(ctx, 0);
    if (src !== 0) {
      setBit(this.s, PENDING, src, false);
      setBit(this.s, IN_SERVICE, src, true);
      this.update();
    }
    return src;
  }

  /** Completion (spec §9): ignored unless the source is enabled for this context. */
  private complete(ctx: number, src: number): void {
    if (src <= 0 || src >= SOURCES || !getBit(this.s, this.enableIndex(ctx, 0), src)) return;
    setBit(this.s, IN_SERVICE, src, false);
    if (getBit(this.s, LEVEL, src)) setBit(this.s, PENDING, src, true);
  }

  /** Drives each context's SEIP from whether it has a claimable interrupt. */
  private update(): void {
    for (let ctx = 0; ctx < this.contexts; ctx++) {
      if (this.best(ctx, this.s[THRESHOLD + ctx]) !== 0) {
        const before = this.harts.setLines(ctx, SEIP, true);
        if (!(before & SEIP)) this.cb.wakeVp(ctx);
      } else {
        this.harts.setLines(ctx, SEIP, false);
      }
    }
  }

  private locked<T>(fn: () => T): T {
    while (Atomics.compareExchange(this.s, LOCK, 0, 1) !== 0) { /* spin: held for a few hundred ns */ }
    try { return fn(); } finally { Atomics.store(this.s, LOCK, 0); }
  }
}

/** Bit `src` of the bit array starting at word index `base`. */
function getBit(s: Int32Array, base: number, src: number): boolean {
  return ((s[base + (src >> 5)] >>> (src & 31)) & 1) !== 0;
}
function setBit(s: Int32Array, base: number, src: number, on: boolean): void {
  const i = base + (src >> 5), m = 1 << (src & 31);
  s[i] = on ? s[i] | m : s[i] & ~m;
}
