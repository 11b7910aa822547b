// Which host clusters of a qcow2 image hold metadata. A writable image keeps this map so
// that nothing it writes can land on metadata, even when the image lies: a data cluster
// pointer aimed at the L1 table, a refcount of 0 on an L2 table (which the allocator would
// then hand out again), two tables in one cluster.
export type MetadataKind = 'header' | 'L1 table' | 'refcount table' | 'refcount block' | 'L2 table' | 'snapshot table' | 'snapshot L1 table';

export class MetadataMap {
  private readonly kinds = new Map<number, MetadataKind>();

  /**
   * Records clusters [first, first+count) as kind. Returns the kind already recorded for
   * one of them if it differs (the image is corrupt); L2 tables may be shared by snapshots.
   */
  add(first: number, count: number, kind: MetadataKind): MetadataKind | null {
    for (let c = first; c < first + count; c++) {
      const had = this.kinds.get(c);
      if (had !== undefined && (had !== kind || kind !== 'L2 table')) return had;
      this.kinds.set(c, kind);
    }
    return null;
  }

  kindOf(cluster: number): MetadataKind | undefined {
    return this.kinds.get(cluster);
  }

  remove(cluster: number): void {
    this.kinds.delete(cluster);
  }
}
