// The destination's migration stream reader (src/parent/migration/destination.ts
// readMigration): the corpus streams (written the way the source writes them, FrameWriter
// and markedRuns, SYNC between passes, RAMZ on a slow link; or frame by frame) with whole
// frames dropped, repeated or swapped and fields of CONF's machine configuration set to
// edge values (valid JSON, so parseSavedConfig's rules and machines of other sizes are
// reached), checks made right again; then byte mutations aimed at the header, every frame
// header, the run headers and the start of a deflated run, CONF's memory size, STAT's time
// and END's totals. Half the cases have their checks recomputed over the mutated bytes, so
// the rules behind the check (bounds, order, totals) are reached. A stream is read from
// bytes or, as migrateIn reads it, from a connection that delivers it in chunks. The sink
// makes RAM only up to MAX_RAM (a larger machine is refused with a StateStreamError, as a
// host without the room would).
// Fails on any exception but StateError (StateStreamError, MigrationError, and
// parseSavedConfig's refusals), a case past the time bound or beyond its memory bound, an
// unmutated corpus stream refused, finish() reached by a refused stream, or an accepted
// stream whose RAM or marked runs are not what its RAM, RAMZ and ZERO frames say, in order.
import fc from 'fast-check';
import { PassThrough } from 'node:stream';
import { inflateRawSync } from 'node:zlib';
import { StateError } from '../../../src/state/contract.js';
import { ByteSource } from '../../../src/parent/state/byte-source.js';
import { PAGE_BYTES } from '../../../src/parent/state/format.js';
import { splitFrames, u64le } from '../../../src/parent/state/test-support.js';
import { readMigration } from '../../../src/parent/migration/destination.js';
import { MTAG } from '../../../src/parent/migration/stream.js';
import { SMALL_CONFIG, migrationStream, recordingSink } from '../../../src/parent/migration/test-support.js';
import { check, hexdump, mutate, mutationArb, note, show, type CorpusFile, type FuzzTarget, type Mutated } from '../harness.js';
import { applyFrameOp, refit, type FrameOp } from './state-stream.js';

/** The most RAM a case makes: the smallest machine is 16 MiB, so a little room above it. */
const MAX_RAM = 32 << 20;
const ZERO_PAGE = new Uint8Array(PAGE_BYTES);
const MAX_PIECES = 8192;

/**
 * Sets one field of CONF's machine configuration (the JSON the bytes rarely stay valid
 * through): what parseSavedConfig refuses, and machines of other sizes. With `agree`, a
 * new memoryBytes goes into the u64 before the JSON too.
 */
export interface ConfOp { op: 'conf'; key: string; value: unknown; agree: boolean }

export interface MigrationStreamCase extends Mutated {
  frameOps: (FrameOp | ConfOp)[];
  /** Recompute every check over the mutated bytes (as the frame headers now lay them out). */
  refit: boolean;
  /** 0: read from the bytes; else from a connection that delivers them this many bytes at a time. */
  chunk: number;
}
interface Seed { bytes: Uint8Array; hot: number[] }

let seeds: Seed[] = [];
/** The last RAM made, reused (zeroed) while the size is the same: a new 16 MiB per case would be most of the time. */
let spare: Uint8Array | undefined;

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The fields of every frame: where a mutation finds the reader's rules rather than page data. */
function hotOffsets(b: Uint8Array): number[] {
  const v = view(b), hot = [8];
  for (let at = 12; at + 16 <= b.length;) {
    const tag = v.getUint32(at, true), end = at + 16 + Number(v.getBigUint64(at + 8, true));
    hot.push(at, at + 4, at + 8, at + 12);
    if (tag === MTAG.CONF) {
      hot.push(at + 16, at + 20);
      // The JSON's own memory size, which must agree with the u64 before it.
      const json = Buffer.from(b.buffer, b.byteOffset + at + 24, end - at - 24).indexOf('"memoryBytes":');
      if (json >= 0) hot.push(at + 24 + json + 14);
    }
    if (tag === MTAG.PASS) hot.push(at + 16, at + 20);
    if (tag === MTAG.SYNC) hot.push(at + 16);
    if (tag === MTAG.RAM || tag === MTAG.ZERO) hot.push(at + 16, at + 20, at + 24);
    if (tag === MTAG.RAMZ) hot.push(at + 16, at + 20, at + 24, at + 28, at + 30); // and the deflate stream's first block header
    if (tag === MTAG.DBLK || tag === MTAG.DZER) hot.push(at + 16, at + 20, at + 24);
    if (tag === MTAG.DSKS) hot.push(at + 16, at + 24);
    if (tag === MTAG.STAT) hot.push(at + 16, at + 22);
    if (tag === MTAG.END) hot.push(at + 16, at + 24);
    hot.push(end);
    at = end + 4;
  }
  return hot.filter((o) => o < b.length);
}

