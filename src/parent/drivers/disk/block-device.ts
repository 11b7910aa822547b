// The disk drivers' common interface (ARCHITECTURE.md: parent partition drivers/): what a
// virtual disk looks like to the virtio-blk VSP, whatever the image format behind it.
// Every operation is asynchronous (libuv's thread pool does the file I/O), so a VM worker
// keeps serving its VPs while a request is in flight.

/** A virtual disk: a byte array of `size` bytes, in 512-byte sectors for the guest. */
export interface BlockDevice {
  /** The image file (for messages). */
  readonly path: string;
  /** Image format: 'raw' or 'qcow2'. */
  readonly format: string;
  /** Virtual size in bytes (a multiple of 512). */
  readonly size: number;
  readonly readOnly: boolean;
  /** The image below this one (qcow2 backing file), if any. */
  readonly backing?: BlockDevice | null;
  /** Reads into.length bytes at offset. Bytes no layer holds read as zero. */
  read(offset: number, into: Uint8Array): Promise<void>;
  /** Writes data at offset; rejects with DiskError on a read-only disk. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /**
   * Optional vectored forms: the buffers hold consecutive bytes from offset (a guest's
   * scattered pages, say). A driver that has them does the whole request in one host call.
   */
  readv?(offset: number, into: readonly Uint8Array[]): Promise<void>;
  writev?(offset: number, data: readonly Uint8Array[]): Promise<void>;
  /** Makes every completed write durable (metadata included): fdatasync. */
  flush(): Promise<void>;
  /** Hints that [offset, offset+length) is unused; whole clusters may then read as zero. */
  discard(offset: number, length: number): Promise<void>;
  /**
   * What this image's own layer holds over [offset, offset+length), its backing file not
   * consulted: consecutive runs covering the range, in order. A driver without layers
   * (raw) holds data everywhere.
   */
  layerExtents?(offset: number, length: number): Promise<LayerExtent[]>;
  /** Flushes, releases the image lock and closes the file(s). */
  close(): Promise<void>;
}

/**
 * A run of one layer: 'data' is held here (a compressed qcow2 cluster too); 'zero' reads as
 * zeros whatever lies below (the qcow2 v3 zero flag); 'absent' falls through to the
 * backing file (zeros without one, or past its end).
 */
export interface LayerExtent {
  offset: number;
  length: number;
  kind: 'data' | 'zero' | 'absent';
}

/** A disk cannot be opened or used: the message says which image and why. */
export class DiskError extends Error {
  constructor(message: string, readonly code: DiskErrorCode = 'io') {
    super(message);
    this.name = 'DiskError';
  }
}

export type DiskErrorCode = 'missing' | 'locked' | 'corrupt' | 'unsupported' | 'read-only' | 'range' | 'io' | 'denied';
