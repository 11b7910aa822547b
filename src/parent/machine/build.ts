// Building a VM's virt machine in its VM worker: the emulated devices (16550 UART, syscon,
// goldfish RTC) on the MMIO bus at the addresses of VIRT_MAP, and the synthetic devices
// (disks, virtio console, entropy) behind their VMBus channels. Devices get interrupt-line
// capabilities from the partition, never the interrupt controller.
import type { Partition } from '../../hypervisor/partition.js';
import type { MmioRange } from '../../hypervisor/intercept.js';
import type { ChannelOffer } from '../../vmbus/channel.js';
import { GuestMemory } from '../../vmbus/guest-memory.js';
import { MmioBus } from '../devices/mmio.js';
import { Uart16550 } from '../devices/uart16550/device.js';
import { Syscon, type PowerEvent } from '../devices/syscon/device.js';
import { GoldfishRtc } from '../devices/goldfish-rtc/device.js';
import { attachSyntheticDevices, type SyntheticDevices } from '../vsp/synthetic.js';
import type { ConsoleKind, DiskSpec } from '../vm-protocol.js';
import type { ImagePolicy } from '../drivers/disk/image-policy.js';
import { VIRT_MAP, VIRT_IRQ } from './virt.js';
import type { MachineState } from './state.js';
import type { WrittenLog } from '../../cpu/written-log.js';

export interface MachineConfig {
  disks: readonly DiskSpec[];
  /** Which device gets console input: the 16550 (ttyS0) or virtio-console (hvc0). */
  console: ConsoleKind;
  /** Guest RAM (index 0 = guest-physical VIRT_MAP.ram.base). */
  ram: Uint8Array;
  /** The partition's VMBus channel table. */
  channelTable: SharedArrayBuffer;
  /** Where disk images and their backing files may be; undefined: anywhere. */
  imagePolicy?: ImagePolicy;
  /** The VM's written-page log: what the VSPs write into RAM is marked there. */
  written?: WrittenLog;
}

/** What the machine needs from its VM worker. */
export interface MachineHost {
  /** A byte the guest wrote to a console (either one). */
  consoleByte(b: number): void;
  /** The guest asked the syscon for power off or reset. */
  power(e: PowerEvent): void;
  log(message: string): void;
  /** Rings the VM worker's doorbell (a VSP went idle: a waiting reset may complete). */
  wake(): void;
  /** A disk failed a guest request (the guest sees EIO): reported once per burst. */
  ioError(disk: string, message: string): void;
  /** A device back-end failed (a bug, not an I/O error): the VM must stop. */
  fault(device: string, e: unknown): void;
}

export interface Machine {
  readonly bus: MmioBus;
  readonly uart: Uart16550;
  readonly rtc: GoldfishRtc;
  readonly synthetic: SyntheticDevices;
  /** Console input goes to the device the configuration chose. */
  consoleInput(bytes: Uint8Array): void;
  /** Input bytes that device holds and the guest has not read yet. */
  consolePending(): number;
  /** What the VPs must know: the windows they forward to the bus, the channels they signal. */
  deviceMap(): { ranges: MmioRange[]; channels: ChannelOffer[] };
  /** Resolves when no device has a request in flight (the VPs are paused: none can start). */
  quiesce(): Promise<void>;
  /** The devices' state (machine/state.ts), taken while quiescent. */
  save(): Pick<MachineState, 'uart' | 'rtc' | 'synthetic'>;
  /** Restores the devices' state into a machine just built; throws StateError on bad state. */
  restore(state: Pick<MachineState, 'uart' | 'rtc' | 'synthetic'>): void;
  /** Flushes and closes the disk images. */
  close(): Promise<void>;
}

export async function buildMachine(config: MachineConfig, partition: Partition, host: MachineHost): Promise<Machine> {
  const bus = new MmioBus();
  const uart = new Uart16550((b) => host.consoleByte(b), partition.interruptLine(VIRT_IRQ.uart0));
  const rtc = new GoldfishRtc(partition.interruptLine(VIRT_IRQ.rtc));
  bus.map(VIRT_MAP.uart0.base, uart);
  bus.map(VIRT_MAP.test.base, new Syscon((e) => host.power(e)));
  bus.map(VIRT_MAP.rtc.base, rtc);

  const synthetic = await attachSyntheticDevices({
    disks: config.disks, imagePolicy: config.imagePolicy, channelTable: config.channelTable, bus,
    memory: new GuestMemory(config.ram, Number(VIRT_MAP.ram.base), config.written),
    interruptLine: (line) => partition.interruptLine(line),
    consoleOutput: (bytes) => { for (const b of bytes) host.consoleByte(b); },
    log: (m) => host.log(m),
    wake: () => host.wake(),
    ioError: (disk, message) => host.ioError(disk, message),
    fault: (device, e) => host.fault(device, e),
  });
  return {
    bus, uart, rtc, synthetic,
    quiesce: () => synthetic.quiesce(),
    save: () => ({ uart: uart.save(), rtc: rtc.save(), synthetic: synthetic.save() }),
    restore: (state) => { uart.restore(state.uart); rtc.restore(state.rtc); synthetic.restore(state.synthetic); },
    consoleInput: config.console === 'virtio' ? (b) => synthetic.console.receive(b) : (b) => uart.receive(b),
    consolePending: config.console === 'virtio' ? () => synthetic.console.rxPending : () => uart.rxPending,
    deviceMap: () => ({ ranges: bus.ranges(), channels: synthetic.transports.map((t) => t.channel.offer) }),
    close: () => synthetic.close(),
  };
}
