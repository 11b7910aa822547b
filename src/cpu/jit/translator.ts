// The translation tier of one hart (docs/cpu.md "Translation"): called by the core when a
// block is hot (core/jit.ts), it has the block's region translated (compiler.ts),
// instantiates the module against the core's exports and puts the function in the core's
// table. A region's function can be entered at any of its blocks, so a hot block that an
// earlier region of the same page already holds costs no new translation.
//
// Compiling happens on the hart's thread (the block runs translated at once: exec, tests)
// or on a compile thread (compile-thread.ts: the hart goes on interpreting, and the
// translation is installed in the lookup cache when it comes back, if its page has not
// changed since). Translations live until the table holds `maxFunctions` of them; then all
// are dropped at once (QEMU's tb_flush), so a guest that makes code endlessly costs a
// bounded amount of host memory and compile time per flush.
import { PAGE_BYTES } from './region.js';
import { CORE_GLOBALS, CORE_FUNCS } from './codegen.js';
import { RegionCompiler, type CompiledBatch } from './compiler.js';
import * as L from '../layout.js';

/** What the tier has done, for metrics (all counts since the hart was made). */
export interface TranslationStats {
  /** Regions translated. */
  translated: number;
  /** Guest instructions in them. */
  instructions: number;
  /** Bytes of WebAssembly emitted. */
  bytes: number;
  /** Time spent finding, emitting and compiling, in milliseconds (on whichever thread). */
  compileMs: number;
  /** Of which on the hart's own thread (instantiating, and compiling when not off-thread). */
  hartMs: number;
  /** Times every translation was dropped because the table was full. */
  flushes: number;
  /** Translations given up (the code changed while it was translated, or an error). */
  failed: number;
}

/** A compile thread as a hart sees it (compile-thread.ts). */
export interface CompileChannel {
  /** Asks for translations of the blocks at these host offsets. */
  request(hosts: number[]): void;
  /** A batch that has come back, if any (never waits). */
  receive(): CompiledBatch | undefined;
}

export interface TranslatorOptions {
  /** Translations held before all are dropped (bounds host memory). */
  maxFunctions?: number;
  /** Compile on this thread (undefined) or on a compile thread. */
  channel?: CompileChannel;
}

/** The core instance's exports a translation needs (src/cpu/core/index.ts). */
export type CoreForTranslation = Record<string, WebAssembly.Global | ((...args: never[]) => unknown)>;

const TABLE_GROWTH = 256;
/** The core keeps a function's table index in 16 bits (core/jit.ts). */
const MAX_SLOT = 0xffff;

/** A translated region: its table slot and the page offsets of its blocks. */
interface Translation { slot: number; blocks: Map<number, number> }

export class Translator {
  readonly stats: TranslationStats = { translated: 0, instructions: 0, bytes: 0, compileMs: 0, hartMs: 0, flushes: 0, failed: 0 };
  /** The last error a translation hit (a bug in the translator: the block stays interpreted). */
  lastError: unknown;
  private readonly bytes: Uint8Array;
  /** The hart's state block, 64-bit words: where the counters for metrics go. */
  private readonly state: BigUint64Array;
  private readonly imports: WebAssembly.Imports;
  private readonly first: number;
  private next: number;
  private readonly maxFunctions: number;
  private readonly generations: Int32Array;
  private readonly compiler?: RegionCompiler;
  private readonly channel?: CompileChannel;
  private readonly install: (h: number, fn: number, block: number, gen: number, evict: number) => void;
  /** Blocks asked of the compile thread, with their page's generation when asked. */
  private readonly pending = new Map<number, number>();
  /** Translations by host page, with the page's generation they were made at. */
  private readonly pages = new Map<number, { generation: number; translations: Translation[] }>();

  /**
   * @param codeMap where the code map is (memory.ts codeMapOf): the generations of the pages
   * @param stateBase the hart's state block (its lookup cache is cleared on a flush)
   */
  constructor(memory: WebAssembly.Memory, private readonly table: WebAssembly.Table,
    core: CoreForTranslation, private readonly stateBase: number, codeMap: { offset: number; bytes: number },
    opts: TranslatorOptions = {}) {
    this.bytes = new Uint8Array(memory.buffer);
    this.state = new BigUint64Array(memory.buffer, stateBase, L.TLB_OFFSET / 8);
    this.generations = new Int32Array(memory.buffer, codeMap.offset, codeMap.bytes / 4);
    const coreImports: Record<string, WebAssembly.ExportValue> = {};
    for (const [name] of CORE_GLOBALS) coreImports[name] = need(core, name);
    for (const f of CORE_FUNCS) coreImports[f.name] = need(core, f.name);
    this.imports = { env: { memory }, core: coreImports };
    this.install = need(core, 'installTranslation') as unknown as Translator['install'];
    this.first = table.length; // slots below belong to the core itself
    this.next = this.first;
    this.maxFunctions = Math.min(opts.maxFunctions ?? 4096, MAX_SLOT - this.first);
    if (opts.channel) this.channel = opts.channel;
    else this.compiler = new RegionCompiler(memory);
  }

