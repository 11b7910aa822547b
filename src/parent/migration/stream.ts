// The migration stream: a running VM as it moves from one host to another, on one
// connection (docs/migration.md). It is framed like a state file (state/format.ts: tag,
// flags, length, payload, and a CRC-32 over every byte of the stream so far after each
// frame) but is read as it arrives, so its frames are those of a VM in motion:
//
//   stream  = "TSHVMIGR" | u32 version | frame*
//   HELO    JSON: what the destination's host needs to take the VM over (its identity)
//   CONF    u64 memoryBytes | the machine configuration, JSON (as in a state file)
//   DSKS    JSON: the disks the stream carries ([] when both hosts see the images): for
//           each of the machine's disks, {size, format, readOnly}, for the destination
//           to make an image of (a shared-nothing migration, docs/migration.md "Disks")
//   DBLK    u32 disk | u32 0 | u64 offset | bytes of that disk (whole sectors, at most
//           MAX_DISK_RUN_BYTES; a range may come again later: the last copy wins)
//   DZER    u32 disk | u32 length | u64 offset: these bytes of that disk are zero now
//   PASS    u32 pass number | u32 pages the pass sends (progress; the pages follow)
//   RAM     u64 first page | u32 count (1..MAX_RUN_PAGES) | the pages (a page may come
//           again in a later pass: the last copy wins)
//   RAMZ    u64 first page | u32 count | the pages, deflated (raw deflate, RFC 1951): sent
//           instead of RAM where the link is slow and the pages shrink
//   ZERO    u64 first page | u32 count: these pages are all zero now
//   SYNC    u32 pass: answered with a 'synced' line once everything before it is read,
//           so the source knows the link's real throughput and starts the stop-and-copy
//           with nothing of the passes still in flight
//   STAT    f64 when the guest's last instruction ran (epoch ms) | the machine state, JSON
//   END     u64 pages sent | u64 frames before END; nothing follows it
//
// The destination answers on the same connection, one JSON object per line (Reply).
// Everything the source sends is untrusted there: each frame is bounded before it is
// read, each page run checked against the machine's memory.
import type { Writable } from 'node:stream';
import {
  FRAME_HEADER_BYTES, MAX_CONFIG_JSON_BYTES, MAX_RUN_PAGES, MAX_STATE_JSON_BYTES, PAGE_BYTES, RUN_HEADER_BYTES, END_BYTES,
  RunningCheck, StateStreamError, TAG, encodeCheck, encodeFrameHeader, frameTag,
} from '../state/format.js';
import type { FormatRules } from '../state/reader.js';

export const MIGRATION_MAGIC = 'TSHVMIGR';
export const MIGRATION_VERSION = 2;
export const MIGRATION_HEADER_BYTES = 12;

export const MTAG = {
  HELO: frameTag('HELO'), CONF: TAG.CONF, DSKS: frameTag('DSKS'), DBLK: frameTag('DBLK'), DZER: frameTag('DZER'), PASS: frameTag('PASS'), SYNC: frameTag('SYNC'), RAM: TAG.RAM, RAMZ: frameTag('RAMZ'), ZERO: frameTag('ZERO'), STAT: TAG.STAT, END: TAG.END,
} as const;
export const MAX_IDENTITY_JSON_BYTES = 1 << 20;
export const PASS_BYTES = 8;
export const SYNC_BYTES = 4;
export const STAT_HEAD_BYTES = 8;
export const DISK_HEAD_BYTES = 16;
/** The most bytes of a disk one DBLK or DZER frame covers. */
export const MAX_DISK_RUN_BYTES = 1 << 20;
/** The largest DSKS frame: a handful of disks, each a short object. */
export const MAX_DISKS_JSON_BYTES = 16 << 10;
/** The largest piece handed to the connection in one write. */
const WRITE_BYTES = 256 << 10;

/** The largest payload of each frame (FrameReader refuses a longer one before reading it). */
export const MIGRATION_RULES: FormatRules = {
  maxPayload: new Map([
    [MTAG.HELO, MAX_IDENTITY_JSON_BYTES], [MTAG.CONF, 8 + MAX_CONFIG_JSON_BYTES], [MTAG.PASS, PASS_BYTES], [MTAG.SYNC, SYNC_BYTES],
    [MTAG.RAM, RUN_HEADER_BYTES + MAX_RUN_PAGES * PAGE_BYTES], [MTAG.RAMZ, RUN_HEADER_BYTES + MAX_RUN_PAGES * PAGE_BYTES],
    [MTAG.ZERO, RUN_HEADER_BYTES],
    [MTAG.DSKS, MAX_DISKS_JSON_BYTES], [MTAG.DBLK, DISK_HEAD_BYTES + MAX_DISK_RUN_BYTES], [MTAG.DZER, DISK_HEAD_BYTES],
    [MTAG.STAT, STAT_HEAD_BYTES + MAX_STATE_JSON_BYTES], [MTAG.END, END_BYTES],
  ]),
};

