import type { BenchContext, BenchReport, Benchmark } from './lib/benchmark.js';
import { INTERPRETER_LABEL, type Machine } from './lib/machines.js';
import { min } from './lib/stats.js';
import { type Table } from './lib/table.js';
import { consoleSession, POWEROFF_MS } from './lib/console-session.js';
import {
  APPEND,
  entries,
  entriesOk,
  entryNotes,
  guestArgs,
  INITRD,
  KERNEL,
  MEMORY,
  parseBootLog,
  withGuest,
  ratioCell,
  statusSuffix,
  takeTurns,
  timeCells,
  timings,
  type Entry,
} from './lib/guest.js';
export { endsInPrompt } from './lib/console-session.js';
export { parseBootLog, type BootLog } from './lib/guest.js';

/** Virtual processor counts measured, one group of rows each. */
const CPU_COUNTS = [1, 4] as const;
/** Longest wait for the prompt (less if --timeout says so): a boot takes seconds. */
const BOOT_LIMIT_MS = 120_000;

export const bootBenchmark: Benchmark = {
  id: 'boot',
  summary: 'boot to shell: Linux 6.1 + busybox initramfs, 1 and 4 VPs, spawn to first prompt, tshv run (translated and --no-jit) vs QEMU TCG',
  run,
};

export interface BootRun {
  /** Spawn to prompt, in seconds; undefined when the prompt never came. */
  readonly promptSeconds?: number;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The prompt did not come within the time limit (the machine was killed). */
  readonly timedOut: boolean;
  /** The machine did not exit within POWEROFF_MS of `poweroff` (it was killed). */
  readonly poweroffHung: boolean;
  /** Console output, CR removed. */
  readonly log: string;
  readonly stderr: string;
}

/**
 * Spawns a machine, times it to the first prompt, types `poweroff` and waits for it to
 * exit: a console session without commands. Never rejects, and never leaves the process
 * behind: a machine that misses either deadline is killed with SIGKILL.
 */
export async function bootToPrompt(
  machine: Machine & { state: 'available' },
  args: readonly string[],
  options: { readonly cwd: string; readonly timeoutMs: number; readonly poweroffMs?: number },
): Promise<BootRun> {
  const r = await consoleSession(machine, args, [], { cwd: options.cwd, bootMs: options.timeoutMs, commandMs: options.timeoutMs, poweroffMs: options.poweroffMs });
  return {
    ...(r.promptSeconds === undefined ? {} : { promptSeconds: r.promptSeconds }),
    exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut !== undefined, poweroffHung: r.poweroffHung, log: r.log, stderr: r.stderr,
  };
}

/** Why a run is not a correct boot of `cpus` harts, or undefined if it is. */
export function checkBoot(r: BootRun, cpus: number): string | undefined {
  if (r.timedOut) return 'no shell prompt before the time limit';
  if (r.promptSeconds === undefined) {
    return `exited before the shell prompt (${r.signal !== null ? `killed by ${r.signal}` : `exit status ${String(r.exitCode)}`})`;
  }
  const log = parseBootLog(r.log);
  if (log.trouble.length > 0) return `kernel trouble on the console: ${log.trouble.join(', ')}`;
  if (log.harts !== cpus) return `the banner says ${log.harts === undefined ? 'nothing' : `${log.harts} hart(s)`}, expected ${cpus}`;
  if (r.poweroffHung) return `still running ${(POWEROFF_MS / 1000).toFixed(0)} s after poweroff (killed)`;
  if (r.exitCode !== 0) return `poweroff ended it with ${r.signal !== null ? `signal ${r.signal}` : `exit status ${String(r.exitCode)}`}`;
  return undefined;
}

/** A correct boot: spawn to prompt, and the kernel's clock at /init when it printed it. */
interface Boot {
  readonly seconds: number;
  readonly kernelAtInit?: number;
}

interface Row {
  readonly cpus: number;
  readonly entries: readonly Entry<Boot>[];
}

