// The crash loop (docs/disks.md, "Crash consistency"): `kill -9` of a real `tshv serve`
// while its guests write and flush continuously through qcow2, then QEMU's qemu-img judges
// every image and every record a guest saw flushed must be there. The data directory and
// the images are kept across iterations: each iteration restarts the service over the
// previous crash's state (the VMs must come back `off`, start again and read their data).
//
// One iteration:
//   start the service (over the same data directory) -> VMs off? -> start them, shells up
//   -> read some flushed records back inside each guest -> start the writers (records.ts)
//   -> every writer has flushed once -> a seeded random delay -> SIGKILL
//   -> qemu-img check every image (leaks are acceptable, corruption never)
//   -> every record up to the last `FLUSHED` the host saw, byte for byte (qemu-img convert)
// After the last one, the service is restarted once more, the guests read their data, the
// VMs are stopped and the service leaves cleanly; the images are checked once more.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Service, WsConsole, sleep } from '../mgmt/service.js';
import { kernelTrouble } from '../lib/guest-shell.js';
import { checkImage, createImage, RawCopy, refcountTable, shapeFor, type ImageShape } from './images.js';
import {
  describeBlock, foreignBytes, parseWorkloadLine, RECORD_BYTES, recordBytes, recordsPerWriter, slotOf, workloadScript, type Layout, type RecordId,
} from './records.js';

export interface LoopOptions {
  iterations: number;
  vms: number;
  /** Writer loops per guest (even ones O_DIRECT + flush per record, odd ones buffered + flush every 4th). */
  writers: number;
  seed: number;
  /** The kill comes up to this long after every writer has flushed once in the iteration. */
  maxDelayMs: number;
  memoryMiB: number;
  /** Work directory (data directory, images); must be new or empty. Default: a new temporary one. */
  dir?: string;
  /** Keep the work directory after a run that passed (one that failed is always kept). */
  keep?: boolean;
  /** Copy every image right after each kill to <dir>/after-kill-<iteration>/ (for post-mortems). */
  snapshots?: boolean;
  log: (line: string) => void;
}

export interface LoopResult {
  /** Iterations completed (crash, checks). */
  iterations: number;
  /** Flushed records compared byte for byte with what the guest wrote, over all checks. */
  recordsVerified: number;
  /** Distinct records the guests saw flushed, at the end. */
  recordsFlushed: number;
  /** Records read back inside restarted guests. */
  recordsReadInGuests: number;
  /** qemu-img checks run. */
  imagesChecked: number;
  /** Leaked clusters in the images at the end (qemu-img check), summed. */
  leakedClusters: number;
  /** Times a refcount table moved to a larger one, over all images. */
  refcountTableMoves: number;
  failures: string[];
  dir: string;
  wallMs: number;
}

/** Records after the last FLUSHED looked at: a writer is at most a few records ahead of its last flush line. */
const BEYOND = 64;
const BOOT_MS = 240_000;
const FIRST_FLUSH_MS = 180_000;

interface Writer {
  w: number;
  /** The highest n seen FLUSHED over all iterations; -1 before the first. */
  flushed: number;
  /** Which iteration's generation wrote which flushed records. */
  segments: { gen: number; first: number; last: number }[];
  /** This iteration: the first record, the highest seen FLUSHED. */
  first: number;
  seen: number;
}

interface TestVm {
  index: number;
  name: string;
  image: string;
  shape: ImageShape;
  layout: Layout;
  writers: Writer[];
  table: { offset: number; clusters: number };
  leaks: number;
}

/** xorshift32: the seed makes a run's choices (layouts, delays) repeatable. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** What ends the loop: one or more failures, each a report (which VM, which record, what was found). */
class Failure extends Error {
  readonly reports: string[];
  constructor(reports: string | string[]) {
    const list = typeof reports === 'string' ? [reports] : reports;
    super(list.join('\n\n'));
    this.reports = list;
  }
}

export class CrashLoop {
  readonly dir: string;
  private readonly dataDir: string;
  private readonly random: () => number;
  private readonly vms: TestVm[] = [];
  private service: Service | null = null;
  private readonly result: LoopResult;
  private readonly started = performance.now();

