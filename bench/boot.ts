/**
 * Boot-to-shell benchmark: the default guest (guest/images: Linux 6.1 Image + busybox
 * initramfs, `console=ttyS0`, 256 MiB) booted by `tshv run` and by QEMU TCG's `virt`
 * board with its bundled OpenSBI, timed from spawn to the first shell prompt.
 *
 * Method. The clock starts when the process is spawned and stops when the console
 * output ends in the prompt /init sets (`tshv:~# `), so it includes everything a user
 * waits for: process start-up (Node and the wasm compile, or QEMU's set-up), firmware
 * (QEMU only: tshv is itself the SBI implementation), the kernel and /init. Then the
 * bench types `poweroff` and waits for the machine to exit with status 0; a machine that
 * does not is killed and the run fails. A run is correct when the banner names the
 * requested number of harts, the log has no kernel trouble (Oops, panic, BUG, WARNING,
 * RCU stall) and poweroff ends it cleanly. A failed tshv run fails the bench; a failed
 * QEMU run (QEMU 7.2 -smp 4 has been seen spinning silently after OpenSBI) is dropped and
 * reported, since QEMU is only the yardstick. Machines take turns run by run, as in the
 * cpu bench, so that load from other work falls on both alike; the best run is the figure
 * (other work only ever adds time), the median shows what a user typically sees.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { BenchContext, BenchReport, Benchmark } from './lib/benchmark.js';
import type { Machine } from './lib/machines.js';
import { max, median, min } from './lib/stats.js';
import { fmt, type Table } from './lib/table.js';
import { consoleSession, POWEROFF_MS } from './lib/console-session.js';
export { endsInPrompt } from './lib/console-session.js';

const KERNEL = join('guest', 'images', 'Image.gz');
const INITRD = join('guest', 'images', 'initramfs.cpio.gz');
const APPEND = 'console=ttyS0';
const MEMORY = '256M';
/** Virtual processor counts measured, one table row each. */
const CPU_COUNTS = [1, 4] as const;
/** Longest wait for the prompt (less if --timeout says so): a boot takes seconds. */
const BOOT_LIMIT_MS = 120_000;

/** Console lines that mean the kernel is in trouble: such a run is a failure. */
const TROUBLE = ['Oops', 'Kernel panic', 'rcu_sched self-detected stall', 'rcu: INFO', 'BUG:', 'WARNING:', 'Call Trace'];

export const bootBenchmark: Benchmark = {
  id: 'boot',
  summary: 'boot to shell: Linux 6.1 + busybox initramfs, spawn to first prompt, tshv run vs QEMU TCG',
  run,
};

/** What one boot printed, read back from its console log. */
export interface BootLog {
  /** Harts named by /init's banner ("..., 4 hart(s), ..."). */
  readonly harts?: number;
  /** The kernel's own timestamp when it started /init ("[    1.74] Run /init as init process"). */
  readonly kernelAtInit?: number;
  /** Trouble strings found (empty for a clean log). */
  readonly trouble: readonly string[];
}

export function parseBootLog(log: string): BootLog {
  const harts = /^tshv guest: Linux .*?, (\d+) hart\(s\)/m.exec(log)?.[1];
  const init = /^\[\s*(\d+\.\d+)\] Run \/\S+ as init process/m.exec(log)?.[1];
  return {
    ...(harts === undefined ? {} : { harts: Number(harts) }),
    ...(init === undefined ? {} : { kernelAtInit: Number(init) }),
    trouble: TROUBLE.filter((t) => log.includes(t)),
  };
}

/** Whether console output (CR already removed) ends in the shell prompt. */

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

/** One machine at one VP count: its runs so far, or why it stopped. */
interface Contestant {
  readonly machine: Machine & { readonly state: 'available' };
  readonly args: readonly string[];
  readonly seconds: number[];
  readonly kernelAtInit: number[];
  /** tshv's first failed run: it ends tshv's runs and fails the bench. */
  problem?: string;
  /** QEMU's failed runs: the yardstick, so a failed run is dropped and reported. */
  readonly dropped: string[];
}

