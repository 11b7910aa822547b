// Merging a qcow2 image into its child, as deleting a checkpoint does: in a chain
// B ← F ← J (each backed by the one before), F's layer goes into J; afterwards J reads
// exactly as before but is backed by B directly (or by nothing), and F is no longer needed.
// This is `qemu-img rebase -b B J` in safe mode, except that only what F's own layer holds
// is copied: B stays below J, so what F merely passes through from B needs no comparing.
//
// The order keeps J valid and reading the same whatever moment the process dies:
//   1. copy: every J cluster that J's layer leaves absent, and where F's layer holds data
//      (or zeros that B would not give), is written into J with the bytes J reads there
//      now, through F; a cluster F reads as zeros throughout gets the zero flag instead.
//      These are ordinary writes through the driver, each crash-safe on its own, and J
//      reads the same whether or not one has landed: its bytes are those J read already.
//   2. flush: the copies, their tables and their refcounts are durable.
//   3. the header: the backing file name and backing format extension change in one
//      write of whole sectors (qcow2.txt, "Header extensions"), then fdatasync. Before it
//      J is backed by F, which reads as before (the read locks keep writers away); after
//      it by B, over which J now holds everything F added.
// A crash before step 3 leaves J backed by F, reading the same; merging again finishes
// the job (it copies only what is still missing). Step 3 replaces one sector when the
// header, its extensions and the name fit in the first 512 bytes, as they do for short
// names; a longer one spans a few sectors, written at once, as QEMU writes its headers.
import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { type BlockDevice, DiskError, type LayerExtent } from './block-device.js';
import { fileError, fileSize, openImageFile, readAt } from './file-io.js';
import type { ImagePolicy } from './image-policy.js';
import { backingPath, type DiskFormat, MAX_BACKING_DEPTH, openDisk, probeFormat } from './open.js';
import { Qcow2Disk } from './qcow2.js';
import { headerClusterBits, parseHeader, type Qcow2Header } from './qcow2-header.js';

export interface MergeOptions {
  /** Progress: bytes of the virtual disk examined (and copied where needed) so far, of total. */
  onProgress?(done: number, total: number): void;
  /** Where images may be (the service's storage roots), as for openDisk. */
  policy?: ImagePolicy;
  /**
   * Tests only: runs once the copies are durable, before the header changes. A throw
   * there stops the merge at the point a crash between steps 2 and 3 would.
   */
  afterCopy?(): void | Promise<void>;
}

/** One file of a backing chain. */
export interface ChainLink {
  path: string;
  format: DiskFormat;
}

/** What the copy does with one cluster of the child. */
enum Action {
  None = 0,
  Zero = 1,
  Copy = 2,
}

/** Layers are examined this many clusters (of the smaller size) at a time. */
const WINDOW_CLUSTERS = 16384;
/** Consecutive clusters are copied with reads and writes of at most this many bytes. */
const CHUNK_BYTES = 4 << 20;

/**
 * Merges the backing file F of the qcow2 image at childPath into it, then backs it by
 * F's backing file, or by none (see above). F itself is left as it was, for the caller to
 * delete (if no other image is backed by it). Takes the write lock on the child and read
 * locks on F and below: fails with DiskError 'locked' while a VM has the child open, or
 * any of them writable.
 */
export async function mergeIntoChild(childPath: string, options: MergeOptions = {}): Promise<void> {
  if ((await probeFormat(childPath)) !== 'qcow2') {
    throw new DiskError(`${childPath}: is a raw image, which has no backing file to merge`, 'unsupported');
  }
  const disk = await openDisk(childPath, { format: 'qcow2', policy: options.policy });
  try {
    if (!(disk instanceof Qcow2Disk)) throw new Error('openDisk gave a qcow2 image to another driver');
    const parent = disk.backing;
    if (!parent) throw new DiskError(`${childPath}: has no backing file, so nothing to merge into it`, 'unsupported');
    if (!parent.layerExtents) throw new DiskError(`${parent.path}: a ${parent.format} image cannot be merged`, 'unsupported');
    // Internal snapshots of J read through F too, and would not read the same over B.
    if (disk.snapshotCount > 0) {
      throw new DiskError(
        `${childPath}: has ${disk.snapshotCount} internal snapshot(s), which read through its backing file as well; ` +
          'delete them (`qemu-img snapshot -d`) before merging',
        'unsupported',
      );
    }
    const below = parent.backing ?? null;
    const rebased = below && parent instanceof Qcow2Disk ? { name: rebasedName(childPath, parent, below), format: below.format } : null;

    const total = disk.size;
    const window = WINDOW_CLUSTERS * Math.min(disk.clusterSize, parent instanceof Qcow2Disk ? parent.clusterSize : disk.clusterSize);
    const buffer = new Uint8Array(Math.max(CHUNK_BYTES, disk.clusterSize));
    for (let start = 0; start < total; start += window) {
      const end = Math.min(total, start + window);
      const actions = await plan(disk, parent, start, end, below?.size ?? 0);
      await apply(disk, start, actions, buffer);
      options.onProgress?.(end, total);
    }
    await disk.flush();
    await options.afterCopy?.();
    await disk.setBackingFile(rebased);
  } finally {
    await disk.close();
  }
}

/**
 * The name under which the child's header stores F's backing file: as F stores it when
 * absolute, else relative to the child's folder (qemu-img resolves a relative name from
 * the folder of the image that holds it).
 */
