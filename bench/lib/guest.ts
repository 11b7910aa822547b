// The default Linux guest (guest/images: Linux 6.1 Image + busybox initramfs, console=ttyS0)
// as the console benchmarks (boot, shell, disk) run it: the command lines for tshv run and
// for QEMU's virt board, what its console log says, whether a session was clean, and the
// rounds in which the contenders take turns.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { BenchContext } from './benchmark.js';
import type { SessionRun } from './console-session.js';
import { contenders, type Contender, type Machine } from './machines.js';
import { max, median, min } from './stats.js';
import { fmt } from './table.js';

export const KERNEL = join('guest', 'images', 'Image.gz');
export const INITRD = join('guest', 'images', 'initramfs.cpio.gz');
export const APPEND = 'console=ttyS0';
export const MEMORY = '256M';

/** Console lines that mean the kernel is in trouble: such a run is a failure. */
const TROUBLE = ['Oops', 'Kernel panic', 'rcu_sched self-detected stall', 'rcu: INFO', 'BUG:', 'WARNING:', 'Call Trace'];

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

/** Why a session is not a clean boot of `cpus` harts that ran every command and powered off. */
export function checkSession(r: SessionRun, commands: readonly string[], cpus = 1): string | undefined {
  if (r.timedOut !== undefined) return `no answer before the time limit: waited for ${r.timedOut}`;
  const ended = r.signal !== null ? `killed by ${r.signal}` : `exit status ${String(r.exitCode)}`;
  if (r.promptSeconds === undefined) return `exited before the shell prompt (${ended})`;
  if (r.steps.length < commands.length) return `exited while running "${commands[r.steps.length]!}" (${ended})`;
  const log = parseBootLog(r.log);
  if (log.trouble.length > 0) return `kernel trouble on the console: ${log.trouble.join(', ')}`;
  if (log.harts !== cpus) return `the banner says ${log.harts === undefined ? 'nothing' : `${log.harts} hart(s)`}, expected ${cpus}`;
  if (r.poweroffHung) return `still running after poweroff (killed)`;
  if (r.exitCode !== 0) return `poweroff ended it with ${ended}`;
  return undefined;
}

/** Writes the kernel gunzipped into `dir` for QEMU (its -kernel does not take gzip); returns its path. */
export function qemuKernel(root: string, dir: string): string {
  const image = join(dir, 'Image');
  writeFileSync(image, gunzipSync(readFileSync(join(root, KERNEL))));
  return image;
}

/**
 * Runs a console benchmark of the default guest: fails when tshv is missing, gives `body`
 * the contenders of `tshv run` (QEMU, tshv, tshv --no-jit) and the kernel QEMU boots (in a
 * scratch directory removed afterwards; '' without QEMU).
 */
