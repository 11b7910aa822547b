// Address translation (privileged spec 1.12, sections 4.3-4.5: Sv39 and Sv48), the software
// TLB's slow paths, and the exits for accesses outside RAM.
//
// The fast paths live in execute.ts: a load hashes its virtual page into a direct-mapped
// TLB entry [tag = page address][addend = host offset - virtual address] and, when
// (va ^ tag) <= 4096 - size, reads host memory at va + addend. Everything else comes here:
// misses, page crossings, faults, MMIO and the HTIF tohost page.

import {
  SATP, MSTATUS, CFG_TOHOST, EXIT_ADDR, EXIT_VALUE, EXIT_WIDTH, EXIT_RD, EXIT_INST_LEN,
  TLB_ENTRIES, TLB_ENTRY_BYTES, WRITTEN_LOG_OFFSET,
} from './state';
import {
  get, put, pc, priv, dataPriv, ramBase, ramSize, ramHost, tlbLoad, tlbStore, tlbFetch,
  noteSuperpage, setFetchPage, PRV_U, PRV_S, PRV_M,
} from './hart';
import {
  excepted, raiseException, stopInstruction, CAUSE_FETCH_ACCESS, CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS,
  CAUSE_FETCH_PAGE, CAUSE_LOAD_PAGE, CAUSE_STORE_PAGE, MS_SUM, MS_MXR,
} from './trap';
import { EXIT_MMIO_LOAD, EXIT_MMIO_STORE, EXIT_HTIF, setExit, stopAfterInstruction } from './exits';
import { codeWritten } from './jit';

// Access kinds.
@inline export const ACC_LOAD: u32 = 0;
@inline export const ACC_STORE: u32 = 1;
@inline export const ACC_FETCH: u32 = 2;

// PTE bits (4.3.1, figure 4.18).
@inline const PTE_V: u64 = 1 << 0;
@inline const PTE_R: u64 = 1 << 1;
@inline const PTE_W: u64 = 1 << 2;
@inline const PTE_X: u64 = 1 << 3;
@inline const PTE_U: u64 = 1 << 4;
@inline const PTE_A: u64 = 1 << 6;
@inline const PTE_D: u64 = 1 << 7;
/** Bits 63:54: Svnapot N, Svpbmt PBMT and reserved. Not implemented, so they must be zero. */
@inline const PTE_RESERVED: u64 = 0xffc0000000000000;

@inline function pageFault(acc: u32): u64 {
  return acc == ACC_LOAD ? CAUSE_LOAD_PAGE : acc == ACC_STORE ? CAUSE_STORE_PAGE : CAUSE_FETCH_PAGE;
}
@inline function accessFault(acc: u32): u64 {
  return acc == ACC_LOAD ? CAUSE_LOAD_ACCESS : acc == ACC_STORE ? CAUSE_STORE_ACCESS : CAUSE_FETCH_ACCESS;
}

/** True when [pa, pa + size) lies inside guest RAM. */
@inline export function inRam(pa: u64, size: u64): bool {
  return pa - ramBase < ramSize && pa - ramBase + size <= ramSize;
}
/** Host offset of a guest-physical RAM address. */
@inline export function hostOf(pa: u64): u32 { return <u32>(pa - ramBase + ramHost); }

/**
 * Logs that the RAM page holding pa may have been written (the written-page log, one bit
 * per page, docs/state.md): a save leaves out the pages never written, without reading
 * them. Every store path of the core calls it before the store (the store TLB only on a
 * fill: a page reachable through it is logged already); atomically, as other harts log
 * bits of the same word. pa must be in RAM.
 */
@inline export function logWrite(pa: u64): void {
  const page = <u32>((pa - ramBase) >> 12);
  atomic.or<u32>(WRITTEN_LOG_OFFSET + ((page >> 5) << 2), <u32>1 << (page & 31));
}

/** Level of the leaf found by the last successful walk (0 = 4 KiB page). */
let leafLevel: u32 = 0;

