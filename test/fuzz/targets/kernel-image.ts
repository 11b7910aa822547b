// The Linux Image loader (src/parent/machine/boot.ts parseKernelImage, placeLinux): RISC-V
// Image headers with any text_offset, image_size, flags and magics, files of any length,
// raw or gzip (also corrupt gzip and gzip bombs past the RAM size), placed with initrds
// and devicetrees of any size into RAMs of awkward sizes and bases; and the corpus Images
// with byte-level mutations. Fails on any exception but BootError, RAM touched when a
// BootError is thrown (decode, then invoke), a placement that overlaps or leaves RAM, RAM
// that does not hold the kernel, initrd and devicetree where the layout says, or a
// decompression that allocates beyond the RAM size.
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { BootError, parseKernelImage, placeLinux, type GuestRange } from '../../../src/parent/machine/boot.js';
import { check, mutate, mutationArb, note, show, MiB, type CorpusFile, type FuzzTarget, type Mutation } from '../harness.js';

const MAGIC2 = 0x05435352;
const MAGIC = 0x5643534952n;

interface Header { textOffset: bigint; imageSize: bigint; flags: bigint; magic2: boolean; magic: boolean; version: number; length: number; fill: number }

export interface KernelCase {
  image: { kind: 'header'; h: Header } | { kind: 'corpus'; seed: number } | { kind: 'bomb'; bytes: number };
  gzip: boolean;
  mutations: Mutation[];
  ramBytes: number;
  ramBase: bigint;
  initrd: number | null;
  fdtBytes: number;
}

const headerArb: fc.Arbitrary<Header> = fc.record({
  textOffset: fc.oneof(fc.constantFrom(0n, 2n * BigInt(MiB), 4n * BigInt(MiB), 1n, 0x1000n, 1n << 63n, (1n << 64n) - (2n << 20n)), fc.bigInt(0n, (1n << 64n) - 1n)),
  imageSize: fc.oneof(fc.constantFrom(0n, 1n, 64n, 4096n, BigInt(MiB), 3n * BigInt(MiB), (1n << 64n) - 1n, 1n << 53n), fc.bigInt(0n, 16n * BigInt(MiB)), fc.bigInt(0n, (1n << 64n) - 1n)),
  flags: fc.oneof(fc.constant(0n), fc.bigInt(0n, (1n << 64n) - 1n)),
  magic2: fc.boolean(),
  magic: fc.boolean(),
  version: fc.nat(0xffff_ffff),
  length: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 64, max: 64 * 1024 })),
  fill: fc.nat(255),
});

const caseArb = (seeds: number): fc.Arbitrary<KernelCase> => fc.record({
  image: fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('header' as const), h: headerArb }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('corpus' as const), seed: fc.nat(Math.max(0, seeds - 1)) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('bomb' as const), bytes: fc.constantFrom(...BOMB_SIZES) }) },
  ),
  gzip: fc.boolean(),
  mutations: fc.oneof({ weight: 3, arbitrary: fc.constant<Mutation[]>([]) }, { weight: 1, arbitrary: fc.array(mutationArb(), { maxLength: 4 }) }),
  ramBytes: fc.oneof(fc.constantFrom(2 * MiB, 4 * MiB, RAM_MAX, 4 * MiB + 4096, 6 * MiB - 1, 64 * 1024), fc.integer({ min: 0, max: RAM_MAX })),
  ramBase: fc.oneof({ weight: 6, arbitrary: fc.constant(0x8000_0000n) }, { weight: 1, arbitrary: fc.constantFrom(0n, 0x8010_0000n, 1n << 40n) }),
  initrd: fc.oneof(fc.constant(null), fc.constantFrom(0, 1, 4096, MiB, 3 * MiB), fc.nat(2 * MiB)),
  fdtBytes: fc.oneof(fc.constantFrom(1, 4096, 64 * 1024, 64 * 1024 + 1), fc.integer({ min: 1, max: 70 * 1024 })),
});

function header(h: Header): Uint8Array {
  const b = new Uint8Array(h.length).fill(h.fill);
  const v = new DataView(b.buffer);
  const put = (at: number, f: (x: DataView) => void) => { if (at + 8 <= b.length) f(v); };
  put(0x08, (x) => x.setBigUint64(0x08, h.textOffset, true));
  put(0x10, (x) => x.setBigUint64(0x10, h.imageSize, true));
  put(0x18, (x) => x.setBigUint64(0x18, h.flags, true));
  put(0x20, (x) => x.setUint32(0x20, h.version, true));
  put(0x30, (x) => x.setBigUint64(0x30, h.magic ? MAGIC : 0n, true));
  if (0x3c <= b.length) v.setUint32(0x38, h.magic2 ? MAGIC2 : 0, true);
  return b;
}

let seeds: Uint8Array[] = [];
const BOMB_SIZES = [8 * MiB, 16 * MiB + 1, 64 * MiB];
/** gzip files of a valid Image header and then zeros (a thousandth of their size): made in setup. */
const bombs = new Map<number, Uint8Array>();
const RAM_MAX = 8 * MiB;
/** What untouched RAM holds, and zeros, to compare against. */
const UNTOUCHED = new Uint8Array(RAM_MAX).fill(0xcc);
const ZEROS = new Uint8Array(64 * MiB);

