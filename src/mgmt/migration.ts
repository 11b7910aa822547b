// Migration between tshv hosts, the service's part (docs/migration.md). On the source,
// POST /api/vms/{vm}/migrate starts one: this host connects to the destination's API
// (GET /api/migrations/incoming upgraded to the migration stream, with its token)
// and runs the VM's migration over it (parent/migration/source.ts); its status is kept for
// GET /api/vms/{vm}/migration, and its phases go to the VM's event log. On the
// destination, that route receives the VM (parent/migration/destination.ts): the identity
// in the stream is the VM's record, checked as a create request is (Host.reserveIncoming),
// and the VM keeps its id, name and definition here.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpRequest, STATUS_CODES, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { MISSING_TOKEN, tokenMatches } from './auth.js';
import { hostRefusal } from './host-check.js';
import type { Host } from './host.js';
import { ApiError, badInput, conflict } from './errors.js';
import { definitionDisks, definitionOf, type VmRecord } from './vm-record.js';
import { migrateOut, type MigrationStatus } from '../parent/migration/source.js';
import { migrateIn } from '../parent/migration/destination.js';
import { MigrationError } from '../parent/migration/stream.js';
import type { SavedConfig } from '../parent/machine/state.js';

export interface MigrateRequest {
  /** The destination's API: http://HOST:PORT. */
  to: string;
  /** The destination's token. */
  token: string;
  quick?: boolean;
  maxDowntimeMs?: number;
  /** Bytes per second. */
  bandwidth?: number;
  /** Shared-nothing: the disks go too, into new images on the destination. */
  withDisks?: boolean;
}

/** A migration as the API shows it: the status (source.ts) and what it is of. */
export interface MigrationInfo extends MigrationStatus {
  vmId: string;
  vmName: string;
  to: string;
  quick: boolean;
  withDisks: boolean;
  startedAt: string;
  finishedAt: string | null;
}

/** What the source puts in the stream's HELO frame. */
interface Identity { vm: unknown; from: unknown }

/** Where a destination takes migrations, and the protocol its connection upgrades to. */
export const INCOMING_PATH = '/api/migrations/incoming';
export const MIGRATION_UPGRADE = 'tshv-migration/1';

/** How long a finished migration's status is kept for GET. */
const KEEP_FINISHED_MS = 60 * 60 * 1000;

export class Migrations {
  private readonly byVm = new Map<string, { info: MigrationInfo; abort: AbortController; timer?: NodeJS.Timeout }>();

  /**
   * @param self this host as others name it (its API's URL, known once it listens), for their event logs
   * @param dir where handovers under way are recorded (the data directory's migrations/), so
   *   a service that dies in one learns on its restart where the VM went (recover)
   */
  constructor(private readonly host: Host, private readonly self: () => string, private readonly dir?: string) {}

  /**
   * After a restart: each VM that was being handed over when the service died is asked
   * for at its destination. There: its record here goes. Not there: it stays here (off).
   * Nobody answers: it is marked failed, saying where it may run.
   */
  async recover(): Promise<void> {
    if (!this.dir || !existsSync(this.dir)) return;
    for (const file of readdirSync(this.dir).filter((f) => f.endsWith('.json'))) {
      const path = join(this.dir, file);
      try {
        const h = JSON.parse(readFileSync(path, 'utf8')) as Handover;
        const where = await whereIs(h.to, h.token, h.vmId);
        if (where === 'there') this.host.migratedAway(h.vmId, h.to);
        else if (where === 'unknown') this.host.markFailed(h.vmId, `it was being migrated to ${h.to} when the service stopped, and ${h.to} cannot be asked: it may run there; start it here only if it does not`);
      } catch (e) {
        this.host.note(file.slice(0, -5), 'error', `a migration record could not be read: ${(e as Error).message}`);
      } finally {
        rmSync(path, { force: true });
      }
    }
  }

