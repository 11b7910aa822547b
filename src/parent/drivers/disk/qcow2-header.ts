// The qcow2 image header and header extensions (QEMU docs/interop/qcow2.txt, "Header" and
// "Header extensions"): parsing with every field checked against the file, and the
// feature bits this driver refuses. Everything here is pure: the caller reads the bytes.
import { DiskError } from './block-device.js';

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"

/** QEMU's limits (block/qcow2.h): larger tables are refused rather than read into memory. */
export const MAX_L1_BYTES = 32 << 20;
export const MAX_REFTABLE_BYTES = 8 << 20;
export const MAX_SNAPSHOTS = 65536;
/** Spec: cluster_bits >= 9; QEMU (and so this driver) stops at 2 MiB clusters. */
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
const MAX_BACKING_NAME = 1023;

/** Header field offsets ("Header"). */
export const H = {
  refcountTableOffset: 48,
  autoclearFeatures: 88,
  v2Length: 72,
  v3MinLength: 104,
} as const;

/** Incompatible feature bits ("incompatible_features"). */
export const INCOMPAT = { dirty: 0, corrupt: 1, externalDataFile: 2, compressionType: 3, extendedL2: 4 } as const;
const INCOMPAT_NAMES = ['dirty bit', 'corrupt bit', 'external data file', 'compression type', 'extended L2 entries'];

/** Header extension types ("Header extensions"). */
export const EXT = { end: 0, backingFormat: 0xe2792aca, featureNames: 0x6803f857 } as const;

export interface Qcow2Header {
  version: 2 | 3;
  clusterBits: number;
  /** Virtual size in bytes, as stored. */
  size: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatibleFeatures: bigint;
  compatibleFeatures: bigint;
  autoclearFeatures: bigint;
  refcountOrder: number;
  headerLength: number;
  compressionType: number;
  backingFile: string | null;
  backingFormat: string | null;
  /** Feature name table: `${type}:${bit}` (type 0 incompatible, 1 compatible, 2 autoclear). */
  featureNames: Map<string, string>;
}

/** The cluster size a header prefix (at least 24 bytes) declares, checked. */
export function headerClusterBits(path: string, prefix: Uint8Array): number {
  const v = view(prefix);
  if (prefix.length < 24 || v.getUint32(0) !== QCOW2_MAGIC) throw corrupt(path, 'not a qcow2 image (bad magic)');
  const version = v.getUint32(4);
  if (version !== 2 && version !== 3) {
    throw new DiskError(`${path}: qcow2 version ${version} is not supported (only 2 and 3)`, 'unsupported');
  }
  const bits = v.getUint32(20);
  if (bits < MIN_CLUSTER_BITS) throw corrupt(path, `cluster_bits ${bits} is below the minimum of ${MIN_CLUSTER_BITS}`);
  if (bits > MAX_CLUSTER_BITS) {
    throw new DiskError(`${path}: clusters of 2^${bits} bytes are not supported (at most 2 MiB)`, 'unsupported');
  }
  return bits;
}

/**
 * Parses the header from the image's first cluster (cluster0, zero-filled past the end of a
 * short file). fileSize bounds every table the header points to.
 */