  constructor(private readonly o: LoopOptions) {
    if (o.dir) {
      mkdirSync(o.dir, { recursive: true });
      if (readdirSync(o.dir).length > 0) throw new Error(`${o.dir} is not empty: the crash loop needs a new work directory`);
      this.dir = o.dir;
    } else {
      this.dir = mkdtempSync(join(tmpdir(), 'tshv-crash-'));
    }
    this.dataDir = join(this.dir, 'data');
    mkdirSync(join(this.dir, 'images'));
    this.random = rng(o.seed);
    this.result = {
      iterations: 0, recordsVerified: 0, recordsFlushed: 0, recordsReadInGuests: 0, imagesChecked: 0, leakedClusters: 0,
      refcountTableMoves: 0, failures: [], dir: this.dir, wallMs: 0,
    };
  }

  /** SIGKILLs the service if one is running (for an interrupted run). */
  abort(): void {
    if (this.service) void this.service.kill('SIGKILL');
  }

  async run(): Promise<LoopResult> {
    const { log } = this.o;
    log(`crash loop: ${this.o.iterations} iterations, ${this.o.vms} VMs, ${this.o.writers} writers each, seed ${this.o.seed}, work directory ${this.dir}`);
    try {
      for (let gen = 1; gen <= this.o.iterations; gen++) {
        await this.iteration(gen);
        this.result.iterations = gen;
      }
      await this.lastRestart(this.o.iterations);
    } catch (e) {
      if (e instanceof Failure) this.result.failures.push(...e.reports);
      else this.result.failures.push(`${(e as Error).stack ?? e}${this.serviceTail()}`);
    } finally {
      if (this.service) await this.service.kill('SIGKILL');
      this.service = null;
    }
    this.result.recordsFlushed = this.vms.reduce((n, v) => n + v.writers.reduce((m, w) => m + w.segments.reduce((k, s) => k + s.last - s.first + 1, 0), 0), 0);
    this.result.leakedClusters = this.vms.reduce((n, v) => n + v.leaks, 0);
    this.result.wallMs = performance.now() - this.started;
    if (this.result.failures.length === 0 && !this.o.keep) rmSync(this.dir, { recursive: true, force: true });
    return this.result;
  }

  private async iteration(gen: number): Promise<void> {
    const t0 = performance.now();
    const svc = await this.startService();
    if (gen === 1) await this.createVms(svc);
    else await this.expectOff(svc, `after the SIGKILL of iteration ${gen - 1}`);
    const consoles = await this.boot(svc);
    const booted = performance.now();
    const readBack = await this.readBackInGuests(consoles);

    // The writers start after the last record each has flushed.
    const flushedBefore = this.vms.map((v) => v.writers.map((w) => w.flushed));
    const trackers = this.vms.map((v, i) => new FlushTracker(v, consoles[i]));
    for (const [i, v] of this.vms.entries()) {
      for (const w of v.writers) { w.first = w.flushed + 1; w.seen = -1; }
      const starts = v.writers.map((w) => ({ writer: w.w, first: w.first }));
      consoles[i].write(`${workloadScript(v.layout, gen, starts, { device: '/dev/vda', tmp: '/tmp', end: recordsPerWriter(v.layout) })}\n`);
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(trackers.map((t) => t.allFlushed)),
        ...trackers.map((t) => t.failed),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Failure(`iteration ${gen}: not every writer flushed a record within ${secs(FIRST_FLUSH_MS)}:\n` +
            trackers.map((t) => t.status()).join('\n'))), FIRST_FLUSH_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    const delay = Math.round(this.random() * this.o.maxDelayMs);
    await sleep(delay);
    const states = await svc.ok('GET', '/api/vms');
    const notRunning = states.filter((s: any) => s.state !== 'running');
    if (notRunning.length) throw new Failure(`iteration ${gen}: before the kill, ${notRunning.map((s: any) => `${s.name} is ${s.state} (${s.stateReason})`).join(', ')}`);
    const kill = await svc.kill('SIGKILL');
    this.service = null;
    if (kill.signal !== 'SIGKILL') throw new Failure(`iteration ${gen}: the service exited by itself (${JSON.stringify(kill)}) before the kill${this.serviceTail(svc)}`);
    await Promise.all(consoles.map((c) => c.closed)); // every line the service sent before it died is counted
    if (this.o.snapshots) {
      const to = join(this.dir, `after-kill-${gen}`);
      mkdirSync(to);
      for (const v of this.vms) copyFileSync(v.image, join(to, `${v.name}.qcow2`));
    }
    const guestProblems = trackers.flatMap((t) => t.problems(gen));

    for (const v of this.vms) {
      for (const w of v.writers) {
        if (w.seen < 0) continue;
        w.segments.push({ gen, first: w.first, last: w.seen });
        w.flushed = w.seen;
      }
    }
    let checks: string;
    try {
      checks = this.checkImages(gen, `iteration ${gen}`);
    } catch (e) {
      throw e instanceof Failure ? new Failure([...guestProblems, ...e.reports]) : e;
    }
    if (guestProblems.length) throw new Failure(guestProblems);
    const progress = this.vms.map((v, i) => `${v.name} ${v.writers.map((w, j) => `w${w.w} ${flushedBefore[i][j]}->${w.flushed}`).join(' ')}`).join(', ');
    const added = this.vms.reduce((n, v, i) => n + v.writers.reduce((m, w, j) => m + (w.flushed - flushedBefore[i][j]), 0), 0);
    this.o.log(`[${gen}/${this.o.iterations}] booted in ${secs(booted - t0)}${readBack ? `, ${readBack} records read back in the guests` : ''}; ` +
      `killed ${secs(delay)} after every writer's first flush; flushed: ${progress} (+${added}); ${checks}; ${secs(performance.now() - t0)}`);
  }

