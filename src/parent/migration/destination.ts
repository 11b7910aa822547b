// The destination's side of a migration (docs/migration.md): reads the stream (stream.ts)
// as it arrives, RAM straight into the new VM's memory, and runs the VM once the machine
// state is in. The stream is untrusted: every frame is bounded before it is read (the
// shared FrameReader), every run of pages checked against the VM's memory, the identity
// and configuration validated (the host's accept() and parseSavedConfig) before memory
// is made. Any failure kills the half-made VM and is answered with an error line; the
// source then resumes the VM there.
import type { Duplex } from 'node:stream';
import { inflateRawSync } from 'node:zlib';
import { Vm, type RestoreOptions } from '../vm.js';
import { ByteSource } from '../state/byte-source.js';
import { FrameReader, type Frame } from '../state/reader.js';
import { END_BYTES, MAX_RUN_PAGES, PAGE_BYTES, RUN_HEADER_BYTES, tagName } from '../state/format.js';
import { parseSavedConfig, type SavedConfig } from '../machine/state.js';
import {
  DISK_HEAD_BYTES, MAX_DISK_RUN_BYTES, MIGRATION_HEADER_BYTES, MIGRATION_MAGIC, MIGRATION_RULES, MIGRATION_VERSION, MTAG, MigrationError, PASS_BYTES, STAT_HEAD_BYTES, SYNC_BYTES,
  type Reply,
} from './stream.js';
import type { MirroredDisk } from '../disk-mirror.js';
import { qcow2MaxSize } from '../drivers/disk/qcow2-create.js';
import { openDisk } from '../drivers/disk/open.js';
import type { BlockDevice } from '../drivers/disk/block-device.js';
import { TICKS_PER_MS } from '../../cpu/types.js';

export interface IncomingOptions {
  /**
   * Decides whether this host takes the VM (its identity and machine, both untrusted) and
   * how it runs here (its disks' paths, the image policy, the processors' tier); throws
   * to refuse, the message going back to the source.
   */
  accept(identity: unknown, config: SavedConfig, disks: MirroredDisk[]): Promise<RestoreOptions> | RestoreOptions;
  /** The VM being received exists (its threads load; it runs once its state is in): to follow it from the start. */
  created?(vm: Vm): void;
}

export interface IncomingVm {
  vm: Vm;
  identity: unknown;
  config: SavedConfig;
  /** When the guest's last instruction ran on the source and its first here (epoch ms). */
  pausedAt: number;
  startedAt: number;
}

/** Answers the source may leave unread before the stream is refused (a SYNC answer is ~30 bytes). */
const MAX_UNREAD_REPLY_BYTES = 64 << 10;

/** Guest time moves on by the time between hosts, up to this much (hosts' clocks may disagree). */
const MAX_ADVANCE_MS = 60 * 60 * 1000;

/**
 * Where an incoming stream goes (the Vm in migrateIn; plain memory in tests and the fuzzer).
 * begin() makes the VM's memory once the identity and machine are known (it may refuse);
 * finish() gets the machine state once RAM is complete and checked.
 */
export interface MigrationSink {
  begin(identity: unknown, config: SavedConfig, disks: MirroredDisk[]): Promise<{ ram: Uint8Array; markRun(first: number, count: number): void }>;
  /**
   * Bytes of disk `disk` at `offset` (or that many zero bytes), of a shared-nothing
   * migration; checked against the disks begin() was given. A sink without it refuses them.
   */
  disk?(disk: number, offset: number, data: Uint8Array | number): Promise<void>;
  /** Everything before the source's SYNC frame for `pass` is read (the source waits for this answer). */
  synced?(pass: number): void;
  finish(state: unknown, pausedAt: number): Promise<void>;
}

/**
 * Reads a migration stream (stream.ts) from `src` into `sink`, every field checked before
 * it is used. Resolves once finish() has; throws a StateStreamError (a MigrationError for
 * a wrong header) on the first thing wrong.
 */
