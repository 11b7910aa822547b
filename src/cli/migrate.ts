// `tshv vm migrate`: moves a running VM to another tshv host (docs/migration.md). The
// service this CLI talks to is the source; it connects to the destination itself, with the
// destination's token, which the CLI finds (--to-token, or the destination's data
// directory) and hands over. The CLI then follows the migration until it ends.
import type { Command } from 'commander';
import { apiAction, apiCommand, printJson, usageError, type ClientFlags } from './api-command.js';
import { ClientError, ClientExit, findService, vmPath } from './client.js';
import { parseSize } from './units.js';
import { legalStates } from '../mgmt/lifecycle.js';

interface MigrateFlags extends ClientFlags {
  to?: string; toToken?: string; toDataDir?: string; quick?: boolean; withDisks?: boolean; maxDowntime?: string; bandwidth?: string; cancel?: boolean;
}

/** The API's migration status (schemas.ts MigrationSchema). */
export interface ApiMigration {
  vmId: string; vmName: string; to: string; quick: boolean; withDisks: boolean; startedAt: string; finishedAt: string | null;
  phase: 'setup' | 'active' | 'stop-copy' | 'completed' | 'failed' | 'cancelled';
  pass: number; remainingPages: number; dirtyRate: number; throughput: number; bytes: number; pagesSent: number; zeroPages: number;
  skippedPages: number; deflatedBytes: number; diskBytes: number; diskRemaining: number;
  throttle: number; setupMs: number; totalMs: number; downtimeMs?: number; error?: string;
}

const POLL_MS = 200;

export function addMigrateCommand(vm: Command): void {
  apiAction<MigrateFlags>(apiCommand(vm, 'migrate', `move a running VM to another tshv host, live or quick; the VM must be ${legalStates('migrate')}`, `
  tshv vm migrate web-1 --to http://10.0.0.2:7070 --to-token 3f9c...
  tshv vm migrate web-1 --to-data-dir /srv/tshv-b        # a second service on this machine
  tshv vm migrate web-1 --to http://10.0.0.2:7070 --to-token 3f9c... --quick
  tshv vm migrate web-1 --to http://10.0.0.2:7070 --to-token 3f9c... --with-disks
  tshv vm migrate web-1 --to ... --max-downtime 20 --bandwidth 100M
  tshv vm migrate web-1 --cancel`, `
Live (the default): the VM runs while its memory is copied, pass after pass, then stops
for the last pages and its devices (--max-downtime, default 50 ms) and runs on at the
destination. Quick: the VM is frozen, sent whole, and resumed there. Either way the VM
keeps its name, id and definition, and its record here is removed. Its disk images must
be where the destination can open them (inside its storage roots), unless --with-disks
copies them (shared-nothing): while the VM runs, into new images in the destination's
first storage root, the guest's writes during the copy sent again; the images here stay.
A migration that fails or is cancelled leaves the VM running here as it was.`)
    .argument('<vm>', 'name or id')
    .option('--to <url>', "the destination service's URL, e.g. http://10.0.0.2:7070")
    .option('--to-token <token>', "the destination's token (its data directory's token file)")
    .option('--to-data-dir <dir>', 'a destination service on this machine, found through its data directory (URL and token)')
    .option('--quick', 'quick migration: freeze, send everything, resume there')
    .option('--with-disks', "shared-nothing: copy the disks too, into new images on the destination (the images here stay)")
    .option('--max-downtime <ms>', 'the pause a live migration aims for, in ms (default 50)')
    .option('--bandwidth <rate>', 'bytes per second the migration may use, e.g. 100M (default: as fast as the link goes)')
    .option('--cancel', 'cancel the migration of <vm> under way'), async (ctx) => {
    const { flags } = ctx;
    const target = ctx.args[0]!;
    if (flags.cancel) {
      const info = await ctx.api.request<ApiMigration>('DELETE', vmPath(target, 'migration'));
      if (flags.json) printJson(info);
      else process.stdout.write(`cancelling the migration of ${info.vmName} to ${info.to}\n`);
      return;
    }
    const body = migrateBody(flags);
    const started = await ctx.api.request<ApiMigration>('POST', vmPath(target, 'migrate'), body);
    const progress = !flags.json && process.stderr.isTTY ? new ProgressLine() : undefined;
    let info = started;
    let lastLine = '';
    while (!info.finishedAt) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      info = await ctx.api.request<ApiMigration>('GET', vmPath(started.vmId, 'migration'));
      const line = describe(info);
      if (progress) progress.draw(line, fraction(info));
      else if (!flags.json && line !== lastLine && (info.phase === 'setup' || info.phase === 'stop-copy')) process.stderr.write(line + '\n');
      lastLine = line;
    }
    progress?.clear();
    if (flags.json) printJson(info);
    else if (info.phase === 'completed') {
      process.stdout.write(`migrated ${info.vmName} to ${info.to}: downtime ${info.downtimeMs?.toFixed(1)} ms, ` +
        `${(info.totalMs / 1000).toFixed(2)} s in all, ${mib(info.bytes)} MiB in ${info.pass + 1} pass(es)` +
        `${info.withDisks ? `, ${mib(info.diskBytes)} MiB of it disks (the images here stay)` : ''}\n`);
    }
    if (info.phase !== 'completed') {
      const msg = `the migration of ${info.vmName} ${info.phase}: ${info.error ?? 'no reason given'}; ${info.vmName} runs here as before`;
      if (flags.json) process.exitCode = ClientExit.failed;
      else throw new ClientError(msg, ClientExit.failed);
    }
  });
}