  /** The service restarted over the last crash: VMs off, they start and see their data; then a clean stop. */
  private async lastRestart(lastGen: number): Promise<void> {
    const t0 = performance.now();
    const svc = await this.startService();
    await this.expectOff(svc, 'after the last SIGKILL');
    const consoles = await this.boot(svc);
    const readBack = await this.readBackInGuests(consoles, 8);
    for (const v of this.vms) await svc.ok('POST', `/api/vms/${v.name}/stop`);
    const exit = await svc.kill('SIGTERM');
    this.service = null;
    if (exit.code !== 0) throw new Failure(`final restart: tshv serve did not leave cleanly on SIGTERM (${JSON.stringify(exit)})${this.serviceTail(svc)}`);
    const leaksBefore = this.vms.map((v) => v.leaks);
    const checks = this.checkImages(lastGen, 'after the clean stop');
    const leaked = this.vms.filter((v, i) => v.leaks > leaksBefore[i]);
    if (leaked.length) throw new Failure(leaked.map((v) => `${v.name}: a clean stop (no crash) leaked clusters: ${leaksBefore[v.index]} before, ${v.leaks} after`));
    this.o.log(`[restart] service restarted over the last crash: VMs off, started again, ${readBack} records read back in the guests; ` +
      `stopped cleanly; ${checks}; ${secs(performance.now() - t0)}`);
  }

  private async startService(): Promise<Service> {
    // The images live beside the data directory: the service's storage root (docs/api.md).
    const svc = await Service.start(this.dataDir, ['--storage-root', join(this.dir, 'images')]);
    this.service = svc;
    return svc;
  }

  private serviceTail(svc = this.service): string {
    return svc ? `\n--- tshv serve (last 2000 chars) ---\n${svc.output.slice(-2000)}` : '';
  }

  private async createVms(svc: Service): Promise<void> {
    for (let i = 0; i < this.o.vms; i++) {
      const shape = shapeFor(i);
      const name = `crash-${i}`;
      const image = join(this.dir, 'images', `${name}.qcow2`);
      createImage(image, shape);
      const slots = shape.size / RECORD_BYTES;
      // An odd step between a quarter and three quarters of the disk: records land far apart.
      const step = 2 * Math.floor(this.random() * (slots / 4)) + slots / 4 + 1;
      const layout: Layout = { vm: i, writers: this.o.writers, step, slots };
      const writers = Array.from({ length: this.o.writers }, (_, w): Writer => ({ w, flushed: -1, segments: [], first: 0, seen: -1 }));
      this.vms.push({ index: i, name, image, shape, layout, writers, table: refcountTable(image), leaks: 0 });
      await svc.ok('POST', '/api/vms', { name, memoryMiB: this.o.memoryMiB, disks: [{ path: image, readOnly: false }] }, 201);
      this.o.log(`  ${name}: ${image}, ${shape.label}, ${shape.size / 2 ** 30} GiB, slot step ${step}`);
    }
  }

