/**
 * The tshv side of the migration benchmark, written against the interface `tshv vm migrate`
 * is to have (it is being built; until then the side reports itself missing):
 *
 *   tshv serve --data-dir SRC --listen 127.0.0.1:0     (and the same for DST)
 *   tshv vm create NAME --vcpus 1 --memory 256M --initrd FILE   (on SRC)
 *   tshv vm start NAME
 *   tshv vm migrate NAME --to http://127.0.0.1:DSTPORT --to-token TOKEN --json
 *     -> at the end, the migration's status (GET /api/vms/{vm}/migration):
 *        {"phase":"completed","totalMs":n,"downtimeMs":n,"setupMs":n,"bytes":n,"pass":n,...}
 *
 * The source VM's console is read over the source service's WebSocket, as `tshv vm
 * console` does; the destination's, once a VM of the same name is there and running on
 * the destination service, over that one's. Assumed and easy to change here: the VM keeps
 * its name on the destination, and is there (starting, running or paused) before its
 * guest runs, so its first ticks are seen live.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeExit, runTimed, type Machine, type ProcessRun } from '../lib/machines.js';
import { isObject } from '../lib/qmp.js';
import { webSocketConsole, type LiveConsole } from './console.js';
import { migrationRound, type Limits, type Migration, type RoundResult } from './round.js';
import { Ticks } from './ticks.js';

const VM = 'migbench';
/** The states in which a VM's console can be opened (src/mgmt/lifecycle.ts). */
const CONSOLE_STATES = ['starting', 'running', 'paused'];
/** How often the destination is asked whether the VM has arrived. */
const POLL_MS = 20;

/** A tshv without `vm migrate` (or without the flags used here): the CLI's own words. */
export interface Missing { readonly missing: string }

class CannotMigrate extends Error {}

/**
 * One migration of a fresh guest from one tshv service to another on this host; the
 * CLI's error when this tshv cannot migrate yet.
 */
export async function tshvMigrationRound(
  m: Machine & { state: 'available' },
  root: string,
  guest: { initrd: string; memory: string; workload: string },
  scratch: string,
  limits: Limits,
): Promise<RoundResult | Missing> {
  const ticks = new Ticks();
  const services: Service[] = [];
  const consoles: Promise<{ close: () => void }>[] = [];
  const arrival = new AbortController();
  try {
    const src = await Service.start(m, root, mkdtempSync(join(scratch, 'tshv-source-')), scratch);
    services.push(src);
    const dst = await Service.start(m, root, mkdtempSync(join(scratch, 'tshv-destination-')), scratch);
    services.push(dst);
    const cli = (...args: string[]) => runTimed(m, [...args, '--data-dir', src.dataDir], { cwd: root, timeoutMs: limits.stepMs });
    const failed = (run: ProcessRun, args: string[]) =>
      new Error(`tshv ${args.join(' ')}: ${describeExit(run)}: ${run.stderr.trim().slice(-400)}${services.map((s) => s.tail()).join('')}`);
    for (const args of [['vm', 'create', VM, '--vcpus', '1', '--memory', guest.memory, '--initrd', guest.initrd], ['vm', 'start', VM]]) {
      const run = await cli(...args);
      if (run.exitCode !== 0) throw failed(run, args);
    }
    const source = webSocketConsole('source', src.consoleUrl(VM), src.token, (text, at) => ticks.record(text, at));
    consoles.push(source);
    source.catch(() => {}); // awaited below; closed in finally

    return await migrationRound(ticks, (await source).console, guest.workload, limits, async () => {
      const destination = attachWhenThere(dst, ticks, arrival.signal, limits.stepMs);
      consoles.push(destination);
      destination.catch(() => {}); // it fails when the migration does: that failure is the one reported
      const args = ['vm', 'migrate', VM, '--to', dst.url, '--to-token', dst.token, '--json'];
      const run = await cli(...args);
      // The CLI's usage error for a command or flag it does not have (commander's words).
      const usage = run.stderr.trim().split('\n')[0]!;
      if (run.exitCode === 2 && /unknown (command|option)/.test(usage)) throw new CannotMigrate(usage);
      if (run.exitCode !== 0) throw failed(run, args);
      return { migration: parseMigrateJson(run.stdout), destination: (await destination).console };
    });
  } catch (e) {
    if (e instanceof CannotMigrate) return { missing: `\`tshv vm migrate\` is not there yet: ${e.message}` };
    throw e;
  } finally {
    arrival.abort();
    for (const c of consoles) await c.then((d) => d.close(), () => {});
    await Promise.all(services.map((s) => s.stop()));
  }
}

