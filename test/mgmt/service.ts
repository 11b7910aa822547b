// A real `tshv serve` child process for the management service's tests, and clients for
// it: JSON over fetch, the event stream, and a VM's console over a WebSocket (driven like
// any other guest shell, see test/lib/guest-shell.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ConsoleShell, ROOT, TSHV } from '../lib/guest-shell.js';

export interface Reply<T = any> { status: number; body: T; headers: Headers }

export class Service {
  private out = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess, readonly dataDir: string) {
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => { this.out += s; });
    child.stderr!.on('data', (s: string) => { this.out += s; });
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  url = '';
  token = '';
  get pid(): number { return this.child.pid!; }
  /** Everything the service printed. */
  get output(): string { return this.out; }

  /** Starts `tshv serve` on a free port (in a new data directory unless one is given; `args`: more flags). */
  static async start(dataDir = mkdtempSync(join(tmpdir(), 'tshv-mgmt-')), args: string[] = []): Promise<Service> {
    const child = spawn(process.execPath, [TSHV, 'serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const s = new Service(child, dataDir);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = /listening on (http:\/\/\S+)/.exec(s.out);
      if (m) { s.url = m[1]; break; }
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`tshv serve did not start:\n${s.out}`);
      await sleep(50);
    }
    s.token = readFileSync(join(dataDir, 'token'), 'utf8').trim();
    return s;
  }

  /** A JSON request with the token (or the given headers instead). */
  async api<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply<T>> {
    const h: Record<string, string> = headers ?? { authorization: `Bearer ${this.token}` };
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(this.url + path, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  /**
   * A GET sent exactly as written: the path unnormalized, any headers (Host, Upgrade: fetch
   * sets or refuses those). An event stream or an accepted upgrade is cut off at its head.
   */
  raw(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; type: string }> {
    const { hostname, port } = new URL(this.url);
    return new Promise((resolve, reject) => {
      const req = request({ host: hostname, port, path, headers, agent: false }, (res) => {
        const type = res.headers['content-type'] ?? '';
        if (type.startsWith('text/event-stream')) { res.destroy(); resolve({ status: res.statusCode!, body: '', type }); return; }
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { body += d; });
        // A refused upgrade's socket is destroyed right after the answer: what came is the answer.
        res.on('close', () => resolve({ status: res.statusCode!, body, type }));
      });
      req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode!, body: '', type: '' }); });
      req.on('error', reject);
      req.end();
    });
  }

  /** Like api(), but the status must be `status`; returns the body. */
  async ok<T = any>(method: string, path: string, body?: unknown, status = 200): Promise<T> {
    const r = await this.api<T>(method, path, body);
    if (r.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Polls GET /api/vms/{vm} until test holds. */
  async waitForVm(vm: string, test: (v: any) => boolean, what: string, ms = 60_000): Promise<any> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = (await this.api('GET', `/api/vms/${vm}`)).body;
      if (test(v)) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${vm} to be ${what}; it is ${JSON.stringify(v)}`);
      await sleep(100);
    }
  }

  consoleUrl(vm: string, token = this.token): string {
    return `${this.url.replace(/^http/, 'ws')}/api/vms/${vm}/console?token=${encodeURIComponent(token)}`;
  }

  async console(vm: string): Promise<WsConsole> {
    const c = new WsConsole(this.consoleUrl(vm));
    await c.opened;
    return c;
  }

  events(): EventStream { return new EventStream(this); }

  /** VmRSS of the service process from /proc, in bytes. */
  rss(): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return Number(m![1]) * 1024;
  }

  /**
   * Resident bytes of guest RAM in the service: V8 reserves each wasm memory (a VM's RAM)
   * with a guard region of several GiB right after it, which is how its mapping is found in
   * /proc/<pid>/smaps. Only pages the guest touched are resident.
   */
  guestRamResident(): number {
    const maps = readFileSync(`/proc/${this.pid}/smaps`, 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/).map((b) => {
      const [, start, end, perms] = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/.exec(b)!;
      return { start: BigInt('0x' + start), end: BigInt('0x' + end), perms, rss: Number(/\nRss:\s+(\d+) kB/.exec(b)?.[1] ?? 0) * 1024 };
    });
    let total = 0;
    for (const [i, m] of maps.entries()) {
      const next = maps[i + 1];
      if (m.perms.startsWith('rw') && next && next.start === m.end && next.perms.startsWith('---') && next.end - next.start >= 4n << 30n) total += m.rss;
    }
    return total;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** A VM's console over the WebSocket, with the helpers of ConsoleShell (waitForPrompt, run). */
export class WsConsole extends ConsoleShell {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;

  /** @param headers extra request headers (Origin, Host) */
  constructor(url: string, headers?: Record<string, string>) {
    super();
    this.ws = new WebSocket(url, { headers });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (req, res) => { req.destroy(); reject(new Error(`WebSocket refused: HTTP ${res.statusCode}`)); });
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => { resolve({ code, reason: reason.toString() }); this.poke(); }));
    this.ws.on('message', (data: Buffer) => this.output(data.toString('latin1')));
  }

  write(text: string): void { this.ws.send(Buffer.from(text)); }
  close(): void { this.ws.close(); }
}

/** GET /api/events, read as it comes. */
export class EventStream {
  readonly events: any[] = [];
  private readonly abort = new AbortController();
  readonly done: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(service: Service) {
    this.done = (async () => {
      const res = await fetch(`${service.url}/api/events`, { headers: { authorization: `Bearer ${service.token}`, 'last-event-id': '0' }, signal: this.abort.signal });
      if (res.status !== 200) throw new Error(`event stream: HTTP ${res.status}`);
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body!) {
          buffer += decoder.decode(chunk as Uint8Array, { stream: true });
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const message = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            for (const line of message.split('\n')) if (line.startsWith('data: ')) this.events.push(JSON.parse(line.slice(6)));
            for (const w of this.waiters.splice(0)) w();
          }
        }
      } catch (e) {
        if ((e as Error).name !== 'AbortError') throw e;
      }
    })();
    this.done.catch(() => {});
  }

  /** Waits until an event satisfying test has arrived; returns it. */
  async waitFor(test: (e: any) => boolean, what: string, ms = 30_000): Promise<any> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.events.find(test);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event ${what} within ${ms} ms; got ${JSON.stringify(this.events.slice(-10))}`);
      await new Promise<void>((resolve) => { const t = setTimeout(resolve, left); this.waiters.push(() => { clearTimeout(t); resolve(); }); });
    }
  }

  close(): void { this.abort.abort(); }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