  /**
   * Translates the block at host offset `host` (virtual pc `pc`): returns the table index
   * of a function holding it, with its block index in bits 31:16; or 0 (none, or not yet:
   * a compile thread is at it).
   */
  translate(host: number, _pc: bigint): number {
    const pageHost = host & ~(PAGE_BYTES - 1);
    // The core has just watched the page: this generation is what the translation is valid for.
    const generation = this.generationOf(pageHost);
    const found = this.find(host, generation);
    if (found) return found;
    if (this.channel) {
      this.poll();
      const now = this.find(host, generation);
      if (now) return now;
      if (!this.pending.has(host)) { this.pending.set(host, generation); this.channel.request([host]); }
      return 0;
    }
    this.pending.set(host, generation);
    const t0 = performance.now();
    let batches: CompiledBatch[];
    try {
      batches = this.compiler!.compile([host], false);
    } catch (e) {
      this.pending.delete(host);
      this.stats.failed++;
      this.lastError = e;
      return 0;
    } finally {
      this.stats.hartMs += performance.now() - t0;
    }
    for (const batch of batches) this.take(batch, false);
    return this.find(host, generation);
  }

  /** Copies the counters metrics show into the state block (layout.ts JIT_*). */
  private publish(): void {
    this.state[L.JIT_TRANSLATED / 8] = BigInt(this.stats.translated);
    this.state[L.JIT_COMPILE_US / 8] = BigInt(Math.round(this.stats.compileMs * 1000));
    this.state[L.JIT_DROPPED / 8] = BigInt(this.stats.failed);
  }

  /** Installs the batches the compile thread has finished. Cheap when none are pending. */
  poll(): void {
    if (!this.channel || this.pending.size === 0) return;
    for (let batch = this.channel.receive(); batch; batch = this.channel.receive()) this.take(batch, true);
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

  private generationOf(pageHost: number): number {
    return Atomics.load(this.generations, (pageHost - L.RAM_OFFSET) / PAGE_BYTES);
  }

  /** A translation of the block at `host` valid at `generation`, packed as translate returns it. */
  private find(host: number, generation: number): number {
    const pageHost = host & ~(PAGE_BYTES - 1);
    const page = this.pages.get(pageHost);
    if (!page) return 0;
    if (page.generation !== generation) { this.pages.delete(pageHost); return 0; }
    for (const t of page.translations) {
      const block = t.blocks.get(host - pageHost);
      if (block !== undefined) return t.slot | (block << 16);
    }
    return 0;
  }

  /**
   * Instantiates a batch and records its translations whose page is unchanged since they
   * were asked for; with `cache`, puts them in the lookup cache too (the core asked and
   * went on interpreting).
   */
  private take(batch: CompiledBatch, cache: boolean): void {
    const t0 = performance.now();
    try {
      this.stats.compileMs += batch.ms;
      this.stats.bytes += batch.bytes;
      for (const h of batch.untranslatable) this.pending.delete(h);
      for (const h of batch.raced) { this.pending.delete(h); this.stats.failed++; }
      if (!batch.module || batch.regions.length === 0) return;
      const exports = new WebAssembly.Instance(batch.module, this.imports).exports;
      for (const r of batch.regions) {
        const generation = this.pending.get(r.host);
        this.pending.delete(r.host);
        const pageHost = r.host & ~(PAGE_BYTES - 1);
        // Written since it was watched: the translation may hold the old code.
        if (generation === undefined || this.generationOf(pageHost) !== generation) { this.stats.failed++; continue; }
        const slot = this.slot();
        this.table.set(slot, exports[r.exportName] as WebAssembly.ExportValue);
        this.stats.translated++;
        this.stats.instructions += r.instructions;
        let page = this.pages.get(pageHost);
        if (!page || page.generation !== generation) this.pages.set(pageHost, page = { generation, translations: [] });
        const blocks = new Map(r.blocks.map((off, i) => [off, i]));
        page.translations.push({ slot, blocks });
        if (cache) for (const [off, i] of blocks) this.install(pageHost + off, slot, i, generation, pageHost + off === r.host ? 1 : 0);
      }
    } catch (e) {
      this.stats.failed++;
      this.lastError = e;
    } finally {
      const ms = performance.now() - t0;
      this.stats.hartMs += ms;
      this.stats.compileMs += ms;
      this.publish();
    }
  }

  private slot(): number {
    if (this.next - this.first >= this.maxFunctions) this.flush();
    if (this.next >= this.table.length) this.table.grow(TABLE_GROWTH);
    return this.next++;
  }
}

function need(core: CoreForTranslation, name: string): WebAssembly.ExportValue {
  const v = core[name];
  if (v === undefined) throw new Error(`the core does not export ${name}: rebuild it (npm run build:cpu)`);
  return v as WebAssembly.ExportValue;
}
