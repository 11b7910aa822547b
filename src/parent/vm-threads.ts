// The threads of one VM (ARCHITECTURE.md "Threads"): its VM worker and a VP thread per
// virtual processor. A thread takes 0.1-0.2 s to start (a new isolate loading its modules),
// so they may be started before the VM's configuration is ready: `tshv run` starts them
// first and reads and unpacks the kernel while they load. Each thread takes its data from
// its first message (thread-data.ts) when it was started without workerData.
import { Worker, type Transferable } from 'node:worker_threads';
import type { VmWorkerData } from './vm-protocol.js';
import type { VpThreadData } from './vp-thread.js';

const VM_WORKER = new URL('./vm-worker.js', import.meta.url);
const VP_THREAD = new URL('./vp-thread.js', import.meta.url);

export class VmThreads {
  private given = false;
  /** The first failure of a thread before the VM took it (it would otherwise go unheard). */
  private early: Error | undefined;

  private constructor(readonly worker: Worker, readonly vps: readonly Worker[]) {
    for (const t of [worker, ...vps]) {
      t.on('error', (e) => { this.early ??= e; });
      t.on('exit', (code) => { if (code !== 0) this.early ??= new Error(`a thread exited with code ${code} before its VM started`); });
    }
  }

  /** Starts the threads of a VM of `cpus` virtual processors; they wait for give(). */
  static start(cpus: number): VmThreads {
    if (!Number.isInteger(cpus) || cpus < 1) throw new RangeError(`a VM has at least one virtual processor, got ${cpus}`);
    return new VmThreads(new Worker(VM_WORKER), Array.from({ length: cpus }, () => new Worker(VP_THREAD)));
  }

  /** Sends each thread its data: they run from here. Once only. */
  give(worker: { data: VmWorkerData; transfer: Transferable[] }, vps: readonly { data: VpThreadData; transfer: Transferable[] }[]): void {
    if (this.given) throw new Error('these VM threads have been given their data already');
    if (vps.length !== this.vps.length) throw new RangeError(`${this.vps.length} VP threads were started, ${vps.length} are asked for`);
    this.given = true;
    this.worker.postMessage(worker.data, worker.transfer);
    vps.forEach((vp, i) => this.vps[i].postMessage(vp.data, vp.transfer));
  }

  /** What went wrong with a thread before its VM took it over, if anything did. */
  get failure(): Error | undefined { return this.early; }

  /** Ends threads that will not run a VM (the run failed before it began). */
  terminate(): void {
    for (const t of [this.worker, ...this.vps]) void t.terminate();
  }
}
