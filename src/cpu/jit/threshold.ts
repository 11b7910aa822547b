// How hot a block must be before it is translated (docs/cpu.md "Translation"): its own
// module, so the CLI can show the default without loading the processor.

/**
 * Entries of a block, interpreted, before it is translated (`--jit-threshold`). Translating
 * costs about 1-2 ms a region (docs/cpu.md), so code must run often to repay it: at 4000,
 * booting Linux costs about what interpreting it does while CPU-bound code still runs
 * several times faster.
 */
export const JIT_THRESHOLD_DEFAULT = 4000;
