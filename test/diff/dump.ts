// The state dump a test program prints (program.ts, epilogue): DUMP_WORDS lines of 16
// lowercase hex digits. Parsing, naming the words, and comparing two dumps.

import {
  DUMP_F, DUMP_FCSR, DUMP_SCRATCH, DUMP_TRAPS, DUMP_WORDS, DUMP_X, MAX_TRAP_RECORDS, SCRATCH,
} from './program.js';

export type ParseResult =
  | { readonly ok: true; readonly words: BigUint64Array }
  | { readonly ok: false; readonly error: string };

export function parseDump(text: string): ParseResult {
  const lines = text.split(/\r?\n/).filter((l) => /^[0-9a-f]{16}$/.test(l));
  if (lines.length !== DUMP_WORDS) {
    const tail = text.length > 400 ? '…' + text.slice(-400) : text;
    return { ok: false, error: `expected ${DUMP_WORDS} dump lines, got ${lines.length}; output: ${JSON.stringify(tail)}` };
  }
  const words = new BigUint64Array(DUMP_WORDS);
  lines.forEach((l, k) => { words[k] = BigInt('0x' + l); });
  return { ok: true, words };
}

const TRAP_FIELDS = ['mcause', 'mtval', 'mepc'];

/** What a dump word holds, in the terms of the failure report. */
export function wordName(k: number): string {
  if (k < DUMP_F) return `x${k - DUMP_X + 1}`;
  if (k < DUMP_FCSR) return `f${k - DUMP_F}`;
  if (k === DUMP_FCSR) return 'fcsr';
  if (k === DUMP_TRAPS) return 'trap count';
  if (k < DUMP_SCRATCH) {
    const n = k - DUMP_TRAPS - 1;
    if (n < MAX_TRAP_RECORDS * 3) return `trap[${Math.floor(n / 3)}].${TRAP_FIELDS[n % 3]}`;
    return `trap area +${(k - DUMP_TRAPS) * 8}`;
  }
  return `mem[0x${(SCRATCH + (k - DUMP_SCRATCH) * 8).toString(16)}]`;
}

export const hex64 = (v: bigint): string => v.toString(16).padStart(16, '0');

export interface WordDiff {
  readonly index: number;
  readonly name: string;
  readonly expected: bigint;
  readonly actual: bigint;
}

/**
 * Differences the specification allows between two correct machines. Privileged spec
 * §3.1.16: on a breakpoint, mtval is "either set to zero or" the faulting address, here the
 * ebreak's own address; QEMU 7.2 writes zero.
 */
function permitted(k: number, expected: BigUint64Array, actual: BigUint64Array): boolean {
  const n = k - DUMP_TRAPS - 1;
  if (n < 0 || n >= MAX_TRAP_RECORDS * 3 || n % 3 !== 1) return false;
  const rec = DUMP_TRAPS + 1 + n - 1;
  const cause = expected[rec];
  if (cause !== actual[rec] || cause !== 3n) return false;
  return expected[k] === 0n && actual[k] === actual[rec + 2];
}

export function diffDumps(expected: BigUint64Array, actual: BigUint64Array): WordDiff[] {
  const out: WordDiff[] = [];
  for (let k = 0; k < DUMP_WORDS; k++) {
    if (expected[k] !== actual[k] && !permitted(k, expected, actual)) {
      out.push({ index: k, name: wordName(k), expected: expected[k]!, actual: actual[k]! });
    }
  }
  return out;
}

export function formatDiffs(diffs: readonly WordDiff[], max = 12): string {
  const lines = diffs.slice(0, max).map((d) => `  ${d.name.padEnd(18)} qemu ${hex64(d.expected)}  tshv ${hex64(d.actual)}`);
  if (diffs.length > max) lines.push(`  … and ${diffs.length - max} more differing words`);
  return lines.join('\n');
}

/** Words that differ from the initial image: the compact form the golden corpus stores. */
export function sparse(initial: BigUint64Array, words: BigUint64Array): [number, string][] {
  const out: [number, string][] = [];
  for (let k = 0; k < DUMP_WORDS; k++) if (initial[k] !== words[k]) out.push([k, words[k]!.toString(16)]);
  return out;
}

export function unsparse(initial: BigUint64Array, entries: readonly (readonly [number, string])[]): BigUint64Array {
  const words = initial.slice();
  for (const [k, v] of entries) {
    if (!Number.isInteger(k) || k < 0 || k >= DUMP_WORDS || !/^[0-9a-f]{1,16}$/.test(v)) {
      throw new Error(`corrupt golden entry [${k}, ${v}]`);
    }
    words[k] = BigInt('0x' + v);
  }
  return words;
}
