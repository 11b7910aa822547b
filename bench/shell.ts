/**
 * Shell benchmark: a busybox shell loop that creates a process per iteration, typed at the
 * prompt of the default guest (Linux 6.1 + busybox initramfs, `console=ttyS0`, 256 MiB,
 * 1 VP) on QEMU TCG, on `tshv run` (translation on, the default) and on `tshv run
 * --no-jit` (interpreting only).
 *
 * Why. cpu-mix runs one small loop nest for seconds: the translation tier's best case.
 * This workload is the opposite: fork, exec of a static busybox, exit and wait, the shell
 * parsing its loop, the kernel's page faults, copy-on-write and TLB flushes; much code,
 * each piece run a little, and code pages that change under the translator (every exec
 * brings new text to the same virtual addresses).
 *
 * Method. Each run boots the machine, waits for the shell prompt (`tshv:~# `) and types
 * LOOP_COMMAND, driving the console as bench/boot.ts does (lib/console-session.ts), then
 * `poweroff`. The figure is busybox `time -p`'s `real` (the guest's monotonic clock from
 * before the fork of `sh -c` to after its wait); user and sys come with it. The host also
 * times the command (typing to the next prompt); `real` can only be shorter, and one that
 * is longer means the guest clock runs fast, which fails the run. A run counts only if the
 * loop printed `loop ITERATIONS`, the console shows no kernel trouble and poweroff ends the
 * machine with status 0. A failed tshv run (either tier) fails the bench; a failed QEMU run
 * is dropped and reported. Machines take turns run by run; the best run is the figure.
 */
import type { BenchContext, BenchReport, Benchmark } from './lib/benchmark.js';
import { consoleSession, type SessionRun } from './lib/console-session.js';
import {
  APPEND,
  checkSession,
  entries,
  entriesOk,
  entryNotes,
  guestArgs,
  INITRD,
  KERNEL,
  MEMORY,
  withGuest,
  ratioCell,
  statusSuffix,
  takeTurns,
  timeCells,
  timings,
  type Entry,
} from './lib/guest.js';
import { INTERPRETER_LABEL } from './lib/machines.js';
import { min } from './lib/stats.js';
import { fmt, type Table } from './lib/table.js';

/** Loop iterations: each forks and execs /bin/true (busybox) once. About 3 s on QEMU 7.2 TCG. */
export const ITERATIONS = 500;
/** What each run types at the prompt. */
export const LOOP_COMMAND =
  `time -p sh -c 'i=0; while [ $i -lt ${ITERATIONS} ]; do /bin/true; echo $i > /dev/null; i=$((i+1)); done; echo loop $i'`;

/** Longest wait for the first prompt, and for the loop's prompt (less if --timeout says so). */
const BOOT_LIMIT_MS = 120_000;
const COMMAND_LIMIT_MS = 300_000;

export const shellBenchmark: Benchmark = {
  id: 'shell',
  summary: `shell loop: ${ITERATIONS} process creations from a busybox sh loop in the Linux guest, tshv run (translated and --no-jit) vs QEMU TCG`,
  run,
};

/** busybox `time -p` output ("real 1.47\nuser 0.54\nsys 0.90"), seconds on the guest's clocks. */
export interface TimeP {
  readonly real: number;
  readonly user: number;
  readonly sys: number;
}

/** Reads the last `time -p` report in a command's output. */
export function parseTimeP(output: string): TimeP | undefined {
  const re = /^real (\d+(?:\.\d+)?)\nuser (\d+(?:\.\d+)?)\nsys (\d+(?:\.\d+)?)$/gm;
  let m: RegExpExecArray | null;
  let last: RegExpExecArray | undefined;
  while ((m = re.exec(output)) !== null) last = m;
  if (last === undefined) return undefined;
  return { real: Number(last[1]), user: Number(last[2]), sys: Number(last[3]) };
}

/** The figures of one correct run. */
export interface LoopRun extends TimeP {
  /** Host clock from typing the command to the next prompt. */
  readonly hostSeconds: number;
}

/** Reads a session that ran LOOP_COMMAND: its times, or why the run is wrong. */
export function readLoop(r: SessionRun): LoopRun | string {
  const problem = checkSession(r, [LOOP_COMMAND]);
  if (problem !== undefined) return problem;
  const step = r.steps[0]!;
  const done = /^loop (\d+)$/m.exec(step.output)?.[1];
  if (done !== String(ITERATIONS)) {
    return `the loop ${done === undefined ? 'did not finish' : `counted to ${done}`}, expected "loop ${ITERATIONS}": ${lastLines(step.output, 3)}`;
  }
  const t = parseTimeP(step.output);
  if (t === undefined) return `no "time -p" report in the output: ${lastLines(step.output, 3)}`;
  if (!(t.real > 0)) return `time -p says real ${t.real}`;
  // time's interval lies inside the host's (busybox prints hundredths: allow one).
  if (t.real > step.hostSeconds * 1.02 + 0.01) {
    return `time -p says real ${t.real.toFixed(2)} s but the whole command took ${step.hostSeconds.toFixed(3)} s on the host clock (guest clock runs fast)`;
  }
  return { ...t, hostSeconds: step.hostSeconds };
}

