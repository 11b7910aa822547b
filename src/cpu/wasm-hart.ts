// The hart of processor.ts implemented by the interpreter: a wasm instance of the core
// (src/cpu/core/) over the VM's shared memory, plus typed views of its state block (layout
// generated from state-table.mjs). Loading the core needs Node (fs, v8 flags); the
// hypervisor sees only the Hart interface.
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import * as L from './layout.js';
import type { Hart } from './processor.js';
import { codeMapOf, hasCodeMap } from './memory.js';
import { JIT_THRESHOLD_DEFAULT } from './jit/threshold.js';
import { timebaseNow } from './timebase.js';
import { Translator, type TranslationStats, type CoreForTranslation, type CompileChannel } from './jit/translator.js';

/** The core's exports (src/cpu/core/index.ts). */
interface CoreExports {
  init(stateBase: number, ramBase: bigint, ramSize: bigint, ramHost: bigint): void;
  reset(hartId: bigint, pc: bigint, priv: number): void;
  run(budget: number): number;
  mmioComplete(value: bigint): void;
  mmioFault(): void;
  flushTlb(): void;
  csrGet(csr: number): bigint;
  csrSet(csr: number, value: bigint): void;
  canWake(now: bigint): number;
  enableTranslation(codeMap: number, threshold: number): void;
}

/** How a hart runs guest code. */
export interface HartOptions {
  /** Translate hot code to WebAssembly (src/cpu/jit); false: interpret only (`--no-jit`). */
  jit?: boolean;
  /** Translations held before all are dropped. */
  maxTranslations?: number;
  /** Entries of a block before it is translated (JIT_THRESHOLD_DEFAULT; 1 translates all code, for tests). */
  jitThreshold?: number;
  /** Compile on a compile thread (jit/compile-thread.ts) rather than on the hart's thread. */
  compileChannel?: CompileChannel;
}

/** Translation is on unless a caller turns it off. */
export const JIT_DEFAULT = true;
export { Exit, Priv, Irq, TIMEBASE_HZ } from './types.js';
import { Exit, Priv } from './types.js';

let compiled: WebAssembly.Module | undefined;
/**
 * The core, compiled once per process and shared with every thread that runs a hart
 * (a WebAssembly.Module can be passed to workers). It is compiled eagerly by the optimizing
 * tier: lazily compiled baseline code would run the first hundred million instructions of
 * a boot several times slower, in every VP thread.
 */
export function coreModule(): WebAssembly.Module {
  if (!compiled) {
    const path = fileURLToPath(new URL('../../../build/cpu.wasm', import.meta.url));
    const bytes = readFileSync(path);
    v8.setFlagsFromString('--no-liftoff');
    v8.setFlagsFromString('--no-wasm-lazy-compilation');
    try {
      compiled = new WebAssembly.Module(bytes);
    } finally {
      v8.setFlagsFromString('--liftoff');
      v8.setFlagsFromString('--wasm-lazy-compilation');
    }
  }
  return compiled;
}


export class WasmHart implements Hart {
  readonly stateBase: number;
  private readonly core: CoreExports;
  /** 64-bit view of the state block (index = byte offset / 8). */
  private readonly u64: BigUint64Array;
  private readonly i32: Int32Array;
  /** The translation tier, when on. */
  private readonly translator?: Translator;

