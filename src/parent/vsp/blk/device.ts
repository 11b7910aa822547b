// virtio-blk (virtio 1.2 §5.2): a virtual disk served from an image driver. Requests are
// taken off the ring as soon as the guest signals and run concurrently on the driver's
// asynchronous I/O; each completes on its own, writing its status and returning its
// chain, so the VPs never wait for the disk.
//
// Saved state (state.ts): none beyond the transport's; a save needs no request in flight
// (the transport's quiesce() waits for that).
import { newBlkCounters, type BlkCounters } from './metrics.js';
import { parseBlkState, type VirtioBlkState } from './state.js';
import type { BlockDevice } from '../../drivers/disk/block-device.js';
import { DiskError } from '../../drivers/disk/block-device.js';
import type { DeviceContext, VirtioDevice } from '../virtio-mmio.js';
import { gather, type Chain, type SplitQueue } from '../../../vmbus/virtqueue.js';

export const VIRTIO_ID_BLOCK = 2;
const SECTOR = 512;

// Feature bits (§5.2.3).
const F_SIZE_MAX = 1n << 1n, F_SEG_MAX = 1n << 2n, F_RO = 1n << 5n, F_BLK_SIZE = 1n << 6n;
const F_FLUSH = 1n << 9n, F_DISCARD = 1n << 13n, F_WRITE_ZEROES = 1n << 14n;

// Request types and status values (§5.2.6).
export const T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13;
export const S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
const HEADER_BYTES = 16;
const ID_BYTES = 20;
/** struct virtio_blk_discard_write_zeroes: sector, num_sectors, flags. */
const SEGMENT_BYTES = 16;
/** Its flags: the only one defined (§5.2.6). */
const SEGMENT_F_UNMAP = 1;

const REQUEST_NAMES: Record<number, string> = { [T_IN]: 'read', [T_OUT]: 'write', [T_FLUSH]: 'flush', [T_DISCARD]: 'discard', [T_WRITE_ZEROES]: 'write zeroes' };

const QUEUE_SIZE = 256;
const SIZE_MAX = 1 << 20;          // bytes in one buffer
const SEG_MAX = QUEUE_SIZE - 2;    // data buffers in one request (header and status aside)
const MAX_DISCARD_SECTORS = (1 << 30) / SECTOR;
/**
 * Host memory one request may use for copies: a guest's buffers are at most 4 GiB a chain
 * and 256 chains a queue, so copies go through bounded buffers, never one of the guest's size.
 */
const BOUNCE_BYTES = 1 << 20;
/** Discard / write-zeroes segments one request may carry (we offer max_discard_seg 1). */
const MAX_SEGMENTS = 256;
const ZERO_CHUNK = new Uint8Array(1 << 20);

export interface BlkOptions {
  /** The serial number GET_ID reports (at most 20 bytes are used). */
  serial: string;
  /**
   * Each request the image driver failed (a DiskError or a host I/O error, answered with
   * VIRTIO_BLK_S_IOERR), for the host's log: "read at sector 8: <the driver's message>".
   * A guest can cause these at any rate: the caller limits what it reports.
   */
  ioError?: (message: string) => void;
}