  /**
   * Starts moving a running VM to `req.to`; answers with its first status once it has
   * begun (a 409 if the VM cannot migrate now, a 400 for a bad request).
   */
  async start(ref: string, req: MigrateRequest): Promise<MigrationInfo> {
    const to = destinationUrl(req.to);
    const record = this.host.get(ref);
    const running = this.byVm.get(record.id);
    if (running && !running.info.finishedAt) throw conflict(`${record.name} is migrating to ${running.info.to} already`, record.state);
    const abort = new AbortController();
    const info: MigrationInfo = {
      vmId: record.id, vmName: record.name, to, quick: req.quick === true, withDisks: req.withDisks === true, startedAt: new Date().toISOString(), finishedAt: null,
      phase: 'setup', pass: 0, remainingPages: 0, dirtyRate: 0, throughput: 0, bytes: 0, pagesSent: 0, zeroPages: 0, skippedPages: 0, deflatedBytes: 0, diskBytes: 0, diskRemaining: 0, throttle: 0, setupMs: 0, totalMs: 0,
    };
    let begun!: () => void;
    const begins = new Promise<void>((resolve) => { begun = resolve; });
    const run = this.host.migrating(record.id, async (vm, rec) => {
      const entry: { info: MigrationInfo; abort: AbortController; timer?: NodeJS.Timeout } = { info, abort };
      const previous = this.byVm.get(rec.id);
      if (previous?.timer) clearTimeout(previous.timer);
      this.byVm.set(rec.id, entry);
      begun();
      this.host.note(rec.id, 'migration', `${info.quick ? 'quick' : 'live'} migration to ${to}${info.withDisks ? ', with its disks,' : ''} started`);
      let lastPass = -1, lastPhase = info.phase;
      const update = (s: MigrationStatus) => {
        Object.assign(info, s);
        if (s.phase === 'active' && s.pass !== lastPass) {
          lastPass = s.pass;
          if (s.pass > 0) this.host.note(rec.id, 'progress', `migration pass ${s.pass}: ${s.remainingPages} pages written since the last, ${mib(s.throughput)} MiB/s${s.throttle ? `, guest throttled to ${100 - s.throttle}%` : ''}`);
        }
        if (s.phase !== lastPhase && s.phase === 'stop-copy') this.host.note(rec.id, 'migration', `stop-and-copy: ${s.remainingPages} pages left to send`);
        lastPhase = s.phase;
      };
      let status: MigrationStatus;
      try {
        const conn = await connect(to, req.token, abort.signal);
        status = await migrateOut(vm, conn, {
          identity: { vm: identityOf(rec), from: this.self() } satisfies Identity, to, quick: req.quick, maxDowntimeMs: req.maxDowntimeMs,
          bandwidth: req.bandwidth, withDisks: req.withDisks, signal: abort.signal, onProgress: update,
          beforeHandover: async () => this.recordHandover({ vmId: rec.id, to, token: req.token }),
          decide: () => whereIs(to, req.token, rec.id),
        });
      } catch (e) {
        status = { ...info, phase: abort.signal.aborted ? 'cancelled' : 'failed', error: (e as Error).message };
      } finally {
        if (this.dir) rmSync(join(this.dir, `${rec.id}.json`), { force: true });
      }
      update(status);
      info.finishedAt = new Date().toISOString();
      entry.timer = setTimeout(() => { if (this.byVm.get(rec.id) === entry) this.byVm.delete(rec.id); }, KEEP_FINISHED_MS);
      entry.timer.unref();
      const summary = `${mib(status.bytes)} MiB in ${status.pass + 1} pass(es), ${Math.round(status.totalMs)} ms`;
      if (status.phase === 'completed') {
        const disks = info.withDisks ? `; its disks went too (${mib(status.diskBytes)} MiB), and the images here stay: ${definitionDisks(rec).map((d) => d.path).join(', ')}` : '';
        this.host.note(rec.id, 'migration', `migrated to ${to}: downtime ${status.downtimeMs?.toFixed(1)} ms, ${summary}${disks}`);
      }
      else this.host.note(rec.id, status.phase === 'cancelled' ? 'migration' : 'error', `migration to ${to} ${status.phase}: ${status.error}; the VM runs here as before`);
    });
    await Promise.race([begins, run]);
    run.catch(() => undefined); // its errors after the start are in the status
    return { ...info };
  }

