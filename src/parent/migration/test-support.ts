// Migration streams for tests and the fuzz corpus: frames built one by one (buildStream
// with the migration magic, so a test can break any rule with the checks still right), a
// stream written the way source.ts writes one (FrameWriter, markedRuns per pass, SYNC
// between passes, RAMZ on a slow link), and a sink that keeps RAM in a plain array and
// records what the reader did with it.
import { Writable } from 'node:stream';
import { deflateRawSync } from 'node:zlib';
import { MAX_RUN_PAGES, PAGE_BYTES, StateStreamError } from '../state/format.js';
import { buildStream, runPayload, u64le, type RawFrame } from '../state/test-support.js';
import { countMarked, markedRuns } from '../state/page-scan.js';
import type { SavedConfig } from '../machine/state.js';
import type { MigrationSink } from './destination.js';
import { FrameWriter, MIGRATION_MAGIC, MIGRATION_VERSION, MTAG } from './stream.js';

/** The smallest machine parseSavedConfig takes: 16 MiB, 4096 pages. */
export const SMALL_CONFIG: SavedConfig = { version: 1, cpus: 1, memoryBytes: 16 << 20, console: 'serial', disks: [], append: 'quiet' };

const utf8 = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8');
const f64 = (v: number) => { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v, true); return b; };
const u32s = (...v: number[]) => { const b = new Uint8Array(4 * v.length); v.forEach((x, i) => new DataView(b.buffer).setUint32(4 * i, x, true)); return b; };

export const frames = {
  helo: (identity: unknown): RawFrame => ({ tag: MTAG.HELO, payload: utf8(identity) }),
  conf: (config: unknown, memoryBytes: number | bigint = (config as SavedConfig).memoryBytes): RawFrame =>
    ({ tag: MTAG.CONF, payload: Buffer.concat([u64le(memoryBytes), utf8(config)]) }),
  /** The disks the stream carries (none: both hosts see the images). */
  dsks: (disks: unknown = []): RawFrame => ({ tag: MTAG.DSKS, payload: utf8(disks) }),
  /** Bytes of a disk (DBLK), or `bytes` zero bytes (DZER). */
  disk: (disk: number, offset: number | bigint, bytes: Uint8Array | number): RawFrame => {
    const head = new Uint8Array(16);
    const v = new DataView(head.buffer);
    v.setUint32(0, disk, true);
    v.setUint32(4, typeof bytes === 'number' ? bytes : 0, true);
    v.setBigUint64(8, BigInt(offset), true);
    return typeof bytes === 'number' ? { tag: MTAG.DZER, payload: head } : { tag: MTAG.DBLK, payload: Buffer.concat([head, bytes]) };
  },
  pass: (n: number, pages: number): RawFrame => ({ tag: MTAG.PASS, payload: u32s(n, pages) }),
  /** A RAM run of pages.length / 4096 pages from `first`. */
  ram: (first: number | bigint, pages: Uint8Array, count = pages.length / PAGE_BYTES): RawFrame =>
    ({ tag: MTAG.RAM, payload: runPayload(first, count, pages) }),
  /** A RAMZ run: `pages` deflated, or `packed` as given (count from `pages`). */
  ramz: (first: number | bigint, pages: Uint8Array, packed: Uint8Array = deflateRawSync(pages), count = pages.length / PAGE_BYTES): RawFrame =>
    ({ tag: MTAG.RAMZ, payload: runPayload(first, count, packed) }),
  sync: (pass: number): RawFrame => ({ tag: MTAG.SYNC, payload: u32s(pass) }),
  zero: (first: number | bigint, count: number): RawFrame => ({ tag: MTAG.ZERO, payload: runPayload(first, count, new Uint8Array(0)) }),
  stat: (pausedAt: number, state: unknown): RawFrame => ({ tag: MTAG.STAT, payload: Buffer.concat([f64(pausedAt), utf8(state)]) }),
  end: (pages: number | bigint, count: number | bigint): RawFrame => ({ tag: MTAG.END, payload: u64le(pages, count) }),
};

/** `frames` followed by the END that totals them right (RAM and RAMZ pages sent, frames before END; a run frame too short for its count counts 0). */
export function withEnd(list: readonly RawFrame[]): RawFrame[] {
  let pages = 0;
  for (const f of list) {
    if ((f.tag === MTAG.RAM || f.tag === MTAG.RAMZ) && f.payload.length >= 12) pages += new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(8, true);
  }
  return [...list, frames.end(pages, list.length)];
}

/**
 * A migration stream of these frames (header and checks right unless told otherwise): a
 * plain Uint8Array, so slice() copies (a Buffer's would not).
 */
export const migrationStream = (list: readonly RawFrame[], version = MIGRATION_VERSION, magic = MIGRATION_MAGIC): Uint8Array =>
  new Uint8Array(buildStream(list, version, magic));

/** `n` pages whose bytes all depend on `seed` and the page (never a zero page). */
export function pages(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n * PAGE_BYTES);
  for (let i = 0; i < b.length; i++) b[i] = ((seed * 37 + i * 13 + (i >> 12) * 7) & 0xff) || seed | 1;
  return b;
}

