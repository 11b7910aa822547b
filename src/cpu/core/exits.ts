// Why run() returned (the exit; in Hyper-V terms, the intercept). The codes are generated
// into state.ts from src/cpu/state-table.mjs, shared with the host.

import { endSlice } from './hart';

export {
  EXIT_NONE, EXIT_BUDGET, EXIT_HYPERCALL, EXIT_MMIO_LOAD, EXIT_MMIO_STORE, EXIT_WFI, EXIT_HTIF,
} from './state';
import { EXIT_NONE } from './state';

/** The exit the current run() will return, EXIT_NONE while running. */
export let exitReason: u32 = EXIT_NONE;
export function setExit(reason: u32): void { exitReason = reason; }
export function clearExit(): void { exitReason = EXIT_NONE; }

/** Ends the run after the current instruction, which completes normally. */
export function stopAfterInstruction(): void { endSlice(); }
