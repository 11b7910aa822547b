// qcow2 refcounts and cluster allocation (QEMU docs/interop/qcow2.txt, "Host cluster
// management"): a refcount table of pointers to refcount blocks, each block one cluster of
// refcount_bits-wide counts (refcount_bits = 1 << refcount_order, 1 to 64; sub-byte counts
// are packed from the least significant bit).
//
// Counts change in memory and are written by writeDirty() when the driver commits
// (qcow2.ts): before the fdatasync that precedes any entry pointing at a new cluster.
// Changes to the structure itself are written at once, in an order that is consistent at
// every step: a new refcount block is written and synced before the table points at it,
// a new refcount table before the header does. A cluster that loses its reference is only
// decremented once that loss is durable (deferDecrement / takeDeferred), so a refcount
// never drops below the number of durable references to it.
import { MAX_REFTABLE_BYTES, H } from './qcow2-header.js';
import type { Qcow2File } from './qcow2-file.js';
import type { MetadataMap } from './qcow2-metadata.js';
import { TableCache } from './table-cache.js';

const REFTABLE_OFFSET_LO = 0xffff_fe00; // refcount table entry: bits 9-63 (0-8 reserved)

export class Refcounts {
  private readonly cs: number;
  /** Refcount block entries: cluster_size * 8 / refcount_bits. */
  private readonly perBlock: number;
  private readonly bits: number;
  private readonly max: number;
  private table: Uint8Array;
  private tableView: DataView;
  private readonly blocks: TableCache;
  /** Blocks changed in memory and not yet written: [first, end) byte ranges. */
  private readonly dirty = new Map<number, { block: Uint8Array; lo: number; hi: number }>();
  private deferred: number[] = [];
  /** No free cluster below this index. */
  private freeHint = 0;

  constructor(
    private readonly file: Qcow2File,
    readonly order: number,
    /** Where the refcount table is; growTable moves it. */
    private tableOffset: number,
    table: Uint8Array,
    private readonly meta: MetadataMap,
    /** A cluster with data I/O in flight: free, but not to be handed out yet. */
    private readonly busy: (cluster: number) => boolean,
    /** Called when a cluster's refcount drops to 0. */
    private readonly onFreed: (cluster: number) => void,
  ) {
    this.cs = file.clusterSize;
    this.bits = 2 ** order;
    this.perBlock = (this.cs * 8) / this.bits;
    this.max = this.bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** this.bits - 1;
    this.table = table;
    this.tableView = view(table);
    const capacity = Math.max(8, Math.floor((256 << 10) / this.cs));
    this.blocks = new TableCache(capacity, async (offset) => {
      const b = new Uint8Array(this.cs);
      await this.file.read(b, offset);
      return b;
    });
  }

  /** The refcount block offsets in the table, checked (for the metadata map at open). */
  blockOffsets(): number[] {
    const found: number[] = [];
    for (let i = 0; i < this.tableEntries; i++) {
      const b = this.blockOffset(i);
      if (b !== 0) found.push(b);
    }
    return found;
  }

  async get(cluster: number): Promise<number> {
    const i = Math.floor(cluster / this.perBlock);
    if (i >= this.tableEntries) return 0;
    const b = this.blockOffset(i);
    if (b === 0) return 0;
    return this.entry(await this.block(b), cluster % this.perBlock);
  }

  /**
   * Finds a free cluster, sets its refcount to 1 and returns its index. The count is only
   * in memory until writeDirty(); it is not handed out twice meanwhile.
   */
  async allocate(): Promise<number> {
    for (;;) {
      const c = await this.findFree();
      const i = Math.floor(c / this.perBlock);
      if (i >= this.tableEntries) {
        await this.growTable(i + 1);
        continue;
      }
      if (this.blockOffset(i) === 0) {
        await this.createBlock(c, i);
        continue;
      }
      await this.set(c, 1);
      this.freeHint = c + 1;
      if (c >= this.file.endCluster) this.file.endCluster = c + 1;
      return c;
    }
  }

  /** Queues a decrement: the reference's removal is written, not yet durable (takeDeferred). */
  deferDecrement(cluster: number): void {
    this.deferred.push(cluster);
  }

  /** The decrements queued so far: fdatasync, then pass them to decrement(). */
  takeDeferred(): number[] {
    const d = this.deferred;
    this.deferred = [];
    return d;
  }

