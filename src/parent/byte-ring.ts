// A single-producer, single-consumer byte ring in shared memory: how the main thread
// hands console input to a VM worker. The main thread writes and rings the partition's
// doorbell; the worker's loop, which waits on that doorbell (Atomics.waitAsync), reads it
// on its next turn, with no message per keystroke. Head and tail are free-running
// counters (wrap at 2^32).
const HEAD = 0, TAIL = 1, HEADER = 8;

export class ByteRing {
  private readonly idx: Int32Array;
  private readonly data: Uint8Array;
  readonly capacity: number;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.idx = new Int32Array(buffer, 0, 2);
    this.data = new Uint8Array(buffer, HEADER);
    this.capacity = this.data.length;
    if (this.capacity & (this.capacity - 1)) throw new RangeError('ring capacity must be a power of two');
  }

  static create(capacity = 1 << 16): ByteRing { return new ByteRing(new SharedArrayBuffer(HEADER + capacity)); }

  /** Producer: copies as many bytes as fit; returns how many were taken. */
  write(bytes: Uint8Array): number {
    const head = Atomics.load(this.idx, HEAD), tail = Atomics.load(this.idx, TAIL);
    const free = this.capacity - ((head - tail) >>> 0);
    const n = Math.min(free, bytes.length);
    for (let i = 0; i < n; i++) this.data[(head + i) & (this.capacity - 1)] = bytes[i];
    Atomics.store(this.idx, HEAD, (head + n) | 0);
    return n;
  }

  /** Consumer: takes what is available, at most `max` bytes. */
  read(max = Infinity): Uint8Array {
    const head = Atomics.load(this.idx, HEAD), tail = Atomics.load(this.idx, TAIL);
    const n = Math.min((head - tail) >>> 0, max);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.data[(tail + i) & (this.capacity - 1)];
    Atomics.store(this.idx, TAIL, (tail + n) | 0);
    return out;
  }

  get available(): number { return (Atomics.load(this.idx, HEAD) - Atomics.load(this.idx, TAIL)) >>> 0; }
}
