// What a virtio-blk VSP counts: requests completed by type, bytes moved, requests that
// failed. The VM worker sends them to the main thread for the service's metrics.

export interface BlkCounters {
  reads: number;
  writes: number;
  flushes: number;
  discards: number;
  readBytes: number;
  writtenBytes: number;
  /** Requests answered with VIRTIO_BLK_S_IOERR (a bad request or an I/O error). */
  errors: number;
}

export function newBlkCounters(): BlkCounters {
  return { reads: 0, writes: 0, flushes: 0, discards: 0, readBytes: 0, writtenBytes: 0, errors: 0 };
}
