// The source's side of a migration (docs/migration.md): pre-copy, then stop-and-copy.
//
//   setup      HELO and CONF go out; the destination makes the VM's memory and says ready.
//   pass 0     every page ever written (the written-page log), the zero ones left out.
//   pass n     the pages written during pass n-1 (one harvest of the log per pass), until
//              what is left would cross the link within the downtime budget, judged
//              against the throughput the passes measured. A guest that writes faster than
//              the link copies is throttled (auto-converge), more with each pass that gains
//              nothing, and after MAX_PASSES the copy stops anyway.
//   stop-copy  the VM is frozen (paused, its requests in flight finished), its disks
//              released; the last written pages, the machine state and END go out.
//   handover   the destination restores and runs the VM and says when its first instruction
//              ran; this side's copy stops. Downtime is from the last instruction here to
//              that one there.
//
// Until the handover, any failure or a cancel leaves the VM running here as it was: the
// disks are taken back, the VM thawed, the written-page log put back.
import type { Duplex } from 'node:stream';
import type { Vm } from '../vm.js';
import { MAX_RUN_PAGES, PAGE_BYTES, END_BYTES } from '../state/format.js';
import { markedRuns, countMarked } from '../state/page-scan.js';
import { deflateRawSync } from 'node:zlib';
import { SentPages } from './sent-pages.js';
import type { MirroredDisk } from '../disk-mirror.js';
import { allChunks, dirtyRuns } from '../drivers/disk/dirty-chunks.js';
import { FrameWriter, MAX_DISK_RUN_BYTES, MTAG, MigrationError, PASS_BYTES, STAT_HEAD_BYTES, SYNC_BYTES, type Reply } from './stream.js';

export interface OutgoingOptions {
  /** What the destination's host needs to take the VM over (opaque here: the service's record). */
  identity: unknown;
  /** The destination, for messages and the VM's stop reason. */
  to: string;
  /** Quick migration: no pre-copy; the VM is frozen, sent whole, and resumed there. */
  quick?: boolean;
  /** The downtime the last pass may take, ms (default 50). */
  maxDowntimeMs?: number;
  /** Bytes per second the stream may use (default: as fast as the link goes). */
  bandwidth?: number;
  /**
   * Shared-nothing: the disks go too, copied while the guest runs (its writes logged and
   * sent again each pass), into images the destination makes.
   */
  withDisks?: boolean;
  /** Throttle a guest that writes faster than the link copies (default true). */
  autoConverge?: boolean;
  signal?: AbortSignal;
  onProgress?(status: MigrationStatus): void;
  /**
   * Called once the VM is frozen and everything but END is sent: the last moment before
   * the destination may run it. The service records there that the VM is in handover (so
   * a source that dies from here on learns on its restart where the VM is).
   */
  beforeHandover?(): Promise<void>;
  /**
   * After END, when the destination's answer does not come: does the VM run 'there', not
   * ('here': it resumes here), or can nobody tell ('unknown': it is stopped here)?
   * Default 'here' (nothing to ask).
   */
  decide?(): Promise<'there' | 'here' | 'unknown'>;
}

export type MigrationPhase = 'setup' | 'active' | 'stop-copy' | 'completed' | 'failed' | 'cancelled';

/** Where a migration is, like QEMU's query-migrate. Times in ms, sizes in bytes. */
export interface MigrationStatus {
  phase: MigrationPhase;
  /** The pre-copy pass under way (0 = the first, full one). */
  pass: number;
  /** Pages the pass under way has still to send (between passes: those written since they were last sent). */
  remainingPages: number;
  /** Pages the guest wrote per second during the last pass. */
  dirtyRate: number;
  /** Bytes per second the stream moved during the last pass. */
  throughput: number;
  bytes: number;
  pagesSent: number;
  zeroPages: number;
  /** Pages written again with the bytes last sent, left out (a slow link). */
  skippedPages: number;
  /** Bytes deflating runs saved (a slow link). */
  deflatedBytes: number;
  /** Disk bytes sent (a shared-nothing migration). */
  diskBytes: number;
  /** Disk bytes the disk pass under way has still to copy (between passes: those written since). */
  diskRemaining: number;
  /** Auto-converge's throttle, percent of the guest's time. */
  throttle: number;
  setupMs: number;
  totalMs: number;
  /** From the last instruction here to the first on the destination (when completed). */
  downtimeMs?: number;
  error?: string;
}

