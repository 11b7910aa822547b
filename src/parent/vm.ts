// The main thread's handle on one VM: starts its VM worker, carries console bytes both
// ways and reports how the VM stopped (a kernel panic seen on the console included).
import type { ImagePolicy } from './drivers/disk/image-policy.js';
import { EventEmitter } from 'node:events';
import { type Worker, MessageChannel } from 'node:worker_threads';
import { VmThreads } from './vm-threads.js';
import { ControlBlock, PartitionState } from '../hypervisor/control-block.js';
import { ByteRing } from './byte-ring.js';
import { coreModule } from '../cpu/wasm-hart.js';
import { timebaseNow } from '../cpu/timebase.js';
import { createVmMemory, ramBytes } from '../cpu/memory.js';
import { StateError } from '../state/contract.js';
import { WrittenLog, PAGE_BYTES } from '../cpu/written-log.js';
import { rm } from 'node:fs/promises';
import { parseSavedConfig, type BootFiles, type SavedConfig } from './machine/state.js';
import { writeStateStream } from './state/writer.js';
import { openStateStream } from './state/reader.js';
import { Partition, type PartitionAction, type VpStats } from '../hypervisor/partition.js';
import { createPlicState } from '../hypervisor/plic.js';
import type { VpThreadData } from './vp-thread.js';
import { CompileThread } from '../cpu/jit/compile-thread.js';
import { VIRT_MAP } from './machine/virt.js';
import type { VmWorkerData, VmEvent, StopReason, DiskSpec, ConsoleKind, VmCommand, DiskStats } from './vm-protocol.js';
import { createChannelTable } from '../vmbus/channel.js';
import { PANIC_STOP, PanicWatch } from './panic-watch.js';
import type { MirroredDisk } from './disk-mirror.js';

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
  /** The files the kernel and initrd were read from: a saved VM records them, to boot again after a reboot. */
  boot?: BootFiles;
  /** Translate hot guest code to WebAssembly (default true); false interprets only (`--no-jit`). */
  jit?: boolean;
  /** Entries of a block before it is translated (JIT_THRESHOLD_DEFAULT; `--jit-threshold`). */
  jitThreshold?: number;
}

/** How a save went (Vm.save). */
export interface SaveResult {
  path: string;
  /** Bytes of the state file. */
  bytes: number;
  /** Guest RAM pages written, and the all-zero ones left out. */
  ramPages: number;
  zeroPages: number;
  /** How long the VM was paused for it, ms. */
  pausedMs: number;
}

export interface SaveOptions {
  /** After the save: 'stop' the VM (Hyper-V's Saved state) or let it 'continue' (a checkpoint). */
  then: 'stop' | 'continue';
  /** Bytes written so far of the total (RAM and state). */
  onProgress?: (done: number, total: number) => void;
  /**
   * A checkpoint's disks (with then 'continue'): per disk, in order, the path of a new
   * qcow2 overlay to go on in (its current image is then frozen as the overlay's backing
   * file), or null to keep it. Done after the state is written, before the VM goes on.
   */
  switchDisks?: (string | null)[];
}

/** What restoring a saved VM may change: where its disks are (a checkpoint's overlays), the policy. */
export interface RestoreOptions {
  disks?: DiskSpec[];
  /** As VmConfig.jit: how the processors run is the host's choice, not part of the saved VM. */
  jit?: boolean;
  jitThreshold?: number;
  imagePolicy?: ImagePolicy;
  onProgress?: (done: number, total: number) => void;
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

/** An action the VM's state does not allow now (saving a stopped VM, two saves at once). */
export class VmStateError extends Error {
  override readonly name = 'VmStateError';
}

export class Vm extends EventEmitter<VmEvents> {
  private readonly control: ControlBlock;
  private readonly input = ByteRing.create();
  private readonly worker: Worker;
  private readonly vpThreads: Worker[];
  /** Compiles the VPs' hot code (with jit). */
  private readonly compiler?: CompileThread;
  private readonly partition: Partition;
  private pendingInput: Uint8Array[] = [];
  private pendingBytes = 0;
  private inputTimer: NodeJS.Timeout | undefined;
  private stoppedWith: StopReason | undefined;
  private readonly memory: WebAssembly.Memory;
  private diskStats: DiskStats[] = [];
  private readonly panicWatch = new PanicWatch(() => this.stop());
  private readonly config: VmConfig;
  /** Which RAM pages the guest or the host may have written (a save reads only those). */
  private readonly written: WrittenLog;
  private saving = false;
  /** Set by a save that stops the VM: its stop reason becomes 'saved'. */
  private savedTo: string | undefined;
  /** Set when the VM runs on another host now: its stop reason becomes 'migrated'. */
  private migratedTo: string | undefined;
  /** While a migration harvests the written-page log: the union of what it took (endHarvests puts it back). */
  private harvested: Uint32Array | undefined;
  /** The last disk read's id (readDisk): answers are matched to requests by it. */
  private mirrorReads = 0;
  /** A frozen VM (freeze) was running before. */
  private frozenFromRunning: boolean | undefined;
  /** When the partition last started running (epoch ms, 'started'). */
  private startedAt: number | undefined;

