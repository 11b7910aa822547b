// What one tshv VM can have: the single owner of these limits. The API schema, the CLI and
// the VM worker derive their checks and messages from here; each limit names where its
// reason lives.
import { MAX_VPS } from '../../hypervisor/control-block.js';
import { MAX_RAM_BYTES } from '../../cpu/memory.js';
import { VIRTIO_SLOTS } from './virt.js';

const MIB = 2 ** 20;
/** Synthetic devices every VM has besides its disks: the virtio console and the RNG (vsp/synthetic.ts). */
export const FIXED_SYNTHETIC_DEVICES = 2;

export const MACHINE_LIMITS = {
  /** Virtual processors: one hart state block, VP control block and PLIC context each. */
  cpus: { min: 1, max: MAX_VPS },
  /** Guest RAM: a Linux guest needs 16 MiB; the wasm32 memory ends at 4 GiB (cpu/memory.ts). */
  memoryBytes: { min: 16 * MIB, max: MAX_RAM_BYTES },
  /** Disks, the root disk included: the virtio-mmio slots left by the console and the RNG. */
  disks: VIRTIO_SLOTS - FIXED_SYNTHETIC_DEVICES,
} as const;

/** The RAM limits in whole MiB (the unit of the API). */
export const MEMORY_MIB = {
  min: MACHINE_LIMITS.memoryBytes.min / MIB,
  max: Math.floor(MACHINE_LIMITS.memoryBytes.max / MIB),
} as const;