/**
 * Translates va for an access of the given kind at privilege p, setting A/D bits as the
 * hardware does (4.3.2 step 7, the Svade-less behaviour). On a fault, raises it and sets
 * `excepted`; the returned value is then meaningless.
 */
export function translate(va: u64, acc: u32, p: u32): u64 {
  leafLevel = 0;
  const satp = get(SATP);
  const mode = satp >> 60;
  if (p == PRV_M || mode == 0) return va;
  const levels: u32 = mode == 8 ? 3 : 4;
  const vaBits: u64 = levels == 3 ? 39 : 48;
  // Bits 63:vaBits must all equal bit vaBits-1 (4.4.1).
  if (((<i64>(va << (64 - vaBits))) >> (64 - vaBits)) != <i64>va) {
    raiseException(pageFault(acc), va);
    return 0;
  }
  const ms = get(MSTATUS);
  let table = (satp & 0xfffffffffff) << 12;
  for (let level = <i32>levels - 1; level >= 0; level--) {
    const pteAddr = table + (((va >> (12 + 9 * <u64>level)) & 0x1ff) << 3);
    if (!inRam(pteAddr, 8)) { raiseException(accessFault(acc), va); return 0; }
    const host = hostOf(pteAddr);
    let pte = atomic.load<u64>(host);
    if ((pte & PTE_V) == 0 || ((pte & PTE_R) == 0 && (pte & PTE_W) != 0) || (pte & PTE_RESERVED) != 0) {
      raiseException(pageFault(acc), va);
      return 0;
    }
    const ppn = (pte >> 10) & 0xfffffffffff;
    if ((pte & (PTE_R | PTE_X)) == 0) {           // pointer to the next level
      table = ppn << 12;
      continue;
    }
    // Leaf: permissions (4.3.2 step 5).
    let ok: bool;
    if (acc == ACC_FETCH) ok = (pte & PTE_X) != 0;
    else if (acc == ACC_LOAD) ok = (pte & PTE_R) != 0 || ((ms & MS_MXR) != 0 && (pte & PTE_X) != 0);
    else ok = (pte & PTE_W) != 0;
    if ((pte & PTE_U) != 0) {
      if (p == PRV_S && (acc == ACC_FETCH || (ms & MS_SUM) == 0)) ok = false;
    } else if (p == PRV_U) ok = false;
    // A superpage's ppn must be aligned to its size (step 6).
    const lowMask: u64 = (<u64>1 << (9 * <u64>level)) - 1;
    if (!ok || (ppn & lowMask) != 0) { raiseException(pageFault(acc), va); return 0; }
    // Hardware A/D update, atomic with respect to other harts (step 7).
    const want = pte | PTE_A | (acc == ACC_STORE ? PTE_D : 0);
    if (want != pte) {
      logWrite(pteAddr);
      const seen = atomic.cmpxchg<u64>(host, pte, want);
      if (seen != pte) { level++; continue; } // the PTE changed under us: walk this level again
      codeWritten(pteAddr);
      pte = want;
    }
    leafLevel = <u32>level;
    const pagePpn = ppn | ((va >> 12) & lowMask);
    return (pagePpn << 12) | (va & 0xfff);
  }
  raiseException(pageFault(acc), va);
  return 0;
}

/** Fills the TLB entry for va's page with the RAM page at pa (no-op for non-RAM). */
function fill(tlb: u32, va: u64, pa: u64): void {
  if (!inRam(pa & ~(<u64>0xfff), 4096)) return;
  const page = va & ~(<u64>0xfff);
  const e = tlb + ((<u32>(va >> 12) & (TLB_ENTRIES - 1)) * TLB_ENTRY_BYTES);
  store<u64>(e, page);
  store<u64>(e, (pa & ~(<u64>0xfff)) - ramBase + ramHost - page, 8);
  if (leafLevel != 0) noteSuperpage();
}

/** True when pa is in the page holding the HTIF tohost word (those stores must be seen). */
@inline function isTohostPage(pa: u64): bool {
  const t = get(CFG_TOHOST);
  return t != 0 && ((pa ^ t) >> 12) == 0;
}

