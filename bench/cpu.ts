/**
 * CPU benchmark: the cpu-mix workload (bench/cpu/, a CoreMark-like integer mix with
 * a self-checking checksum) run bare-metal on QEMU TCG and on tshv, twice: with its
 * translation tier (the default) and interpreting only (`tshv exec --no-jit`).
 *
 * Method. Each machine runs the workload ELF `repeat` times and the same program
 * with zero iterations (cpu-mix-null.elf) as many times; the best wall time of the
 * latter is that machine's fixed cost (process start, wasm compile or TCG set-up,
 * ELF load), subtracted from the best of the former. Best, not median: on a shared
 * host other work only ever adds time, so the fastest run is the closest to the
 * machine's own speed; the spread column shows how noisy the runs were. The
 * machines take turns, run by run, so a burst of load does not favour one of them. The instruction count is the
 * program's own: it reads minstret around the workload and prints the difference,
 * so on tshv it is tshv's count. The program is deterministic, so that count is the
 * same on every correct machine; bench/cpu/cpu-mix.json holds the reference measured
 * on QEMU with -icount, and a tshv count that disagrees fails the bench. Both tiers of
 * tshv are held to the same checks (checksum, minstret against the reference).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext, BenchReport, Benchmark } from './lib/benchmark.js';
import {
  contenders,
  describeExit,
  INTERPRETER_LABEL,
  qemuVirtArgs,
  runTimed,
  tshvExecArgs,
  tshvSupports,
  type Contender,
  type Machine,
  type ProcessRun,
} from './lib/machines.js';
import { max, min } from './lib/stats.js';
import { fmt, type Table } from './lib/table.js';

/** What build.sh recorded about the committed ELF. */
interface Manifest {
  readonly elf: string;
  readonly nullElf: string;
  readonly iterations: number;
  readonly checksum: number;
  readonly workloadInstret: number | null;
}

/** The result lines main.c prints on the UART. */
interface GuestOutput {
  readonly pass: boolean;
  readonly iterations?: number;
  readonly checksum?: number;
  readonly expected?: number;
  readonly workloadInstret?: number;
  readonly failure?: string;
}

/** Counters `tshv exec --stats` reports on stderr, when it has them. */
export interface ExecStats {
  readonly instret: number;
  readonly seconds: number;
  /** The translation tier's line, when tshv translated anything. */
  readonly translation?: TranslationStats;
}

/** `tshv exec: translated 412 regions (20931 instructions, 1290 KiB) in 841 ms; 0 flushes, 0 given up`. */
export interface TranslationStats {
  readonly regions: number;
  readonly instructions: number;
  readonly kib: number;
  readonly compileMs: number;
  readonly flushes: number;
  readonly failed: number;
}

interface MachineFigures {
  readonly label: string;
  readonly isTshv: boolean;
  /** True when the figures are correct runs, or the machine is optional and missing. */
  readonly ok: boolean;
  readonly missing: boolean;
  /** Why the machine has no figures or failed, for the notes. */
  readonly problem?: string;
  readonly wall: readonly number[];
  readonly startup: readonly number[];
  readonly output?: GuestOutput;
  readonly stats?: ExecStats;
}

/** Largest instret difference from the reference put down to counter-read semantics. */
const INSTRET_SLACK = 8;

const BENCH_DIR = join('bench', 'cpu');

export const cpuBenchmark: Benchmark = {
  id: 'cpu',
  summary: 'cpu-mix (CoreMark-like integer mix), bare metal, tshv exec (translated and --no-jit) vs QEMU TCG',
  run,
};

