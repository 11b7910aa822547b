// Entry point of a VP thread (worker_thread): the logical processor on which the
// hypervisor runs one virtual processor of a partition (src/hypervisor/vp.ts).
import { readFileSync } from 'node:fs';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { threadData } from './thread-data.js';
import { WasmHart } from '../cpu/wasm-hart.js';
import { timebaseNow } from '../cpu/timebase.js';
import { compileChannel } from '../cpu/jit/compile-thread.js';
import { ControlBlock, VpState, PartitionState } from '../hypervisor/control-block.js';
import type { InterceptMapMessage } from './vm-protocol.js';
import { Plic } from '../hypervisor/plic.js';
import { VirtualProcessor } from '../hypervisor/vp.js';
import { MailboxSink } from '../hypervisor/intercept.js';
import { ChannelRegisters } from '../vmbus/channel.js';
import { VIRT_MAP } from './machine/virt.js';

export interface VpThreadData {
  index: number;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  plicState: SharedArrayBuffer;
  /** The partition's VMBus channel table: doorbells and interrupt status. */
  channelTable: SharedArrayBuffer;
  ramBase: bigint;
  ramSize: bigint;
  /** To the VM worker: the device map comes in, failures go out. */
  port: MessagePort;
  /** The compiled core, shared by all threads (see coreModule). */
  core: WebAssembly.Module;
  /** Translate hot guest code (src/cpu/jit); false interprets only. */
  jit: boolean;
  /** Entries of a block before it is translated (default JIT_THRESHOLD_DEFAULT). */
  jitThreshold?: number;
  /** With jit: the VM's compile thread (src/cpu/jit/compile-thread.ts). */
  compilePort?: MessagePort;
}

export type VpThreadMessage = { type: 'error'; index: number; message: string };

const d = await threadData<VpThreadData>();
const cb = new ControlBlock(d.control);
// Guest time is host time less the partition's epoch, which a restore moves (control block).
const now = () => timebaseNow() - cb.epoch();
const hart = new WasmHart(d.memory, d.index, d.ramBase, d.ramSize, now, d.core,
  { jit: d.jit, jitThreshold: d.jitThreshold, compileChannel: d.compilePort && compileChannel(d.compilePort) });
const plic = new Plic(d.plicState, d.memory, cb.vpCount, cb);

/**
 * This thread's CPU time on the host: the first field of Linux's /proc/thread-self/schedstat
 * (nanoseconds on a CPU). Undefined elsewhere, and from then on.
 */
let schedstat = process.platform === 'linux';
function threadCpuTime(): bigint | undefined {
  if (!schedstat) return undefined;
  try {
    return BigInt(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]);
  } catch {
    schedstat = false;
    return undefined;
  }
}

/** Waits until the VM worker has built the machine; its device map arrives on the port. */
function deviceMap(): InterceptMapMessage | undefined {
  for (;;) {
    const m = receiveMessageOnPort(d.port);
    if (m) return m.message as InterceptMapMessage;
    const seq = cb.wakeSeq(d.index);
    const ps = cb.partitionState();
    if (ps === PartitionState.Stopping || ps === PartitionState.Stopped) return undefined;
    cb.parkVp(d.index, seq, 5);
  }
}

try {
  const map = deviceMap();
  if (map) {
    const channels = new ChannelRegisters(d.channelTable, map.channels, (line, level) => plic.setLine(line, level), () => cb.ringDoorbell());
    new VirtualProcessor({ index: d.index, hart, cb, plic, plicWindow: VIRT_MAP.plic, ramBase: d.ramBase, ramSize: d.ramSize, now, clock: () => process.hrtime.bigint(), threadCpuTime, sink: new MailboxSink(cb, d.index, map.ranges), channels }).run();
  }
} catch (e) {
  const message: VpThreadMessage = { type: 'error', index: d.index, message: (e as Error).stack ?? String(e) };
  d.port.postMessage(message);
} finally {
  cb.setVpState(d.index, VpState.Halted);
  cb.ringDoorbell();
  d.port.close();
}