export function parseHeader(path: string, cluster0: Uint8Array, fileSize: number): Qcow2Header {
  const clusterBits = headerClusterBits(path, cluster0);
  const cs = 2 ** clusterBits;
  if (cluster0.length < cs) throw new Error('parseHeader needs the whole first cluster');
  const v = view(cluster0);
  const version = v.getUint32(4) as 2 | 3;
  const u64 = (at: number, what: string) => safeU64(path, v, at, what);

  const h: Qcow2Header = {
    version,
    clusterBits,
    size: u64(24, 'size'),
    l1Size: v.getUint32(36),
    l1TableOffset: u64(40, 'l1_table_offset'),
    refcountTableOffset: u64(48, 'refcount_table_offset'),
    refcountTableClusters: v.getUint32(56),
    nbSnapshots: v.getUint32(60),
    snapshotsOffset: u64(64, 'snapshots_offset'),
    incompatibleFeatures: 0n,
    compatibleFeatures: 0n,
    autoclearFeatures: 0n,
    refcountOrder: 4,
    headerLength: H.v2Length,
    compressionType: 0,
    backingFile: null,
    backingFormat: null,
    featureNames: new Map(),
  };
  if (version === 3) {
    h.incompatibleFeatures = v.getBigUint64(72);
    h.compatibleFeatures = v.getBigUint64(80);
    h.autoclearFeatures = v.getBigUint64(88);
    h.refcountOrder = v.getUint32(96);
    h.headerLength = v.getUint32(100);
    if (h.headerLength < H.v3MinLength || h.headerLength % 8 !== 0 || h.headerLength > cs) {
      throw corrupt(path, `header_length ${h.headerLength} is invalid`);
    }
    if (h.headerLength > 104) h.compressionType = cluster0[104]!;
  }

  const cryptMethod = v.getUint32(32);
  if (cryptMethod !== 0) {
    const name = cryptMethod === 1 ? 'AES' : cryptMethod === 2 ? 'LUKS' : `method ${cryptMethod}`;
    throw new DiskError(`${path}: encrypted qcow2 images (${name}) are not supported`, 'unsupported');
  }
  if (h.refcountOrder > 6) {
    throw new DiskError(`${path}: refcount_order ${h.refcountOrder} is not supported (0 to 6: 1- to 64-bit refcounts)`, 'unsupported');
  }

  // The tables must lie inside the file, after the header cluster, on cluster boundaries.
  const fileEnd = Math.ceil(fileSize / cs) * cs;
  const extent = (what: string, offset: number, bytes: number) => {
    if (offset % cs !== 0) throw corrupt(path, `${what} at ${offset} is not aligned to a cluster`);
    if (offset < cs || offset + bytes > fileEnd) {
      throw corrupt(path, `${what} (${bytes} bytes at ${offset}) is outside the file (${fileSize} bytes)`);
    }
  };
  const l2Entries = cs / 8;
  const l1Needed = Math.ceil(h.size / (cs * l2Entries));
  if (h.l1Size * 8 > MAX_L1_BYTES) throw corrupt(path, `L1 table of ${h.l1Size} entries is too large`);
  if (h.l1Size < l1Needed) throw corrupt(path, `L1 table of ${h.l1Size} entries is too small for ${h.size} bytes`);
  if (h.l1Size > 0) extent('L1 table', h.l1TableOffset, h.l1Size * 8);
  if (h.refcountTableClusters === 0) throw corrupt(path, 'no refcount table');
  if (h.refcountTableClusters * cs > MAX_REFTABLE_BYTES) {
    throw corrupt(path, `refcount table of ${h.refcountTableClusters} clusters is too large`);
  }
  extent('refcount table', h.refcountTableOffset, h.refcountTableClusters * cs);
  if (h.nbSnapshots > MAX_SNAPSHOTS) throw corrupt(path, `${h.nbSnapshots} snapshots is too many`);
  if (h.nbSnapshots > 0) extent('snapshot table', h.snapshotsOffset, 40);

  // The backing file name sits in the first cluster, after the extensions.
  const backingOffset = u64(8, 'backing_file_offset');
  if (backingOffset !== 0) {
    const length = v.getUint32(16);
    if (length === 0 || length > MAX_BACKING_NAME || backingOffset < h.headerLength || backingOffset + length > cs) {
      throw corrupt(path, `backing file name (${length} bytes at ${backingOffset}) is invalid`);
    }
    h.backingFile = utf8(cluster0.subarray(backingOffset, backingOffset + length));
  }
  parseExtensions(path, cluster0, h, backingOffset !== 0 ? backingOffset : cs);
  return h;
}

function parseExtensions(path: string, cluster0: Uint8Array, h: Qcow2Header, end: number): void {
  for (const { type, data } of readExtensions(path, cluster0, h.headerLength, end).list) {
    if (type === EXT.backingFormat) {
      h.backingFormat = utf8(data);
    } else if (type === EXT.featureNames) {
      for (let e = 0; e + 48 <= data.length; e += 48) {
        const name = utf8(data.subarray(e + 2, e + 48)).replace(/\0.*$/s, '');
        h.featureNames.set(`${data[e]}:${data[e + 1]}`, name);
      }
    } // Other extensions (bitmaps, encryption, external data file, unknown) do not change
    //   how this driver reads and writes; their feature bits are checked separately.
  }
}

/** A header extension as stored: its type and its data (a view of the first cluster). */
interface Extension {
  type: number;
  data: Uint8Array;
}

/**
 * The header extensions from start up to end (the backing file name, or the end of the
 * cluster), until the end-of-extensions marker (type 0); and where the list ends, past
 * the marker if there is one. Each extension's data is padded to a multiple of 8 bytes.
 */
function readExtensions(path: string, cluster0: Uint8Array, start: number, end: number): { list: Extension[]; end: number } {
  const v = view(cluster0);
  const list: Extension[] = [];
  let at = start;
  while (at + 8 <= end) {
    const type = v.getUint32(at);
    const length = v.getUint32(at + 4);
    if (type === EXT.end) return { list, end: at + 8 };
    if (length > end - at - 8) throw corrupt(path, `header extension 0x${type.toString(16)} at ${at} runs past its area`);
    list.push({ type, data: cluster0.subarray(at + 8, at + 8 + length) });
    at += 8 + Math.ceil(length / 8) * 8;
  }
  return { list, end: Math.min(at, end) };
}

