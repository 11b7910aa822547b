// A cache of one-cluster metadata tables (qcow2 L2 tables, refcount blocks), keyed by their
// offset in the image, least recently used first out.
//
// There is never more than one copy of a table in memory: concurrent loads of one table
// share a single read, and a table someone has pinned (a request that will change it and
// write it back) is never evicted, so a later load cannot bring in a stale copy from the
// file while the pinned one is being changed.
export class TableCache {
  private readonly entries = new Map<number, Slot>();

  constructor(
    private readonly capacity: number,
    private readonly load: (offset: number) => Promise<Uint8Array>,
  ) {}

  /** The table at offset, for a caller that uses it before its next await. */
  async get(offset: number): Promise<Uint8Array> {
    const slot = this.slot(offset);
    return slot.table ?? (await slot.loading!);
  }

  /** The table at offset, pinned in the cache until release(offset). */
  async acquire(offset: number): Promise<Uint8Array> {
    const slot = this.slot(offset);
    slot.pins++;
    try {
      return slot.table ?? (await slot.loading!);
    } catch (e) {
      slot.pins--;
      throw e;
    }
  }

  /** Pins a table that is in the cache (the caller got it and has not awaited since). */
  pin(offset: number, table: Uint8Array): void {
    const slot = this.entries.get(offset);
    if (slot?.table === table) slot.pins++;
    else this.install(offset, table, true);
  }

  release(offset: number): void {
    const slot = this.entries.get(offset);
    if (slot && slot.pins > 0) slot.pins--;
    this.evict();
  }

  /** Puts a table the caller built (a new or copied one) in place of any cached copy. */
  install(offset: number, table: Uint8Array, pinned = false): void {
    this.entries.delete(offset);
    this.entries.set(offset, { table, loading: null, pins: pinned ? 1 : 0 });
    this.evict();
  }

  /** Forgets the table at offset (its cluster was freed). */
  drop(offset: number): void {
    this.entries.delete(offset);
  }

  clear(): void {
    this.entries.clear();
  }

  private slot(offset: number): Slot {
    let slot = this.entries.get(offset);
    if (slot) {
      this.entries.delete(offset); // most recently used goes last
      this.entries.set(offset, slot);
      return slot;
    }
    const s: Slot = { table: null, loading: null, pins: 0 };
    s.loading = this.load(offset).then(
      (t) => {
        s.table = t;
        s.loading = null;
        return t;
      },
      (e) => {
        if (this.entries.get(offset) === s) this.entries.delete(offset);
        throw e;
      },
    );
    s.loading.catch(() => undefined); // the awaiting caller sees the error
    this.entries.set(offset, s);
    this.evict();
    return s;
  }

  private evict(): void {
    if (this.entries.size <= this.capacity) return;
    for (const [offset, slot] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      if (slot.pins === 0 && slot.table) this.entries.delete(offset);
    }
  }
}

interface Slot {
  table: Uint8Array | null;
  loading: Promise<Uint8Array> | null;
  pins: number;
}
