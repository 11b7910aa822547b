// Goldfish RTC (google,goldfish-rtc; Android emulator's "goldfish" platform, also on QEMU
// virt at 0x101000). Time is nanoseconds since the Unix epoch. 32-bit registers:
//
//   0x00 TIME_LOW         r: low half of now; latches the high half for TIME_HIGH
//                         w: replaces the low half of the guest's time
//   0x04 TIME_HIGH        r: the latched high half   w: replaces the high half
//   0x08 ALARM_LOW        r/w: low half of the alarm; writing it arms the alarm
//   0x0c ALARM_HIGH       r/w: high half of the alarm (write it first)
//   0x10 IRQ_ENABLED      r/w: bit 0 lets a fired alarm drive the interrupt line
//   0x14 CLEAR_ALARM      w: disarms the alarm
//   0x18 ALARM_STATUS     r: 1 while an alarm is armed
//   0x1c CLEAR_INTERRUPT  w: drops the pending interrupt
//
// The guest's time is the host clock plus an offset the guest sets by writing the time
// registers (Linux's rtc-goldfish writes TIME_HIGH, then TIME_LOW); the host clock itself
// is never changed.
//
// Alarms are polled, not timed: the VM worker's loop (vm-worker.ts) is the one place that
// decides when the worker sleeps. It calls poll() on each turn and bounds its wait for the
// doorbell (Atomics.waitAsync) by msUntilAlarm(); register accesses also check the alarm,
// so a guest that polls the device sees it fire without the worker's help.
import type { MmioDevice, Width } from '../mmio.js';
import type { Stateful } from '../../../state/contract.js';
import { parseRtcState, saveRtc, type GoldfishRtcState } from './state.js';

export type { GoldfishRtcState } from './state.js';

const TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0c, IRQ_ENABLED = 0x10,
  CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1c;

const U32 = 0xffffffffn;
const U64 = (1n << 64n) - 1n;

/** Nanoseconds since the Unix epoch from the host: wall-clock anchored, monotonic after. */
export function hostClockNs(): bigint {
  const originNs = BigInt(Math.round(performance.timeOrigin * 1000)) * 1000n;
  return originNs + BigInt(Math.round(performance.now() * 1e6));
}

export class GoldfishRtc implements MmioDevice, Stateful<GoldfishRtcState> {
  readonly name = 'goldfish-rtc';
  readonly size = 0x1000;
  private offsetNs = 0n;
  private alarmNs = 0n;
  private alarmArmed = false;
  private irqEnabled = false;
  private irqPending = false;
  private timeHighLatch = 0;
  private level = false;

  /**
   * @param irq drives the device's interrupt line (level); called only when it changes
   * @param hostNs the host clock, ns since the Unix epoch (injectable for tests)
   */
  constructor(private readonly irq: (level: boolean) => void = () => {}, private readonly hostNs: () => bigint = hostClockNs) {}

  /** The guest's current time, ns since the epoch. */
  now(): bigint { return BigInt.asUintN(64, this.hostNs() + this.offsetNs); }

  read(offset: number, width: Width): bigint {
    if (width !== 4 || offset % 4 !== 0) return 0n; // the registers are 32-bit; anything else reads as 0
    this.poll();
    switch (offset) {
      case TIME_LOW: {
        const t = this.now();
        this.timeHighLatch = Number(t >> 32n);
        return t & U32;
      }
      case TIME_HIGH: return BigInt(this.timeHighLatch);
      case ALARM_LOW: return this.alarmNs & U32;
      case ALARM_HIGH: return this.alarmNs >> 32n;
      case IRQ_ENABLED: return this.irqEnabled ? 1n : 0n;
      case ALARM_STATUS: return this.alarmArmed ? 1n : 0n;
      default: return 0n;
    }
  }

  write(offset: number, width: Width, value: bigint): void {
    if (width !== 4 || offset % 4 !== 0) return;
    const v = value & U32;
    switch (offset) {
      case TIME_LOW: this.setTime((this.now() & ~U32 & U64) | v); break;
      case TIME_HIGH: this.setTime((this.now() & U32) | (v << 32n)); break;
      case ALARM_LOW: this.alarmNs = (this.alarmNs & ~U32 & U64) | v; this.alarmArmed = true; break;
      case ALARM_HIGH: this.alarmNs = (this.alarmNs & U32) | (v << 32n); break;
      case IRQ_ENABLED: this.irqEnabled = (v & 1n) !== 0n; break;
      case CLEAR_ALARM: this.alarmArmed = false; break;
      case CLEAR_INTERRUPT: this.irqPending = false; break;
      default: return;
    }
    this.poll();
  }

  /** Fires the alarm if it is due; the VM worker calls this on every turn of its loop. */
  poll(): void {
    if (this.alarmArmed && this.now() >= this.alarmNs) {
      this.alarmArmed = false;
      this.irqPending = true;
    }
    this.update();
  }

  /** Milliseconds until the armed alarm is due (0 if overdue), or undefined if none is armed. */
  msUntilAlarm(): number | undefined {
    if (!this.alarmArmed) return undefined;
    const ns = this.alarmNs - this.now();
    return ns <= 0n ? 0 : Math.ceil(Number(ns) / 1e6);
  }

  save(): GoldfishRtcState {
    const { offsetNs, alarmNs, alarmArmed, irqEnabled, irqPending, timeHighLatch } = this;
    return saveRtc({ offsetNs, alarmNs, alarmArmed, irqEnabled, irqPending, timeHighLatch });
  }

  /** Restores saved state; validates it as untrusted input and changes nothing if it is bad. */
  restore(state: unknown): void {
    Object.assign(this, parseRtcState(state));
    this.poll();
  }

  private setTime(guestNs: bigint): void { this.offsetNs = guestNs - this.hostNs(); }

  private update(): void {
    const level = this.irqPending && this.irqEnabled;
    if (level !== this.level) { this.level = level; this.irq(level); }
  }
}