async function run(ctx: BenchContext): Promise<BenchReport> {
  const manifest = readManifest(join(ctx.root, BENCH_DIR, 'cpu-mix.json'));
  const elf = join(ctx.root, BENCH_DIR, manifest.elf);
  const nullElf = join(ctx.root, BENCH_DIR, manifest.nullElf);

  const statsFlag = tshvSupports(ctx.machines.tshv, 'exec', '--stats') ? ['--stats'] : [];
  const entrants = contenders(ctx.machines, 'exec');
  const runs = entrants.map((c): Contestant | undefined => {
    if (c.machine.state !== 'available') return undefined;
    const options = [...c.options, ...statsFlag];
    const argsFor = c.isTshv ? (e: string) => tshvExecArgs(e, options) : (e: string) => qemuVirtArgs(e);
    return { machine: c.machine, argsFor, wall: [], startup: [] };
  });
  await measureAll(ctx, runs.filter((c) => c !== undefined), manifest, { elf, nullElf });
  // tshv is what is being measured: without it the bench fails; its interpreter-only tier
  // may be missing (an older tshv), not wrong. QEMU is the yardstick.
  let machines = entrants.map((c, i) => figures(c, runs[i]));

  const notes: string[] = [];

  // The instruction count: tshv's own (the program's minstret), else the reference. Every
  // tshv tier's count is checked against the reference (or, without one, against the
  // first tier's), and a tier that miscounts fails.
  const reference = manifest.workloadInstret ?? undefined;
  const counted = machines.filter((m) => m.isTshv && m.ok && !m.missing && (m.output?.workloadInstret ?? 0) > 0);
  const against = reference ?? counted[0]?.output?.workloadInstret;
  const miscounted = new Map<string, string>();
  for (const m of counted) {
    const own = m.output!.workloadInstret!;
    const diff = own - against!;
    if (Math.abs(diff) > INSTRET_SLACK) {
      miscounted.set(
        m.label,
        `retired ${own} instructions in the workload, ${reference !== undefined ? 'the reference is' : `${counted[0]!.label} retired`} ${against!} ` +
          `(${diff > 0 ? '+' : ''}${diff}): the core executes a different path or miscounts minstret`,
      );
    } else if (diff !== 0) {
      notes.push(`${m.label}'s minstret differs from the reference by ${diff} (counter read semantics)`);
    }
  }
  machines = machines.map((m) => (miscounted.has(m.label) ? { ...m, ok: false, problem: miscounted.get(m.label)! } : m));
  const trusted = counted.find((m) => !miscounted.has(m.label));
  let instret = reference;
  let instretSource = 'QEMU -icount reference in cpu-mix.json';
  if (trusted !== undefined) {
    instret = trusted.output!.workloadInstret!;
    instretSource = `minstret on ${trusted.label}`;
  }
  const ok = machines.every((m) => m.ok);
  const qemu = machines.find((m) => !m.isTshv)!;
  const interpreter = machines.find((m) => m.label === INTERPRETER_LABEL);

  const rows = machines.map((m) => row(m, instret, qemu, interpreter));
  const table: Table = {
    columns: [
      { header: 'machine', align: 'left' },
      { header: 'runs', align: 'right' },
      { header: 'wall s', align: 'right' },
      { header: 'spread', align: 'right' },
      { header: 'start-up s', align: 'right' },
      { header: 'workload s', align: 'right' },
      { header: 'M instr', align: 'right' },
      { header: 'MIPS', align: 'right' },
      { header: 'speed vs QEMU', align: 'right' },
      { header: 'vs interpreter', align: 'right' },
    ],
    rows: rows.map((r) => r.cells),
  };

  notes.push(
    `workload: ${manifest.iterations} iterations, expected checksum ${hex(manifest.checksum)}, ` +
      `${instret === undefined ? 'unknown' : instret.toLocaleString('en-US')} instructions retired ` +
      `(${instretSource}` +
      (reference !== undefined && instret !== reference ? `; reference ${reference.toLocaleString('en-US')}` : '') +
      (reference !== undefined && instret === reference && trusted !== undefined ? '; equals the QEMU -icount reference' : '') +
      ')',
  );
  for (const m of machines) {
    if (m.output !== undefined) {
      notes.push(
        `${m.label}: checksum ${m.output.checksum === undefined ? 'missing' : hex(m.output.checksum)} ` +
          `${m.output.pass && m.output.checksum === manifest.checksum ? 'PASS' : 'FAIL'}`,
      );
    }
    if (m.problem !== undefined) notes.push(`${m.ok ? '' : 'FAIL '}${m.label}: ${m.problem}`);
  }
  for (const m of machines) {
    if (m.stats === undefined) continue;
    const { instret: all, seconds, translation: t } = m.stats;
    notes.push(
      `${m.label}: tshv exec --stats (last run): ${all.toLocaleString('en-US')} instructions for the whole program ` +
        `in ${seconds.toFixed(3)} s of guest execution, ${(all / seconds / 1e6).toFixed(1)} MIPS` +
        (t === undefined
          ? ''
          : `; ${t.regions} regions translated (${t.instructions.toLocaleString('en-US')} instructions, ${t.kib} KiB of wasm) ` +
            `in ${t.compileMs} ms, ${t.flushes} flushes, ${t.failed} given up`),
    );
  }
  if (ctx.machines.tshv.state === 'available' && statsFlag.length === 0) {
    notes.push('tshv exec has no --stats: the count is the one the program reads from minstret');
  }
  const mipsOfRow = (label: string): number | undefined => rows[machines.findIndex((m) => m.label === label)]?.mips;
  const speedUp = ratioOf(mipsOfRow(ctx.machines.tshv.label), mipsOfRow(INTERPRETER_LABEL));
  if (speedUp !== undefined) notes.push(`translation: tshv runs the workload ${speedUp.toFixed(2)}x as fast as ${INTERPRETER_LABEL} (tshv exec --no-jit)`);
  notes.push(
    'wall = best of the runs (spread = (slowest - best) / best); ' +
      'workload = wall minus the best wall time of cpu-mix-null.elf (start-up); ' +
      'speed vs QEMU / vs interpreter = MIPS over that machine\'s MIPS',
  );

  return {
    title: 'CPU: cpu-mix, bare metal (M-mode), one hart',
    ok,
    table,
    notes,
    data: {
      iterations: manifest.iterations,
      checksum: hex(manifest.checksum),
      workloadInstret: instret ?? null,
      referenceInstret: reference ?? null,
      machines: rows.map((r) => r.data),
    },
  };
}