  constructor(readonly memory: WebAssembly.Memory, readonly hartId: number, ramBase: bigint, ramSize: bigint,
    time: () => bigint = timebaseNow, module: WebAssembly.Module = coreModule(), opts: HartOptions = {}) {
    if (hartId < 0 || hartId >= L.MAX_HARTS) throw new RangeError(`hart id ${hartId} out of range 0..${L.MAX_HARTS - 1}`);
    this.stateBase = L.STATE_BLOCKS_OFFSET + hartId * L.STATE_BLOCK_BYTES;
    const table = new WebAssembly.Table({ initial: 1, element: 'anyfunc' });
    let translator: Translator | undefined;
    const translate = (host: number, pc: bigint) => (translator ? translator.translate(host, BigInt.asUintN(64, pc)) : 0);
    const instance = new WebAssembly.Instance(module, { env: { memory, table, hostTime: time, translate } });
    this.core = instance.exports as unknown as CoreExports;
    this.u64 = new BigUint64Array(memory.buffer, this.stateBase, L.TLB_OFFSET / 8);
    this.i32 = new Int32Array(memory.buffer, this.stateBase, L.TLB_OFFSET / 4);
    this.core.init(this.stateBase, ramBase, ramSize, BigInt(L.RAM_OFFSET));
    // Translation needs the code map after RAM (createVmMemory makes room for it).
    if ((opts.jit ?? JIT_DEFAULT) && hasCodeMap(memory, Number(ramSize))) {
      const codeMap = codeMapOf(Number(ramSize));
      translator = new Translator(memory, table, instance.exports as unknown as CoreForTranslation, this.stateBase,
        codeMap, { maxFunctions: opts.maxTranslations, channel: opts.compileChannel });
      this.translator = translator;
      this.core.enableTranslation(codeMap.offset, opts.jitThreshold ?? JIT_THRESHOLD_DEFAULT);
    }
  }

  /** What the translation tier has done, or undefined when this hart only interprets. */
  get translation(): TranslationStats | undefined { return this.translator?.stats; }

  reset(pc: bigint, priv: Priv): void { this.core.reset(BigInt(this.hartId), pc, priv); }
  run(budget: number): Exit {
    this.translator?.poll(); // translations finished on the compile thread
    return this.core.run(budget) as Exit;
  }
  mmioComplete(value: bigint): void { this.core.mmioComplete(value); }
  mmioFault(): void { this.core.mmioFault(); }
  flushTlb(): void { this.core.flushTlb(); }
  /** wasm i64 crosses as a signed BigInt; CSRs are unsigned 64-bit values. */
  csr(n: number): bigint { return BigInt.asUintN(64, this.core.csrGet(n)); }
  setCsr(n: number, v: bigint): void { this.core.csrSet(n, v); }
  canWake(now: bigint): boolean { return this.core.canWake(now) !== 0; }

  /** A 64-bit field of the state block (offsets from layout.ts). */
  field(offset: number): bigint { return this.u64[offset / 8]; }
  setField(offset: number, v: bigint): void { this.u64[offset / 8] = BigInt.asUintN(64, v); }

  x(r: number): bigint { return this.u64[(L.X >> 3) + r]; }
  setX(r: number, v: bigint): void { if (r !== 0) this.u64[(L.X >> 3) + r] = BigInt.asUintN(64, v); }
  f(r: number): bigint { return this.u64[(L.F >> 3) + r]; }
  get pc(): bigint { return this.u64[L.PC >> 3]; }
  set pc(v: bigint) { this.u64[L.PC >> 3] = v; }
  get priv(): Priv { return Number(this.u64[L.PRIV >> 3]) as Priv; }
  get instret(): bigint { return this.u64[L.INSTRET >> 3]; }

  /** Raises or lowers interrupt lines; safe from any thread (Atomics on IRQ_LINES). */
  setIrq(bits: number, level: boolean): void {
    if (level) Atomics.or(this.i32, L.IRQ_LINES >> 2, bits);
    else Atomics.and(this.i32, L.IRQ_LINES >> 2, ~bits);
  }
  /** Asks a running hart to return from run() at its next slice boundary. */
  requestStop(on: boolean): void { Atomics.store(this.i32, L.STOP_REQ >> 2, on ? 1 : 0); }

  /** The MMIO exit being served. */
  get exitAddr(): bigint { return this.field(L.EXIT_ADDR); }
  get exitWidth(): 1 | 2 | 4 | 8 { return Number(this.field(L.EXIT_WIDTH)) as 1 | 2 | 4 | 8; }
  get exitValue(): bigint { return this.field(L.EXIT_VALUE); }
}