export async function readMigration(src: ByteSource, sink: MigrationSink): Promise<void> {
  const frames = new FrameReader(src, MIGRATION_RULES);
  const header = await src.take(MIGRATION_HEADER_BYTES, 'the stream header');
  if ([...MIGRATION_MAGIC].some((c, i) => header[i] !== c.charCodeAt(0))) throw new MigrationError('not a tshv migration stream');
  const version = new DataView(header.buffer, header.byteOffset, MIGRATION_HEADER_BYTES).getUint32(8, true);
  if (version !== MIGRATION_VERSION) throw new MigrationError(`migration stream version ${version}; this tshv speaks version ${MIGRATION_VERSION}`);
  frames.check.update(header);

  const identity = parseBytes(frames, ...(await whole(frames, MTAG.HELO)), 'identity');
  const [confFrame, conf] = await whole(frames, MTAG.CONF);
  if (conf.length < 8) throw frames.error(confFrame, 'is too short to hold the memory size');
  const memoryBytes = new DataView(conf.buffer, conf.byteOffset, 8).getBigUint64(0, true);
  const config = parseSavedConfig(parseBytes(frames, confFrame, conf.subarray(8), 'machine configuration'));
  if (BigInt(config.memoryBytes) !== memoryBytes) throw frames.error(confFrame, `says ${memoryBytes} bytes of RAM, its configuration ${config.memoryBytes}`);
  const [disksFrame, disksJson] = await whole(frames, MTAG.DSKS);
  const disks = parseDisks(frames, disksFrame, parseBytes(frames, disksFrame, disksJson, 'disk list'), config);
  const { ram, markRun } = await sink.begin(identity, config, disks);
  if (ram.length !== config.memoryBytes) throw new RangeError('the sink gave memory of another size');

  const pages = ram.length / PAGE_BYTES;
  let pass = 0, pagesIn = 0;
  for (;;) {
    const f = await frames.next();
    if (f.tag === MTAG.PASS) {
      if (f.length !== PASS_BYTES) throw frames.error(f, `is ${f.length} bytes, not ${PASS_BYTES}`);
      pass = new DataView((await frames.payload(f)).buffer).getUint32(0, true);
    } else if (f.tag === MTAG.SYNC) {
      if (f.length !== SYNC_BYTES) throw frames.error(f, `is ${f.length} bytes, not ${SYNC_BYTES}`);
      sink.synced?.(new DataView((await frames.payload(f)).buffer).getUint32(0, true));
    } else if (f.tag === MTAG.RAM || f.tag === MTAG.RAMZ || f.tag === MTAG.ZERO) {
      const run = new DataView((await frames.part(f, RUN_HEADER_BYTES)).slice().buffer);
      const first = run.getBigUint64(0, true), count = run.getUint32(8, true);
      const bytes = f.tag === MTAG.RAM ? count * PAGE_BYTES : 0;
      const lengthOk = f.tag === MTAG.RAMZ ? f.length > RUN_HEADER_BYTES && f.length <= RUN_HEADER_BYTES + count * PAGE_BYTES : f.length === RUN_HEADER_BYTES + bytes;
      if (count < 1 || count > MAX_RUN_PAGES || !lengthOk) {
        throw frames.error(f, `a run of ${count} pages in ${f.length} bytes (a run is 1..${MAX_RUN_PAGES} pages)`);
      }
      if (first + BigInt(count) > BigInt(pages)) throw frames.error(f, `pages ${first}..${first + BigInt(count) - 1n} are beyond memory (${pages} pages)`);
      const at = Number(first) * PAGE_BYTES, span = ram.subarray(at, at + count * PAGE_BYTES);
      if (f.tag === MTAG.RAM) await frames.into(f, span);
      else if (f.tag === MTAG.ZERO) span.fill(0);
      else {
        const packed = new Uint8Array(f.length - RUN_HEADER_BYTES); // bounded by the frame's bound
        await frames.into(f, packed);
        inflateInto(frames, f, packed, span);
      }
      await frames.endFrame(f);
      markRun(Number(first), count);
      if (f.tag !== MTAG.ZERO) pagesIn += count;
    } else if (f.tag === MTAG.DBLK || f.tag === MTAG.DZER) {
      if (f.length < DISK_HEAD_BYTES) throw frames.error(f, 'is too short to say which disk');
      const head = new DataView((await frames.part(f, DISK_HEAD_BYTES)).slice().buffer);
      const disk = head.getUint32(0, true), zeros = head.getUint32(4, true), offset = head.getBigUint64(8, true);
      const length = f.tag === MTAG.DBLK ? f.length - DISK_HEAD_BYTES : zeros;
      const d = disks[disk];
      if (!d || !sink.disk) throw frames.error(f, `is for disk ${disk}, and the stream carries ${disks.length} disk(s)`);
      if (f.tag === MTAG.DBLK ? zeros !== 0 : f.length !== DISK_HEAD_BYTES) throw frames.error(f, 'is not laid out as its kind is');
      if (length < SECTOR || length > MAX_DISK_RUN_BYTES || length % SECTOR !== 0 || offset % BigInt(SECTOR) !== 0n || offset + BigInt(length) > BigInt(d.size)) {
        throw frames.error(f, `covers ${length} bytes at ${offset} of disk ${disk} (${d.size} bytes; whole sectors, at most ${MAX_DISK_RUN_BYTES} a frame)`);
      }
      if (f.tag === MTAG.DBLK) {
        const bytes = new Uint8Array(length); // bounded by the frame's bound
        await frames.into(f, bytes);
        await frames.endFrame(f);
        await sink.disk(disk, Number(offset), bytes);
      } else {
        await frames.endFrame(f);
        await sink.disk(disk, Number(offset), length);
      }
    } else if (f.tag === MTAG.STAT) {
      const payload = await frames.payload(f);
      if (payload.length < STAT_HEAD_BYTES) throw frames.error(f, 'is too short to hold when the guest stopped');
      const pausedAt = new DataView(payload.buffer, payload.byteOffset, STAT_HEAD_BYTES).getFloat64(0, true);
      if (!Number.isFinite(pausedAt)) throw frames.error(f, 'gives no time the guest stopped');
      const state = parseBytes(frames, f, payload.subarray(STAT_HEAD_BYTES), 'machine state');
      await readEnd(frames, pagesIn);
      await sink.finish(state, pausedAt);
      return;
    } else {
      throw frames.error(f, `is not expected here (pass ${pass})`);
    }
  }
}

