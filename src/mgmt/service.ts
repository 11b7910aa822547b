// `tshv serve`: this process becomes one host. It reads like the boot script: find the data
// directory, open the store, settle VMs the last process left behind, listen, announce the
// URL, start autoStart VMs; on SIGINT/SIGTERM stop the VMs and leave cleanly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataDir, dataDirPath } from './data-dir.js';
import { Store } from './store.js';
import { Host } from './host.js';
import { StorageRoots } from './storage.js';
import { Migrations } from './migration.js';
import { buildApp } from './api.js';
import { parseHost } from './host-check.js';
import { PACKAGE_ROOT } from '../parent/guest-config.js';

export interface ServeFlags {
  listen: string;
  dataDir?: string;
  /** Directories VM definitions may take images from (--storage-root); default: the data directory's images/ and guest/images/. */
  storageRoot?: string[];
  /** More host names (NAME or NAME:PORT) the service answers to, besides its listen host and the loopback names. */
  allowHost?: string[];
}

/** Bad flags (exit 2). */
export class ServeUsageError extends Error {}
/** The service cannot start here (exit 1). */
export class ServeError extends Error {}

/** HOST:PORT, [IPv6]:PORT; port 0 = any free port. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ServeUsageError(`--listen ${text}: expected HOST:PORT, e.g. 127.0.0.1:7070 (port 0 = any free port)`);
  return { host: m[1] ?? m[2], port };
}

/** --allow-host NAME[:PORT]: a DNS name, IPv4 address or [IPv6] address. */
export function parseAllowHost(text: string): string {
  if (!parseHost(text)) throw new ServeUsageError(`--allow-host ${text}: expected a host name, e.g. tshv.example or tshv.example:8080 ([IPv6] in brackets)`);
  return text.toLowerCase();
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

/** Runs the service until a signal; returns the exit code. */
export async function serve(flags: ServeFlags): Promise<number> {
  const listen = parseListen(flags.listen);
  const allowHost = (flags.allowHost ?? []).map(parseAllowHost);
  const dir = new DataDir(dataDirPath(flags.dataDir));
  const other = await dir.service();
  if (other.kind === 'running') throw new ServeError(`another tshv serve (pid ${other.info.pid}, ${other.info.url}) is using the data directory ${dir.path}`);
  if (other.kind === 'stale') log(`taking over ${dir.servicePath}, left by a service that is gone: ${other.why}`);
  for (const note of dir.secure()) log(note);
  let storage: StorageRoots;
  try {
    storage = StorageRoots.open({ given: flags.storageRoot ?? [], dataDir: dir.path, packageImages: PACKAGE_ROOT + 'guest/images' });
  } catch (e) {
    throw new ServeUsageError((e as Error).message);
  }
  const token = dir.token();
  const store = new Store(dir.dbPath);
  const host = new Host(store, log, storage, dir.savedPath);
  host.settleAfterRestart();
  const version = (JSON.parse(readFileSync(PACKAGE_ROOT + 'package.json', 'utf8')) as { version: string }).version;
  let url = '';
  const migrations = new Migrations(host, () => url, join(dir.path, 'migrations'));
  const app = await buildApp({ host, store, token, version, log, hostNames: [listen.host, ...allowHost], migrations });
  try {
    await app.listen({ host: listen.host, port: listen.port });
  } catch (e) {
    store.close();
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'EADDRINUSE' ? 'the address is in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message;
    throw new ServeError(`cannot listen on ${flags.listen}: ${why}`);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : listen.port;
  url = `http://${urlHost(listen.host)}:${port}`;
  dir.writeService({ url, pid: process.pid });
  process.stdout.write(`tshv serve: listening on ${url}\n` +
    `  web console: ${url}/#token=${token}\n` +
    `  token file:  ${dir.tokenPath}\n` +
    `  data:        ${dir.path}\n` +
    `  images in:   ${storage.roots.join(', ')} (--storage-root)\n`);

  let stopping = false;
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) { log(`${signal} again: leaving without waiting for the VMs`); dir.removeService(); process.exit(1); }
      stopping = true;
      log(`${signal}: stopping the VMs`);
      void (async () => {
        await host.shutdown();
        await app.close();
        store.close();
        dir.removeService();
        log('stopped');
        resolve(0);
      })();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await migrations.recover();
  await host.autoStart();
  return stopped;
}
