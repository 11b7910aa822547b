// The state stream format: a saved VM as one byte stream (a file, or anything that carries
// bytes in order: the writer never seeks back, the reader never seeks ahead). All integers
// are little-endian.
//
//   stream  = header frame*
//   header  = "TSHVSTAT" (8 bytes) | u32 format version
//   frame   = u32 tag | u32 flags | u64 payload length | payload | u32 check
//   check   = CRC-32 (zlib's, ISO-HDLC) of every byte of the stream before the check field
//
// Version 1's frames, in this order:
//   CONF  u64 memoryBytes | the machine configuration, JSON (UTF-8)
//   STAT  device and VP state, JSON (UTF-8)
//   RAM   u64 first page | u32 page count (1..MAX_RUN_PAGES) | the pages: consecutive
//         non-zero 4 KiB pages; runs ascending, not overlapping, inside memoryBytes.
//         Pages in no run are zero: zero pages are never written.
//   END   u64 RAM pages | u64 frames before END; nothing follows it.
//
// The check runs over the whole stream rather than one frame, so a frame dropped,
// repeated or moved fails like a flipped bit does, and END's check covers everything.
// CRC-32 rather than SHA-256: the check finds accidents (a torn copy, a bad disk), not an
// attacker — anyone can recompute either, so a hostile stream is met by bounding every
// field instead — and zlib's CRC-32 runs at ~4 GB/s here against ~1 GB/s for SHA-256 with
// SHA-NI, which for 200 MiB of RAM is the difference between 50 and 200 ms of pause.
//
// Compatibility: a newer tshv reads every older format version (reader.ts keeps one entry
// per version in its table, and test/fixtures/state/format-N.tshvstate guards each). A
// frame whose tag the reader does not know is skipped, check verified, when its flags have
// FLAG_IGNORABLE; otherwise it is an error (it may change what the rest means). So a
// writer adds an optional frame without a new version, and bumps the version for anything
// else. Flag bits other than FLAG_IGNORABLE must be zero.
import * as zlib from 'node:zlib';
import { StateError } from '../../state/contract.js';
import { MACHINE_LIMITS } from '../machine/limits.js';

export const MAGIC = 'TSHVSTAT';
/** The version this tshv writes. */
export const FORMAT_VERSION = 1;

export const HEADER_BYTES = 12;
export const FRAME_HEADER_BYTES = 16;
export const CHECK_BYTES = 4;

export const PAGE_BYTES = 4096;
/** Pages in one RAM frame at most: 4 MiB, so a frame's check is never far behind its bytes. */
export const MAX_RUN_PAGES = 1024;
export const RUN_HEADER_BYTES = 12;
export const END_BYTES = 16;
/** memoryBytes: the VM's own bounds (the reader's caller creates memory of this size). */
export const MAX_MEMORY_BYTES = MACHINE_LIMITS.memoryBytes.max;
export const MAX_CONFIG_JSON_BYTES = 1 << 20;
export const MAX_STATE_JSON_BYTES = 16 << 20;
/** An unknown ignorable frame: read through in chunks (never held), but not without end. */
export const MAX_SKIPPED_FRAME_BYTES = 64 << 20;

/** A frame tag: its four ASCII letters, as they appear in the file. */
export const frameTag = (s: string): number => (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) >>> 0;
export const TAG = { CONF: frameTag('CONF'), STAT: frameTag('STAT'), RAM: frameTag('RAM '), END: frameTag('END ') } as const;
export const FLAG_IGNORABLE = 1;

/** A tag as text for messages: its letters when printable, else hexadecimal. */
export function tagName(t: number): string {
  const s = String.fromCharCode(t & 0xff, (t >>> 8) & 0xff, (t >>> 16) & 0xff, t >>> 24);
  return /^[\x20-\x7e]{4}$/.test(s) ? `"${s.trimEnd()}"` : `0x${(t >>> 0).toString(16).padStart(8, '0')}`;
}

/** A state stream that cannot be read or written: the message says where and why. */
export class StateStreamError extends StateError {
  override readonly name: string = 'StateStreamError';
}

/** The running check: CRC-32 continued over every byte written or read so far. */
export class RunningCheck {
  private crc = 0;
  constructor() {
    // zlib.crc32 came in Node 20.15: looked up here, so an older Node fails a save or a
    // restore with this message rather than every module that imports this one at load.
    if (typeof zlib.crc32 !== 'function') throw new StateStreamError(`saving and restoring VMs needs Node 20.15 or later (zlib.crc32); this is ${process.version}`);
  }
  update(bytes: Uint8Array): void { this.crc = zlib.crc32(bytes, this.crc); }
  get value(): number { return this.crc; }
}

export function encodeHeader(version = FORMAT_VERSION): Uint8Array {
  const b = new Uint8Array(HEADER_BYTES);
  for (let i = 0; i < MAGIC.length; i++) b[i] = MAGIC.charCodeAt(i);
  new DataView(b.buffer).setUint32(8, version, true);
  return b;
}

export interface FrameHeader { tag: number; flags: number; length: bigint }

export function encodeFrameHeader(h: FrameHeader): Uint8Array {
  const b = new Uint8Array(FRAME_HEADER_BYTES);
  const v = new DataView(b.buffer);
  v.setUint32(0, h.tag, true);
  v.setUint32(4, h.flags, true);
  v.setBigUint64(8, h.length, true);
  return b;
}

export function decodeFrameHeader(b: Uint8Array): FrameHeader {
  const v = new DataView(b.buffer, b.byteOffset, FRAME_HEADER_BYTES);
  return { tag: v.getUint32(0, true), flags: v.getUint32(4, true), length: v.getBigUint64(8, true) };
}

export function encodeCheck(value: number): Uint8Array {
  const b = new Uint8Array(CHECK_BYTES);
  new DataView(b.buffer).setUint32(0, value, true);
  return b;
}

/** Whether memoryBytes is one a VM can have: whole pages, within the machine's limit. */
export function validMemoryBytes(n: number): boolean {
  return Number.isSafeInteger(n) && n >= PAGE_BYTES && n <= MAX_MEMORY_BYTES && n % PAGE_BYTES === 0;
}
