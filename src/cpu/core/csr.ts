// Control and status registers (privileged spec 1.12 chapters 2-4; Zicntr; Sstc).
// Access rules (2.1): bits 11:10 = 3 mean read-only, bits 9:8 give the lowest privilege
// allowed. Unimplemented CSRs raise illegal instruction. Fields are WARL as noted.

import {
  FCSR, MSTATUS, MISA, MEDELEG, MIDELEG, MIE, MIP, MTVEC, MSCRATCH, MEPC, MCAUSE, MTVAL,
  MCOUNTEREN, MCOUNTINHIBIT, MENVCFG, MHARTID, PMPCFG, PMPADDR, STVEC, SSCRATCH, SEPC, SCAUSE,
  STVAL, SATP, SCOUNTEREN, SENVCFG, STIMECMP, INSTRET,
} from './state';
import { get, put, priv, PRV_U, PRV_S, PRV_M, flushTlb, modeChanged, endSlice } from './hart';
import {
  pendingInterrupts, MS_SIE, MS_MIE, MS_SPIE, MS_MPIE, MS_SPP, MS_MPP, MS_FS, MS_MPRV, MS_SUM,
  MS_MXR, MS_TVM, MS_TW, MS_TSR, MS_SD, SSIP, STIP, SEIP, MS_MPP_SHIFT,
} from './trap';
import { retiredNow, setRetired, hostTime } from './clock';

/** Set by csrRead/csrWrite when the access must raise illegal instruction. */
export let csrIllegal: bool = false;

// WARL masks.
const MSTATUS_WRITABLE: u64 = MS_SIE | MS_MIE | MS_SPIE | MS_MPIE | MS_SPP | MS_MPP | MS_FS |
  MS_MPRV | MS_SUM | MS_MXR | MS_TVM | MS_TW | MS_TSR;
/** sstatus is the S-visible part of mstatus (4.1.1), plus UXL and SD which are read-only. */
const SSTATUS_VISIBLE: u64 = MS_SIE | MS_SPIE | MS_SPP | MS_FS | MS_SUM | MS_MXR | (<u64>3 << 32) | MS_SD;
const SSTATUS_WRITABLE: u64 = MS_SIE | MS_SPIE | MS_SPP | MS_FS | MS_SUM | MS_MXR;
/** UXL = SXL = 2 (64-bit), fixed. */
const MSTATUS_XL: u64 = (<u64>2 << 32) | (<u64>2 << 34);
/** Every exception but ecall from M (11) and the reserved causes can be delegated (3.1.8). */
const MEDELEG_WRITABLE: u64 = 0xb3ff;
const MIDELEG_WRITABLE: u64 = SSIP | STIP | SEIP;
const MIE_WRITABLE: u64 = 0xaaa;
const MIP_WRITABLE: u64 = SSIP | STIP | SEIP;
const MENVCFG_WRITABLE: u64 = 0x8000000000000001; // STCE, FIOM
const STCE: u64 = 0x8000000000000000;

/** misa: MXL = 2 (RV64) and the extensions A C D F I M S U. */
export const MISA_VALUE: u64 = (<u64>2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);

/** mstatus with the derived SD bit (FS == dirty; XS and VS are always 0). */
@inline function mstatusValue(): u64 {
  const ms = get(MSTATUS);
  return (ms & MS_FS) == MS_FS ? ms | MS_SD : ms & ~MS_SD;
}

/** Counters from S and U are gated by mcounteren/scounteren (3.1.11, 4.1.5). */
function counterAllowed(index: u32): bool {
  if (priv == PRV_M) return true;
  if (((get(MCOUNTEREN) >> index) & 1) == 0) return false;
  if (priv == PRV_U && ((get(SCOUNTEREN) >> index) & 1) == 0) return false;
  return true;
}

/** Privilege and read-only checks of 2.1, before any CSR-specific rule. */
export function csrAllowed(csr: u32, writes: bool): bool {
  if (((csr >> 8) & 3) > priv) return false;
  if (writes && (csr >> 10) == 3) return false;
  return true;
}

@inline function illegal(): u64 { csrIllegal = true; return 0; }

