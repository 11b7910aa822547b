// The raw image driver: the file is the disk, byte for byte. The guest sees the file size
// rounded down to whole 512-byte sectors (a trailing partial sector is not addressable).
import type { FileHandle } from 'node:fs/promises';
import { type BlockDevice, DiskError, type LayerExtent } from './block-device.js';
import { fileSize, readAt, readvAt, syncData, writeAt, writevAt } from './file-io.js';
import type { ImageLock } from './lock.js';
import { checkRange, Requests } from './requests.js';

const SECTOR = 512;
const QCOW2_MAGIC = 0x514649fb;

export interface RawOptions {
  readOnly: boolean;
  /**
   * The format was guessed from the contents rather than given. The guest then may not
   * write a qcow2 header into sector 0: the next probe would take the disk for a qcow2
   * image whose backing file the guest chose (any host file it names).
   */
  probed: boolean;
}

export class RawDisk implements BlockDevice {
  readonly format = 'raw';
  private readonly requests: Requests;

  private constructor(
    readonly path: string,
    readonly size: number,
    readonly readOnly: boolean,
    private readonly probed: boolean,
    private readonly fh: FileHandle,
    private readonly lock: ImageLock | null,
  ) {
    this.requests = new Requests(path);
  }

  /** Takes ownership of fh and lock: close() releases both. */
  static async open(path: string, fh: FileHandle, lock: ImageLock | null, opts: RawOptions): Promise<RawDisk> {
    const bytes = await fileSize(fh, path);
    return new RawDisk(path, bytes - (bytes % SECTOR), opts.readOnly, opts.probed, fh, lock);
  }

  async read(offset: number, into: Uint8Array): Promise<void> {
    checkRange(this, offset, into.length);
    return this.requests.run(() => readAt(this.fh, this.path, into, offset));
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkRange(this, offset, data.length);
    if (this.readOnly) throw new DiskError(`${this.path}: the disk is read-only`, 'read-only');
    if (this.probed && offset < 4) return this.writev(offset, [data]);
    return this.requests.run(() => writeAt(this.fh, this.path, data, offset));
  }

  async readv(offset: number, into: readonly Uint8Array[]): Promise<void> {
    checkRange(this, offset, byteLength(into));
    return this.requests.run(() => readvAt(this.fh, this.path, into, offset));
  }

  async writev(offset: number, data: readonly Uint8Array[]): Promise<void> {
    const total = byteLength(data);
    checkRange(this, offset, total);
    if (this.readOnly) throw new DiskError(`${this.path}: the disk is read-only`, 'read-only');
    if (this.probed && offset < 4 && total > 0) {
      // The sector-0 guard checks a copy of the bytes that land in 0..3, and that copy is
      // what is written there: the guest's buffers are memory it shares with another
      // thread, and could hold other bytes by the time the thread pool writes them.
      const head = new Uint8Array(Math.min(total, 4 - offset));
      let n = 0;
      for (const b of data) { const k = Math.min(b.length, head.length - n); head.set(b.subarray(0, k), n); n += k; if (n === head.length) break; }
      return this.requests.run(async () => {
        await this.refuseQcow2Magic(offset, head);
        await writevAt(this.fh, this.path, [head, ...skip(data, head.length)], offset);
      });
    }
    return this.requests.run(() => writevAt(this.fh, this.path, data, offset));
  }

  async flush(): Promise<void> {
    if (this.readOnly) return;
    return this.requests.run(() => syncData(this.fh, this.path));
  }

  /** Node cannot punch holes (no fallocate), and a discard is only a hint: nothing to do. */
  async discard(offset: number, length: number): Promise<void> {
    checkRange(this, offset, length);
    if (this.readOnly) throw new DiskError(`${this.path}: the disk is read-only`, 'read-only');
  }

  /**
   * The file is the whole disk: every byte is data, even a hole of a sparse file (telling
   * holes apart needs SEEK_DATA, which Node does not offer).
   */
  async layerExtents(offset: number, length: number): Promise<LayerExtent[]> {
    checkRange(this, offset, length);
    return length > 0 ? [{ offset, length, kind: 'data' }] : [];
  }

  async close(): Promise<void> {
    if (!(await this.requests.close())) return;
    try {
      if (!this.readOnly) await syncData(this.fh, this.path);
    } finally {
      await this.fh.close().catch(() => undefined);
      await this.lock?.release();
    }
  }

  private async refuseQcow2Magic(offset: number, data: Uint8Array): Promise<void> {
    const head = new Uint8Array(4);
    await readAt(this.fh, this.path, head, 0);
    head.set(data.subarray(0, 4 - offset), offset);
    if (new DataView(head.buffer).getUint32(0) === QCOW2_MAGIC) {
      throw new DiskError(
        `${this.path}: refused a guest write of a qcow2 header to sector 0 of a raw image whose format was probed; ` +
          'open it with an explicit format to allow this',
        'read-only',
      );
    }
  }
}

const byteLength = (buffers: readonly Uint8Array[]): number => buffers.reduce((n, b) => n + b.length, 0);

/** The buffers after their first n bytes (views). */
function skip(buffers: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of buffers) {
    if (n >= b.length) { n -= b.length; continue; }
    out.push(b.subarray(n));
    n = 0;
  }
  return out;
}