  /** Decrements the clusters' refcounts (one per occurrence), in memory until writeDirty(). */
  async decrement(clusters: number[]): Promise<void> {
    for (const c of clusters) {
      const n = await this.get(c);
      if (n === 0) throw this.file.corrupt(`the refcount of cluster ${c} would drop below 0`);
      // A 64-bit count beyond 2^53 reads as MAX_SAFE_INTEGER; it can only stay saturated.
      if (n < Number.MAX_SAFE_INTEGER) await this.set(c, n - 1);
      if (n === 1) {
        this.freeHint = Math.min(this.freeHint, c);
        this.meta.remove(c);
        this.onFreed(c);
      }
    }
  }

  /** Writes the changed parts of refcount blocks. */
  async writeDirty(): Promise<void> {
    for (const [offset, d] of this.dirty) {
      this.dirty.delete(offset);
      try {
        await this.file.write(d.block.subarray(d.lo, d.hi), offset + d.lo);
      } finally {
        this.blocks.release(offset);
      }
    }
  }

  private get tableEntries(): number {
    return this.table.length / 8;
  }

  private blockOffset(i: number): number {
    const hi = this.tableView.getUint32(i * 8);
    const lo = this.tableView.getUint32(i * 8 + 4) & REFTABLE_OFFSET_LO;
    const offset = hi * 2 ** 32 + (lo >>> 0);
    if (offset !== 0) this.file.checkTable('refcount block', offset);
    return offset;
  }

  /** A block: dirty ones are pinned in the cache, so this is always the one copy. */
  private block(offset: number): Promise<Uint8Array> {
    return this.blocks.get(offset);
  }

  private async findFree(): Promise<number> {
    for (let c = this.freeHint; ; ) {
      const i = Math.floor(c / this.perBlock);
      const b = i < this.tableEntries ? this.blockOffset(i) : 0;
      const block = b === 0 ? null : await this.block(b); // no block: all of its clusters are free
      for (const end = (i + 1) * this.perBlock; c < end; c++) {
        if (block && this.entry(block, c % this.perBlock) !== 0) continue;
        const kind = this.meta.kindOf(c);
        if (kind) throw this.file.corrupt(`cluster ${c} holds the ${kind} but its refcount is 0`);
        if (!this.busy(c)) return c;
      }
    }
  }

  private async set(cluster: number, count: number): Promise<void> {
    if (count > this.max) throw this.file.corrupt(`the refcount of cluster ${cluster} overflows ${this.bits} bits`);
    const offset = this.blockOffset(Math.floor(cluster / this.perBlock));
    let d = this.dirty.get(offset);
    if (!d) {
      const block = await this.blocks.acquire(offset); // pinned until written
      d = this.dirty.get(offset); // another caller may have got there during the await
      if (d) this.blocks.release(offset);
      else this.dirty.set(offset, (d = { block, lo: this.cs, hi: 0 }));
    }
    const [lo, hi] = this.setEntry(d.block, cluster % this.perBlock, count);
    d.lo = Math.min(d.lo, lo);
    d.hi = Math.max(d.hi, hi);
  }

  private entry(block: Uint8Array, i: number): number {
    return refcountEntry(block, this.order, i);
  }

  /** Sets entry i; returns the byte range written. */
  private setEntry(block: Uint8Array, i: number, count: number): [number, number] {
    return setRefcountEntry(block, this.order, i, count);
  }

  /**
   * A new refcount block for table index i, placed in cluster c, the free cluster being
   * allocated: every cluster block i covers has refcount 0 (it had no block), so c is free,
   * and the block records its own refcount.
   */
  private async createBlock(c: number, i: number): Promise<void> {
    const block = new Uint8Array(this.cs);
    this.setEntry(block, c % this.perBlock, 1);
    const offset = c * this.cs;
    if (c >= this.file.endCluster) this.file.endCluster = c + 1;
    await this.file.write(block, offset);
    await this.file.sync();
    this.meta.add(c, 1, 'refcount block');
    this.blocks.install(offset, block);
    this.setTableEntry(this.tableView, i, offset);
    await this.file.write(this.table.subarray(i * 8, i * 8 + 8), this.tableOffset + i * 8);
    this.freeHint = Math.min(this.freeHint, c + 1);
  }