/** Receives a VM from the source at the other end of `conn`; resolves once it runs here. */
export async function migrateIn(conn: Duplex, options: IncomingOptions): Promise<IncomingVm> {
  let incoming: ReturnType<typeof Vm.incoming> | undefined;
  let identity: unknown, config: SavedConfig | undefined, pausedAt = 0, startedAt = 0;
  // A shared-nothing migration's disks, written here as they come and closed before the VM opens them.
  let images: IncomingImages | undefined;
  try {
    await readMigration(ByteSource.ofReadable(conn, 'migration stream'), {
      begin: async (id, conf, disks) => {
        identity = id;
        config = conf;
        const restore = await options.accept(id, conf, disks);
        if (disks.length > 0) images = await IncomingImages.open(restore, disks);
        incoming = Vm.incoming(conf, restore);
        options.created?.(incoming.vm);
        reply(conn, { type: 'ready' });
        return incoming;
      },
      synced: (pass) => {
        // A source that sends SYNCs and never reads the answers would grow this side's
        // write buffer without end: past a bound, the stream is refused.
        if (conn.writableLength > MAX_UNREAD_REPLY_BYTES) throw new MigrationError('the source does not read the answers to its SYNC frames');
        reply(conn, { type: 'synced', pass });
      },
      disk: async (disk, offset, data) => {
        if (!images) throw new MigrationError('disk data in a migration that moves no disks');
        await images.write(disk, offset, data);
      },
      finish: async (state, at) => {
        await images?.close();
        pausedAt = at;
        const advanceMs = Math.min(Math.max(0, Date.now() - at), MAX_ADVANCE_MS);
        const started = untilStarted(incoming!.vm);
        incoming!.complete(state, BigInt(Math.round(advanceMs * TICKS_PER_MS)));
        startedAt = await started;
      },
    });
    reply(conn, { type: 'running', at: startedAt });
    conn.end();
    return { vm: incoming!.vm, identity, config: config!, pausedAt, startedAt };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    incoming?.vm.kill(`the incoming migration failed: ${message}`);
    await images?.close().catch(() => undefined);
    reply(conn, { type: 'error', message });
    conn.end();
    throw e instanceof MigrationError || !(e instanceof Error) ? e : new MigrationError(message, { cause: e });
  }
}

/** The images a shared-nothing migration writes the VM's disks into, on this side. */
class IncomingImages {
  private closed = false;
  private constructor(private readonly images: BlockDevice[]) {}

  /** Opens (writable, whatever the disk is to the guest) the images the host made for the disks. */
  static async open(restore: RestoreOptions, disks: readonly MirroredDisk[]): Promise<IncomingImages> {
    const paths = restore.disks ?? [];
    if (paths.length !== disks.length) throw new MigrationError(`${disks.length} disks come, and this host made ${paths.length} images for them`);
    const images: BlockDevice[] = [];
    try {
      for (const [i, d] of disks.entries()) {
        const image = await openDisk(paths[i]!.path, { format: d.format, policy: restore.imagePolicy });
        images.push(image);
        if (image.size !== d.size) throw new MigrationError(`${paths[i]!.path} holds ${image.size} bytes, and disk ${i} has ${d.size}`);
      }
    } catch (e) {
      for (const image of images) await image.close().catch(() => undefined);
      throw e;
    }
    return new IncomingImages(images);
  }