/** The destination's answers, one JSON line each. */
export type Reply =
  /** The VM is accepted and its memory made: send RAM. */
  | { type: 'ready' }
  /** Everything up to the SYNC of `pass` is read. */
  | { type: 'synced'; pass: number }
  /** The VM runs here; its first instruction ran at `at` (epoch ms). */
  | { type: 'running'; at: number }
  | { type: 'error'; message: string };

/** A migration that cannot go on: the message says why (either side's). */
export class MigrationError extends StateStreamError {
  override readonly name = 'MigrationError';
}

/**
 * Frames written to a connection in order, the running check following every byte. Writes
 * are corked between flushes (a pass's small frames leave in few packets), and flush
 * waits while the connection's buffer is full: the link sets the pace.
 */
export class FrameWriter {
  private readonly check = new RunningCheck();
  /** Bytes written so far. */
  bytes = 0;
  frames = 0;
  private corked = false;

  constructor(private readonly out: Writable) {}

  header(): void {
    const b = new Uint8Array(MIGRATION_HEADER_BYTES);
    for (let i = 0; i < MIGRATION_MAGIC.length; i++) b[i] = MIGRATION_MAGIC.charCodeAt(i);
    new DataView(b.buffer).setUint32(8, MIGRATION_VERSION, true);
    this.put(b);
  }

  frame(tag: number, head: Uint8Array, body?: Uint8Array): void {
    const start = new Uint8Array(FRAME_HEADER_BYTES + head.length);
    start.set(encodeFrameHeader({ tag, flags: 0, length: BigInt(head.length + (body?.length ?? 0)) }));
    start.set(head, FRAME_HEADER_BYTES);
    this.put(start);
    if (body) this.put(body);
    this.put(encodeCheck(this.check.value));
    this.frames++;
  }

  /** A run of pages: RAM with their bytes, RAMZ with them deflated (a buffer of its own, not copied), or ZERO. */
  run(tag: typeof MTAG.RAM | typeof MTAG.RAMZ | typeof MTAG.ZERO, first: number, count: number, pages?: Uint8Array): void {
    const head = new Uint8Array(RUN_HEADER_BYTES);
    const v = new DataView(head.buffer);
    v.setBigUint64(0, BigInt(first), true);
    v.setUint32(8, count, true);
    // A copy goes out, not the live pages: the guest may change them before the socket
    // sends them, and the check must cover the bytes sent (a later pass sends the change).
    this.frame(tag, head, tag === MTAG.RAM ? pages?.slice() : pages);
  }

  /** Bytes of a disk (DBLK, a copy of `bytes` is not made: the caller's buffer is its own), or zeros (DZER). */
  disk(disk: number, offset: number, bytes: Uint8Array | number): void {
    const head = new Uint8Array(DISK_HEAD_BYTES);
    const v = new DataView(head.buffer);
    v.setUint32(0, disk, true);
    v.setUint32(4, typeof bytes === 'number' ? bytes : 0, true);
    v.setBigUint64(8, BigInt(offset), true);
    if (typeof bytes === 'number') this.frame(MTAG.DZER, head);
    else this.frame(MTAG.DBLK, head, bytes);
  }

  json(tag: number, value: unknown, prefix = new Uint8Array(0)): void {
    this.frame(tag, prefix, Buffer.from(JSON.stringify(value), 'utf8'));
  }

  /** Sends what is queued; resolves when the connection can take more. */
  async flush(): Promise<void> {
    if (this.corked) { this.corked = false; this.out.uncork(); }
    if (this.out.writableNeedDrain) await waitDrain(this.out);
  }

  private put(b: Uint8Array): void {
    if (!this.corked) { this.corked = true; this.out.cork(); }
    this.check.update(b);
    // In pieces: a WebSocket carries each write as one message, and the receiver bounds those.
    for (let at = 0; at < b.length; at += WRITE_BYTES) this.out.write(b.subarray(at, at + WRITE_BYTES));
    this.bytes += b.length;
  }
}

function waitDrain(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => { out.off('drain', done); out.off('close', closed); out.off('error', failed); resolve(); };
    const closed = () => { out.off('drain', done); out.off('error', failed); reject(new MigrationError('the connection closed')); };
    const failed = (e: Error) => { out.off('drain', done); out.off('close', closed); reject(new MigrationError(`the connection failed: ${e.message}`)); };
    out.once('drain', done);
    out.once('close', closed);
    out.once('error', failed);
  });
}