interface Row {
  readonly entries: readonly Entry<LoopRun>[];
}

function run(ctx: BenchContext): Promise<BenchReport> {
  return withGuest(ctx, 'shell', async (all, qemuImage) => {
    const row: Row = { entries: entries<LoopRun>(all) };
    const limits = { cwd: ctx.root, bootMs: Math.min(ctx.timeoutMs, BOOT_LIMIT_MS), commandMs: Math.min(ctx.timeoutMs, COMMAND_LIMIT_MS) };
    await takeTurns<LoopRun, Row>(
      ctx,
      'shell',
      [row],
      () => '1 VP',
      async (e) => {
        const r = await consoleSession(e.machine, guestArgs(ctx.root, e.contender, { cpus: 1, qemuImage }), [LOOP_COMMAND], limits);
        const result = readLoop(r);
        return typeof result === 'string' ? `${result}; output: ${lastLines(r.log + r.stderr, 6)}` : result;
      },
      (l) => `real ${l.real.toFixed(2)} s (user ${l.user.toFixed(2)}, sys ${l.sys.toFixed(2)}), host ${l.hostSeconds.toFixed(3)} s`,
    );

    const entryOf = (label: string): Entry<LoopRun> | undefined => row.entries.find((e) => e.machine.label === label);
    const real = (e: Entry<LoopRun> | undefined): number[] => timings(e, (l) => l.real);
    const best = (e: Entry<LoopRun> | undefined): LoopRun | undefined => {
      const v = real(e);
      return v.length === 0 ? undefined : e!.runs.find((l) => l.real === min(v));
    };
    const qemu = entryOf(ctx.machines.qemu.label);

    const table: Table = {
      columns: [
        { header: 'machine', align: 'left' },
        { header: 'runs', align: 'right' },
        { header: 'real s', align: 'right' },
        { header: 'median', align: 'right' },
        { header: 'spread', align: 'right' },
        { header: 'user s', align: 'right' },
        { header: 'sys s', align: 'right' },
        { header: 'ms/iter', align: 'right' },
        { header: 'vs QEMU', align: 'right' },
      ],
      rows: all.map((c) => {
        const e = entryOf(c.machine.label);
        const b = best(e);
        return [
          c.machine.label + statusSuffix(c, e),
          String(real(e).length),
          ...timeCells(real(e), 2),
          fmt(b?.user, 2),
          fmt(b?.sys, 2),
          fmt(b === undefined ? undefined : (b.real / ITERATIONS) * 1000, 2),
          ratioCell(b?.real, best(qemu)?.real),
        ];
      }),
    };

    const notes = entryNotes(all, row.entries);
    const speedUp = ratioCell(best(entryOf(INTERPRETER_LABEL))?.real, best(entryOf(ctx.machines.tshv.label))?.real);
    if (speedUp !== '-') notes.push(`translation: ${INTERPRETER_LABEL} best / tshv best = ${speedUp} (above 1: translation runs the loop faster)`);
    notes.push(`typed at the prompt: ${LOOP_COMMAND}`);
    notes.push(
      'real/user/sys = busybox time -p on the guest\'s clocks (user, sys: of the best run); runs = correct runs; ' +
        'best, median, spread = (slowest - best) / best; ms/iter = best real / iterations (one fork + exec + exit + wait each); ' +
        'vs QEMU = best over QEMU\'s best (above 1: slower)',
    );
    notes.push(`guest: ${KERNEL} (QEMU: the same Image gunzipped), ${INITRD}, -append "${APPEND}", ${MEMORY}, 1 VP`);

    return {
      title: `Shell loop: ${ITERATIONS} process creations in a busybox sh loop, Linux guest, 1 VP`,
      ok: entriesOk(all, row.entries),
      table,
      notes,
      data: {
        iterations: ITERATIONS,
        command: LOOP_COMMAND,
        machines: row.entries.map((e) => ({ machine: e.machine.label, runs: e.runs, problem: e.problem ?? null, dropped: e.dropped })),
      },
    };
  });
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ') || '(none)';
}