/** Reads a CSR as the guest sees it; sets csrIllegal for unimplemented or gated CSRs. */
export function csrRead(csr: u32): u64 {
  csrIllegal = false;
  switch (csr) {
    // Floating point (11.2); inaccessible when mstatus.FS is Off.
    case 0x001: return (get(MSTATUS) & MS_FS) == 0 ? illegal() : get(FCSR) & 0x1f;
    case 0x002: return (get(MSTATUS) & MS_FS) == 0 ? illegal() : (get(FCSR) >> 5) & 7;
    case 0x003: return (get(MSTATUS) & MS_FS) == 0 ? illegal() : get(FCSR) & 0xff;
    // Zicntr: one cycle per instruction; time is the platform timebase.
    case 0xc00: return counterAllowed(0) ? retiredNow() : illegal();
    case 0xc01: return counterAllowed(1) ? hostTime() : illegal();
    case 0xc02: return counterAllowed(2) ? retiredNow() : illegal();
    // Supervisor (4.1).
    case 0x100: return mstatusValue() & SSTATUS_VISIBLE;
    case 0x104: return get(MIE) & get(MIDELEG);
    case 0x105: return get(STVEC);
    case 0x106: return get(SCOUNTEREN);
    case 0x10a: return get(SENVCFG);
    case 0x140: return get(SSCRATCH);
    case 0x141: return get(SEPC);
    case 0x142: return get(SCAUSE);
    case 0x143: return get(STVAL);
    case 0x144: return pendingInterrupts() & get(MIDELEG);
    case 0x14d: return stimecmpAllowed() ? get(STIMECMP) : illegal();
    case 0x180: return (priv == PRV_S && (get(MSTATUS) & MS_TVM) != 0) ? illegal() : get(SATP);
    // Machine information (3.1.2-3.1.5).
    case 0xf11: case 0xf12: case 0xf13: case 0xf15: return 0;
    case 0xf14: return get(MHARTID);
    // Machine trap setup and handling (3.1.6-3.1.20).
    case 0x300: return mstatusValue();
    case 0x301: return MISA_VALUE;
    case 0x302: return get(MEDELEG);
    case 0x303: return get(MIDELEG);
    case 0x304: return get(MIE);
    case 0x305: return get(MTVEC);
    case 0x306: return get(MCOUNTEREN);
    case 0x30a: return get(MENVCFG);
    case 0x320: return get(MCOUNTINHIBIT);
    case 0x340: return get(MSCRATCH);
    case 0x341: return get(MEPC);
    case 0x342: return get(MCAUSE);
    case 0x343: return get(MTVAL);
    case 0x344: return pendingInterrupts();
    case 0xb00: case 0xb02: return retiredNow();
  }
  // hpmcounter3..31 (read zero, gated), mhpmcounter3..31 and mhpmevent3..31 (zero).
  if (csr >= 0xc03 && csr <= 0xc1f) return counterAllowed(csr - 0xc00) ? 0 : illegal();
  if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) return 0;
  // PMP (3.7): pmpcfg0/2 and pmpaddr0..15 are kept; the other pmpcfg (even) and pmpaddr
  // read as zero; odd pmpcfg do not exist on RV64.
  if (csr >= 0x3a0 && csr <= 0x3af) {
    if (csr & 1) return illegal();
    return csr <= 0x3a2 ? get(PMPCFG + ((csr - 0x3a0) >> 1) * 8) : 0;
  }
  if (csr >= 0x3b0 && csr <= 0x3ef) return csr < 0x3c0 ? get(PMPADDR + (csr - 0x3b0) * 8) : 0;
  return illegal();
}

/** Sstc: S-mode may touch stimecmp only with menvcfg.STCE and mcounteren.TM (Sstc 1.0). */
function stimecmpAllowed(): bool {
  if (priv == PRV_M) return true;
  return (get(MENVCFG) & STCE) != 0 && (get(MCOUNTEREN) & 2) != 0;
}

/** Marks FP state dirty (mstatus.FS = 3), as any instruction writing FP state must (3.1.6.6). */
@inline export function fpDirty(): void { put(MSTATUS, get(MSTATUS) | MS_FS); }

