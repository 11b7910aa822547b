// The state stream reader (src/parent/state/reader.ts openStateStream, readRam): the
// corpus streams (written by writeStateStream, or frame by frame with ignorable frames
// among them) with whole frames dropped, repeated or swapped (checks made right again),
// then byte-level mutations aimed at the header, every frame header, the run headers,
// memoryBytes and END's totals. Half the cases then have their checks recomputed over the
// mutated bytes, so the rules behind the check (bounds, order, totals) are reached rather
// than the check refusing nearly everything. Each stream is read fully, from bytes
// or (sometimes) from a file, into a RAM of the size it claims when that is small.
// Fails on any exception but StateStreamError, a case past the time bound or beyond its
// memory bound, an unmutated corpus stream refused, or an accepted stream whose RAM is not
// what its RAM frames hold.
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { StateStreamError, TAG } from '../../../src/parent/state/format.js';
import { openStateStream } from '../../../src/parent/state/reader.js';
import { buildStream, splitFrames, type RawFrame } from '../../../src/parent/state/test-support.js';
import { check, hexdump, mutate, mutationArb, note, show, type CorpusFile, type FuzzTarget, type Mutated } from '../harness.js';

/** RAM the target allocates for a stream at most; a stream claiming more is opened only. */
const MAX_RAM = 4 << 20;

export type FrameOp = { op: 'drop' | 'repeat'; i: number } | { op: 'swap'; i: number; j: number };

export interface StateStreamCase extends Mutated {
  /** Done to the seed's frames before the byte mutations. */
  frameOps: FrameOp[];
  /** Recompute every check over the mutated bytes (as the frame headers now lay them out). */
  refit: boolean;
  viaFile: boolean;
}
interface Seed { bytes: Uint8Array; hot: number[] }
interface Ctx { dir: string; n: number }

let seeds: Seed[] = [];

const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
const u64 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getBigUint64(at, true);

/** The fields of every frame: where a mutation finds the reader's rules rather than page data. */
function hotOffsets(b: Uint8Array): number[] {
  const hot = [8];
  for (let at = 12; at + 16 <= b.length;) {
    const tag = u32(b, at), end = at + 16 + Number(u64(b, at + 8));
    hot.push(at, at + 4, at + 8, at + 12);
    if (tag === TAG.CONF) hot.push(at + 16, at + 20, at + 24);
    if (tag === TAG.RAM) hot.push(at + 16, at + 20, at + 24);
    if (tag === TAG.END) hot.push(at + 16, at + 24);
    hot.push(end);
    at = end + 4;
  }
  return hot.filter((o) => o < b.length);
}

/** Rewrites each check as the running CRC-32 of the bytes before it, frames laid out as their headers say. */
export function refit(b: Uint8Array): Uint8Array {
  if (b.length < 12) return b;
  let crc = crc32(b.subarray(0, 12));
  for (let at = 12; at + 16 <= b.length;) {
    const length = u64(b, at + 8);
    if (length > BigInt(b.length)) break;
    const end = at + 16 + Number(length);
    if (end + 4 > b.length) break;
    crc = crc32(b.subarray(at, end), crc);
    new DataView(b.buffer, b.byteOffset).setUint32(end, crc, true);
    crc = crc32(b.subarray(end, end + 4), crc);
    at = end + 4;
  }
  return b;
}

function reorder(seed: Uint8Array, ops: readonly FrameOp[]): Uint8Array {
  if (ops.length === 0) return seed;
  const frames = splitFrames(seed);
  for (const o of ops) applyFrameOp(frames, o);
  return buildStream(frames);
}

/** Drops, repeats or swaps whole frames of a stream taken apart (its indices wrap round). */
export function applyFrameOp(frames: RawFrame[], o: FrameOp): void {
  if (frames.length === 0) return;
  const i = o.i % frames.length;
  if (o.op === 'drop') frames.splice(i, 1);
  else if (o.op === 'repeat') frames.splice(i, 0, frames[i]!);
  else if (o.op === 'swap') { const j = o.j % frames.length; [frames[i], frames[j]] = [frames[j]!, frames[i]!]; }
}

