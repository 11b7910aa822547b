// The VM's one shared WebAssembly.Memory: core tables, hart state blocks, then guest RAM
// (map in state-table.mjs). Every hart instance imports it; device back-ends reach RAM
// through bounds-checked views.
import * as L from './layout.js';

const PAGE = 65536;
/** Bytes after RAM that exist in the wasm memory: the core's loads read 8 bytes and keep fewer. */
const RAM_SLACK = 8;
/** wasm32 memories end at 4 GiB. */
export const MAX_RAM_BYTES = 4 * 1024 * 1024 * 1024 - L.RAM_OFFSET - PAGE;

export function createVmMemory(ramBytes: number): WebAssembly.Memory {
  if (!Number.isInteger(ramBytes) || ramBytes <= 0 || ramBytes % 4096 !== 0) {
    throw new RangeError(`RAM size must be a positive multiple of 4 KiB, got ${ramBytes}`);
  }
  if (ramBytes > MAX_RAM_BYTES) throw new RangeError(`RAM size ${ramBytes} exceeds the maximum of ${MAX_RAM_BYTES} bytes`);
  const pages = Math.ceil((L.RAM_OFFSET + ramBytes + RAM_SLACK) / PAGE);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** Guest RAM as bytes, for loaders: index 0 is guest-physical ramBase. */
export function ramBytes(memory: WebAssembly.Memory, size: number): Uint8Array {
  return new Uint8Array(memory.buffer, L.RAM_OFFSET, size);
}
