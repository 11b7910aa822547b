// Entry point of a VP thread (worker_thread): the logical processor on which the
// hypervisor runs one virtual processor of a partition (src/hypervisor/vp.ts).
import { workerData, type MessagePort } from 'node:worker_threads';
import { Hart, timebaseNow } from '../cpu/hart.js';
import { ControlBlock, VpState } from '../hypervisor/control-block.js';
import { Plic } from '../hypervisor/plic.js';
import { VirtualProcessor, type MmioRange } from '../hypervisor/vp.js';

export interface VpThreadData {
  index: number;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  plicState: SharedArrayBuffer;
  ramBase: bigint;
  ramSize: bigint;
  /** Timebase origin shared by the partition's VPs (timebaseNow() at partition start). */
  epoch: bigint;
  /** To the VM worker, which polls it (it is blocked in Atomics.wait, not in its event loop). */
  port: MessagePort;
  /** Where the VM worker emulates devices. */
  intercepts: MmioRange[];
  /** The compiled core, shared by all threads (see coreModule). */
  core: WebAssembly.Module;
}

export type VpThreadMessage = { type: 'error'; index: number; message: string };

const d = workerData as VpThreadData;
const cb = new ControlBlock(d.control);
const now = () => timebaseNow() - d.epoch;
const hart = new Hart(d.memory, d.index, d.ramBase, d.ramSize, now, d.core);
const plic = new Plic(d.plicState, d.memory, cb.vpCount, cb);
const vp = new VirtualProcessor({ index: d.index, hart, cb, plic, ramBase: d.ramBase, ramSize: d.ramSize, now, intercepts: d.intercepts });
try {
  vp.run();
} catch (e) {
  const message: VpThreadMessage = { type: 'error', index: d.index, message: (e as Error).stack ?? String(e) };
  d.port.postMessage(message);
} finally {
  cb.setVpState(d.index, VpState.Halted);
  cb.ringDoorbell();
  d.port.close();
}
