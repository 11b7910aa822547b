// Traps: synchronous exceptions and interrupts (privileged spec 1.12, sections 3.1.6,
// 3.1.8-3.1.9, 3.3, 4.1.1). A guest fault is always delivered to the guest; nothing here
// ever throws to the host.

import {
  MSTATUS, MEDELEG, MIDELEG, MIE, MIP, MTVEC, MEPC, MCAUSE, MTVAL, STVEC, SEPC, SCAUSE, STVAL,
  IRQ_LINES, MENVCFG, STIMECMP, MTIMECMP,
} from './state';
import { S, get, put, pc, priv, rawInst, setPriv, PRV_S, PRV_M, countUnretired, endSlice } from './hart';

// Exception causes (table 3.6).
@inline export const CAUSE_FETCH_MISALIGNED: u64 = 0;
@inline export const CAUSE_FETCH_ACCESS: u64 = 1;
@inline export const CAUSE_ILLEGAL: u64 = 2;
@inline export const CAUSE_BREAKPOINT: u64 = 3;
@inline export const CAUSE_LOAD_MISALIGNED: u64 = 4;
@inline export const CAUSE_LOAD_ACCESS: u64 = 5;
@inline export const CAUSE_STORE_MISALIGNED: u64 = 6;
@inline export const CAUSE_STORE_ACCESS: u64 = 7;
@inline export const CAUSE_ECALL_U: u64 = 8;
@inline export const CAUSE_FETCH_PAGE: u64 = 12;
@inline export const CAUSE_LOAD_PAGE: u64 = 13;
@inline export const CAUSE_STORE_PAGE: u64 = 15;

// mip/mie bits (figure 3.14).
@inline export const SSIP: u64 = 1 << 1;
@inline export const MSIP: u64 = 1 << 3;
@inline export const STIP: u64 = 1 << 5;
@inline export const MTIP: u64 = 1 << 7;
@inline export const SEIP: u64 = 1 << 9;
@inline export const MEIP: u64 = 1 << 11;

// mstatus bits (figure 3.7).
@inline export const MS_SIE: u64 = 1 << 1;
@inline export const MS_MIE: u64 = 1 << 3;
@inline export const MS_SPIE: u64 = 1 << 5;
@inline export const MS_MPIE: u64 = 1 << 7;
@inline export const MS_SPP: u64 = 1 << 8;
@inline export const MS_MPP_SHIFT: u64 = 11;
@inline export const MS_MPP: u64 = 3 << 11;
@inline export const MS_FS: u64 = 3 << 13;
@inline export const MS_MPRV: u64 = 1 << 17;
@inline export const MS_SUM: u64 = 1 << 18;
@inline export const MS_MXR: u64 = 1 << 19;
@inline export const MS_TVM: u64 = 1 << 20;
@inline export const MS_TW: u64 = 1 << 21;
@inline export const MS_TSR: u64 = 1 << 22;
@inline export const MS_SD: u64 = 1 << 63;

/** Set when the current instruction trapped or exited: the loop must not complete it. */
export let excepted: bool = false;
export function clearExcepted(): void { excepted = false; }
/** Marks the current instruction as stopped without a guest trap (an exit to the host). */
export function stopInstruction(): void { excepted = true; countUnretired(); endSlice(); }

/** Timer interrupts computed at the last slice boundary (MTIP and, with Sstc, STIP). */
export let timerPending: u64 = 0;

/** Compares the timers with `now` (priv spec 3.2.1 mtimecmp; Sstc stimecmp). */
export function updateTimers(now: u64): void {
  let p: u64 = 0;
  if (now >= get(MTIMECMP)) p |= MTIP;
  if ((get(MENVCFG) >> 63) != 0 && now >= get(STIMECMP)) p |= STIP;
  timerPending = p;
}