export async function withGuest<T>(
  ctx: BenchContext,
  bench: string,
  body: (all: readonly Contender[], qemuImage: string) => Promise<T>,
): Promise<T> {
  if (ctx.machines.tshv.state !== 'available') throw new Error(`tshv is missing: ${ctx.machines.tshv.reason}`);
  const all = contenders(ctx.machines, 'run');
  const scratch = mkdtempSync(join(tmpdir(), `tshv-bench-${bench}-`));
  try {
    return await body(all, ctx.machines.qemu.state === 'available' ? qemuKernel(ctx.root, scratch) : '');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export interface GuestOptions {
  readonly cpus: number;
  readonly memory?: string;
  /** The gunzipped kernel for QEMU (qemuKernel). */
  readonly qemuImage: string;
  /** More options for tshv run (after its own) and for QEMU (after the guest's). */
  readonly tshvExtra?: readonly string[];
  readonly qemuExtra?: readonly string[];
}

/**
 * The command line that boots the default guest on a contender:
 *   tshv run [--no-jit] --cpus N --memory M --kernel Image.gz --initrd ... --append console=ttyS0
 *   qemu-system-riscv64 -M virt -smp N -m M -nographic -kernel Image -initrd ... -append console=ttyS0
 */
export function guestArgs(root: string, c: Contender, o: GuestOptions): string[] {
  const memory = o.memory ?? MEMORY;
  const initrd = join(root, INITRD);
  if (c.isTshv) {
    return ['run', ...c.options, '--cpus', String(o.cpus), '--memory', memory, '--kernel', join(root, KERNEL), '--initrd', initrd, '--append', APPEND, ...(o.tshvExtra ?? [])];
  }
  return ['-M', 'virt', '-smp', String(o.cpus), '-m', memory, '-nographic', '-kernel', o.qemuImage, '-initrd', initrd, '-append', APPEND, ...(o.qemuExtra ?? [])];
}

// ---- Contenders taking turns ------------------------------------------------------------

/** One contender in one row of a table (a VP count, an image format...): its runs so far. */
export interface Entry<R> {
  readonly contender: Contender;
  readonly machine: Machine & { readonly state: 'available' };
  readonly runs: R[];
  /** tshv's first failed run (either tier): it ends that tier's runs and fails the bench. */
  problem?: string;
  /** QEMU's failed runs: the yardstick, so a failed run is dropped and reported. */
  readonly dropped: string[];
}

/** Entries for the contenders whose machine is available (the others are reported by missingNotes). */
export function entries<R>(contenders: readonly Contender[]): Entry<R>[] {
  const out: Entry<R>[] = [];
  for (const contender of contenders) {
    const machine = contender.machine;
    if (machine.state === 'available') out.push({ contender, machine, runs: [], dropped: [] });
  }
  return out;
}

/**
 * Runs `repeat` rounds per row, the row's entries taking turns within a round, so that
 * load from other work on the host falls on every machine alike. `measure` returns the
 * figures of a correct run or why it is wrong; a wrong tshv run ends that entry's runs
 * (and fails the bench), a wrong QEMU run is dropped.
 */
export async function takeTurns<R, Row extends { readonly entries: readonly Entry<R>[] }>(
  ctx: BenchContext,
  bench: string,
  rows: readonly Row[],
  what: (row: Row) => string,
  measure: (entry: Entry<R>, row: Row) => Promise<R | string>,
  describe: (result: R) => string,
): Promise<void> {
  for (const row of rows) {
    for (let round = 1; round <= ctx.repeat; round++) {
      for (const e of row.entries) {
        if (e.problem !== undefined) continue;
        const result = await measure(e, row);
        if (typeof result === 'string') {
          const failure = `${what(row)}, round ${round}: ${result}`;
          ctx.log(`${bench}: ${e.machine.label} FAILED ${failure}`);
          if (e.contender.isTshv) e.problem = failure;
          else e.dropped.push(failure);
          continue;
        }
        e.runs.push(result);
        ctx.log(`${bench}: ${e.machine.label}, ${what(row)}, round ${round}/${ctx.repeat}: ${describe(result)}`);
      }
    }
  }
}

/** Failures (FAIL ...), dropped QEMU runs and missing machines, for a report's notes. */
export function entryNotes(contenders: readonly Contender[], all: readonly Entry<unknown>[]): string[] {
  const notes: string[] = [];
  for (const e of all) {
    if (e.problem !== undefined) notes.push(`FAIL ${e.machine.label}: ${e.problem}`);
    for (const d of e.dropped) notes.push(`${e.machine.label}: run dropped (not counted): ${d}`);
  }
  for (const c of contenders) if (c.machine.state === 'missing') notes.push(`${c.machine.label}: missing: ${c.machine.reason}`);
  return notes;
}

/** Whether every tshv entry ran correctly and tshv itself (the default tier) was there. */
export function entriesOk(contenders: readonly Contender[], all: readonly Entry<unknown>[]): boolean {
  return contenders.every((c) => !c.required || c.machine.state === 'available') && all.every((e) => e.problem === undefined);
}

/** The seconds of an entry's correct runs (none once it failed), for the table. */
export function timings<R>(e: Entry<R> | undefined, seconds: (r: R) => number): number[] {
  return e === undefined || e.problem !== undefined ? [] : e.runs.map(seconds);
}

/** best, median and spread ((slowest - best) / best) cells of timings where less is better. */
export function timeCells(values: readonly number[], decimals = 3): [string, string, string] {
  if (values.length === 0) return ['-', '-', '-'];
  const best = min(values);
  return [fmt(best, decimals), fmt(median(values), decimals), `${(((max(values) - best) / best) * 100).toFixed(0)}%`];
}

/** "1.23x" for a / b, or a dash. */
export function ratioCell(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '-';
}

/** " (missing)", " (FAILED)" or nothing, after a machine's name in a table. */
export function statusSuffix(c: Contender, e: Entry<unknown> | undefined): string {
  if (c.machine.state === 'missing') return ' (missing)';
  return e?.problem !== undefined ? ' (FAILED)' : '';
}
