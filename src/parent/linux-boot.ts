// Booting Linux on the virt machine: the kernel, initrd and a device tree describing this
// VM, placed in guest RAM (machine/boot.ts places, machine/virt.ts describes).
import { placeLinux, parseKernelImage, BootError, type BootLayout } from './machine/boot.js';
import { buildVirtDtb } from './machine/virt.js';

export interface LinuxBootConfig {
  ramBase: bigint;
  cpus: number;
  kernel: Uint8Array;
  initrd?: Uint8Array;
  bootargs: string;
  /** virtio-mmio slots with a device behind them (they get device-tree nodes). */
  virtioSlots?: number[];
}

/** Loads everything into `ram` (index 0 = guest-physical ramBase). */
export function loadLinux(ram: Uint8Array, c: LinuxBootConfig): BootLayout {
  return placeLinux({
    ram, ramBase: c.ramBase, kernel: c.kernel, initrd: c.initrd,
    buildFdt: (initrd) => buildVirtDtb({ cpus: c.cpus, ramBase: c.ramBase, ramBytes: BigInt(ram.length), bootargs: c.bootargs, initrd, virtioSlots: c.virtioSlots }),
  });
}

/** Throws a LinuxImageError saying what the file is if it is not a RISC-V Linux Image. */
export function checkLinuxImage(kernel: Uint8Array, maxBytes = 1 << 30): void {
  try {
    parseKernelImage(kernel, maxBytes);
  } catch (e) {
    if (e instanceof BootError) { const err = new Error(e.message); err.name = 'LinuxImageError'; throw err; }
    throw e;
  }
}
