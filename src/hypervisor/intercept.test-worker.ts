// The parent's side of the intercept mailbox for intercept.test.ts, on its own thread: it
// drains a VP's posted stores in order into a register file and answers MMIO loads from it,
// the way the VM worker does (with the same InterceptService). Test-only; not part of the hypervisor.
import { workerData, parentPort } from 'node:worker_threads';
import { ControlBlock, PartitionState, DOORBELL, POSTED_ENTRIES } from './control-block.js';
import { InterceptService, MailboxOp } from './intercept.js';

export interface ParentData {
  control: SharedArrayBuffer;
  vp: number;
  /** Loads from here answer how many posted stores the parent has performed. */
  storesDone: bigint;
  /** Loads from here fault. */
  unmapped: bigint;
  /**
   * 'eager': drain and answer at once. 'lazy': drain only a full ring (or before answering),
   * so the VP must wait for room. 'stop': answer nothing; on a request or a full ring, set
   * the partition Stopping instead, like a parent shutting the VM down.
   */
  mode: 'eager' | 'lazy' | 'stop';
}

export interface Store { addr: bigint; value: bigint; width: number }

const { control, vp, mode, storesDone, unmapped } = workerData as ParentData;
const cb = new ControlBlock(control);

const regs = new Map<bigint, bigint>();
const log: Store[] = [];

const service = new InterceptService(cb, vp);
const queued = (): number => service.queuedStores;

function drain(): void {
  service.drainStores((addr, width, value) => {
    log.push({ addr, value, width });
    regs.set(addr, value);
  });
}

function answer(): void {
  const req = service.request();
  if (!req) return;
  if (req.kind !== MailboxOp.MmioLoad || req.addr === unmapped) service.respond(false);
  else if (req.addr === storesDone) service.respond(true, BigInt(log.length));
  else service.respond(true, regs.get(req.addr) ?? 0n);
}

/** The test thread blocks in call() and post(): never leave it waiting for ever. */
const GIVE_UP_MS = 20_000;

function serve(): void {
  const giveUp = performance.now() + GIVE_UP_MS;
  for (;;) {
    const seq = Atomics.load(cb.i32, DOORBELL);
    const ps = cb.partitionState();
    if (ps === PartitionState.Stopping || ps === PartitionState.Stopped) return;
    if (performance.now() > giveUp) { cb.setPartitionState(PartitionState.Stopping); return; }
    const request = service.request() !== undefined;
    if (mode === 'stop') {
      if (request || queued() >= POSTED_ENTRIES) cb.setPartitionState(PartitionState.Stopping);
    } else {
      // Stores posted before a request are performed before it is answered.
      if (mode === 'eager' || request || queued() >= POSTED_ENTRIES) drain();
      if (request) answer();
    }
    Atomics.wait(cb.i32, DOORBELL, seq, 50);
  }
}

try {
  serve();
} finally {
  cb.setPartitionState(PartitionState.Stopping); // an exception here must not hang the VP side
}
parentPort!.postMessage(log);
