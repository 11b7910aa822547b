import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { BootError, placeLinux, parseKernelImage, FDT_MAX_BYTES, type BootErrorKind, type GuestRange } from './boot.js';
import { buildVirtDtb } from './virt.js';
import { findNode, parseFdt, propValue } from './fdt.js';

const MIB = 1 << 20;
const RAM_BASE = 0x80000000n;

/** A synthetic RISC-V Image: header fields as given, body of recognisable bytes. */
function fakeImage(opts: { fileBytes?: number; textOffset?: bigint; imageSize?: bigint; flags?: bigint; magic2?: boolean; magic?: boolean } = {}): Uint8Array {
  const img = new Uint8Array(opts.fileBytes ?? 0x3000);
  for (let i = 64; i < img.length; i++) img[i] = (i * 7) & 0xff;
  const dv = new DataView(img.buffer);
  dv.setUint32(0, 0x0100006f, true); // j to past the header, the shape real kernels have
  dv.setBigUint64(0x08, opts.textOffset ?? 0x200000n, true);
  dv.setBigUint64(0x10, opts.imageSize ?? 0x5000n, true);
  dv.setBigUint64(0x18, opts.flags ?? 0n, true);
  dv.setUint32(0x20, 2, true);
  if (opts.magic ?? true) img.set(new TextEncoder().encode('RISCV\0\0\0'), 0x30);
  if (opts.magic2 ?? true) img.set([0x52, 0x53, 0x43, 0x05], 0x38);
  return img;
}

