// The qcow2 image driver, versions 2 and 3 (QEMU docs/interop/qcow2.txt).
//
// Guest offset → host offset goes through the L1 table (in memory) and L2 tables (a cache).
// Reads, and writes to clusters this image already owns (standard clusters with refcount 1,
// "COPIED"), run concurrently without the mutex; everything that changes metadata
// (allocation, copy-on-write, discard, zeroing, commit, flush, the backing file name)
// runs one at a time under it.
//
// Memory always holds the current metadata; the file catches up in an order that keeps it
// consistent whatever moment the process dies or the power fails:
//   - an allocating write takes new clusters (refcounts in memory), writes their contents
//     (the guest's bytes merged with the old contents: backing file, compressed cluster,
//     zeros, or a cluster shared with a snapshot) and any new L2 table in full, and points
//     the L2/L1 entries at them in memory only;
//   - a commit (at flush, when many tables are pending, or a moment after a change) writes
//     the changed refcounts, fdatasyncs, and only then writes the changed L2/L1 entries:
//     nothing on disk ever points at a cluster whose contents or refcount are not durable;
//   - a cluster that lost its reference is decremented only after the commit that wrote
//     the change has been followed by another fdatasync, so no durable reference outlives
//     its refcount.
// A process killed between commits loses the allocating writes since the last commit
// (the guest did not flush them) and leaves, at worst, a few leaked clusters; after a
// completed flush everything is on disk and `qemu-img check` finds nothing.
//
// A cluster that a request without the mutex is reading or writing is "in flight"; the
// allocator does not hand it out again until that I/O is done, even if a racing discard or
// overwrite has freed it meanwhile.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { FileHandle } from 'node:fs/promises';
import { type BlockDevice, DiskError, type LayerExtent } from './block-device.js';
import { fileSize, readAt } from './file-io.js';
import type { ImageLock } from './lock.js';
import { Mutex } from './mutex.js';
import { l1Entry, l2Entry, setL1Entry, setL2Standard, setL2Unallocated, setL2Zero, type L2Entry } from './qcow2-entries.js';
import { Qcow2File } from './qcow2-file.js';
import { checkFeatures, H, headerClusterBits, parseHeader, type Qcow2Header, withBackingFile } from './qcow2-header.js';
import { MetadataMap } from './qcow2-metadata.js';
import { Refcounts } from './qcow2-refcounts.js';
import { readSnapshotTable } from './qcow2-snapshots.js';
import { PendingTables } from './qcow2-pending.js';
import { checkRange, Requests } from './requests.js';
import { TableCache } from './table-cache.js';

const inflateRaw = promisify(zlib.inflateRaw);

/** A change is committed at most this long after it was made (if nothing commits sooner). */
const COMMIT_DELAY_MS = 1000;
/** Commit once this many tables have pending changes (they are pinned in memory). */
const MAX_PENDING_TABLES = 256;

/** Opens the image's backing file (read-only), given its name as stored and its format. */
export type OpenBacking = (name: string, format: string | null) => Promise<BlockDevice>;

export interface Qcow2OpenOptions {
  readOnly: boolean;
  openBacking: OpenBacking;
}

/** One guest cluster's part of a request. */
interface Piece {
  /** Guest cluster index. */
  g: number;
  /** Offset in the cluster and length. */
  at: number;
  data: Uint8Array;
  /** The entry before this write. */
  old: L2Entry;
  /** The new cluster is past anything ever written to the file: it reads as zeros already. */
  fresh: boolean;
  /** Host offset written to: the cluster itself (in place) or a new one. */
  host: number;
  inPlace: boolean;
}

/** Part of a read served by one file read: from the image (host offset) or the backing file. */
interface Run {
  kind: 'host' | 'backing';
  from: number;
  /** Offset in the caller's buffer. */
  dst: number;
  length: number;
}

/** The pieces of an allocating write that share one L2 table. */
interface TableGroup {
  l1Index: number;
  /** own: the table is this image's alone; new: there is none yet; shared: copy it first. */
  state: 'own' | 'new' | 'shared';
  oldOffset: number;
  table: Uint8Array;
  newOffset: number;
  pieces: Piece[];
}

export class Qcow2Disk implements BlockDevice {
  readonly format = 'qcow2';
  readonly size: number;
  private readonly cs: number;
  private readonly l2Entries: number;
  private readonly l1View: DataView;
  private readonly l2: TableCache;
  private readonly mutex = new Mutex();
  private readonly requests: Requests;
  private readonly inFlight = new Map<number, number>();
  private readonly decompressed = new Map<number, Uint8Array>();
  /** Set when a metadata update failed halfway: memory and file may disagree. */
  private broken: DiskError | null = null;
  private readonly pending: PendingTables;
  /** Clusters whose last reference was dropped in memory, for after the next commit. */
  private removals: number[] = [];
  private commitTimer: NodeJS.Timeout | null = null;