/** The API's body from the flags; the destination's token from --to-token or its data directory. */
export function migrateBody(flags: Omit<MigrateFlags, keyof ClientFlags>): { to: string; token: string; quick?: boolean; withDisks?: boolean; maxDowntimeMs?: number; bandwidth?: number } {
  let to = flags.to, token = flags.toToken;
  if (flags.toDataDir !== undefined) {
    const there = findService({ dataDir: flags.toDataDir });
    to ??= there.url;
    token ??= there.token;
  }
  if (to === undefined) throw usageError('say where to: --to URL (with --to-token), or --to-data-dir DIR for a service on this machine');
  if (token === undefined) throw usageError(`the destination's token is needed: --to-token TOKEN (the token file in its data directory), or --to-data-dir DIR`);
  const body: ReturnType<typeof migrateBody> = { to, token };
  if (flags.quick) body.quick = true;
  if (flags.withDisks) body.withDisks = true;
  if (flags.maxDowntime !== undefined) {
    const ms = Number(flags.maxDowntime);
    if (!Number.isInteger(ms) || ms < 1 || ms > 60_000) throw usageError(`--max-downtime must be a whole number of ms from 1 to 60000, got "${flags.maxDowntime}"`);
    body.maxDowntimeMs = ms;
  }
  if (flags.bandwidth !== undefined) {
    let rate: number;
    try {
      rate = parseSize(flags.bandwidth, '--bandwidth');
    } catch (e) {
      throw usageError((e as Error).message);
    }
    if (rate < 2 ** 20 || rate > 2 ** 40) throw usageError(`--bandwidth ${flags.bandwidth}: from 1M to 1T (bytes per second)`);
    body.bandwidth = rate;
  }
  return body;
}

function describe(m: ApiMigration): string {
  switch (m.phase) {
    case 'setup': return `${m.vmName}: connecting to ${m.to}`;
    case 'active': return `pass ${m.pass}  ${m.remainingPages} pages to send${m.diskRemaining ? `  disks: ${mib(m.diskRemaining)} MiB to copy` : ''}  ${mib(m.throughput)} MiB/s  ${mib(m.bytes)} MiB sent` +
      (m.throttle ? `  guest held to ${100 - m.throttle}%` : '');
    case 'stop-copy': return `${m.vmName}: stopped for the last ${m.remainingPages} pages and its devices`;
    default: return `${m.vmName}: ${m.phase}`;
  }
}

/** How far along: the first pass by bytes of the guest's memory, later ones as their dirty set shrinks. */
function fraction(m: ApiMigration): number {
  if (m.phase === 'stop-copy') return 0.99;
  if (m.phase !== 'active') return 0;
  if (m.pass > 0) return 0.9;
  // The first pass: disks (if they go) and memory, by bytes.
  const done = m.diskBytes + m.pagesSent * 4096, left = m.diskRemaining + m.remainingPages * 4096;
  return Math.min(0.9, done / Math.max(done + left, 1));
}

/** One line on stderr, redrawn in place: a bar and what is happening. */
class ProgressLine {
  draw(text: string, done: number): void {
    const width = 24, filled = Math.round(done * width);
    process.stderr.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
  }
  clear(): void { process.stderr.write('\r\x1b[2K'); }
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