function expectBootError(fn: () => unknown, kind: BootErrorKind, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BootError, `BootError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, message);
    return true;
  });
}

const dtbFor = (cpus = 1) => (initrd: GuestRange | undefined): Uint8Array =>
  buildVirtDtb({ cpus, ramBytes: 64n << 20n, bootargs: 'console=ttyS0', initrd, rngSeed: null });

test('kernel at ramBase + text_offset, bss zeroed, FDT at the top 2 MiB boundary, initrd under it', () => {
  const ram = new Uint8Array(64 * MIB).fill(0xee);
  const kernel = fakeImage();
  const initrd = new Uint8Array(12345).fill(0x42);
  let seen: GuestRange | undefined;
  const layout = placeLinux({ ram, ramBase: RAM_BASE, kernel, initrd, buildFdt: (r) => { seen = r; return dtbFor()(r); } });
  assert.equal(layout.entry, 0x80200000n);
  assert.deepEqual(ram.subarray(0x200000, 0x200000 + kernel.length), kernel);
  assert.ok(ram.subarray(0x200000 + kernel.length, 0x205000).every((b) => b === 0), 'bss up to image_size is zero');
  assert.equal(layout.fdtAddr, 0x80000000n + 62n * BigInt(MIB), 'last 2 MiB-aligned address where the FDT fits');
  assert.equal(layout.fdtAddr % 8n, 0n);
  const end = 0x80000000n + 64n * BigInt(MIB);
  assert.ok(layout.initrd);
  assert.deepEqual(seen, layout.initrd, 'the FDT was built with the final initrd range');
  assert.equal(layout.initrd.start % 0x1000n, 0n, 'page aligned');
  assert.equal(layout.initrd.end - layout.initrd.start, 12345n);
  assert.ok(layout.initrd.end <= layout.fdtAddr, 'below the FDT');
  assert.ok(layout.fdtAddr - layout.initrd.end < 0x1000n + BigInt(FDT_MAX_BYTES) + 2n * BigInt(MIB), 'high in RAM');
  const at = Number(layout.initrd.start - RAM_BASE);
  assert.ok(ram.subarray(at, at + 12345).every((b) => b === 0x42));
  // The FDT in RAM is the tree that names the initrd.
  const fdtAt = Number(layout.fdtAddr - RAM_BASE);
  const tree = parseFdt(ram.subarray(fdtAt, Number(end - RAM_BASE)));
  const chosen = findNode(tree.root, '/chosen')!;
  assert.deepEqual(propValue.u64s(chosen.props.get('linux,initrd-start')!), [layout.initrd.start]);
  assert.deepEqual(propValue.u64s(chosen.props.get('linux,initrd-end')!), [layout.initrd.end]);
});

test('no initrd: no initrd range, FDT built with none', () => {
  const ram = new Uint8Array(32 * MIB);
  let called = 0;
  const layout = placeLinux({ ram, ramBase: RAM_BASE, kernel: fakeImage(), buildFdt: (r) => { called++; assert.equal(r, undefined); return dtbFor()(r); } });
  assert.equal(called, 1);
  assert.equal(layout.initrd, undefined);
  assert.equal(layout.fdtAddr, 0x80000000n + 30n * BigInt(MIB));
});

test('RAM whose end is not 2 MiB aligned: FDT still fits below the end', () => {
  const ram = new Uint8Array(33 * MIB);
  const layout = placeLinux({ ram, ramBase: RAM_BASE, kernel: fakeImage(), buildFdt: dtbFor() });
  assert.equal(layout.fdtAddr, 0x80000000n + 32n * BigInt(MIB));
});

test('gzip-compressed kernels are decompressed', () => {
  const kernel = fakeImage({ fileBytes: 0x10000 });
  const ram = new Uint8Array(16 * MIB);
  const layout = placeLinux({ ram, ramBase: RAM_BASE, kernel: gzipSync(kernel), buildFdt: dtbFor() });
  assert.equal(layout.entry, 0x80200000n);
  assert.deepEqual(ram.subarray(0x200000, 0x210000), kernel);
});

test('text_offset from the header; 0 means the RV64 default of 2 MiB', () => {
  assert.equal(parseKernelImage(fakeImage({ textOffset: 0x400000n }), 16 * MIB).textOffset, 0x400000n);
  assert.equal(parseKernelImage(fakeImage({ textOffset: 0n }), 16 * MIB).textOffset, 0x200000n);
  const ram = new Uint8Array(16 * MIB);
  assert.equal(placeLinux({ ram, ramBase: RAM_BASE, kernel: fakeImage({ textOffset: 0x400000n }), buildFdt: dtbFor() }).entry, 0x80400000n);
});

test('image_size covers bss; 0 (old kernels) or smaller than the file means the file size', () => {
  assert.equal(parseKernelImage(fakeImage({ imageSize: 0x800000n }), 16 * MIB).imageSize, 0x800000n);
  assert.equal(parseKernelImage(fakeImage({ imageSize: 0n }), 16 * MIB).imageSize, 0x3000n);
  assert.equal(parseKernelImage(fakeImage({ imageSize: 0x10n }), 16 * MIB).imageSize, 0x3000n);
  assert.equal(parseKernelImage(fakeImage({ magic: false }), 16 * MIB).imageSize, 0x5000n, 'magic2 alone is enough');
  assert.equal(parseKernelImage(fakeImage({ magic2: false }), 16 * MIB).imageSize, 0x5000n, 'the deprecated magic alone is enough');
});

test('the devicetree and initrd never overlap the kernel image_size', () => {
  // 8 MiB RAM: kernel 2 MiB..(2 MiB + 3 MiB) leaves room for a 1 MiB initrd under the top 2 MiB.
  const ram = new Uint8Array(8 * MIB);
  const layout = placeLinux({ ram, ramBase: RAM_BASE, kernel: fakeImage({ imageSize: 3n << 20n }), initrd: new Uint8Array(MIB), buildFdt: dtbFor() });
  assert.ok(layout.initrd!.start >= 0x80500000n);
  // One page more initrd than fits.
  expectBootError(() => placeLinux({ ram, ramBase: RAM_BASE, kernel: fakeImage({ imageSize: 3n << 20n }), initrd: new Uint8Array(MIB + 0x1000), buildFdt: dtbFor() }),
    'no-room', /RAM of 8 MiB is too small for kernel 3 MiB at offset 0x200000, initrd 1028 KiB, devicetree window 2 MiB at the top/);
});

test('errors: what the input looks like, truncation, sizes', () => {
  const M16 = 16 * MIB;
  const elf = new Uint8Array(256); elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]); elf[18] = 243;
  expectBootError(() => parseKernelImage(elf, M16), 'not-an-image', /RISC-V ELF file \(vmlinux\?\): boot the raw kernel Image/);
  const bz = new Uint8Array(0x400); bz.set([0x48, 0x64, 0x72, 0x53], 0x202); bz[0x1fe] = 0x55; bz[0x1ff] = 0xaa;
  expectBootError(() => parseKernelImage(bz, M16), 'not-an-image', /x86 bzImage/);
  const arm = new Uint8Array(64); arm.set([0x41, 0x52, 0x4d, 0x64], 0x38);
  expectBootError(() => parseKernelImage(arm, M16), 'not-an-image', /arm64 kernel Image/);
  const xz = new Uint8Array(100); xz.set([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
  expectBootError(() => parseKernelImage(xz, M16), 'not-an-image', /xz-compressed/);
  const cpio = new TextEncoder().encode('070701' + '0'.repeat(200));
  expectBootError(() => parseKernelImage(cpio, M16), 'not-an-image', /cpio archive/);
  expectBootError(() => parseKernelImage(new Uint8Array(4096), M16), 'not-an-image', /no "RSC\\x05" magic at offset 0x38/);
  expectBootError(() => parseKernelImage(fakeImage().subarray(0, 40), M16), 'truncated', /40 bytes, shorter than the 64-byte/);
  expectBootError(() => parseKernelImage(new Uint8Array(0), M16), 'truncated', /0 bytes/);
  expectBootError(() => parseKernelImage(fakeImage({ flags: 1n }), M16), 'bad-header', /big-endian/);
  expectBootError(() => parseKernelImage(fakeImage({ textOffset: 0x201000n }), M16), 'bad-header', /text_offset 0x201000 is not a multiple of 2 MiB/);
  expectBootError(() => parseKernelImage(fakeImage({ imageSize: 0xffffffffffff0000n }), M16), 'too-large', /RAM is 16 MiB/);
  expectBootError(() => parseKernelImage(fakeImage({ imageSize: 15n << 20n }), M16), 'too-large', /needs 15 MiB at offset 0x200000/);
});

test('gzip errors: corrupt, truncated, and a zip bomb stopped at the RAM size', () => {
  const gz = gzipSync(fakeImage({ fileBytes: 0x10000 }));
  expectBootError(() => parseKernelImage(gz.subarray(0, gz.length - 20), 16 * MIB), 'bad-gzip', /does not decompress/);
  const corrupt = Uint8Array.from(gz); corrupt[20] ^= 0xff; corrupt[21] ^= 0xff;
  expectBootError(() => parseKernelImage(corrupt, 16 * MIB), 'bad-gzip', /does not decompress/);
  const bomb = gzipSync(new Uint8Array(64 * MIB)); // 64 KiB on disk
  assert.ok(bomb.length < 128 * 1024);
  expectBootError(() => parseKernelImage(bomb, 8 * MIB), 'too-large', /decompresses to more than 8 MiB/);
});

test('RAM too small, misaligned base, oversized FDT; RAM untouched on failure', () => {
  const ram = new Uint8Array(2 * MIB).fill(0x5a);
  expectBootError(() => placeLinux({ ram, ramBase: RAM_BASE, kernel: fakeImage(), buildFdt: dtbFor() }), 'too-large', /RAM is 2 MiB/);
  const ram4 = new Uint8Array(4 * MIB).fill(0x5a);
  expectBootError(() => placeLinux({ ram: ram4, ramBase: RAM_BASE, kernel: fakeImage(), buildFdt: dtbFor() }), 'no-room', /RAM of 4 MiB is too small for kernel 20 KiB at offset 0x200000, devicetree window 2 MiB at the top/);
  expectBootError(() => placeLinux({ ram: ram4, ramBase: RAM_BASE + 0x1000n, kernel: fakeImage(), buildFdt: dtbFor() }), 'no-room', /not 2 MiB aligned/);
  const ram16 = new Uint8Array(16 * MIB).fill(0x5a);
  expectBootError(() => placeLinux({ ram: ram16, ramBase: RAM_BASE, kernel: fakeImage(), initrd: new Uint8Array(0), buildFdt: dtbFor() }), 'truncated', /initrd is empty/);
  expectBootError(() => placeLinux({ ram: ram16, ramBase: RAM_BASE, kernel: fakeImage(), buildFdt: () => new Uint8Array(FDT_MAX_BYTES + 1) }), 'too-large', /devicetree/);
  for (const r of [ram, ram4, ram16]) assert.ok(r.every((b) => b === 0x5a), 'nothing written');
});
