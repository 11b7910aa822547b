// Writes a VM's saved state as a state stream (format.ts). The caller has stopped the VPs
// and the devices: RAM is read as it is while the stream is written, checked and written
// from the same views, never copied. Everything that can be refused (a RAM size, a state too
// large or not JSON) is refused before the file is touched; a stream to a path goes to
// PATH.tmp, is made durable, then renamed, so a crash or an error never leaves a
// half-written file under the final name (nor, on an error, the .tmp).
//
// The RAM frames are written in batches of up to BATCH_BYTES by one writev each, and the
// next batch is scanned and checked while the previous one is being written (libuv's
// thread pool does the write), so the pause is about the longer of the two, not their sum.
import { constants } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  END_BYTES, FRAME_HEADER_BYTES, MAX_CONFIG_JSON_BYTES, MAX_RUN_PAGES, MAX_STATE_JSON_BYTES, PAGE_BYTES, RUN_HEADER_BYTES, RunningCheck,
  StateStreamError, TAG, encodeCheck, encodeFrameHeader, encodeHeader, validMemoryBytes,
} from './format.js';
import { nonZeroRuns } from './page-scan.js';

export interface StateStreamContents {
  /** The machine configuration: any JSON value (the reader hands it to a validator). */
  config: unknown;
  /** The devices' and VPs' state: any JSON value. */
  state: unknown;
  /** Guest RAM: whole 4 KiB pages; its length is the stream's memoryBytes. */
  ram: Uint8Array;
  /** RAM bytes scanned so far, of ram.length: monotonic, and called with ram.length last. */
  onProgress?(doneBytes: number, totalBytes: number): void;
  /** The VM's written-page log: pages it says were never written are zero, and are not read. */
  written?: (page: number) => boolean;
}

export interface WriteResult {
  /** Bytes of the stream. */
  bytes: number;
  /** Pages written, and pages skipped for being zero. */
  ramPages: number;
  zeroPages: number;
}

/** Bytes of RAM frames handed to one writev, and buffers in it (IOV_MAX is 1024). */
const BATCH_BYTES = 8 << 20;
const BATCH_BUFFERS = 600;
/** Bytes written between the fdatasyncs a durable write starts on the way. */
const SYNC_BYTES = 32 << 20;

/**
 * Writes the stream to `target`: a path (atomically, through PATH.tmp, mode 0600: guest
 * RAM holds the guest's secrets) or an open FileHandle of a regular file (the stream
 * replaces its contents; the caller owns the handle: syncs and closes it).
 */