function rebasedName(childPath: string, parent: Qcow2Disk, below: BlockDevice): string {
  const stored = parent.backingFile!;
  if (isAbsolute(stored)) return stored;
  return relative(dirname(resolve(childPath)), resolve(below.path));
}

/**
 * What to do with each child cluster in [start, end): where the child's layer is absent,
 * F's data is copied; F's zeros are kept with the zero flag over whole clusters, by a copy
 * over clusters they cover only in part, and not at all where B (of `below` bytes) would
 * read zeros too.
 */
async function plan(child: Qcow2Disk, parent: BlockDevice, start: number, end: number, below: number): Promise<Uint8Array> {
  const cs = child.clusterSize;
  const actions = new Uint8Array(Math.ceil((end - start) / cs));
  const mark = (from: number, to: number, action: Action) => {
    for (let c = Math.floor((from - start) / cs); c < Math.ceil((to - start) / cs); c++) actions[c] = Math.max(actions[c]!, action);
  };
  const theirs = await parentLayer(parent, start, end);
  let i = 0;
  for (const own of await child.layerExtents(start, end - start)) {
    if (own.kind !== 'absent') continue; // the child's own data and zeros hide F's
    const ownEnd = own.offset + own.length;
    while (i < theirs.length && theirs[i]!.offset + theirs[i]!.length <= own.offset) i++;
    for (let j = i; j < theirs.length && theirs[j]!.offset < ownEnd; j++) {
      const t = theirs[j]!;
      const from = Math.max(t.offset, own.offset);
      const to = Math.min(t.offset + t.length, ownEnd);
      if (t.kind === 'data') {
        mark(from, to, Action.Copy);
      } else if (t.kind === 'zero' && from < below) {
        const zeroEnd = Math.min(to, below);
        const wholeFrom = Math.ceil(from / cs) * cs;
        const wholeTo = zeroEnd === child.size ? zeroEnd : Math.floor(zeroEnd / cs) * cs;
        if (wholeTo > wholeFrom) {
          mark(wholeFrom, wholeTo, Action.Zero);
          mark(from, wholeFrom, Action.Copy);
          mark(wholeTo, zeroEnd, Action.Copy);
        } else {
          mark(from, zeroEnd, Action.Copy);
        }
      } // absent in F as well: the child reads B there, before and after
    }
  }
  return actions;
}

/** F's layer over [start, end); past F's end the child reads zeros, whatever B holds. */
async function parentLayer(parent: BlockDevice, start: number, end: number): Promise<LayerExtent[]> {
  const inside = Math.min(end, parent.size);
  const extents = inside > start ? await parent.layerExtents!(start, inside - start) : [];
  const past = Math.max(start, parent.size);
  if (end > past) {
    const last = extents[extents.length - 1];
    if (last?.kind === 'zero') last.length += end - past;
    else extents.push({ offset: past, length: end - past, kind: 'zero' });
  }
  return extents;
}

/** Carries out the actions for the child's clusters from start, in runs. */
async function apply(child: Qcow2Disk, start: number, actions: Uint8Array, buffer: Uint8Array): Promise<void> {
  const cs = child.clusterSize;
  const maxCopy = Math.floor(buffer.length / cs);
  for (let c = 0; c < actions.length; ) {
    const action = actions[c]!;
    let n = 1;
    if (action === Action.None) {
      c++;
      continue;
    }
    while (c + n < actions.length && actions[c + n] === action && (action !== Action.Copy || n < maxCopy)) n++;
    const offset = start + c * cs;
    const length = Math.min(n * cs, child.size - offset);
    if (action === Action.Copy) {
      const bytes = buffer.subarray(0, length);
      await child.read(offset, bytes); // through F: these clusters are absent in the child
      await child.write(offset, bytes);
    } else {
      await child.writeZeroes(offset, length);
    }
    c += n;
  }
}

/**
 * The files of an image's backing chain, the image first, with their formats, as the
 * headers name them (resolved as openDisk resolves them). Takes no locks, so it lists the
 * chain of a disk a VM has open too.
 */
export async function backingChain(path: string): Promise<ChainLink[]> {
  const chain: ChainLink[] = [];
  const seen: string[] = [];
  let format: DiskFormat | null = null;
  for (let at = path; ; ) {
    let real: string;
    try {
      real = await realpath(at);
    } catch (e) {
      throw fileError(at, e, 'open');
    }
    if (seen.includes(real)) throw new DiskError(`${path}: the backing chain loops (${[...seen, real].join(' -> ')})`, 'corrupt');
    if (seen.length >= MAX_BACKING_DEPTH) throw new DiskError(`${path}: the backing chain is deeper than ${MAX_BACKING_DEPTH} images`, 'unsupported');
    seen.push(real);
    const f: DiskFormat = format ?? (await probeFormat(at));
    chain.push({ path: at, format: f });
    if (f === 'raw') return chain;
    const h = await readHeader(at);
    if (h.backingFile === null) return chain;
    at = backingPath(at, h.backingFile, h.backingFormat);
    format = h.backingFormat as DiskFormat | null;
  }
}

/** The header of the qcow2 image at path, read-only and checked as Qcow2Disk.open checks it. */
async function readHeader(path: string): Promise<Qcow2Header> {
  const fh = await openImageFile(path, false);
  try {
    const bytes = await fileSize(fh, path);
    const prefix = new Uint8Array(512);
    await readAt(fh, path, prefix, 0);
    const cluster0 = new Uint8Array(2 ** headerClusterBits(path, prefix));
    await readAt(fh, path, cluster0, 0);
    return parseHeader(path, cluster0, bytes);
  } finally {
    await fh.close();
  }
}
