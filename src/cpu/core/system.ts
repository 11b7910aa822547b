// The SYSTEM opcode: environment calls and breakpoints, trap returns, WFI, SFENCE.VMA
// (privileged spec 1.12 section 3.3, 4.2.1) and the Zicsr instructions (unprivileged
// chapter 9). Every path sets pc itself.

import { MSTATUS, MEPC, SEPC, CFG_SBI } from './state';
import {
  get, put, pc, priv, setPriv, xr, xw, flushTlb, flushTlbPage, superpagesCached, endSlice,
  PRV_U, PRV_S, PRV_M,
} from './hart';
import {
  raiseException, raiseIllegal, wakeupPending, CAUSE_BREAKPOINT, CAUSE_ECALL_U,
  MS_SIE, MS_MIE, MS_SPIE, MS_MPIE, MS_SPP, MS_MPP, MS_MPRV, MS_TVM, MS_TW, MS_TSR, MS_MPP_SHIFT,
} from './trap';
import { csrAllowed, csrRead, csrWrite, csrIllegal } from './csr';
import { setExit, EXIT_HYPERCALL, EXIT_WFI } from './exits';

export function execSystem(inst: u32, len: u64): void {
  const f3 = (inst >> 12) & 7;
  if (f3 == 0) { execPrivileged(inst, len); return; }
  if (f3 == 4) { raiseIllegal(); return; }
  execCsr(inst, f3, len);
}

function execPrivileged(inst: u32, len: u64): void {
  switch (inst) {
    case 0x00000073: // ECALL
      if (priv == PRV_S && get(CFG_SBI) != 0) {
        // The hypervisor implements SBI: the call is a hypercall exit (ARCHITECTURE.md path 1).
        pc += len;
        setExit(EXIT_HYPERCALL);
        endSlice();
        return;
      }
      raiseException(CAUSE_ECALL_U + <u64>priv, 0);
      return;
    case 0x00100073: // EBREAK: mtval = pc of the breakpoint (3.1.16)
      raiseException(CAUSE_BREAKPOINT, pc);
      return;
    case 0x30200073: mret(); return;
    case 0x10200073: sret(); return;
    case 0x10500073: wfi(len); return;
  }
  // SFENCE.VMA rs1, rs2: funct7 0001001, rd = 0.
  if ((inst >> 25) == 0x09 && ((inst >> 7) & 31) == 0) {
    if (priv == PRV_U || (priv == PRV_S && (get(MSTATUS) & MS_TVM) != 0)) { raiseIllegal(); return; }
    const rs1 = (inst >> 15) & 31;
    // Entries are not tagged by ASID, so an ASID-specific fence flushes as much as a global one.
    // A 4 KiB entry cut from a superpage is found only by a full flush.
    if (rs1 == 0 || superpagesCached) flushTlb();
    else flushTlbPage(xr(rs1));
    pc += len;
    return;
  }
  raiseIllegal();
}

/** MRET (3.3.2): privilege <- MPP, MIE <- MPIE, MPIE <- 1, MPP <- U; MPRV <- 0 below M. */
function mret(): void {
  if (priv != PRV_M) { raiseIllegal(); return; }
  let ms = get(MSTATUS);
  const next = <u32>((ms & MS_MPP) >> MS_MPP_SHIFT);
  ms = (ms & ~(MS_MIE | MS_MPP)) | ((ms & MS_MPIE) >> 4) | MS_MPIE;
  if (next != PRV_M) ms &= ~MS_MPRV;
  put(MSTATUS, ms);
  pc = get(MEPC);
  setPriv(next);
  endSlice();
}

/** SRET (3.3.2, 3.1.6.5 TSR): privilege <- SPP, SIE <- SPIE, SPIE <- 1, SPP <- U. */
function sret(): void {
  let ms = get(MSTATUS);
  if (priv == PRV_U || (priv == PRV_S && (ms & MS_TSR) != 0)) { raiseIllegal(); return; }
  const next: u32 = (ms & MS_SPP) != 0 ? PRV_S : PRV_U;
  ms = (ms & ~(MS_SIE | MS_SPP)) | ((ms & MS_SPIE) >> 4) | MS_SPIE;
  ms &= ~MS_MPRV; // the new privilege is below M
  put(MSTATUS, ms);
  pc = get(SEPC);
  setPriv(next);
  endSlice();
}

/**
 * WFI (3.3.3): illegal in U-mode, and in S-mode when mstatus.TW is set (we never let it
 * time out). Otherwise it completes; if nothing can wake the hart, run() exits so the host
 * can park this VP until an interrupt is due.
 */
function wfi(len: u64): void {
  if (priv == PRV_U || (priv == PRV_S && (get(MSTATUS) & MS_TW) != 0)) { raiseIllegal(); return; }
  pc += len;
  if (!wakeupPending()) { setExit(EXIT_WFI); endSlice(); }
}

/** CSRRW/CSRRS/CSRRC and the immediate forms (9.1). */
function execCsr(inst: u32, f3: u32, len: u64): void {
  const csr = inst >> 20;
  const rd = (inst >> 7) & 31;
  const src = (inst >> 15) & 31;                       // rs1, or the 5-bit uimm
  const operand: u64 = f3 >= 5 ? <u64>src : xr(src);
  const op = f3 & 3;                                   // 1 write, 2 set, 3 clear
  // CSRRS/CSRRC with rs1 = x0 (or uimm = 0) do not write and have no write side effects.
  const writes = op == 1 || src != 0;
  if (!csrAllowed(csr, writes)) { raiseIllegal(); return; }
  const old = csrRead(csr);
  if (csrIllegal) { raiseIllegal(); return; }
  if (writes) {
    const value = op == 1 ? operand : op == 2 ? old | operand : old & ~operand;
    csrWrite(csr, value);
    if (csrIllegal) { raiseIllegal(); return; }
  }
  xw(rd, old);
  pc += len;
}