  /**
   * Boots the guest of `config`; with `restored` (Vm.restore), resumes a saved one instead:
   * its memory already holds the guest's RAM and `state` is the machine state to restore.
   */
  constructor(config: VmConfig, restored?: { memory: WebAssembly.Memory; state: unknown; incoming?: boolean }, threads?: VmThreads) {
    super();
    this.config = { ...config }; // its disks change with a checkpoint (switchDisks)
    this.control = ControlBlock.create(config.cpus);
    // The VM worker and the VP threads start together (or were started before the VM was
    // configured: VmThreads): the VP threads wait for the worker to build the machine and
    // send its device map.
    threads ??= VmThreads.start(config.cpus);
    if (threads.vps.length !== config.cpus) throw new RangeError(`${threads.vps.length} VP threads for a VM of ${config.cpus} VPs`);
    this.worker = threads.worker;
    this.vpThreads = [...threads.vps];
    const memory = this.memory = restored?.memory ?? createVmMemory(config.memoryBytes);
    this.written = new WrittenLog(memory, config.memoryBytes);
    this.partition = new Partition(this.control, memory);
    const plicState = createPlicState();
    const core = coreModule();
    this.partition.rebaseTime(0n, timebaseNow()); // guest time starts at 0
    const channels = Array.from({ length: config.cpus }, () => new MessageChannel());
    const channelTable = createChannelTable();
    const data: VmWorkerData = {
      ...config, memory, plicState, vpPorts: channels.map((c) => c.port1), control: this.control.buffer, input: this.input.buffer,
      channelTable, disks: config.disks ?? [], console: config.console ?? 'serial', restore: restored?.state,
      ...(restored?.incoming ? { incoming: true } : {}),
    };
    const jit = config.jit ?? true;
    if (jit) this.compiler = new CompileThread(memory);
    const vps = channels.map((channel, index) => {
      const compilePort = this.compiler?.port();
      const vp: VpThreadData = {
        index, memory, control: this.control.buffer, plicState, channelTable, ramBase: VIRT_MAP.ram.base, ramSize: BigInt(config.memoryBytes),
        port: channel.port2, core, jit, jitThreshold: config.jitThreshold, compilePort,
      };
      return { data: vp, transfer: [channel.port2, ...(compilePort ? [compilePort] : [])] };
    });
    this.vpThreads.forEach((t, index) => t.on('error', (err) => this.finish({ kind: 'error', message: `virtual processor ${index} failed: ${err.message}` })));
    this.worker.on('message', (e: VmEvent) => this.onEvent(e));
    this.worker.on('error', (err) => this.finish({ kind: 'error', message: `VM worker failed: ${err.message}` }));
    this.worker.on('exit', (code) => { if (code !== 0) this.finish({ kind: 'error', message: `VM worker exited with code ${code}` }); });
    threads.give({ data, transfer: channels.map((c) => c.port1) }, vps);
    const early = threads.failure;
    if (early) queueMicrotask(() => this.finish({ kind: 'error', message: `a thread of the VM failed as it started: ${early.message}` }));
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

  /**
   * Saves the VM's state (RAM, VPs, devices) to `path` (docs/state.md): the VM is paused,
   * its requests in flight finish, the state is written, then the VM stops (reason
   * 'saved') or goes on as it was (running or paused). A failed save leaves it as it was.
   */
  async save(path: string, options: SaveOptions): Promise<SaveResult> {
    if (this.saving) throw new VmStateError('a save is already in progress');
    const wasRunning = this.state === PartitionState.Running;
    if (this.stoppedWith || (!wasRunning && this.state !== PartitionState.Paused)) {
      throw new VmStateError(`cannot save a VM that is ${this.stoppedWith ? 'stopped' : PartitionState[this.state].toLowerCase()}`);
    }
    this.saving = true;
    const t0 = performance.now();
    if (wasRunning) this.partition.apply('pause');
    let written: Awaited<ReturnType<typeof writeStateStream>> | undefined;
    try {
      const state = await this.takeState();
      const result = await writeStateStream(path, {
        config: this.savedConfig(), state, ram: ramBytes(this.memory, this.config.memoryBytes), onProgress: options.onProgress,
        written: (page) => this.written.written(page),
      });
      if (options.switchDisks) {
        try {
          await this.switchDisks(options.switchDisks);
        } catch (e) {
          await rm(path, { force: true });
          throw e;
        }
      }
      written = result;
    } finally {
      this.saving = false;
      if (!written || options.then === 'continue') {
        this.post({ type: 'thaw' });
        if (wasRunning && this.partition.can('resume')) this.partition.apply('resume');
      }
    }
    const pausedMs = performance.now() - t0;
    if (options.then === 'stop') { this.savedTo = path; this.stop(); }
    return { path, bytes: written.bytes, ramPages: written.ramPages, zeroPages: written.zeroPages, pausedMs };
  }

  /**
   * A VM resumed from a state file (Vm.save): the machine is built from the file's
   * configuration (with `options.disks` in place of the saved disks, if given), RAM is
   * read into it and every part restored; it then runs on from where it was saved.
   * Throws StateError (the file is not a good state) before any thread starts.
   */
  static async restore(path: string, options: RestoreOptions = {}): Promise<{ vm: Vm; config: SavedConfig }> {
    const stream = await openStateStream(path);
    try {
      const saved = parseSavedConfig(stream.config);
      const disks = options.disks ?? saved.disks;
      if (disks.length !== saved.disks.length) {
        throw new StateError(`the saved VM had ${saved.disks.length} disk(s); ${disks.length} given`);
      }
      const memory = createVmMemory(saved.memoryBytes);
      const config: VmConfig = {
        kernel: new Uint8Array(0), append: saved.append, memoryBytes: saved.memoryBytes, cpus: saved.cpus,
        disks, console: saved.console, imagePolicy: options.imagePolicy, boot: saved.boot, jit: options.jit, jitThreshold: options.jitThreshold,
      };
      // The threads start (and the worker opens the disks) while RAM is read: the worker
      // restores nothing until it hears that RAM is in.
      const vm = new Vm(config, { memory, state: stream.state });
      try {
        const log = new WrittenLog(memory, saved.memoryBytes);
        await stream.readRam(ramBytes(memory, saved.memoryBytes), {
          onProgress: options.onProgress, onRun: (first, count) => log.mark(first * PAGE_BYTES, count * PAGE_BYTES),
        });
      } catch (e) {
        vm.kill('its state file could not be read');
        throw e;
      }
      vm.post({ type: 'ram-loaded' });
      return { vm, config: { ...saved, disks } };
    } finally {
      await stream.close();
    }
  }

  /** Asks the (frozen) worker to move disks onto new overlays; the configuration follows. */
  private async switchDisks(overlays: (string | null)[]): Promise<void> {
    await this.ask({ type: 'switch-disks', overlays }, 'disks-switched', 'switch-error', 'the disks could not be switched to new overlays', 'while its disks were switched');
    this.config.disks = (this.config.disks ?? []).map((d, i) => (overlays[i] ? { path: overlays[i]!, readOnly: false } : d));
  }

  /**
   * Posts a command to the worker and waits for its answer: the event `ok`, or `fail`
   * (whose message becomes a VmStateError after `what`), or the VM stopping (`during`).
   */
  private ask<T extends VmEvent['type']>(command: VmCommand, ok: T, fail: VmEvent['type'], what: string, during: string): Promise<Extract<VmEvent, { type: T }>> {
    return new Promise((resolve, reject) => {
      const onEvent = (e: VmEvent) => {
        if (e.type === ok) { done(); resolve(e as Extract<VmEvent, { type: T }>); }
        else if (e.type === fail) { done(); reject(new VmStateError(`${what}: ${(e as { message?: string }).message}`)); }
      };
      const onStopped = (r: StopReason) => { done(); reject(new VmStateError(`the VM stopped ${during} (${r.kind})`)); };
      const done = () => { this.worker.off('message', onEvent); this.off('stopped', onStopped); };
      this.worker.on('message', onEvent);
      this.on('stopped', onStopped);
      this.post(command);
    });
  }

  // --- live migration (docs/migration.md) -------------------------------------------------

  /** Guest RAM: a view of the VM's shared memory (never a copy). */
  get ram(): Uint8Array { return ramBytes(this.memory, this.config.memoryBytes); }

  /** What a destination needs to build the same machine (the state file's CONF). */
  machineConfig(): SavedConfig { return this.savedConfig(); }

  /** When the partition last started running (epoch ms), if it has. */
  get runningSince(): number | undefined { return this.startedAt; }

  /**
   * Takes the written-page log (one bit per RAM page): the pages written since the last
   * harvest, or ever, at the first. Every VP then flushes its TLB before its next guest
   * instruction, and this waits until those in guest code have: from then on a store to
   * a harvested page logs it again, so the caller may read the harvested pages and later
   * harvests catch every change after that read. The log is put back by endHarvests.
   */
  async harvestWritten(): Promise<Uint32Array> {
    const bits = this.written.harvest();
    const union = this.harvested ??= new Uint32Array(bits.length);
    for (let w = 0; w < bits.length; w++) union[w]! |= bits[w]!;
    this.partition.requestTlbFlushes();
    // Each VP reaches a slice boundary within microseconds; a stopped VM has none in guest code.
    while (this.partition.tlbFlushesPending() && !this.stoppedWith) await new Promise((r) => setImmediate(r));
    return bits;
  }

  /** A migration is over: what it harvested is in the log again (a later save trusts it). */
  endHarvests(): void {
    if (this.harvested) this.written.restore(this.harvested);
    this.harvested = undefined;
  }

  /**
   * Pauses the VM (if it runs), lets its requests in flight finish and returns the machine
   * state and when the guest's last instruction ran. The VM stays frozen until unfreeze()
   * (or it stops): nothing changes RAM or devices.
   */
  async freeze(): Promise<{ state: unknown; at: number }> {
    if (this.saving) throw new VmStateError('a save is already in progress');
    const wasRunning = this.state === PartitionState.Running;
    if (this.stoppedWith || (!wasRunning && this.state !== PartitionState.Paused)) {
      throw new VmStateError(`cannot freeze a VM that is ${this.stoppedWith ? 'stopped' : PartitionState[this.state].toLowerCase()}`);
    }
    this.saving = true;
    this.frozenFromRunning = wasRunning;
    if (wasRunning) this.partition.apply('pause');
    try {
      const e = await this.ask({ type: 'save-state' }, 'state', 'state-error', "the VM's state could not be taken", 'while its state was taken');
      return { state: e.state, at: e.at };
    } catch (e) {
      this.unfreeze();
      throw e;
    }
  }

  /** Lets a frozen VM go on as it was before freeze(). */
  unfreeze(): void {
    if (!this.saving) return;
    this.saving = false;
    this.post({ type: 'thaw' });
    if (this.frozenFromRunning && this.partition.can('resume')) this.partition.apply('resume');
    this.frozenFromRunning = undefined;
  }

  /** While frozen: flushes, unlocks and closes every disk image, for the destination to open. */
  async releaseDisks(): Promise<void> {
    await this.ask({ type: 'release-disks' }, 'disks-released', 'disks-error', 'the disks could not be released', 'while its disks were released');
  }

  /** Takes back the disks releaseDisks gave up (a migration that did not complete). */
  async reopenDisks(): Promise<void> {
    await this.ask({ type: 'reopen-disks' }, 'disks-reopened', 'disks-error', 'the disks could not be reopened', 'while its disks were reopened');
  }

  /**
   * A shared-nothing migration copies the disks (disk-mirror.ts): from now on every write
   * the guest completes is logged per chunk. Resolves with the disks.
   */
  async startDiskMirror(): Promise<MirroredDisk[]> {
    return (await this.ask({ type: 'mirror-start' }, 'mirror-started', 'mirror-started', 'the disks could not be mirrored', 'while its disks were mirrored')).disks;
  }

  /** Per disk, the chunks written since startDiskMirror or the last harvest (null: a read-only disk). */
  async harvestDiskWrites(): Promise<(Uint32Array | null)[]> {
    return (await this.ask({ type: 'mirror-harvest' }, 'mirror-dirty', 'mirror-dirty', 'the disks\' writes could not be taken', 'while its disks\' writes were taken')).bits;
  }

  /** What the guest sees at [offset, offset+length) of disk `disk` (at most MAX_MIRROR_READ bytes). */
  readDisk(disk: number, offset: number, length: number): Promise<Uint8Array> {
    const id = ++this.mirrorReads;
    return new Promise((resolve, reject) => {
      const onEvent = (e: VmEvent) => {
        if (e.type !== 'mirror-data' || e.id !== id) return;
        done();
        if (e.bytes) resolve(e.bytes);
        else reject(new VmStateError(`disk ${disk} could not be read at ${offset}: ${e.message}`));
      };
      const onStopped = (r: StopReason) => { done(); reject(new VmStateError(`the VM stopped while its disk was read (${r.kind})`)); };
      const done = () => { this.worker.off('message', onEvent); this.off('stopped', onStopped); };
      this.worker.on('message', onEvent);
      this.on('stopped', onStopped);
      this.post({ type: 'mirror-read', id, disk, offset, length });
    });
  }

  /** The disk copy is over: writes are not logged any more. */
  stopDiskMirror(): void { this.post({ type: 'mirror-stop' }); }

  /** Parks every VP for `pct` percent of its time (0: none): auto-converge's brake. */
  setThrottle(pct: number): void { this.control.setThrottle(pct); }

  /** The VM runs on another host now: this copy stops, with the reason 'migrated'. */
  migratedAway(to: string): void {
    this.migratedTo = to;
    this.saving = false;
    this.stop();
  }

  /**
   * The destination's side of a migration: the same machine as `saved` describes, with its
   * threads started (they load while RAM arrives) and RAM to be filled. `complete` gives
   * it the machine state once RAM is in; it then builds its devices (opening the disks,
   * which the source has released by then) and runs, guest time moved on by `advanceTicks`.
   */
  static incoming(saved: SavedConfig, options: RestoreOptions = {}): { vm: Vm; ram: Uint8Array; markRun(first: number, count: number): void; complete(state: unknown, advanceTicks: bigint): void } {
    const memory = createVmMemory(saved.memoryBytes);
    const config: VmConfig = {
      kernel: new Uint8Array(0), append: saved.append, memoryBytes: saved.memoryBytes, cpus: saved.cpus,
      disks: options.disks ?? saved.disks, console: saved.console, imagePolicy: options.imagePolicy, boot: saved.boot, jit: options.jit, jitThreshold: options.jitThreshold,
    };
    const vm = new Vm(config, { memory, state: undefined, incoming: true });
    return {
      vm, ram: ramBytes(memory, saved.memoryBytes),
      markRun: (first, count) => vm.written.mark(first * PAGE_BYTES, count * PAGE_BYTES),
      complete: (state, advanceTicks) => vm.post({ type: 'ram-loaded', state, advanceTicks }),
    };
  }

  /**
   * The RAM pages that hold something but are not in the written-page log: a writer that
   * forgot to log (the test of the log; reads every page, so it is slow and for tests).
   */
  unloggedPages(): number[] {
    const ram = ramBytes(this.memory, this.config.memoryBytes);
    const words = new Uint32Array(ram.buffer, ram.byteOffset, ram.byteLength / 4);
    const missed: number[] = [];
    for (let p = 0; p < ram.length / PAGE_BYTES; p++) {
      if (this.written.written(p)) continue;
      for (let w = p * 1024; w < (p + 1) * 1024; w++) if (words[w] !== 0) { missed.push(p); break; }
    }
    return missed;
  }

  /** What the state file records of this VM's configuration (machine/state.ts). */
  private savedConfig(): SavedConfig {
    const c = this.config;
    return {
      version: 1, cpus: c.cpus, memoryBytes: c.memoryBytes, console: c.console ?? 'serial', disks: c.disks ?? [], append: c.append,
      ...(c.boot ? { boot: c.boot } : {}),
    };
  }

  /** Asks the worker for the machine state (it holds still from then until 'thaw'). */
  private async takeState(): Promise<unknown> {
    return (await this.ask({ type: 'save-state' }, 'state', 'state-error', "the VM's state could not be taken", 'during the save')).state;
  }

  private post(command: VmCommand): void { this.worker.postMessage(command); }

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
      case 'started': this.startedAt = e.at; this.compiler?.start(); this.emit('started'); break;
      case 'io': this.diskStats = e.disks; break;
      case 'stopped': this.finish(e.reason); break;
    }
  }

  private finish(reason: StopReason): void {
    if (this.stoppedWith) return;
    this.panicWatch.cancel();
    // After a panic the panic is why, however the run then ended (the stop it asked for, or anything else).
    const why: StopReason = this.panicWatch.panicked ? { ...PANIC_STOP }
      : reason.kind === 'stopped' && this.savedTo ? { kind: 'saved', path: this.savedTo }
      : reason.kind === 'stopped' && this.migratedTo ? { kind: 'migrated', to: this.migratedTo } : reason;
    this.stoppedWith = why;
    if (this.inputTimer) clearTimeout(this.inputTimer);
    this.emit('stopped', why);
    void this.worker.terminate();
    for (const t of this.vpThreads) void t.terminate();
    void this.compiler?.terminate();
  }
}
