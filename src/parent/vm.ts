// The main thread's handle on one VM: starts its VM worker, carries console bytes both
// ways and reports how the VM stopped (a kernel panic seen on the console included).
import type { ImagePolicy } from './drivers/disk/image-policy.js';
import { EventEmitter } from 'node:events';
import { Worker, MessageChannel } from 'node:worker_threads';
import { ControlBlock, PartitionState } from '../hypervisor/control-block.js';
import { ByteRing } from './byte-ring.js';
import { coreModule, timebaseNow } from '../cpu/wasm-hart.js';
import { createVmMemory } from '../cpu/memory.js';
import { Partition, type PartitionAction, type VpStats } from '../hypervisor/partition.js';
import { createPlicState } from '../hypervisor/plic.js';
import type { VpThreadData } from './vp-thread.js';
import { VIRT_MAP } from './machine/virt.js';
import type { VmWorkerData, VmEvent, StopReason, DiskSpec, ConsoleKind, VmCommand, DiskStats } from './vm-protocol.js';
import { createChannelTable } from '../vmbus/channel.js';
import { PANIC_STOP, PanicWatch } from './panic-watch.js';

export interface VmConfig {
  kernel: Uint8Array;
  initrd?: Uint8Array;
  append: string;
  memoryBytes: number;
  cpus: number;
  /** Disk images attached as /dev/vda, /dev/vdb, ... (default none). */
  disks?: DiskSpec[];
  /** Which console gets input: 'serial' (ttyS0, default) or 'virtio' (hvc0). */
  console?: ConsoleKind;
  /** Where disk images and their backing files may be (the service's storage roots); default anywhere. */
  imagePolicy?: ImagePolicy;
}

/** What a VM has done so far, for metrics. */
export interface VmStats {
  vps: VpStats[];
  disks: DiskStats[];
  memoryBytes: number;
}

export interface VmEvents {
  console: [Uint8Array];
  /** Something for the host's log (an 'io-error' also comes here, as "vda: I/O error: ..."). */
  log: [string];
  /** A disk's image failed guest requests (the disk's name, what failed); at most one per disk every few seconds. */
  'io-error': [string, string];
  started: [];
  stopped: [StopReason];
  /** The console input that was waiting (pendingInputBytes) has all gone into the guest's input ring. */
  'input-drained': [];
}

export class Vm extends EventEmitter<VmEvents> {
  private readonly control: ControlBlock;
  private readonly input = ByteRing.create();
  private readonly worker: Worker;
  private readonly vpThreads: Worker[] = [];
  private readonly partition: Partition;
  private pendingInput: Uint8Array[] = [];
  private pendingBytes = 0;
  private inputTimer: NodeJS.Timeout | undefined;
  private stoppedWith: StopReason | undefined;
  private readonly memory: WebAssembly.Memory;
  private diskStats: DiskStats[] = [];
  private readonly panicWatch = new PanicWatch(() => this.stop());

  constructor(private readonly config: VmConfig) {
    super();
    this.control = ControlBlock.create(config.cpus);
    // The VM worker and the VP threads start together (a thread takes ~0.1 s to start):
    // the VP threads wait for the worker to build the machine and send its device map.
    const memory = this.memory = createVmMemory(config.memoryBytes);
    this.partition = new Partition(this.control, memory);
    const plicState = createPlicState();
    const core = coreModule();
    this.partition.rebaseTime(0n, timebaseNow()); // guest time starts at 0
    const channels = Array.from({ length: config.cpus }, () => new MessageChannel());
    const channelTable = createChannelTable();
    const data: VmWorkerData = {
      ...config, memory, plicState, vpPorts: channels.map((c) => c.port1), control: this.control.buffer, input: this.input.buffer,
      channelTable, disks: config.disks ?? [], console: config.console ?? 'serial',
    };
    this.worker = new Worker(new URL('./vm-worker.js', import.meta.url), { workerData: data, transferList: channels.map((c) => c.port1) });
    for (let index = 0; index < config.cpus; index++) {
      const vp: VpThreadData = {
        index, memory, control: this.control.buffer, plicState, channelTable, ramBase: VIRT_MAP.ram.base, ramSize: BigInt(config.memoryBytes),
        port: channels[index].port2, core,
      };
      const t = new Worker(new URL('./vp-thread.js', import.meta.url), { workerData: vp, transferList: [channels[index].port2] });
      t.on('error', (err) => this.finish({ kind: 'error', message: `virtual processor ${index} failed: ${err.message}` }));
      this.vpThreads.push(t);
    }
    this.worker.on('message', (e: VmEvent) => this.onEvent(e));
    this.worker.on('error', (err) => this.finish({ kind: 'error', message: `VM worker failed: ${err.message}` }));
    this.worker.on('exit', (code) => { if (code !== 0) this.finish({ kind: 'error', message: `VM worker exited with code ${code}` }); });
  }

