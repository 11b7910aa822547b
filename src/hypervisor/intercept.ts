// The VP side of the intercept mailbox (control-block.ts): how the hypervisor hands an
// access it does not handle itself to the parent partition and waits for the answer.
import {
  ControlBlock, Intercept, MailboxState, MailboxStatus, PartitionState, MAILBOX_STATE, MAILBOX_KIND,
  MAILBOX_WIDTH, MAILBOX_STATUS, MAILBOX_ADDR64, MAILBOX_VALUE64, POSTED_HEAD, POSTED_TAIL, POSTED_RING64,
  POSTED_ENTRIES,
} from './control-block.js';

/** The parent's answer; value is its 64-bit result as an unsigned number (as the parent reads it). */
export type InterceptResult = { ok: true; value: bigint } | { ok: false };

/** Busy-wait this long for the parent's answer before sleeping (a round trip is ~10 us). */
const SPIN_MS = 0.05;

export class InterceptChannel {
  private readonly at32: number;
  private readonly at64: number;

  constructor(private readonly cb: ControlBlock, vp: number) {
    this.at32 = cb.vp32(vp);
    this.at64 = cb.vp64(vp);
  }

  /**
   * Posts one request and waits for the parent. Returns undefined if the partition is
   * stopping (the parent will not answer any more).
   */
  call(kind: Intercept, addr: bigint, width: number, value: bigint): InterceptResult | undefined {
    const { i32, i64 } = this.cb;
    i32[this.at32 + MAILBOX_KIND] = kind;
    i32[this.at32 + MAILBOX_WIDTH] = width;
    i64[this.at64 + MAILBOX_ADDR64] = addr;
    i64[this.at64 + MAILBOX_VALUE64] = value;
    Atomics.store(i32, this.at32 + MAILBOX_STATE, MailboxState.Request);
    this.cb.ringDoorbell();

    const state = this.at32 + MAILBOX_STATE;
    const spinUntil = performance.now() + SPIN_MS;
    while (Atomics.load(i32, state) === MailboxState.Request) {
      if (performance.now() < spinUntil) continue;
      Atomics.wait(i32, state, MailboxState.Request, 20);
      const p = this.cb.partitionState();
      if (p === PartitionState.Stopping || p === PartitionState.Stopped) return undefined;
    }
    const ok = i32[this.at32 + MAILBOX_STATUS] === MailboxStatus.Ok;
    const result = BigInt.asUintN(64, i64[this.at64 + MAILBOX_VALUE64]);
    Atomics.store(i32, state, MailboxState.Idle);
    return ok ? { ok: true, value: result } : { ok: false };
  }

  /**
   * Queues an MMIO store without waiting for the device (a posted write). Waits only when
   * the ring is full. Returns false if the partition is stopping.
   */
  post(addr: bigint, width: number, value: bigint): boolean {
    const { i32, i64 } = this.cb;
    const head = i32[this.at32 + POSTED_HEAD];
    for (;;) {
      const tail = Atomics.load(i32, this.at32 + POSTED_TAIL);
      if (((head - tail) >>> 0) < POSTED_ENTRIES) break;
      this.cb.ringDoorbell();
      Atomics.wait(i32, this.at32 + POSTED_TAIL, tail, 20);
      const p = this.cb.partitionState();
      if (p === PartitionState.Stopping || p === PartitionState.Stopped) return false;
    }
    const e = this.at64 + POSTED_RING64 + (head & (POSTED_ENTRIES - 1)) * 3;
    i64[e] = addr;
    i64[e + 1] = value;
    i64[e + 2] = BigInt(width);
    Atomics.store(i32, this.at32 + POSTED_HEAD, (head + 1) | 0);
    this.cb.ringDoorbell();
    return true;
  }
}
