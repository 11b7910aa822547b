// Compiles hot blocks into one WebAssembly module (docs/cpu.md "Translation"): for each
// block, the region around it (region.ts) is found in a copy of its code page and emitted
// (codegen.ts); all regions of a batch go into one module, so a burst of hot code costs one
// compile and, on the hart's thread, one instantiation. Runs on the hart's own thread
// (Translator, synchronously) or on a compile thread (compile-thread.ts) that reads the same
// shared memory. Node-free.
import { findRegion, PAGE_BYTES, type CodeReader } from './region.js';
import { generate, exportName, CORE_GLOBALS, CORE_FUNCS } from './codegen.js';
import { I64 } from './wasm-writer.js';
import * as L from '../layout.js';

/** A translated region in a batch's module. */
export interface CompiledRegion {
  /** Host offset of the hot block it was made for. */
  host: number;
  /** The module's export holding it. */
  exportName: string;
  /** Page offsets of its blocks, in function block order (the entry points). */
  blocks: number[];
  /** Guest instructions in it. */
  instructions: number;
}

export interface CompiledBatch {
  /** Undefined when no block of the batch could be translated. */
  module?: WebAssembly.Module;
  regions: CompiledRegion[];
  /** Blocks asked for that have no translation: nothing translatable at their start. */
  untranslatable: number[];
  /** Blocks whose code changed while they were compiled (to be asked for again). */
  raced: number[];
  /** Bytes of WebAssembly. */
  bytes: number;
  /** Time spent, in milliseconds. */
  ms: number;
}

/** Translations remembered for other harts asking for the same block (bounds memory). */
const MAX_REMEMBERED = 4096;

/** A translation made before, with the code it was made from: [page offset, bytes] per block. */
interface Remembered { module: WebAssembly.Module; region: CompiledRegion; page: number; code: [number, Uint8Array][] }

const LAYOUT = { tlbEntries: L.TLB_ENTRIES, tlbEntryBytes: L.TLB_ENTRY_BYTES, memoryMaximumPages: 65536 };

export class RegionCompiler {
  private readonly bytes: Uint8Array;
  private readonly ctable: DataView;
  /** Imports for the warm-up instance: a scratch memory, so warming touches no guest state. */
  private warmImports?: WebAssembly.Imports;
  /** By host offset of the block asked for: the harts of a VM run the same code. */
  private readonly remembered = new Map<number, Remembered>();

  constructor(memory: WebAssembly.Memory) {
    this.bytes = new Uint8Array(memory.buffer);
    this.ctable = new DataView(memory.buffer, L.CTABLE_OFFSET, 65536 * 4);
  }

  /**
   * Translations of the blocks at host offsets `hosts`: those translated before (for another
   * hart) from code still the same come back in their modules, the others are translated
   * into one new module (the first batch). `warm` makes V8 compile every function now, on
   * this thread: it compiles a function lazily at its first call, and the code is kept in
   * the Module, which every thread shares.
   */
  compile(hosts: readonly number[], warm: boolean): CompiledBatch[] {
    const fresh: number[] = [];
    const reused = new Map<WebAssembly.Module, CompiledRegion[]>();
    for (const host of hosts) {
      const r = this.remembered.get(host);
      if (r && r.code.every(([off, bytes]) => bytes.every((b, i) => this.bytes[r.page + off + i] === b))) {
        const list = reused.get(r.module) ?? [];
        if (list.length === 0) reused.set(r.module, list);
        list.push(r.region);
      } else {
        this.remembered.delete(host);
        fresh.push(host);
      }
    }
    const out = [...reused].map(([module, regions]): CompiledBatch => ({ module, regions, untranslatable: [], raced: [], bytes: 0, ms: 0 }));
    if (fresh.length > 0) out.unshift(this.translate(fresh, warm));
    return out;
  }

  private translate(hosts: readonly number[], warm: boolean): CompiledBatch {
    const t0 = performance.now();
    const found: { host: number; page: number; code: Uint8Array; region: NonNullable<ReturnType<typeof findRegion>> }[] = [];
    const untranslatable: number[] = [], raced: number[] = [];
    for (const host of hosts) {
      const page = host & ~(PAGE_BYTES - 1);
      // Decode from a copy, then check the code is unchanged once compiled: a store that
      // raced with the translation either shows up there or made the page's generation
      // stale (core/jit.ts), so a translation is never used with old code.
      const code = this.bytes.slice(page, page + PAGE_BYTES);
      const region = findRegion(this.reader(code), host - page);
      if (region) found.push({ host, page, code, region });
      else untranslatable.push(host);
    }
    if (found.length === 0) return { regions: [], untranslatable, raced, bytes: 0, ms: performance.now() - t0 };
    const wasm = generate(found.map((f) => f.region), LAYOUT);
    const module = new WebAssembly.Module(wasm);
    if (warm) this.warm(module, found.length);
    const regions: CompiledRegion[] = [];
    found.forEach((f, i) => {
      if (!this.unchanged(f.page, f.code, f.region)) { raced.push(f.host); return; }
      const compiled: CompiledRegion = { host: f.host, exportName: exportName(i), blocks: f.region.blocks.map((b) => b.start), instructions: f.region.size };
      regions.push(compiled);
      if (this.remembered.size >= MAX_REMEMBERED) this.remembered.clear();
      const code = f.region.blocks.map((b): [number, Uint8Array] => {
        const last = b.insns[b.insns.length - 1];
        return [b.start, f.code.slice(b.start, last.off + last.len)];
      });
      this.remembered.set(f.host, { module, region: compiled, page: f.page, code });
    });
    return { module, regions, untranslatable, raced, bytes: wasm.length, ms: performance.now() - t0 };
  }

  /**
   * Calls each function with no budget (lim 0): it leaves at its first block's fit check,
   * having only read and written back registers of the scratch memory.
   */
  private warm(module: WebAssembly.Module, count: number): void {
    this.warmImports ??= scratchImports();
    const exports = new WebAssembly.Instance(module, this.warmImports).exports;
    for (let i = 0; i < count; i++) (exports[exportName(i)] as (pc: bigint, n: number, lim: number, block: number) => number)(0n, 0, 0, 0);
  }

  private unchanged(page: number, code: Uint8Array, region: NonNullable<ReturnType<typeof findRegion>>): boolean {
    for (const b of region.blocks) {
      for (const i of b.insns) {
        for (let k = i.off; k < i.off + i.len; k++) if (this.bytes[page + k] !== code[k]) return false;
      }
    }
    return true;
  }

  private reader(page: Uint8Array): CodeReader {
    const ctable = this.ctable;
    return {
      parcel: (off) => page[off] | (page[off + 1] << 8),
      expand: (parcel) => ctable.getUint32(parcel * 4, true),
    };
  }
}

/** Stand-ins for the core's exports, over a one-page scratch memory (state block at 0). */
function scratchImports(): WebAssembly.Imports {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: LAYOUT.memoryMaximumPages, shared: true });
  const core: Record<string, WebAssembly.ExportValue> = {};
  for (const [name, type] of CORE_GLOBALS) core[name] = new WebAssembly.Global({ value: type === I64 ? 'i64' : 'i32', mutable: true }, type === I64 ? 0n : 0);
  for (const f of CORE_FUNCS) core[f.name] = (() => { throw new Error(`warm-up called ${f.name}`); }) as unknown as WebAssembly.ExportValue;
  return { env: { memory }, core };
}
