// The goldfish RTC's saved state (devices/state.ts contract).
import { StateReader } from '../../../state/contract.js';

const U64 = (1n << 64n) - 1n;

export interface GoldfishRtcState {
  version: 1;
  /** Guest time minus host time, ns (signed). */
  offsetNs: string;
  alarmNs: string;
  alarmArmed: boolean;
  irqEnabled: boolean;
  irqPending: boolean;
  timeHighLatch: number;
}

/** The registers' values, as restore() applies them. */
export interface GoldfishRtcRegisters {
  offsetNs: bigint;
  alarmNs: bigint;
  alarmArmed: boolean;
  irqEnabled: boolean;
  irqPending: boolean;
  timeHighLatch: number;
}

export function saveRtc(r: GoldfishRtcRegisters): GoldfishRtcState {
  return {
    version: 1, offsetNs: r.offsetNs.toString(), alarmNs: r.alarmNs.toString(), alarmArmed: r.alarmArmed,
    irqEnabled: r.irqEnabled, irqPending: r.irqPending, timeHighLatch: r.timeHighLatch,
  };
}

/** Validates a saved state as untrusted input; throws StateError naming the field. */
export function parseRtcState(state: unknown): GoldfishRtcRegisters {
  const r = new StateReader('goldfish-rtc', state, 1);
  return {
    offsetNs: r.bigint('offsetNs', -U64, U64),
    alarmNs: r.bigint('alarmNs', 0n, U64),
    alarmArmed: r.bool('alarmArmed'),
    irqEnabled: r.bool('irqEnabled'),
    irqPending: r.bool('irqPending'),
    timeHighLatch: r.int('timeHighLatch', 0, 0xffffffff),
  };
}