  private constructor(
    readonly path: string,
    readonly readOnly: boolean,
    private readonly file: Qcow2File,
    private readonly header: Qcow2Header,
    private readonly l1: Uint8Array,
    readonly backing: BlockDevice | null,
    private readonly lock: ImageLock | null,
    private readonly refcounts: Refcounts | null,
    private readonly meta: MetadataMap | null,
  ) {
    this.cs = file.clusterSize;
    this.l2Entries = this.cs / 8;
    this.size = header.size - (header.size % 512);
    this.l1View = view(l1);
    this.requests = new Requests(path);
    const capacity = Math.max(16, Math.floor((4 << 20) / this.cs));
    this.l2 = new TableCache(capacity, async (offset) => {
      file.checkTable('L2 table', offset);
      const t = new Uint8Array(this.cs);
      await file.read(t, offset);
      return t;
    });
    this.pending = new PendingTables(file, this.l2);
  }

  /**
   * Opens a qcow2 image on fh. Takes ownership of fh and lock (released on failure too, as
   * is the backing file once opened).
   */
  static async open(path: string, fh: FileHandle, lock: ImageLock | null, opts: Qcow2OpenOptions): Promise<Qcow2Disk> {
    let backing: BlockDevice | null = null;
    try {
      const bytes = await fileSize(fh, path);
      const prefix = new Uint8Array(512);
      await readAt(fh, path, prefix, 0);
      const file = new Qcow2File(fh, path, headerClusterBits(path, prefix), bytes);
      const cluster0 = new Uint8Array(file.clusterSize);
      await file.read(cluster0, 0);
      const header = parseHeader(path, cluster0, bytes);
      checkFeatures(path, header, !opts.readOnly);
      if (header.backingFile !== null) backing = await opts.openBacking(header.backingFile, header.backingFormat);

      const l1 = new Uint8Array(header.l1Size * 8);
      await file.read(l1, header.l1TableOffset);
      const l2Offsets = checkL1(file, l1);
      let refcounts: Refcounts | null = null;
      let meta: MetadataMap | null = null;
      if (!opts.readOnly) {
        meta = await mapMetadata(file, header, l2Offsets);
        const table = new Uint8Array(header.refcountTableClusters * file.clusterSize);
        await file.read(table, header.refcountTableOffset);
        let disk: Qcow2Disk | null = null;
        refcounts = new Refcounts(
          file,
          header.refcountOrder,
          header.refcountTableOffset,
          table,
          meta,
          (c) => disk!.inFlight.has(c),
          (c) => disk!.freed(c),
        );
        for (const b of refcounts.blockOffsets()) {
          const clash = meta.add(b / file.clusterSize, 1, 'refcount block');
          if (clash) throw file.corrupt(`refcount block at ${b} overlaps the ${clash}`);
        }
        // Spec, autoclear_features: a writer that does not know a bit must clear it first
        // (for bit 0 that marks any persistent bitmaps as inconsistent, as they will be).
        if (header.autoclearFeatures !== 0n) {
          await file.write(new Uint8Array(8), H.autoclearFeatures);
          await file.sync();
          header.autoclearFeatures = 0n;
        }
        disk = new Qcow2Disk(path, false, file, header, l1, backing, lock, refcounts, meta);
        return disk;
      }
      return new Qcow2Disk(path, true, file, header, l1, backing, lock, null, null);
    } catch (e) {
      await backing?.close().catch(() => undefined);
      await fh.close().catch(() => undefined);
      await lock?.release();
      throw e;
    }
  }

  async read(offset: number, into: Uint8Array): Promise<void> {
    checkRange(this, offset, into.length);
    return this.requests.run(() => this.readRange(offset, into));
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkRange(this, offset, data.length);
    this.checkWritable();
    return this.requests.run(async () => {
      // Clusters another request allocates meanwhile are then written in place, outside
      // the mutex; after a few such rounds the write goes in under the mutex.
      for (let round = 0; data.length > 0; round++) {
        if (await this.writeInPlace(offset, data)) return;
        if (await this.mutex.run(() => this.guard(() => this.writeAllocating(offset, data, round >= 2)))) return;
      }
    });
  }

  async flush(): Promise<void> {
    if (this.readOnly) return;
    return this.requests.run(() => this.mutex.run(() => (this.broken ? this.file.sync() : this.guard(() => this.flushAll()))));
  }