  /** The migration of a VM under way, or its last one (kept an hour); by VM id or name. */
  status(ref: string): MigrationInfo {
    const found = this.find(ref);
    if (!found) throw new ApiError(404, `no migration of ${ref} is known here`);
    return { ...found.info };
  }

  /** Cancels a migration under way: the VM runs on here as before. */
  cancel(ref: string): MigrationInfo {
    const found = this.find(ref);
    if (!found) throw new ApiError(404, `no migration of ${ref} is known here`);
    if (found.info.finishedAt) throw conflict(`the migration of ${found.info.vmName} is ${found.info.phase} already`, 'running');
    found.abort.abort();
    return { ...found.info };
  }

  /** Receives a VM on a connection the source opened (the incoming route). */
  async incoming(conn: Duplex): Promise<void> {
    let reserved: VmRecord | undefined, from = 'another host';
    try {
      const arrived = await migrateIn(conn, {
        accept: async (identity, config, disks) => {
          const id = (typeof identity === 'object' && identity !== null ? identity : {}) as Partial<Identity>;
          if (typeof id.from === 'string' && id.from.length <= 200) from = id.from;
          const { record, restore } = await this.host.reserveIncoming(id.vm, disks);
          reserved = record;
          checkMachine(record, config);
          return restore;
        },
        created: (vm) => this.host.arriving(reserved!, vm, `migrating here from ${from}`),
      });
      this.host.arrived(reserved!.id);
      const downtime = arrived.startedAt - arrived.pausedAt;
      this.host.note(reserved!.id, 'migration',
        `migrated here from ${from}: it stopped there at ${iso(arrived.pausedAt)} and ran here at ${iso(arrived.startedAt)} (${downtime.toFixed(1)} ms later)`);
    } catch (e) {
      // The source has the reason (the stream's error reply) and keeps the VM.
      if (reserved) this.host.releaseIncoming(reserved.id, (e as Error).message);
    }
  }

  /** Durably notes a handover under way (0600: it holds the destination's token). */
  private recordHandover(h: Handover): void {
    if (!this.dir) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, `${h.vmId}.json`);
    const fd = openSync(path, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(h));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  private find(ref: string): { info: MigrationInfo; abort: AbortController } | undefined {
    const byId = this.byVm.get(ref.toLowerCase());
    if (byId) return byId;
    let latest: { info: MigrationInfo; abort: AbortController } | undefined;
    for (const m of this.byVm.values()) if (m.info.vmName === ref && (!latest || m.info.startedAt > latest.info.startedAt)) latest = m;
    return latest;
  }
}

/** A handover under way, as recorded on the source (recover). */
interface Handover { vmId: string; to: string; token: string }

/**
 * Asks the destination whether it has the VM: 'there' (it has it, and not still arriving:
 * it has run it), 'here' (it has not: an arrival that failed is removed there), or
 * 'unknown' (no answer, or still arriving, within WHERE_TRIES tries).
 */