export class VirtioBlk implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly features: bigint;
  readonly queueMax = [QUEUE_SIZE];
  readonly config = new Uint8Array(0x3c);
  private ctx: DeviceContext | undefined;
  /** Requests handed to the driver and not completed: how many, for metrics and tests. */
  inFlight = 0;
  readonly counters: BlkCounters = newBlkCounters();

  /**
   * @param onFault a VSP bug (anything but an I/O error) is reported here; it ends the VM
   */
  /** The image the disk is served from. */
  get image(): BlockDevice { return this.disk; }

  /**
   * Where the disk's writes are logged while a shared-nothing migration copies it
   * (DirtyChunks). A write is logged when it completes, failed or not, whenever it was
   * started: a copy that read the range before then reads it again.
   */
  writeLog: { mark(offset: number, length: number): void } | undefined;

  /**
   * Serves the disk from another image of the same size from now on (a checkpoint's
   * overlay over the old one): only with no request in flight.
   */
  replaceImage(next: BlockDevice): void {
    if (this.inFlight > 0) throw new Error(`${this.name}: cannot change images with ${this.inFlight} request(s) in flight`);
    if (next.size !== this.disk.size) throw new Error(`${this.name}: the new image is ${next.size} bytes, not ${this.disk.size}`);
    this.disk = next;
  }

  constructor(readonly name: string, private disk: BlockDevice, private readonly options: BlkOptions,
    private readonly onFault: (e: unknown) => void) {
    this.features = F_SIZE_MAX | F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_DISCARD | F_WRITE_ZEROES | (disk.readOnly ? F_RO : 0n);
    // struct virtio_blk_config (§5.2.4), little-endian.
    const c = new DataView(this.config.buffer);
    c.setBigUint64(0x00, BigInt(Math.floor(disk.size / SECTOR)), true); // capacity
    c.setUint32(0x08, SIZE_MAX, true);
    c.setUint32(0x0c, SEG_MAX, true);
    c.setUint32(0x14, SECTOR, true);                                      // blk_size
    c.setUint16(0x22, 1, true);                                           // num_queues
    c.setUint32(0x24, MAX_DISCARD_SECTORS, true);
    c.setUint32(0x28, 1, true);                                           // max_discard_seg
    c.setUint32(0x2c, 1, true);                                           // discard_sector_alignment
    c.setUint32(0x30, MAX_DISCARD_SECTORS, true);                         // max_write_zeroes_sectors
    c.setUint32(0x34, 1, true);                                           // max_write_zeroes_seg
  }

  onIdle?: () => void;
  busy(): boolean { return this.inFlight > 0; }

  activate(ctx: DeviceContext): void { this.ctx = ctx; }
  reset(): void { this.ctx = undefined; }

  save(): VirtioBlkState {
    // A request in flight would be lost, or done twice after the restore: the caller must
    // have waited for it (VirtioMmio.quiesce). Not the state's fault: a plain Error.
    if (this.inFlight > 0) throw new Error(`${this.name}: saved with ${this.inFlight} requests in flight`);
    return { version: 1 };
  }

  restore(state: unknown): void { parseBlkState(state, this.name); }

  private faultArmed = false;
  /** Fault injection (like QEMU's blkdebug): the next request fails as a back-end bug would. */
  injectFault(): void { this.faultArmed = true; }

  notify(): void {
    const ctx = this.ctx, q = ctx?.queues[0];
    if (!ctx || !q) return;
    do {
      for (let chain = q.pop(); chain; chain = q.pop()) this.start(ctx, q, chain);
    } while (q.armNotify());
  }

  /**
   * Starts one request; its completion returns the chain unless the device was reset
   * meanwhile. The request counts as in flight until its chain is back in the used ring
   * and its interrupt raised: whoever waits for idle (a reset, a save) then sees it done.
   */
  private start(ctx: DeviceContext, q: SplitQueue, chain: Chain): void {
    this.inFlight++;
    this.execute(chain).then(
      (written) => {
        try {
          if (this.ctx !== ctx) return; // reset while in flight: the chain is no longer ours
          q.push(chain, written);
          ctx.notifyUsed(q);
        } finally {
          this.finished();
        }
      },
      (e) => { this.finished(); this.onFault(e); },
    );
  }

  private finished(): void {
    if (--this.inFlight === 0) this.onIdle?.();
  }

  /**
   * Runs a request and writes its status byte; returns the bytes written into the chain.
   * The layout is not assumed (§5.2.6.4, VIRTIO_F_ANY_LAYOUT): the header is the first 16
   * readable bytes, the status the last writable byte.
   */
  private async execute(chain: Chain): Promise<number> {
    if (this.faultArmed) { this.faultArmed = false; throw new Error('injected back-end fault'); }
    const header = gather(chain.readable, 0, HEADER_BYTES);
    if (!header || chain.writableBytes < 1) return 0; // no room for a status: nothing to say
    const h = new DataView(header.buffer);
    const type = h.getUint32(0, true);
    const sector = h.getBigUint64(8, true);
    const statusByte = lastByte(chain.writable);
    const dataIn = slices(chain.writable, 0, chain.writableBytes - 1);
    const dataOut = slices(chain.readable, HEADER_BYTES, chain.readableBytes - HEADER_BYTES);
    let status = S_OK, written = 0;
    try {
      switch (type) {
        case T_IN: {
          const at = this.range(sector, chain.writableBytes - 1);
          await this.readInto(at, dataIn);
          written = chain.writableBytes - 1;
          this.counters.reads++; this.counters.readBytes += written;
          break;
        }
        case T_OUT: {
          this.writable();
          const at = this.range(sector, chain.readableBytes - HEADER_BYTES);
          try {
            await this.writeFrom(at, dataOut);
          } finally {
            this.writeLog?.mark(at, chain.readableBytes - HEADER_BYTES);
          }
          this.counters.writes++; this.counters.writtenBytes += chain.readableBytes - HEADER_BYTES;
          break;
        }
        case T_FLUSH: await this.disk.flush(); this.counters.flushes++; break;
        case T_GET_ID: {
          const id = new Uint8Array(ID_BYTES);
          id.set(new TextEncoder().encode(this.options.serial).subarray(0, ID_BYTES));
          written = copyInto(dataIn, id);
          break;
        }
        case T_DISCARD: case T_WRITE_ZEROES: {
          this.writable();
          const segBytes = chain.readableBytes - HEADER_BYTES;
          if (segBytes > MAX_SEGMENTS * SEGMENT_BYTES) throw new BadRequest(`more than ${MAX_SEGMENTS} discard segments`);
          const segs = gather(chain.readable, HEADER_BYTES, segBytes);
          if (!segs || segs.length % SEGMENT_BYTES !== 0) throw new BadRequest('malformed discard segments');
          const v = new DataView(segs.buffer);
          if (unsupportedFlags(v, type)) { status = S_UNSUPP; break; }
          for (let o = 0; o < segs.length; o += SEGMENT_BYTES) {
            const n = v.getUint32(o + 8, true);
            const at = this.range(v.getBigUint64(o, true), n * SECTOR);
            try {
              if (type === T_DISCARD) await this.disk.discard(at, n * SECTOR);
              else await this.zero(at, n * SECTOR);
            } finally {
              this.writeLog?.mark(at, n * SECTOR);
            }
          }
          this.counters.discards++;
          break;
        }
        default: status = S_UNSUPP;
      }
    } catch (e) {
      // Bad requests and I/O errors are the guest's answer; anything else is our bug.
      if (!(e instanceof BadRequest || e instanceof DiskError || isSystemError(e))) throw e;
      status = S_IOERR;
      this.counters.errors++;
      // The guest's own mistakes are its business; a failing image is the host's.
      if (!(e instanceof BadRequest)) this.options.ioError?.(`${REQUEST_NAMES[type] ?? `request ${type}`} at sector ${sector}: ${(e as Error).message}`);
    }
    statusByte.array[statusByte.index] = status;
    return written + 1;
  }

  /** Byte offset of `sector`, checking [sector, +bytes) is on the disk and whole sectors. */
  private range(sector: bigint, bytes: number): number {
    if (bytes % SECTOR !== 0) throw new BadRequest(`length ${bytes} is not whole sectors`);
    const at = Number(sector) * SECTOR;
    if (sector > BigInt(Number.MAX_SAFE_INTEGER) || at + bytes > this.disk.size) throw new BadRequest(`sector ${sector} +${bytes} is past the end`);
    return at;
  }

  /**
   * Reads consecutive disk bytes into a guest's scattered buffers: in one vectored call if
   * the driver has one, else through a bounce buffer of at most BOUNCE_BYTES, a window at a
   * time (a copy costs far less than a driver request per page).
   */
  private async readInto(at: number, parts: Uint8Array[]): Promise<void> {
    if (parts.length === 1) return this.disk.read(at, parts[0]);
    if (this.disk.readv) return this.disk.readv(at, parts);
    for (const w of windows(parts)) {
      const bounce = new Uint8Array(w.bytes);
      await this.disk.read(at + w.offset, bounce);
      let o = 0;
      for (const p of w.parts) { p.set(bounce.subarray(o, o + p.length)); o += p.length; }
    }
  }

  private async writeFrom(at: number, parts: Uint8Array[]): Promise<void> {
    if (parts.length === 1) return this.disk.write(at, parts[0]);
    if (this.disk.writev) return this.disk.writev(at, parts);
    for (const w of windows(parts)) {
      const bounce = new Uint8Array(w.bytes);
      let o = 0;
      for (const p of w.parts) { bounce.set(p, o); o += p.length; }
      await this.disk.write(at + w.offset, bounce);
    }
  }

  private writable(): void {
    if (this.disk.readOnly) throw new BadRequest('write to a read-only disk');
  }

  private async zero(at: number, bytes: number): Promise<void> {
    for (let done = 0; done < bytes; done += ZERO_CHUNK.length) {
      await this.disk.write(at + done, ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.length, bytes - done)));
    }
  }
}

