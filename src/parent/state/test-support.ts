// Streams built frame by frame, for tests and the fuzz corpus: what a damaged, hostile or
// future writer could produce, with checks that are right (so the reader's other rules,
// not the check, must catch it) unless a test spoils them.
import { CHECK_BYTES, FORMAT_VERSION, FRAME_HEADER_BYTES, HEADER_BYTES, MAGIC, RunningCheck, encodeCheck, encodeFrameHeader, decodeFrameHeader } from './format.js';

export interface RawFrame {
  tag: number;
  flags?: number;
  payload: Uint8Array;
  /** The length the header claims, if not the payload's. */
  length?: bigint;
}

/** A stream of these frames after a header, each with its correct running check. */
export function buildStream(frames: readonly RawFrame[], version = FORMAT_VERSION, magic = MAGIC): Uint8Array {
  const parts: Uint8Array[] = [];
  const check = new RunningCheck();
  const put = (b: Uint8Array) => { parts.push(b); check.update(b); };
  const header = new Uint8Array(HEADER_BYTES);
  for (let i = 0; i < Math.min(magic.length, 8); i++) header[i] = magic.charCodeAt(i);
  new DataView(header.buffer).setUint32(8, version, true);
  put(header);
  for (const f of frames) {
    put(encodeFrameHeader({ tag: f.tag, flags: f.flags ?? 0, length: f.length ?? BigInt(f.payload.length) }));
    put(f.payload);
    put(encodeCheck(check.value));
  }
  return Buffer.concat(parts);
}

/** The frames of a well-formed stream (no checks made: for taking a good stream apart). */
export function splitFrames(stream: Uint8Array): RawFrame[] {
  const out: RawFrame[] = [];
  for (let at = HEADER_BYTES; at < stream.length;) {
    const h = decodeFrameHeader(stream.subarray(at));
    const start = at + FRAME_HEADER_BYTES, end = start + Number(h.length);
    out.push({ tag: h.tag, flags: h.flags, payload: stream.slice(start, end) });
    at = end + CHECK_BYTES;
  }
  return out;
}

export function u64le(...values: (number | bigint)[]): Uint8Array {
  const b = new Uint8Array(8 * values.length);
  values.forEach((v, i) => new DataView(b.buffer).setBigUint64(8 * i, BigInt(v), true));
  return b;
}

/** A RAM frame's payload: the run header, then the pages. */
export function runPayload(first: number | bigint, count: number, pages: Uint8Array): Uint8Array {
  const head = new Uint8Array(12);
  const v = new DataView(head.buffer);
  v.setBigUint64(0, BigInt(first), true);
  v.setUint32(8, count, true);
  return Buffer.concat([head, pages]);
}

/** A RAM of `bytes` bytes with `fill(page)` in the pages it names (0: leave zero). */
export function patternRam(bytes: number, fill: (page: number) => number, shared = false): Uint8Array {
  const ram = new Uint8Array(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  for (let p = 0; p < bytes / 4096; p++) {
    const v = fill(p);
    if (v === 0) continue;
    for (let i = 0; i < 4096; i++) ram[p * 4096 + i] = (v + i * 31 + (i >> 7)) & 0xff || 1;
  }
  return ram;
}