  /** After a killed service, the VMs that ran are off (docs/api.md, "Restart"). */
  private async expectOff(svc: Service, when: string): Promise<void> {
    const all = await svc.ok('GET', '/api/vms');
    for (const v of this.vms) {
      const s = all.find((x: any) => x.name === v.name);
      if (!s) throw new Failure(`${when}: the service lost ${v.name}'s definition`);
      if (s.state !== 'off' || s.stateReason !== 'stopped') throw new Failure(`${when}: ${v.name} is ${s.state} (${s.stateReason}), expected off (stopped)`);
    }
  }

  private async boot(svc: Service): Promise<WsConsole[]> {
    return Promise.all(this.vms.map(async (v) => {
      await svc.ok('POST', `/api/vms/${v.name}/start`);
      const c = await svc.console(v.name);
      await c.waitForPrompt(BOOT_MS);
      return c;
    }));
  }

  /**
   * Each guest reads some of its flushed records from /dev/vda (the last of each writer,
   * the first, and random ones) and compares their md5 with the host's.
   */
  private async readBackInGuests(consoles: WsConsole[], randomPerWriter = 2): Promise<number> {
    let total = 0;
    await Promise.all(this.vms.map(async (v, i) => {
      const picks: RecordId[] = [];
      for (const w of v.writers) {
        if (w.flushed < 0) continue;
        const ns = new Set([w.flushed, w.segments[0].first]);
        for (let k = 0; k < randomPerWriter; k++) ns.add(w.segments[0].first + Math.floor(this.random() * (w.flushed - w.segments[0].first + 1)));
        for (const n of ns) picks.push({ vm: v.index, writer: w.w, gen: genOf(w, n), n });
      }
      if (picks.length === 0) return;
      const slots = picks.map((r) => slotOf(v.layout, r.writer, r.n));
      const out = await consoles[i].run(`for s in ${slots.join(' ')}; do dd if=/dev/vda bs=${RECORD_BYTES} skip=$s count=1 2>/dev/null | md5sum; done`, 120_000);
      const sums = out.trim().split('\n').map((l) => l.split(/\s+/)[0]);
      picks.forEach((r, k) => {
        if (sums[k] !== md5(recordBytes(r))) {
          throw new Failure(`${v.name}: the restarted guest reads record ${r.n} of writer ${r.writer} (gen ${r.gen}, slot ${slots[k]}) with md5 ${sums[k]}, expected ${md5(recordBytes(r))}\n--- guest output ---\n${out}`);
        }
      });
      total += picks.length;
    }));
    this.result.recordsReadInGuests += total;
    return total;
  }

  /** qemu-img check and the records of every image; every failure found is reported (thrown together). */
  private checkImages(gen: number, when: string): string {
    const failures: string[] = [];
    let verified = 0;
    const notes: string[] = [];
    for (const v of this.vms) {
      const verdict = checkImage(v.image);
      this.result.imagesChecked++;
      v.leaks = verdict.leaks;
      if (!verdict.ok) {
        failures.push(`${when}: ${v.name}: qemu-img check ${v.image} failed (exit ${verdict.status}: ${verdict.corruptions} corruptions, ` +
          `${verdict.checkErrors} check errors, ${verdict.leaks} leaked clusters):\n${verdict.text}`);
      }
      const table = refcountTable(v.image);
      if (table.offset !== v.table.offset) {
        this.result.refcountTableMoves++;
        notes.push(`${v.name}'s refcount table moved (${v.table.clusters} -> ${table.clusters} clusters)`);
      }
      v.table = table;

      const raw = new RawCopy(v.image, join(this.dir, `${v.name}.raw`));
      try {
        for (const w of v.writers) {
          let bad = 0;
          for (const s of w.segments) {
            for (let n = s.first; n <= s.last; n++) {
              const id = { vm: v.index, writer: w.w, gen: s.gen, n };
              const slot = slotOf(v.layout, w.w, n);
              const block = raw.slot(slot);
              verified++;
              if (block.equals(recordBytes(id))) continue;
              if (++bad <= 5) {
                failures.push(`${when}: ${v.name}: record ${n} of writer ${w.w} (written and flushed in iteration ${s.gen}; slot ${slot}, ` +
                  `guest offset ${slot * RECORD_BYTES}) is not what the guest wrote: ${describe(block, id)}`);
              }
            }
          }
          if (bad > 5) failures.push(`${when}: ${v.name}: writer ${w.w}: ${bad - 5} more flushed records are wrong`);
          // Not flushed (as far as the host knows): may be absent, never someone else's bytes.
          for (let n = w.flushed + 1; n <= w.flushed + BEYOND && n < recordsPerWriter(v.layout); n++) {
            const slot = slotOf(v.layout, w.w, n);
            const foreign = foreignBytes(raw.slot(slot), { vm: v.index, writer: w.w, gen, n });
            if (foreign) failures.push(`${when}: ${v.name}: slot ${slot} (record ${n} of writer ${w.w}, not known flushed) holds bytes never written there: ${foreign}`);
          }
        }
      } finally {
        raw.close();
      }
    }
    this.result.recordsVerified += verified;
    if (failures.length) throw new Failure(failures);
    const leaks = this.vms.map((v) => v.leaks);
    return `${this.vms.length} images pass qemu-img check${leaks.some((l) => l > 0) ? ` (leaked clusters: ${leaks.join(', ')})` : ''}` +
      `${notes.length ? `, ${notes.join(', ')}` : ''}; ${verified} flushed records verified`;
  }
}

