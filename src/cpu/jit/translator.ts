// The translation tier of one hart (docs/cpu.md "Translation"): called by the core when a
// block is hot (core/jit.ts), it finds the region, emits a WebAssembly module for it,
// compiles and instantiates it against the core's exports, and puts the function in the
// core's table. A region's function can be entered at any of its blocks, so a hot block
// that an earlier region of the same page already holds costs no new translation. Translations live until the table holds `maxFunctions` of them; then all
// are dropped at once (QEMU's tb_flush), so a guest that makes code endlessly costs a
// bounded amount of host memory and compile time per flush.
import { findRegion, PAGE_BYTES, type CodeReader } from './region.js';
import { generate, CORE_GLOBALS, CORE_FUNCS } from './codegen.js';
import * as L from '../layout.js';

/** What the tier has done, for metrics (all counts since the hart was made). */
export interface TranslationStats {
  /** Regions translated. */
  translated: number;
  /** Guest instructions in them. */
  instructions: number;
  /** Bytes of WebAssembly emitted. */
  bytes: number;
  /** Time spent finding, emitting and compiling, in milliseconds. */
  compileMs: number;
  /** Times every translation was dropped because the table was full. */
  flushes: number;
  /** Translations given up (the code changed while it was translated, or an error). */
  failed: number;
}

export interface TranslatorOptions {
  /** Translations held before all are dropped (bounds host memory). */
  maxFunctions?: number;
}

/** The core instance's exports a translation needs (src/cpu/core/index.ts). */
export type CoreForTranslation = Record<string, WebAssembly.Global | ((...args: never[]) => unknown)>;

const TABLE_GROWTH = 256;
/** The core keeps a function's table index in 16 bits (core/jit.ts). */
const MAX_SLOT = 0xffff;

/** A translated region: its table slot and the page offsets of its blocks. */
interface Translation { slot: number; blocks: Map<number, number> }

export class Translator {
  readonly stats: TranslationStats = { translated: 0, instructions: 0, bytes: 0, compileMs: 0, flushes: 0, failed: 0 };
  /** The last error a translation hit (a bug in the translator: the block stays interpreted). */
  lastError: unknown;
  private readonly bytes: Uint8Array;
  private readonly imports: WebAssembly.Imports;
  private readonly first: number;
  private next: number;
  private readonly maxFunctions: number;
  private readonly generations: Int32Array;
  /** Translations by host page, with the page's generation they were made at. */
  private readonly pages = new Map<number, { generation: number; translations: Translation[] }>();

  /**
   * @param codeMap where the code map is (memory.ts codeMapOf): the generations of the pages
   * @param stateBase the hart's state block (its lookup cache is cleared on a flush)
   */
  constructor(private readonly memory: WebAssembly.Memory, private readonly table: WebAssembly.Table,
    core: CoreForTranslation, private readonly stateBase: number, codeMap: { offset: number; bytes: number },
    opts: TranslatorOptions = {}) {
    this.bytes = new Uint8Array(memory.buffer);
    this.generations = new Int32Array(memory.buffer, codeMap.offset, codeMap.bytes / 4);
    const coreImports: Record<string, WebAssembly.ExportValue> = {};
    for (const [name] of CORE_GLOBALS) coreImports[name] = need(core, name);
    for (const f of CORE_FUNCS) coreImports[f.name] = need(core, f.name);
    this.imports = { env: { memory }, core: coreImports };
    this.first = table.length; // slots below belong to the core itself
    this.next = this.first;
    this.maxFunctions = Math.min(opts.maxFunctions ?? 4096, MAX_SLOT - this.first);
  }

  /**
   * Translates the block at host offset `host` (virtual pc `pc`): returns the table index
   * of a function holding it, with its block index in bits 31:16; or 0.
   */
  translate(host: number, pc: bigint): number {
    const pageHost = host & ~(PAGE_BYTES - 1);
    const offset = host - pageHost;
    // The core has just watched the page: this generation is what the translation is valid for.
    const generation = Atomics.load(this.generations, (pageHost - L.RAM_OFFSET) / PAGE_BYTES);
    let page = this.pages.get(pageHost);
    if (page && page.generation !== generation) { this.pages.delete(pageHost); page = undefined; }
    for (const t of page?.translations ?? []) {
      const block = t.blocks.get(offset);
      if (block !== undefined) return t.slot | (block << 16);
    }
    const t = this.translateRegion(pageHost, offset);
    if (!t) return 0;
    if (!page) this.pages.set(pageHost, page = { generation, translations: [] });
    page.translations.push(t);
    return t.slot | (t.blocks.get(offset)! << 16);
  }

  private translateRegion(pageHost: number, offset: number): Translation | undefined {
    const t0 = performance.now();
    try {
      // Decode from a copy, then check the code is unchanged once compiled: a store that
      // raced with the translation either shows up there or made the page's generation
      // stale (core/jit.ts), so the translation is never used with old code.
      const code = this.bytes.slice(pageHost, pageHost + PAGE_BYTES);
      const region = findRegion(this.reader(code), offset);
      if (!region) return undefined;
      const wasm = generate(region, { tlbEntries: L.TLB_ENTRIES, tlbEntryBytes: L.TLB_ENTRY_BYTES, memoryMaximumPages: 65536 });
      const module = new WebAssembly.Module(wasm);
      const fn = new WebAssembly.Instance(module, this.imports).exports.block as () => number;
      for (const b of region.blocks) {
        for (const i of b.insns) {
          for (let k = i.off; k < i.off + i.len; k++) {
            if (this.bytes[pageHost + k] !== code[k]) { this.stats.failed++; return undefined; }
          }
        }
      }
      const slot = this.slot();
      this.table.set(slot, fn);
      this.stats.translated++;
      this.stats.instructions += region.size;
      this.stats.bytes += wasm.length;
      return { slot, blocks: new Map(region.blocks.map((b, i) => [b.start, i])) };
    } catch (e) {
      this.stats.failed++;
      this.lastError = e;
      return undefined;
    } finally {
      this.stats.compileMs += performance.now() - t0;
    }
  }

  /** Drops every translation: the lookup cache is cleared and the table slots reused. */
  flush(): void {
    const cache = this.stateBase + L.JIT_CACHE_OFFSET;
    this.bytes.fill(0, cache, cache + L.JIT_CACHE_ENTRIES * L.JIT_CACHE_ENTRY_BYTES);
    for (let i = this.first; i < this.next; i++) this.table.set(i, null);
    this.next = this.first;
    this.pages.clear();
    this.stats.flushes++;
  }

  private slot(): number {
    if (this.next - this.first >= this.maxFunctions) this.flush();
    if (this.next >= this.table.length) this.table.grow(TABLE_GROWTH);
    return this.next++;
  }

  private reader(page: Uint8Array): CodeReader {
    const ctable = new DataView(this.memory.buffer, L.CTABLE_OFFSET, 65536 * 4);
    return {
      parcel: (off) => page[off] | (page[off + 1] << 8),
      expand: (parcel) => ctable.getUint32(parcel * 4, true),
    };
  }
}

function need(core: CoreForTranslation, name: string): WebAssembly.ExportValue {
  const v = core[name];
  if (v === undefined) throw new Error(`the core does not export ${name}: rebuild it (npm run build:cpu)`);
  return v as WebAssembly.ExportValue;
}
