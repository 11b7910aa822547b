// The management service as the CLI sees it: finding it (docs/api.md, "Host, data
// directory, token") and talking to its REST API with the host's token.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Exit codes of `tshv vm ...` and `tshv host ...` (docs/api.md), documented in --help. */
export const ClientExit = { ok: 0, failed: 1, usage: 2, unreachable: 3, notFound: 4 } as const;
export type ClientExitCode = (typeof ClientExit)[keyof typeof ClientExit];

/** The error body of the API: `{ error, field?, state? }`. */
export interface ApiErrorBody { error: string; field?: string; state?: string }

/** A failure with the message for the user and the exit code it maps to. */
export class ClientError extends Error {
  constructor(message: string, readonly exit: ClientExitCode, readonly status?: number, readonly body?: ApiErrorBody) {
    super(message);
    this.name = 'ClientError';
  }
}

/** The global options naming a service: `--url` and `--data-dir`. */
export interface ServiceFlags { url?: string; dataDir?: string }

export interface ServiceLocation {
  url: string;
  token: string | undefined;
  /** The data directory it was found through, if any: for "start it with" hints. */
  dataDir: string | undefined;
}

type Env = Record<string, string | undefined>;

/** `$XDG_DATA_HOME/tshv`, else `~/.local/share/tshv`. */
export function defaultDataDir(env: Env = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.local', 'share'), 'tshv');
}

/**
 * Where the service is. An option given on the command line beats the environment, and a
 * URL beats a data directory at the same level: --url, --data-dir, $TSHV_URL,
 * $TSHV_DATA_DIR, the default data directory. A URL's token is $TSHV_TOKEN (never a local
 * token file: the URL may be another host); a data directory's is its `token` file.
 */
export function findService(flags: ServiceFlags, env: Env = process.env, isAlive: (pid: number) => boolean = processAlive): ServiceLocation {
  if (flags.url !== undefined && flags.dataDir !== undefined) {
    throw new ClientError('give either --url or --data-dir, not both', ClientExit.usage);
  }
  if (flags.url !== undefined) return { url: checkUrl(flags.url, '--url'), token: env.TSHV_TOKEN || undefined, dataDir: undefined };
  if (flags.dataDir !== undefined) return fromDataDir(resolve(flags.dataDir), isAlive);
  if (env.TSHV_URL) return { url: checkUrl(env.TSHV_URL, 'TSHV_URL'), token: env.TSHV_TOKEN || undefined, dataDir: undefined };
  return fromDataDir(resolve(env.TSHV_DATA_DIR || defaultDataDir(env)), isAlive);
}

function checkUrl(text: string, what: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ClientError(`${what}: "${text}" is not a URL (example: http://127.0.0.1:7070)`, ClientExit.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ClientError(`${what}: "${text}" is not an http:// or https:// URL`, ClientExit.usage);
  }
  return text.replace(/\/+$/, '');
}

/** How to start the service, for messages: with the data directory's flag unless it is the default. */
export function startHint(dataDir: string | undefined, env: Env = process.env): string {
  if (dataDir === undefined) return 'check the URL, or start the service there with: tshv serve --listen HOST:PORT';
  const flag = dataDir === resolve(env.TSHV_DATA_DIR || defaultDataDir(env)) ? '' : ` --data-dir ${dataDir}`;
  return `start it with: tshv serve${flag}`;
}