/** After MAX_PASSES pre-copy passes the copy stops, converged or not. */
const MAX_PASSES = 30;
/** What the stop-copy costs besides its pages (state, disks, restore there), ms: a first guess, refined by nothing yet. */
const FIXED_DOWNTIME_MS = 15;
/** A pass that leaves more than this share of the previous one's pages has gained nothing. */
const NO_PROGRESS = 0.9;
const THROTTLE_START = 20, THROTTLE_STEP = 10, THROTTLE_MAX = 99;
/** A link at or below this many bytes per second is slow: pages are compared and deflated before they go. */
const SLOW_LINK = 32 << 20;

/** Moves `vm` to the destination at the other end of `conn`. Resolves with the final status (completed, failed or cancelled). */
export async function migrateOut(vm: Vm, conn: Duplex, options: OutgoingOptions): Promise<MigrationStatus> {
  const t0 = performance.now();
  const out = new FrameWriter(conn);
  const replies = new ReplyReader(conn);
  const status: MigrationStatus = {
    phase: 'setup', pass: 0, remainingPages: 0, dirtyRate: 0, throughput: 0, bytes: 0, pagesSent: 0, zeroPages: 0, skippedPages: 0, deflatedBytes: 0,
    diskBytes: 0, diskRemaining: 0, throttle: 0, setupMs: 0, totalMs: 0,
  };
  const report = () => { status.bytes = out.bytes; status.totalMs = performance.now() - t0; options.onProgress?.({ ...status }); };
  const pacer = new Pacer(options.bandwidth);
  let frozen = false, released = false, handedOver = false, mirroring = false;
  const onAbort = () => conn.destroy(new MigrationError('cancelled'));
  options.signal?.addEventListener('abort', onAbort);
  try {
    if (options.signal?.aborted) throw new MigrationError('cancelled');
    out.header();
    out.json(MTAG.HELO, options.identity);
    const config = vm.machineConfig();
    const conf = new Uint8Array(8);
    new DataView(conf.buffer).setBigUint64(0, BigInt(config.memoryBytes), true);
    out.json(MTAG.CONF, config, conf);
    const disks = options.withDisks ? await vm.startDiskMirror() : [];
    mirroring = disks.length > 0;
    out.json(MTAG.DSKS, disks);
    await out.flush();
    await replies.expect('ready');
    status.setupMs = performance.now() - t0;
    status.phase = 'active';
    report();

    const ram = vm.ram;
    // A slow link (a bandwidth limit, or passes that measured one) is worth CPU: unchanged
    // pages are skipped and runs deflated from then on.
    let sent: SentPages | undefined;
    const pass = (): PassContext => {
      const slow = (options.bandwidth ?? Infinity) <= SLOW_LINK || (status.throughput > 0 && status.throughput <= SLOW_LINK);
      if (slow) sent ??= new SentPages(ram);
      return { out, ram, status, pacer, report, sent };
    };
    // The disks first, whole, while the guest runs; what it writes meanwhile goes with
    // each pass of memory.
    let diskBits: (Uint32Array | null)[] = disks.map((d) => allChunks(d.size));
    if (mirroring) {
      await sendDisks(pass(), vm, disks, diskBits, true);
      diskBits = await vm.harvestDiskWrites();
    }
    let bits = await vm.harvestWritten();
    if (!options.quick) {
      let previous = Infinity;
      for (;;) {
        const passStart = performance.now(), bytesBefore = out.bytes;
        await sendPass(pass(), bits, status.pass === 0);
        if (mirroring) await sendDisks(pass(), vm, disks, diskBits, false);
        // The link's throughput is what the destination has read, not what the socket took.
        const sync = new Uint8Array(SYNC_BYTES);
        new DataView(sync.buffer).setUint32(0, status.pass, true);
        out.frame(MTAG.SYNC, sync);
        await out.flush();
        const synced = await replies.expect('synced');
        if (synced.pass !== status.pass) throw new MigrationError(`the destination synced pass ${synced.pass} where ${status.pass} was due`);
        const seconds = Math.max((performance.now() - passStart) / 1000, 1e-3);
        status.throughput = (out.bytes - bytesBefore) / seconds;
        bits = await vm.harvestWritten();
        const remaining = status.remainingPages = countMarked(bits);
        if (mirroring) diskBits = await vm.harvestDiskWrites();
        status.diskRemaining = dirtyBytes(disks, diskBits);
        status.dirtyRate = remaining / seconds;
        report();
        const expectedMs = (remaining * PAGE_BYTES + status.diskRemaining) / Math.max(status.throughput, 1) * 1000 + FIXED_DOWNTIME_MS;
        if (expectedMs <= (options.maxDowntimeMs ?? 50) || status.pass + 1 >= MAX_PASSES) break;
        if ((options.autoConverge ?? true) && remaining > previous * NO_PROGRESS) {
          status.throttle = status.throttle === 0 ? THROTTLE_START : Math.min(THROTTLE_MAX, status.throttle + THROTTLE_STEP);
          vm.setThrottle(status.throttle);
        }
        previous = remaining;
        status.pass++;
      }
    }

    status.phase = 'stop-copy';
    report();
    const frozenState = await vm.freeze();
    frozen = true;
    vm.setThrottle(0);
    if (mirroring) {
      // Frozen, no request in flight: the last writes are all logged.
      const lastDisk = await vm.harvestDiskWrites();
      diskBits = diskBits.map((b, i) => orBits(b, lastDisk[i] ?? null));
    }
    const last = await vm.harvestWritten();
    for (let w = 0; w < bits.length; w++) bits[w]! |= last[w]!;
    if (!options.quick) status.pass++;
    if (mirroring) await sendDisks(pass(), vm, disks, diskBits, false);
    const releasing = vm.releaseDisks().then(() => { released = true; });
    releasing.catch(() => undefined); // awaited below
    await sendPass(pass(), bits, options.quick === true);
    await releasing;
    const stat = new Uint8Array(STAT_HEAD_BYTES);
    new DataView(stat.buffer).setFloat64(0, frozenState.at, true);
    out.json(MTAG.STAT, frozenState.state, stat);
    const end = new Uint8Array(END_BYTES);
    const v = new DataView(end.buffer);
    v.setBigUint64(0, BigInt(status.pagesSent), true);
    v.setBigUint64(8, BigInt(out.frames), true);
    await options.beforeHandover?.();
    handedOver = true;
    out.frame(MTAG.END, end);
    await out.flush();
    const running = await replies.expect('running');
    // The VM runs there: from here on nothing may resume it here.
    vm.migratedAway(options.to);
    vm.endHarvests();
    status.phase = 'completed';
    status.downtimeMs = Math.max(0, running.at - frozenState.at);
    report();
    conn.end();
    return { ...status };
  } catch (e) {
    // Once END is out the destination may run the VM whatever became of its answer: only
    // it can say whether it does (options.decide); resuming here blindly could run it twice.
    if (handedOver) {
      const where = options.decide ? await options.decide().catch((): 'unknown' => 'unknown') : 'here';
      if (where === 'there') {
        vm.migratedAway(options.to);
        vm.endHarvests();
        status.phase = 'completed';
        status.error = `its answer was lost (${(e as Error).message}), but the destination has the VM`;
        report();
        conn.destroy();
        return { ...status };
      }
      if (where === 'unknown') {
        conn.destroy();
        vm.setThrottle(0);
        vm.endHarvests();
        vm.stop();
        status.phase = 'failed';
        status.error = `the handover's outcome is unknown (${(e as Error).message}; the destination cannot be asked): the VM is stopped here, and may run there`;
        report();
        return { ...status };
      }
    }
    if (mirroring) vm.stopDiskMirror();
    const cancelled = options.signal?.aborted === true;
    status.phase = cancelled ? 'cancelled' : 'failed';
    status.error = cancelled ? 'cancelled' : (e as Error).message;
    conn.destroy();
    vm.setThrottle(0);
    if (released) {
      try {
        await vm.reopenDisks();
      } catch (r) {
        // The disks are someone else's now (the destination opened them after all?): the
        // VM cannot go on here without them.
        status.error += `; and the disks could not be taken back (${(r as Error).message}): the VM is stopped`;
        vm.stop();
        frozen = false;
      }
    }
    if (frozen) vm.unfreeze();
    vm.endHarvests();
    report();
    return { ...status };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    replies.close();
  }
}