  async write(disk: number, offset: number, data: Uint8Array | number): Promise<void> {
    const image = this.images[disk]!;
    if (typeof data !== 'number') return image.write(offset, data);
    // Zeros where data was sent before: written out (a discard is only a hint).
    await image.write(offset, ZEROS.subarray(0, data));
  }

  /** Flushed and closed (unlocked), for the VM to open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const image of this.images) await image.close();
  }
}

const ZEROS = new Uint8Array(MAX_DISK_RUN_BYTES);

/**
 * A RAMZ frame's pages, inflated into `span`: exactly its length, no more (the output is
 * bounded before a byte is made: a small frame cannot inflate into a large allocation).
 */
function inflateInto(frames: FrameReader, f: Frame, packed: Uint8Array, span: Uint8Array): void {
  let pages: Buffer;
  try {
    pages = inflateRawSync(packed, { maxOutputLength: span.length });
  } catch (e) {
    throw frames.error(f, `holds pages that do not inflate to ${span.length} bytes: ${(e as Error).message}`);
  }
  if (pages.length !== span.length) throw frames.error(f, `inflates to ${pages.length} bytes, not the ${span.length} of its pages`);
  span.set(pages);
}

const SECTOR = 512;

/**
 * The DSKS frame's list: none, or one entry per disk of the machine, each a size in whole
 * sectors (at most what a qcow2 image maps), a format and a read-only flag.
 */
function parseDisks(frames: FrameReader, f: Frame, v: unknown, config: SavedConfig): MirroredDisk[] {
  if (!Array.isArray(v)) throw frames.error(f, 'holds no list of disks');
  if (v.length !== 0 && v.length !== config.disks.length) throw frames.error(f, `lists ${v.length} disks; the machine has ${config.disks.length}`);
  return v.map((d: unknown, i) => {
    const o = (typeof d === 'object' && d !== null ? d : {}) as Record<string, unknown>;
    const size = o['size'], format = o['format'], readOnly = o['readOnly'];
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < SECTOR || size % SECTOR !== 0 || size > qcow2MaxSize(16)
      || (format !== 'raw' && format !== 'qcow2') || typeof readOnly !== 'boolean' || Object.keys(o).length !== 3) {
      throw frames.error(f, `lists disk ${i} as ${JSON.stringify(d)?.slice(0, 200)} (expected {size, format: raw|qcow2, readOnly})`);
    }
    return { size, format, readOnly };
  });
}

/** The next frame, which must be `tag`, with its whole payload. */
async function whole(frames: FrameReader, tag: number): Promise<[Frame, Uint8Array]> {
  const f = await want(frames, tag);
  return [f, await frames.payload(f)];
}

async function want(frames: FrameReader, tag: number): Promise<Frame> {
  const f = await frames.next();
  if (f.tag !== tag) throw frames.error(f, `is here where ${tagName(tag)} was due`);
  return f;
}

async function readEnd(frames: FrameReader, pagesIn: number): Promise<void> {
  const f = await want(frames, MTAG.END);
  if (f.length !== END_BYTES) throw frames.error(f, `is ${f.length} bytes, not ${END_BYTES}`);
  const before = frames.count;
  const end = new DataView((await frames.payload(f)).buffer);
  const pages = end.getBigUint64(0, true), count = end.getBigUint64(8, true);
  if (pages !== BigInt(pagesIn) || count !== BigInt(before)) {
    throw frames.error(f, `says ${pages} pages in ${count} frames; the stream had ${pagesIn} pages in ${before} frames`);
  }
}

/** When the VM's partition runs (its first instruction), or why it stopped first. */
function untilStarted(vm: Vm): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = () => { vm.off('stopped', stopped); resolve(vm.runningSince ?? performance.timeOrigin + performance.now()); };
    const stopped = (r: { kind: string; message?: string }) => {
      vm.off('started', started);
      reject(new MigrationError(`the VM stopped before it ran here (${r.kind}${r.message ? `: ${r.message}` : ''})`));
    };
    vm.once('started', started);
    vm.once('stopped', stopped);
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseBytes(frames: FrameReader, f: Frame, bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch (e) {
    throw frames.error(f, `holds ${/^[aeiou]/.test(what) ? 'an' : 'a'} ${what} that is not valid JSON: ${(e as Error).message}`);
  }
}

function reply(conn: Duplex, r: Reply): void {
  if (!conn.writable) return;
  conn.write(JSON.stringify(r) + '\n');
}
