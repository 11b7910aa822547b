// Loading a RISC-V Linux kernel, an initrd and the devicetree into guest RAM.
//
// The kernel is the raw `Image` (arch/riscv/boot/Image, optionally gzip-compressed as
// Image.gz) described by Linux Documentation/arch/riscv/boot-image-header.rst:
//
//   0x00 u32 code0, u32 code1      0x08 u64 text_offset    0x10 u64 image_size
//   0x18 u64 flags (bit 0: BE)     0x20 u32 version        0x24 u32 res1, 0x28 u64 res2
//   0x30 u64 magic "RISCV\0\0\0" (deprecated)              0x38 u32 magic2 "RSC\x05"
//   0x3c u32 res3 (PE/COFF header offset for EFI-stub kernels)
//
// RAM layout (ramBase = start of RAM, ramEnd = its end):
//
//   ramBase                 unused by the loader (the SBI is the hypervisor, not guest RAM)
//   ramBase + text_offset   kernel, image_size bytes (covers its bss)        = entry
//   ...                     free
//   initrdStart             initrd, page aligned, right under the FDT window
//   fdtFloor                the FDT window: the top of RAM from the 2 MiB boundary at or
//   fdtAddr                 below ramEnd - FDT_MAX_BYTES; the FDT sits at the last 2 MiB
//   ramEnd                  aligned address where it fits, as QEMU places it
//
// Order: the FDT must name the initrd's addresses and its own address must be known, so
// the window is fixed first from FDT_MAX_BYTES (an upper bound, not the actual size), the
// initrd goes under it, then the FDT is built with the initrd's range and placed in the
// window. Everything is parsed, placed and built before the first byte is written, so a
// failure leaves RAM untouched (decode, then invoke).
import { gunzipSync } from 'node:zlib';
import { constants as bufferConstants } from 'node:buffer';

export type BootErrorKind = 'not-an-image' | 'truncated' | 'bad-header' | 'bad-gzip' | 'too-large' | 'no-room';

export class BootError extends Error {
  constructor(readonly kind: BootErrorKind, message: string) { super(message); }
}

export interface GuestRange { start: bigint; end: bigint }

export interface KernelImage {
  /** Offset of the kernel from the start of RAM (header text_offset, 2 MiB if 0). */
  textOffset: bigint;
  /** Bytes of RAM the kernel occupies from its start, including bss. */
  imageSize: bigint;
  /** The Image file contents (decompressed). */
  data: Uint8Array;
  /** Header version, major << 16 | minor. */
  version: number;
}

export interface BootLayout {
  /** Guest-physical address of the kernel's first instruction (a0 = hart id, a1 = fdtAddr). */
  entry: bigint;
  fdtAddr: bigint;
  initrd?: GuestRange;
  /** Every range of RAM placeLinux wrote (for the written-page log). */
  written: GuestRange[];
}

export interface LinuxBoot {
  /** Guest RAM; index 0 is guest-physical ramBase. */
  ram: Uint8Array;
  ramBase: bigint;
  /** The kernel Image, raw or gzip-compressed. */
  kernel: Uint8Array;
  /** An initramfs/initrd, passed through untouched (the kernel unpacks it). */
  initrd?: Uint8Array;
  /** Builds the devicetree once the initrd's place is known, e.g.
   *  `(initrd) => buildVirtDtb({ ...config, initrd })`. */
  buildFdt: (initrd: GuestRange | undefined) => Uint8Array;
}

const HEADER_BYTES = 64;
const MIB = 1n << 20n;
const PAGE = 0x1000n;
/** RV64 kernels start on a PMD (2 MiB) boundary (Linux setup_vm) and default to 2 MiB in. */
const KERNEL_ALIGN = 2n * MIB;
export const DEFAULT_TEXT_OFFSET = 2n * MIB;
/** FDT placement granule, as QEMU's riscv_compute_fdt_addr. */
const FDT_ALIGN = 2n * MIB;
/** The largest devicetree the loader accepts; ours is a few KiB even with 8 harts. */
export const FDT_MAX_BYTES = 64 * 1024;
const MAGIC2 = 0x05435352; // "RSC\x05" little-endian
const MAGIC = 0x5643534952n; // "RISCV\0\0\0" little-endian

