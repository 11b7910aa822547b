// The VM worker (Hyper-V's vmwp.exe): one thread per VM in the parent partition. It builds
// the machine, owns the emulated devices and the VSPs of the synthetic ones, boots the
// guest and then serves the VP threads. Its event loop stays free: it waits for the
// partition's doorbell with Atomics.waitAsync, so disk I/O completes in the background
// while it serves intercepts, and a failure here ends this VM only.
//
// main() below is the boot script: how a VM comes to life, in order.
import { parentPort, receiveMessageOnPort } from 'node:worker_threads';
import { threadData } from './thread-data.js';
import { ramBytes } from '../cpu/memory.js';
import { ControlBlock, PartitionState, DOORBELL } from '../hypervisor/control-block.js';
import { Partition } from '../hypervisor/partition.js';
import { ByteRing } from './byte-ring.js';
import { VIRT_MAP } from './machine/virt.js';
import { buildMachine, type Machine } from './machine/build.js';
import { loadLinux } from './linux-boot.js';
import { InterceptServer } from './intercept-server.js';
import { DiskMirror } from './disk-mirror.js';
import { rm } from 'node:fs/promises';
import { Plic } from '../hypervisor/plic.js';
import { WrittenLog, PAGE_BYTES } from '../cpu/written-log.js';
import { timebaseNow } from '../cpu/timebase.js';
import { parseMachineState, type MachineState } from './machine/state.js';
import type { VpThreadMessage } from './vp-thread.js';
import type { VmWorkerData, VmEvent, StopReason, InterceptMapMessage, VmCommand } from './vm-protocol.js';

const d = await threadData<VmWorkerData>();
const post = (e: VmEvent) => parentPort!.postMessage(e);
/** As post, the buffers moved to the main thread rather than copied. */
const postTransfer = (e: VmEvent, buffers: ArrayBuffer[]) => parentPort!.postMessage(e, buffers);

/** How long buffered console output may wait before it is sent to the main thread. */
const OUTPUT_FLUSH_MS = 5;
/** Buffered console output is sent at once when it reaches this size. */
const OUTPUT_CHUNK = 16384;
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
/** A restoring VM's RAM is in (VmCommand 'ram-loaded'); listened for from the start. */
const ramLoaded = new Promise<Extract<VmCommand, { type: 'ram-loaded' }>>((resolve) => {
  const listen = (m: VmCommand) => { if (m.type === 'ram-loaded') { parentPort!.off('message', listen); resolve(m); } };
  parentPort!.on('message', listen);
});
let requestStop: (reason: StopReason) => void = (reason) => { stopReason ??= reason; };

/** Console output of the guest (UART, virtio console, SBI console), sent to the main thread in chunks. */
class ConsoleOutput {
  private bytes: number[] = [];
  private lastFlush = performance.now();
  push(b: number): void { this.bytes.push(b); if (this.bytes.length >= OUTPUT_CHUNK) this.flush(); }
  get pending(): boolean { return this.bytes.length > 0; }
  /** Sends what is buffered if it has waited long enough. */
  flushIfDue(): void { if (this.bytes.length && performance.now() - this.lastFlush >= OUTPUT_FLUSH_MS) this.flush(); }
  flush(): void {
    if (this.bytes.length) post({ type: 'console', data: Uint8Array.from(this.bytes) });
    this.bytes = [];
    this.lastFlush = performance.now();
  }
}

