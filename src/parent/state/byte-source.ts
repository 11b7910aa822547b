// The reader's side of a state stream: bytes in order from a file or an array, through one
// bounded read-ahead buffer. Small things (frame headers, runs of a page or two) come from
// the buffer, so a stream of scattered pages costs a read per megabyte rather than three
// per page; a payload larger than half the buffer is read straight into its destination
// (guest RAM), so memory is never held twice. Running out of bytes early is a
// StateStreamError naming the offset and what was being read.
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { StateStreamError } from './format.js';

/** Reads into `into` at `position`; returns how many bytes came (0: the stream ended). */
export type ReadAt = (into: Uint8Array, position: number) => Promise<number>;

const BUFFER_BYTES = 1 << 20;
/** Bytes of a stream source held unread before the stream is paused. */
const STREAM_HIGH_WATER = 16 << 20;
/**
 * Chunks of a stream source held unread before the stream is paused: a sender of many tiny
 * pieces (a WebSocket message is a chunk) would otherwise queue millions under the byte
 * bound, each an object far larger than its byte.
 */
const STREAM_MAX_CHUNKS = 4096;
const TAKEN = new Uint8Array(0);

export class ByteSource {
  private readonly buf: Uint8Array;
  /** The unread bytes are buf[start, end); buf[end] is the source's byte at `next`. */
  private start = 0;
  private end = 0;
  private next = 0;

  /** `size`: the stream's length, which every length in it is checked against before it is read. */
  constructor(private readonly readAt: ReadAt, readonly size: number, readonly name: string) {
    this.buf = new Uint8Array(Math.max(64, Math.min(BUFFER_BYTES, size)));
  }

  static ofFile(fh: FileHandle, size: number, name: string): ByteSource {
    return new ByteSource(async (into, position) => {
      try {
        return (await fh.read(into, 0, into.length, position)).bytesRead;
      } catch (e) {
        throw new StateStreamError(`${name}: read of ${into.length} bytes at ${position} failed: ${(e as Error).message}`, { cause: e });
      }
    }, size, name);
  }

  static ofBytes(bytes: Uint8Array, name = 'state stream'): ByteSource {
    return new ByteSource(async (into, position) => {
      const part = bytes.subarray(Math.min(position, bytes.length), Math.min(position + into.length, bytes.length));
      into.set(part);
      return part.length;
    }, bytes.length, name);
  }

  /**
   * Bytes as they arrive on a stream (a migration's connection). Its size is not known,
   * so only each frame's own bound limits what a length may claim. The stream is paused
   * while more than STREAM_HIGH_WATER bytes or STREAM_MAX_CHUNKS chunks wait unread: a
   * fast sender cannot fill memory.
   */
  static ofReadable(stream: Readable, name: string): ByteSource {
    // The unread chunks are chunks[head..]: taken by index, since shift() costs time in the
    // queue's length, which made a stream of many small pieces quadratic.
    let chunks: Uint8Array[] = [], head = 0;
    let queued = 0, consumed = 0, ended = false, failure: Error | undefined, wake: (() => void) | undefined;
    const poke = () => { const w = wake; wake = undefined; w?.(); };
    const unread = () => chunks.length - head;
    stream.on('data', (c: Buffer) => {
      chunks.push(c);
      queued += c.length;
      if (queued >= STREAM_HIGH_WATER || unread() >= STREAM_MAX_CHUNKS) stream.pause();
      poke();
    });
    stream.on('end', () => { ended = true; poke(); });
    stream.on('close', () => { ended = true; poke(); });
    stream.on('error', (e) => { failure = e; poke(); });
    return new ByteSource(async (into, position) => {
      if (position !== consumed) throw new RangeError('a stream is read in order');
      while (unread() === 0) {
        if (failure) throw new StateStreamError(`${name}: ${failure.message}`, { cause: failure });
        if (ended) return 0;
        await new Promise<void>((r) => { wake = r; });
      }
      let n = 0;
      while (n < into.length && unread() > 0) {
        const c = chunks[head]!, take = Math.min(c.length, into.length - n);
        into.set(c.subarray(0, take), n);
        n += take;
        if (take === c.length) chunks[head++] = TAKEN; else chunks[head] = c.subarray(take);
      }
      // A chunk taken is let go at once (TAKEN in its place); its slots, now and then.
      if (head === chunks.length) { chunks = []; head = 0; } else if (head >= STREAM_MAX_CHUNKS) { chunks = chunks.slice(head); head = 0; }
      queued -= n;
      consumed += n;
      if (queued < STREAM_HIGH_WATER / 2 && unread() < STREAM_MAX_CHUNKS / 2 && stream.isPaused()) stream.resume();
      return n;
    }, Number.MAX_SAFE_INTEGER, name);
  }

  /** Bytes consumed so far: the offset of the next byte a caller gets. */
  get offset(): number { return this.next - (this.end - this.start); }

  /** Bytes left before the end. */
  get remaining(): number { return this.size - this.offset; }

  /** The next n bytes (n at most the buffer's size), as a view valid until the next call. */
  async take(n: number, what: string): Promise<Uint8Array> {
    const out = await this.takeUpTo(n);
    if (out.length < n) throw this.truncated(what);
    return out;
  }

  /** The next n bytes, or fewer if the stream ends first (a view, as take's). */
  async takeUpTo(n: number): Promise<Uint8Array> {
    if (n > this.buf.length) throw new RangeError(`take(${n}) exceeds the read-ahead buffer`);
    while (this.end - this.start < n) {
      if (this.start + n > this.buf.length) this.compact();
      if (await this.readMore() === 0) break;
    }
    const out = this.buf.subarray(this.start, Math.min(this.start + n, this.end));
    this.start += out.length;
    return out;
  }

  /** Fills all of `into` with the next bytes. */
  async fill(into: Uint8Array, what: string): Promise<void> {
    let done = Math.min(this.end - this.start, into.length);
    into.set(this.buf.subarray(this.start, this.start + done));
    this.start += done;
    while (done < into.length) {
      const left = into.length - done;
      if (left >= this.buf.length >> 1) {
        const n = await this.readAt(into.subarray(done), this.next);
        if (n === 0) throw this.truncated(what);
        this.next += n;
        done += n;
      } else {
        this.compact();
        if (await this.readMore() === 0) throw this.truncated(what);
        const n = Math.min(this.end - this.start, left);
        into.set(this.buf.subarray(this.start, this.start + n), done);
        this.start += n;
        done += n;
      }
    }
  }

  /** True if no byte follows (reading to see: a file may have grown). */
  async atEnd(): Promise<boolean> {
    if (this.end > this.start) return false;
    this.compact();
    return await this.readMore() === 0;
  }

  /** A StateStreamError for the stream ending early: at `at`, by default where reading stopped. */
  truncated(what: string, at = this.next): StateStreamError {
    return new StateStreamError(`${this.name}: truncated at byte ${at}, in ${what}`);
  }

  private compact(): void {
    this.buf.copyWithin(0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
  }

  private async readMore(): Promise<number> {
    const n = await this.readAt(this.buf.subarray(this.end), this.next);
    this.end += n;
    this.next += n;
    return n;
  }
}