const confArb: fc.Arbitrary<ConfOp> = fc.record({
  op: fc.constant('conf' as const),
  key: fc.constantFrom('memoryBytes', 'memoryBytes', 'cpus', 'console', 'disks', 'append', 'boot', 'version', 'extra'),
  value: fc.oneof(
    fc.constantFrom(16 << 20, 20 << 20, 32 << 20, (32 << 20) + 4096, 64 << 20, (16 << 20) - 4096, (16 << 20) + 1, 2 ** 40, 2 ** 53, -1, 0, 1, 2, 1024, 1.5),
    fc.constantFrom('serial', 'virtio', 'vga', '', 'x'.repeat(5000), null, true, [], {}),
    fc.constantFrom([{ path: '/d.qcow2', readOnly: true }], [{ path: 'a\0b', readOnly: false }], [{ path: '/d' }], { kernel: '/k' }, { kernel: 7 }),
  ),
  agree: fc.boolean(),
});

/** The seed's frames, changed by `ops`, as a stream again (checks right). */
function reorder(seed: Uint8Array, ops: readonly (FrameOp | ConfOp)[]): Uint8Array {
  if (ops.length === 0) return seed;
  const frames = splitFrames(seed);
  for (const o of ops) {
    if (o.op === 'conf') {
      const at = frames.findIndex((f) => f.tag === MTAG.CONF);
      if (at < 0) continue;
      const payload = frames[at]!.payload, config = JSON.parse(Buffer.from(payload.subarray(8)).toString('utf8')) as Record<string, unknown>;
      config[o.key] = o.value;
      const memory = o.key === 'memoryBytes' && o.agree && typeof o.value === 'number' && o.value >= 0 ? BigInt(Math.floor(o.value)) : view(payload).getBigUint64(0, true);
      frames[at] = { tag: MTAG.CONF, payload: Buffer.concat([u64le(BigInt.asUintN(64, memory)), Buffer.from(JSON.stringify(config))]) };
      continue;
    }
    applyFrameOp(frames, o);
  }
  return migrationStream(frames);
}

const bytesOf = (c: MigrationStreamCase): Uint8Array => {
  const s = seeds[c.seed % Math.max(1, seeds.length)];
  const b = mutate(reorder(s?.bytes ?? new Uint8Array(0), c.frameOps), c.mutations, s?.hot ?? []);
  return c.refit ? refit(b) : b;
};

/**
 * What an accepted stream says, read from its bytes (the reader accepted it, so its frames
 * are laid out soundly up to END): each page's last RAM or RAMZ copy (null once a ZERO
 * frame came after it), every run in order, and STAT's time. What follows END is not the
 * stream's.
 */
function model(b: Uint8Array): { pages: Map<number, Uint8Array | null>; runs: [number, number][]; pausedAt: number } {
  const v = view(b), pages = new Map<number, Uint8Array | null>(), runs: [number, number][] = [];
  for (let at = 12; ;) {
    const tag = v.getUint32(at, true), end = at + 16 + Number(v.getBigUint64(at + 8, true));
    if (tag === MTAG.STAT) return { pages, runs, pausedAt: v.getFloat64(at + 16, true) };
    if (tag === MTAG.RAM || tag === MTAG.RAMZ || tag === MTAG.ZERO) {
      const first = Number(v.getBigUint64(at + 16, true)), count = v.getUint32(at + 24, true);
      runs.push([first, count]);
      const bytes = tag === MTAG.RAMZ ? inflateRawSync(b.subarray(at + 28, end)) : b.subarray(at + 28, end);
      for (let i = 0; i < count; i++) pages.set(first + i, tag === MTAG.ZERO ? null : bytes.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES));
    }
    at = end + 4;
  }
}

/**
 * The stream as a connection delivers it: in pieces of `chunk` bytes (at most MAX_PIECES of
 * them: a 4 MiB seed in 1-byte pieces would take seconds a case; byte-source.test.ts has
 * the sender of tiny pieces), then its end.
 */
function connection(bytes: Uint8Array, chunk: number): ByteSource {
  const conn = new PassThrough();
  const src = ByteSource.ofReadable(conn, 'migration stream');
  const piece = Math.max(chunk, Math.ceil(bytes.length / MAX_PIECES));
  for (let at = 0; at < bytes.length; at += piece) conn.write(bytes.subarray(at, at + piece));
  conn.end();
  return src;
}

