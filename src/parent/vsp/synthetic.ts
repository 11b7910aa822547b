// The synthetic devices of one VM (ARCHITECTURE.md path 3): its disks, the virtio console
// and the entropy source, each a VSP behind a virtio-mmio transport in a slot of the virt
// board, joined to the hypervisor by a VMBus channel.
//
// Saved state: each transport's (with its VSP's), in slot order; a restore needs the same
// devices in the same slots, and the VSPs quiet (quiesce()) on both sides.
import { Channel } from '../../vmbus/channel.js';
import { StateError, StateReader, type Stateful } from '../../state/contract.js';
import type { InterruptLine } from '../../hypervisor/interrupt-line.js';
import type { GuestMemory } from '../../vmbus/guest-memory.js';
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
import { VirtioMmio, type VirtioDevice, type VirtioMmioState } from './virtio-mmio.js';

/** The disks a VM can have (machine/limits.ts: the slots the console and the RNG leave). */
export const MAX_DISKS = MACHINE_LIMITS.disks;

/** Every synthetic device's state, in slot order, each with its kind (the virtio device ID). */
export interface SyntheticState {
  version: 1;
  devices: { deviceId: number; transport: VirtioMmioState }[];
}

export interface SyntheticDevices extends Stateful<SyntheticState> {
  readonly transports: readonly VirtioMmio[];
  readonly disks: readonly VirtioBlk[];
  readonly console: VirtioConsole;
  /** Slots in use (for the device tree). */
  readonly slots: number[];
  /** Flushes and closes the disk images (releasing their locks). */
  close(): Promise<void>;
  /** Resolves once no device has a request in flight (VirtioMmio.quiesce); the VPs are paused first. */
  quiesce(): Promise<void>;
}

/** quiesce(), save() and restore() over the transports, in slot order. */
function transportsState(transports: readonly VirtioMmio[]): Pick<SyntheticDevices, 'quiesce' | 'save' | 'restore'> {
  return {
    quiesce: async () => { await Promise.all(transports.map((t) => t.quiesce())); },
    save: () => ({ version: 1, devices: transports.map((t) => ({ deviceId: t.device.deviceId, transport: t.save() })) }),
    restore: (state: unknown) => {
      // The same devices in the same slots: the count, and each slot's kind.
      const r = new StateReader('synthetic devices', state, 1);
      const parts = r.array('devices', transports.length, (v) => v).map((v, i) => {
        const d = StateReader.nested(`synthetic devices slot ${i}`, v);
        const id = d.int('deviceId', 0, 0xffff);
        const expected = transports[i].device.deviceId;
        if (id !== expected) throw new StateError(`synthetic devices state: slot ${i} holds device ${id}, this VM has device ${expected} (${transports[i].name})`);
        return (v as { transport: unknown }).transport;
      });
      // Each transport validates all of its state before changing anything; if one refuses
      // its state, the ones already restored go back to what they were (a state a transport
      // saved itself is always restorable).
      const before = transports.map((t) => t.save());
      let done = 0;
      try {
        for (; done < transports.length; done++) transports[done].restore(parts[done]);
      } catch (e) {
        for (let i = 0; i < done; i++) transports[i].restore(before[i]);
        throw e;
      }
    },
  };
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
    if (c.disks.length) {
      // The disk drivers load only for a VM with disks: its VM worker starts sooner without.
      const { openDisk } = await import('../drivers/disk/open.js');
      for (const spec of c.disks) images.push(await openDisk(spec.path, { readOnly: spec.readOnly, policy: c.imagePolicy }));
    }
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
    t.onIdle = c.wake;
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
    ...transportsState(transports),
    close: async () => {
      for (const e of ioErrors) e.close();
      const results = await Promise.allSettled(images.map((d) => d.close()));
      for (const r of results) if (r.status === 'rejected') c.log(`closing a disk: ${(r.reason as Error).message}`);
    },
  };
}
