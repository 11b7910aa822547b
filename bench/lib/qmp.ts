/**
 * A QMP client (QEMU's JSON machine protocol, docs/interop/qmp-spec) on a unix socket: the
 * greeting and the `qmp_capabilities` handshake, then one command at a time. Everything
 * QEMU sends is checked before it is believed: a line that is not a JSON object, a greeting
 * that is not QMP's, or a reply that is neither `return` nor `error` ends the session with
 * an error that quotes what came. Asynchronous events (`{"event": ...}`) are skipped.
 */
import { createConnection, type Socket } from 'node:net';

/** How long QEMU has to answer one command. */
const REPLY_MS = 30_000;

/** QEMU refused a command: its error class and description. */
export class QmpError extends Error {
  constructor(readonly command: string, readonly errorClass: string, readonly desc: string) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
    this.name = 'QmpError';
  }
}

type Json = Record<string, unknown>;

export class Qmp {
  private buffer = '';
  private lines: Json[] = [];
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private nextId = 1;
  /** The command in flight: commands are sent one after another. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.receive(d));
    socket.on('error', (e) => this.fail(new Error(`QMP socket: ${e.message}`)));
    socket.on('close', () => this.fail(new Error('QEMU closed its QMP socket')));
  }

  /**
   * Connects to the socket QEMU made with `-qmp unix:PATH,server=on,wait=off`, retrying
   * until it is there (QEMU makes it while it starts) or `ms` have passed; reads the
   * greeting and negotiates capabilities.
   */
  static async connect(path: string, ms = REPLY_MS): Promise<Qmp> {
    const deadline = Date.now() + ms;
    for (;;) {
      const socket = createConnection(path);
      try {
        await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
      } catch (e) {
        socket.destroy();
        const code = (e as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() > deadline) throw new Error(`cannot connect to QMP at ${path}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const qmp = new Qmp(socket);
      try {
        const greeting = await qmp.nextLine('the QMP greeting');
        if (!isObject(greeting['QMP'])) throw new Error(`not a QMP greeting: ${JSON.stringify(greeting).slice(0, 300)}`);
        await qmp.execute('qmp_capabilities');
        return qmp;
      } catch (e) {
        qmp.close();
        throw e;
      }
    }
  }

  /** Runs a command; resolves with its `return` value, rejects with a QmpError if QEMU refuses it. */
  execute(command: string, args?: Json): Promise<unknown> {
    const run = this.queue.then(() => this.roundTrip(command, args));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.socket.destroy();
  }

  private async roundTrip(command: string, args: Json | undefined): Promise<unknown> {
    const id = this.nextId++;
    this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    for (;;) {
      const reply = await this.nextLine(`the answer to ${command}`);
      if ('event' in reply) continue;
      if (reply['id'] !== id) throw new Error(`QMP ${command}: a reply to another command: ${JSON.stringify(reply).slice(0, 300)}`);
      if ('return' in reply) return reply['return'];
      const error = reply['error'];
      if (isObject(error) && typeof error['class'] === 'string' && typeof error['desc'] === 'string') throw new QmpError(command, error['class'], error['desc']);
      throw new Error(`QMP ${command}: neither a return nor an error: ${JSON.stringify(reply).slice(0, 300)}`);
    }
  }

  /** The next JSON object QEMU sent. */
  private async nextLine(what: string): Promise<Json> {
    const deadline = Date.now() + REPLY_MS;
    while (this.lines.length === 0) {
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`QMP: no ${what} within ${REPLY_MS / 1000} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
    }
    return this.lines.shift()!;
  }

  private receive(data: string): void {
    this.buffer += data;
    for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        this.fail(new Error(`QMP sent a line that is not JSON: ${line.slice(0, 300)}`));
        return;
      }
      if (!isObject(parsed)) {
        this.fail(new Error(`QMP sent JSON that is not an object: ${line.slice(0, 300)}`));
        return;
      }
      this.lines.push(parsed);
    }
    this.wake?.();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.socket.destroy();
    this.wake?.();
  }
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
