// Per-instance state of one hart. Everything architectural lives in the hart's state block
// in the shared memory (layout: state.ts, generated); the wasm globals here are
// per-instance caches the hot loop needs in registers (pc, the state base, the TLB bases).

import {
  X, F, PRIV, MSTATUS, TLB_OFFSET, TLB_ENTRIES, TLB_ENTRY_BYTES, TLB_KIND_BYTES,
  TLB_SET_BYTES, TLB_SETS,
} from './state';

/** Base address of this hart's state block in the shared memory. */
export let S: u32 = 0;
/** Guest RAM: guest-physical [ramBase, ramBase + ramSize) lives at host offset ramHost. */
export let ramBase: u64 = 0;
export let ramSize: u64 = 0;
export let ramHost: u64 = 0;

/** Program counter while run() executes (PC in the state block is written back on exit). */
export let pc: u64 = 0;
/** The bits of the instruction being executed as fetched (16-bit parcel for RVC): mtval for illegal. */
export let rawInst: u32 = 0;
/** Current privilege: 0 U, 1 S, 3 M (mirrors PRIV). */
export let priv: u32 = 3;

// Privilege levels.
@inline export const PRV_U: u32 = 0;
@inline export const PRV_S: u32 = 1;
@inline export const PRV_M: u32 = 3;

export function attach(stateBase: u32, base: u64, size: u64, host: u64): void {
  S = stateBase; ramBase = base; ramSize = size; ramHost = host;
}

// --- integer and FP registers -------------------------------------------------------------

@inline export function xr(r: u32): u64 { return load<u64>(S + (r << 3), X); }
@inline export function xw(r: u32, v: u64): void { store<u64>(S + (r << 3), v, X); }
@inline export function fr(r: u32): u64 { return load<u64>(S + (r << 3), F); }
@inline export function fw(r: u32, v: u64): void { store<u64>(S + (r << 3), v, F); }

/** Reads a 64-bit field of the state block. */
@inline export function get(off: u32): u64 { return load<u64>(S + off); }
/** Writes a 64-bit field of the state block. */
@inline export function put(off: u32, v: u64): void { store<u64>(S + off, v); }

// --- the loop's bookkeeping -----------------------------------------------------------------

/** Instructions the loop has run in this call of run() (retired or not). */
export let icount: i32 = 0;
/** The loop runs while icount < limit; anything that must be looked at sooner sets it to 0. */
export let limit: i32 = 0;
/** Instructions counted in icount that did not retire (they trapped or exited). */
export let unretired: i32 = 0;
/** Ends the current slice after this instruction: the loop re-checks timers and interrupts. */
export function endSlice(): void { limit = 0; }
export function countUnretired(): void { unretired++; }

// --- privilege and the TLB sets it selects --------------------------------------------------

/** TLB bases for data loads, data stores (effective privilege: MPRV) and fetches (priv). */
export let tlbLoad: u32 = 0;
export let tlbStore: u32 = 0;
export let tlbFetch: u32 = 0;
/** Privilege used for data accesses (mstatus.MPRV/MPP, priv spec 3.1.6.3). */
export let dataPriv: u32 = 3;

/** Set index of a privilege level: U 0, S 1, M 2. */
@inline function setOf(p: u32): u32 { return p == PRV_M ? 2 : p; }

/** Recomputes everything derived from priv and mstatus. Call after either changes. */
export function modeChanged(): void {
  const ms = get(MSTATUS);
  dataPriv = (priv == PRV_M && (ms & (1 << 17)) != 0) ? <u32>((ms >> 11) & 3) : priv;
  tlbFetch = S + TLB_OFFSET + setOf(priv) * TLB_SET_BYTES + 2 * TLB_KIND_BYTES;
  const d = S + TLB_OFFSET + setOf(dataPriv) * TLB_SET_BYTES;
  tlbLoad = d;
  tlbStore = d + TLB_KIND_BYTES;
  dropFetchPage();
}

export function setPriv(p: u32): void {
  priv = p;
  put(PRIV, p);
  modeChanged();
}

// --- fetch page cache -----------------------------------------------------------------------

/** Virtual page (address with low 12 bits clear) whose host mapping fetchAddend holds. */
export let fetchPage: u64 = 0;
export let fetchAddend: u64 = 0;
/**
 * The fetch cache when it holds nothing. The fast path's test `(pc ^ fetchPage) <= 0xffc`
 * cannot be made false for every pc, so the empty cache names a page no fetch can come
 * from: 2^63 is neither RAM nor a canonical Sv39/Sv48 address. A pc there passes the test
 * and reads the host's always-zero first page (the addend makes pc - 2^63 a host offset):
 * parcel 0 is illegal, and the illegal path (execute.ts) then takes the fetch's real fault.
 */
@inline export const INVALID_FETCH_PAGE: u64 = 0x8000000000000fff;
@inline export const INVALID_FETCH_ADDEND: u64 = 0x8000000000000000;
export function setFetchPage(page: u64, addend: u64): void { fetchPage = page; fetchAddend = addend; }
/** Empties the fetch cache (the next fetch looks the page up again). */
export function dropFetchPage(): void { fetchPage = INVALID_FETCH_PAGE; fetchAddend = INVALID_FETCH_ADDEND; }

/** Invalid tag of TLB entry i: a page whose index bits differ from i, so no address maps there. */
@inline export function invalidTag(i: u32): u64 { return (<u64>((i ^ 1) & (TLB_ENTRIES - 1))) << 12; }

/** Invalidates every TLB entry of this hart (all sets, all kinds). */
export function flushTlb(): void {
  let e = S + TLB_OFFSET;
  for (let k: u32 = 0; k < TLB_SETS * 3; k++) {
    for (let i: u32 = 0; i < TLB_ENTRIES; i++) {
      store<u64>(e, invalidTag(i));
      e += TLB_ENTRY_BYTES;
    }
  }
  dropFetchPage();
  superpagesCached = false;
}

/** Invalidates the entries for one virtual page in every set and kind. */
export function flushTlbPage(va: u64): void {
  const i = <u32>(va >> 12) & (TLB_ENTRIES - 1);
  const page = va & ~(<u64>0xfff);
  for (let k: u32 = 0; k < TLB_SETS * 3; k++) {
    const e = S + TLB_OFFSET + k * TLB_KIND_BYTES + i * TLB_ENTRY_BYTES;
    if (load<u64>(e) == page) store<u64>(e, invalidTag(i));
  }
  dropFetchPage();
}

/** True when some TLB entry came from a superpage (SFENCE.VMA by address must flush all). */
export let superpagesCached: bool = false;
export function noteSuperpage(): void { superpagesCached = true; }