function run(ctx: BenchContext): Promise<BenchReport> {
  return withGuest(ctx, 'boot', async (all, qemuImage) => {
    const rows: Row[] = CPU_COUNTS.map((cpus) => ({ cpus, entries: entries<Boot>(all) }));
    const limit = Math.min(ctx.timeoutMs, BOOT_LIMIT_MS);
    await takeTurns<Boot, Row>(
      ctx,
      'boot',
      rows,
      (row) => `${row.cpus} VP(s)`,
      async (e, row) => {
        const r = await bootToPrompt(e.machine, guestArgs(ctx.root, e.contender, { cpus: row.cpus, qemuImage }), { cwd: ctx.root, timeoutMs: limit });
        const problem = checkBoot(r, row.cpus);
        if (problem !== undefined) return `${problem}; output: ${tail(r)}`;
        const kernelAtInit = parseBootLog(r.log).kernelAtInit;
        return { seconds: r.promptSeconds!, ...(kernelAtInit === undefined ? {} : { kernelAtInit }) };
      },
      (b) => `prompt after ${b.seconds.toFixed(3)} s`,
    );

    const entryOf = (row: Row, i: number): Entry<Boot> | undefined => row.entries.find((e) => e.contender === all[i]);
    const seconds = (e: Entry<Boot> | undefined): number[] => timings(e, (b) => b.seconds);
    const best = (e: Entry<Boot> | undefined): number | undefined => (seconds(e).length ? min(seconds(e)) : undefined);
    const qemuIndex = all.findIndex((c) => !c.isTshv);
    const initRange = (e: Entry<Boot> | undefined): string => {
      const v = (e?.runs ?? []).flatMap((b) => (b.kernelAtInit === undefined ? [] : [b.kernelAtInit]));
      return v.length === 0 ? '-' : v.length === 1 || min(v) === Math.max(...v) ? v[0]!.toFixed(2) : `${min(v).toFixed(2)}-${Math.max(...v).toFixed(2)}`;
    };

    const table: Table = {
      columns: [
        { header: 'VPs', align: 'right' },
        { header: 'machine', align: 'left' },
        { header: 'runs', align: 'right' },
        { header: 'best s', align: 'right' },
        { header: 'median', align: 'right' },
        { header: 'spread', align: 'right' },
        { header: '/init at', align: 'right' },
        { header: 'vs QEMU', align: 'right' },
      ],
      rows: rows.flatMap((row) =>
        all.map((c, i) => {
          const e = entryOf(row, i);
          return [
            String(row.cpus),
            c.machine.label + statusSuffix(c, e),
            String(seconds(e).length),
            ...timeCells(seconds(e)),
            initRange(e),
            ratioCell(best(e), best(entryOf(row, qemuIndex))),
          ];
        }),
      ),
    };

    const entriesOfAll = rows.flatMap((r) => r.entries);
    const notes = entryNotes(all, entriesOfAll);
    const tshvIndex = all.findIndex((c) => c.machine === ctx.machines.tshv);
    const interpreterIndex = all.findIndex((c) => c.machine.label === INTERPRETER_LABEL);
    const speedUps = rows
      .map((row) => ({ cpus: row.cpus, r: ratioCell(best(entryOf(row, interpreterIndex)), best(entryOf(row, tshvIndex))) }))
      .filter((x) => x.r !== '-');
    if (speedUps.length > 0) {
      notes.push(
        `translation: ${INTERPRETER_LABEL} best / tshv best = ${speedUps.map((x) => `${x.r} at ${x.cpus} VP(s)`).join(', ')} ` +
          '(above 1: translation boots faster)',
      );
    }
    notes.push(
      'seconds from spawn to the first "tshv:~# " prompt, process start-up included (QEMU: OpenSBI too); ' +
        'runs = runs that booted correctly; best of them, median, spread = (slowest - best) / best; ' +
        '/init at = the kernel\'s own clock at "Run /init as init process" (range over the runs); ' +
        'vs QEMU = best over QEMU\'s best with the same VPs (above 1: slower)',
    );
    notes.push(`guest: ${KERNEL} (QEMU: the same Image gunzipped), ${INITRD}, -append "${APPEND}", ${MEMORY}`);

    return {
      title: 'Boot to shell: Linux 6.1 + busybox initramfs, spawn to first prompt',
      ok: entriesOk(all, entriesOfAll),
      table,
      notes,
      data: {
        memory: MEMORY,
        append: APPEND,
        rows: rows.flatMap((row) =>
          row.entries.map((e) => ({
            cpus: row.cpus,
            machine: e.machine.label,
            seconds: e.runs.map((b) => b.seconds),
            kernelAtInit: e.runs.flatMap((b) => (b.kernelAtInit === undefined ? [] : [b.kernelAtInit])),
            problem: e.problem ?? null,
            dropped: e.dropped,
          })),
        ),
      },
    };
  });
}

function tail(r: BootRun): string {
  return (r.log + r.stderr).trim().split('\n').slice(-6).join(' | ') || '(none)';
}
