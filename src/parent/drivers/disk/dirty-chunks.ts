// Which parts of a disk were written since a point in time: one bit per chunk, like the
// dirty bitmaps of QEMU's block layer. A shared-nothing migration (docs/migration.md)
// copies a disk while its guest writes to it; every write completed from the start of
// the copy marks its chunks here, and each pass of the copy takes (harvests) the bits and
// sends those chunks again.

/** The granularity: a write anywhere in a chunk sends the whole chunk again. */
export const CHUNK_BYTES = 64 << 10;

export class DirtyChunks {
  private bits: Uint32Array;
  readonly chunks: number;

  /** @param size the disk's size in bytes */
  constructor(readonly size: number) {
    this.chunks = Math.ceil(size / CHUNK_BYTES);
    this.bits = new Uint32Array(Math.ceil(this.chunks / 32));
  }

  /** [offset, offset+length) was written (or discarded): its chunks are dirty. */
  mark(offset: number, length: number): void {
    if (length <= 0) return;
    const first = Math.floor(offset / CHUNK_BYTES);
    const last = Math.min(Math.floor((offset + length - 1) / CHUNK_BYTES), this.chunks - 1);
    for (let c = first; c <= last; c++) this.bits[c >>> 5]! |= 1 << (c & 31);
  }

  /** Every chunk is dirty (the copy's first pass). */
  markAll(): void {
    for (let c = 0; c < this.chunks; c++) this.bits[c >>> 5]! |= 1 << (c & 31);
  }

  /** The dirty chunks, one bit each; from now on none is. */
  harvest(): Uint32Array {
    const taken = this.bits;
    this.bits = new Uint32Array(taken.length);
    return taken;
  }
}

/** A run of consecutive chunks whose bits are set: bytes [offset, offset+length) of a disk of `size` bytes. */
export interface ChunkRun { offset: number; length: number }

/**
 * The set bits of `bits` (DirtyChunks.harvest) as byte ranges of the disk, in order, each
 * at most `maxBytes` (a multiple of CHUNK_BYTES) and none past the disk's end.
 */
export function* dirtyRuns(bits: Uint32Array, size: number, maxBytes: number): Generator<ChunkRun> {
  const chunks = Math.ceil(size / CHUNK_BYTES);
  const perRun = Math.max(1, Math.floor(maxBytes / CHUNK_BYTES));
  let first = -1, count = 0;
  const run = (): ChunkRun => {
    const offset = first * CHUNK_BYTES;
    return { offset, length: Math.min(count * CHUNK_BYTES, size - offset) };
  };
  for (let c = 0; c < chunks; c++) {
    const set = (bits[c >>> 5]! & (1 << (c & 31))) !== 0;
    if (set) {
      if (count === 0) first = c;
      if (++count === perRun) { yield run(); count = 0; }
    } else if (count > 0) {
      yield run();
      count = 0;
    }
  }
  if (count > 0) yield run();
}

/** Every chunk of a disk of `size` bytes, as harvest() gives them: a first pass copies them all. */
export function allChunks(size: number): Uint32Array {
  const all = new DirtyChunks(size);
  all.markAll();
  return all.harvest();
}
