// Bare-metal mode: one hart in M-mode running an ELF at its physical addresses, with a
// UART, the sifive,test0 syscon, a CLINT and HTIF tohost, as riscv-tests and Spike expect.
// Used for ISA tests and CPU benchmarks (`tshv exec`); Linux guests boot through the
// hypervisor instead.
import { WasmHart, Exit, Priv, coreModule } from '../cpu/wasm-hart.js';
import { timebaseNow } from '../cpu/timebase.js';
import type { TranslationStats } from '../cpu/jit/translator.js';
import { TICKS_PER_MS } from '../cpu/types.js';
import { createVmMemory, ramBytes } from '../cpu/memory.js';
import { CFG_TOHOST, MTIMECMP } from '../cpu/layout.js';
import { MmioBus, type Width } from './devices/mmio.js';
import { Uart16550 } from './devices/uart16550/device.js';
import { Syscon, type PowerEvent } from './devices/syscon/device.js';
import { Clint } from './devices/clint/device.js';
import { parseElf, loadElf } from './loader/elf.js';
import { VIRT_MAP } from './machine/virt.js';

/** The virt machine's map (machine/virt.ts), as riscv-tests expect it. */
export const RAM_BASE = VIRT_MAP.ram.base;

export interface BareMetalOptions {
  ramBytes: number;
  /** Stop after this many instructions (result 'limit'). */
  maxInstructions?: bigint;
  /** Translate hot code (default true); false interprets only. */
  jit?: boolean;
  /** Block entries before translation (default JIT_THRESHOLD_DEFAULT; 1 translates everything). */
  jitThreshold?: number;
  /** Receives the bytes the guest writes to the UART, in order. */
  output: (bytes: Uint8Array) => void;
}

export type BareMetalResult =
  | { kind: 'pass' }
  | { kind: 'fail'; code: number }
  | { kind: 'limit' }
  | { kind: 'reset' }
  | { kind: 'stuck'; reason: string };

export interface BareMetalRun {
  result: BareMetalResult;
  instret: bigint;
  seconds: number;
  /** What the translation tier did, when it was on. */
  translation?: TranslationStats;
}

/** Instructions per run() call: small enough to flush output and check limits often. */
const BUDGET = 1 << 24;

export function runBareMetal(elf: Uint8Array, opts: BareMetalOptions): BareMetalRun {
  const image = parseElf(elf);
  const memory = createVmMemory(opts.ramBytes);
  loadElf(image, ramBytes(memory, opts.ramBytes), RAM_BASE);

  const start = timebaseNow();
  const now = () => timebaseNow() - start;
  const hart = new WasmHart(memory, 0, RAM_BASE, BigInt(opts.ramBytes), now, coreModule(), { jit: opts.jit, jitThreshold: opts.jitThreshold });
  hart.reset(image.entry, Priv.M);
  const tohost = image.symbols.get('tohost');
  if (tohost !== undefined) hart.setField(CFG_TOHOST, tohost);

  let pending: number[] = [];
  const flush = () => { if (pending.length) { opts.output(Uint8Array.from(pending)); pending = []; } };
  let power: PowerEvent | undefined;
  const bus = new MmioBus();
  bus.map(VIRT_MAP.uart0.base, new Uart16550((b) => { pending.push(b); if (pending.length >= 4096) flush(); }));
  bus.map(VIRT_MAP.test.base, new Syscon((e) => { power = e; }));
  bus.map(VIRT_MAP.clint.base, new Clint([hart], now));

  const t0 = performance.now();
  const finish = (result: BareMetalResult): BareMetalRun => {
    flush();
    return { result, instret: hart.instret, seconds: (performance.now() - t0) / 1000, translation: hart.translation };
  };

  for (;;) {
    let budget = BUDGET;
    if (opts.maxInstructions !== undefined) {
      const left = opts.maxInstructions - hart.instret;
      if (left <= 0n) return finish({ kind: 'limit' });
      if (left < BigInt(budget)) budget = Number(left);
    }
    const exit = hart.run(budget);
    switch (exit) {
      case Exit.Budget:
        flush();
        break;
      case Exit.MmioLoad:
      case Exit.MmioStore: {
        const width = hart.exitWidth as Width;
        const hit = bus.find(hart.exitAddr, width);
        if (!hit) { hart.mmioFault(); break; }
        if (exit === Exit.MmioLoad) hart.mmioComplete(hit.device.read(hit.offset, width));
        else { hit.device.write(hit.offset, width, hart.exitValue); hart.mmioComplete(0n); }
        if (power) {
          const p: PowerEvent = power;
          return finish(p.kind === 'poweroff' ? { kind: 'pass' } : p.kind === 'fail' ? { kind: 'fail', code: p.code } : { kind: 'reset' });
        }
        break;
      }
      case Exit.Htif: {
        const value = hart.exitAddr;
        if (value === 1n) return finish({ kind: 'pass' });
        if (value & 1n) return finish({ kind: 'fail', code: Number(value >> 1n) });
        return finish({ kind: 'stuck', reason: `unsupported HTIF request 0x${value.toString(16)} written to tohost` });
      }
      case Exit.Wfi: {
        flush();
        const reason = waitForInterrupt(hart, now);
        if (reason) return finish({ kind: 'stuck', reason });
        break;
      }
      default:
        return finish({ kind: 'stuck', reason: `unexpected exit ${Exit[exit] ?? exit}` });
    }
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Parks the thread until the hart can wake (its timer fires); returns why it never can. */
function waitForInterrupt(hart: WasmHart, now: () => bigint): string | undefined {
  for (;;) {
    const t = now();
    if (hart.canWake(t)) return undefined;
    const mtimecmp = hart.field(MTIMECMP);
    const stimecmp = hart.csr(0x14d);
    const deadline = mtimecmp < stimecmp ? mtimecmp : stimecmp;
    if (deadline === 0xffff_ffff_ffff_ffffn) {
      return 'the hart is waiting for an interrupt (WFI) but no timer is armed and nothing else can wake it';
    }
    if (deadline <= t) return 'the hart is waiting for an interrupt (WFI) but its timer interrupt is not enabled';
    const ms = Number(deadline - t) / TICKS_PER_MS;
    Atomics.wait(sleeper, 0, 0, Math.min(Math.max(ms, 0), 100));
  }
}
