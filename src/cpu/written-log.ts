// The written-page log (state-table.mjs: WRITTEN_LOG_OFFSET): one bit per 4 KiB page of a
// VM's RAM, set when the page may have been written since the VM's memory was made. The
// core sets bits on every store path (mmu.ts logWrite); everything else that writes guest
// RAM — the boot loader, the VSPs' DMA into descriptors and used rings, a restore — marks
// what it writes here. A page whose bit is clear was never written, so it is still zero:
// a save leaves it out without reading it (docs/state.md). Setting a bit that need not be
// set costs only a read; missing one would lose the page, so writers mark generously.
//
// Marking a page also tells the translation tier its code may have changed: a watched page
// (one with translations, src/cpu/core/jit.ts) becomes unwatched, so they are not used again.
// A device marks before it writes (virtqueue.ts, when it accepts a buffer); a guest that
// executes a buffer while a device is still filling it gets what it asked for.
// Node-free: VMBus and the hypervisor use it too.
import { WRITTEN_LOG_OFFSET, RAM_OFFSET } from './layout.js';
import { codeMapOf, hasCodeMap } from './memory.js';

export const PAGE_BYTES = 4096;

export class WrittenLog {
  private readonly words: Uint32Array;
  /** The code map's generations, one per page (absent in memories made without one). */
  private readonly generations?: Int32Array;
  readonly pages: number;

  /** @param ramBytes the VM's RAM size (a multiple of 4 KiB) */
  constructor(memory: WebAssembly.Memory | { buffer: ArrayBufferLike }, ramBytes: number) {
    this.pages = Math.ceil(ramBytes / PAGE_BYTES);
    const words = Math.ceil(this.pages / 32);
    if (WRITTEN_LOG_OFFSET + words * 4 > RAM_OFFSET) throw new RangeError(`a written-page log for ${ramBytes} bytes of RAM does not fit`);
    this.words = new Uint32Array(memory.buffer, WRITTEN_LOG_OFFSET, words);
    if (hasCodeMap(memory, ramBytes)) this.generations = new Int32Array(memory.buffer, codeMapOf(ramBytes).offset, this.pages);
  }

  /** Marks the pages of RAM bytes [offset, offset + length) (offset 0 = the first RAM byte). */
  mark(offset: number, length: number): void {
    if (length <= 0) return;
    const first = Math.max(0, Math.floor(offset / PAGE_BYTES));
    const last = Math.min(this.pages - 1, Math.floor((offset + length - 1) / PAGE_BYTES));
    for (let p = first; p <= last;) {
      if ((p & 31) === 0 && p + 31 <= last) { Atomics.store(this.words, p >>> 5, -1); p += 32; continue; }
      Atomics.or(this.words, p >>> 5, 1 << (p & 31));
      p++;
    }
    if (this.generations) for (let p = first; p <= last; p++) this.unwatch(p);
  }

  /** Makes a watched page's generation even again (src/cpu/core/jit.ts unwatch, the same protocol). */
  private unwatch(p: number): void {
    const gens = this.generations!;
    let g = Atomics.or(gens, p, 0);
    while ((g & 1) !== 0) {
      const seen = Atomics.compareExchange(gens, p, g, (g + 1) | 0);
      if (seen === g) return;
      g = seen;
    }
  }

  /**
   * Takes the log: returns its bits (one per page, as the log holds them) and clears them,
   * word by word atomically, so a bit set meanwhile is either in the result or still in
   * the log, never lost. A live migration harvests once per pass (docs/migration.md); it
   * puts back what it took (restore) if it does not finish, since a save trusts the log.
   */
  harvest(): Uint32Array {
    const out = new Uint32Array(this.words.length);
    for (let w = 0; w < out.length; w++) if (Atomics.load(this.words, w) !== 0) out[w] = Atomics.exchange(this.words, w, 0);
    return out;
  }

  /** Sets again every bit of `bits` (a harvest's result, or the union of several). */
  restore(bits: Uint32Array): void {
    const n = Math.min(bits.length, this.words.length);
    for (let w = 0; w < n; w++) if (bits[w] !== 0) Atomics.or(this.words, w, bits[w]!);
  }

  /** Whether page p may have been written. */
  written(p: number): boolean { return (Atomics.load(this.words, p >>> 5) & (1 << (p & 31))) !== 0; }

  /** Whether any page of the 32 starting at page p (p a multiple of 32) may have been written. */
  anyIn32(p: number): boolean { return Atomics.load(this.words, p >>> 5) !== 0; }
}
