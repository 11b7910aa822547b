// The interpreter's side of the translation tier (docs/cpu.md "Translation").
//
// Hot guest code is translated by the host (src/cpu/jit/) into WebAssembly functions that
// live in this instance's function table. The interpreter finds them through a small
// direct-mapped lookup cache in the hart's state block, keyed by the host offset of the
// block's first instruction: that is its guest-physical address, so a translation does not
// depend on the page tables, and is valid at any virtual address the page is mapped at.
//
// Keeping translations equal to memory: every 4 KiB RAM page has a 32-bit generation in
// the code map (after RAM, one per page). An odd generation means the page is *watched*:
// some hart holds translations of it, and no hart's store TLB maps it, so every store to it
// takes a slow path, which makes the generation even again (unwatch: the translations are
// stale) after storing. A translation records the odd generation it was made at and is
// used only while the page still has it. Stores by the host (DMA, loaders) do the same
// through src/cpu/written-log.ts. Both sides use read-modify-write atomics on the
// generation, so a store that races with a translation is either seen by the translator
// or invalidates it (the translator reads the code after watching the page). FENCE.I has
// therefore nothing left to do.

import {
  JIT_CACHE_OFFSET, JIT_CACHE_ENTRIES, STATE_BLOCKS_OFFSET, STATE_BLOCK_BYTES, MAX_HARTS,
  TLB_OFFSET, TLB_SETS, TLB_SET_BYTES, TLB_KIND_BYTES, TLB_ENTRIES, TLB_ENTRY_BYTES,
  JIT_MISSES, JIT_INVALIDATIONS,
} from './state';
import { S, ramBase, ramHost, endSlice, invalidTag } from './hart';

/**
 * Translates the block at host offset `host` (guest pc `pc`) and returns the function's
 * index in the table, with the block's index in that function in bits 31:16; 0 when it
 * cannot (provided by src/cpu/jit/translator.ts). A function translates a region of one
 * page and can be entered at any of its blocks.
 */
@external("env", "translate")
declare function translate(host: u32, pc: u64): u32;

/** Host offset of the code map (a u32 generation per RAM page), 0 while translation is off. */
export let codeMap: u32 = 0;

/** Times a block is entered, interpreted, before it is translated (set by enableTranslation). */
let hot: u32 = 1;

/**
 * Turns translation on, with the code map at host offset `map` (0: off), translating a
 * block at its `threshold`-th entry (1: at once, as the tests do to translate everything).
 */
export function enableTranslation(map: u32, threshold: u32): void {
  codeMap = map;
  hot = threshold < 1 ? 1 : threshold;
}

/**
 * The lookup cache entry for host offset h: [host][function][generation][entries], where
 * the last word holds the block's index in the function once it is translated.
 */
@inline export function cacheEntry(h: u32): u32 {
  return S + JIT_CACHE_OFFSET + ((((h >> 1) ^ (h >> 11)) & (JIT_CACHE_ENTRIES - 1)) << 4);
}

/** Where the generation of the RAM page holding host offset h is. */
@inline export function generationAt(h: u32): u32 { return codeMap + (((h - <u32>ramHost) >> 12) << 2); }

/**
 * Called by the interpreter at a block entry without a valid translation (entry e of the
 * cache): counts the entry, translates the block once it is hot. Returns the function's
 * table index (the block index is then in the entry) or 0.
 */
export function lookupMiss(h: u32, pc: u64, e: u32): u32 {
  store<u64>(S, load<u64>(S, JIT_MISSES) + 1, JIT_MISSES);
  const now = load<u32>(generationAt(h));
  let count: u32 = 0;
  if (load<u32>(e) != h || load<u32>(e, 4) != 0 || load<u32>(e, 8) != now) {
    // A new block, a translation gone stale, or the page changed: count again.
    store<u32>(e, h); store<u32>(e, 0, 4); store<u32>(e, now, 8);
  } else {
    count = load<u32>(e, 12);
    if (count >= hot) return 0; // tried: the block starts with nothing translatable
  }
  store<u32>(e, count + 1, 12);
  if (count + 1 < hot) return 0;
  const gen = watch(h);
  const packed = translate(h, pc);
  if (packed == 0) { store<u32>(e, gen, 8); return 0; } // stays counted out while the page is unchanged
  store<u32>(e, h); store<u32>(e, packed & 0xffff, 4); store<u32>(e, gen, 8); store<u32>(e, packed >> 16, 12);
  return packed & 0xffff;
}

/**
 * Puts a translation finished after its block was counted (on a compile thread) in the
 * lookup cache: block `block` of table function `fn`, valid while the page of host offset h
 * has generation `gen`. Another block's live translation in the entry is kept, unless
 * `evict` (the block asked for is then the one that missed last).
 */
export function installTranslation(h: u32, fn: u32, block: u32, gen: u32, evict: bool): void {
  if (codeMap == 0) return;
  const e = cacheEntry(h);
  const other = load<u32>(e);
  if (!evict && other != h && load<u32>(e, 4) != 0 && load<u32>(e, 8) == load<u32>(generationAt(other))) return;
  store<u32>(e, h); store<u32>(e, fn, 4); store<u32>(e, gen, 8); store<u32>(e, block, 12);
}

/**
 * Watches the page holding host offset h and returns its (odd) generation: no store TLB
 * entry of any hart may map a watched page, so entries for it are dropped here, after the
 * generation is made odd (a hart filling an entry concurrently re-checks the generation
 * after its fill, in codeWritten).
 */
function watch(h: u32): u32 {
  const at = generationAt(h);
  const before = atomic.or<u32>(at, 1);
  if ((before & 1) != 0) return before;
  const hostPage: u32 = h & ~0xfff;
  for (let hart: u32 = 0; hart < MAX_HARTS; hart++) {
    const tlbs = STATE_BLOCKS_OFFSET + hart * STATE_BLOCK_BYTES + TLB_OFFSET + TLB_KIND_BYTES;
    for (let set: u32 = 0; set < TLB_SETS; set++) {
      const tlb = tlbs + set * TLB_SET_BYTES;
      for (let i: u32 = 0; i < TLB_ENTRIES; i++) {
        const e = tlb + i * TLB_ENTRY_BYTES;
        if (<u32>(load<u64>(e) + load<u64>(e, 8)) == hostPage) store<u64>(e, invalidTag(i));
      }
    }
  }
  return before | 1;
}

/**
 * After a store to the RAM page holding guest-physical pa (and after any store TLB fill for
 * it): if the page is watched, its translations are stale, so unwatch it. The slice ends, so
 * a translation running on that page stops after the store.
 */
@inline export function codeWritten(pa: u64): void {
  if (codeMap != 0) unwatch(codeMap + (<u32>((pa - ramBase) >> 12) << 2));
}

/** codeWritten for a store made at host offset h (the atomics). */
@inline export function codeWrittenHost(h: u32): void {
  if (codeMap != 0) unwatch(generationAt(h));
}

function unwatch(at: u32): void {
  let g = atomic.or<u32>(at, 0); // a read-modify-write: ordered after the store (see above)
  while ((g & 1) != 0) {
    const seen = atomic.cmpxchg<u32>(at, g, g + 1);
    if (seen == g) {
      store<u64>(S, load<u64>(S, JIT_INVALIDATIONS) + 1, JIT_INVALIDATIONS);
      endSlice();
      return;
    }
    g = seen;
  }
}