  async discard(offset: number, length: number): Promise<void> {
    checkRange(this, offset, length);
    this.checkWritable();
    return this.requests.run(() => this.mutex.run(() => this.guard(() => this.discardClusters(offset, length))));
  }

  async close(): Promise<void> {
    if (!(await this.requests.close())) return;
    if (this.commitTimer) clearTimeout(this.commitTimer);
    try {
      if (!this.readOnly) await this.mutex.run(() => (this.broken ? this.file.sync() : this.flushAll()));
    } finally {
      await this.file.fh.close().catch(() => undefined);
      await this.backing?.close().catch(() => undefined);
      await this.lock?.release();
    }
  }

  /** Bytes per cluster: the granularity of this image's layer. */
  get clusterSize(): number {
    return this.cs;
  }

  /** The backing file name as stored in the header (relative to this image's folder), if any. */
  get backingFile(): string | null {
    return this.header.backingFile;
  }

  /** The backing file format as stored (the backing format header extension), if any. */
  get backingFormat(): string | null {
    return this.header.backingFormat;
  }

  /** qcow2 version: 2 has no zero flag. */
  get version(): 2 | 3 {
    return this.header.version;
  }

  /** How many internal snapshots the image has. */
  get snapshotCount(): number {
    return this.header.nbSnapshots;
  }

  /**
   * What this image's own layer holds over [offset, offset+length), in runs of whole
   * clusters (clipped to the range), the backing file not consulted: unallocated entries,
   * and clusters under no L2 table, are 'absent'; entries with the zero flag 'zero';
   * standard and compressed clusters 'data' (qcow2.txt, "Cluster mapping").
   */
  async layerExtents(offset: number, length: number): Promise<LayerExtent[]> {
    checkRange(this, offset, length);
    return this.requests.run(async () => {
      const out: LayerExtent[] = [];
      const add = (kind: LayerExtent['kind'], from: number, to: number) => {
        const last = out[out.length - 1];
        if (last?.kind === kind) last.length += to - from;
        else out.push({ offset: from, length: to - from, kind });
      };
      const end = offset + length;
      for (let pos = offset; pos < end; ) {
        const l1Index = Math.floor(pos / this.cs / this.l2Entries);
        const tableEnd = Math.min(end, (l1Index + 1) * this.l2Entries * this.cs);
        const { l2Offset } = l1Entry(this.l1View, l1Index);
        if (l2Offset === 0) {
          add('absent', pos, tableEnd);
          pos = tableEnd;
          continue;
        }
        const tv = view(await this.l2.get(l2Offset)); // used before the next await
        while (pos < tableEnd) {
          const g = Math.floor(pos / this.cs);
          const e = l2Entry(tv, g % this.l2Entries, this.file.clusterBits);
          const next = Math.min(tableEnd, (g + 1) * this.cs);
          add(e.kind === 'unallocated' ? 'absent' : e.kind === 'zero' ? 'zero' : 'data', pos, next);
          pos = next;
        }
      }
      return out;
    });
  }

  // ---- reading ----

  private async readRange(offset: number, into: Uint8Array): Promise<void> {
    const held: number[] = [];
    const io: Promise<void>[] = [];
    // Consecutive clusters that are contiguous in the file, or all from the backing file,
    // are read with one call.
    let run: Run | null = null;
    try {
      for (let pos = 0; pos < into.length; ) {
        const guest = offset + pos;
        const g = Math.floor(guest / this.cs);
        const at = guest % this.cs;
        const n = Math.min(this.cs - at, into.length - pos);
        const e = await this.lookup(g);
        let next: Run | null = null;
        if (e.kind === 'standard') {
          this.checkData(e.host);
          this.hold(e.host, this.cs, held);
          next = { kind: 'host', from: e.host + at, dst: pos, length: n };
        } else if (e.kind === 'unallocated' && this.backing) {
          next = { kind: 'backing', from: guest, dst: pos, length: n };
        }
        if (run && next && run.kind === next.kind && run.from + run.length === next.from) {
          run.length += n;
        } else {
          if (run) io.push(handled(this.readRun(run, into)));
          run = next;
          if (e.kind === 'compressed') {
            this.hold(e.host, e.length, held);
            io.push(handled(this.readCompressed(e, at, into.subarray(pos, pos + n))));
          } else if (!next) {
            into.fill(0, pos, pos + n); // zero cluster, or unallocated without a backing file
          }
        }
        pos += n;
      }
      if (run) io.push(handled(this.readRun(run, into)));
      await settle(io);
    } finally {
      for (const c of held) this.unhold(c);
    }
  }