/** How a pass treats the pages it sends: on a slow link, unchanged ones are skipped and runs deflated. */
interface PassContext { out: FrameWriter; ram: Uint8Array; status: MigrationStatus; pacer: Pacer; report: () => void; sent?: SentPages }

/** Sends the pages of `bits`: zero ones as ZERO frames, or not at all when the destination has only zeros there. */
async function sendPass(c: PassContext, bits: Uint32Array, destinationZero: boolean): Promise<void> {
  const { out, ram, status, pacer, sent } = c;
  const pass = new Uint8Array(PASS_BYTES);
  const v = new DataView(pass.buffer);
  const total = countMarked(bits);
  v.setUint32(0, status.pass, true);
  v.setUint32(4, total, true);
  out.frame(MTAG.PASS, pass);
  // While a pass goes, remainingPages counts down what it has still to send (QEMU's
  // "remaining"), and throughput is the pass's so far.
  status.remainingPages = total;
  const passStart = performance.now(), passBytes = out.bytes;
  let since = out.bytes, lastReport = passStart;
  for (const run of markedRuns(ram, bits, MAX_RUN_PAGES)) {
    status.remainingPages -= run.count;
    if (run.zero) {
      status.zeroPages += run.count;
      if (!destinationZero) out.run(MTAG.ZERO, run.first, run.count);
      if (sent) for (let p = run.first; p < run.first + run.count; p++) sent.forget(p);
    } else if (!sent) {
      sendRun(c, run.first, run.count, false);
    } else {
      // The pages written again with the bytes last sent stay out; the rest go in runs.
      let from = run.first;
      for (let p = run.first; p <= run.first + run.count; p++) {
        const skip = p < run.first + run.count && sent.unchanged(p);
        if (p < run.first + run.count && !skip) continue;
        if (p > from) sendRun(c, from, p - from, true);
        if (skip) status.skippedPages++;
        from = p + 1;
      }
    }
    if (out.bytes - since >= FLUSH_BYTES) {
      await pacer.pace(out.bytes - since);
      since = out.bytes;
      await out.flush();
      // The service's other work (consoles, the API) runs between megabytes: a flush the
      // socket takes at once resolves in a microtask, which would hold everything else
      // back for the whole pass (a console silent for 250 ms while 14 MiB went out).
      await new Promise((r) => setImmediate(r));
      const t = performance.now();
      if (t - lastReport >= 250) {
        lastReport = t;
        status.throughput = (out.bytes - passBytes) / ((t - passStart) / 1000);
        c.report();
      }
    }
  }
  await pacer.pace(out.bytes - since);
  await out.flush();
}