async function run(ctx: BenchContext): Promise<BenchReport> {
  const { tshv, qemu } = ctx.machines;
  if (tshv.state !== 'available') throw new Error(`tshv is missing: ${tshv.reason}`);
  const kernelGz = join(ctx.root, KERNEL);
  const initrd = join(ctx.root, INITRD);
  // QEMU's -kernel takes the Image itself, not a gzip stream.
  const scratch = mkdtempSync(join(tmpdir(), 'tshv-bench-boot-'));
  try {
    const image = join(scratch, 'Image');
    if (qemu.state === 'available') writeFileSync(image, gunzipSync(readFileSync(kernelGz)));

    const rows: { cpus: number; tshv: Contestant; qemu?: Contestant }[] = CPU_COUNTS.map((cpus) => ({
      cpus,
      tshv: {
        machine: tshv,
        args: ['run', '--cpus', String(cpus), '--memory', MEMORY, '--kernel', kernelGz, '--initrd', initrd, '--append', APPEND],
        seconds: [],
        kernelAtInit: [],
        dropped: [],
      },
      ...(qemu.state === 'available'
        ? {
            qemu: {
              machine: qemu,
              args: ['-M', 'virt', '-smp', String(cpus), '-m', MEMORY, '-nographic', '-kernel', image, '-initrd', initrd, '-append', APPEND],
              seconds: [],
              kernelAtInit: [],
              dropped: [],
            },
          }
        : {}),
    }));

    for (const row of rows) {
      for (let round = 1; round <= ctx.repeat; round++) {
        for (const c of [row.tshv, row.qemu]) {
          if (c === undefined || c.problem !== undefined) continue;
          const r = await bootToPrompt(c.machine, c.args, { cwd: ctx.root, timeoutMs: Math.min(ctx.timeoutMs, BOOT_LIMIT_MS) });
          const problem = checkBoot(r, row.cpus);
          if (problem !== undefined) {
            const what = `${row.cpus} VP(s), round ${round}: ${problem}; output: ${tail(r)}`;
            ctx.log(`boot: ${c.machine.label} FAILED ${what}`);
            if (c === row.tshv) c.problem = what;
            else c.dropped.push(what);
            continue;
          }
          c.seconds.push(r.promptSeconds!);
          const init = parseBootLog(r.log).kernelAtInit;
          if (init !== undefined) c.kernelAtInit.push(init);
          ctx.log(`boot: ${c.machine.label}, ${row.cpus} VP(s), round ${round}/${ctx.repeat}: prompt after ${r.promptSeconds!.toFixed(3)} s`);
        }
      }
    }

    // tshv is what is measured: any failed run fails the bench. QEMU is the yardstick.
    const ok = rows.every((r) => r.tshv.problem === undefined);
    const best = (c: Contestant | undefined): number | undefined => (c && c.problem === undefined && c.seconds.length ? min(c.seconds) : undefined);
    const mid = (c: Contestant | undefined): number | undefined => (c && c.problem === undefined && c.seconds.length ? median(c.seconds) : undefined);
    const spread = (c: Contestant | undefined): string => {
      const b = best(c);
      return b === undefined ? '-' : `${(((max(c!.seconds) - b) / b) * 100).toFixed(0)}%`;
    };
    const ratio = (a: number | undefined, b: number | undefined): string => (a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}x` : '-');

    const table: Table = {
      columns: [
        { header: 'VPs', align: 'right' },
        { header: 'runs', align: 'right' },
        { header: 'tshv s', align: 'right' },
        { header: 'median', align: 'right' },
        { header: 'spread', align: 'right' },
        { header: 'QEMU s', align: 'right' },
        { header: 'median', align: 'right' },
        { header: 'spread', align: 'right' },
        { header: 'tshv/QEMU', align: 'right' },
      ],
      rows: rows.map((r) => [
        String(r.cpus),
        r.qemu === undefined || r.qemu.seconds.length === r.tshv.seconds.length
          ? String(r.tshv.seconds.length)
          : `${r.tshv.seconds.length}/${r.qemu.seconds.length}`,
        fmt(best(r.tshv), 3),
        fmt(mid(r.tshv), 3),
        spread(r.tshv),
        fmt(best(r.qemu), 3),
        fmt(mid(r.qemu), 3),
        spread(r.qemu),
        ratio(best(r.tshv), best(r.qemu)),
      ]),
    };

    const notes: string[] = [];
    for (const r of rows) {
      for (const c of [r.tshv, r.qemu]) {
        if (c?.problem !== undefined) notes.push(`FAIL ${c.machine.label}: ${c.problem}`);
        for (const d of c?.dropped ?? []) notes.push(`${c!.machine.label}: run dropped (not counted): ${d}`);
      }
    }
    if (qemu.state !== 'available') notes.push(`QEMU TCG: missing: ${qemu.reason}`);
    const initNote = (c: Contestant | undefined): string =>
      c && c.kernelAtInit.length ? `${min(c.kernelAtInit).toFixed(2)}-${max(c.kernelAtInit).toFixed(2)} s` : '-';
    for (const r of rows) {
      notes.push(`kernel's own clock at "Run /init", ${r.cpus} VP(s): tshv ${initNote(r.tshv)}, QEMU ${initNote(r.qemu)}`);
    }
    notes.push(
      'seconds from spawn to the first "tshv:~# " prompt, process start-up included (QEMU: OpenSBI too); ' +
        `runs = runs that booted correctly (tshv/QEMU when they differ); best of them, median, spread = (slowest - best) / best; ` +
        `tshv/QEMU = best over best (above 1: tshv is slower)`,
    );
    notes.push(`guest: ${KERNEL} (QEMU: the same Image gunzipped), ${INITRD}, -append "${APPEND}", ${MEMORY}`);

    return {
      title: 'Boot to shell: Linux 6.1 + busybox initramfs, spawn to first prompt',
      ok,
      table,
      notes,
      data: {
        memory: MEMORY,
        append: APPEND,
        rows: rows.map((r) => ({
          cpus: r.cpus,
          tshvSeconds: r.tshv.seconds,
          tshvProblem: r.tshv.problem ?? null,
          qemuSeconds: r.qemu?.seconds ?? null,
          qemuDropped: r.qemu?.dropped ?? null,
          tshvKernelAtInit: r.tshv.kernelAtInit,
          qemuKernelAtInit: r.qemu?.kernelAtInit ?? null,
        })),
      },
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function tail(r: BootRun): string {
  return (r.log + r.stderr).trim().split('\n').slice(-6).join(' | ') || '(none)';
}
