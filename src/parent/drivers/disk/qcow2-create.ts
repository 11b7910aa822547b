// Creates an empty qcow2 version 3 image (QEMU docs/interop/qcow2.txt), laid out as
// `qemu-img create -f qcow2` does:
//
//   cluster 0      header, header extensions, backing file name
//   1 .. t         refcount table
//   t+1 .. t+k     refcount blocks (counting every cluster of this layout)
//   then           the L1 table, all entries 0 (nothing allocated)
import { open, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DiskError } from './block-device.js';
import { fileError, writeAt } from './file-io.js';
import { EXT, H, MAX_CLUSTER_BITS, MAX_L1_BYTES, MIN_CLUSTER_BITS, QCOW2_MAGIC } from './qcow2-header.js';
import { setRefcountEntry } from './qcow2-refcounts.js';
import { openDisk } from './open.js';

export interface CreateQcow2Options {
  /** Virtual size in bytes (rounded up to 512); defaults to the backing file's size. */
  size?: number;
  /** Backing file name as stored: a relative name is relative to the new image's folder. */
  backing?: string;
  backingFormat?: 'raw' | 'qcow2';
  /** Cluster size 2^clusterBits, 9 to 21; default 16 (64 KiB). */
  clusterBits?: number;
  /** Refcount width 2^refcountOrder bits, 0 to 6; default 4 (16 bits). */
  refcountOrder?: number;
}

const HEADER_LENGTH = 112; // through compression_type (zlib), padded to 8

/**
 * The largest virtual size an image with 2^clusterBits-byte clusters can have: what an L1
 * table of MAX_L1_BYTES maps (QEMU's limit too; 2 PiB with 64 KiB clusters), and never
 * beyond what a JavaScript number holds exactly, in whole sectors.
 */
export function qcow2MaxSize(clusterBits: number): number {
  const cs = 2 ** clusterBits;
  return Math.min((MAX_L1_BYTES / 8) * (cs / 8) * cs, Math.floor(Number.MAX_SAFE_INTEGER / 512) * 512);
}

/** Creates the image; fails if path exists. */
export async function createQcow2(path: string, opts: CreateQcow2Options): Promise<void> {
  const clusterBits = opts.clusterBits ?? 16;
  const order = opts.refcountOrder ?? 4;
  if (!Number.isInteger(clusterBits) || clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new DiskError(`${path}: cluster bits must be ${MIN_CLUSTER_BITS} to ${MAX_CLUSTER_BITS}, not ${clusterBits}`, 'unsupported');
  }
  if (!Number.isInteger(order) || order < 0 || order > 6) throw new DiskError(`${path}: refcount order must be 0 to 6`, 'unsupported');
  let size = opts.size;
  if (size === undefined) {
    if (!opts.backing) throw new DiskError(`${path}: a new image needs a size or a backing file`, 'range');
    const b = await openDisk(resolve(dirname(path), opts.backing), { readOnly: true, format: opts.backingFormat });
    size = b.size;
    await b.close();
  }
  if (!Number.isSafeInteger(size) || size < 0) throw new DiskError(`${path}: invalid size ${size}`, 'range');
  size = Math.ceil(size / 512) * 512;
  if (size > qcow2MaxSize(clusterBits)) {
    throw new DiskError(`${path}: ${size} bytes is more than a qcow2 image with ${2 ** clusterBits}-byte clusters can hold (${qcow2MaxSize(clusterBits)})`, 'range');
  }

  const cs = 2 ** clusterBits;
  const l1Size = Math.ceil(size / (cs * (cs / 8)));
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / cs));
  const perBlock = (cs * 8) / 2 ** order;
  let tableClusters = 1;
  let blocks = 1;
  for (;;) {
    const total = 1 + tableClusters + blocks + l1Clusters;
    const b = Math.ceil(total / perBlock);
    const t = Math.ceil((b * 8) / cs);
    if (b === blocks && t === tableClusters) break;
    blocks = b;
    tableClusters = t;
  }
  const total = 1 + tableClusters + blocks + l1Clusters;
  const image = new Uint8Array(total * cs);
  const v = new DataView(image.buffer);

  // Header (qcow2.txt "Header"), version 3, no features.
  const l1At = (1 + tableClusters + blocks) * cs;
  v.setUint32(0, QCOW2_MAGIC);
  v.setUint32(4, 3);
  v.setUint32(20, clusterBits);
  v.setBigUint64(24, BigInt(size));
  v.setUint32(36, l1Size);
  v.setBigUint64(40, BigInt(l1At));
  v.setBigUint64(H.refcountTableOffset, BigInt(cs));
  v.setUint32(56, tableClusters);
  v.setUint32(96, order);
  v.setUint32(100, HEADER_LENGTH);

  // Header extensions, then the backing file name in the rest of cluster 0.
  let at = HEADER_LENGTH;
  const utf8 = new TextEncoder();
  if (opts.backing && opts.backingFormat) {
    const name = utf8.encode(opts.backingFormat);
    v.setUint32(at, EXT.backingFormat);
    v.setUint32(at + 4, name.length);
    image.set(name, at + 8);
    at += 8 + Math.ceil(name.length / 8) * 8;
  }
  at += 8; // end of extensions: type 0, length 0
  if (opts.backing) {
    const name = utf8.encode(opts.backing);
    if (name.length === 0 || name.length > 1023 || at + name.length > cs) {
      throw new DiskError(`${path}: backing file name of ${name.length} bytes does not fit the header`, 'range');
    }
    image.set(name, at);
    v.setBigUint64(8, BigInt(at));
    v.setUint32(16, name.length);
  }

  // Refcount table and blocks: every cluster above is in use once.
  for (let j = 0; j < blocks; j++) {
    const blockAt = (1 + tableClusters + j) * cs;
    v.setBigUint64(cs + j * 8, BigInt(blockAt));
    const block = image.subarray(blockAt, blockAt + cs);
    for (let c = j * perBlock; c < Math.min(total, (j + 1) * perBlock); c++) setRefcountEntry(block, order, c - j * perBlock, 1);
  }

  let fh;
  try {
    fh = await open(path, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new DiskError(`${path}: already exists`, 'io');
    throw fileError(path, e, 'create');
  }
  try {
    await writeAt(fh, path, image, 0);
    await fh.datasync();
  } catch (e) {
    // A file system full or a file size limit: no half-written image is left behind.
    await fh.close().catch(() => {});
    await rm(path, { force: true });
    throw e;
  }
  await fh.close();
}
