// Emulated devices on the slow path (ARCHITECTURE.md path 2): the hart exits on a load or
// store outside RAM and the bus routes it here by guest-physical address.

export type Width = 1 | 2 | 4 | 8;

/**
 * Registers a device publishes for the hypervisor to answer loads from directly: `bytes`
 * mirrors the device's registers (kept current by the device) and `readable[offset]` says
 * whether a load there has no side effect and may be served from the mirror without a
 * round trip to the parent (an optimisation like KVM's coalesced MMIO, for the read side):
 *
 *   SHADOW_NONE     0  not mirrored: the load goes to the parent;
 *   SHADOW_STATUS   1  served even while stores the VPs posted are not performed yet, so
 *                      it may see the register as it was before them: only for registers
 *                      where that is harmless. The 16550's LSR qualifies: a THR write never
 *                      changes it (transmission is instant), and after a posted FIFO clear
 *                      a stale "data ready" only makes the driver read RBR, which answers
 *                      through the parent, in order;
 *   SHADOW_ORDERED  2  served only when every posted store has been performed (the mirror
 *                      then shows them all), otherwise through the parent like any load:
 *                      for registers the guest writes and reads back (the 16550's IER).
 */
export interface RegisterShadow {
  readonly bytes: Uint8Array;     // over a SharedArrayBuffer, device-sized
  readonly readable: Uint8Array;  // over a SharedArrayBuffer, device-sized
}

export const SHADOW_NONE = 0, SHADOW_STATUS = 1, SHADOW_ORDERED = 2;

export function createShadow(size: number): RegisterShadow {
  return { bytes: new Uint8Array(new SharedArrayBuffer(size)), readable: new Uint8Array(new SharedArrayBuffer(size)) };
}

export interface MmioDevice {
  readonly name: string;
  /** Bytes of guest-physical address space the device decodes. */
  readonly size: number;
  readonly shadow?: RegisterShadow;
  /**
   * Register offsets whose stores are not posted: the VP waits until the device has taken
   * them and `settling()` is false (a reset that must wait for I/O in flight, say).
   */
  readonly syncStores?: readonly number[];
  /** True while a synchronous store is still taking effect. */
  settling?(): boolean;
  read(offset: number, width: Width): bigint;
  write(offset: number, width: Width, value: bigint): void;
}

interface Mapping { base: bigint; end: bigint; device: MmioDevice }

export class MmioBus {
  private readonly mappings: Mapping[] = [];

  map(base: bigint, device: MmioDevice): void {
    const end = base + BigInt(device.size);
    for (const m of this.mappings) {
      if (base < m.end && m.base < end) throw new Error(`${device.name} at 0x${base.toString(16)} overlaps ${m.device.name}`);
    }
    this.mappings.push({ base, end, device });
  }

  /** The guest-physical ranges devices occupy (what the hypervisor must forward here). */
  ranges(): { base: bigint; size: bigint; shadow?: RegisterShadow; syncStores?: readonly number[] }[] {
    return this.mappings.map((m) => ({ base: m.base, size: m.end - m.base, shadow: m.device.shadow, syncStores: m.device.syncStores }));
  }

  /** The device and offset decoding addr, if the whole access falls inside one device. */
  find(addr: bigint, width: Width): { device: MmioDevice; offset: number } | undefined {
    for (const m of this.mappings) {
      if (addr >= m.base && addr + BigInt(width) <= m.end) return { device: m.device, offset: Number(addr - m.base) };
    }
    return undefined;
  }
}