export async function writeStateStream(target: string | FileHandle, contents: StateStreamContents): Promise<WriteResult> {
  const { ram } = contents;
  if (!validMemoryBytes(ram.length)) throw new StateStreamError(`RAM of ${ram.length} bytes cannot be saved: not whole 4 KiB pages within the machine's limit`);
  const config = encodeJson('machine configuration', contents.config, MAX_CONFIG_JSON_BYTES);
  const state = encodeJson('device state', contents.state, MAX_STATE_JSON_BYTES);

  if (typeof target !== 'string') {
    const result = await writeFrames(new FrameSink(target, 'state stream', false), ram, config, state, contents.onProgress, contents.written);
    await target.truncate(result.bytes).catch((e) => { throw ioError('state stream', 'truncate', e); });
    return result;
  }
  const tmp = `${target}.tmp`;
  let fh: FileHandle | undefined;
  try {
    // O_NOFOLLOW: a link planted at PATH.tmp does not redirect guest RAM elsewhere.
    fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600)
      .catch((e) => { throw ioError(tmp, 'create', e); });
    const result = await writeFrames(new FrameSink(fh, tmp, true), ram, config, state, contents.onProgress, contents.written);
    await fh.datasync().catch((e) => { throw ioError(tmp, 'sync', e); });
    await fh.close().catch((e) => { throw ioError(tmp, 'close', e); });
    fh = undefined;
    await rename(tmp, target).catch((e) => { throw ioError(target, 'rename into place', e); });
    await syncDirectory(dirname(target));
    return result;
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

async function writeFrames(sink: FrameSink, ram: Uint8Array, config: Uint8Array, state: Uint8Array, onProgress: StateStreamContents['onProgress'],
  written: StateStreamContents['written']): Promise<WriteResult> {
  sink.header(encodeHeader());
  const conf = new Uint8Array(8 + config.length);
  new DataView(conf.buffer).setBigUint64(0, BigInt(ram.length), true);
  conf.set(config, 8);
  sink.frame(TAG.CONF, conf);
  sink.frame(TAG.STAT, new Uint8Array(0), state);
  let ramPages = 0;
  for (const run of nonZeroRuns(ram, MAX_RUN_PAGES, written)) {
    const head = new Uint8Array(RUN_HEADER_BYTES);
    const v = new DataView(head.buffer);
    v.setBigUint64(0, BigInt(run.first), true);
    v.setUint32(8, run.count, true);
    sink.frame(TAG.RAM, head, ram.subarray(run.first * PAGE_BYTES, (run.first + run.count) * PAGE_BYTES));
    ramPages += run.count;
    if (sink.queuedBytes >= BATCH_BYTES || sink.queuedBuffers >= BATCH_BUFFERS) {
      await sink.flush();
      onProgress?.((run.first + run.count) * PAGE_BYTES, ram.length);
    }
  }
  const end = new Uint8Array(END_BYTES);
  const v = new DataView(end.buffer);
  v.setBigUint64(0, BigInt(ramPages), true);
  v.setBigUint64(8, BigInt(sink.frames), true);
  sink.frame(TAG.END, end);
  await sink.finish();
  onProgress?.(ram.length, ram.length);
  return { bytes: sink.offset, ramPages, zeroPages: ram.length / PAGE_BYTES - ramPages };
}

/**
 * Frames queued as buffers and written in order, one writev in flight at a time, the
 * running check following every byte as it is queued. A frame is two buffers: the
 * previous frame's check, this frame's header and the small start of its payload in one,
 * and its body (a view of RAM) as it is. A durable sink also starts an fdatasync every
 * SYNC_BYTES, so the disk writes the stream while the rest is scanned, rather than all of
 * it in the final sync.
 */
class FrameSink {
  private readonly check = new RunningCheck();
  private queue: Uint8Array[] = [];
  private pending: Promise<void> = Promise.resolve();
  private syncing: Promise<void> = Promise.resolve();
  private synced = true;
  private unsynced = 0;
  /** The check of the last frame queued, not yet queued itself. */
  private lastCheck: Uint8Array | undefined;
  /** Stream offset of the next byte queued. */
  offset = 0;
  queuedBytes = 0;
  frames = 0;

  constructor(private readonly fh: FileHandle, private readonly name: string, private readonly durable: boolean) {}

  get queuedBuffers(): number { return this.queue.length; }

  header(b: Uint8Array): void { this.put(b); }

  frame(tag: number, head: Uint8Array, body?: Uint8Array): void {
    const before = this.lastCheck?.length ?? 0;
    const start = new Uint8Array(before + FRAME_HEADER_BYTES + head.length);
    if (this.lastCheck) start.set(this.lastCheck);
    start.set(encodeFrameHeader({ tag, flags: 0, length: BigInt(head.length + (body?.length ?? 0)) }), before);
    start.set(head, before + FRAME_HEADER_BYTES);
    this.put(start);
    if (body) this.put(body);
    this.lastCheck = encodeCheck(this.check.value);
    this.frames++;
  }

  /** Hands the queue to the file once the previous write has finished. */
  async flush(): Promise<void> {
    await this.pending;
    if (this.durable && this.unsynced >= SYNC_BYTES && this.synced) {
      await this.syncing; // throws if the last one failed
      this.unsynced = 0;
      this.synced = false;
      this.syncing = this.fh.datasync().then(() => { this.synced = true; }, (e) => { this.synced = true; throw ioError(this.name, 'sync', e); });
      this.syncing.catch(() => undefined); // awaited by the next one or finish
    }
    const buffers = this.queue, at = this.offset - this.queuedBytes;
    this.unsynced += this.queuedBytes;
    this.queue = [];
    this.queuedBytes = 0;
    this.pending = writeAll(this.fh, this.name, buffers, at);
    this.pending.catch(() => undefined); // awaited by the next flush or finish
  }

  /** Queues the last check and waits for every write (and sync) started. */
  async finish(): Promise<void> {
    if (this.lastCheck) this.put(this.lastCheck);
    this.lastCheck = undefined;
    await this.flush();
    await this.pending;
    await this.syncing;
  }

  private put(b: Uint8Array): void {
    this.check.update(b);
    this.queue.push(b);
    this.queuedBytes += b.length;
    this.offset += b.length;
  }
}

/** Writes every byte of `buffers` at `position` (writev may write less than asked). */
async function writeAll(fh: FileHandle, name: string, buffers: Uint8Array[], position: number): Promise<void> {
  let rest = buffers;
  while (rest.length > 0) {
    let { bytesWritten } = await fh.writev(rest, position).catch((e) => { throw ioError(name, `write at ${position}`, e); });
    if (bytesWritten === 0) throw ioError(name, `write at ${position}`, new Error('no progress'));
    position += bytesWritten;
    let i = 0;
    while (i < rest.length && bytesWritten >= rest[i]!.length) bytesWritten -= rest[i++]!.length;
    rest = rest.slice(i);
    if (bytesWritten > 0) rest[0] = rest[0]!.subarray(bytesWritten);
  }
}

/** A value as JSON bytes, within the reader's bound for it. */
function encodeJson(what: string, value: unknown, maxBytes: number): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new StateStreamError(`the ${what} cannot be saved: ${(e as Error).message}`, { cause: e });
  }
  if (text === undefined) throw new StateStreamError(`the ${what} cannot be saved: it is not a JSON value`);
  // A UTF-16 unit is at most 3 bytes of UTF-8: a string far over the bound is refused before it is encoded.
  if (text.length > maxBytes) throw new StateStreamError(`the ${what} is larger than ${maxBytes} bytes`);
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > maxBytes) throw new StateStreamError(`the ${what} is larger than ${maxBytes} bytes`);
  return bytes;
}

function ioError(path: string, op: string, e: unknown): StateStreamError {
  return new StateStreamError(`${path}: cannot ${op}: ${(e as Error).message}`, { cause: e });
}

/** Makes the rename durable. Best effort: some file systems refuse fsync on a directory. */
async function syncDirectory(dir: string): Promise<void> {
  const d = await open(dir, constants.O_RDONLY).catch(() => undefined);
  if (!d) return;
  await d.sync().catch(() => undefined);
  await d.close().catch(() => undefined);
}
