// The A extension (unprivileged spec chapter 8) on wasm atomics, so that harts running on
// different threads over the same shared memory see each other's atomics as atomic.
// Wasm atomics are sequentially consistent, which satisfies every aq/rl combination.
//
// LR/SC: LR records the reserved address and the value it read; SC succeeds only if a
// compare-and-swap against that value succeeds (8.2). A store of the same value by another
// hart between them goes unnoticed (the ABA case), which the spec's forward-progress rules
// permit: the SC could legitimately have been ordered before that store.

import { RESERVATION_ADDR, RESERVATION_VALUE } from './state';
import { get, put, xr, xw } from './hart';
import {
  excepted, raiseException, raiseIllegal, CAUSE_LOAD_MISALIGNED, CAUSE_STORE_MISALIGNED,
} from './trap';
import { atomicHost, ACC_LOAD, ACC_STORE } from './mmu';
import { codeWrittenHost } from './jit';

@inline const LR: u32 = 0x02;
@inline const SC: u32 = 0x03;
@inline const NO_RESERVATION: u64 = <u64>-1;

@inline function sext32(v: u32): u64 { return <u64><i64><i32>v; }

export function execAmo(inst: u32, rd: u32, rs1: u32, rs2: u32, f3: u32): void {
  if (f3 != 2 && f3 != 3) { raiseIllegal(); return; }
  const size: u32 = f3 == 2 ? 4 : 8;
  const op = inst >> 27;
  if (!validOp(op) || (op == LR && rs2 != 0)) { raiseIllegal(); return; }
  const va = xr(rs1);
  // Misaligned atomics raise address-misaligned (8.4: they may not be emulated).
  if ((<u32>va & (size - 1)) != 0) {
    raiseException(op == LR ? CAUSE_LOAD_MISALIGNED : CAUSE_STORE_MISALIGNED, va);
    return;
  }
  const h = atomicHost(va, size, op == LR ? ACC_LOAD : ACC_STORE);
  if (excepted) return;
  const p = <u32>h;

  if (op == LR) {
    const v: u64 = size == 4 ? <u64>atomic.load<u32>(p) : atomic.load<u64>(p);
    put(RESERVATION_ADDR, <u64>p);
    put(RESERVATION_VALUE, v);
    xw(rd, size == 4 ? sext32(<u32>v) : v);
    return;
  }
  const src = xr(rs2);
  if (op == SC) {
    let ok = false;
    if (get(RESERVATION_ADDR) == <u64>p) {
      const expected = get(RESERVATION_VALUE);
      ok = size == 4
        ? atomic.cmpxchg<u32>(p, <u32>expected, <u32>src) == <u32>expected
        : atomic.cmpxchg<u64>(p, expected, src) == expected;
    }
    put(RESERVATION_ADDR, NO_RESERVATION); // an SC always ends the reservation (8.2)
    if (ok) codeWrittenHost(p);
    xw(rd, ok ? 0 : 1);
    return;
  }
  xw(rd, size == 4 ? sext32(amo<u32>(p, op, <u32>src)) : amo<u64>(p, op, src));
  codeWrittenHost(p);
}

/** funct5 values defined by chapter 8 (LR, SC and the nine AMOs). */
@inline function validOp(op: u32): bool {
  return op <= 4 || op == 0x08 || op == 0x0c || op == 0x10 || op == 0x14 || op == 0x18 || op == 0x1c;
}

/**
 * One AMO on a T-sized word (T is u32 or u64), returning the old value. MIN/MAX/MINU/MAXU
 * have no wasm instruction: they compare-and-swap until the swap sticks.
 */
function amo<T>(p: u32, op: u32, src: T): T {
  switch (op) {
    case 0x01: return atomic.xchg<T>(p, src);
    case 0x00: return atomic.add<T>(p, src);
    case 0x04: return atomic.xor<T>(p, src);
    case 0x0c: return atomic.and<T>(p, src);
    case 0x08: return atomic.or<T>(p, src);
  }
  let old = atomic.load<T>(p);
  while (true) {
    let pick: T;
    if (op == 0x10) pick = signedLess<T>(old, src) ? old : src;
    else if (op == 0x14) pick = signedLess<T>(src, old) ? old : src;
    else if (op == 0x18) pick = old < src ? old : src;
    else pick = old > src ? old : src;
    const seen = atomic.cmpxchg<T>(p, old, pick);
    if (seen == old) return old;
    old = seen;
  }
  return old;
}

/** a < b as two's-complement integers of T's width. */
@inline function signedLess<T>(a: T, b: T): bool {
  if (sizeof<T>() == 4) return <i32>a < <i32>b;
  return <i64>a < <i64>b;
}