const bytesOf = (c: StateStreamCase): Uint8Array => {
  const s = seeds[c.seed % Math.max(1, seeds.length)];
  const b = mutate(reorder(s?.bytes ?? new Uint8Array(0), c.frameOps), c.mutations, s?.hot ?? []);
  return c.refit ? refit(b) : b;
};

/** What an accepted stream's RAM frames put where (the reader accepted it: its layout is sound). */
function expectedRam(b: Uint8Array, bytes: number): Uint8Array {
  const ram = new Uint8Array(bytes);
  for (let at = 12; at < b.length;) {
    const end = at + 16 + Number(u64(b, at + 8));
    if (u32(b, at) === TAG.RAM) ram.set(b.subarray(at + 28, end), Number(u64(b, at + 16)) * 4096);
    at = end + 4;
  }
  return ram;
}

export const stateStream: FuzzTarget<StateStreamCase, Ctx> = {
  name: 'state-stream',
  async: true,
  fromCorpus(files: readonly CorpusFile[]) {
    seeds = files.map((f) => ({ bytes: f.bytes, hot: hotOffsets(f.bytes) }));
    return seeds.map((_, seed) => ({ seed, frameOps: [], mutations: [], refit: false, viaFile: seed === 0 }));
  },
  arbitrary: (s) => fc.record({
    seed: fc.nat(Math.max(0, s.length - 1)),
    frameOps: fc.oneof(
      { weight: 3, arbitrary: fc.constant<FrameOp[]>([]) },
      { weight: 1, arbitrary: fc.array<FrameOp>(fc.oneof(
        fc.record({ op: fc.constantFrom('drop' as const, 'repeat' as const), i: fc.nat(16) }),
        fc.record({ op: fc.constant('swap' as const), i: fc.nat(16), j: fc.nat(16) }),
      ), { minLength: 1, maxLength: 2 }) },
    ),
    mutations: fc.array(mutationArb(), { maxLength: 6 }),
    refit: fc.boolean(),
    viaFile: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  }).filter((c) => c.frameOps.length + c.mutations.length > 0), // the corpus itself is replayed first
  async setup() { return { dir: mkdtempSync(join(tmpdir(), 'tshv-fuzz-state-')), n: 0 }; },
  async teardown(ctx) { rmSync(ctx.dir, { recursive: true, force: true }); },
  expected: (e) => e instanceof StateStreamError,
  // The reader's read-ahead buffer and a payload are at most the stream's size (a few KiB).
  // This target itself holds two RAM-sized arrays of at most MAX_RAM each (the RAM read and
  // the RAM expected); counting only one made an accepted 4 MiB stream a finding.
  memoryBound: () => 2 * MAX_RAM + (8 << 20),
  show: (c) => `${show(c)}\n  bytes: ${hexdump(bytesOf(c), 160)}`,
  async run(c, ctx) {
    const bytes = bytesOf(c);
    let source: string | Uint8Array = bytes;
    if (c.viaFile) {
      source = join(ctx.dir, `case-${ctx.n++ % 4}.tshvstate`);
      writeFileSync(source, bytes);
    }
    const unmutated = c.mutations.length === 0 && c.frameOps.length === 0;
    let stream;
    try {
      stream = await openStateStream(source);
    } catch (e) {
      check(!unmutated, `a corpus stream was refused: ${String(e)}`);
      throw e;
    }
    try {
      if (stream.memoryBytes > MAX_RAM) { note('opened; RAM too large to read here'); return; }
      const ram = new Uint8Array(stream.memoryBytes);
      try {
        await stream.readRam(ram);
      } catch (e) {
        check(!unmutated, `a corpus stream's RAM was refused: ${String(e)}`);
        throw e;
      }
      note(unmutated ? 'corpus stream read' : 'mutated stream read');
      check(Buffer.from(ram).equals(expectedRam(bytes, ram.length)), 'RAM differs from what the RAM frames hold');
    } finally {
      await stream.close();
    }
  },
};