/**
 * The start of an image's first cluster with its backing file replaced: the name and the
 * backing format extension set to `backing`, or both removed when it is null; every other
 * extension kept, in order (qcow2.txt, "Header extensions": the extensions follow the
 * header, the name follows them, all in the first cluster). Returns the bytes from offset
 * 0 through the last one that changes, in whole 512-byte sectors (the rest as they were),
 * so that one aligned write puts the new header in place.
 */
export function withBackingFile(
  path: string,
  cluster0: Uint8Array,
  headerLength: number,
  backing: { name: string; format: string | null } | null,
): Uint8Array {
  const cs = cluster0.length;
  const v = view(cluster0);
  const oldName = Number(v.getBigUint64(8)); // checked when the image was opened
  const oldNameEnd = oldName === 0 ? 0 : oldName + v.getUint32(16);
  const old = readExtensions(path, cluster0, headerLength, oldName !== 0 ? oldName : cs);

  const out = new Uint8Array(cs);
  const ov = view(out);
  out.set(cluster0.subarray(0, headerLength));
  const encode = (s: string) => new TextEncoder().encode(s);
  const extensions = old.list.filter((e) => e.type !== EXT.backingFormat);
  if (backing?.format) extensions.unshift({ type: EXT.backingFormat, data: encode(backing.format) });
  let at = headerLength;
  const tooLong = () => new DiskError(`${path}: the header extensions and backing file name do not fit in the first cluster (${cs} bytes)`, 'unsupported');
  for (const e of extensions) {
    const next = at + 8 + Math.ceil(e.data.length / 8) * 8;
    if (next + 8 > cs) throw tooLong();
    ov.setUint32(at, e.type);
    ov.setUint32(at + 4, e.data.length);
    out.set(e.data, at + 8);
    at = next;
  }
  at += 8; // the end marker: type 0, length 0
  ov.setBigUint64(8, 0n);
  ov.setUint32(16, 0);
  if (backing) {
    const name = encode(backing.name);
    if (name.length === 0 || name.length > MAX_BACKING_NAME) {
      throw new DiskError(`${path}: a backing file name of ${name.length} bytes cannot be stored (1 to ${MAX_BACKING_NAME})`, 'unsupported');
    }
    if (at + name.length > cs) throw tooLong();
    out.set(name, at);
    ov.setBigUint64(8, BigInt(at));
    ov.setUint32(16, name.length);
    at += name.length;
  }
  const changed = Math.max(at, old.end, oldNameEnd);
  out.set(cluster0.subarray(changed), changed);
  return out.subarray(0, Math.min(cs, Math.ceil(changed / 512) * 512));
}

/**
 * Refuses images this driver cannot read or write correctly. A dirty image (lazy refcounts
 * left inconsistent) or one QEMU marked corrupt is only refused for writing: reading does
 * not depend on refcounts, and QEMU opens both read-only too.
 */
export function checkFeatures(path: string, h: Qcow2Header, writable: boolean): void {
  const bit = (n: number) => (h.incompatibleFeatures >> BigInt(n)) & 1n;
  const repair = `repair it with \`qemu-img check -r all ${path}\``;
  if (writable && bit(INCOMPAT.dirty)) {
    throw new DiskError(`${path}: the image was not closed cleanly (qcow2 dirty bit: refcounts may be wrong); ${repair}`, 'corrupt');
  }
  if (writable && bit(INCOMPAT.corrupt)) {
    throw new DiskError(`${path}: the image is marked corrupt (qcow2 corrupt bit); ${repair}`, 'corrupt');
  }
  if (bit(INCOMPAT.compressionType) !== (h.compressionType !== 0 ? 1n : 0n)) {
    throw corrupt(path, `compression type ${h.compressionType} does not match incompatible feature bit 3`);
  }
  if (h.compressionType !== 0) {
    const name = h.compressionType === 1 ? 'zstd' : `type ${h.compressionType}`;
    throw new DiskError(
      `${path}: ${name} compression is not supported (only zlib); convert with \`qemu-img convert -O qcow2\``,
      'unsupported',
    );
  }
  for (let n = 0; n < 64; n++) {
    if (n <= INCOMPAT.compressionType && n !== INCOMPAT.externalDataFile) continue; // handled above
    if (!bit(n)) continue;
    const name = INCOMPAT_NAMES[n] ?? h.featureNames.get(`0:${n}`) ?? 'unknown';
    throw new DiskError(
      `${path}: uses the qcow2 feature "${name}" (incompatible feature bit ${n}), which is not supported; ` +
        'convert the image with `qemu-img convert -O qcow2`',
      'unsupported',
    );
  }
}

/** A u64 header field as a number; beyond 2^53 it cannot be a valid offset or size here. */
function safeU64(path: string, v: DataView, at: number, what: string): number {
  const x = v.getBigUint64(at);
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(path, `${what} ${x} is out of range`);
  return Number(x);
}

export function corrupt(path: string, what: string): DiskError {
  return new DiskError(`${path}: corrupt qcow2 image: ${what}`, 'corrupt');
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function utf8(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}
