// Table entries changed in memory whose write to the image waits for the next commit
// (qcow2.ts): byte ranges of L2 tables and of the L1 table. An L2 table with pending
// changes stays pinned in the cache, so the changed copy is the only one.
import type { Qcow2File } from './qcow2-file.js';
import type { TableCache } from './table-cache.js';

export class PendingTables {
  private readonly ranges = new Map<number, { table: Uint8Array; lo: number; hi: number; pinned: boolean }>();

  constructor(
    private readonly file: Qcow2File,
    private readonly l2: TableCache,
  ) {}

  /** Tables with changes not yet written. */
  get size(): number {
    return this.ranges.size;
  }

  /** Bytes [lo, hi) of the table at offset changed; an L2 table is pinned until written. */
  mark(offset: number, table: Uint8Array, lo: number, hi: number, isL2: boolean): void {
    const r = this.ranges.get(offset);
    if (r) {
      r.lo = Math.min(r.lo, lo);
      r.hi = Math.max(r.hi, hi);
      return;
    }
    if (isL2) this.l2.pin(offset, table);
    this.ranges.set(offset, { table, lo, hi, pinned: isL2 });
  }

  /** Writes every pending range. */
  async writeAll(): Promise<void> {
    for (const [offset, r] of this.ranges) {
      this.ranges.delete(offset);
      try {
        await this.file.write(r.table.subarray(r.lo, r.hi), offset + r.lo);
      } finally {
        if (r.pinned) this.l2.release(offset);
      }
    }
  }
}