async function whereIs(to: string, token: string, vmId: string): Promise<'there' | 'here' | 'unknown'> {
  for (let attempt = 0; attempt < WHERE_TRIES; attempt++) {
    try {
      const res = await fetch(`${to}/api/vms/${vmId}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) });
      if (res.status === 404) return 'here';
      if (res.status === 200 && ((await res.json()) as { state?: string }).state !== 'starting') return 'there';
    } catch { /* not reachable yet: try again */ }
    await new Promise((r) => setTimeout(r, 500));
  }
  return 'unknown';
}
const WHERE_TRIES = 20;

/** The machine in the stream must be the one the record defines. */
function checkMachine(record: VmRecord, config: SavedConfig): void {
  const disks = definitionDisks(record).length;
  if (config.cpus !== record.vcpus || config.memoryBytes !== record.memoryMiB * 2 ** 20 || config.disks.length !== disks) {
    throw new MigrationError(`the machine (${config.cpus} VPs, ${config.memoryBytes} bytes, ${config.disks.length} disks) is not the one ${record.name} defines`);
  }
}

/** What the destination needs of the VM's record: its definition, id and creation time. */
function identityOf(r: VmRecord): Record<string, unknown> {
  return { ...definitionOf(r), id: r.id, createdAt: r.createdAt, startedAt: r.startedAt };
}

/** The destination as an http(s) URL with no path: "HOST:PORT" is taken as http. */
export function destinationUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw badInput('to', `to: ${JSON.stringify(text)} is not a URL (expected http://HOST:PORT)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badInput('to', `to: ${text}: only http and https destinations are known`);
  if (url.pathname !== '/' || url.search || url.hash || url.username) throw badInput('to', `to: ${text}: give the destination's address only (http://HOST:PORT)`);
  return url.origin;
}

/**
 * Opens the migration connection: an HTTP upgrade of INCOMING_PATH on the destination's
 * API to MIGRATION_UPGRADE, with its token; the stream then runs on the bare connection.
 * An HTTP answer instead says why not (its JSON error).
 */
function connect(to: string, token: string, signal: AbortSignal): Promise<Duplex> {
  const url = new URL(INCOMING_PATH, to);
  const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
    method: 'GET', signal,
    headers: { connection: 'Upgrade', upgrade: MIGRATION_UPGRADE, authorization: `Bearer ${token}` },
  });
  return new Promise((resolve, reject) => {
    request.once('upgrade', (_res, socket, head) => {
      socket.setNoDelay(true);
      if (head.length) socket.unshift(head);
      resolve(socket);
    });
    request.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { if (body.length < 4096) body += c; });
      res.on('end', () => {
        let why = body;
        try { why = (JSON.parse(body) as { error?: string }).error ?? body; } catch { /* not JSON: as it came */ }
        reject(new MigrationError(`${to} refused the migration: ${res.statusCode} ${why}`.trim()));
      });
    });
    request.once('error', (e) => reject(new MigrationError(signal.aborted ? 'cancelled' : `cannot reach ${to}: ${e.message}`)));
    request.end();
  });
}

/**
 * Takes migration connections (an upgrade to MIGRATION_UPGRADE) off the server before the
 * WebSocket plugin sees upgrades, so the stream runs on the bare TCP connection: a
 * WebSocket masks and frames every byte (70 against 265 MB/s on this machine). Such a
 * request is checked as every request is, its Host and then its token, whatever its path;
 * only INCOMING_PATH takes it. Other upgrades go on to the plugin.
 */
export function registerMigrationUpgrade(app: FastifyInstance, migrations: Migrations, token: string, hosts: () => ReadonlySet<string>): void {
  app.addHook('onReady', async () => {
    const server = app.server;
    const others = server.listeners('upgrade') as ((req: IncomingMessage, socket: Socket, head: Buffer) => void)[];
    server.removeAllListeners('upgrade');
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if ((req.headers.upgrade ?? '').toLowerCase() !== MIGRATION_UPGRADE) {
        for (const listener of others) listener.call(server, req, socket, head);
        return;
      }
      socket.on('error', () => socket.destroy());
      const given = /^Bearer +(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      const refusal = hostRefusal(req.headers.host, hosts());
      if (refusal) return refuse(socket, 403, refusal);
      if (given === undefined) return refuse(socket, 401, MISSING_TOKEN);
      if (!tokenMatches(given, token)) return refuse(socket, 401, 'wrong token');
      if (req.method !== 'GET' || req.url !== INCOMING_PATH) return refuse(socket, 404, `no such endpoint: ${req.method} ${req.url?.split('?')[0]}`);
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${MIGRATION_UPGRADE}\r\n\r\n`);
      socket.setNoDelay(true);
      if (head.length) socket.unshift(head);
      void migrations.incoming(socket);
    });
  });
}

function refuse(socket: Socket, status: number, error: string): void {
  const body = JSON.stringify({ error });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const iso = (ms: number) => new Date(ms).toISOString();