function row(
  m: MachineFigures,
  instret: number | undefined,
  qemu: MachineFigures,
  interpreter: MachineFigures | undefined,
): { cells: string[]; mips: number | undefined; data: Record<string, unknown> } {
  const measured = m.ok && !m.missing;
  const wall = measured ? min(m.wall) : undefined;
  const startup = measured ? min(m.startup) : undefined;
  const spread = measured ? (max(m.wall) - min(m.wall)) / min(m.wall) : undefined;
  const seconds = wall !== undefined && startup !== undefined ? Math.max(wall - startup, 1e-9) : undefined;
  const mips = seconds !== undefined && instret !== undefined ? instret / seconds / 1e6 : undefined;
  const ratio = ratioOf(mips, mipsOf(qemu, instret));
  const overInterpreter = interpreter === undefined ? undefined : ratioOf(mips, mipsOf(interpreter, instret));
  const status = m.missing ? ' (missing)' : m.ok ? '' : ' (FAILED)';
  return {
    cells: [
      m.label + status,
      String(m.wall.length),
      fmt(wall, 3),
      spread === undefined ? '-' : `${(spread * 100).toFixed(0)}%`,
      fmt(startup, 3),
      fmt(seconds, 3),
      fmt(measured && instret !== undefined ? instret / 1e6 : undefined, 1),
      fmt(mips, 1),
      ratio === undefined ? '-' : `${ratio.toFixed(3)}x`,
      overInterpreter === undefined ? '-' : `${overInterpreter.toFixed(2)}x`,
    ],
    mips,
    data: {
      machine: m.label,
      ok: m.ok,
      problem: m.problem ?? null,
      wallSeconds: m.wall,
      startupSeconds: m.startup,
      workloadSeconds: seconds ?? null,
      mips: mips ?? null,
      speedVsQemu: ratio ?? null,
      speedVsInterpreter: overInterpreter ?? null,
      translation: m.stats?.translation ?? null,
    },
  };
}

function ratioOf(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined ? a / b : undefined;
}

function mipsOf(m: MachineFigures, instret: number | undefined): number | undefined {
  if (!m.ok || m.missing || instret === undefined) return undefined;
  return instret / Math.max(min(m.wall) - min(m.startup), 1e-9) / 1e6;
}

/** A machine being measured: its runs so far, or why it stopped. */
interface Contestant {
  readonly machine: Machine & { readonly state: 'available' };
  readonly argsFor: (elf: string) => string[];
  readonly wall: number[];
  readonly startup: number[];
  output?: GuestOutput;
  stats?: ExecStats;
  problem?: string;
}

/**
 * Runs every machine in rounds (null ELF then workload ELF, machine after machine),
 * so that load from other work on the host falls on both machines alike rather than
 * on whichever ran during it. A machine stops at its first wrong result.
 */
async function measureAll(
  ctx: BenchContext,
  contestants: readonly Contestant[],
  manifest: Manifest,
  { elf, nullElf }: { readonly elf: string; readonly nullElf: string },
): Promise<void> {
  const opts = { cwd: ctx.root, timeoutMs: ctx.timeoutMs };
  for (let round = 1; round <= ctx.repeat; round++) {
    for (const c of contestants) {
      if (c.problem !== undefined) continue;
      const label = `cpu: ${c.machine.label} round ${round}/${ctx.repeat}`;
      const n = await runTimed(c.machine, c.argsFor(nullElf), opts);
      const nullProblem = check(n, parseGuestOutput(n.stdout + n.stderr), { iterations: 0, checksum: 0 });
      if (nullProblem !== undefined) {
        c.problem = withOutput(`cpu-mix-null.elf: ${nullProblem}`, n);
        continue;
      }
      c.startup.push(n.seconds);
      const r = await runTimed(c.machine, c.argsFor(elf), opts);
      c.output = parseGuestOutput(r.stdout + r.stderr);
      const problem = check(r, c.output, manifest);
      if (problem !== undefined) {
        c.problem = withOutput(problem, r);
        continue;
      }
      c.stats = parseExecStats(r.stderr);
      c.wall.push(r.seconds);
      ctx.log(`${label}: start-up ${n.seconds.toFixed(3)} s, workload run ${r.seconds.toFixed(3)} s`);
    }
  }
}