async function main(): Promise<void> {
  // 1. The partition, as this thread sees it (the main thread made its memory and control block).
  const cb = new ControlBlock(d.control);
  const partition = new Partition(cb, d.memory, d.plicState);
  const plic = new Plic(d.plicState, d.memory, cb.vpCount, cb);
  const ram = ramBytes(d.memory, d.memoryBytes);
  requestStop = (reason) => {
    if (stopReason) return;
    stopReason = reason;
    if (partition.can('stop')) partition.apply('stop');
    cb.ringDoorbell();
  };
  const output = new ConsoleOutput();
  const log = (message: string) => post({ type: 'log', message });

  // 2. The machine: emulated devices and the synthetic devices' back-ends (disks opened
  //    here). An incoming migration's disks are the source's until its very end: the
  //    machine is built when RAM and the state are in.
  const incoming = d.incoming ? await ramLoaded : undefined;
  if (d.incoming && (stopReason || cb.partitionState() === PartitionState.Stopping)) return;
  const written = new WrittenLog(d.memory, d.memoryBytes);
  const machine = await buildMachine({ disks: d.disks, console: d.console, ram, channelTable: d.channelTable, imagePolicy: d.imagePolicy, written }, partition, {
    consoleByte: (b) => output.push(b),
    power: (e) => requestStop(e.kind === 'reset' ? { kind: 'reboot' } : { kind: 'poweroff' }),
    log,
    wake: () => cb.ringDoorbell(),
    ioError: (disk, message) => post({ type: 'io-error', disk, message }),
    fault: (device, e) => {
      log(`${device} back-end failed: ${(e as Error).stack ?? e}`);
      requestStop({ kind: 'error', message: `the back-end of ${device} failed: ${(e as Error).message ?? e}` });
    },
  });
  const io = ioReporter(machine);
  const saver = new StateSaver(machine, partition, plic, cb);
  const mirror = new DiskMirror(machine.synthetic.disks);
  parentPort!.on('message', (m: VmCommand) => {
    if (m.type === 'inject-fault') machine.synthetic.disks.find((b) => b.name.endsWith(' ' + m.device))?.injectFault();
    else if (m.type === 'save-state') saver.request();
    else if (m.type === 'thaw') saver.thaw();
    else if (m.type === 'switch-disks') {
      switchDisks(machine, m.overlays).then(() => post({ type: 'disks-switched' }), (e: Error) => post({ type: 'switch-error', message: e.message }));
    } else if (m.type === 'release-disks') {
      releaseDisks(machine).then(() => post({ type: 'disks-released' }), (e: Error) => post({ type: 'disks-error', message: e.message }));
    } else if (m.type === 'reopen-disks') {
      reopenDisks(machine).then(() => post({ type: 'disks-reopened' }), (e: Error) => post({ type: 'disks-error', message: e.message }));
    } else if (m.type === 'mirror-start') {
      post({ type: 'mirror-started', disks: mirror.start() });
    } else if (m.type === 'mirror-harvest') {
      const bits = mirror.harvest();
      postTransfer({ type: 'mirror-dirty', bits }, bits.filter((b) => b !== null).map((b) => b.buffer as ArrayBuffer));
    } else if (m.type === 'mirror-read') {
      mirror.read(m.disk, m.offset, m.length).then(
        (bytes) => postTransfer({ type: 'mirror-data', id: m.id, bytes }, [bytes.buffer as ArrayBuffer]),
        (e: Error) => post({ type: 'mirror-data', id: m.id, message: e.message }));
    } else if (m.type === 'mirror-stop') {
      mirror.stop();
    }
  });
  try {
    if (d.restore === undefined && !incoming) {
      // 3. Boot: the kernel, initrd and device tree in RAM; VP 0 starts at the kernel entry
      //    (a0 = hart id, a1 = FDT), the others wait for SBI HSM hart_start.
      const boot = loadLinux(ram, {
        ramBase: VIRT_MAP.ram.base, cpus: d.cpus, kernel: d.kernel, initrd: d.initrd, bootargs: d.append, virtioSlots: machine.synthetic.slots,
      });
      for (const r of boot.written) written.mark(Number(r.start - VIRT_MAP.ram.base), Number(r.end - r.start));
      partition.bootVp(0, boot.entry, boot.fdtAddr);
    } else {
      // 3'. Restore: RAM is loaded already; the VPs, the PLIC and the devices take their
      //     saved state, and guest time goes on from where it was saved.
      const state = parseMachineState(incoming ? incoming.state : d.restore);
      await ramLoaded;
      if (stopReason || cb.partitionState() === PartitionState.Stopping) return;
      partition.restoreVps(state.partition, timebaseNow() - (incoming?.advanceTicks ?? 0n));
      plic.restore(state.plic);
      machine.restore(state);
    }

    // 4. The VP threads, started with this worker, wait for the device map; then the partition runs.
    const map: InterceptMapMessage = { type: 'intercepts', ...machine.deviceMap() };
    for (const port of d.vpPorts) port.postMessage(map);
    // Stopped while the disks were opening, or by the parent before the partition ran.
    if (stopReason || cb.partitionState() === PartitionState.Stopping) return;
    partition.apply('start');
    post({ type: 'started', at: performance.timeOrigin + performance.now() });

    // 5. Serve the VPs until the partition has stopped.
    await serve(machine, partition, cb, ram, output, log, saver);
  } finally {
    io.stop();
    await machine.close();
    io.report();
    output.flush();
  }
}

