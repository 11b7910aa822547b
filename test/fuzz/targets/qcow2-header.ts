// The qcow2 header and its extensions (src/parent/drivers/disk/qcow2-header.ts
// headerClusterBits, parseHeader, checkFeatures), pure: the first cluster of the corpus
// images with byte-level mutations on every header field and the extension area, against
// any file size. Fails on any exception but DiskError, or a header accepted whose tables
// do not lie inside the file on cluster boundaries, or whose backing name is not inside
// the first cluster.
import fc from 'fast-check';
import { DiskError } from '../../../src/parent/drivers/disk/block-device.js';
import { checkFeatures, headerClusterBits, parseHeader, MAX_L1_BYTES, MAX_REFTABLE_BYTES } from '../../../src/parent/drivers/disk/qcow2-header.js';
import { check, mutate, mutatedArb, note, show, hexdump, type CorpusFile, type FuzzTarget, type Mutated } from '../harness.js';

/** Header fields (qcow2.txt "Header"), then the extension area's first words. */
export const HEADER_FIELDS = [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76, 80, 84, 88, 92, 96, 100, 104,
  112, 116, 120, 124, 128, 136, 144, 152];

export interface HeaderCase extends Mutated {
  /** The file's size: as the input's length, or a chosen one. */
  fileSize: number | null;
  writable: boolean;
}

let seeds: Uint8Array[] = [];
const bytesOf = (c: HeaderCase) => mutate(seeds[c.seed] ?? new Uint8Array(0), c.mutations, HEADER_FIELDS);

export const qcow2Header: FuzzTarget<HeaderCase> = {
  name: 'qcow2-header',
  async: false,
  fromCorpus(files: readonly CorpusFile[]) {
    seeds = files.map((f) => f.bytes);
    return files.map((_, seed) => ({ seed, mutations: [], fileSize: null, writable: true }));
  },
  arbitrary: (s) => fc.record({
    seed: fc.nat(Math.max(0, s.length - 1)),
    mutations: mutatedArb(1, 10).map((m) => m.mutations),
    fileSize: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.oneof(fc.nat(1 << 24), fc.constantFrom(0, 2 ** 53 - 1, 2 ** 40)) }),
    writable: fc.boolean(),
  }),
  expected: (e) => e instanceof DiskError,
  memoryBound: () => 16 << 20,
  show: (c) => `${show(c)}\n  bytes: ${hexdump(bytesOf(c), 160)}`,
  run(c) {
    const bytes = bytesOf(c);
    const fileSize = c.fileSize ?? bytes.length;
    const prefix = new Uint8Array(512);
    prefix.set(bytes.subarray(0, 512));
    const bits = headerClusterBits('fuzz.qcow2', prefix);
    const cs = 2 ** bits;
    const cluster0 = new Uint8Array(cs); // zero past the end of a short file, as the driver reads it
    cluster0.set(bytes.subarray(0, cs));
    const h = parseHeader('fuzz.qcow2', cluster0, fileSize);
    checkFeatures('fuzz.qcow2', h, c.writable);
    note(`accepted (v${h.version})`);
    const fileEnd = Math.ceil(fileSize / cs) * cs;
    const inside = (offset: number, bytes: number) => offset % cs === 0 && offset >= cs && offset + bytes <= fileEnd;
    check(Number.isSafeInteger(h.size) && h.size >= 0, `size ${h.size}`);
    check(h.l1Size === 0 || inside(h.l1TableOffset, h.l1Size * 8), 'the L1 table is not inside the file');
    check(h.l1Size * 8 <= MAX_L1_BYTES, 'the L1 table is over the limit');
    check(h.l1Size * cs * (cs / 8) >= h.size, 'the L1 table cannot map the whole disk');
    check(inside(h.refcountTableOffset, h.refcountTableClusters * cs) && h.refcountTableClusters * cs <= MAX_REFTABLE_BYTES, 'the refcount table is not inside the file');
    check(h.refcountOrder <= 6, 'refcount_order above 6 accepted');
    check(h.headerLength <= cs, 'header_length past the first cluster');
    if (h.backingFile !== null) check(h.backingFile.length <= 1023 * 3, 'a backing file name longer than 1023 bytes');
  },
};
