// Opening a disk image: find its format, lock it, and open its backing chain (read-only,
// each layer locked shared) below it.
import { realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type BlockDevice, DiskError } from './block-device.js';
import { fileError, openImageFile, readAt } from './file-io.js';
import { lockImage } from './lock.js';
import { Qcow2Disk } from './qcow2.js';
import { QCOW2_MAGIC } from './qcow2-header.js';
import { RawDisk } from './raw.js';
import { imageRefusal, type ImagePolicy } from './image-policy.js';

export type DiskFormat = 'raw' | 'qcow2';

export interface OpenDiskOptions {
  readOnly?: boolean;
  /**
   * The image format. Without it the format is probed from the contents, and a raw image
   * then may not get a qcow2 header written into its first sector by the guest.
   */
  format?: DiskFormat;
  /** Where images may be (the service's storage roots): checked for every layer, backing files included. */
  policy?: ImagePolicy;
}

/** Backing chains deeper than this are refused (QEMU has no fixed limit; this is ample). */
export const MAX_BACKING_DEPTH = 16;

/** The format of the image at path, by its magic: qcow2 ("QFI\xfb") or raw. */
export async function probeFormat(path: string): Promise<DiskFormat> {
  const fh = await openImageFile(path, false);
  try {
    return await probe(fh, path);
  } finally {
    await fh.close();
  }
}

/** Opens the image at path, with its backing files, and takes the image locks. */
export function openDisk(path: string, opts: OpenDiskOptions = {}): Promise<BlockDevice> {
  return openLayer(path, opts.readOnly ?? false, opts.format ?? null, [], opts.policy);
}

async function openLayer(path: string, readOnly: boolean, format: DiskFormat | null, above: string[], policy?: ImagePolicy): Promise<BlockDevice> {
  let real: string;
  try {
    real = await realpath(path);
  } catch (e) {
    throw fileError(path, e, 'open');
  }
  const refusal = policy && imageRefusal(policy, real);
  if (refusal) {
    const where = refusal === 'reserved' ? 'among the service\'s own files' : `outside the storage roots (${policy!.roots.join(', ') || 'none'})`;
    throw new DiskError(`${path}${real === path ? '' : ` (really ${real})`} is ${where}`, 'denied');
  }
  if (above.includes(real)) {
    throw new DiskError(`${path}: the backing chain loops (${[...above, real].join(' -> ')})`, 'corrupt');
  }
  if (above.length >= MAX_BACKING_DEPTH) {
    throw new DiskError(`${path}: the backing chain is deeper than ${MAX_BACKING_DEPTH} images`, 'unsupported');
  }
  const lock = await lockImage(real, readOnly ? 'shared' : 'exclusive');
  let fh;
  try {
    fh = await openImageFile(path, !readOnly);
    // Under a policy the file opened must be the one judged: not a link swapped in since.
    if (policy && !(await sameFile(fh, real))) {
      await fh.close();
      throw new DiskError(`${path} changed while it was being opened; try again`, 'denied');
    }
  } catch (e) {
    await lock.release();
    throw e;
  }
  let fmt = format;
  try {
    fmt ??= await probe(fh, path);
    if (fmt === 'raw') return await RawDisk.open(path, fh, lock, { readOnly, probed: format === null });
  } catch (e) {
    await fh.close().catch(() => undefined);
    await lock.release();
    throw e;
  }
  // Qcow2Disk.open owns fh and lock from here, on failure too.
  return Qcow2Disk.open(path, fh, lock, {
    readOnly,
    openBacking: (name, backingFormat) => openBacking(path, name, backingFormat, [...above, real], policy),
  });
}

/**
 * Where the backing file named `name` in the header of `image` is: qemu-img stores the
 * name as given, and a relative one is relative to the image's folder. Refuses names
 * that are not file names, and formats this driver does not read.
 */
export function backingPath(image: string, name: string, format: string | null): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(name) && !isAbsolute(name)) {
    throw new DiskError(`${image}: backing file "${name}" is not a file name (protocols and json: are not supported)`, 'unsupported');
  }
  if (format !== null && format !== 'raw' && format !== 'qcow2') {
    throw new DiskError(`${image}: backing file format "${format}" is not supported (raw or qcow2)`, 'unsupported');
  }
  return isAbsolute(name) ? name : resolve(dirname(image), name);
}

async function openBacking(image: string, name: string, format: string | null, above: string[], policy?: ImagePolicy): Promise<BlockDevice> {
  const path = backingPath(image, name, format);
  try {
    return await openLayer(path, true, format as DiskFormat | null, above, policy);
  } catch (e) {
    if (e instanceof DiskError) throw new DiskError(`${image}: cannot open its backing file: ${e.message}`, e.code);
    throw e;
  }
}

async function sameFile(fh: { stat(): Promise<{ dev: number; ino: number }> }, real: string): Promise<boolean> {
  const [opened, judged] = await Promise.all([fh.stat(), stat(real).catch(() => undefined)]);
  return judged !== undefined && opened.dev === judged.dev && opened.ino === judged.ino;
}

async function probe(fh: Parameters<typeof readAt>[0], path: string): Promise<DiskFormat> {
  const magic = new Uint8Array(4);
  await readAt(fh, path, magic, 0);
  return new DataView(magic.buffer).getUint32(0) === QCOW2_MAGIC ? 'qcow2' : 'raw';
}