/**
 * The worker's side of a save (VmCommand 'save-state'): the main thread has paused the
 * partition; once every VP has parked (Partition.quiescent) the devices finish their
 * requests in flight, then the state is taken in one step and sent, and the worker stays
 * frozen while the main thread writes it with guest RAM, until 'thaw'.
 */
class StateSaver {
  private phase: 'idle' | 'parking' | 'quiescing' | 'frozen' = 'idle';

  constructor(private readonly machine: Machine, private readonly partition: Partition, private readonly plic: Plic,
    private readonly cb: ControlBlock) {}

  /** Between the request and the thaw: devices take no new work. */
  get holding(): boolean { return this.phase !== 'idle'; }

  request(): void {
    if (this.phase !== 'idle') { post({ type: 'state-error', message: 'a save is already in progress' }); return; }
    this.phase = 'parking';
    this.cb.ringDoorbell();
  }

  thaw(): void {
    this.phase = 'idle';
    this.cb.ringDoorbell();
  }

  /**
   * Called on each turn of the serve loop. `drain` performs the stores VPs posted before
   * they parked (they are part of the state the devices must have).
   */
  step(drain: () => void): void {
    if (this.phase !== 'parking') return;
    if (this.partition.state !== PartitionState.Paused) { this.fail('the VM is not paused'); return; }
    if (!this.partition.quiescent()) return;
    const at = performance.timeOrigin + performance.now();
    drain();
    this.phase = 'quiescing';
    this.machine.quiesce().then(() => {
      if (this.phase !== 'quiescing') return;
      try {
        const state: MachineState = {
          version: 1, partition: this.partition.saveVps(timebaseNow()), plic: this.plic.save(), ...this.machine.save(),
        };
        this.phase = 'frozen';
        post({ type: 'state', state, at });
      } catch (e) {
        this.fail((e as Error).message);
      }
      this.cb.ringDoorbell();
    }, (e: unknown) => this.fail((e as Error).message));
  }

  private fail(message: string): void {
    this.phase = 'idle';
    post({ type: 'state-error', message });
  }
}

/**
 * A checkpoint's disk step (VmCommand 'switch-disks'), while the VM is frozen with no
 * request in flight: each chosen disk's image is closed (flushed, unlocked), a qcow2
 * overlay backed by it is created, and the disk goes on in the overlay; the old image is
 * from then on only read, as the overlay's backing file. If a step fails, the disks
 * switched so far are switched back and the old images reopened: all or none.
 */
async function switchDisks(machine: Machine, overlays: readonly (string | null)[]): Promise<void> {
  const { createQcow2 } = await import('./drivers/disk/qcow2-create.js');
  const { openDisk } = await import('./drivers/disk/open.js');
  const disks = machine.synthetic.disks;
  if (overlays.length !== disks.length) throw new Error(`${overlays.length} overlay paths for ${disks.length} disks`);
  const done: { blk: (typeof disks)[number]; old: { path: string; format: string }; overlay: string }[] = [];
  try {
    for (const [i, overlay] of overlays.entries()) {
      if (overlay === null) continue;
      const blk = disks[i]!;
      const image = blk.image;
      if (image.readOnly) throw new Error(`${blk.name} is read-only: it needs no overlay`);
      const old = { path: image.path, format: image.format };
      await image.close();
      try {
        await createQcow2(overlay, { backing: old.path, backingFormat: old.format as 'raw' | 'qcow2', size: image.size });
        blk.replaceImage(await openDisk(overlay, { format: 'qcow2', policy: d.imagePolicy }));
      } catch (e) {
        blk.replaceImage(await openDisk(old.path, { format: old.format as 'raw' | 'qcow2', policy: d.imagePolicy }));
        await rm(overlay, { force: true });
        throw e;
      }
      done.push({ blk, old, overlay });
    }
  } catch (e) {
    for (const { blk, old, overlay } of done.reverse()) {
      await blk.image.close();
      blk.replaceImage(await openDisk(old.path, { format: old.format as 'raw' | 'qcow2', policy: d.imagePolicy }));
      await rm(overlay, { force: true });
    }
    throw e;
  }
}

