// The parent's side of the intercept mailbox for intercept.test.ts, on its own thread: it
// drains a VP's posted stores in order into a register file and answers MMIO loads from it,
// the way the VM worker does (src/parent/vm-worker.ts). Test-only; not part of the hypervisor.
import { workerData, parentPort } from 'node:worker_threads';
import {
  ControlBlock, Intercept, MailboxState, MailboxStatus, PartitionState, DOORBELL, MAILBOX_STATE, MAILBOX_KIND,
  MAILBOX_WIDTH, MAILBOX_STATUS, MAILBOX_ADDR64, MAILBOX_VALUE64, POSTED_HEAD, POSTED_TAIL, POSTED_RING64,
  POSTED_ENTRIES,
} from './control-block.js';

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
const b32 = cb.vp32(vp), b64 = cb.vp64(vp);
const regs = new Map<bigint, bigint>();
const log: Store[] = [];

function queued(): number {
  return (Atomics.load(cb.i32, b32 + POSTED_HEAD) - cb.i32[b32 + POSTED_TAIL]) >>> 0;
}

function drain(): void {
  const head = Atomics.load(cb.i32, b32 + POSTED_HEAD);
  let tail = cb.i32[b32 + POSTED_TAIL];
  for (; tail !== head; tail = (tail + 1) | 0) {
    const e = b64 + POSTED_RING64 + (tail & (POSTED_ENTRIES - 1)) * 3;
    const store = { addr: BigInt.asUintN(64, cb.i64[e]), value: BigInt.asUintN(64, cb.i64[e + 1]), width: Number(cb.i64[e + 2]) };
    log.push(store);
    regs.set(store.addr, store.value);
  }
  Atomics.store(cb.i32, b32 + POSTED_TAIL, tail);
  Atomics.notify(cb.i32, b32 + POSTED_TAIL);
}

function answer(): void {
  const kind: Intercept = cb.i32[b32 + MAILBOX_KIND];
  const addr = BigInt.asUintN(64, cb.i64[b64 + MAILBOX_ADDR64]);
  let status = MailboxStatus.Ok, value = 0n;
  if (kind !== Intercept.MmioLoad || addr === unmapped) status = MailboxStatus.Fault;
  else if (addr === storesDone) value = BigInt(log.length);
  else value = regs.get(addr) ?? 0n;
  cb.i32[b32 + MAILBOX_STATUS] = status;
  cb.i64[b64 + MAILBOX_VALUE64] = value;
  Atomics.store(cb.i32, b32 + MAILBOX_STATE, MailboxState.Response);
  Atomics.notify(cb.i32, b32 + MAILBOX_STATE);
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
    const request = Atomics.load(cb.i32, b32 + MAILBOX_STATE) === MailboxState.Request;
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