function fromDataDir(dir: string, isAlive: (pid: number) => boolean): ServiceLocation {
  const servicePath = join(dir, 'service.json');
  let text: string;
  try {
    text = readFileSync(servicePath, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? `no service is running for the data directory ${dir} (no service.json)` : `cannot read ${servicePath}: ${(e as Error).message}`;
    throw new ClientError(`${why}; ${startHint(dir)}`, ClientExit.unreachable);
  }
  let service: { url?: unknown; pid?: unknown };
  try {
    service = JSON.parse(text) as typeof service;
  } catch {
    throw new ClientError(`${servicePath} is not JSON; if no service is running, ${startHint(dir)}`, ClientExit.unreachable);
  }
  if (typeof service?.url !== 'string') throw new ClientError(`${servicePath} names no service URL; ${startHint(dir)}`, ClientExit.unreachable);
  // A killed service leaves its service.json behind: say so rather than "connection refused".
  if (typeof service.pid === 'number' && !isAlive(service.pid)) {
    throw new ClientError(`the service recorded in ${servicePath} (pid ${service.pid}) is not running; ${startHint(dir)}`, ClientExit.unreachable);
  }
  const url = checkUrl(service.url, servicePath);
  let token: string;
  try {
    token = readFileSync(join(dir, 'token'), 'utf8').trim();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'it does not exist' : err.code === 'EACCES' ? 'permission denied (it belongs to the user running the service)' : err.message;
    throw new ClientError(`cannot read the host's token ${join(dir, 'token')}: ${why}`, ClientExit.failed);
  }
  return { url, token, dataDir: dir };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/** How long one request may take before the service counts as unreachable. */
const REQUEST_TIMEOUT_MS = 120_000;

/** The REST API of one service. Every failure is a ClientError with its exit code. */
export class ApiClient {
  constructor(readonly service: ServiceLocation, private readonly timeoutMs = REQUEST_TIMEOUT_MS) {}

  get<T>(path: string): Promise<T> { return this.request<T>('GET', path); }

  /**
   * Follows the service's event stream (GET /api/events, server-sent events) and calls
   * `onEvent` with each event until the returned function is called. Best effort: a
   * stream that fails just ends (it only shows progress).
   */
  followEvents(onEvent: (e: { vmId: string; type: string; message?: string }) => void): () => void {
    const abort = new AbortController();
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.service.token) headers.authorization = `Bearer ${this.service.token}`;
    void (async () => {
      const res = await fetch(this.service.url + '/api/events', { headers, signal: abort.signal });
      if (!res.ok || !res.body) return;
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.startsWith('data:')) {
            try { onEvent(JSON.parse(line.slice(5))); } catch { /* not an event: ignore */ }
          }
        }
      }
    })().catch(() => {});
    return () => abort.abort();
  }
  post<T>(path: string, body?: unknown): Promise<T> { return this.request<T>('POST', path, body); }
  patch<T>(path: string, body: unknown): Promise<T> { return this.request<T>('PATCH', path, body); }
  delete(path: string): Promise<void> { return this.request<void>('DELETE', path); }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = this.service.url + path;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.service.token) headers.authorization = `Bearer ${this.service.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      throw this.unreachable(e);
    }
    const text = await res.text().catch((e: unknown) => { throw this.unreachable(e); });
    if (res.ok) {
      if (res.status === 204 || text === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new ClientError(`${method} ${url}: the answer is not JSON; is ${this.service.url} a tshv service?`, ClientExit.failed, res.status);
      }
    }
    throw this.refusal(res.status, text, method, url);
  }

  /** An error for a request the service answered with an error status. */
  refusal(status: number, text: string, method: string, url: string): ClientError {
    let body: ApiErrorBody | undefined;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof (parsed as ApiErrorBody).error === 'string') body = parsed as ApiErrorBody;
    } catch { /* not the API's error body: reported by status below */ }
    const message = body?.error ?? `${method} ${url}: HTTP ${status}${text ? ` ${text.slice(0, 200)}` : ''}`;
    switch (status) {
      case 401: {
        const hint = this.service.dataDir ? `the token in ${join(this.service.dataDir, 'token')} was refused` : this.service.token ? 'TSHV_TOKEN was refused' : 'set TSHV_TOKEN to the host\'s token (the token file in its data directory)';
        return new ClientError(`${message} (${hint})`, ClientExit.failed, status, body);
      }
      case 404: return new ClientError(message, ClientExit.notFound, status, body);
      // A 400 is a refusal here (`vm start` of a VM whose image is gone); the commands
      // that send what the user typed make it a usage error (see vm.ts, withFlag).
      default: return new ClientError(message, ClientExit.failed, status, body);
    }
  }

  /** An error for a request that never got an answer. */
  unreachable(e: unknown): ClientError {
    const err = e as Error & { cause?: { code?: string; errors?: { code?: string }[]; message?: string } };
    let why: string;
    if (err.name === 'TimeoutError') why = `no answer within ${this.timeoutMs / 1000} s`;
    else {
      const code = err.cause?.code ?? err.cause?.errors?.[0]?.code;
      why = code === 'ECONNREFUSED' ? 'connection refused'
        : code === 'ENOTFOUND' ? 'unknown host'
        : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' ? 'the connection was closed'
        : code ?? err.cause?.message ?? err.message;
    }
    return new ClientError(`cannot reach the tshv service at ${this.service.url} (${why}); ${startHint(this.service.dataDir)}`, ClientExit.unreachable);
  }
}

/** `/api/vms/{vm}` for a name or id. */
export function vmPath(vm: string, action?: string): string {
  return `/api/vms/${encodeURIComponent(vm)}${action ? `/${action}` : ''}`;
}
