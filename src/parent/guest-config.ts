// A Linux guest described with typed values (parsed `tshv run` flags, a VM definition of
// the management service) becomes a VmConfig here: the default images, the derived
// kernel command line and the reading of the images live in one place for both.
//
// The kernel and initrd are untrusted files read on the caller's thread (the service's API
// thread): they are read asynchronously, only if they are regular files (a FIFO or a device
// would block the reader forever), only up to the VM's RAM, and a gzipped kernel is
// inflated as a stream that stops as soon as it outgrows the RAM.
import { constants as fsc, existsSync, statSync, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { VmConfig } from './vm.js';
import type { ConsoleKind, DiskSpec } from './vm-protocol.js';
import { checkLinuxImage } from './linux-boot.js';
import { formatBytes } from './machine/boot.js';
import { MAX_DISKS } from './vsp/synthetic.js';

import { DEFAULT_KERNEL, DEFAULT_INITRD, DEFAULT_APPEND } from './guest-defaults.js';

export { PACKAGE_ROOT, DEFAULT_KERNEL, DEFAULT_INITRD, DEFAULT_APPEND } from './guest-defaults.js';

export interface GuestSpec {
  /** Kernel Image path; undefined = the default guest kernel. */
  kernel?: string;
  /** initramfs path; undefined = the default one unless kernel or root is given; false = none. */
  initrd?: string | false;
  /** Kernel command line; undefined = derived from the console and root. */
  append?: string;
  memoryBytes: number;
  cpus: number;
  /** Root disk image: becomes /dev/vda (read-write) and replaces the default initramfs. */
  root?: string;
  /** More disks, /dev/vdb... after the root disk (/dev/vda... without one). */
  disks?: DiskSpec[];
  console?: ConsoleKind;
  /**
   * Called with each kernel and initrd file once it is open, before it is read (`opened`
   * is its fstat); throwing refuses it. The service checks here that what it opened is the
   * file it checked, inside its storage roots.
   */
  admit?: (field: ImageField, path: string, opened: Stats) => Promise<void>;
}

export type ImageField = 'kernel' | 'initrd';

/** A guest that cannot be built, with the spec field at fault. */
export class GuestConfigError extends Error {
  override readonly name = 'GuestConfigError';
  constructor(readonly field: 'kernel' | 'initrd' | 'root' | 'disks', message: string) { super(message); }
}

/** Reads and checks the images; throws GuestConfigError naming the field at fault. */
export async function guestConfig(spec: GuestSpec): Promise<VmConfig> {
  const ram = spec.memoryBytes;
  const kernelPath = spec.kernel ?? DEFAULT_KERNEL;
  let kernel = await readImage(kernelPath, 'kernel', ram, spec.admit);
  if (kernel[0] === 0x1f && kernel[1] === 0x8b) kernel = await gunzipWithin(kernel, ram, kernelPath);
  try {
    checkLinuxImage(kernel, ram);
  } catch (e) {
    throw new GuestConfigError('kernel', `${kernelPath}: ${(e as Error).message}`);
  }
  const disks = [...(spec.root ? [{ path: spec.root, readOnly: false }] : []), ...(spec.disks ?? [])];
  if (disks.length > MAX_DISKS) throw new GuestConfigError('disks', `at most ${MAX_DISKS} disks (the root disk counts as one), got ${disks.length}`);
  for (const [i, d] of disks.entries()) {
    const field = spec.root && i === 0 ? 'root' : 'disks';
    if (!existsSync(d.path)) throw new GuestConfigError(field, `the ${field === 'root' ? 'root disk' : 'disk'} image ${d.path} does not exist`);
  }
  // A root disk replaces the initramfs unless one is named explicitly.
  const defaultInitrd = spec.kernel || spec.root ? undefined : DEFAULT_INITRD;
  const initrdPath = spec.initrd === false ? undefined : spec.initrd ?? defaultInitrd;
  const initrd = initrdPath ? await readImage(initrdPath, 'initrd', ram, spec.admit) : undefined;
  const console = spec.console ?? 'serial';
  const append = spec.append ?? [console === 'virtio' ? 'console=hvc0' : DEFAULT_APPEND, ...(spec.root ? ['root=/dev/vda rw'] : [])].join(' ');
  return { kernel, initrd, append, memoryBytes: spec.memoryBytes, cpus: spec.cpus, disks, console, boot: { kernel: kernelPath, initrd: initrdPath } };
}

/**
 * Two entries of `disks` that are the same image file where at least one is writable: a VM
 * cannot open both (the image lock allows one writer or many readers), and two writers of
 * one file would corrupt it. Same file = same inode, so symbolic and hard links count.
 */
export function sharedImage(disks: readonly DiskSpec[]): [number, number] | undefined {
  const ids = disks.map((d) => {
    try {
      const st = statSync(d.path);
      return `${st.dev}:${st.ino}`;
    } catch {
      return d.path; // missing: reported by whoever checks existence
    }
  });
  for (let j = 1; j < disks.length; j++) {
    for (let i = 0; i < j; i++) if (ids[i] === ids[j] && !(disks[i].readOnly && disks[j].readOnly)) return [i, j];
  }
  return undefined;
}

/** Larger reads are split, so one image does not hold a thread of libuv's pool (the disks' too) for long. */
const READ_CHUNK = 4 << 20;

/**
 * Reads a kernel or initrd file: a regular file of at most `limit` bytes (checked before it
 * is opened, and again on what was opened), asynchronously.
 */
async function readImage(path: string, field: ImageField, limit: number, admit: GuestSpec['admit']): Promise<Uint8Array> {
  const what = `the ${field} ${path}`;
  const refuse = (why: string) => new GuestConfigError(field, `${what} ${why}`);
  const fail = (e: unknown) => {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'ELOOP' ? 'a symbolic link loop' : err.message;
    return new GuestConfigError(field, `cannot read ${what}: ${why}`);
  };
  const checkFile = (st: Stats) => {
    if (!st.isFile()) return refuse(`is ${fileKind(st)}, not a regular file`);
    if (st.size > limit) return refuse(`is ${formatBytes(st.size)}, more than the VM's ${formatBytes(limit)} RAM`);
    return undefined;
  };
  let before: Stats;
  try {
    before = await stat(path);
  } catch (e) {
    throw fail(e);
  }
  const bad = checkFile(before);
  if (bad) throw bad;
  // O_NONBLOCK: should the file have become a FIFO since, the open does not wait for a writer.
  const fh = await open(path, fsc.O_RDONLY | fsc.O_NONBLOCK).catch((e: unknown) => { throw fail(e); });
  try {
    const opened = await fh.stat();
    const changed = checkFile(opened);
    if (changed) throw changed;
    if (opened.ino !== before.ino || opened.dev !== before.dev) throw refuse('changed while it was being opened');
    await admit?.(field, path, opened);
    const bytes = new Uint8Array(opened.size);
    let n = 0;
    while (n < bytes.length) {
      const { bytesRead } = await fh.read(bytes, n, Math.min(READ_CHUNK, bytes.length - n), n).catch((e: unknown) => { throw fail(e); });
      if (bytesRead === 0) break; // it shrank meanwhile
      n += bytesRead;
    }
    return bytes.subarray(0, n);
  } finally {
    await fh.close();
  }
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Inflates a gzipped kernel as a stream (on libuv's pool, not the caller's thread),
 * stopping as soon as the output passes `limit`: a gzip bomb costs at most that much memory.
 */
function gunzipWithin(input: Uint8Array, limit: number, path: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const z = createGunzip({ chunkSize: 1 << 20 });
    const chunks: Buffer[] = [];
    let total = 0;
    z.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        z.destroy();
        reject(new GuestConfigError('kernel', `${path}: the kernel decompresses to more than the VM's ${formatBytes(limit)} RAM`));
        return;
      }
      chunks.push(chunk);
    });
    z.on('error', (e) => reject(new GuestConfigError('kernel', `${path}: the kernel is gzip data that does not decompress (${e.message})`)));
    z.on('end', () => {
      const out = Buffer.concat(chunks, total);
      resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
    });
    z.end(input);
  });
}