/**
 * The end of an outgoing migration, while frozen with no request in flight: every disk
 * image is closed (flushed, unlocked), so the destination can open it. The disks keep
 * their paths; reopenDisks takes them back if the migration does not complete.
 */
let disksReleased = false;
async function releaseDisks(machine: Machine): Promise<void> {
  if (disksReleased) return;
  disksReleased = true;
  for (const blk of machine.synthetic.disks) await blk.image.close();
}

async function reopenDisks(machine: Machine): Promise<void> {
  if (!disksReleased) return;
  const { openDisk } = await import('./drivers/disk/open.js');
  for (const blk of machine.synthetic.disks) {
    const { path, readOnly, format } = blk.image;
    blk.replaceImage(await openDisk(path, { readOnly, format: format as 'raw' | 'qcow2', policy: d.imagePolicy }));
  }
  disksReleased = false;
}

/** Sends the disks' I/O counters to the main thread (for metrics) when they have changed. */
function ioReporter(machine: Machine): { report(): void; stop(): void } {
  let last = '';
  const report = () => {
    const disks = machine.synthetic.disks.map((b) => ({ name: b.name.replace(/^virtio-blk /, ''), ...b.counters }));
    const json = JSON.stringify(disks);
    if (json !== last) { last = json; post({ type: 'io', disks }); }
  };
  const timer = setInterval(report, IO_STATS_MS);
  return { report, stop: () => clearInterval(timer) };
}

/** The VM worker's loop: intercepts, channel signals, console input and the RTC, until the partition stops. */
async function serve(machine: Machine, partition: Partition, cb: ControlBlock, ram: Uint8Array, output: ConsoleOutput,
  log: (m: string) => void, saver: StateSaver): Promise<void> {
  const server = new InterceptServer(cb, machine.bus, ram, VIRT_MAP.ram.base, {
    consoleWrite: (bytes) => { for (const b of bytes) output.push(b); },
    systemReset: (type) => requestStop(type === 0 ? { kind: 'poweroff' } : { kind: 'reboot' }),
  });
  const input = new ByteRing(d.input);
  const { transports } = machine.synthetic;
  const pollVpThreads = () => {
    for (const port of d.vpPorts) {
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
        const msg = m.message as VpThreadMessage;
        log(`virtual processor ${msg.index} failed: ${msg.message}`);
        requestStop({ kind: 'error', message: `virtual processor ${msg.index} failed: ${msg.message.split('\n')[0]}` });
      }
    }
  };
  for (;;) {
    const seq = Atomics.load(cb.i32, DOORBELL);
    // Holding for a save: from the pause until the state is written, nothing new may
    // reach a device (doorbells wait in the channel table, where the state keeps them,
    // input in its ring, an alarm in the RTC); requests in flight finish.
    const frozen = saver.holding;
    // Doorbells first: a store the guest made before ringing one is then already in a
    // VP's posted ring, and is performed before the VSP looks at the queue.
    const signals = frozen ? [] : transports.map((t) => t.channel.takeSignals());
    server.serveAll();
    saver.step(() => server.serveAll());
    if (!frozen) {
      for (const [i, t] of transports.entries()) if (signals[i]) t.serviceSignals(signals[i]);
      const room = CONSOLE_BACKLOG - machine.consolePending();
      if (input.available && room > 0) machine.consoleInput(input.read(room));
      machine.rtc.poll();
    }
    pollVpThreads();
    if (cb.partitionState() === PartitionState.Stopping && !stopReason) requestStop({ kind: 'stopped' });
    if (stopReason && partition.settle()) return;
    output.flushIfDue();
    const alarmMs = machine.rtc.msUntilAlarm();
    const r = waitAsync(cb.i32, DOORBELL, seq, Math.min(output.pending ? OUTPUT_FLUSH_MS : IDLE_MS, alarmMs ?? Infinity));
    if (r.async) await r.value;
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
