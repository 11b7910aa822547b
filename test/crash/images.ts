// The crash loop's images: made in shapes that keep the allocator busy, judged by QEMU's
// qemu-img (the independent reference), and read back through it.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { ROOT, TSHV } from '../lib/guest-shell.js';
import { RECORD_BYTES } from './records.js';

export const hasQemuImg = spawnSync('qemu-img', ['--version']).status === 0;

/**
 * How a VM's data disk is made. Each shape makes a different part of the refcount code work
 * during a run (a refcount table of one cluster covers cluster_size^2 / refcount_bits
 * clusters; a refcount block cluster_size * 8 / refcount_bits):
 */
export interface ImageShape {
  label: string;
  clusterSize: number;
  refcountBits: number;
  /** qcow2 version: qemu-img's compat=1.1 (v3) or 0.10 (v2). */
  version: 2 | 3;
  creator: 'qemu-img' | 'tshv';
  /** Virtual size. */
  size: number;
}

const GiB = 1 << 30;

export const SHAPES: readonly ImageShape[] = [
  // 64 clusters per refcount block, 4096 per table cluster: new blocks every few records and
  // the table moved to a larger one again and again (the 4 GiB disk's 1 MiB L1 table alone
  // is 2048 clusters, so the first move comes after about 250 records).
  { label: '512-byte clusters, 64-bit refcounts (qemu-img)', clusterSize: 512, refcountBits: 64, version: 3, creator: 'qemu-img', size: 4 * GiB },
  // tshv's own creator, QEMU's default refcount width: a new refcount block every 2048 clusters.
  { label: '4 KiB clusters, 16-bit refcounts (tshv disk create)', clusterSize: 4096, refcountBits: 16, version: 3, creator: 'tshv', size: GiB },
  // Version 2, 256 clusters per refcount block, the table grows after 16384 clusters.
  { label: '512-byte clusters, qcow2 v2 (qemu-img compat=0.10)', clusterSize: 512, refcountBits: 16, version: 2, creator: 'qemu-img', size: GiB },
];

export function shapeFor(vm: number): ImageShape {
  return SHAPES[vm % SHAPES.length];
}

export function createImage(path: string, shape: ImageShape): void {
  if (shape.creator === 'tshv') {
    if (shape.refcountBits !== 16 || shape.version !== 3) throw new Error('tshv disk create makes v3 images with 16-bit refcounts');
    execFileSync(process.execPath, [TSHV, 'disk', 'create', path, '--size', String(shape.size), '--cluster-size', String(shape.clusterSize)], { cwd: ROOT, stdio: 'pipe' });
    return;
  }
  const opts = shape.version === 2
    ? `compat=0.10,cluster_size=${shape.clusterSize}`
    : `compat=1.1,cluster_size=${shape.clusterSize},refcount_bits=${shape.refcountBits}`;
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', opts, path, String(shape.size)], { stdio: 'pipe' });
}

export interface CheckVerdict {
  /** No corruption and the check completed: leaks alone are acceptable. */
  ok: boolean;
  status: number | null;
  corruptions: number;
  leaks: number;
  checkErrors: number;
  allocatedClusters: number;
  imageEndOffset: number;
  /** qemu-img's own words (the human-readable check), for a failure report. */
  text: string;
}

/**
 * `qemu-img check`: exit 0 clean, 2 corruptions, 3 leaked clusters only ("waste of disk
 * space, but no harm to data"), 1 the check could not complete. A process killed between
 * allocating clusters and pointing at them may leak; nothing may be corrupt.
 */
export function checkImage(path: string): CheckVerdict {
  const r = spawnSync('qemu-img', ['check', '--output=json', path], { encoding: 'utf8' });
  let report: Record<string, number> = {};
  try {
    report = JSON.parse(r.stdout);
  } catch {
    // no JSON: the check did not run; the text says why
  }
  const corruptions = report.corruptions ?? 0, leaks = report.leaks ?? 0, checkErrors = report['check-errors'] ?? 0;
  const ok = (r.status === 0 || r.status === 3) && corruptions === 0 && checkErrors === 0 && 'check-errors' in report;
  let text = '';
  if (!ok || leaks > 0) {
    const human = spawnSync('qemu-img', ['check', path], { encoding: 'utf8' });
    text = `${human.stdout}${human.stderr}`.trim() || `${r.stdout}${r.stderr}`.trim();
  }
  return {
    ok, status: r.status, corruptions, leaks, checkErrors,
    allocatedClusters: report['allocated-clusters'] ?? 0, imageEndOffset: report['image-end-offset'] ?? 0, text,
  };
}

/** The image as qemu-img reads it: converted to a (sparse) raw file, read a slot at a time. */
export class RawCopy {
  private readonly fd: number;

  constructor(image: string, private readonly raw: string) {
    execFileSync('qemu-img', ['convert', '-O', 'raw', image, raw], { stdio: 'pipe' });
    this.fd = openSync(raw, 'r');
  }

  slot(slot: number): Buffer {
    const b = Buffer.alloc(RECORD_BYTES);
    let done = 0;
    while (done < RECORD_BYTES) {
      const n = readSync(this.fd, b, done, RECORD_BYTES - done, slot * RECORD_BYTES + done);
      if (n === 0) break; // past the end of the raw file: zeros
      done += n;
    }
    return b;
  }

  close(): void {
    closeSync(this.fd);
    rmSync(this.raw, { force: true });
  }
}

/** The refcount table's place and size, from the image header (qcow2.txt: bytes 48-59). */
export function refcountTable(path: string): { offset: number; clusters: number } {
  const fd = openSync(path, 'r');
  try {
    const h = Buffer.alloc(64);
    readSync(fd, h, 0, 64, 0);
    return { offset: Number(h.readBigUInt64BE(48)), clusters: h.readUInt32BE(56) };
  } finally {
    closeSync(fd);
  }
}
