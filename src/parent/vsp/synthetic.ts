// The synthetic devices of one VM (ARCHITECTURE.md path 3): its disks, the virtio console
// and the entropy source, each a VSP behind a virtio-mmio transport in a slot of the virt
// board, joined to the hypervisor by a VMBus channel.
import { Channel } from '../../vmbus/channel.js';
import type { InterruptLine } from '../../hypervisor/interrupt-line.js';
import type { GuestMemory } from '../../vmbus/guest-memory.js';
import { openDisk } from '../drivers/disk/open.js';
import type { ImagePolicy } from '../drivers/disk/image-policy.js';
import type { BlockDevice } from '../drivers/disk/block-device.js';
import type { MmioBus } from '../devices/mmio.js';
import { VIRT_IRQ, virtioSlotBase } from '../machine/virt.js';
import { MACHINE_LIMITS } from '../machine/limits.js';
import type { DiskSpec } from '../vm-protocol.js';
import { VirtioBlk } from './blk/device.js';
import { BurstLog } from './burst-log.js';
import { VirtioConsole } from './console/device.js';
import { VirtioRng } from './rng/device.js';
import { VirtioMmio, type VirtioDevice } from './virtio-mmio.js';

/** The disks a VM can have (machine/limits.ts: the slots the console and the RNG leave). */
export const MAX_DISKS = MACHINE_LIMITS.disks;

export interface SyntheticDevices {
  readonly transports: readonly VirtioMmio[];
  readonly disks: readonly VirtioBlk[];
  readonly console: VirtioConsole;
  /** Slots in use (for the device tree). */
  readonly slots: number[];
  /** Flushes and closes the disk images (releasing their locks). */
  close(): Promise<void>;
}

export interface SyntheticConfig {
  disks: readonly DiskSpec[];
  /** Where disk images and their backing files may be; undefined: anywhere. */
  imagePolicy?: ImagePolicy;
  channelTable: SharedArrayBuffer;
  memory: GuestMemory;
  bus: MmioBus;
  /** The partition's capability for a PLIC source (each channel gets the one for its slot's line). */
  interruptLine: (source: number) => InterruptLine;
  consoleOutput: (bytes: Uint8Array) => void;
  log: (message: string) => void;
  /** Rings the VM worker's doorbell (a VSP went idle: a waiting reset may complete). */
  wake: () => void;
  /** A VSP failed (a bug, not an I/O error): the VM must stop. */
  fault: (device: string, e: unknown) => void;
  /** A disk's image failed a guest request (the guest got an I/O error); at most one per disk every few seconds. */
  ioError: (disk: string, message: string) => void;
}

/** /dev/vda, vdb, ...: the name Linux gives the n-th virtio disk. */
export function diskName(n: number): string { return 'vd' + String.fromCharCode(0x61 + n); }

/** Opens the disks (all or none) and offers every device on the bus. */
export async function attachSyntheticDevices(c: SyntheticConfig): Promise<SyntheticDevices> {
  if (c.disks.length > MAX_DISKS) throw new Error(`at most ${MAX_DISKS} disks, got ${c.disks.length}`);
  const images: BlockDevice[] = [];
  try {
    for (const spec of c.disks) images.push(await openDisk(spec.path, { readOnly: spec.readOnly, policy: c.imagePolicy }));
  } catch (e) {
    await Promise.allSettled(images.map((d) => d.close()));
    throw e;
  }

  const transports: VirtioMmio[] = [];
  const offer = (device: VirtioDevice) => {
    const slot = transports.length;
    const base = virtioSlotBase(slot);
    const channel = new Channel(c.channelTable, VirtioMmio.offer(slot, device.deviceId, VIRT_IRQ.virtio0 + slot, base), c.memory, c.interruptLine(VIRT_IRQ.virtio0 + slot));
    const t = new VirtioMmio(device, channel, c.log);
    device.onIdle = c.wake;
    c.bus.map(base, t);
    transports.push(t);
  };
  const ioErrors: BurstLog[] = [];
  const disks = images.map((image, n) => {
    const name = diskName(n);
    const errors = new BurstLog((message) => c.ioError(name, message), `I/O errors on ${name}`);
    ioErrors.push(errors);
    return new VirtioBlk(`virtio-blk ${name}`, image, { serial: `tshv-${name}`, ioError: (m) => errors.add(m) }, (e) => c.fault(name, e));
  });
  disks.forEach(offer);
  const console = new VirtioConsole(c.consoleOutput);
  offer(console);
  offer(new VirtioRng());

  return {
    transports, disks, console, slots: transports.map((_, i) => i),
    close: async () => {
      for (const e of ioErrors) e.close();
      const results = await Promise.allSettled(images.map((d) => d.close()));
      for (const r of results) if (r.status === 'rejected') c.log(`closing a disk: ${(r.reason as Error).message}`);
    },
  };
}
