// The RV64GC hart: the whole interface of the hardware layer to the rest of tshv.
//
// One wasm instance is one hart. All instances of a VM import the same shared memory; each
// owns a state block there (layout: state.ts, generated from src/cpu/state-table.mjs) and
// keeps only caches in its own wasm globals. The host drives it with:
//
//   init(stateBase, ramBase, ramSize, ramHost)   once per instance
//   reset(hartId, pc, priv)                      architectural reset
//   run(budget) -> exit                          execute until an exit (exits.ts)
//   mmioComplete(value) / mmioFault()            finish an MMIO exit
//   flushTlb()                                   after the host changed guest page tables
//   csrGet(n) / csrSet(n, v)                     CSR access for the hypervisor (no checks)
//   canWake(now) -> bool                         would an interrupt end a WFI at time now
//
// Registers, pc, privilege and the exit record are read and written in the state block.
// Other threads raise interrupt lines with Atomics.or on IRQ_LINES, and ask for a TLB
// flush or an early return with TLB_FLUSH_REQ / STOP_REQ.

import {
  PC, PRIV, MSTATUS, MISA, MHARTID, MTIMECMP, STIMECMP, RESERVATION_ADDR, EXIT_ADDR,
  EXIT_WIDTH, EXIT_RD, EXIT_INST_LEN, INSTRET, TLB_FLUSH_REQ, STOP_REQ,
} from './state';
import {
  S, pc, priv, icount, limit, unretired, attach, get, put, xw, fw, setPriv, modeChanged,
  flushTlb as flushAll, PRV_M,
} from './hart';
import {
  clearExcepted, takePendingInterrupt, updateTimers, wakeupPending, raiseException,
  CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS,
} from './trap';
import { runSlice } from './execute';
import { fillExpansionTable } from './rvc';
import { csrRead, csrWrite, MISA_VALUE } from './csr';
import { hostTime, commitRetired } from './clock';
import { exitReason, setExit, clearExit, EXIT_NONE, EXIT_BUDGET, EXIT_MMIO_LOAD } from './exits';
import { boxSingle } from './fp';

/** Instructions between two looks at timers, interrupts and requests from other threads. */
const SLICE: i32 = 8192;

export function init(stateBase: u32, ramBase: u64, ramSize: u64, ramHost: u64): void {
  attach(stateBase, ramBase, ramSize, ramHost);
  fillExpansionTable();
  flushAll();
}

/** Architectural reset (privileged spec 3.4): everything zero but what the spec fixes. */
export function reset(hartId: u64, startPc: u64, startPriv: u32): void {
  memory.fill(S, 0, TLB_FLUSH_REQ); // registers, CSRs, exit record, config
  put(MISA, MISA_VALUE);
  put(MSTATUS, (<u64>2 << 32) | (<u64>2 << 34)); // UXL = SXL = 64-bit
  put(MHARTID, hartId);
  put(MTIMECMP, <u64>-1);
  put(STIMECMP, <u64>-1);
  put(RESERVATION_ADDR, <u64>-1);
  put(PC, startPc);
  put(PRIV, startPriv);
  pc = startPc;
  setPriv(startPriv);
  flushAll();
}

/** Runs at most `budget` instructions; returns the exit (exits.ts). */
export function run(budget: i32): u32 {
  pc = get(PC);
  priv = <u32>get(PRIV);
  modeChanged();
  clearExit();
  clearExcepted();
  icount = 0;
  unretired = 0;
  while (true) {
    if (atomic.load<u32>(S + TLB_FLUSH_REQ) != 0) {
      atomic.store<u32>(S + TLB_FLUSH_REQ, 0);
      flushAll();
    }
    if (atomic.load<u32>(S + STOP_REQ) != 0 || icount >= budget) { setExit(EXIT_BUDGET); break; }
    updateTimers(hostTime());
    takePendingInterrupt();
    limit = budget - icount < SLICE ? budget : icount + SLICE;
    runSlice();
    if (exitReason != EXIT_NONE) break;
  }
  put(PC, pc);
  put(PRIV, priv);
  xw(0, 0); // the loop zeroes x0 before each instruction; the state block shows it zero too
  commitRetired();
  icount = 0;
  unretired = 0;
  return exitReason;
}

/**
 * Completes the intercepted MMIO access: a load's value goes to its destination register
 * (sign-extended or NaN-boxed as the instruction asked); the instruction then retires.
 */
export function mmioComplete(value: u64): void {
  if (exitReason == EXIT_MMIO_LOAD) {
    const info = <u32>get(EXIT_RD);
    const width = <u32>get(EXIT_WIDTH);
    const rd = info & 31;
    let v = width == 8 ? value : value & ((<u64>1 << (8 * width)) - 1);
    if (info & (1 << 6)) v = <u64>((<i64>(v << (64 - 8 * width))) >> (64 - 8 * width));
    if (info & (1 << 5)) fw(rd, width == 4 ? boxSingle(<u32>v) : v);
    else if (rd != 0) xw(rd, v);
  }
  put(PC, get(PC) + get(EXIT_INST_LEN));
  put(INSTRET, get(INSTRET) + 1);
  clearExit();
}

/** Nothing answers at the intercepted address: the guest takes an access fault (3.7.1). */
export function mmioFault(): void {
  pc = get(PC);
  priv = <u32>get(PRIV);
  modeChanged();
  raiseException(exitReason == EXIT_MMIO_LOAD ? CAUSE_LOAD_ACCESS : CAUSE_STORE_ACCESS, get(EXIT_ADDR));
  clearExcepted();
  put(PC, pc);
  put(PRIV, priv);
  clearExit();
}

/** Drops every cached translation. */
export function flushTlb(): void { flushAll(); }

/** Reads a CSR for the hypervisor, without privilege checks. */
export function csrGet(csr: u32): u64 {
  const saved = priv;
  priv = PRV_M;
  const v = csrRead(csr);
  priv = saved;
  return v;
}

/** Writes a CSR for the hypervisor, without privilege checks. */
export function csrSet(csr: u32, value: u64): void {
  const saved = priv;
  priv = PRV_M;
  csrWrite(csr, value);
  priv = saved;
  modeChanged();
}

/** True if an interrupt is (or at time `now` will be) pending and enabled: a WFI would end. */
export function canWake(now: u64): bool {
  updateTimers(now);
  return wakeupPending();
}

// --- for translated code (src/cpu/jit/codegen.ts imports these) -----------------------------
// The loop's state a translation reads and writes, and the slow paths it calls, exactly as
// the interpreter's fast paths do (execute.ts).
export { S, pc, icount, limit, tlbLoad, tlbStore } from './hart';
export { excepted } from './trap';
export { loadSlow, storeSlow } from './mmu';
export { mulh, mulhu, mulhsu } from './muldiv';
export { enableTranslation, installTranslation } from './jit';
