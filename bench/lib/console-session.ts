// Driving a guest's console in a benchmark: boot a machine (tshv run or QEMU) from a spawn,
// wait for the shell prompt, type commands one at a time, power off. Shared by the boot
// and disk benchmarks; never rejects and never leaves a process behind.
import { spawn } from 'node:child_process';
import type { Machine } from './machines.js';

/** The prompt /init sets (PS1='\\h:\\w\\$ '): "tshv:~# " in $HOME. */
const PROMPT = /tshv:[^\n]*# $/;
/** How long a machine may take to exit once `poweroff` is typed (default). */
export const POWEROFF_MS = 30_000;

/** True if the console output ends in the shell prompt. */
export function endsInPrompt(out: string): boolean {
  return PROMPT.test(out.slice(-256));
}

/** One command typed at the prompt and what came back before the next prompt. */
export interface ConsoleStep {
  readonly command: string;
  /** The echoed command line and its output, CR removed, the closing prompt left out. */
  readonly output: string;
  /** Host clock from typing the command to the next prompt. */
  readonly hostSeconds: number;
}

export interface SessionRun {
  /** Spawn to first prompt, in seconds; undefined when it never came. */
  readonly promptSeconds?: number;
  /** The commands that came back to the prompt, in order. */
  readonly steps: readonly ConsoleStep[];
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** What was being waited for when the time ran out (the machine was killed). */
  readonly timedOut?: string;
  /** The machine did not exit within poweroffMs of `poweroff` (it was killed). */
  readonly poweroffHung: boolean;
  /** Console output, CR removed. */
  readonly log: string;
  readonly stderr: string;
}

/**
 * Boots a machine, types each command at a prompt once the previous one has come back,
 * then `poweroff`, and waits for the exit. Never rejects, and never leaves the process
 * behind: a machine that misses a deadline is killed with SIGKILL.
 */
export function consoleSession(
  machine: Machine & { state: 'available' },
  args: readonly string[],
  commands: readonly string[],
  options: { readonly cwd: string; readonly bootMs: number; readonly commandMs: number; readonly poweroffMs?: number },
): Promise<SessionRun> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn(machine.command, [...machine.baseArgs, ...args], { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let log = '';
    let stderr = '';
    let promptSeconds: number | undefined;
    const steps: ConsoleStep[] = [];
    let timedOut: string | undefined;
    let poweroffHung = false;
    let poweredOff = false;
    /** Where the output of the command being waited for starts, and when it was typed. */
    let mark = 0;
    let typedAt = started;
    let timer: NodeJS.Timeout | undefined;
    const deadline = (ms: number, what: string): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (poweredOff) poweroffHung = true;
        else timedOut = what;
        child.kill('SIGKILL');
      }, ms);
    };
    const type = (command: string): void => {
      mark = log.length;
      typedAt = process.hrtime.bigint();
      child.stdin.write(`${command}\n`);
    };
    deadline(options.bootMs, 'the first shell prompt');
    child.stdin.on('error', () => {}); // EPIPE if the machine is already gone
    child.stdout.setEncoding('latin1');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      log += s.replace(/\r/g, '');
      if (poweredOff || !endsInPrompt(log.slice(mark))) return;
      const now = process.hrtime.bigint();
      if (promptSeconds === undefined) {
        promptSeconds = Number(now - started) / 1e9;
      } else {
        const command = commands[steps.length]!;
        const output = log.slice(mark).replace(/[^\n]*$/, ''); // the closing prompt's line
        steps.push({ command, output, hostSeconds: Number(now - typedAt) / 1e9 });
      }
      if (steps.length < commands.length) {
        const next = commands[steps.length]!;
        deadline(options.commandMs, `the prompt after "${next}"`);
        type(next);
      } else {
        poweredOff = true;
        deadline(options.poweroffMs ?? POWEROFF_MS, 'poweroff');
        type('poweroff');
      }
    });
    child.stderr.on('data', (s: string) => (stderr += s));
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, extra = ''): void => {
      clearTimeout(timer);
      resolve({
        ...(promptSeconds === undefined ? {} : { promptSeconds }),
        steps,
        exitCode,
        signal,
        ...(timedOut === undefined ? {} : { timedOut }),
        poweroffHung,
        log,
        stderr: stderr + extra,
      });
    };
    child.on('error', (e) => finish(null, null, `\n${e.message}`));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

