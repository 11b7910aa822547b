import type { ImagePolicy } from './drivers/disk/image-policy.js';
import type { BlkCounters } from './vsp/blk/metrics.js';
import type { MessagePort } from 'node:worker_threads';
import type { MmioRange } from '../hypervisor/intercept.js';
import type { ChannelOffer } from '../vmbus/channel.js';
import type { MirroredDisk } from './disk-mirror.js';

// Messages between the main thread and a VM worker. Everything the worker must react to
// while running goes through shared memory instead (control block, input ring).

export interface VmWorkerData {
  /** Guest memory, created by the main thread so the VM worker and VP threads start together. */
  memory: WebAssembly.Memory;
  /** Shared state of the virtual PLIC (src/hypervisor/plic.ts). */
  plicState: SharedArrayBuffer;
  /** One port per VP thread: the VM worker sends the intercept map, VP threads report failures. */
  vpPorts: MessagePort[];
  kernel: Uint8Array;
  initrd?: Uint8Array;
  append: string;
  memoryBytes: number;
  cpus: number;
  /** The partition control block (src/hypervisor/control-block.ts). */
  control: SharedArrayBuffer;
  /** Console input ring (src/parent/byte-ring.ts). */
  input: SharedArrayBuffer;
  /** The partition's VMBus channel table (src/vmbus/channel.ts). */
  channelTable: SharedArrayBuffer;
  /** Disk images, attached in order as /dev/vda, /dev/vdb, ... */
  disks: DiskSpec[];
  /** Which device gets console input: the 16550 (ttyS0) or virtio-console (hvc0). */
  console: ConsoleKind;
  /** Where disk images and their backing files may be; undefined: anywhere (tshv run). */
  imagePolicy?: ImagePolicy;
  /**
   * Restore instead of boot: the saved machine state (machine/state.ts), applied once
   * the main thread says RAM is in `memory` (VmCommand 'ram-loaded'). Untrusted: every
   * part is validated by its owner.
   */
  restore?: unknown;
  /**
   * An incoming live migration: RAM arrives while the worker waits, and the machine state
   * comes with 'ram-loaded' at the end. The machine (disks included) is built only then:
   * until the source has released the disks, they are its.
   */
  incoming?: boolean;
}

export interface DiskSpec { path: string; readOnly: boolean }
export type ConsoleKind = 'serial' | 'virtio';

/** Main thread -> VM worker. */
export type VmCommand =
  /** Fault injection (like QEMU's blkdebug): the named device's back-end throws on its next request. */
  | { type: 'inject-fault'; device: string }
  /**
   * The partition is paused: once every VP has parked and no request is in flight, send
   * the machine state ('state') and freeze (nothing changes RAM or devices) until 'thaw'.
   */
  | { type: 'save-state' }
  /**
   * A restoring VM's RAM is in its memory: restore the rest and run. An incoming
   * migration's carries the machine state, and how far guest time moves on from the
   * saved timebase (the time the VM spent between hosts, 10 MHz ticks).
   */
  | { type: 'ram-loaded'; state?: unknown; advanceTicks?: bigint }
  /** The saved state is written (or the save failed): serve again. */
  | { type: 'thaw' }
  /**
   * While frozen (a checkpoint): each disk with an overlay path gets a new qcow2 image
   * there, backed by its current image, and goes on in it (the current image is frozen).
   */
  | { type: 'switch-disks'; overlays: (string | null)[] }
  /**
   * While frozen (the end of a migration): every disk image is flushed, unlocked and
   * closed, so the destination can open it; 'reopen-disks' takes them back (a migration
   * that failed after that). Answered with 'disks-released' / 'disks-reopened' or 'disks-error'.
   */
  | { type: 'release-disks' }
  | { type: 'reopen-disks' }
  /**
   * A shared-nothing migration's disk copy (disk-mirror.ts): 'mirror-start' logs writes
   * from now on (answered 'mirror-started' with the disks), 'mirror-harvest' takes the
   * chunks written since ('mirror-dirty'), 'mirror-read' reads what the guest sees
   * ('mirror-data' with the same id), 'mirror-stop' ends the logging.
   */
  | { type: 'mirror-start' }
  | { type: 'mirror-harvest' }
  | { type: 'mirror-read'; id: number; disk: number; offset: number; length: number }
  | { type: 'mirror-stop' };

/** VM worker -> VP thread, before the partition starts running. */
export interface InterceptMapMessage { type: 'intercepts'; ranges: MmioRange[]; channels: ChannelOffer[] }

export type StopReason =
  | { kind: 'poweroff' }      // the guest powered off
  | { kind: 'reboot' }        // the guest asked for a reset
  | { kind: 'stopped' }       // the host stopped it (hard power-off)
  | { kind: 'saved'; path: string } // the host saved it and then stopped it (Vm.save)
  | { kind: 'migrated'; to: string } // it runs on another host now (docs/migration.md)
  | { kind: 'panic'; message: string }   // the guest kernel panicked (src/parent/panic-watch.ts)
  | { kind: 'killed'; message: string }  // Vm.kill(): its threads were ended ("killed: why")
  | { kind: 'error'; message: string };

/** A disk's I/O counters (virtio-blk requests completed), by its name (vda, ...). */
export type DiskStats = { name: string } & BlkCounters;

export type VmEvent =
  /** The partition runs; `at`: when (epoch ms, fractional: performance.timeOrigin + now()). */
  | { type: 'started'; at: number }
  | { type: 'io'; disks: DiskStats[] }
  | { type: 'console'; data: Uint8Array }
  | { type: 'log'; message: string }
  /** A disk's image failed guest requests (rate-limited by the worker: vsp/burst-log.ts). */
  | { type: 'io-error'; disk: string; message: string }
  | { type: 'stopped'; reason: StopReason }
  /** The answer to 'save-state': the machine state (machine/state.ts), or why there is none. */
  /** `at`: when the last VP parked, the guest's last instruction (epoch ms, as 'started'). */
  | { type: 'state'; state: unknown; at: number }
  | { type: 'state-error'; message: string }
  /** The answer to 'switch-disks': done, or why not (every disk is then as it was). */
  | { type: 'disks-switched' }
  | { type: 'switch-error'; message: string }
  | { type: 'disks-released' }
  | { type: 'disks-reopened' }
  | { type: 'disks-error'; message: string }
  | { type: 'mirror-started'; disks: MirroredDisk[] }
  | { type: 'mirror-dirty'; bits: (Uint32Array | null)[] }
  /** The bytes read, or why not. */
  | { type: 'mirror-data'; id: number; bytes?: Uint8Array; message?: string };