/** Opens the destination VM's console as soon as the destination service has it running. */
async function attachWhenThere(dst: Service, ticks: Ticks, signal: AbortSignal, ms: number): Promise<{ console: LiveConsole; close: () => void }> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (signal.aborted) throw new Error('the round ended first');
    const res = await fetch(`${dst.url}/api/vms/${VM}`, { headers: { authorization: `Bearer ${dst.token}` }, signal });
    const body: unknown = await res.json().catch(() => undefined);
    if (res.ok && isObject(body) && CONSOLE_STATES.includes(String(body['state']))) {
      return webSocketConsole('destination', dst.consoleUrl(VM), dst.token, (text, at) => ticks.record(text, at));
    }
    if (res.status !== 404 && !res.ok) throw new Error(`the destination service answered GET /api/vms/${VM} with HTTP ${res.status}`);
    if (Date.now() > deadline) throw new Error(`no VM ${VM} to open a console on at the destination within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** The figures of `tshv vm migrate --json`: the JSON object it ends with, checked field by field. */
export function parseMigrateJson(stdout: string): Migration {
  // The object may follow progress lines: it starts at the last line opening one that parses.
  let doc: unknown;
  for (const at of [...stdout.matchAll(/^\{/gm)].map((m) => m.index!).reverse()) {
    try {
      doc = JSON.parse(stdout.slice(at));
      break;
    } catch { /* an earlier line, then */ }
  }
  const quote = () => JSON.stringify(doc ?? stdout).slice(0, 400);
  if (!isObject(doc)) throw new Error(`tshv vm migrate --json printed no JSON object: ${quote()}`);
  if (doc['phase'] !== 'completed') throw new Error(`tshv vm migrate ended in phase ${JSON.stringify(doc['phase'])}: ${quote()}`);
  const figure = (key: string): number => {
    const v = doc[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`tshv vm migrate --json: no ${key}: ${quote()}`);
    return v;
  };
  // `pass` is the last pass's number, counted from 0.
  return { totalMs: figure('totalMs'), downtimeMs: figure('downtimeMs'), setupMs: figure('setupMs'), bytes: figure('bytes'), passes: figure('pass') + 1 };
}

/** A `tshv serve` on 127.0.0.1 (any free port) with its own data directory. */
class Service {
  private output = '';
  url = '';
  token = '';

  private constructor(readonly child: ChildProcess, readonly dataDir: string) {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => { this.output += s; });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { this.output += s; });
  }

  static async start(m: Machine & { state: 'available' }, root: string, dataDir: string, storageRoot: string): Promise<Service> {
    const child = spawn(m.command, [...m.baseArgs, 'serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--storage-root', storageRoot],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const s = new Service(child, dataDir);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(s.output)?.[1];
      if (url !== undefined) { s.url = url; break; }
      if (child.exitCode !== null || Date.now() > deadline) {
        await s.stop();
        throw new Error(`tshv serve did not start: ${s.output.slice(-400)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    s.token = readFileSync(join(dataDir, 'token'), 'utf8').trim();
    return s;
  }

  consoleUrl(vm: string): string {
    return `${this.url.replace(/^http/, 'ws')}/api/vms/${vm}/console`;
  }

  /** The end of what the service printed, for a failure's message. */
  tail(): string {
    return this.output ? `; the service with ${this.dataDir} said: ${this.output.trim().slice(-400)}` : '';
  }

  /** SIGTERM (it stops its VMs), SIGKILL if it is still there 15 s later. */
  async stop(): Promise<void> {
    const { child } = this;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise((r) => child.once('close', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await closed;
    clearTimeout(timer);
  }
}