/** Writes a CSR whose read succeeded; WARL fields keep only legal values. */
export function csrWrite(csr: u32, v: u64): void {
  csrIllegal = false;
  switch (csr) {
    case 0x001: put(FCSR, (get(FCSR) & ~(<u64>0x1f)) | (v & 0x1f)); fpDirty(); return;
    case 0x002: put(FCSR, (get(FCSR) & 0x1f) | ((v & 7) << 5)); fpDirty(); return;
    case 0x003: put(FCSR, v & 0xff); fpDirty(); return;
    case 0x100: writeStatus((get(MSTATUS) & ~SSTATUS_WRITABLE) | (v & SSTATUS_WRITABLE)); return;
    case 0x104: { const m = get(MIDELEG); put(MIE, (get(MIE) & ~m) | (v & m)); endSlice(); return; }
    case 0x105: put(STVEC, legalTvec(v)); return;
    case 0x106: put(SCOUNTEREN, v & 0xffffffff); return;
    case 0x10a: put(SENVCFG, v & 1); return;
    case 0x140: put(SSCRATCH, v); return;
    case 0x141: put(SEPC, v & ~(<u64>1)); return;
    case 0x142: put(SCAUSE, v); return;
    case 0x143: put(STVAL, v); return;
    case 0x144: { // only SSIP is writable through sip (4.1.3)
      const m = get(MIDELEG) & SSIP;
      put(MIP, (get(MIP) & ~m) | (v & m)); endSlice(); return;
    }
    case 0x14d: put(STIMECMP, v); endSlice(); return;
    case 0x180: writeSatp(v); return;
    case 0x300: writeStatus(v); return;
    case 0x301: return; // misa is fixed
    case 0x302: put(MEDELEG, v & MEDELEG_WRITABLE); return;
    case 0x303: put(MIDELEG, v & MIDELEG_WRITABLE); endSlice(); return;
    case 0x304: put(MIE, v & MIE_WRITABLE); endSlice(); return;
    case 0x305: put(MTVEC, legalTvec(v)); return;
    case 0x306: put(MCOUNTEREN, v & 0xffffffff); return;
    case 0x30a: put(MENVCFG, v & MENVCFG_WRITABLE); endSlice(); return;
    case 0x320: put(MCOUNTINHIBIT, v & 0xfffffffd); return;
    case 0x340: put(MSCRATCH, v); return;
    case 0x341: put(MEPC, v & ~(<u64>1)); return;
    case 0x342: put(MCAUSE, v); return;
    case 0x343: put(MTVAL, v); return;
    case 0x344: put(MIP, v & MIP_WRITABLE); endSlice(); return;
    case 0xb00: case 0xb02: setRetired(v); return;
  }
  if (csr >= 0x3a0 && csr <= 0x3a2) { put(PMPCFG + ((csr - 0x3a0) >> 1) * 8, v); return; }
  if (csr >= 0x3b0 && csr < 0x3c0) { put(PMPADDR + (csr - 0x3b0) * 8, v & 0x3fffffffffffff); return; }
  // The remaining implemented CSRs (counters, hpm*, upper pmp) ignore writes.
}

/** mtvec/stvec: MODE 0 (direct) or 1 (vectored); reserved modes fall back to direct. */
@inline function legalTvec(v: u64): u64 { return (v & 3) >= 2 ? v & ~(<u64>3) : v; }

function writeStatus(v: u64): void {
  const old = get(MSTATUS);
  let next = (old & ~MSTATUS_WRITABLE) | (v & MSTATUS_WRITABLE) | MSTATUS_XL;
  // MPP is WARL over {U, S, M}: the reserved value 2 leaves it unchanged.
  if (((next >> MS_MPP_SHIFT) & 3) == 2) next = (next & ~MS_MPP) | (old & MS_MPP);
  put(MSTATUS, next & ~MS_SD);
  // TLB entries carry SUM/MXR permission decisions; MPRV/MPP only select a TLB set.
  if (((old ^ next) & (MS_SUM | MS_MXR)) != 0) flushTlb();
  modeChanged();
  endSlice();
}

function writeSatp(v: u64): void {
  if (priv == PRV_S && (get(MSTATUS) & MS_TVM) != 0) { csrIllegal = true; return; }
  const mode = v >> 60;
  // Unsupported MODE: the whole write has no effect (4.1.11).
  if (mode != 0 && mode != 8 && mode != 9) return;
  put(SATP, v); // MODE, ASID (ASIDLEN = 16) and PPN are all writable
  flushTlb();
  modeChanged();
}
