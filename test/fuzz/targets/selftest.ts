// Targets that fail on purpose, one of each kind, so the tests can check that the runner
// catches and reports them (test/fuzz.test.ts). Hidden: not listed, not part of "all".
import fc from 'fast-check';
import type { FuzzTarget } from '../harness.js';

const base = { async: false, fromCorpus: () => [], arbitrary: () => fc.nat(10_000), expected: () => false } as const;

/** Throws a TypeError for inputs over 5000: the minimal counterexample is 5001. */
export const selftestCrash: FuzzTarget<number> = {
  ...base, name: 'selftest-crash',
  run(n) { if (n > 5000) (undefined as unknown as { x: number }).x = n; },
};

/** Loops forever for inputs over 100. */
export const selftestHang: FuzzTarget<number> = {
  ...base, name: 'selftest-hang', caseTimeoutMs: 300,
  run(n) { if (n > 100) for (;;) { /* a parser stuck in a loop */ } },
};

/** Allocates 256 MiB for inputs over 100, against a bound of 16 MiB. */
export const selftestAlloc: FuzzTarget<number> = {
  ...base, name: 'selftest-alloc', memoryBound: () => 16 << 20,
  run(n) { if (n > 100) new Uint8Array(256 << 20)[0] = 1; },
};
