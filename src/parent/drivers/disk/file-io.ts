// Positioned file I/O for the disk drivers: whole-buffer reads and writes on a FileHandle
// (libuv's thread pool does the work), with host errors turned into DiskErrors that name
// the image. Buffers may be views over guest RAM (a SharedArrayBuffer): FileHandle.read and
// write take any ArrayBufferView and copy nothing.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { DiskError } from './block-device.js';

/**
 * Opens an image file; a missing file or a permission problem becomes a DiskError. Only a
 * regular file or a block device is a disk image: a path from an untrusted image (a backing
 * file name) may name a FIFO, whose open would wait for a writer forever on one of libuv's
 * few threads, or a character device. O_NONBLOCK makes that open return, then the type is
 * checked on the descriptor itself (it has no effect on regular files and block devices).
 */
export async function openImageFile(path: string, writable: boolean): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(path, (writable ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NONBLOCK);
  } catch (e) {
    throw fileError(path, e, 'open');
  }
  let st;
  try {
    st = await fh.stat();
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw fileError(path, e, 'stat');
  }
  if (!st.isFile() && !st.isBlockDevice()) {
    await fh.close().catch(() => undefined);
    throw new DiskError(`${path}: is not a regular file or a block device, so not a disk image`, 'unsupported');
  }
  return fh;
}

/**
 * Reads into.length bytes at pos. Bytes past the end of the file read as zero (a sparse or
 * short image: qcow2 clusters allocated but never written, a raw file shrunk under us).
 */
export async function readAt(fh: FileHandle, path: string, into: Uint8Array, pos: number): Promise<void> {
  let done = 0;
  try {
    while (done < into.length) {
      const { bytesRead } = await fh.read(into, done, into.length - done, pos + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
  } catch (e) {
    throw fileError(path, e, `read of ${into.length} bytes at ${pos}`);
  }
  if (done < into.length) into.fill(0, done);
}

/** Writes all of data at pos. */
export async function writeAt(fh: FileHandle, path: string, data: Uint8Array, pos: number): Promise<void> {
  let done = 0;
  try {
    while (done < data.length) {
      const { bytesWritten } = await fh.write(data, done, data.length - done, pos + done);
      done += bytesWritten;
    }
  } catch (e) {
    throw fileError(path, e, `write of ${data.length} bytes at ${pos}`);
  }
}

/** The buffers left after skipping `n` bytes of them (views, no copies). */
function skipBytes(buffers: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of buffers) {
    if (n >= b.length) { n -= b.length; continue; }
    out.push(n > 0 ? b.subarray(n) : b);
    n = 0;
  }
  return out;
}

/**
 * Fills the buffers, one after another, from the bytes at pos, with as few preadv calls as
 * the kernel allows (one, normally); bytes past the end of the file read as zero.
 */
export async function readvAt(fh: FileHandle, path: string, into: readonly Uint8Array[], pos: number): Promise<void> {
  const total = into.reduce((n, b) => n + b.length, 0);
  let done = 0;
  try {
    while (done < total) {
      const { bytesRead } = await fh.readv(skipBytes(into, done), pos + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
  } catch (e) {
    throw fileError(path, e, `read of ${total} bytes at ${pos}`);
  }
  for (const b of skipBytes(into, done)) b.fill(0);
}

/** Writes the buffers, one after another, at pos (pwritev). */
export async function writevAt(fh: FileHandle, path: string, data: readonly Uint8Array[], pos: number): Promise<void> {
  const total = data.reduce((n, b) => n + b.length, 0);
  let done = 0;
  try {
    while (done < total) {
      const { bytesWritten } = await fh.writev(skipBytes(data, done), pos + done);
      done += bytesWritten;
    }
  } catch (e) {
    throw fileError(path, e, `write of ${total} bytes at ${pos}`);
  }
}

export async function syncData(fh: FileHandle, path: string): Promise<void> {
  try {
    await fh.datasync();
  } catch (e) {
    throw fileError(path, e, 'fdatasync');
  }
}

export async function fileSize(fh: FileHandle, path: string): Promise<number> {
  try {
    return (await fh.stat()).size;
  } catch (e) {
    throw fileError(path, e, 'stat');
  }
}

/** A host error as a DiskError with the file and the operation in the message. */
export function fileError(path: string, e: unknown, what: string): DiskError {
  if (e instanceof DiskError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new DiskError(`${path}: no such file`, 'missing');
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new DiskError(`${path}: ${what}: permission denied (${code})`, 'read-only');
  }
  if (code === 'EISDIR') return new DiskError(`${path}: is a directory, not a disk image`, 'io');
  const message = e instanceof Error ? e.message : String(e);
  return new DiskError(`${path}: ${what} failed: ${message}`, 'io');
}