/**
 * A seed's index; one with a run of the largest size (4 MiB: each case copies and checks it
 * several times, ten times the cost of the others) is picked one time in ten.
 */
function seedArb(n: number): fc.Arbitrary<number> {
  const all = Array.from({ length: Math.max(1, n) }, (_, i) => i);
  const big = all.filter((i) => (seeds[i]?.bytes.length ?? 0) > 1 << 20), small = all.filter((i) => !big.includes(i));
  if (big.length === 0 || small.length === 0) return fc.constantFrom(...all);
  return fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...small) }, { weight: 1, arbitrary: fc.constantFrom(...big) });
}

export const migrationStreamTarget: FuzzTarget<MigrationStreamCase> = {
  name: 'migration-stream',
  async: true,
  fromCorpus(files: readonly CorpusFile[]) {
    seeds = files.map((f) => ({ bytes: f.bytes, hot: hotOffsets(f.bytes) }));
    // The first seed also goes through a connection, in odd-sized pieces.
    return seeds.map((_, seed) => ({ seed, frameOps: [], mutations: [], refit: false, chunk: seed === 0 ? 1000 : 0 }));
  },
  arbitrary: (s) => fc.record({
    seed: seedArb(s.length),
    frameOps: fc.oneof(
      { weight: 3, arbitrary: fc.constant<FrameOp[]>([]) },
      { weight: 1, arbitrary: fc.array<FrameOp | ConfOp>(fc.oneof(
        fc.record({ op: fc.constantFrom('drop' as const, 'repeat' as const), i: fc.nat(16) }),
        fc.record({ op: fc.constant('swap' as const), i: fc.nat(16), j: fc.nat(16) }),
        confArb,
      ), { minLength: 1, maxLength: 2 }) },
    ),
    mutations: fc.array(mutationArb(), { maxLength: 6 }),
    refit: fc.boolean(),
    chunk: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 70_000 }) }),
  }).filter((c) => c.frameOps.length + c.mutations.length > 0), // the corpus itself is replayed first
  expected: (e) => e instanceof StateError,
  // The RAM (a new one only when the size changes), the stream's copies as the case builds
  // it (reorder, each mutation, the reader's buffer and payloads: a few times the seed), and
  // from a connection, payloads allocated at their claimed length, up to STAT's 16 MiB bound.
  memoryBound: (c) => MAX_RAM + 12 * (seeds[c.seed % Math.max(1, seeds.length)]?.bytes.length ?? 0) + (c.chunk ? 24 << 20 : 4 << 20),
  show: (c) => `${show(c)}\n  bytes: ${hexdump(bytesOf(c), 160)}`,
  async run(c) {
    const bytes = bytesOf(c);
    const unmutated = c.mutations.length === 0 && c.frameOps.length === 0;
    const sink = recordingSink({ maxRam: MAX_RAM, reuse: spare });
    try {
      await readMigration(c.chunk ? connection(bytes, c.chunk) : ByteSource.ofBytes(bytes, 'migration stream'), sink);
    } catch (e) {
      check(!unmutated, `a corpus stream was refused: ${String(e)}`);
      check(sink.log.finished === undefined, 'finish() was called for a stream then refused');
      throw e;
    } finally {
      spare = sink.log.ram ?? spare;
    }
    const { log } = sink;
    check(log.begun.length === 1 && log.ram !== undefined && log.finished !== undefined, 'accepted without making memory once and finishing');
    note(`${unmutated ? 'corpus' : 'mutated'} stream read, ${log.ram.length === SMALL_CONFIG.memoryBytes ? 'the smallest machine' : 'a larger machine'}`);
    const want = model(bytes);
    check(Object.is(log.finished.pausedAt, want.pausedAt), `finish() got ${log.finished.pausedAt}, STAT says ${want.pausedAt}`);
    check(JSON.stringify(log.runs) === JSON.stringify(want.runs), `marked ${JSON.stringify(log.runs).slice(0, 200)}; the stream's runs are ${JSON.stringify(want.runs).slice(0, 200)}`);
    const ram = Buffer.from(log.ram.buffer, log.ram.byteOffset, log.ram.byteLength);
    for (let p = 0; p < ram.length / PAGE_BYTES; p++) {
      const page = ram.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES);
      check(page.equals(want.pages.get(p) ?? ZERO_PAGE), `RAM page ${p} is not what the stream's last RAM, RAMZ or ZERO frame for it says`);
    }
  },
};
