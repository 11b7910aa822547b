/**
 * The machines a benchmark runs guests on, and a timed process runner.
 *
 * tshv is this tree's `bin/tshv.js`; QEMU is `qemu-system-riscv64` from PATH (or
 * $TSHV_BENCH_QEMU). Either can be missing: a benchmark then reports the other
 * machine's figures and says what was missing, it does not crash.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export type Machine =
  | {
      readonly state: 'available';
      readonly label: string;
      /** Program to spawn and the arguments that come before a subcommand's own. */
      readonly command: string;
      readonly baseArgs: readonly string[];
      readonly version: string;
    }
  | { readonly state: 'missing'; readonly label: string; readonly reason: string };

export interface Machines {
  readonly tshv: Machine;
  readonly qemu: Machine;
}

export interface ProcessRun {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock seconds from spawn to exit, start-up included. */
  readonly seconds: number;
}

export function detectMachines(root: string): Machines {
  return { tshv: detectTshv(root), qemu: detectQemu() };
}

function detectTshv(root: string): Machine {
  const label = 'tshv';
  const cli = join(root, 'bin', 'tshv.js');
  if (!existsSync(cli)) return { state: 'missing', label, reason: `${cli} not found` };
  return { state: 'available', label, command: process.execPath, baseArgs: [cli], version: 'this tree' };
}

function detectQemu(): Machine {
  const label = 'QEMU TCG';
  const command = process.env['TSHV_BENCH_QEMU'] ?? 'qemu-system-riscv64';
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error !== undefined || probe.status !== 0) {
    const why = probe.error?.message ?? `exit status ${String(probe.status)}`;
    return { state: 'missing', label, reason: `${command} not runnable (${why}); install Debian's qemu-system-misc` };
  }
  const version = /version\s+(\S+)/.exec(probe.stdout)?.[1] ?? 'unknown version';
  return { state: 'available', label, command, baseArgs: [], version };
}

/** Arguments for `tshv exec`: a bare-metal ELF in M-mode, stopping at its `tohost` store. */
export function tshvExecArgs(elf: string, options: readonly string[] = []): string[] {
  return ['exec', ...options, elf];
}

/**
 * Arguments for QEMU's `virt` board running a bare-metal ELF with no firmware: QEMU
 * jumps to 0x8000_0000 in M-mode and exits when the guest writes the sifive,test0
 * syscon (0x5555: status 0; (code << 16) | 0x3333: status `code`).
 */
export function qemuVirtArgs(elf: string, options: readonly string[] = []): string[] {
  return ['-M', 'virt', '-smp', '1', '-m', '128M', '-bios', 'none', '-nographic', ...options, '-kernel', elf];
}

/** Whether `tshv <subcommand> --help` mentions `flag`: how the bench learns what exec offers. */
export function tshvSupports(machine: Machine, subcommand: string, flag: string): boolean {
  if (machine.state !== 'available') return false;
  const help = spawnSync(machine.command, [...machine.baseArgs, subcommand, '--help'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return `${help.stdout ?? ''}${help.stderr ?? ''}`.includes(flag);
}

/** Runs one guest to completion, timing it; never rejects (failures are in the result). */
export function runTimed(
  machine: Machine & { state: 'available' },
  args: readonly string[],
  options: { readonly cwd: string; readonly timeoutMs: number },
): Promise<ProcessRun> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn(machine.command, [...machine.baseArgs, ...args], {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, extra = ''): void => {
      clearTimeout(timer);
      resolve({
        exitCode,
        signal,
        timedOut,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + extra,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    };
    child.on('error', (e) => finish(null, null, `\n${e.message}`));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/** One line describing how a process ended, for failure notes. */
export function describeExit(run: ProcessRun): string {
  if (run.timedOut) return `timed out after ${run.seconds.toFixed(1)} s`;
  if (run.signal !== null) return `killed by ${run.signal}`;
  return `exit status ${String(run.exitCode)}`;
}

/** The row label of tshv interpreting only (`--no-jit`). */
export const INTERPRETER_LABEL = 'tshv (interpreter)';
/** tshv's option that turns the translation tier off. */
export const NO_JIT = '--no-jit';

/**
 * One row of a benchmark's table: a machine and, for tshv, the options its subcommand
 * gets. The same tshv is two contenders: with translation (its default) and
 * interpreting only (`--no-jit`).
 */
export interface Contender {
  /** The machine, labelled as the row (its label is the contender's). */
  readonly machine: Machine;
  /** tshv (either tier): a wrong result fails the bench. QEMU is the yardstick. */
  readonly isTshv: boolean;
  /** Whether a missing machine fails the bench (tshv's default tier only). */
  readonly required: boolean;
  /** Options that go right after tshv's subcommand (`--no-jit`); none for QEMU. */
  readonly options: readonly string[];
}

/**
 * QEMU TCG, tshv (translation on, the default) and tshv interpreting only, in that
 * order. The interpreter is a missing machine when `tshv <subcommand> --help` does not
 * list --no-jit (an older tshv), so a benchmark reports it missing rather than failing.
 */
export function contenders(machines: Machines, subcommand: string): Contender[] {
  const { tshv, qemu } = machines;
  let interpreter: Machine;
  if (tshv.state !== 'available') interpreter = { state: 'missing', label: INTERPRETER_LABEL, reason: tshv.reason };
  else if (tshvSupports(tshv, subcommand, NO_JIT)) interpreter = { ...tshv, label: INTERPRETER_LABEL };
  else {
    interpreter = {
      state: 'missing',
      label: INTERPRETER_LABEL,
      reason: `\`tshv ${subcommand} --help\` does not list ${NO_JIT} (a tshv without the translation tier's switch)`,
    };
  }
  return [
    { machine: qemu, isTshv: false, required: false, options: [] },
    { machine: tshv, isTshv: true, required: true, options: [] },
    { machine: interpreter, isTshv: true, required: false, options: [NO_JIT] },
  ];
}
