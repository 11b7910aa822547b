/**
 * The QEMU side of the migration benchmark: two `qemu-system-riscv64 -M virt` processes on
 * this host, the destination started with `-incoming tcp:127.0.0.1:PORT`, each with its
 * serial console on stdio and QMP on a unix socket. The source is told to `migrate` there
 * (QEMU's default parameters: 128 MiB/s, 300 ms downtime limit, precopy), and
 * `query-migrate` is polled until it ends; its figures are QEMU's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { APPEND } from '../lib/guest.js';
import type { Machine } from '../lib/machines.js';
import { isObject, Qmp } from '../lib/qmp.js';
import { processConsole, type LiveConsole } from './console.js';
import { migrationRound, type Limits, type Migration, type RoundResult } from './round.js';
import { Ticks } from './ticks.js';

/** How often query-migrate is asked while a migration runs. */
const POLL_MS = 20;

export interface QemuRoundResult extends RoundResult {
  /** The highest dirty rate QEMU measured during the migration (ram.dirty-pages-rate), MiB/s. */
  readonly dirtyMiBps: number;
}

/** One migration of a fresh guest from one QEMU to another. */
export async function qemuRound(
  m: Machine & { state: 'available' },
  guest: { image: string; initrd: string; memory: string; workload: string },
  scratch: string,
  limits: Limits,
): Promise<QemuRoundResult> {
  const port = await freePort();
  const ticks = new Ticks();
  const base = ['-M', 'virt', '-smp', '1', '-m', guest.memory, '-display', 'none', '-serial', 'stdio',
    '-kernel', guest.image, '-initrd', guest.initrd, '-append', APPEND];
  const qmpArgs = (sock: string) => ['-qmp', `unix:${sock},server=on,wait=off`];
  const sockets = { source: join(scratch, 'source.qmp'), destination: join(scratch, 'destination.qmp') };
  const destination = start(m, 'destination', [...base, ...qmpArgs(sockets.destination), '-incoming', `tcp:127.0.0.1:${port}`], ticks);
  const source = start(m, 'source', [...base, ...qmpArgs(sockets.source)], ticks);
  const sessions: Qmp[] = [];
  try {
    const dstQmp = await Qmp.connect(sockets.destination);
    sessions.push(dstQmp);
    const srcQmp = await Qmp.connect(sockets.source);
    sessions.push(srcQmp);
    const status = await dstQmp.execute('query-status');
    if (!isObject(status) || status['status'] !== 'inmigrate') throw new Error(`the destination is not waiting for a migration: query-status says ${JSON.stringify(status)}`);
    let dirtyMiBps = 0;
    const result = await migrationRound(ticks, source.console, guest.workload, limits, async () => {
      await srcQmp.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
      const deadline = Date.now() + limits.stepMs;
      for (;;) {
        const s = parseQueryMigrate(await srcQmp.execute('query-migrate'));
        if (s.state === 'completed') return { migration: s.migration, destination: destination.console };
        if (s.state === 'failed') throw new Error(`QEMU's migration ${s.why}`);
        dirtyMiBps = Math.max(dirtyMiBps, s.dirtyMiBps ?? 0);
        if (Date.now() > deadline) throw new Error(`the migration did not complete in ${limits.stepMs / 1000} s (status ${s.status})`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }).catch((e: Error) => { throw new Error(`${e.message}${stderrOf(source, destination)}`); });
    return { ...result, dirtyMiBps };
  } finally {
    for (const q of sessions) q.close();
    await Promise.all([stop(source.child), stop(destination.child)]);
  }
}

interface Running { name: string; child: ChildProcess; console: LiveConsole; stderr: string[] }

function start(m: Machine & { state: 'available' }, name: string, args: string[], ticks: Ticks): Running {
  const child = spawn(m.command, [...m.baseArgs, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => stderr.push(s));
  return { name, child, console: processConsole(name, child, (text, at) => ticks.record(text, at)), stderr };
}

/** What the machines said on stderr, for a failure's message. */
function stderrOf(...machines: Running[]): string {
  return machines.map((r) => (r.stderr.length ? `; ${r.name} stderr: ${r.stderr.join('').trim().slice(-400)}` : '')).join('');
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((r) => child.once('close', r));
  child.kill('SIGKILL');
  await closed;
}

/** A TCP port on 127.0.0.1 that nothing listens on now (QEMU's -incoming wants one up front). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => (isObject(address) && typeof address['port'] === 'number' ? resolve(address['port']) : reject(new Error('no port'))));
    });
  });
}

export type MigrateStatus =
  /** setup, active, device...: still going; the dirty rate QEMU measured so far, if any. */
  | { state: 'running'; status: string; dirtyMiBps?: number }
  | { state: 'completed'; migration: Migration }
  | { state: 'failed'; why: string };

/**
 * Reads a `query-migrate` reply (QEMU's MigrationInfo), believing nothing unchecked: a
 * completed migration must carry its times and RAM figures as non-negative numbers.
 */
export function parseQueryMigrate(reply: unknown): MigrateStatus {
  const quote = () => JSON.stringify(reply).slice(0, 400);
  if (!isObject(reply) || typeof reply['status'] !== 'string') throw new Error(`query-migrate: no status in ${quote()}`);
  const status = reply['status'];
  const ram = isObject(reply['ram']) ? reply['ram'] : undefined;
  if (status === 'failed' || status === 'cancelled') {
    return { state: 'failed', why: `${status}${typeof reply['error-desc'] === 'string' ? `: ${reply['error-desc']}` : ''}` };
  }
  if (status !== 'completed') {
    const rate = ram?.['dirty-pages-rate'], page = ram?.['page-size'];
    return typeof rate === 'number' && typeof page === 'number' ? { state: 'running', status, dirtyMiBps: (rate * page) / 2 ** 20 } : { state: 'running', status };
  }
  const figure = (from: Record<string, unknown> | undefined, key: string): number => {
    const v = from?.[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`query-migrate: a completed migration without ${key}: ${quote()}`);
    return v;
  };
  return {
    state: 'completed',
    migration: {
      totalMs: figure(reply, 'total-time'),
      downtimeMs: figure(reply, 'downtime'),
      setupMs: figure(reply, 'setup-time'),
      bytes: figure(ram, 'transferred'),
      passes: figure(ram, 'dirty-sync-count'),
    },
  };
}
