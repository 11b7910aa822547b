// The core's vocabulary for the host side, free of Node APIs (the hypervisor uses it).
import * as L from './layout.js';

export enum Exit {
  None = L.EXIT_NONE,
  Budget = L.EXIT_BUDGET,
  Hypercall = L.EXIT_HYPERCALL,
  MmioLoad = L.EXIT_MMIO_LOAD,
  MmioStore = L.EXIT_MMIO_STORE,
  Wfi = L.EXIT_WFI,
  Htif = L.EXIT_HTIF,
}

/** The frequency of the `time` CSR (the platform timebase), in Hz. */
export const TIMEBASE_HZ = 10_000_000;
/** Timebase ticks per millisecond, for turning a timer deadline into a wait. */
export const TICKS_PER_MS = TIMEBASE_HZ / 1000;

export enum Priv { U = 0, S = 1, M = 3 }

/** mip bit positions of the interrupt lines a host may raise (privileged spec 3.1.9). */
export const Irq = { SSIP: 1 << 1, MSIP: 1 << 3, MTIP: 1 << 7, SEIP: 1 << 9, MEIP: 1 << 11 } as const;
