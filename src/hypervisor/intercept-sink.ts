// Where an intercept goes: what the hypervisor does not serve itself (device registers,
// the debug console, system reset) it hands to a sink. Today's one implementation posts
// it to the VM worker through the VP's mailbox (intercept.ts: indirect I/O, the Hyper-V
// shape); serving devices in the VP thread itself (direct I/O, the ESX shape) is a second
// implementation of this interface, not a change to the VP loop.
import type { AccessWidth } from '../cpu/processor.js';

/** The answer: value is the load's result as an unsigned 64-bit number; ok false is an access fault. */
export type InterceptResult = { ok: true; value: bigint } | { ok: false };

/** Every method returns undefined when the partition is stopping (no one will answer any more). */
export interface InterceptSink {
  /** A guest load from a device register. */
  mmioLoad(addr: bigint, width: AccessWidth): InterceptResult | undefined;
  /** A guest store to a device register; it may complete before the device has acted (posted). */
  mmioStore(addr: bigint, width: AccessWidth, value: bigint): InterceptResult | undefined;
  /** SBI DBCN console_write: len bytes at guest-physical addr (checked to lie in RAM); value = bytes written. */
  consoleWrite(addr: bigint, len: bigint): InterceptResult | undefined;
  /** SBI DBCN console_read into a RAM buffer of len bytes; value = bytes read. */
  consoleRead(addr: bigint, len: bigint): InterceptResult | undefined;
  /** SBI legacy console_putchar. */
  consolePutchar(byte: number): void;
  /** SBI SRST system_reset (§10): type 0 shutdown, otherwise a reboot. */
  systemReset(type: number, reason: number): void;
}