const alignDown = (v: bigint, a: bigint): bigint => v - (v % a);
const alignUp = (v: bigint, a: bigint): bigint => alignDown(v + a - 1n, a);
const hex = (v: bigint): string => `0x${v.toString(16)}`;

export function formatBytes(n: bigint | number): string {
  const b = BigInt(n);
  if (b >= MIB && b % (MIB / 16n) === 0n) return `${Number(b) / Number(MIB)} MiB`;
  if (b >= 1024n && b % 64n === 0n) return `${Number(b) / 1024} KiB`;
  return `${b} bytes`;
}

const startsWith = (b: Uint8Array, at: number, sig: number[]): boolean => sig.every((v, i) => b[at + i] === v);

/** What a file that is not a RISC-V Image looks like, to make the error actionable. */
function identify(b: Uint8Array): string | undefined {
  if (startsWith(b, 0, [0x7f, 0x45, 0x4c, 0x46])) {
    const machine = b.length >= 20 ? b[18] | (b[19] << 8) : -1;
    const arch = machine === 243 ? 'RISC-V ' : machine === 62 ? 'x86-64 ' : machine === 183 ? 'arm64 ' : '';
    return `an ${arch}ELF file (vmlinux?): boot the raw kernel Image (arch/riscv/boot/Image or Image.gz) instead`;
  }
  if (startsWith(b, 0x202, [0x48, 0x64, 0x72, 0x53])) return 'an x86 bzImage';
  if (startsWith(b, 0x38, [0x41, 0x52, 0x4d, 0x64])) return 'an arm64 kernel Image';
  if (startsWith(b, 0, [0x27, 0x05, 0x19, 0x56])) return 'a U-Boot uImage: boot the raw Image inside it';
  if (startsWith(b, 0, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz-compressed: only gzip is understood, decompress it first (unxz)';
  if (startsWith(b, 0, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd-compressed: only gzip is understood, decompress it first (unzstd)';
  if (startsWith(b, 0, [0x42, 0x5a, 0x68])) return 'bzip2-compressed: only gzip is understood, decompress it first (bunzip2)';
  if (startsWith(b, 0, [0x04, 0x22, 0x4d, 0x18])) return 'lz4-compressed: only gzip is understood, decompress it first';
  if (startsWith(b, 0, [0x30, 0x37, 0x30, 0x37, 0x30])) return 'a cpio archive (an initramfs?), not a kernel';
  if (startsWith(b, 0, [0x4d, 0x5a])) return 'a PE/EFI executable without the RISC-V Image header';
  return undefined;
}

/** Decompresses gzip input, refusing output beyond maxBytes (a zip bomb, or too big for RAM). */
function gunzipCapped(bytes: Uint8Array, maxBytes: number, what: string): Uint8Array {
  const cap = Math.min(maxBytes, bufferConstants.MAX_LENGTH);
  try {
    const out = gunzipSync(bytes, { maxOutputLength: cap });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new BootError('too-large', `${what} decompresses to more than ${formatBytes(cap)} (the size of guest RAM)`);
    }
    throw new BootError('bad-gzip', `${what} is gzip data that does not decompress (${(e as Error).message})`);
  }
}

/**
 * Parses a RISC-V Linux Image (raw or gzip) as untrusted input. maxBytes bounds both the
 * decompressed size and image_size: pass the RAM size.
 */
export function parseKernelImage(input: Uint8Array, maxBytes: number): KernelImage {
  let data = input;
  if (startsWith(input, 0, [0x1f, 0x8b])) data = gunzipCapped(input, maxBytes, 'the kernel');
  if (data.length < HEADER_BYTES) {
    const looks = identify(data);
    if (looks) throw new BootError('not-an-image', `the kernel is not a RISC-V Linux Image: it looks like ${looks}`);
    throw new BootError('truncated', `the kernel is ${data.length} bytes, shorter than the ${HEADER_BYTES}-byte RISC-V Image header`);
  }
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const magic2 = dv.getUint32(0x38, true);
  const magic = dv.getBigUint64(0x30, true);
  if (magic2 !== MAGIC2 && magic !== MAGIC) {
    const looks = identify(data);
    throw new BootError('not-an-image', looks
      ? `the kernel is not a RISC-V Linux Image: it looks like ${looks}`
      : 'the kernel is not a RISC-V Linux Image (no "RSC\\x05" magic at offset 0x38 nor "RISCV" at 0x30)');
  }
  const flags = dv.getBigUint64(0x18, true);
  if (flags & 1n) throw new BootError('bad-header', 'the kernel Image is big-endian (flags bit 0); RISC-V guests here are little-endian');
  let textOffset = dv.getBigUint64(0x08, true);
  if (textOffset === 0n) textOffset = DEFAULT_TEXT_OFFSET;
  if (textOffset % KERNEL_ALIGN !== 0n) {
    throw new BootError('bad-header', `the kernel's text_offset ${hex(textOffset)} is not a multiple of 2 MiB, which an RV64 kernel needs`);
  }
  const headerSize = dv.getBigUint64(0x10, true);
  // image_size 0 comes from kernels older than the header's size field: the file is all there is.
  const imageSize = headerSize === 0n ? BigInt(data.length) : headerSize < BigInt(data.length) ? BigInt(data.length) : headerSize;
  if (textOffset + imageSize > BigInt(maxBytes)) {
    throw new BootError('too-large', `the kernel needs ${formatBytes(imageSize)} at offset ${hex(textOffset)} ` +
      `(image_size ${hex(headerSize)}) but RAM is ${formatBytes(maxBytes)}`);
  }
  return { textOffset, imageSize, data, version: dv.getUint32(0x20, true) };
}

/**
 * Places kernel, initrd and devicetree in RAM and returns where they are. Throws BootError
 * (RAM untouched) when an input is malformed or RAM is too small for the three.
 */
export function placeLinux(boot: LinuxBoot): BootLayout {
  const { ram, ramBase } = boot;
  const ramBytes = BigInt(ram.length);
  const ramEnd = ramBase + ramBytes;
  if (ramBase % KERNEL_ALIGN !== 0n) throw new BootError('no-room', `RAM base ${hex(ramBase)} is not 2 MiB aligned`);

  const kernel = parseKernelImage(boot.kernel, ram.length);
  const entry = ramBase + kernel.textOffset;
  const kernelEnd = alignUp(entry + kernel.imageSize, PAGE);

  const fdtFloor = alignDown(ramEnd - BigInt(FDT_MAX_BYTES), FDT_ALIGN);
  let initrd: GuestRange | undefined;
  if (boot.initrd !== undefined) {
    if (boot.initrd.length === 0) throw new BootError('truncated', 'the initrd is empty');
    const size = BigInt(boot.initrd.length);
    const start = alignDown(fdtFloor - size, PAGE);
    initrd = { start, end: start + size };
  }
  const lowestUsed = initrd ? initrd.start : fdtFloor;
  if (fdtFloor < ramBase || lowestUsed < kernelEnd) {
    const parts = [`kernel ${formatBytes(kernel.imageSize)} at offset ${hex(kernel.textOffset)}`];
    if (boot.initrd) parts.push(`initrd ${formatBytes(boot.initrd.length)}`);
    parts.push(`devicetree window ${formatBytes(ramEnd - fdtFloor)} at the top`);
    throw new BootError('no-room', `RAM of ${formatBytes(ramBytes)} is too small for ${parts.join(', ')}`);
  }

  const fdt = boot.buildFdt(initrd);
  if (fdt.length > FDT_MAX_BYTES) throw new BootError('too-large', `the devicetree is ${formatBytes(fdt.length)}, more than ${formatBytes(FDT_MAX_BYTES)}`);
  const fdtAddr = alignDown(ramEnd - BigInt(fdt.length), FDT_ALIGN);

  const at = (gpa: bigint): number => Number(gpa - ramBase);
  ram.set(kernel.data, at(entry));
  ram.fill(0, at(entry) + kernel.data.length, at(entry + kernel.imageSize));
  if (initrd && boot.initrd) ram.set(boot.initrd, at(initrd.start));
  ram.set(fdt, at(fdtAddr));
  const written = [{ start: entry, end: entry + kernel.imageSize }, ...(initrd ? [initrd] : []), { start: fdtAddr, end: fdtAddr + BigInt(fdt.length) }];
  return initrd ? { entry, fdtAddr, initrd, written } : { entry, fdtAddr, written };
}
