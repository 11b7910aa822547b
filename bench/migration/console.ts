/**
 * A guest's serial console as the migration benchmark drives it, whatever carries it: a
 * QEMU process's stdio or a tshv service's WebSocket. Every chunk is handed, with its
 * arrival time, to a listener (the tick accounting) before anything else is done with it;
 * waits end early, with the reason, when the console closes (the machine died).
 */
import type { ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import { endsInPrompt } from '../lib/console-session.js';

export type ChunkListener = (text: string, at: number) => void;

export class LiveConsole {
  /** Everything received, CR removed. */
  log = '';
  private closedBecause: string | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    private readonly send: (text: string) => void,
    private readonly listener: ChunkListener,
  ) {}

  /** A chunk from the machine; `timed` false: old output replayed, not live (not given to the listener). */
  receive(text: string, timed = true): void {
    if (timed) this.listener(text, performance.now());
    this.log += text.replace(/\r/g, '');
    this.poke();
  }

  /** The transport is gone: waits fail with `reason`. */
  closed(reason: string): void {
    this.closedBecause ??= reason;
    this.poke();
  }

  type(line: string): void {
    this.send(`${line}\n`);
  }

  /** Resolves once `test` holds; rejects after `ms` or when the console closes first. */
  until(test: () => boolean, what: string, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (test()) finish(resolve);
        else if (this.closedBecause !== undefined) finish(() => reject(new Error(`${this.name} console closed while waiting for ${what}: ${this.closedBecause}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what} on ${this.name}: ...${JSON.stringify(this.log.slice(-300))}`))), ms);
      const finish = (settle: () => void) => { clearTimeout(timer); this.waiters.delete(check); settle(); };
      this.waiters.add(check);
      check();
    });
  }

  prompt(ms: number): Promise<void> {
    return this.until(() => endsInPrompt(this.log), 'the shell prompt', ms);
  }

  /**
   * Types `command` and waits for `answer` in what follows. Loosely: the guest's ticks
   * (and line breaks) come between the characters of the answer, so they are left out
   * before looking.
   */
  async answers(command: string, answer: string, ms: number): Promise<void> {
    const mark = this.log.length;
    this.type(command);
    await this.until(() => this.log.slice(mark).replace(/[.\n]/g, '').includes(answer), `"${answer}" in answer to "${command}"`, ms);
  }

  private poke(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** The console on a machine's stdin and stdout (QEMU's `-serial stdio`). */
export function processConsole(name: string, child: ChildProcess, listener: ChunkListener): LiveConsole {
  const c = new LiveConsole(name, (text) => child.stdin!.write(text), listener);
  child.stdin!.on('error', () => {}); // EPIPE once the machine is gone: its exit is reported
  child.stdout!.setEncoding('latin1');
  child.stdout!.on('data', (text: string) => c.receive(text));
  child.on('close', (code, signal) => c.closed(signal ? `the process was killed by ${signal}` : `the process exited with status ${code}`));
  child.on('error', (e) => c.closed(e.message));
  return c;
}

/** How soon after the open a frame counts as the service's scrollback replay. */
const REPLAY_MS = 50;

/**
 * A tshv service's VM console over its WebSocket (GET /api/vms/{vm}/console). The service
 * first sends the last 64 KiB of the run's output in one frame, then live output: a first
 * frame within REPLAY_MS of the open is taken for that replay and logged, not timed (its
 * ticks are old: timed at their arrival they would fill, or stretch, the blackout).
 */
export async function webSocketConsole(name: string, url: string, token: string, listener: ChunkListener): Promise<{ console: LiveConsole; close: () => void }> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
  const c = new LiveConsole(name, (text) => ws.send(Buffer.from(text, 'latin1')), listener);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => { req.destroy(); reject(new Error(`${name} console refused: HTTP ${res.statusCode}`)); });
  });
  const opened = performance.now();
  let first = true;
  ws.on('message', (data: Buffer) => {
    c.receive(data.toString('latin1'), !(first && performance.now() - opened < REPLAY_MS));
    first = false;
  });
  ws.on('close', (code, reason) => c.closed(`closed by the service (${code}${reason.length ? ` ${reason.toString()}` : ''})`));
  ws.on('error', (e) => c.closed(e.message));
  return { console: c, close: () => ws.close() };
}