  private readRun(run: Run, into: Uint8Array): Promise<void> {
    const dst = into.subarray(run.dst, run.dst + run.length);
    return run.kind === 'host' ? this.file.read(dst, run.from) : this.readBacking(run.from, dst);
  }

  /** The L2 entry of guest cluster g. */
  private async lookup(g: number): Promise<L2Entry> {
    const { l2Offset } = l1Entry(this.l1View, Math.floor(g / this.l2Entries));
    if (l2Offset === 0) return { kind: 'unallocated' };
    const table = await this.l2.get(l2Offset);
    return l2Entry(view(table), g % this.l2Entries, this.file.clusterBits);
  }

  /** Reads guest bytes from the backing file; past its end they are zero. */
  private async readBacking(guest: number, into: Uint8Array): Promise<void> {
    const have = Math.max(0, Math.min(into.length, this.backing!.size - guest));
    if (have > 0) await this.backing!.read(guest, into.subarray(0, have));
    into.fill(0, have);
  }

  private async readCompressed(e: { host: number; length: number }, at: number, into: Uint8Array): Promise<void> {
    const cluster = await this.decompress(e);
    into.set(cluster.subarray(at, at + into.length));
  }

  /** A compressed cluster's contents (raw deflate, qcow2.txt "Compressed Clusters Descriptor"). */
  private async decompress(e: { host: number; length: number }): Promise<Uint8Array> {
    const cached = this.decompressed.get(e.host);
    if (cached) return cached;
    if (e.host < this.cs || e.host + e.length > this.file.endCluster * this.cs) {
      throw this.file.corrupt(`compressed cluster (${e.length} bytes at ${e.host}) is outside the image`);
    }
    const packed = new Uint8Array(e.length);
    await this.file.read(packed, e.host);
    let cluster: Uint8Array;
    try {
      // The data need not fill its last sector: stop once a cluster has come out.
      cluster = await inflateRaw(packed, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: this.cs });
    } catch (err) {
      throw this.file.corrupt(`compressed cluster at ${e.host} does not inflate: ${(err as Error).message}`);
    }
    if (cluster.length !== this.cs) throw this.file.corrupt(`compressed cluster at ${e.host} inflates to ${cluster.length} bytes`);
    this.decompressed.set(e.host, cluster);
    if (this.decompressed.size > 4) this.decompressed.delete(this.decompressed.keys().next().value!);
    return cluster;
  }

  /** The whole current contents of guest cluster g, whose entry is e (for copy-on-write). */
  private async oldContents(g: number, e: L2Entry): Promise<Uint8Array> {
    const buf = new Uint8Array(this.cs);
    if (e.kind === 'standard') {
      this.checkData(e.host);
      await this.file.read(buf, e.host);
    } else if (e.kind === 'compressed') {
      buf.set(await this.decompress(e));
    } else if (e.kind === 'unallocated' && this.backing) {
      const guest = g * this.cs;
      await this.readBacking(guest, buf.subarray(0, Math.max(0, Math.min(this.cs, this.size - guest))));
    }
    return buf;
  }

  // ---- writing ----

  /**
   * Writes without the mutex if every cluster written is a standard cluster with refcount
   * 1 in an L2 table with refcount 1; false (nothing written) otherwise.
   */
  private async writeInPlace(offset: number, data: Uint8Array): Promise<boolean> {
    const held: number[] = [];
    const writes: [number, Uint8Array][] = [];
    try {
      for (let pos = 0; pos < data.length; ) {
        const guest = offset + pos;
        const g = Math.floor(guest / this.cs);
        const at = guest % this.cs;
        const n = Math.min(this.cs - at, data.length - pos);
        const l1e = l1Entry(this.l1View, Math.floor(g / this.l2Entries));
        if (l1e.l2Offset === 0 || !l1e.copied) return false;
        const e = l2Entry(view(await this.l2.get(l1e.l2Offset)), g % this.l2Entries, this.file.clusterBits);
        if (e.kind !== 'standard' || !e.copied) return false;
        this.checkWritableData(e.host);
        this.hold(e.host, this.cs, held);
        const last = writes[writes.length - 1];
        if (last && last[0] + last[1].length === e.host + at) last[1] = data.subarray(pos - last[1].length, pos + n);
        else writes.push([e.host + at, data.subarray(pos, pos + n)]);
        pos += n;
      }
      await settle(writes.map(([host, d]) => this.file.write(d, host)));
      return true;
    } finally {
      for (const c of held) this.unhold(c);
    }
  }

  /**
   * Writes under the mutex, allocating what the write needs. Returns false, having written
   * nothing, if it needs nothing allocated (unless inPlaceToo): the caller then writes in
   * place without the mutex.
   */
  private async writeAllocating(offset: number, data: Uint8Array, inPlaceToo: boolean): Promise<boolean> {
    const rc = this.refcounts!;
    const groups = new Map<number, TableGroup>();
    const pinned: number[] = [];
    try {
      // Plan: which clusters are written in place and which need a new one.
      for (let pos = 0; pos < data.length; ) {
        const guest = offset + pos;
        const g = Math.floor(guest / this.cs);
        const at = guest % this.cs;
        const n = Math.min(this.cs - at, data.length - pos);
        const l1Index = Math.floor(g / this.l2Entries);
        let group = groups.get(l1Index);
        if (!group) {
          group = await this.tableGroup(l1Index, pinned);
          groups.set(l1Index, group);
        }
        const old = l2Entry(view(group.table), g % this.l2Entries, this.file.clusterBits);
        const inPlace = group.state === 'own' && old.kind === 'standard' && old.copied;
        if (inPlace) this.checkWritableData(old.host);
        group.pieces.push({ g, at, data: data.subarray(pos, pos + n), old, host: inPlace ? old.host : 0, inPlace, fresh: false });
        pos += n;
      }
      const all = [...groups.values()];
      const pieces = all.flatMap((gr) => gr.pieces);
      if (all.every((gr) => gr.state === 'own') && pieces.every((p) => p.inPlace)) {
        if (!inPlaceToo) return false;
        await settle(pieces.map((p) => this.file.write(p.data, p.host + p.at)));
        return true;
      }

      // Allocate (refcounts in memory), then write the new clusters and tables.
      this.markBrokenOnError = true;
      for (const gr of all) if (gr.state !== 'own') gr.newOffset = (await rc.allocate()) * this.cs;
      for (const p of pieces) if (!p.inPlace) p.host = (await rc.allocate()) * this.cs;
      const unwritten = Math.ceil(this.file.size / this.cs) * this.cs; // clusters past here read as zeros
      for (const p of pieces) p.fresh = p.host >= unwritten;
      await settle(pieces.map((p) => (p.inPlace ? this.file.write(p.data, p.host + p.at) : this.fillCluster(p))));
      for (const gr of all) {
        if (gr.state === 'own') continue;
        const tv = view(gr.table);
        for (const p of gr.pieces) if (!p.inPlace) setL2Standard(tv, p.g % this.l2Entries, p.host);
        await this.file.write(gr.table, gr.newOffset); // unreachable until its L1 entry is committed
      }

      // Point the tables at them, in memory; the file follows at the next commit.
      for (const gr of all) {
        if (gr.state === 'own') {
          const tv = view(gr.table);
          for (const p of gr.pieces) {
            if (p.inPlace) continue;
            const i = p.g % this.l2Entries;
            setL2Standard(tv, i, p.host);
            this.pending.mark(gr.oldOffset, gr.table, i * 8, i * 8 + 8, true);
          }
        } else {
          this.placeTable(gr);
        }
        for (const p of gr.pieces) if (!p.inPlace) this.dropReference(p.old);
      }
      this.markBrokenOnError = false;
      await this.changed();
      return true;
    } finally {
      for (const o of pinned) this.l2.release(o);
    }
  }

  /**
   * The L2 table of L1 entry l1Index, to be changed: this image's own (pinned, its offset
   * pushed to `pinned` for the caller to release), or a new one in memory, empty or a copy
   * of a table shared with a snapshot (spec: L1 bit 63 clear means copy before changing).
   */
  private async tableGroup(l1Index: number, pinned: number[]): Promise<TableGroup> {
    const l1e = l1Entry(this.l1View, l1Index);
    let table: Uint8Array;
    let state: TableGroup['state'];
    if (l1e.l2Offset === 0) {
      table = new Uint8Array(this.cs);
      state = 'new';
    } else {
      this.checkL2Table(l1e.l2Offset);
      const t = await this.l2.acquire(l1e.l2Offset);
      pinned.push(l1e.l2Offset);
      state = l1e.copied ? 'own' : 'shared';
      table = state === 'own' ? t : t.slice();
    }
    return { l1Index, state, oldOffset: l1e.l2Offset, table, newOffset: 0, pieces: [] };
  }

  /**
   * Points the L1 entry at a new table (written at gr.newOffset already), in memory; the
   * file follows at the next commit, and a shared table it replaces loses this reference.
   */
  private placeTable(gr: TableGroup): void {
    this.l2.install(gr.newOffset, gr.table);
    this.meta!.add(gr.newOffset / this.cs, 1, 'L2 table');
    setL1Entry(this.l1View, gr.l1Index, gr.newOffset);
    this.pending.mark(this.header.l1TableOffset, this.l1, gr.l1Index * 8, gr.l1Index * 8 + 8, false);
    if (gr.state === 'shared') this.removals.push(gr.oldOffset / this.cs);
  }

  /** Writes a new cluster: the piece's bytes over the cluster's old contents. */
  private async fillCluster(p: Piece): Promise<void> {
    const oldIsZero = p.old.kind === 'zero' || (p.old.kind === 'unallocated' && !this.backing);
    if (p.data.length === this.cs || (p.fresh && oldIsZero)) return this.file.write(p.data, p.host + p.at);
    const buf = await this.oldContents(p.g, p.old);
    buf.set(p.data, p.at);
    await this.file.write(buf, p.host);
  }

  // ---- discard ----

  /**
   * Drops whole clusters: they read as zeros afterwards (v3 zero flag; on v2 they become
   * unallocated, which only reads as zeros without a backing file, so v2 images with one
   * keep their data). Clusters in L2 tables shared with a snapshot are left alone: a
   * discard is only a hint.
   */
  private async discardClusters(offset: number, length: number): Promise<void> {
    const first = Math.ceil(offset / this.cs);
    const end = offset + length === this.size ? Math.ceil(this.size / this.cs) : Math.floor((offset + length) / this.cs);
    const v3 = this.header.version === 3;
    if (!v3 && this.backing) return;
    for (let g = first; g < end; ) {
      const l1Index = Math.floor(g / this.l2Entries);
      const stop = Math.min(end, (l1Index + 1) * this.l2Entries);
      const l1e = l1Entry(this.l1View, l1Index);
      if (l1e.l2Offset !== 0 && l1e.copied) {
        this.checkL2Table(l1e.l2Offset);
        const table = await this.l2.acquire(l1e.l2Offset);
        try {
          const tv = view(table);
          for (let i = g % this.l2Entries; i < g % this.l2Entries + (stop - g); i++) {
            const e = l2Entry(tv, i, this.file.clusterBits);
            if (e.kind === 'unallocated' || (e.kind === 'zero' && e.host === 0)) continue;
            if (v3) setL2Zero(tv, i);
            else setL2Unallocated(tv, i);
            this.pending.mark(l1e.l2Offset, table, i * 8, i * 8 + 8, true);
            this.dropReference(e);
          }
        } finally {
          this.l2.release(l1e.l2Offset);
        }
      }
      g = stop;
    }
    await this.changed();
  }

  // ---- zeroing ----

  /**
   * Makes [offset, offset+length) read as zeros, whatever the backing file holds there.
   * On a v3 image whole clusters get the zero flag and no data (qcow2.txt, "Standard
   * Cluster Descriptor", bit 0); the partial clusters at either end, and every cluster of
   * a v2 image (which has no zero flag), are written with zeros.
   */
  async writeZeroes(offset: number, length: number): Promise<void> {
    checkRange(this, offset, length);
    this.checkWritable();
    const end = offset + length;
    // Whole clusters: [head, tail); the disk's last cluster counts as whole up to its end.
    const head = Math.min(end, Math.ceil(offset / this.cs) * this.cs);
    const tail = end === this.size ? end : Math.max(head, Math.floor(end / this.cs) * this.cs);
    if (this.header.version !== 3 || tail === head) return this.writeZeroBytes(offset, end);
    await this.writeZeroBytes(offset, head);
    const first = head / this.cs;
    const stop = Math.ceil(tail / this.cs);
    await this.requests.run(() => this.mutex.run(() => this.guard(() => this.zeroClusters(first, stop))));
    await this.writeZeroBytes(tail, end);
  }

  /** Writes zeros over [from, to), a MiB at a time. */
  private async writeZeroBytes(from: number, to: number): Promise<void> {
    if (to <= from) return;
    const zeros = new Uint8Array(Math.min(to - from, 1 << 20));
    for (let pos = from; pos < to; pos += zeros.length) await this.write(pos, zeros.subarray(0, Math.min(zeros.length, to - pos)));
  }

  /**
   * Sets the zero flag on guest clusters [first, end), dropping what they pointed at. Tables
   * are handled as an allocating write handles them: a missing or shared L2 table gets a
   * new one, written in full before the L1 entry points at it (at the next commit).
   */
  private async zeroClusters(first: number, end: number): Promise<void> {
    const rc = this.refcounts!;
    for (let g = first; g < end; ) {
      const l1Index = Math.floor(g / this.l2Entries);
      const stop = Math.min(end, (l1Index + 1) * this.l2Entries);
      const pinned: number[] = [];
      try {
        const gr = await this.tableGroup(l1Index, pinned);
        const tv = view(gr.table);
        const dropped: L2Entry[] = [];
        this.markBrokenOnError = true;
        for (let i = g % this.l2Entries; i < g % this.l2Entries + (stop - g); i++) {
          const e = l2Entry(tv, i, this.file.clusterBits);
          if (e.kind === 'zero' && e.host === 0) continue;
          setL2Zero(tv, i);
          dropped.push(e);
          if (gr.state === 'own') this.pending.mark(gr.oldOffset, gr.table, i * 8, i * 8 + 8, true);
        }
        if (gr.state !== 'own' && dropped.length > 0) {
          gr.newOffset = (await rc.allocate()) * this.cs;
          await this.file.write(gr.table, gr.newOffset); // unreachable until its L1 entry is committed
          this.placeTable(gr);
        }
        for (const e of dropped) this.dropReference(e);
        this.markBrokenOnError = false;
      } finally {
        for (const o of pinned) this.l2.release(o);
      }
      g = stop;
    }
    await this.changed();
  }

  // ---- backing file ----

  /**
   * Names another backing file in the header (or none), as `qemu-img rebase -u` does: the
   * caller answers for the image reading the same over it. Everything written before is
   * made durable first; then the header changes in one write of whole sectors, synced.
   * The backing file this image was opened with stays in use until it is closed.
   */
  async setBackingFile(backing: { name: string; format: string | null } | null): Promise<void> {
    this.checkWritable();
    return this.requests.run(() =>
      this.mutex.run(() =>
        this.guard(async () => {
          await this.flushAll();
          const cluster0 = new Uint8Array(this.cs);
          await this.file.read(cluster0, 0);
          const start = withBackingFile(this.path, cluster0, this.header.headerLength, backing);
          this.markBrokenOnError = true;
          await this.file.write(start, 0);
          await this.file.sync();
          this.markBrokenOnError = false;
          this.header.backingFile = backing?.name ?? null;
          this.header.backingFormat = backing?.format ?? null;
        }),
      ),
    );
  }

  // ---- commits ----

  /** Records that an entry stopped pointing at what e describes (decremented later). */
  private dropReference(e: L2Entry): void {
    if (e.kind === 'standard' || (e.kind === 'zero' && e.host !== 0)) {
      this.removals.push(e.host / this.cs);
    } else if (e.kind === 'compressed') {
      // Every cluster the compressed bytes touch was counted once for this entry (as QEMU
      // counts them: qemu-img check, update_refcount over [offset, offset + length)).
      const last = Math.floor((e.host + e.length - 1) / this.cs);
      for (let c = Math.floor(e.host / this.cs); c <= last; c++) this.removals.push(c);
    }
  }

  /** Metadata changed in memory: commit now if a lot is pending, else soon. */
  private async changed(): Promise<void> {
    if (this.pending.size >= MAX_PENDING_TABLES) return this.commit();
    if (this.commitTimer) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = null;
      this.requests
        .run(() => this.mutex.run(() => (this.broken ? Promise.resolve() : this.guard(() => this.commit()))))
        .catch(() => undefined); // a failed commit has marked the disk broken
    }, COMMIT_DELAY_MS);
    this.commitTimer.unref();
  }

  /**
   * Writes what memory has changed, in the order that keeps the file consistent:
   * refcounts (new clusters counted), fdatasync (with the new clusters' contents), then the
   * L2/L1 entries pointing at them. Decrements wait for a later fdatasync (takeDeferred).
   */
  private async commit(): Promise<void> {
    const rc = this.refcounts!;
    this.markBrokenOnError = true;
    const ready = rc.takeDeferred(); // their references' removal was written before this sync
    await rc.writeDirty();
    await this.file.sync();
    if (ready.length > 0) await rc.decrement(ready);
    const removals = this.removals;
    this.removals = [];
    await this.pending.writeAll();
    for (const c of removals) rc.deferDecrement(c);
    this.markBrokenOnError = false;
  }

  /** Flush: everything done so far durable, decrements included. */
  private async flushAll(): Promise<void> {
    const rc = this.refcounts!;
    await this.commit();
    this.markBrokenOnError = true;
    const ready = rc.takeDeferred();
    await this.file.sync();
    if (ready.length > 0) {
      await rc.decrement(ready);
      await rc.writeDirty();
      await this.file.sync();
    }
    this.markBrokenOnError = false;
  }

  /** A cluster's refcount reached 0: forget any copy of it. */
  private freed(cluster: number): void {
    this.l2.drop(cluster * this.cs);
    this.decompressed.clear();
  }

  // ---- checks ----

  private markBrokenOnError = false;

  /** Runs a metadata update; one that fails halfway stops further writes. */
  private async guard<T>(update: () => Promise<T>): Promise<T> {
    try {
      return await update();
    } catch (e) {
      if (this.markBrokenOnError) {
        this.markBrokenOnError = false;
        const why = e instanceof Error ? e.message : String(e);
        this.broken = new DiskError(`${this.path}: a metadata update failed (${why}); no further writes until the image is reopened`, 'io');
      }
      throw e;
    }
  }

  private checkWritable(): void {
    if (this.readOnly) throw new DiskError(`${this.path}: the disk is read-only`, 'read-only');
    if (this.broken) throw this.broken;
  }

  /** A data cluster offset from an L2 entry. */
  private checkData(host: number): void {
    if (host % this.cs !== 0) throw this.file.corrupt(`data cluster at ${host} is not aligned to a cluster`);
    if (host < this.cs || host / this.cs >= this.file.endCluster) {
      throw this.file.corrupt(`data cluster at ${host} is outside the image`);
    }
  }

  /** A data cluster that is about to be written in place: not metadata. */
  private checkWritableData(host: number): void {
    this.checkData(host);
    const kind = this.meta?.kindOf(host / this.cs);
    if (kind) throw this.file.corrupt(`data cluster at ${host} overlaps the ${kind}`);
  }

  /** An L2 table that is about to be changed: not some other metadata. */
  private checkL2Table(offset: number): void {
    this.file.checkTable('L2 table', offset);
    const kind = this.meta?.kindOf(offset / this.cs);
    if (this.meta && kind !== 'L2 table') throw this.file.corrupt(`L2 table at ${offset} overlaps the ${kind ?? 'unknown'}`);
  }

  private hold(host: number, length: number, held: number[]): void {
    const last = Math.floor((host + length - 1) / this.cs);
    for (let c = Math.floor(host / this.cs); c <= last; c++) {
      this.inFlight.set(c, (this.inFlight.get(c) ?? 0) + 1);
      held.push(c);
    }
  }

  private unhold(c: number): void {
    const n = this.inFlight.get(c)!;
    if (n <= 1) this.inFlight.delete(c);
    else this.inFlight.set(c, n - 1);
  }
}

