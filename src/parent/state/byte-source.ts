// The reader's side of a state stream: bytes in order from a file or an array, through one
// bounded read-ahead buffer. Small things (frame headers, runs of a page or two) come from
// the buffer, so a stream of scattered pages costs a read per megabyte rather than three
// per page; a payload larger than half the buffer is read straight into its destination
// (guest RAM), so memory is never held twice. Running out of bytes early is a
// StateStreamError naming the offset and what was being read.
import type { FileHandle } from 'node:fs/promises';
import { StateStreamError } from './format.js';

/** Reads into `into` at `position`; returns how many bytes came (0: the stream ended). */
export type ReadAt = (into: Uint8Array, position: number) => Promise<number>;

const BUFFER_BYTES = 1 << 20;

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