/**
 * Sends the chunks of each disk marked in `bits` (null: none), read as the guest sees them
 * through the VM's own drivers, one read ahead; in the first pass zero ranges stay out
 * (the destination's new images read as zeros), after it they go as DZER frames.
 */
async function sendDisks(c: PassContext, vm: Vm, disks: readonly MirroredDisk[], bits: readonly (Uint32Array | null)[], first: boolean): Promise<void> {
  const { out, status, pacer } = c;
  const runs: { disk: number; offset: number; length: number }[] = [];
  for (const [disk, d] of disks.entries()) {
    const b = bits[disk];
    if (b) for (const r of dirtyRuns(b, d.size, MAX_DISK_RUN_BYTES)) runs.push({ disk, ...r });
  }
  status.diskRemaining = runs.reduce((n, r) => n + r.length, 0);
  const read = (i: number) => (i < runs.length ? vm.readDisk(runs[i]!.disk, runs[i]!.offset, runs[i]!.length) : undefined);
  let next = read(0);
  next?.catch(() => undefined); // awaited in turn
  let since = out.bytes;
  for (let i = 0; i < runs.length; i++) {
    const bytes = await next!;
    next = read(i + 1);
    next?.catch(() => undefined);
    const { disk, offset, length } = runs[i]!;
    status.diskRemaining -= length;
    if (isZero(bytes)) {
      if (!first) out.disk(disk, offset, length);
    } else {
      out.disk(disk, offset, bytes);
      status.diskBytes += length;
    }
    if (out.bytes - since >= FLUSH_BYTES) {
      await pacer.pace(out.bytes - since);
      since = out.bytes;
      await out.flush();
      await new Promise((r) => setImmediate(r)); // as sendPass: the service's other work goes on
      c.report();
    }
  }
  await pacer.pace(out.bytes - since);
  await out.flush();
}

/** Disk bytes the chunks of `bits` cover. */
function dirtyBytes(disks: readonly MirroredDisk[], bits: readonly (Uint32Array | null)[]): number {
  let n = 0;
  for (const [i, d] of disks.entries()) {
    const b = bits[i];
    if (b) for (const r of dirtyRuns(b, d.size, MAX_DISK_RUN_BYTES)) n += r.length;
  }
  return n;
}