/** The effective mip: software bits, lines raised by the host, timers. */
export function pendingInterrupts(): u64 {
  // An SSIP line from another hart (an IPI) is an edge: it becomes the software-writable
  // SSIP bit, which the guest then clears through sip (4.1.3).
  if ((atomic.load<u32>(S + IRQ_LINES) & <u32>SSIP) != 0) {
    atomic.and<u32>(S + IRQ_LINES, ~(<u32>SSIP));
    put(MIP, get(MIP) | SSIP);
  }
  let sw = get(MIP);
  // With Sstc enabled STIP reflects stimecmp only (Sstc spec: STIP becomes read-only).
  if ((get(MENVCFG) >> 63) != 0) sw &= ~STIP;
  return sw | <u64>atomic.load<u32>(S + IRQ_LINES) | timerPending;
}

/** Raises a synchronous exception for the current instruction (at pc). */
export function raiseException(cause: u64, tval: u64): void {
  excepted = true;
  countUnretired();
  takeTrap(cause, tval, false);
}

/** Illegal instruction: mtval/stval hold the instruction's bits as fetched (3.1.16). */
export function raiseIllegal(): void { raiseException(CAUSE_ILLEGAL, <u64>rawInst); }

/** Enters the trap handler: delegation, cause, epc, tval, status stack, vector. */
export function takeTrap(cause: u64, tval: u64, interrupt: bool): void {
  const deleg = interrupt ? get(MIDELEG) : get(MEDELEG);
  let ms = get(MSTATUS);
  if (priv <= PRV_S && ((deleg >> cause) & 1) != 0) {
    put(SCAUSE, interrupt ? cause | (<u64>1 << 63) : cause);
    put(SEPC, pc);
    put(STVAL, tval);
    // SPIE <- SIE, SIE <- 0, SPP <- priv (4.1.1)
    ms = (ms & ~(MS_SPIE | MS_SIE | MS_SPP)) | ((ms & MS_SIE) << 4) | (<u64>priv << 8);
    put(MSTATUS, ms);
    const tvec = get(STVEC);
    pc = (tvec & ~(<u64>3)) + ((interrupt && (tvec & 1) != 0) ? cause << 2 : 0);
    setPriv(PRV_S);
  } else {
    put(MCAUSE, interrupt ? cause | (<u64>1 << 63) : cause);
    put(MEPC, pc);
    put(MTVAL, tval);
    // MPIE <- MIE, MIE <- 0, MPP <- priv (3.1.6.1)
    ms = (ms & ~(MS_MPIE | MS_MIE | MS_MPP)) | ((ms & MS_MIE) << 4) | (<u64>priv << MS_MPP_SHIFT);
    put(MSTATUS, ms);
    const tvec = get(MTVEC);
    pc = (tvec & ~(<u64>3)) + ((interrupt && (tvec & 1) != 0) ? cause << 2 : 0);
    setPriv(PRV_M);
  }
}

/**
 * Takes the highest-priority interrupt that is pending, enabled and not masked by the
 * current privilege (3.1.9: M-level interrupts are taken below M or with MIE; S-level ones
 * below S or in S with SIE, never in M). Returns true if one was taken.
 */
export function takePendingInterrupt(): bool {
  const pending = pendingInterrupts() & get(MIE);
  if (pending == 0) return false;
  const ms = get(MSTATUS);
  const mideleg = get(MIDELEG);
  let enabled: u64 = 0;
  const mLevel = pending & ~mideleg;
  if (priv < PRV_M || (ms & MS_MIE) != 0) enabled = mLevel;
  if (enabled == 0) {
    const sLevel = pending & mideleg;
    if (priv < PRV_S || (priv == PRV_S && (ms & MS_SIE) != 0)) enabled = sLevel;
  }
  if (enabled == 0) return false;
  // Priority order (3.1.9): MEI, MSI, MTI, SEI, SSI, STI.
  let cause: u64;
  if (enabled & MEIP) cause = 11;
  else if (enabled & MSIP) cause = 3;
  else if (enabled & MTIP) cause = 7;
  else if (enabled & SEIP) cause = 9;
  else if (enabled & SSIP) cause = 1;
  else cause = 5;
  takeTrap(cause, 0, true);
  return true;
}

/** WFI may finish when any interrupt is pending and enabled in mie, whatever the globals (3.3.3). */
export function wakeupPending(): bool {
  return (pendingInterrupts() & get(MIE)) != 0;
}
