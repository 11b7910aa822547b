// The hardware layer's interface: one hart as the hypervisor drives it, free of Node APIs
// (TinyEMU's CPU interface is the model: reset, run, complete an exit, raise lines, flush).
// The implementation runs the core compiled to WebAssembly (wasm-hart.ts); a translator
// tier would be a second one behind the same interface.
import type { Exit, Priv } from './types.js';

export type AccessWidth = 1 | 2 | 4 | 8;

export interface Hart {
  readonly hartId: number;
  /** The VM's shared memory (state blocks and guest RAM). */
  readonly memory: WebAssembly.Memory;

  /** Resets the hart to start at pc in the given privilege mode. */
  reset(pc: bigint, priv: Priv): void;
  /** Runs guest code for at most budget instructions; returns why it stopped. */
  run(budget: number): Exit;
  /** Finishes an MMIO exit: the load's value (ignored for stores), and steps past it. */
  mmioComplete(value: bigint): void;
  /** Finishes an MMIO exit as an access fault, delivered to the guest. */
  mmioFault(): void;
  flushTlb(): void;
  /** True if an enabled interrupt is pending or due at `now` (WFI may end). */
  canWake(now: bigint): boolean;

  csr(n: number): bigint;
  setCsr(n: number, v: bigint): void;
  /** A 64-bit field of the hart's state block (offsets from layout.ts). */
  field(offset: number): bigint;
  setField(offset: number, v: bigint): void;
  x(r: number): bigint;
  setX(r: number, v: bigint): void;
  readonly pc: bigint;
  readonly priv: Priv;
  readonly instret: bigint;

  /** The MMIO exit being served. */
  readonly exitAddr: bigint;
  readonly exitWidth: AccessWidth;
  readonly exitValue: bigint;
}
