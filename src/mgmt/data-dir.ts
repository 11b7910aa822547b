// The host's data directory (docs/api.md "Host, data directory, token"): where it is, the
// secret token, and service.json, which tells the CLI where a running service listens.
// What is in it is the owner's alone: the directory 0700, the token and the database 0600.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { MISSING_TOKEN } from './auth.js';

/** --data-dir, else $TSHV_DATA_DIR, else $XDG_DATA_HOME/tshv (~/.local/share/tshv). */
export function dataDirPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.TSHV_DATA_DIR) return resolve(env.TSHV_DATA_DIR);
  const xdg = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(resolve(xdg), 'tshv');
}

export interface ServiceInfo { url: string; pid: number }

/** What service.json says, checked against the process it names. */
export type ServiceStatus =
  | { kind: 'none' }
  | { kind: 'running'; info: ServiceInfo }
  /** A file left by a service that is gone (its pid dead, or someone else's now): safe to take over. */
  | { kind: 'stale'; info: ServiceInfo; why: string };

/** How long a service named in service.json has to answer. */
const PROBE_MS = 2000;

export class DataDir {
  readonly dbPath: string;
  readonly tokenPath: string;
  readonly servicePath: string;
  /** Saved VMs' state files (docs/state.md), one per VM: saved/<id>.tshvstate. */
  readonly savedPath: string;

  constructor(readonly path: string) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    this.dbPath = join(path, 'tshv.db');
    this.tokenPath = join(path, 'token');
    this.servicePath = join(path, 'service.json');
    this.savedPath = join(path, 'saved');
  }

  /** The host's token: 32 random bytes in hex, made on first start, readable only by its owner. */
  token(): string {
    if (!existsSync(this.tokenPath)) {
      try {
        writeFileSync(this.tokenPath, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // another process made it first
      }
    }
    if ((statSync(this.tokenPath).mode & 0o077) !== 0) chmodSync(this.tokenPath, 0o600);
    const token = readFileSync(this.tokenPath, 'utf8').trim();
    if (token.length < 16) throw new Error(`the token file ${this.tokenPath} holds no usable token (delete it to make a new one)`);
    return token;
  }

  /**
   * The directory 0700 and the database (with its -wal and -shm) 0600, whatever a directory
   * that existed before, or an older tshv, left them at; the database is made empty and
   * 0600 if it is not there, so SQLite, which gives -wal and -shm its mode, never opens
   * a readable one. Returns a line for each thing changed or left open.
   */
  secure(): string[] {
    const notes: string[] = [];
    const dir = statSync(this.path);
    if (dir.mode & 0o077) {
      // Never a directory that is not ours alone to close: a --data-dir /tmp (sticky, shared) stays as it is.
      if (dir.uid === process.getuid?.() && !(dir.mode & 0o1000)) {
        chmodSync(this.path, 0o700);
        notes.push(`closed the data directory ${this.path} to others (mode ${octal(dir.mode)} -> 0700)`);
      } else {
        notes.push(`the data directory ${this.path} is open to others (mode ${octal(dir.mode)}); the token and the database in it are not`);
      }
    }
    closeSync(openSync(this.dbPath, 'a', 0o600));
    for (const path of [this.dbPath, `${this.dbPath}-wal`, `${this.dbPath}-shm`]) {
      let mode: number;
      try {
        mode = statSync(path).mode;
      } catch {
        continue; // no -wal or -shm: SQLite makes them with the database's mode
      }
      if (mode & 0o077) {
        chmodSync(path, 0o600);
        notes.push(`closed ${path} to others (mode ${octal(mode)} -> 0600)`);
      }
    }
    return notes;
  }

  /**
   * Whether service.json names a running service. Its pid alone does not say: the service
   * may have been killed and the pid taken by another process since. So a live pid counts
   * only if its URL answers as a tshv service does (without our token: whatever listens
   * there now must not get it), or, when it does not answer (hung, not listening yet), if
   * its command line is a `tshv serve`.
   */
  async service(): Promise<ServiceStatus> {
    let info: ServiceInfo;
    try {
      info = JSON.parse(readFileSync(this.servicePath, 'utf8')) as ServiceInfo;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
      return { kind: 'stale', info: { url: '', pid: 0 }, why: `it is not readable JSON (${(e as Error).message})` };
    }
    if (typeof info !== 'object' || info === null || !Number.isInteger(info.pid) || typeof info.url !== 'string') {
      return { kind: 'stale', info, why: 'it names no pid and URL' };
    }
    if (info.pid === process.pid) return { kind: 'none' };
    try {
      process.kill(info.pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') return { kind: 'stale', info, why: `pid ${info.pid} is not running` };
    }
    if (await answersAsTshv(info.url)) return { kind: 'running', info };
    const command = commandLine(info.pid);
    if (command === undefined || isTshvServe(command)) return { kind: 'running', info };
    return { kind: 'stale', info, why: `pid ${info.pid} is now another program (${command.join(' ').slice(0, 200)}) and ${info.url} does not answer as tshv` };
  }

  /** Written atomically (rename), so a reader never sees half a file. */
  writeService(info: ServiceInfo): void {
    const tmp = `${this.servicePath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(info) + '\n', { mode: 0o644 });
    renameSync(tmp, this.servicePath);
  }

  /** Removes service.json if it is still ours. */
  removeService(): void {
    try {
      const info = JSON.parse(readFileSync(this.servicePath, 'utf8')) as ServiceInfo;
      if (info.pid === process.pid) rmSync(this.servicePath, { force: true });
    } catch { /* already gone */ }
  }
}

const octal = (mode: number) => `0${(mode & 0o7777).toString(8)}`;

/** Whether `url` answers a request without a token the way a tshv service does (auth.ts). */
async function answersAsTshv(url: string): Promise<boolean> {
  if (!/^https?:\/\//.test(url)) return false;
  try {
    const res = await fetch(`${url}/api/host`, { signal: AbortSignal.timeout(PROBE_MS), redirect: 'manual' });
    const body = await res.text();
    return res.status === 401 && (JSON.parse(body) as { error?: unknown }).error === MISSING_TOKEN;
  } catch {
    return false; // refused, timed out, not JSON
  }
}

/** A process's arguments (Linux /proc); undefined if they cannot be read. */
function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return undefined;
  }
}

/** `node .../bin/tshv.js serve ...`, `tshv serve ...` (npx, an installed bin). */
function isTshvServe(args: readonly string[]): boolean {
  const bin = args.findIndex((a) => /^tshv(\.js)?$/.test(basename(a)));
  return bin >= 0 && args.slice(bin + 1).includes('serve');
}