function orBits(a: Uint32Array | null, b: Uint32Array | null): Uint32Array | null {
  if (!a || !b) return a ?? b;
  for (let w = 0; w < a.length; w++) a[w]! |= b[w]!;
  return a;
}

const ZERO_RUN = Buffer.alloc(MAX_DISK_RUN_BYTES);
function isZero(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).compare(ZERO_RUN, 0, bytes.byteLength) === 0;
}

/** One run of non-zero pages: deflated (RAMZ) when asked and it shrinks by a tenth, else as they are. */
function sendRun(c: PassContext, first: number, count: number, deflate: boolean): void {
  const pages = c.ram.subarray(first * PAGE_BYTES, (first + count) * PAGE_BYTES);
  c.status.pagesSent += count;
  if (deflate) {
    const packed = deflateRawSync(pages, { level: 1 });
    if (packed.length < pages.length * 0.9) {
      c.status.deflatedBytes += pages.length - packed.length;
      c.out.run(MTAG.RAMZ, first, count, packed);
      return;
    }
  }
  c.out.run(MTAG.RAM, first, count, pages);
}

/** Bytes queued between flushes (each flush waits for the link). */
const FLUSH_BYTES = 1 << 20;

/** Keeps the stream under a bandwidth limit: a token bucket with a burst of one flush. */
class Pacer {
  private readonly start = performance.now();
  private sent = 0;
  constructor(private readonly bytesPerSecond?: number) {}
  async pace(bytes: number): Promise<void> {
    if (!this.bytesPerSecond) return;
    this.sent += bytes;
    const due = this.start + (this.sent / this.bytesPerSecond) * 1000;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  }
}

/** The destination's replies: JSON lines, read as they come. */
class ReplyReader {
  private buffered = '';
  private readonly queue: Reply[] = [];
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.buffered += chunk.toString('utf8');
    if (this.buffered.length > MAX_REPLY_BYTES) { this.fail(new MigrationError('the destination sent an over-long reply')); return; }
    for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      try {
        this.queue.push(parseReply(JSON.parse(line)));
      } catch (e) {
        this.fail(new MigrationError(`the destination sent a reply that is not one: ${(e as Error).message}`));
        return;
      }
    }
    this.poke();
  };
  private readonly onEnd = () => this.fail(new MigrationError('the destination closed the connection'));
  private readonly onError = (e: Error) => this.fail(new MigrationError(`the connection failed: ${e.message}`));

  constructor(private readonly conn: Duplex) {
    conn.on('data', this.onData);
    conn.on('end', this.onEnd);
    conn.on('close', this.onEnd);
    conn.on('error', this.onError);
  }

  /** The next reply, which must be of `type` (an error reply is thrown as its message). */
  async expect<T extends Reply['type']>(type: T): Promise<Extract<Reply, { type: T }>> {
    while (this.queue.length === 0) {
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => { this.wake = r; });
    }
    const r = this.queue.shift()!;
    if (r.type === 'error') throw new MigrationError(`the destination refused: ${r.message}`);
    if (r.type !== type) throw new MigrationError(`the destination said "${r.type}" where "${type}" was due`);
    return r as Extract<Reply, { type: T }>;
  }

  close(): void {
    this.conn.off('data', this.onData);
    this.conn.off('end', this.onEnd);
    this.conn.off('close', this.onEnd);
    this.conn.off('error', this.onError);
  }

  private fail(e: Error): void { this.failure ??= e; this.poke(); }
  private poke(): void { const w = this.wake; this.wake = undefined; w?.(); }
}

const MAX_REPLY_BYTES = 64 << 10;

function parseReply(v: unknown): Reply {
  if (typeof v !== 'object' || v === null) throw new Error('not an object');
  const r = v as Record<string, unknown>;
  if (r['type'] === 'ready') return { type: 'ready' };
  if (r['type'] === 'synced' && Number.isSafeInteger(r['pass'])) return { type: 'synced', pass: r['pass'] as number };
  if (r['type'] === 'running' && typeof r['at'] === 'number' && Number.isFinite(r['at'])) return { type: 'running', at: r['at'] };
  if (r['type'] === 'error' && typeof r['message'] === 'string') return { type: 'error', message: r['message'].slice(0, 1000) };
  throw new Error(`unknown reply ${JSON.stringify(r['type'])}`);
}
