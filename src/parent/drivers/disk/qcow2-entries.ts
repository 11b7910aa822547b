// qcow2 L1 and L2 table entries (QEMU docs/interop/qcow2.txt, "Cluster mapping"): 64-bit
// big-endian words, read and written here as two 32-bit halves so that offsets stay plain
// numbers (bits 9-55 of a host offset fit in 2^53).
//
//   L1 entry:  63 COPIED | 56-62 reserved | 9-55 L2 table offset | 0-8 reserved
//   L2 entry:  63 COPIED | 62 compressed | 0-61 cluster descriptor
//     standard:   56-61 reserved | 9-55 host cluster offset | 1-8 reserved | 0 reads as zeros (v3)
//     compressed: x = 62 - (cluster_bits - 8); 0..x-1 host byte offset, x..61 additional sectors

const COPIED = 0x8000_0000; // bit 63, in the high word
const COMPRESSED = 0x4000_0000; // bit 62, in the high word
const ZERO = 1; // bit 0, in the low word
const OFFSET_HI = 0x00ff_ffff; // bits 32-55
const OFFSET_LO = 0xffff_fe00; // bits 9-31
const TWO32 = 2 ** 32;

/** Bits 9-55 of an L1 entry or standard L2 entry: a host offset. */
function offsetBits(v: DataView, at: number): number {
  return (v.getUint32(at) & OFFSET_HI) * TWO32 + ((v.getUint32(at + 4) & OFFSET_LO) >>> 0);
}

/** An L1 entry: the L2 table's offset (0: none) and whether its refcount is exactly one. */
export function l1Entry(l1: DataView, index: number): { l2Offset: number; copied: boolean } {
  const at = index * 8;
  return { l2Offset: offsetBits(l1, at), copied: (l1.getUint32(at) & COPIED) !== 0 };
}

export function setL1Entry(l1: DataView, index: number, l2Offset: number): void {
  setWord(l1, index * 8, l2Offset, true, false);
}

/** An L2 entry decoded. Offsets are as stored: the caller checks them against the file. */
export type L2Entry =
  /** No data here: read the backing file, or zeros without one. */
  | { kind: 'unallocated' }
  /** Reads as zeros; host is a preallocated cluster or 0. */
  | { kind: 'zero'; host: number }
  | { kind: 'standard'; host: number; copied: boolean }
  /** Deflate data of `length` bytes at byte offset host. */
  | { kind: 'compressed'; host: number; length: number };

const UNALLOCATED: L2Entry = { kind: 'unallocated' };

export function l2Entry(l2: DataView, index: number, clusterBits: number): L2Entry {
  const at = index * 8;
  const hi = l2.getUint32(at);
  const lo = l2.getUint32(at + 4);
  if (hi & COMPRESSED) return compressedEntry(hi, lo, clusterBits);
  const host = offsetBits(l2, at);
  if (lo & ZERO) return { kind: 'zero', host };
  if (host === 0) return UNALLOCATED; // spec: offset 0 without COPIED (COPIED with 0 means an external data file)
  return { kind: 'standard', host, copied: (hi & COPIED) !== 0 };
}

function compressedEntry(hi: number, lo: number, clusterBits: number): L2Entry {
  const x = BigInt(62 - (clusterBits - 8));
  const descriptor = (BigInt(hi & 0x3fff_ffff) << 32n) | BigInt(lo);
  const host = Number(descriptor & ((1n << x) - 1n));
  const sectors = Number(descriptor >> x) + 1;
  // The data runs from host to the end of the last of its 512-byte sectors.
  return { kind: 'compressed', host, length: sectors * 512 - (host % 512) };
}

/** A standard cluster at host whose refcount is one. */
export function setL2Standard(l2: DataView, index: number, host: number): void {
  setWord(l2, index * 8, host, true, false);
}

/** A cluster that reads as zeros with no host cluster (v3). */
export function setL2Zero(l2: DataView, index: number): void {
  setWord(l2, index * 8, 0, false, true);
}

export function setL2Unallocated(l2: DataView, index: number): void {
  setWord(l2, index * 8, 0, false, false);
}

function setWord(v: DataView, at: number, offset: number, copied: boolean, zero: boolean): void {
  v.setUint32(at, (copied ? COPIED : 0) | Math.floor(offset / TWO32));
  v.setUint32(at + 4, ((offset % TWO32) | (zero ? ZERO : 0)) >>> 0);
}
