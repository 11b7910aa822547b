// The VM worker (Hyper-V's vmwp.exe): one thread per VM in the parent partition. It builds
// the machine, owns the emulated devices and the VSPs of the synthetic ones, starts the VP
// threads and then serves them. Its event loop stays free: it waits for the partition's
// doorbell with Atomics.waitAsync, so disk I/O completes in the background while it serves
// intercepts, and a failure here ends this VM only.
import { parentPort, workerData, receiveMessageOnPort } from 'node:worker_threads';
import { ramBytes } from '../cpu/memory.js';
import {
  ControlBlock, Intercept, PartitionState, VpState, DOORBELL, HSM_START_ADDR64, HSM_OPAQUE64,
} from '../hypervisor/control-block.js';
import { InterceptService } from '../hypervisor/intercept.js';
import { Partition } from '../hypervisor/partition.js';
import { Plic } from '../hypervisor/plic.js';
import { GuestMemory } from '../vmbus/guest-memory.js';
import { MmioBus, type MmioDevice, type Width } from './devices/mmio.js';
import { Uart16550 } from './devices/uart16550.js';
import { Syscon } from './devices/syscon.js';
import { GoldfishRtc } from './devices/goldfish-rtc.js';
import { ByteRing } from './byte-ring.js';
import { VIRT_MAP, VIRT_IRQ } from './machine/virt.js';
import { loadLinux } from './linux-boot.js';
import { attachSyntheticDevices, type SyntheticDevices } from './vsp/synthetic.js';
import type { VpThreadMessage } from './vp-thread.js';
import type { VmWorkerData, VmEvent, StopReason, InterceptMapMessage, VmCommand } from './vm-protocol.js';

const d = workerData as VmWorkerData;
const post = (e: VmEvent) => parentPort!.postMessage(e);

/** How long buffered console output may wait before it is sent to the main thread. */
const OUTPUT_FLUSH_MS = 5;
/** How often changed disk I/O counters go to the main thread. */
const IO_STATS_MS = 1000;
/** Longest the loop sleeps without a doorbell (it then looks at the partition state). */
const IDLE_MS = 50;
/**
 * Console input the device holds beyond what the guest has read. The rest waits in the input
 * ring, and a full ring holds the writer back (Vm.pendingInputBytes; the service then stops
 * reading its console clients) rather than this thread's memory growing with a fast writer.
 */
const CONSOLE_BACKLOG = 4096;