/** Checks the active L1 table's entries; returns the L2 table offsets. */
function checkL1(file: Qcow2File, l1: Uint8Array): number[] {
  const v = view(l1);
  const found: number[] = [];
  for (let i = 0; i < l1.length / 8; i++) {
    const { l2Offset } = l1Entry(v, i);
    if (l2Offset === 0) continue;
    file.checkTable(`L2 table ${i}`, l2Offset);
    found.push(l2Offset);
  }
  return found;
}

/** Every metadata cluster of a writable image; overlaps mean the image is corrupt. */
async function mapMetadata(file: Qcow2File, h: Qcow2Header, l2Offsets: number[]): Promise<MetadataMap> {
  const cs = file.clusterSize;
  const meta = new MetadataMap();
  const add = (offset: number, bytes: number, kind: Parameters<MetadataMap['add']>[2]) => {
    const clash = meta.add(offset / cs, Math.max(1, Math.ceil(bytes / cs)), kind);
    if (clash) throw file.corrupt(`the ${kind} at ${offset} overlaps the ${clash}`);
  };
  add(0, cs, 'header');
  if (h.l1Size > 0) add(h.l1TableOffset, h.l1Size * 8, 'L1 table');
  add(h.refcountTableOffset, h.refcountTableClusters * cs, 'refcount table');
  const active = new Set<number>();
  for (const o of l2Offsets) {
    if (active.has(o)) throw file.corrupt(`two L1 entries point at the L2 table at ${o}`);
    active.add(o);
    add(o, cs, 'L2 table');
  }
  if (h.nbSnapshots > 0) {
    const { snapshots, bytes } = await readSnapshotTable(file, h.snapshotsOffset, h.nbSnapshots);
    add(h.snapshotsOffset, bytes, 'snapshot table');
    for (const s of snapshots) {
      if (s.l1Size === 0) continue;
      const l1 = new Uint8Array(s.l1Size * 8);
      await file.read(l1, s.l1TableOffset);
      add(s.l1TableOffset, l1.length, 'snapshot L1 table');
      for (const o of checkL1(file, l1)) add(o, cs, 'L2 table');
    }
  }
  return meta;
}

/** p, marked as handled now: its error is collected later by settle(). */
function handled(p: Promise<void>): Promise<void> {
  p.catch(() => undefined);
  return p;
}

/** Waits for every operation, then throws the first error (none is left running). */
async function settle(ops: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(ops);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