function kernelOf(c: KernelCase): Uint8Array {
  let raw: Uint8Array;
  if (c.image.kind === 'bomb') {
    raw = bombs.get(c.image.bytes) ?? new Uint8Array(0);
  } else {
    raw = c.image.kind === 'header' ? header(c.image.h) : seeds[c.image.seed] ?? new Uint8Array(0);
    if (c.gzip && raw[0] !== 0x1f) raw = gzipSync(raw, { level: 1 });
  }
  return mutate(raw, c.mutations, [0x08, 0x10, 0x18, 0x30, 0x38, 0, 3, 4, 8, 9, 10]);
}

export const kernelImage: FuzzTarget<KernelCase> = {
  name: 'kernel-image',
  async: false,
  fromCorpus(files: readonly CorpusFile[]) {
    seeds = files.map((f) => f.bytes);
    return files.map((_, seed) => ({ image: { kind: 'corpus' as const, seed }, gzip: false, mutations: [], ramBytes: 8 * MiB, ramBase: 0x8000_0000n, initrd: 4096, fdtBytes: 4096 }));
  },
  arbitrary: (s) => caseArb(s.length),
  async setup() {
    for (const bytes of BOMB_SIZES) {
      const big = new Uint8Array(bytes);
      big.set(header({ textOffset: 0n, imageSize: 0n, flags: 0n, magic2: true, magic: false, version: 2, length: 64, fill: 0 }));
      bombs.set(bytes, gzipSync(big, { level: 1 }));
    }
  },
  expected: (e) => e instanceof BootError,
  // Decompression may take the RAM size, and no more.
  memoryBound: (c) => 3 * c.ramBytes + 32 * MiB,
  show: (c) => show(c),
  run(c) {
    const kernel = kernelOf(c);
    const ram = new Uint8Array(c.ramBytes).fill(0xcc);
    const initrd = c.initrd === null ? undefined : new Uint8Array(c.initrd).fill(0x1d);
    let fdt: Uint8Array | undefined, fdtInitrd: GuestRange | undefined;
    let layout;
    try {
      layout = placeLinux({
        ram, ramBase: c.ramBase, kernel, initrd,
        buildFdt: (range) => { fdtInitrd = range; return (fdt = new Uint8Array(c.fdtBytes).fill(0xfd)); },
      });
    } catch (e) {
      check(Buffer.compare(ram, UNTOUCHED.subarray(0, ram.length)) === 0, `RAM was written before placeLinux refused the kernel (${String(e)})`);
      throw e;
    }
    note(`placed${c.gzip ? ' (gzip)' : ''}`);
    const ramEnd = c.ramBase + BigInt(c.ramBytes);
    const inRam = (start: bigint, end: bigint) => start >= c.ramBase && end <= ramEnd && start <= end;
    const at = (gpa: bigint) => Number(gpa - c.ramBase);
    check(layout.entry % (2n * BigInt(MiB)) === 0n, `entry ${layout.entry} is not 2 MiB aligned`);
    check(fdt !== undefined && inRam(layout.fdtAddr, layout.fdtAddr + BigInt(fdt.length)), 'the devicetree is not in RAM');
    check(Buffer.compare(ram.subarray(at(layout.fdtAddr), at(layout.fdtAddr) + fdt.length), fdt) === 0, 'RAM does not hold the devicetree');
    if (initrd) {
      const r = layout.initrd;
      check(r !== undefined && fdtInitrd !== undefined && r.start === fdtInitrd.start && r.end === fdtInitrd.end, 'the devicetree names another initrd range');
      check(inRam(r.start, r.end) && r.end - r.start === BigInt(initrd.length), 'the initrd is not in RAM');
      check(r.end <= layout.fdtAddr, 'the initrd overlaps the devicetree');
      check(Buffer.compare(ram.subarray(at(r.start), at(r.end)), initrd) === 0, 'RAM does not hold the initrd');
    }
    // The kernel's own bytes sit at the entry; the rest of image_size is zero.
    const kernelStart = at(layout.entry);
    check(kernelStart >= 0 && kernelStart < c.ramBytes, 'the entry is outside RAM');
    const k = parseKernelImage(kernel, c.ramBytes);
    const lowestOther = layout.initrd ? layout.initrd.start : layout.fdtAddr;
    check(layout.entry + k.imageSize <= lowestOther, 'the kernel overlaps the initrd or devicetree');
    check(Buffer.compare(ram.subarray(kernelStart, kernelStart + k.data.length), k.data) === 0, 'RAM does not hold the kernel');
    const bss = ram.subarray(kernelStart + k.data.length, kernelStart + Number(k.imageSize));
    check(Buffer.compare(bss, ZEROS.subarray(0, bss.length)) === 0, 'the kernel\'s bss is not zero');
  },
};
