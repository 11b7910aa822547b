// Emulated devices on the slow path (ARCHITECTURE.md path 2): the hart exits on a load or
// store outside RAM and the bus routes it here by guest-physical address.

export type Width = 1 | 2 | 4 | 8;

export interface MmioDevice {
  readonly name: string;
  /** Bytes of guest-physical address space the device decodes. */
  readonly size: number;
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
  ranges(): { base: bigint; size: bigint }[] {
    return this.mappings.map((m) => ({ base: m.base, size: m.end - m.base }));
  }

  /** The device and offset decoding addr, if the whole access falls inside one device. */
  find(addr: bigint, width: Width): { device: MmioDevice; offset: number } | undefined {
    for (const m of this.mappings) {
      if (addr >= m.base && addr + BigInt(width) <= m.end) return { device: m.device, offset: Number(addr - m.base) };
    }
    return undefined;
  }
}