// --- loads ----------------------------------------------------------------------------------

/** Reads size bytes at host offset h (zero-extended). */
@inline function readHost(h: u32, size: u32): u64 {
  if (size == 8) return load<u64>(h);
  if (size == 4) return <u64>load<u32>(h);
  if (size == 2) return <u64>load<u16>(h);
  return <u64>load<u8>(h);
}
@inline function writeHost(h: u32, size: u32, v: u64): void {
  if (size == 8) store<u64>(h, v);
  else if (size == 4) store<u32>(h, <u32>v);
  else if (size == 2) store<u16>(h, <u16>v);
  else store<u8>(h, <u8>v);
}

/**
 * The slow path of every load: TLB miss, page-crossing (misaligned, emulated byte by byte),
 * MMIO exit. `rdInfo` describes the destination for an MMIO exit (state.ts EXIT_RD).
 * Returns the zero-extended value; on a fault or exit sets `excepted` instead.
 */
export function loadSlow(va: u64, size: u32, rdInfo: u32, instLen: u32): u64 {
  const off = <u32>va & 0xfff;
  if (off + size > 4096) return loadCrossing(va, size);
  const pa = translate(va, ACC_LOAD, dataPriv);
  if (excepted) return 0;
  if (inRam(pa, size)) {
    fill(tlbLoad, va, pa);
    return readHost(hostOf(pa), size);
  }
  // Outside RAM: the access is the host's to perform (emulated device) or to refuse.
  put(EXIT_ADDR, pa); put(EXIT_WIDTH, size); put(EXIT_RD, rdInfo); put(EXIT_INST_LEN, instLen);
  put(EXIT_VALUE, 0);
  setExit(EXIT_MMIO_LOAD);
  stopInstruction();
  return 0;
}

/** A load that crosses into the next page: both pages are translated before any byte is read. */
function loadCrossing(va: u64, size: u32): u64 {
  const first: u32 = 4096 - (<u32>va & 0xfff);
  const pa0 = translate(va, ACC_LOAD, dataPriv);
  if (excepted) return 0;
  const pa1 = translate(va + first, ACC_LOAD, dataPriv);
  if (excepted) return 0;
  // mtval is the address of the portion that faulted (3.1.16).
  if (!inRam(pa0, first)) { raiseException(CAUSE_LOAD_ACCESS, va); return 0; }
  if (!inRam(pa1, size - first)) { raiseException(CAUSE_LOAD_ACCESS, va + first); return 0; }
  let v: u64 = 0;
  for (let i: u32 = 0; i < size; i++) {
    const b = i < first ? load<u8>(hostOf(pa0 + i)) : load<u8>(hostOf(pa1 + (i - first)));
    v |= (<u64>b) << (8 * i);
  }
  return v;
}

// --- stores ---------------------------------------------------------------------------------

/** The slow path of every store (see loadSlow). */
export function storeSlow(va: u64, size: u32, v: u64, instLen: u32): void {
  const off = <u32>va & 0xfff;
  if (off + size > 4096) { storeCrossing(va, size, v); return; }
  const pa = translate(va, ACC_STORE, dataPriv);
  if (excepted) return;
  if (inRam(pa, size)) {
    logWrite(pa);
    writeHost(hostOf(pa), size, v);
    const tohost = isTohostPage(pa);
    if (!tohost) fill(tlbStore, va, pa);
    codeWritten(pa); // after the store and the fill (jit.ts)
    if (tohost) checkTohost(pa, size);
    return;
  }
  put(EXIT_ADDR, pa); put(EXIT_WIDTH, size); put(EXIT_VALUE, v); put(EXIT_INST_LEN, instLen);
  setExit(EXIT_MMIO_STORE);
  stopInstruction();
}

