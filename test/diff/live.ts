// Live differential runs against an installed QEMU (scripts/diff-qemu.js):
//   node scripts/diff-qemu.js [--count N] [--seed S] [--steps N] [--jobs N] [--profile P] [--cli]
//       fresh random seeds on both QEMU and tshv; P: full (RV64GC, M-mode, default),
//       int (no F/D; also --int), sv39 (S-mode, Sv39), sv48u (U-mode, Sv48);
//       mismatches are bisected to the shortest failing prefix
//   node scripts/diff-qemu.js --golden     the golden corpus programs, both machines live
//   node scripts/diff-qemu.js --record     re-record the golden corpus from QEMU
//   node scripts/diff-qemu.js --show NAME  print a program's listing (random-SEED, randint-SEED, randsv39-SEED,
//                                          randsv48u-SEED, or a directed name)
// This module only exports; importing it has no side effects (node --test loads it).

import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { CORPUS_FORMAT, DEFAULT_STEPS, GENERATOR_VERSION, GOLDEN_RANDOM, goldenNames, programByName, randomName, writeCorpus } from './corpus.js';
import type { GoldenEntry, TestProgram } from './corpus.js';
import { describeMismatch, dumpOf, shortestFailingPrefix } from './diagnose.js';
import type { Runner } from './diagnose.js';
import { diffDumps, sparse } from './dump.js';
import { buildProgram } from './program.js';
import { PROFILES } from './generator.js';
import type { Profile } from './generator.js';
import { QEMU, pool, qemuAvailable, runQemu } from './runners.js';
import { tshvRunner } from './tshv.js';

interface Args {
  count: number; seed: number; steps: number; jobs: number;
  record: boolean; golden: boolean; cli: boolean; profile: Profile; show?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    count: 50, seed: (Date.now() % 1_000_000_000) + 1_000_000, steps: DEFAULT_STEPS,
    jobs: Math.max(1, availableParallelism()), record: false, golden: false, cli: false, profile: 'full',
  };
  for (let k = 0; k < argv.length; k++) {
    const v = argv[k]!;
    const num = (): number => {
      const n = Number(argv[++k]);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${v} needs a non-negative integer`);
      return n;
    };
    switch (v) {
      case '--count': a.count = num(); break;
      case '--seed': a.seed = num(); break;
      case '--steps': a.steps = num(); break;
      case '--jobs': a.jobs = Math.max(1, num()); break;
      case '--record': a.record = true; break;
      case '--golden': a.golden = true; break;
      case '--cli': a.cli = true; break;
      case '--int': a.profile = 'int'; break;
      case '--profile': {
        const p = argv[++k] as Profile;
        if (!PROFILES.includes(p)) throw new Error(`--profile takes one of ${PROFILES.join(', ')}`);
        a.profile = p;
        break;
      }
      case '--show': a.show = argv[++k]; break;
      default: throw new Error(`unknown argument ${v} (see the header of test/diff/live.ts)`);
    }
  }
  return a;
}

const qemuRun: Runner = (elf, name) => runQemu(elf, name);

async function record(jobs: number): Promise<number> {
  const names = goldenNames();
  const version = execFileSync(QEMU, ['--version'], { encoding: 'utf8' }).split('\n')[0]!;
  let failed = 0;
  const entries = await pool(names, jobs, async (name): Promise<GoldenEntry | undefined> => {
    const p = programByName(name);
    const built = buildProgram(p.spec);
    const d = await dumpOf(qemuRun, built.elf, name);
    if (!d.words || d.error) {
      failed++;
      process.stderr.write(`${name}: QEMU gave no usable dump: ${d.error}\n`);
      return undefined;
    }
    return { name, words: sparse(built.initialDump, d.words) };
  });
  if (failed) { process.stderr.write(`not writing the corpus: ${failed} programs failed on QEMU\n`); return 1; }
  writeCorpus({
    format: CORPUS_FORMAT, generator: GENERATOR_VERSION, steps: DEFAULT_STEPS, qemu: version,
    entries: entries as GoldenEntry[],
  });
  process.stdout.write(`recorded ${entries.length} programs (random: ${JSON.stringify(GOLDEN_RANDOM)}) with ${version}\n`);
  return 0;
}

async function compareLive(programs: TestProgram[], jobs: number, cli: boolean): Promise<number> {
  const tshv = await tshvRunner(cli);
  process.stdout.write(`running ${programs.length} programs on QEMU and tshv (${tshv.mode})\n`);
  let pass = 0;
  const failures: string[] = [];
  await pool(programs, jobs, async (p) => {
    const built = buildProgram(p.spec);
    const [q, t] = await Promise.all([dumpOf(qemuRun, built.elf, p.name), dumpOf(tshv.run, built.elf, p.name)]);
    if (!q.words || q.error) { failures.push(`${p.name}: QEMU failed: ${q.error}`); return; }
    if (t.words && !t.error && diffDumps(q.words, t.words).length === 0) { pass++; return; }
    let report = t.words ? describeMismatch(built, q.words, t.words, p.directed) : `tshv gave no dump: ${t.error}`;
    if (t.error && t.words) report = `tshv: ${t.error}\n${report}`;
    report += '\n' + await shortestFailingPrefix(p.spec, p.name, qemuRun, tshv.run);
    failures.push(`── ${p.name} ──\n${report}`);
    process.stdout.write(`${p.name}: MISMATCH\n`);
  });
  for (const f of failures) process.stdout.write(f + '\n\n');
  process.stdout.write(`${pass} passed, ${failures.length} failed\n`);
  return failures.length ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  if (a.show) {
    const p = programByName(a.show, a.steps);
    for (const l of buildProgram(p.spec).listing) {
      process.stdout.write(`${l.pc.toString(16)}  ${l.step >= 0 ? String(l.step).padStart(5) : '    -'}  ${l.insn.text}\n`);
    }
    return 0;
  }
  if (!qemuAvailable()) {
    process.stderr.write(`${QEMU} is not installed (Debian: apt-get install qemu-system-misc)\n`);
    return 2;
  }
  if (a.record) return record(a.jobs);
  const programs = a.golden
    ? goldenNames().map((n) => programByName(n))
    : Array.from({ length: a.count }, (_, k) => programByName(randomName(a.seed + k, a.profile), a.steps));
  return compareLive(programs, a.jobs, a.cli);
}