function genOf(w: Writer, n: number): number {
  const s = w.segments.find((x) => x.first <= n && n <= x.last);
  if (!s) throw new Error(`record ${n} of writer ${w.w} was never flushed`);
  return s.gen;
}

function describe(block: Buffer, id: RecordId): string {
  const expected = recordBytes(id);
  let at = 0;
  while (at < RECORD_BYTES && block[at] === expected[at]) at++;
  return `first difference at byte ${at}; found ${describeBlock(block)}`;
}

/** Reads a guest's console for the workload's lines: the highest FLUSHED per writer. */
class FlushTracker {
  private partial = '';
  private readonly errors: string[] = [];
  readonly allFlushed: Promise<void>;
  readonly failed: Promise<never>;
  private resolveAll!: () => void;
  private rejectFailed!: (e: Error) => void;

  constructor(private readonly vm: TestVm, private readonly console: WsConsole) {
    this.allFlushed = new Promise((r) => { this.resolveAll = r; });
    this.failed = new Promise((_, reject) => { this.rejectFailed = reject; });
    this.failed.catch(() => undefined);
    console.ws.on('message', (data: Buffer) => this.feed(data.toString('latin1')));
  }

  private feed(text: string): void {
    const lines = (this.partial + text.replace(/\r/g, '')).split('\n');
    this.partial = lines.pop()!; // a line is only counted once complete: "FLUSHED 0 12" may be "FLUSHED 0 123" cut short
    for (const line of lines) {
      const l = parseWorkloadLine(line);
      if (!l) continue;
      const w = this.vm.writers[l.writer];
      if (!w) continue;
      if (l.kind === 'write-failed') {
        this.errors.push(`${this.vm.name}: writer ${l.writer}'s dd of record ${l.n} failed (an I/O error in the guest)`);
        this.rejectFailed(new Failure(this.errors.join('\n') + this.tail()));
        continue;
      }
      if (l.n < w.first || l.n <= w.seen) this.errors.push(`${this.vm.name}: writer ${l.writer} flushed record ${l.n} out of order (first ${w.first}, seen ${w.seen})`);
      w.seen = Math.max(w.seen, l.n);
      if (this.vm.writers.every((x) => x.seen >= 0)) this.resolveAll();
    }
  }

  private tail(): string {
    return `\n--- ${this.vm.name}'s console (last 1500 chars) ---\n${this.console.log.slice(-1500)}`;
  }

  status(): string {
    return `  ${this.vm.name}: ${this.vm.writers.map((w) => `writer ${w.w} from ${w.first}, flushed ${w.seen < 0 ? 'none' : `through ${w.seen}`}`).join('; ')}${this.tail()}`;
  }

  /** What went wrong in the guest during the iteration: failed or out-of-order writes, kernel trouble. */
  problems(gen: number): string[] {
    const trouble = kernelTrouble(this.console.log);
    if (/I\/O error/.test(this.console.log)) trouble.push('I/O error');
    if (trouble.length) this.errors.push(`${this.vm.name}: the guest's console shows ${trouble.join(', ')}`);
    return this.errors.length ? [`iteration ${gen}: ${this.errors.join('\n')}${this.tail()}`] : [];
  }
}
