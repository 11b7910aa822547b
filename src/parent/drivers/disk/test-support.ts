// Helpers for the disk driver tests: temporary folders, QEMU's own tools as the reference
// implementation (Debian's qemu-utils: qemu-img, qemu-io), and byte patching of images.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { BlockDevice } from './block-device.js';

export const QEMU_IMG = '/usr/bin/qemu-img';
export const QEMU_IO = '/usr/bin/qemu-io';
/** Set when qemu-img is missing: pass as the `skip` option of tests that need it. */
export const noQemu: string | false = existsSync(QEMU_IMG) && existsSync(QEMU_IO) ? false : 'qemu-img/qemu-io not installed';

/** A fresh folder, removed when the test process exits. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tshv-disk-test-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function qemuImg(...args: string[]): string {
  return execFileSync(QEMU_IMG, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs qemu-io commands (e.g. 'write -P 0xab 0 64k') on an image. */
export function qemuIo(path: string, ...commands: string[]): void {
  const out = execFileSync(QEMU_IO, ['-f', 'qcow2', ...commands.flatMap((c) => ['-c', c]), path], { encoding: 'utf8' });
  if (/error|failed/i.test(out)) throw new Error(`qemu-io ${commands.join('; ')}: ${out}`);
}

export interface CheckResult {
  'check-errors': number;
  corruptions?: number;
  leaks?: number;
  'image-end-offset'?: number;
}

/** `qemu-img check --output=json` (exit status 2 for corruptions, 3 for leaks). */
export function qemuCheck(path: string): CheckResult {
  try {
    return JSON.parse(qemuImg('check', '--output=json', path)) as CheckResult;
  } catch (e) {
    const stdout = (e as { stdout?: string }).stdout;
    if (stdout) return JSON.parse(stdout) as CheckResult;
    throw e;
  }
}

/** Asserts that qemu-img finds no corruption and no leaked clusters. */
export function assertClean(path: string): void {
  const r = qemuCheck(path);
  if (r['check-errors'] || r.corruptions || r.leaks) {
    let text = '';
    try {
      text = qemuImg('check', path);
    } catch (e) {
      text = String((e as { stdout?: string }).stdout ?? e);
    }
    throw new Error(`qemu-img check ${path}: ${JSON.stringify(r)}\n${text}`);
  }
}

/** The guest-visible contents of an image as qemu-img sees them. */
export function qemuContents(path: string, dir: string, snapshot?: string): Uint8Array {
  const out = join(dir, `contents-${Math.random().toString(36).slice(2)}.raw`);
  qemuImg('convert', ...(snapshot ? ['-l', `snapshot.name=${snapshot}`] : []), '-O', 'raw', path, out);
  const bytes = new Uint8Array(readFileSync(out));
  rmSync(out);
  return bytes;
}

/** Overwrites bytes of a file (to build broken or unusual images). */
export function patchFile(path: string, offset: number, bytes: ArrayLike<number>): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Uint8Array.from(bytes), 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

export function u32be(x: number): number[] {
  return [(x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];
}

export function u64be(x: bigint): number[] {
  return [...u32be(Number(x >> 32n)), ...u32be(Number(x & 0xffffffffn))];
}

/** Reads the whole disk through the driver. */
export async function contents(disk: BlockDevice): Promise<Uint8Array> {
  const out = new Uint8Array(disk.size);
  await disk.read(0, out);
  return out;
}

/** A deterministic pseudo-random generator (xorshift32), so failures reproduce. */
export function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

/** Index of the first differing byte, or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** What the disk should hold: the writes applied to a plain array. */
export class Model {
  readonly bytes: Uint8Array;
  constructor(size: number, readonly clusterSize: number) {
    this.bytes = new Uint8Array(size);
  }
  write(offset: number, data: Uint8Array): void {
    this.bytes.set(data, offset);
  }
  /** The whole clusters in [offset, offset + length) (the last one may be partial). */
  wholeClusters(offset: number, length: number): [number, number] {
    const cs = this.clusterSize;
    const end = offset + length === this.bytes.length ? this.bytes.length : Math.floor((offset + length) / cs) * cs;
    return [Math.ceil(offset / cs) * cs, end];
  }
  /** Whole clusters in the range read as zeros afterwards (v3, or v2 without backing). */
  discard(offset: number, length: number): void {
    const [start, end] = this.wholeClusters(offset, length);
    if (end > start) this.bytes.fill(0, start, end);
  }
  /**
   * A discard as the BlockDevice contract has it: each whole cluster now reads as zeros or
   * as before (e.g. still from a backing file). Checks that, and takes what the disk holds.
   */
  async discardLoosely(disk: BlockDevice, offset: number, length: number): Promise<void> {
    const [start, end] = this.wholeClusters(offset, length);
    for (let at = start; at < end; at += this.clusterSize) {
      const now = new Uint8Array(Math.min(this.clusterSize, end - at));
      await disk.read(at, now);
      const before = this.bytes.subarray(at, at + now.length);
      assert.ok(now.every((b) => b === 0) || firstDifference(now, before) === -1, `discarded cluster at ${at} holds neither zeros nor its old data`);
      before.set(now);
    }
  }
}

export async function assertContents(disk: BlockDevice, model: Model, what: string): Promise<void> {
  const got = await contents(disk);
  const at = firstDifference(got, model.bytes);
  assert.equal(at, -1, `${what}: first difference at byte ${at} (cluster ${Math.floor(at / model.clusterSize)})`);
}

/** A random request: offsets and lengths at sector granularity, often crossing clusters. */
export function randomRequest(r: (n: number) => number, size: number, clusterSize: number): [number, number] {
  const maxLength = Math.min(size, clusterSize * 3);
  const length = (1 + r(maxLength / 512)) * 512;
  const offset = r((size - length) / 512 + 1) * 512;
  return [offset, length];
}

export function pattern(length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (seed * 31 + i * 7 + (i >> 9)) & 255;
  return b;
}
