// The VP side of the intercept mailbox (control-block.ts): how the hypervisor hands an
// access it does not handle itself to the parent partition and waits for the answer.
import {
  ControlBlock, Intercept, MailboxState, MailboxStatus, PartitionState, MAILBOX_STATE, MAILBOX_KIND,
  MAILBOX_WIDTH, MAILBOX_STATUS, MAILBOX_ADDR64, MAILBOX_VALUE64,
} from './control-block.js';

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
    const result = i64[this.at64 + MAILBOX_VALUE64];
    Atomics.store(i32, state, MailboxState.Idle);
    return ok ? { ok: true, value: result } : { ok: false };
  }
}
