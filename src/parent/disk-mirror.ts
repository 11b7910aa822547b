// A shared-nothing migration's hold on the VM's disks, in the VM worker (docs/migration.md
// "Disks"): their sizes and formats for the destination to make its images, the guest's
// writes logged per chunk from the start of the copy (DirtyChunks, through each
// VirtioBlk's writeLog), and reads of what the guest sees, through the same drivers the
// guest's requests use (a qcow2 image's metadata is the driver's to keep consistent).
import type { VirtioBlk } from './vsp/blk/device.js';
import { DirtyChunks } from './drivers/disk/dirty-chunks.js';

/** A disk as the destination makes it: the guest-visible size, the image format, and whether the guest may write. */
export interface MirroredDisk { size: number; format: 'raw' | 'qcow2'; readOnly: boolean }

/** The largest read the migration asks for at once. */
export const MAX_MIRROR_READ = 1 << 20;

export class DiskMirror {
  private logs: (DirtyChunks | undefined)[] = [];

  constructor(private readonly disks: readonly VirtioBlk[]) {}

  /** Starts logging writes to every writable disk; what the disks are. */
  start(): MirroredDisk[] {
    this.logs = this.disks.map((blk) => {
      if (blk.image.readOnly) return undefined;
      const log = new DirtyChunks(blk.image.size);
      blk.writeLog = log;
      return log;
    });
    return this.disks.map((blk) => ({ size: blk.image.size, format: blk.image.format === 'qcow2' ? 'qcow2' : 'raw', readOnly: blk.image.readOnly }));
  }

  /** The chunks written since start() or the last harvest, per disk (null: read-only, never written). */
  harvest(): (Uint32Array | null)[] {
    return this.disks.map((_, i) => this.logs[i]?.harvest() ?? null);
  }

  /** What the guest reads at [offset, offset+length) of disk `disk`. */
  async read(disk: number, offset: number, length: number): Promise<Uint8Array> {
    const blk = this.disks[disk];
    if (!blk) throw new RangeError(`no disk ${disk}`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0 || length > MAX_MIRROR_READ || offset + length > blk.image.size) {
      throw new RangeError(`${blk.name}: no read of ${length} bytes at ${offset} (the disk has ${blk.image.size})`);
    }
    const bytes = new Uint8Array(length);
    await blk.image.read(offset, bytes);
    return bytes;
  }

  /** Writes are not logged any more. */
  stop(): void {
    for (const blk of this.disks) blk.writeLog = undefined;
    this.logs = [];
  }
}
