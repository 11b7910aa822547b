// The host's data directory (docs/api.md "Host, data directory, token"): where it is, the
// secret token, and service.json, which tells the CLI where a running service listens.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** --data-dir, else $TSHV_DATA_DIR, else $XDG_DATA_HOME/tshv (~/.local/share/tshv). */
export function dataDirPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.TSHV_DATA_DIR) return resolve(env.TSHV_DATA_DIR);
  const xdg = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(resolve(xdg), 'tshv');
}

export interface ServiceInfo { url: string; pid: number }

export class DataDir {
  readonly dbPath: string;
  readonly tokenPath: string;
  readonly servicePath: string;

  constructor(readonly path: string) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    this.dbPath = join(path, 'tshv.db');
    this.tokenPath = join(path, 'token');
    this.servicePath = join(path, 'service.json');
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

  /** The service recorded in service.json if its process is still alive. */
  runningService(): ServiceInfo | undefined {
    let info: ServiceInfo;
    try {
      info = JSON.parse(readFileSync(this.servicePath, 'utf8')) as ServiceInfo;
    } catch {
      return undefined;
    }
    if (!Number.isInteger(info.pid) || info.pid === process.pid) return undefined;
    try {
      process.kill(info.pid, 0);
      return info;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM' ? info : undefined; // ESRCH: it died without cleaning up
    }
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
