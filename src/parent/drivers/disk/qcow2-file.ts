// The qcow2 image file as the metadata code sees it: cluster-sized I/O, the bound that
// every offset read from the image is checked against, and fdatasync as a write barrier.
import type { FileHandle } from 'node:fs/promises';
import { DiskError } from './block-device.js';
import { readAt, syncData, writeAt } from './file-io.js';
import { corrupt } from './qcow2-header.js';

export class Qcow2File {
  readonly clusterSize: number;
  /**
   * Clusters below this index exist (in the file, or allocated since open). Metadata that
   * points at or past it is corrupt: following it could write anywhere in the host file.
   */
  endCluster: number;
  /** The file's length, counting writes issued: clusters from here on read as zeros. */
  size: number;
  /** Writes completed so far; `synced` of them are known durable. */
  private completed = 0;
  private synced = 0;
  /** The fdatasync running, and how many writes had completed when it began. */
  private syncing: { done: Promise<void>; covers: number } | null = null;

  constructor(
    readonly fh: FileHandle,
    readonly path: string,
    readonly clusterBits: number,
    fileSize: number,
  ) {
    this.clusterSize = 2 ** clusterBits;
    this.endCluster = Math.ceil(fileSize / this.clusterSize);
    this.size = fileSize;
  }

  read(into: Uint8Array, pos: number): Promise<void> {
    return readAt(this.fh, this.path, into, pos);
  }

  async write(data: Uint8Array, pos: number): Promise<void> {
    this.size = Math.max(this.size, pos + data.length);
    await writeAt(this.fh, this.path, data, pos);
    this.completed++;
  }

  /**
   * Makes every write completed so far durable: the barrier between writing something and
   * writing what points at it (qcow2.ts, "commit"), and what a guest's flush waits for.
   * An fdatasync already running covers only the writes that had completed when it began
   * (one landing meanwhile may miss it), so a caller with later writes waits for it and
   * then runs its own.
   */
  async sync(): Promise<void> {
    const target = this.completed;
    while (this.synced < target) {
      if (this.syncing) {
        const { done, covers } = this.syncing;
        await done.catch(() => undefined);
        if (covers < target) continue;
        await done; // it covered our writes: its failure is ours
        return;
      }
      const covers = this.completed;
      const done = syncData(this.fh, this.path);
      this.syncing = { done, covers };
      try {
        await done;
        this.synced = Math.max(this.synced, covers);
      } finally {
        this.syncing = null;
      }
    }
  }

  /** Checks the offset of a one-cluster table (L2 table, refcount block) read from metadata. */
  checkTable(what: string, offset: number): void {
    if (offset % this.clusterSize !== 0) throw this.corrupt(`${what} at ${offset} is not aligned to a cluster`);
    if (offset < this.clusterSize || offset / this.clusterSize >= this.endCluster) {
      throw this.corrupt(`${what} at ${offset} is outside the image`);
    }
  }

  corrupt(what: string): DiskError {
    return corrupt(this.path, `${what}; check it with \`qemu-img check ${this.path}\``);
  }
}