/**
 * §5.2.6.2: a segment with an unknown flag, or a discard with `unmap` (only write zeroes
 * may have it), makes the whole request VIRTIO_BLK_S_UNSUPP; checked before any segment runs.
 */
function unsupportedFlags(segs: DataView, type: number): boolean {
  for (let o = 0; o < segs.byteLength; o += SEGMENT_BYTES) {
    const flags = segs.getUint32(o + 12, true);
    if ((flags & ~SEGMENT_F_UNMAP) !== 0 || (type === T_DISCARD && flags !== 0)) return true;
  }
  return false;
}

/** The guest asked for something impossible: VIRTIO_BLK_S_IOERR, nothing more. */
class BadRequest extends Error {}

function isSystemError(e: unknown): boolean {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string';
}

/**
 * The buffers cut into consecutive windows of at most BOUNCE_BYTES (a buffer larger than
 * that is cut too): each with its offset from the start and its size.
 */
function* windows(parts: readonly Uint8Array[]): Generator<{ offset: number; bytes: number; parts: Uint8Array[] }> {
  let offset = 0, bytes = 0, cur: Uint8Array[] = [];
  for (let p of parts) {
    while (p.length > 0) {
      const take = Math.min(p.length, BOUNCE_BYTES - bytes);
      cur.push(p.subarray(0, take));
      bytes += take;
      p = p.subarray(take);
      if (bytes === BOUNCE_BYTES) { yield { offset, bytes, parts: cur }; offset += bytes; bytes = 0; cur = []; }
    }
  }
  if (bytes > 0) yield { offset, bytes, parts: cur };
}

/** Views of bytes [offset, offset+n) of the concatenated buffers. */
function slices(buffers: readonly Uint8Array[], offset: number, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of buffers) {
    if (n <= 0) break;
    if (offset >= b.length) { offset -= b.length; continue; }
    const take = Math.min(b.length - offset, n);
    out.push(b.subarray(offset, offset + take));
    n -= take;
    offset = 0;
  }
  return out;
}

function lastByte(buffers: readonly Uint8Array[]): { array: Uint8Array; index: number } {
  for (let i = buffers.length - 1; i >= 0; i--) if (buffers[i].length) return { array: buffers[i], index: buffers[i].length - 1 };
  throw new Error('unreachable: writableBytes >= 1');
}

function copyInto(parts: readonly Uint8Array[], data: Uint8Array): number {
  let put = 0;
  for (const p of parts) {
    if (put === data.length) break;
    const n = Math.min(p.length, data.length - put);
    p.set(data.subarray(put, put + n));
    put += n;
  }
  return put;
}
