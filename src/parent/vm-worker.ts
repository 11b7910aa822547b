// The VM worker (Hyper-V's vmwp.exe): one thread per VM in the parent partition. It builds
// the machine, owns the emulated devices, starts the VP threads and then serves their
// intercepts. It blocks in Atomics.wait on the partition's doorbell (Node 20 cannot wake
// Atomics.waitAsync from another thread), so everything reaches it through shared memory:
// VP mailboxes, the console input ring, the partition state.
import { parentPort, workerData, receiveMessageOnPort } from 'node:worker_threads';
import { ramBytes } from '../cpu/memory.js';
import {
  ControlBlock, Intercept, PartitionState, VpState, DOORBELL, HSM_START_ADDR64, HSM_OPAQUE64,
} from '../hypervisor/control-block.js';
import { InterceptService } from '../hypervisor/intercept.js';
import { Partition } from '../hypervisor/partition.js';
import { Plic } from '../hypervisor/plic.js';
import { MmioBus, type Width } from './devices/mmio.js';
import { Uart16550 } from './devices/uart16550.js';
import { Syscon } from './devices/syscon.js';
import { GoldfishRtc } from './devices/goldfish-rtc.js';
import { ByteRing } from './byte-ring.js';
import { VIRT_MAP, VIRT_IRQ } from './machine/virt.js';
import { loadLinux } from './linux-boot.js';
import type { VpThreadMessage } from './vp-thread.js';
import type { VmWorkerData, VmEvent, StopReason, InterceptMapMessage } from './vm-protocol.js';

const d = workerData as VmWorkerData;
const post = (e: VmEvent) => parentPort!.postMessage(e);

/** How long buffered console output may wait before it is sent to the main thread. */
const OUTPUT_FLUSH_MS = 5;

function main(): void {
  const memory = d.memory;
  const ram = ramBytes(memory, d.memoryBytes);
  const boot = loadLinux(ram, {
    ramBase: VIRT_MAP.ram.base, cpus: d.cpus, kernel: d.kernel, initrd: d.initrd, bootargs: d.append,
  });

  const cb = new ControlBlock(d.control);
  const plic = new Plic(d.plicState, memory, d.cpus, cb);
  const input = new ByteRing(d.input);

  let output: number[] = [];
  let lastFlush = performance.now();
  const flush = () => {
    if (output.length) post({ type: 'console', data: Uint8Array.from(output) });
    output = [];
    lastFlush = performance.now();
  };
  const partition = new Partition(cb, memory);
  let stopReason: StopReason | undefined;
  const stop = (reason: StopReason) => {
    if (stopReason) return;
    stopReason = reason;
    if (partition.can('stop')) partition.apply('stop');
  };

  const uart = new Uart16550((b) => { output.push(b); if (output.length >= 16384) flush(); },
    (level) => plic.setLine(VIRT_IRQ.uart0, level));
  const rtc = new GoldfishRtc((level: boolean) => plic.setLine(VIRT_IRQ.rtc, level));
  const bus = new MmioBus();
  bus.map(VIRT_MAP.uart0.base, uart);
  bus.map(VIRT_MAP.test.base, new Syscon((e) => stop(e.kind === 'reset' ? { kind: 'reboot' } : { kind: 'poweroff' })));
  bus.map(VIRT_MAP.rtc.base, rtc);

  // Hart 0 boots the kernel (a0 = hartid, a1 = FDT); the others wait for SBI HSM hart_start.
  const at = cb.vp64(0);
  cb.i64[at + HSM_START_ADDR64] = boot.entry;
  cb.i64[at + HSM_OPAQUE64] = boot.fdtAddr;
  cb.setVpState(0, VpState.StartPending);

  // The VP threads were started with this worker; they wait for the device map.
  const ports = d.vpPorts;
  const map: InterceptMapMessage = { type: 'intercepts', ranges: bus.ranges() };
  for (const port of ports) port.postMessage(map);
  const pollVpThreads = () => {
    for (const port of ports) {
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
        const msg = m.message as VpThreadMessage;
        post({ type: 'log', message: `virtual processor ${msg.index} failed: ${msg.message}` });
        stop({ kind: 'error', message: `virtual processor ${msg.index} failed: ${msg.message.split('\n')[0]}` });
      }
    }
  };
  partition.apply('start');
  post({ type: 'started' });

  // The parent's side of each VP's intercepts: posted stores first, then the mailbox.
  const services = Array.from({ length: d.cpus }, (_, vp) => new InterceptService(cb, vp));
  const performStore = (addr: bigint, width: number, value: bigint) => {
    const hit = bus.find(addr, width as Width); // the hypervisor posts only inside registered ranges
    hit?.device.write(hit.offset, width as Width, value);
  };
  const serveMailbox = (vp: number): void => {
    const service = services[vp];
    service.drainStores(performStore);
    const req = service.request();
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
      case Intercept.SystemReset: stop(width === 0 ? { kind: 'poweroff' } : { kind: 'reboot' }); break;
      default: service.respond(false); return;
    }
    service.respond(true);
  };

  // The service loop.
  for (;;) {
    const seq = Atomics.load(cb.i32, DOORBELL);
    for (let vp = 0; vp < d.cpus; vp++) serveMailbox(vp);
    if (input.available) uart.receive(input.read());
    rtc.poll();
    pollVpThreads();
    if (cb.partitionState() === PartitionState.Stopping && !stopReason) stop({ kind: 'stopped' });
    if (stopReason && partition.settle()) break;
    if (output.length && performance.now() - lastFlush >= OUTPUT_FLUSH_MS) flush();
    // Node timers do not run while this thread blocks: the RTC alarm is a wait deadline.
    const alarmMs = rtc.msUntilAlarm();
    Atomics.wait(cb.i32, DOORBELL, seq, Math.min(output.length ? OUTPUT_FLUSH_MS : 50, alarmMs ?? Infinity));
  }
  flush();
  post({ type: 'stopped', reason: stopReason! });
}

try {
  main();
} catch (e) {
  post({ type: 'stopped', reason: { kind: 'error', message: (e as Error).message } });
}