  /**
   * Moves the refcount table to a larger one with at least `entries` entries. The new table
   * and the refcount blocks that count its clusters go in a fresh run of clusters past
   * everything the old table covers and the end of the file, so that none of them need a
   * block the old table has:
   *
   *   [blocks for the run][new table] at cluster `start`
   *
   * They are written and synced, then the header is pointed at the new table; the old
   * table's clusters are freed once that is durable.
   */
  private async growTable(entries: number): Promise<void> {
    const oldEntries = this.tableEntries;
    const start = Math.max(oldEntries * this.perBlock, this.file.endCluster);
    const firstBlock = Math.floor(start / this.perBlock);
    let blocks = 1;
    let tableClusters = 1;
    let want = 0;
    for (;;) {
      const lastBlock = Math.floor((start + blocks + tableClusters - 1) / this.perBlock);
      want = Math.max(entries, lastBlock + 1, oldEntries * 2);
      const t = Math.ceil((want * 8) / this.cs);
      const b = lastBlock - firstBlock + 1;
      if (t === tableClusters && b === blocks) break;
      tableClusters = Math.max(t, tableClusters);
      blocks = Math.max(b, blocks);
    }
    if (tableClusters * this.cs > MAX_REFTABLE_BYTES) {
      throw this.file.corrupt(`the refcount table would exceed ${MAX_REFTABLE_BYTES} bytes: the image is full`);
    }
    const tableAt = start + blocks;
    const table = new Uint8Array(tableClusters * this.cs);
    table.set(this.table);
    const tv = view(table);
    const newBlocks: Uint8Array[] = [];
    for (let j = 0; j < blocks; j++) {
      const block = new Uint8Array(this.cs);
      for (let c = start; c < tableAt + tableClusters; c++) {
        if (Math.floor(c / this.perBlock) === firstBlock + j) this.setEntry(block, c % this.perBlock, 1);
      }
      newBlocks.push(block);
      this.setTableEntry(tv, firstBlock + j, (start + j) * this.cs);
    }
    this.file.endCluster = Math.max(this.file.endCluster, tableAt + tableClusters);
    for (let j = 0; j < blocks; j++) await this.file.write(newBlocks[j]!, (start + j) * this.cs);
    await this.file.write(table, tableAt * this.cs);
    await this.file.sync();

    const header = new DataView(new ArrayBuffer(12));
    header.setUint32(0, Math.floor((tableAt * this.cs) / 2 ** 32));
    header.setUint32(4, (tableAt * this.cs) % 2 ** 32);
    header.setUint32(8, tableClusters);
    await this.file.write(new Uint8Array(header.buffer), H.refcountTableOffset);

    const oldFirst = this.tableOffset / this.cs;
    const oldClusters = Math.ceil(this.table.length / this.cs);
    this.table = table;
    this.tableView = tv;
    this.tableOffset = tableAt * this.cs;
    for (let j = 0; j < blocks; j++) {
      this.meta.add(start + j, 1, 'refcount block');
      this.blocks.install((start + j) * this.cs, newBlocks[j]!);
    }
    this.meta.add(tableAt, tableClusters, 'refcount table');
    for (let c = oldFirst; c < oldFirst + oldClusters; c++) {
      this.meta.remove(c); // no longer metadata once the header no longer points at it
      this.deferDecrement(c);
    }
  }

  private setTableEntry(tv: DataView, i: number, offset: number): void {
    tv.setUint32(i * 8, Math.floor(offset / 2 ** 32));
    tv.setUint32(i * 8 + 4, offset % 2 ** 32);
  }
}

/** Entry i of a refcount block with 2^order-bit entries (sub-byte ones from bit 0 up). */
export function refcountEntry(block: Uint8Array, order: number, i: number): number {
  const v = view(block);
  switch (order) {
    case 0:
    case 1:
    case 2: {
      const bits = 2 ** order;
      return (block[(i * bits) >> 3]! >> ((i * bits) % 8)) & (2 ** bits - 1);
    }
    case 3: return block[i]!;
    case 4: return v.getUint16(i * 2);
    case 5: return v.getUint32(i * 4);
    default: return Math.min(Number.MAX_SAFE_INTEGER, v.getUint32(i * 8) * 2 ** 32 + v.getUint32(i * 8 + 4));
  }
}

/** Sets entry i of a refcount block; returns the byte range [lo, hi) that changed. */
export function setRefcountEntry(block: Uint8Array, order: number, i: number, count: number): [number, number] {
  const v = view(block);
  switch (order) {
    case 0:
    case 1:
    case 2: {
      const bits = 2 ** order;
      const at = (i * bits) >> 3;
      const shift = (i * bits) % 8;
      const mask = 2 ** bits - 1;
      block[at] = (block[at]! & ~(mask << shift)) | (count << shift);
      return [at, at + 1];
    }
    case 3: block[i] = count; return [i, i + 1];
    case 4: v.setUint16(i * 2, count); return [i * 2, i * 2 + 2];
    case 5: v.setUint32(i * 4, count); return [i * 4, i * 4 + 4];
    default:
      v.setUint32(i * 8, Math.floor(count / 2 ** 32));
      v.setUint32(i * 8 + 4, count % 2 ** 32);
      return [i * 8, i * 8 + 8];
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
