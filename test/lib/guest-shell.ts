// Drives the default guest's busybox shell through `tshv run` in pipe mode, the way a
// user's script would: stdin to the guest console, console to stdout. Used by the
// integration suites that boot real Linux (test/boot.test.ts, test/idle.test.ts).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const TSHV = ROOT + 'bin/tshv.js';

/** The prompt /init sets (PS1='\h:\w\$ '): "tshv:~# " in $HOME, "tshv:/# " in /. */
export const PROMPT = /tshv:[^\n]*# $/;

/** What must never appear on a healthy guest's console. */
export const KERNEL_TROUBLE = ['Oops', 'Kernel panic', 'rcu_sched self-detected stall', 'rcu: INFO', 'BUG:', 'WARNING:', 'Call Trace'];

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

/**
 * A guest's busybox shell behind some console: output is fed in with `output`, input goes
 * out through `send`. GuestShell drives one through a `tshv run` process, VmShell through
 * a Vm object in this process.
 */
export abstract class ConsoleShell {
  private out = '';
  private seq = 0;
  private waiters: { test: () => boolean; resolve: () => void }[] = [];

  /** Console output so far, CR removed (ttyS0 sends CR LF). */
  get log(): string { return this.out; }
  /** Extra context for timeout messages. */
  protected details(): string { return ''; }
  abstract write(text: string): void;

  protected output(s: string): void { this.out += s.replace(/\r/g, ''); this.poke(); }

  /** Waits until test() holds; rejects after ms with the end of the console log. */
  waitFor(what: string, test: () => boolean, ms = 60_000): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { test, resolve: () => { clearTimeout(timer); resolve(); } };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}\n--- console (last 1500 chars) ---\n` +
          `${this.out.slice(-1500)}${this.details()}`));
      }, ms);
      this.waiters.push(w);
    });
  }

  waitForPrompt(ms = 60_000): Promise<void> {
    return this.waitFor('the shell prompt', () => PROMPT.test(this.out), ms);
  }

  /**
   * Types one command line and resolves to what it printed: the lines between two markers
   * echoed around it, once the prompt after the end marker is back. Can be called before
   * the shell is up: the line is written at once and waits in the guest's input.
   */
  async run(cmd: string, ms = 60_000): Promise<string> {
    const n = ++this.seq;
    const begin = `__begin_${n}__`, done = `__done_${n}__`;
    this.write(`echo ${begin}; ${cmd}; echo ${done}\n`);
    // Whole lines only: the terminal's echo of the command line contains the markers too.
    const end = new RegExp(`(?:^|\\n)${done}\\n(?:[^\\n]*\\n)*?tshv:[^\\n]*# `);
    await this.waitFor(`the output of "${cmd}"`, () => end.test(this.out), ms);
    return between(this.out, begin, done);
  }

  protected poke(): void {
    const ready = this.waiters.filter((w) => w.test());
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}

/** The shell of a `tshv run` child process, in pipe mode. */
export class GuestShell extends ConsoleShell {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves when the tshv process has exited. */
  readonly exited: Promise<Exit>;
  private err = '';

  constructor(args: readonly string[]) {
    super();
    this.child = spawn(process.execPath, [TSHV, 'run', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('latin1');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (s: string) => this.output(s));
    this.child.stderr.on('data', (s: string) => { this.err += s; this.poke(); });
    this.child.stdin.on('error', () => {}); // EPIPE after the guest is gone: the exit code tells
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => { resolve({ code, signal }); this.poke(); }));
  }

  get stderr(): string { return this.err; }
  get pid(): number { return this.child.pid!; }
  get running(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }
  protected override details(): string { return `\n--- stderr ---\n${this.err}`; }

  write(text: string): void { this.child.stdin.write(text); }

  /** Waits for the tshv process to exit by itself. */
  async waitForExit(what: string, ms = 60_000): Promise<Exit> {
    await this.waitFor(what, () => !this.running, ms);
    return this.exited;
  }

  /** Types `poweroff` and waits for the process to exit. */
  poweroff(ms = 60_000): Promise<Exit> {
    this.write('poweroff\n');
    return this.waitForExit('tshv to exit after poweroff', ms);
  }

  /** Hard stop, for cleanup after a failure. */
  kill(): void { if (this.running) this.child.kill('SIGKILL'); }
}

/** Boots `tshv run args`, runs `body` against the shell; always leaves no process behind. */
export async function withGuest(args: readonly string[], body: (g: GuestShell) => Promise<void>): Promise<void> {
  const g = new GuestShell(args);
  try {
    await body(g);
  } finally {
    g.kill();
  }
}

/** The lines strictly between the line `begin` and the line `done` (both whole lines). */
export function between(log: string, begin: string, done: string): string {
  const lines = log.split('\n');
  const b = lines.indexOf(begin);
  const e = lines.indexOf(done, b + 1);
  if (b < 0 || e < 0) throw new Error(`markers ${begin}/${done} not found in the console log`);
  return lines.slice(b + 1, e).join('\n');
}

/** The trouble strings present in a console log (an empty list is a clean log). */
export function kernelTrouble(log: string): string[] {
  return KERNEL_TROUBLE.filter((s) => log.includes(s));
}