// Atomics.waitAsync is ES2024; Node 20 has it, TypeScript's ES2022 library does not.
type WaitAsync = (a: Int32Array, i: number, v: number, ms: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

let stopReason: StopReason | undefined;
let requestStop: (reason: StopReason) => void = (reason) => { stopReason ??= reason; };

async function main(): Promise<void> {
  const memory = d.memory;
  const ram = ramBytes(memory, d.memoryBytes);
  const cb = new ControlBlock(d.control);
  const plic = new Plic(d.plicState, memory, d.cpus, cb);
  const input = new ByteRing(d.input);
  const partition = new Partition(cb, memory);
  requestStop = (reason) => {
    if (stopReason) return;
    stopReason = reason;
    if (partition.can('stop')) partition.apply('stop');
    cb.ringDoorbell();
  };

  let output: number[] = [];
  let lastFlush = performance.now();
  const flush = () => {
    if (output.length) post({ type: 'console', data: Uint8Array.from(output) });
    output = [];
    lastFlush = performance.now();
  };
  const emit = (b: number) => { output.push(b); if (output.length >= 16384) flush(); };
  const log = (message: string) => post({ type: 'log', message });

  const bus = new MmioBus();
  const uart = new Uart16550(emit, (level) => plic.setLine(VIRT_IRQ.uart0, level));
  const rtc = new GoldfishRtc((level: boolean) => plic.setLine(VIRT_IRQ.rtc, level));
  bus.map(VIRT_MAP.uart0.base, uart);
  bus.map(VIRT_MAP.test.base, new Syscon((e) => requestStop(e.kind === 'reset' ? { kind: 'reboot' } : { kind: 'poweroff' })));
  bus.map(VIRT_MAP.rtc.base, rtc);

  const synthetic: SyntheticDevices = await attachSyntheticDevices({
    disks: d.disks, channelTable: d.channelTable, bus,
    memory: new GuestMemory(ram, Number(VIRT_MAP.ram.base)),
    setLine: (line, level) => plic.setLine(line, level),
    consoleOutput: (bytes) => { for (const b of bytes) emit(b); },
    log,
    wake: () => cb.ringDoorbell(),
    fault: (device, e) => {
      log(`${device} back-end failed: ${(e as Error).stack ?? e}`);
      requestStop({ kind: 'error', message: `the back-end of ${device} failed: ${(e as Error).message ?? e}` });
    },
  });
  // I/O counters for the parent's metrics, sent when they changed.
  let lastIo = '';
  const postIo = () => {
    const disks = synthetic.disks.map((b) => ({ name: b.name.replace(/^virtio-blk /, ''), ...b.counters }));
    const json = JSON.stringify(disks);
    if (json !== lastIo) { lastIo = json; post({ type: 'io', disks }); }
  };
  const ioTimer = setInterval(postIo, IO_STATS_MS);
  try {
    parentPort!.on('message', (m: VmCommand) => {
      if (m.type === 'inject-fault') synthetic.disks.find((b) => b.name.endsWith(' ' + m.device))?.injectFault();
    });
    await serve();
  } finally {
    clearInterval(ioTimer);
    await synthetic.close();
    postIo();
    flush();
  }

  async function serve(): Promise<void> {
    const boot = loadLinux(ram, {
      ramBase: VIRT_MAP.ram.base, cpus: d.cpus, kernel: d.kernel, initrd: d.initrd, bootargs: d.append, virtioSlots: synthetic.slots,
    });
    // Hart 0 boots the kernel (a0 = hartid, a1 = FDT); the others wait for SBI HSM hart_start.
    const at = cb.vp64(0);
    cb.i64[at + HSM_START_ADDR64] = boot.entry;
    cb.i64[at + HSM_OPAQUE64] = boot.fdtAddr;
    cb.setVpState(0, VpState.StartPending);

    // The VP threads were started with this worker; they wait for the device map.
    const ports = d.vpPorts;
    const map: InterceptMapMessage = {
      type: 'intercepts', ranges: bus.ranges(), channels: synthetic.transports.map((t) => t.channel.offer),
    };
    for (const port of ports) port.postMessage(map);
    const pollVpThreads = () => {
      for (const port of ports) {
        for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
          const msg = m.message as VpThreadMessage;
          log(`virtual processor ${msg.index} failed: ${msg.message}`);
          requestStop({ kind: 'error', message: `virtual processor ${msg.index} failed: ${msg.message.split('\n')[0]}` });
        }
      }
    };
    // Stopped while the disks were opening, or by the parent before the partition ran.
    if (stopReason || cb.partitionState() === PartitionState.Stopping) return;
    partition.apply('start');
    post({ type: 'started' });

    // The parent's side of each VP's intercepts: its posted stores, then its mailbox.
    const services = Array.from({ length: d.cpus }, (_, vp) => new InterceptService(cb, vp));
    const performStore = (addr: bigint, width: number, value: bigint) => {
      const hit = bus.find(addr, width as Width); // the hypervisor posts only inside registered ranges
      hit?.device.write(hit.offset, width as Width, value);
    };
    /** Per VP, the device whose synchronous store it is waiting for (MmioDevice.syncStores). */
    const settling: (MmioDevice | undefined)[] = new Array(d.cpus);
    const serveMailbox = (vp: number): void => {
      const service = services[vp];
      const waitingFor = settling[vp];
      if (waitingFor) {
        if (waitingFor.settling?.()) return; // the VP's store is still taking effect
        settling[vp] = undefined;
        service.respond(true);
        return;
      }
      const req = service.take(performStore);
      if (!req) return;
      const { kind, addr, width, value } = req;
      switch (kind) {
        case Intercept.MmioLoad: {
          const hit = bus.find(addr, width as Width);
          if (hit) service.respond(true, hit.device.read(hit.offset, width as Width));
          else service.respond(false);
          return;
        }
        case Intercept.MmioStore: {
          const hit = bus.find(addr, width as Width);
          hit?.device.write(hit.offset, width as Width, value);
          if (hit?.device.settling?.()) { settling[vp] = hit.device; return; } // answered when it settles
          service.respond(hit !== undefined);
          return;
        }
        case Intercept.ConsoleWrite: { // the hypervisor checked the buffer lies in RAM
          const off = Number(addr - VIRT_MAP.ram.base);
          for (const byte of ram.subarray(off, off + Number(value))) output.push(byte);
          service.respond(true, value);
          return;
        }
        case Intercept.ConsolePutchar: output.push(Number(value & 0xffn)); break;
        case Intercept.ConsoleRead: break; // no input through the debug console: 0 bytes
        case Intercept.SystemReset: requestStop(width === 0 ? { kind: 'poweroff' } : { kind: 'reboot' }); break;
        default: service.respond(false); return;
      }
      service.respond(true);
    };
    const consoleInput = d.console === 'virtio' ? (b: Uint8Array) => synthetic.console.receive(b) : (b: Uint8Array) => uart.receive(b);
    const consolePending = d.console === 'virtio' ? () => synthetic.console.rxPending : () => uart.rxPending;
    const { transports } = synthetic;

    for (;;) {
      const seq = Atomics.load(cb.i32, DOORBELL);
      // Doorbells first: a store the guest made before ringing one is then already in a
      // VP's posted ring, and is performed before the VSP looks at the queue.
      const signals = transports.map((t) => t.channel.takeSignals());
      for (let vp = 0; vp < d.cpus; vp++) serveMailbox(vp);
      for (const [i, t] of transports.entries()) if (signals[i]) t.serviceSignals(signals[i]);
      const room = CONSOLE_BACKLOG - consolePending();
      if (input.available && room > 0) consoleInput(input.read(room));
      rtc.poll();
      pollVpThreads();
      if (cb.partitionState() === PartitionState.Stopping && !stopReason) requestStop({ kind: 'stopped' });
      if (stopReason && partition.settle()) return;
      if (output.length && performance.now() - lastFlush >= OUTPUT_FLUSH_MS) flush();
      const alarmMs = rtc.msUntilAlarm();
      const r = waitAsync(cb.i32, DOORBELL, seq, Math.min(output.length ? OUTPUT_FLUSH_MS : IDLE_MS, alarmMs ?? Infinity));
      if (r.async) await r.value;
    }
  }
}

// Waiting on Atomics.waitAsync holds no handle: this keeps the thread's event loop alive.
const keepAlive = setInterval(() => {}, 1 << 30);
// A fault in a callback (a VSP's I/O completion, say) stops the VM in order, so its disks
// are flushed and unlocked, instead of killing the thread under them.
const fault = (e: unknown) => requestStop({ kind: 'error', message: `VM worker: ${(e as Error).message ?? e}` });
process.on('unhandledRejection', fault);
process.on('uncaughtException', fault);
main().then(
  () => post({ type: 'stopped', reason: stopReason ?? { kind: 'stopped' } }),
  (e) => post({ type: 'stopped', reason: stopReason?.kind === 'error' ? stopReason : { kind: 'error', message: (e as Error).message } }),
).finally(() => clearInterval(keepAlive));