function figures({ machine, isTshv, required }: Contender, c: Contestant | undefined): MachineFigures {
  if (machine.state === 'missing' || c === undefined) {
    const problem = machine.state === 'missing' ? `missing: ${machine.reason}` : 'not run';
    return { label: machine.label, isTshv, ok: !required, missing: true, problem, wall: [], startup: [] };
  }
  return {
    label: machine.label,
    isTshv,
    ok: c.problem === undefined,
    missing: false,
    wall: c.wall,
    startup: c.startup,
    ...optional('problem', c.problem),
    ...optional('output', c.output),
    ...optional('stats', c.stats),
  };
}

function withOutput(problem: string, r: ProcessRun): string {
  const tail = (r.stdout + r.stderr).trim().split(/\r?\n/).slice(-6).join(' | ');
  return `${problem}; output: ${tail || '(none)'}`;
}

/** Why a run is not a correct cpu-mix run, or undefined if it is. */
function check(
  r: ProcessRun,
  out: GuestOutput,
  want: { readonly iterations: number; readonly checksum: number },
): string | undefined {
  if (out.failure !== undefined) return `guest reported FAIL: ${out.failure} (${describeExit(r)})`;
  if (r.timedOut || r.signal !== null || r.exitCode !== 0) return `did not pass: ${describeExit(r)}`;
  if (!out.pass) return 'no PASS line from the guest';
  if (out.iterations !== want.iterations) return `ran ${String(out.iterations)} iterations, expected ${want.iterations}`;
  if (out.checksum !== want.checksum) {
    return `checksum ${out.checksum === undefined ? 'missing' : hex(out.checksum)}, expected ${hex(want.checksum)}`;
  }
  return undefined;
}

export function parseGuestOutput(text: string): GuestOutput {
  const field = (re: RegExp): string | undefined => re.exec(text)?.[1];
  const num = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));
  const failure = field(/^cpu-mix: FAIL (.*?)\r?$/m) ?? field(/^FAIL (unexpected trap.*?)\r?$/m);
  return {
    pass: /^cpu-mix: PASS\r?$/m.test(text),
    ...optional('iterations', num(field(/^cpu-mix: iterations (\d+)/m))),
    ...optional('checksum', num(field(/^cpu-mix: checksum (0x[0-9a-f]{8})/m))),
    ...optional('expected', num(field(/^cpu-mix: checksum 0x[0-9a-f]{8} expected (0x[0-9a-f]{8})/m))),
    ...optional('workloadInstret', num(field(/^cpu-mix: workload instret (\d+)/m))),
    ...optional('failure', failure),
  };
}

/**
 * Reads the instruction count and guest execution time that `tshv exec --stats`
 * prints on stderr: `tshv exec: 2034783464 instructions in 14.903 s (136.5 MIPS)`, and
 * the translation tier's line after it when there is one. Lines from the guest
 * (`cpu-mix: ...`) are skipped.
 */
export function parseExecStats(stderr: string): ExecStats | undefined {
  const text = stderr
    .split(/\r?\n/)
    .filter((l) => !l.startsWith('cpu-mix:'))
    .join('\n');
  const m = /\b(\d+) instructions in ([\d.]+) s\b/.exec(text);
  if (m === null) return undefined;
  const t = /\btranslated (\d+) regions \((\d+) instructions, (\d+) KiB\) in (\d+) ms; (\d+) flushes, (\d+) given up\b/.exec(text);
  const translation: TranslationStats | undefined =
    t === null
      ? undefined
      : { regions: Number(t[1]), instructions: Number(t[2]), kib: Number(t[3]), compileMs: Number(t[4]), flushes: Number(t[5]), failed: Number(t[6]) };
  return { instret: Number(m[1]), seconds: Number(m[2]), ...optional('translation', translation) };
}

function readManifest(path: string): Manifest {
  const raw: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof raw !== 'object' || raw === null) throw new Error(`${path}: not a JSON object`);
  const m = raw as Record<string, unknown>;
  const { elf, nullElf, iterations, checksum, workloadInstret } = m;
  if (typeof elf !== 'string' || typeof nullElf !== 'string') throw new Error(`${path}: elf/nullElf must be file names`);
  if (typeof iterations !== 'number' || !Number.isInteger(iterations)) throw new Error(`${path}: bad iterations`);
  if (typeof checksum !== 'string' || !/^0x[0-9a-f]{8}$/.test(checksum)) throw new Error(`${path}: bad checksum`);
  if (workloadInstret !== null && typeof workloadInstret !== 'number') throw new Error(`${path}: bad workloadInstret`);
  return { elf, nullElf, iterations, checksum: Number(checksum), workloadInstret };
}

function hex(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}

/** `{ key: value }` when value is defined, `{}` otherwise (exactOptionalPropertyTypes-friendly). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