  get stopped(): StopReason | undefined { return this.stoppedWith; }

  /** Console input for the guest. Bytes wait (in order) until the guest can take them. */
  write(bytes: Uint8Array): void {
    this.pendingInput.push(bytes);
    this.pendingBytes += bytes.length;
    this.pumpInput();
  }

  /**
   * Console input written but not yet in the guest's input ring: a writer faster than the
   * guest reads should hold back while this grows ('input-drained' says when it is 0 again).
   */
  get pendingInputBytes(): number { return this.pendingBytes; }

  /** Hard power-off. */
  stop(): void {
    if (!this.stoppedWith && this.partition.can('stop')) this.partition.apply('stop');
  }

  /**
   * The last resort when stop() does not complete (a VM worker stuck in a back-end): ends
   * its threads now. Disks are not flushed; their locks are taken over as stale.
   */
  kill(why: string): void {
    this.finish({ kind: 'killed', message: `killed: ${why}` });
  }

  /** Fault injection: the back-end of `device` (e.g. "vda") fails on its next request. */
  injectFault(device: string): void {
    const command: VmCommand = { type: 'inject-fault', device };
    this.worker.postMessage(command);
  }

  /** Suspends every VP (they park outside guest code); false unless the VM was running. */
  pause(): boolean { return this.act('pause'); }

  /** Resumes a paused VM; false unless it was paused. */
  resume(): boolean { return this.act('resume'); }

  get state(): PartitionState { return this.partition.state; }

  /** Per-VP run time, instructions and exits (read from shared memory), disk I/O counters. */
  stats(): VmStats {
    return { vps: this.partition.stats(), disks: this.diskStats, memoryBytes: this.config.memoryBytes };
  }

  private act(action: PartitionAction): boolean {
    if (this.stoppedWith || !this.partition.can(action)) return false;
    this.partition.apply(action);
    return true;
  }

  private pumpInput(): void {
    while (this.pendingInput.length) {
      const chunk = this.pendingInput[0];
      const n = this.input.write(chunk);
      this.pendingBytes -= n;
      if (n > 0) this.control.ringDoorbell();
      if (n < chunk.length) { this.pendingInput[0] = chunk.subarray(n); break; }
      this.pendingInput.shift();
    }
    if (this.pendingInput.length && !this.inputTimer) {
      this.inputTimer = setTimeout(() => {
        this.inputTimer = undefined;
        this.pumpInput();
        if (!this.pendingInput.length) this.emit('input-drained');
      }, 5);
    }
  }

  private onEvent(e: VmEvent): void {
    switch (e.type) {
      case 'console': this.emit('console', e.data); this.panicWatch.feed(e.data); break;
      case 'log': this.emit('log', e.message); break;
      case 'io-error': this.emit('log', `${e.disk}: I/O error: ${e.message}`); this.emit('io-error', e.disk, e.message); break;
      case 'started': this.emit('started'); break;
      case 'io': this.diskStats = e.disks; break;
      case 'stopped': this.finish(e.reason); break;
    }
  }

  private finish(reason: StopReason): void {
    if (this.stoppedWith) return;
    this.panicWatch.cancel();
    // After a panic the panic is why, however the run then ended (the stop it asked for, or anything else).
    const why = this.panicWatch.panicked ? { ...PANIC_STOP } : reason;
    this.stoppedWith = why;
    if (this.inputTimer) clearTimeout(this.inputTimer);
    this.emit('stopped', why);
    void this.worker.terminate();
    for (const t of this.vpThreads) void t.terminate();
  }
}