/** A written-page log's bits for `marked` of `total` pages. */
export function bitsOf(total: number, marked: Iterable<number>): Uint32Array {
  const bits = new Uint32Array(Math.ceil(total / 32));
  for (const p of marked) bits[p >>> 5]! |= 1 << (p & 31);
  return bits;
}

/** One pre-copy pass as the source makes it: RAM as it is then, and the pages the log says to send. */
export interface SourcePass { ram: Uint8Array; bits: Uint32Array }

export interface SourceRun {
  identity: unknown; config: SavedConfig; passes: readonly SourcePass[]; state: unknown; pausedAt: number;
  /** A slow link: runs go deflated (RAMZ) where that saves a tenth. */
  slow?: boolean;
}

/**
 * Writes a migration to `out` as source.ts does: header, HELO, CONF, one PASS per pass with
 * its runs (markedRuns; zero pages left out in the first pass, where the destination's
 * memory is zero, and sent as ZERO frames after it), a SYNC after each pass but the last
 * (the stop-and-copy), STAT, END; flushed as the writer flushes. The source waits for the
 * answer to each SYNC; this does not. `out` is not ended.
 */
export async function sendMigration(out: Writable, run: SourceRun): Promise<void> {
  const w = new FrameWriter(out);
  w.header();
  w.json(MTAG.HELO, run.identity);
  w.json(MTAG.CONF, run.config, new Uint8Array(u64le(run.config.memoryBytes)));
  w.json(MTAG.DSKS, []);
  await w.flush();
  let sent = 0;
  for (const [n, p] of run.passes.entries()) {
    w.frame(MTAG.PASS, u32s(n, countMarked(p.bits)));
    for (const r of markedRuns(p.ram, p.bits, MAX_RUN_PAGES)) {
      if (!r.zero) {
        const pages = p.ram.subarray(r.first * PAGE_BYTES, (r.first + r.count) * PAGE_BYTES);
        const packed = run.slow ? deflateRawSync(pages, { level: 1 }) : undefined;
        if (packed && packed.length < pages.length * 0.9) w.run(MTAG.RAMZ, r.first, r.count, packed);
        else w.run(MTAG.RAM, r.first, r.count, pages);
        sent += r.count;
      } else if (n > 0) {
        w.run(MTAG.ZERO, r.first, r.count);
      }
    }
    if (n < run.passes.length - 1) w.frame(MTAG.SYNC, u32s(n));
    await w.flush();
  }
  w.json(MTAG.STAT, run.state, f64(run.pausedAt));
  w.frame(MTAG.END, u64le(sent, w.frames));
  await w.flush();
}

/** The bytes sendMigration writes. */
export async function writeMigration(run: SourceRun): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  const out = new Writable({ highWaterMark: 64 << 20, write(chunk: Buffer, _enc, done) { parts.push(chunk); done(); } });
  await sendMigration(out, run);
  return Buffer.concat(parts);
}

/** What the reader did with a RecordingSink. */
export interface SinkLog {
  begun: { identity: unknown; config: SavedConfig }[];
  runs: [number, number][];
  /** Each SYNC answered: its pass, and how many runs had been marked by then. */
  synced: [number, number][];
  finished?: { state: unknown; pausedAt: number };
  ram?: Uint8Array;
  /** The disks the stream carried, as written (each made zero at begin, up to 64 MiB). */
  disks?: Uint8Array[];
}

/**
 * A sink over a plain array: begin() makes zeroed RAM of the configured size (refused with
 * a StateStreamError beyond `maxRam`, or with `refuse`), markRun and finish() are recorded.
 * `reuse`, if given, is returned zeroed instead of new memory when its size fits.
 */
export function recordingSink(opts: { maxRam?: number; refuse?: Error; reuse?: Uint8Array } = {}): MigrationSink & { log: SinkLog } {
  const log: SinkLog = { begun: [], runs: [], synced: [] };
  return {
    log,
    async begin(identity, config, disks) {
      log.begun.push({ identity, config });
      if (opts.refuse) throw opts.refuse;
      if (config.memoryBytes > (opts.maxRam ?? Infinity)) throw new StateStreamError(`${config.memoryBytes} bytes of RAM: too large here`);
      if (disks.some((d) => d.size > 64 << 20)) throw new StateStreamError('a disk too large for the test sink');
      const ram = opts.reuse?.length === config.memoryBytes ? opts.reuse.fill(0) : new Uint8Array(config.memoryBytes);
      log.ram = ram;
      log.disks = disks.map((d) => new Uint8Array(d.size));
      return { ram, markRun: (first, count) => { log.runs.push([first, count]); } };
    },
    async disk(disk, offset, data) {
      const d = log.disks![disk]!;
      if (typeof data === 'number') d.fill(0, offset, offset + data);
      else d.set(data, offset);
    },
    synced(pass) { log.synced.push([pass, log.runs.length]); },
    async finish(state, pausedAt) { log.finished = { state, pausedAt }; },
  };
}