function storeCrossing(va: u64, size: u32, v: u64): void {
  const first: u32 = 4096 - (<u32>va & 0xfff);
  const pa0 = translate(va, ACC_STORE, dataPriv);
  if (excepted) return;
  const pa1 = translate(va + first, ACC_STORE, dataPriv);
  if (excepted) return;
  if (!inRam(pa0, first)) { raiseException(CAUSE_STORE_ACCESS, va); return; }
  if (!inRam(pa1, size - first)) { raiseException(CAUSE_STORE_ACCESS, va + first); return; }
  logWrite(pa0);
  logWrite(pa1);
  for (let i: u32 = 0; i < size; i++) {
    const pa = i < first ? pa0 + i : pa1 + (i - first);
    store<u8>(hostOf(pa), <u8>(v >> (8 * i)));
  }
  codeWritten(pa0);
  codeWritten(pa1);
  if (isTohostPage(pa0)) checkTohost(pa0, first);
  if (isTohostPage(pa1)) checkTohost(pa1, size - first);
}

/** A store that touched the tohost word ends the run with an HTIF exit once it is non-zero. */
function checkTohost(pa: u64, size: u32): void {
  const t = get(CFG_TOHOST);
  if (pa + size <= t || pa >= t + 8) return;
  const value = load<u64>(hostOf(t));
  if (value == 0) return;
  put(EXIT_ADDR, value);
  setExit(EXIT_HTIF);
  // The store is complete: the instruction retires, the loop just stops after it.
  stopAfterInstruction();
}

// --- physical access for atomics -------------------------------------------------------------

/**
 * Translates an AMO/LR/SC address and returns its host offset, or -1 after raising the
 * fault (AMOs to non-RAM are access faults: our devices do not support atomics, 3.6.3.2).
 * The caller reports a store to jit.ts codeWritten once it is done.
 */
export function atomicHost(va: u64, size: u32, acc: u32): i64 {
  const pa = translate(va, acc, dataPriv);
  if (excepted) return -1;
  if (!inRam(pa, size)) { raiseException(acc == ACC_LOAD ? CAUSE_LOAD_ACCESS : CAUSE_STORE_ACCESS, va); return -1; }
  if (acc == ACC_STORE) logWrite(pa);
  if (isTohostPage(pa)) { checkTohost(pa, size); }
  return <i64>hostOf(pa);
}

// --- fetch ------------------------------------------------------------------------------------

/**
 * Refills the fetch page cache for pc and returns the instruction parcel(s) there: the full
 * 32-bit word, or a 16-bit compressed parcel zero-extended. Handles an instruction that
 * straddles two pages (3.1.15: mtval is the address of the faulting portion).
 */
export function fetchSlow(): u32 {
  const page = pc & ~(<u64>0xfff);
  // A code page seen before since the last flush is in the fetch TLB: no page walk (a call
  // into another page and the return from it would otherwise walk twice).
  const e = tlbFetch + ((<u32>(pc >> 12) & (TLB_ENTRIES - 1)) * TLB_ENTRY_BYTES);
  let pa: u64;
  if (load<u64>(e) == page) {
    pa = pc + load<u64>(e, 8) - ramHost + ramBase;
  } else {
    pa = translate(pc, ACC_FETCH, priv);
    if (excepted) return 0;
    if (!inRam(pa, 2)) { raiseException(CAUSE_FETCH_ACCESS, pc); return 0; }
    fill(tlbFetch, pc, pa);
  }
  setFetchPage(page, (pa & ~(<u64>0xfff)) - ramBase + ramHost - page);
  const lo = <u32>load<u16>(hostOf(pa));
  if ((lo & 3) != 3) return lo;
  if ((<u32>pc & 0xfff) != 0xffe) return lo | (<u32>load<u16>(hostOf(pa + 2)) << 16);
  // The upper half lives on the next page.
  const pa1 = translate(pc + 2, ACC_FETCH, priv);
  if (excepted) return 0; // the fault's tval is pc + 2, the faulting portion
  if (!inRam(pa1, 2)) { raiseException(CAUSE_FETCH_ACCESS, pc + 2); return 0; }
  return lo | (<u32>load<u16>(hostOf(pa1)) << 16);
}
