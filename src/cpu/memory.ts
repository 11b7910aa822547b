// The VM's one shared WebAssembly.Memory: core tables, hart state blocks, guest RAM (map in
// state-table.mjs), then the translation tier's code map. Every hart instance imports it;
// device back-ends reach RAM through bounds-checked views.
import * as L from './layout.js';

const PAGE = 65536;
const GUEST_PAGE = 4096;
/** Bytes after RAM that exist in the wasm memory: the core's loads read 8 bytes and keep fewer. */
const RAM_SLACK = 8;
/** wasm32 memories end at 4 GiB; the code map (4 bytes per RAM page) follows RAM. */
export const MAX_RAM_BYTES = Math.floor((4 * 1024 * 1024 * 1024 - L.RAM_OFFSET - 2 * PAGE) / (GUEST_PAGE + 4)) * GUEST_PAGE;

/**
 * The code map of the translation tier (src/cpu/core/jit.ts): a 32-bit generation per 4 KiB
 * RAM page, after RAM and its slack. Returns its offset and length in bytes.
 */
export function codeMapOf(ramBytes: number): { offset: number; bytes: number } {
  const offset = Math.ceil((L.RAM_OFFSET + ramBytes + RAM_SLACK) / GUEST_PAGE) * GUEST_PAGE;
  return { offset, bytes: Math.ceil(ramBytes / GUEST_PAGE) * 4 };
}

/** True when the memory holds the code map for ramBytes of RAM (createVmMemory makes it so). */
export function hasCodeMap(memory: WebAssembly.Memory | { buffer: ArrayBufferLike }, ramBytes: number): boolean {
  const map = codeMapOf(ramBytes);
  return memory.buffer.byteLength >= map.offset + map.bytes;
}

export function createVmMemory(ramBytes: number): WebAssembly.Memory {
  if (!Number.isInteger(ramBytes) || ramBytes <= 0 || ramBytes % 4096 !== 0) {
    throw new RangeError(`RAM size must be a positive multiple of 4 KiB, got ${ramBytes}`);
  }
  if (ramBytes > MAX_RAM_BYTES) throw new RangeError(`RAM size ${ramBytes} exceeds the maximum of ${MAX_RAM_BYTES} bytes`);
  const map = codeMapOf(ramBytes);
  const pages = Math.ceil((map.offset + map.bytes) / PAGE);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** Guest RAM as bytes, for loaders: index 0 is guest-physical ramBase. */
export function ramBytes(memory: WebAssembly.Memory, size: number): Uint8Array {
  return new Uint8Array(memory.buffer, L.RAM_OFFSET, size);
}
