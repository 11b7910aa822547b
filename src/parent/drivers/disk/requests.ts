// What every driver does around a request: check its range, count it while it runs, and
// let close() wait for the requests in flight instead of closing the file under them.
import { DiskError } from './block-device.js';

/** Rejects a request that is not inside the disk (the caller is the guest: hostile). */
export function checkRange(disk: { path: string; size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > disk.size) {
    throw new DiskError(`${disk.path}: request of ${length} bytes at ${offset} is outside the disk (${disk.size} bytes)`, 'range');
  }
}

export class Requests {
  private inFlight = 0;
  private closed = false;
  private drained: (() => void) | null = null;

  constructor(private readonly path: string) {}

  /** Runs a request, or rejects it once close() has begun. */
  async run<T>(request: () => Promise<T>): Promise<T> {
    if (this.closed) throw new DiskError(`${this.path}: the disk is closed`, 'io');
    this.inFlight++;
    try {
      return await request();
    } finally {
      if (--this.inFlight === 0) this.drained?.();
    }
  }

  /** Refuses new requests and waits for those in flight; false if already closed. */
  async close(): Promise<boolean> {
    if (this.closed) return false;
    this.closed = true;
    if (this.inFlight > 0) await new Promise<void>((r) => (this.drained = r));
    return true;
  }
}
