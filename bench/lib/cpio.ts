/**
 * A newc ("070701") cpio writer, for adding files to a guest's initramfs: Linux unpacks
 * every (gzipped) cpio archive concatenated in its initramfs, one after the other, so a
 * benchmark's initramfs is the default one's bytes followed by gzip(cpio(its files)).
 *
 * newc, per the kernel's Documentation/driver-api/early-userspace/buffer-format.rst: each
 * entry is a 110-byte header ("070701" and thirteen 8-digit hex fields), the name with its
 * NUL, zero-padded so the data starts on a 4-byte boundary, then the data, zero-padded to
 * 4 bytes; the archive ends with the entry "TRAILER!!!". Owner root, mtime 0, so the same
 * entries always give the same bytes.
 */

/** A directory (no data) or a regular file, created with `mode`'s permission bits. */
export interface CpioEntry {
  /** Relative to the archive's root, e.g. "bin/migload"; parent directories come first. */
  readonly path: string;
  /** Permission bits only, e.g. 0o755; the file type comes from `data`. */
  readonly mode: number;
  readonly data?: Uint8Array;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const TRAILER = 'TRAILER!!!';

export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((e, i) => {
    checkEntry(e);
    const isFile = e.data !== undefined;
    // Inodes only matter for hard links (nlink > 1 on a file), which this writer never makes.
    parts.push(entry(e.path, i + 1, (isFile ? S_IFREG : S_IFDIR) | e.mode, isFile ? 1 : 2, e.data ?? new Uint8Array(0)));
  });
  parts.push(entry(TRAILER, 0, 0, 1, new Uint8Array(0)));
  return Buffer.concat(parts);
}

function checkEntry(e: CpioEntry): void {
  const parts = e.path.split('/');
  if (e.path === TRAILER || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`cpio: "${e.path}" is not a relative path of plain names`);
  }
  if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) throw new Error(`cpio: ${e.path}: mode ${e.mode} is not permission bits`);
}

function entry(name: string, ino: number, mode: number, nlink: number, data: Uint8Array): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
  const fields = [ino, mode, 0, 0, nlink, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
  const header = Buffer.from(`070701${fields.map(hex8).join('')}`, 'latin1');
  return Buffer.concat([header, nameBytes, pad(header.length + nameBytes.length), data, pad(data.length)]);
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new Error(`cpio: ${n} does not fit a header field`);
  return n.toString(16).toUpperCase().padStart(8, '0');
}

/** Zeros up to the next multiple of 4 after `length` bytes. */
function pad(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}
