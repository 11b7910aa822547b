// The main thread's handle on one VM: starts its VM worker, carries console bytes both
// ways and reports how the VM stopped.
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { ControlBlock, PartitionState } from '../hypervisor/control-block.js';
import { ByteRing } from './byte-ring.js';
import { coreModule } from '../cpu/hart.js';
import type { VmWorkerData, VmEvent, StopReason } from './vm-protocol.js';

export interface VmConfig {
  kernel: Uint8Array;
  initrd?: Uint8Array;
  append: string;
  memoryBytes: number;
  cpus: number;
}

export interface VmEvents {
  console: [Uint8Array];
  log: [string];
  started: [];
  stopped: [StopReason];
}

export class Vm extends EventEmitter<VmEvents> {
  private readonly control: ControlBlock;
  private readonly input = ByteRing.create();
  private readonly worker: Worker;
  private pendingInput: Uint8Array[] = [];
  private inputTimer: NodeJS.Timeout | undefined;
  private stoppedWith: StopReason | undefined;

  constructor(config: VmConfig) {
    super();
    this.control = ControlBlock.create(config.cpus);
    const data: VmWorkerData = { ...config, control: this.control.buffer, input: this.input.buffer, core: coreModule() };
    this.worker = new Worker(new URL('./vm-worker.js', import.meta.url), { workerData: data });
    this.worker.on('message', (e: VmEvent) => this.onEvent(e));
    this.worker.on('error', (err) => this.finish({ kind: 'error', message: `VM worker failed: ${err.message}` }));
    this.worker.on('exit', (code) => { if (code !== 0) this.finish({ kind: 'error', message: `VM worker exited with code ${code}` }); });
  }

  get stopped(): StopReason | undefined { return this.stoppedWith; }

  /** Console input for the guest. Bytes wait (in order) until the guest can take them. */
  write(bytes: Uint8Array): void {
    this.pendingInput.push(bytes);
    this.pumpInput();
  }

  /** Hard power-off. */
  stop(): void {
    if (this.stoppedWith) return;
    this.control.setPartitionState(PartitionState.Stopping);
  }

  private pumpInput(): void {
    while (this.pendingInput.length) {
      const chunk = this.pendingInput[0];
      const n = this.input.write(chunk);
      if (n > 0) this.control.ringDoorbell();
      if (n < chunk.length) { this.pendingInput[0] = chunk.subarray(n); break; }
      this.pendingInput.shift();
    }
    if (this.pendingInput.length && !this.inputTimer) {
      this.inputTimer = setTimeout(() => { this.inputTimer = undefined; this.pumpInput(); }, 5);
    }
  }

  private onEvent(e: VmEvent): void {
    switch (e.type) {
      case 'console': this.emit('console', e.data); break;
      case 'log': this.emit('log', e.message); break;
      case 'started': this.emit('started'); break;
      case 'stopped': this.finish(e.reason); break;
    }
  }

  private finish(reason: StopReason): void {
    if (this.stoppedWith) return;
    this.stoppedWith = reason;
    if (this.inputTimer) clearTimeout(this.inputTimer);
    this.emit('stopped', reason);
    void this.worker.terminate();
  }
}
