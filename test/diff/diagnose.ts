// Turning a dump mismatch into something a core developer can act on: the first
// differing words, the instructions that could have produced them, and (when QEMU is
// installed) the shortest failing prefix of the program found by bisection.

import type { DirectedProgram } from './directed.js';
import { diffDumps, formatDiffs, hex64, parseDump } from './dump.js';
import type { WordDiff } from './dump.js';
import { DUMP_F, DUMP_FCSR, DUMP_SCRATCH, buildProgram } from './program.js';
import type { BuiltProgram, ProgramSpec } from './program.js';
import type { RunResult } from './runners.js';

const NON_WRITING = /^(s[bhwd]|fs[wd]|c\.s[wd]|c\.fsd|c\.s[wd]sp|c\.fsdsp|b\w+|c\.b\w+|c\.j|c\.jr|fence|ecall|ebreak|c\.ebreak|c\.nop|mret|csrrw x0|\.)/;

/** The register an instruction writes, from its text (first operand, unless it only reads). */
function written(text: string): string | undefined {
  if (NON_WRITING.test(text)) return undefined;
  if (text.startsWith('c.jalr')) return 'x1';
  const m = /^\S+ ([xf]\d+)/.exec(text);
  return m?.[1];
}

function stepText(built: BuiltProgram, step: number): string {
  return built.listing.filter((l) => l.step === step)
    .map((l) => `    ${l.pc.toString(16)}: ${l.insn.text}`).join('\n');
}

/** Static candidates for the first differing register: its last writers in program order. */
function lastWriters(built: BuiltProgram, reg: string, max = 3): string {
  const hits = built.listing.filter((l) => l.step >= 0 && written(l.insn.text) === reg);
  if (hits.length === 0) return `  no body instruction writes ${reg} (initial value or frame)`;
  const steps = [...new Set(hits.slice(-max).map((h) => h.step))];
  return `  last body steps writing ${reg} (static; a forward branch may have skipped them):\n` +
    steps.map((s) => `   step ${s}:\n${stepText(built, s)}`).join('\n');
}

function directedCase(d: DirectedProgram, diff: WordDiff): string | undefined {
  if (diff.index < DUMP_SCRATCH) return undefined;
  const w = diff.index - DUMP_SCRATCH;
  let found: { title: string; word: number } | undefined;
  for (const c of d.cases) if (c.word <= w) found = c;
  if (!found || w >= d.labels.length) return undefined;
  return `  [${found.title}] ${d.labels[w]}: qemu ${hex64(diff.expected)} tshv ${hex64(diff.actual)}`;
}

export function describeMismatch(
  built: BuiltProgram, expected: BigUint64Array, actual: BigUint64Array, directed?: DirectedProgram,
): string {
  const diffs = diffDumps(expected, actual);
  if (diffs.length === 0) return 'dumps are identical';
  const first = diffs[0]!;
  const out = [`${diffs.length} dump words differ (qemu vs tshv):`, formatDiffs(diffs)];
  if (directed) {
    const cases = diffs.map((d) => directedCase(directed, d)).filter((x) => x !== undefined);
    if (cases.length) {
      out.push('directed results that differ:', ...cases.slice(0, 24));
      if (cases.length > 24) out.push(`  … and ${cases.length - 24} more`);
    }
  }
  const regDiff = diffs.find((d) => d.index < DUMP_FCSR);
  if (regDiff) {
    const reg = regDiff.index < DUMP_F ? `x${regDiff.index + 1}` : `f${regDiff.index - DUMP_F}`;
    out.push(lastWriters(built, reg));
  } else if (first.index === DUMP_FCSR) {
    out.push(`  fcsr differs: qemu ${hex64(first.expected)} tshv ${hex64(first.actual)} (flags accrue; bisection finds the instruction)`);
  }
  return out.join('\n');
}

export type Runner = (elf: Uint8Array, name: string) => Promise<RunResult>;

/** Dump of a run, or a reason it has none. */
export async function dumpOf(run: Runner, elf: Uint8Array, name: string): Promise<{ words?: BigUint64Array; error?: string }> {
  const r = await run(elf, name);
  const p = parseDump(r.stdout);
  if (!p.ok) return { error: `exit ${r.code}: ${p.error}${r.stderr ? `\nstderr: ${r.stderr.slice(0, 2000)}` : ''}` };
  if (r.code !== 0) return { words: p.words, error: `exit code ${r.code}` };
  return { words: p.words };
}

function same(a: { words?: BigUint64Array; error?: string }, b: { words?: BigUint64Array; error?: string }): boolean {
  if (!a.words || !b.words) return false;
  return diffDumps(a.words, b.words).length === 0;
}

/**
 * Bisects on the number of body steps for the shortest prefix on which the two runners
 * disagree, and describes its last step. Needs both runners (QEMU live).
 */
export async function shortestFailingPrefix(spec: ProgramSpec, name: string, reference: Runner, subject: Runner): Promise<string> {
  const agree = async (n: number): Promise<boolean> => {
    const elf = buildProgram(spec, n).elf;
    const [a, b] = await Promise.all([dumpOf(reference, elf, `${name}-p${n}`), dumpOf(subject, elf, `${name}-p${n}`)]);
    return same(a, b);
  };
  if (!(await agree(0))) return 'the program with an empty body already differs: the frame (prologue, dump, trap handler) disagrees';
  let lo = 0;
  let hi = spec.body.length;
  if (await agree(hi)) return 'the full program agrees when re-run live (flaky, or the golden dump is stale)';
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (await agree(mid)) lo = mid; else hi = mid;
  }
  const built = buildProgram(spec, hi);
  const [a, b] = await Promise.all([dumpOf(reference, built.elf, `${name}-p${hi}`), dumpOf(subject, built.elf, `${name}-p${hi}`)]);
  const detail = a.words && b.words ? formatDiffs(diffDumps(a.words, b.words)) : `qemu: ${a.error ?? 'ok'}; tshv: ${b.error ?? 'ok'}`;
  return `shortest failing prefix: ${hi} steps; its last step (step ${hi - 1}):\n${stepText(built, hi - 1)}\n` +
    `differences after that prefix (qemu vs tshv):\n${detail}`;
}
