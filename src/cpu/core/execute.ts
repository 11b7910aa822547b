// The interpreter: fetch, expand RVC, decode and execute RV64IM and the memory fast paths
// (unprivileged spec chapters 2, 5, 7). SYSTEM, A, F and D go to their own modules.
//
// The loop keeps pc in a wasm global and reaches registers in the state block. Loads and
// stores hit the software TLB inline; fetches hit a one-page cache (fetchPage/fetchAddend).
// An instruction that traps or exits sets `excepted` and leaves pc to the trap (or at
// itself, for an exit); the loop then skips the rest of it.

import { CTABLE_OFFSET, TLB_ENTRIES, X, F, JIT_RUNS } from './state';
import {
  S, pc, icount, limit, rawInst, tlbLoad, tlbStore, fetchPage, fetchAddend, INVALID_FETCH_PAGE,
} from './hart';
import { excepted, raiseIllegal } from './trap';
import { loadSlow, storeSlow, fetchSlow } from './mmu';
import { execSystem } from './system';
import { execAmo } from './amo';
import { execFp, fpEnabled, boxSingle, markFpDirty } from './fp';
import { mulhu, mulh, mulhsu } from './muldiv';
import { codeMap, cacheEntry, generationAt, lookupMiss } from './jit';

/** Sign-extends a 32-bit result to 64 bits (the *W instructions, 5.2). */
@inline function sext32(v: u64): u64 { return <u64><i64><i32>v; }
/** I-type immediate, sign-extended. */
@inline function immI(inst: u32): u64 { return <u64><i64>(<i32>inst >> 20); }
/** S-type immediate. */
@inline function immS(inst: u32): u64 { return <u64><i64>(((<i32>inst >> 20) & ~0x1f) | ((inst >> 7) & 0x1f)); }
/** B-type immediate. */
@inline function immB(inst: u32): u64 {
  return <u64><i64>(((<i32>inst >> 19) & ~0xfff) | ((inst << 4) & 0x800) | ((inst >> 20) & 0x7e0) | ((inst >> 7) & 0x1e));
}
/** J-type immediate. */
@inline function immJ(inst: u32): u64 {
  return <u64><i64>(((<i32>inst >> 11) & ~0xfffff) | (inst & 0xff000) | ((inst >> 9) & 0x800) | ((inst >> 20) & 0x7fe));
}

/** TLB entry for va in the TLB at base. */
@inline function tlbEntry(base: u32, va: u64): u32 { return base + ((<u32>(va >> 12) & (TLB_ENTRIES - 1)) << 4); }

// EXIT_RD flags for an MMIO load (state-table.mjs).
@inline const RD_FP: u32 = 1 << 5;
@inline const RD_SIGNED: u32 = 1 << 6;


/**
 * Runs instructions until icount reaches limit, an exit, or a trap ends the slice.
 *
 * The hot state (pc, icount, limit, fetch cache, TLB bases) lives in locals; wasm globals
 * are memory to the JIT. Before calling out of the fast path the locals are written back
 * (`pcG`, `icount`), and after it every global a callee may have changed is read again.
 */
export function runSlice(): void {
  const s = S;
  let lpc = pc, n = icount, lim = limit;
  let fPage = fetchPage, fAdd = fetchAddend, tLoad = tlbLoad, tStore = tlbStore;
  // At a block entry (a jump, a taken branch, a trap, a translation's end): look for a
  // translation of the code at lpc (jit.ts), by the host offset of its code page: the
  // guest-physical address translations are keyed by.
  let probe = true;

  while (n < lim) {
    store<u64>(s, 0, X); // x0 reads as zero whatever the last instruction wrote
    n++;

    // Fetch (fast: the current code page is cached; a 4-byte read must stay inside it).
    let inst: u32;
    if ((lpc ^ fPage) <= 0xffc) inst = load<u32>(<u32>(lpc + fAdd));
    else {
      pc = lpc; icount = n;
      inst = fetchSlow();
      lpc = pc; lim = limit; fPage = fetchPage; fAdd = fetchAddend; tLoad = tlbLoad; tStore = tlbStore;
      if (excepted) { excepted = false; continue; }
    }

    // At a block entry, once the fetch has found the code page: run its translation if
    // there is one (the instruction just fetched is then not counted here).
    if (probe) {
      probe = false;
      if (codeMap != 0 && fPage != INVALID_FETCH_PAGE) {
        const h = <u32>(lpc + fAdd);
        const e = cacheEntry(h);
        let fn: u32 = 0;
        if (load<u32>(e) == h && load<u32>(e, 8) == load<u32>(generationAt(h))) fn = load<u32>(e, 4);
        if (fn == 0) {
          pc = lpc; icount = n - 1;
          fn = lookupMiss(h, lpc, e);
          lim = limit; fPage = fetchPage; fAdd = fetchAddend; tLoad = tlbLoad; tStore = tlbStore;
        }
        if (fn != 0) {
          // The translation runs its blocks while they fit before lim, sets pc and returns
          // the new count; on a trap or an exit it has set `excepted` (see jit/codegen.ts).
          const before = n - 1;
          store<u64>(s, load<u64>(s, JIT_RUNS) + 1, JIT_RUNS);
          n = call_indirect<i32>(fn, lpc, before, lim, load<u32>(e, 12));
          lpc = pc; lim = limit; fPage = fetchPage; fAdd = fetchAddend; tLoad = tlbLoad; tStore = tlbStore;
          excepted = false;
          probe = n != before; // no progress: the next block does not fit, interpret up to lim
          continue;
        }
      }
    }
    let len: u64 = 4;
    if ((inst & 3) != 3) {
      len = 2;
      inst = load<u32>(CTABLE_OFFSET + ((inst & 0xffff) << 2));
      if (inst == 0) inst = ILLEGAL; // reserved parcel: handled by the slow path below
    }

    const rd = (inst >> 7) & 31;
    const rs1 = (inst >> 15) & 31;
    const rs2 = (inst >> 20) & 31;
    const f3 = (inst >> 12) & 7;

    switch (inst & 0x7f) {
      case 0x37: // LUI
        store<u64>(s + (rd << 3), sext32(<u64>(inst & 0xfffff000)), X);
        lpc += len;
        continue;
      case 0x17: // AUIPC
        store<u64>(s + (rd << 3), lpc + sext32(<u64>(inst & 0xfffff000)), X);
        lpc += len;
        continue;
      case 0x6f: // JAL
        store<u64>(s + (rd << 3), lpc + len, X);
        lpc += immJ(inst);
        probe = true;
        continue;
      case 0x67: { // JALR (target computed before rd is written: rd may equal rs1)
        if (f3 != 0) break;
        const target = (load<u64>(s + (rs1 << 3), X) + immI(inst)) & ~(<u64>1);
        store<u64>(s + (rd << 3), lpc + len, X);
        lpc = target;
        probe = true;
        continue;
      }
      case 0x63: { // BRANCH: funct3 bit 2 picks signed/unsigned less-than over equality,
        // bit 1 unsigned, bit 0 negates; funct3 2 and 3 are reserved (2.5).
        if ((f3 & 6) == 2) break;
        const a = load<u64>(s + (rs1 << 3), X), b = load<u64>(s + (rs2 << 3), X);
        const cond = (f3 & 4) == 0 ? a == b : (f3 & 2) != 0 ? a < b : <i64>a < <i64>b;
        const taken = cond != ((f3 & 1) != 0);
        lpc += taken ? immB(inst) : len;
        probe = taken;
        continue;
      }
      case 0x03: { // LOAD
        if (f3 == 7) break;
        const va = load<u64>(s + (rs1 << 3), X) + immI(inst);
        const e = tlbEntry(tLoad, va);
        const size: u32 = 1 << (f3 & 3);
        let v: u64;
        if ((va ^ load<u64>(e)) <= <u64>(4096 - size)) {
          // Read 8 bytes and keep `size` of them, sign- or zero-extended, without a switch.
          // RAM is followed by slack in the wasm memory, so reading past a page end is safe.
          const shift = <u64>(64 - (size << 3));
          const raw = load<u64>(<u32>(va + load<u64>(e, 8))) << shift;
          v = f3 < 4 ? <u64>(<i64>raw >> <i64>shift) : raw >> shift;
        } else {
          pc = lpc; icount = n;
          v = loadSlow(va, size, rd | (f3 < 3 ? RD_SIGNED : 0), <u32>len);
          lpc = pc; lim = limit; fPage = fetchPage; fAdd = fetchAddend; tLoad = tlbLoad; tStore = tlbStore;
          if (excepted) { excepted = false; continue; }
          if (f3 < 3) v = signExtend(v, size);
        }
        store<u64>(s + (rd << 3), v, X);
        lpc += len;
        continue;
      }
      case 0x23: { // STORE
        if (f3 > 3) break;
        const va = load<u64>(s + (rs1 << 3), X) + immS(inst);
        const v = load<u64>(s + (rs2 << 3), X);
        const e = tlbEntry(tStore, va);
        const size: u32 = 1 << f3;
        if ((va ^ load<u64>(e)) <= <u64>(4096 - size)) {
          const h = <u32>(va + load<u64>(e, 8));
          switch (f3) {
            case 0: store<u8>(h, <u8>v); break;
            case 1: store<u16>(h, <u16>v); break;
            case 2: store<u32>(h, <u32>v); break;
            default: store<u64>(h, v); break;
          }
        } else {
          pc = lpc; icount = n;
          storeSlow(va, size, size == 8 ? v : v & ((<u64>1 << (size << 3)) - 1), <u32>len);
          lpc = pc; lim = limit; fPage = fetchPage; fAdd = fetchAddend; tLoad = tlbLoad; tStore = tlbStore;
          if (excepted) { excepted = false; continue; }
        }
        lpc += len;
        continue;
      }
      case 0x13: { // OP-IMM (ADDI, by far the most frequent, first: a predictable branch)
        const a = load<u64>(s + (rs1 << 3), X);
        const imm = immI(inst);
        if (f3 == 0) {
          store<u64>(s + (rd << 3), a + imm, X);
          lpc += len;
          continue;
        }
        let v: u64 = 0;
        switch (f3) {
          case 1: // SLLI (shamt is 6 bits in RV64)
            if ((inst >> 26) != 0) { f3Illegal = true; v = 0; break; }
            v = a << (imm & 63); break;
          case 2: v = <i64>a < <i64>imm ? 1 : 0; break;
          case 3: v = a < imm ? 1 : 0; break;
          case 4: v = a ^ imm; break;
          case 5: { // SRLI / SRAI
            const f6 = inst >> 26;
            if (f6 == 0) v = a >> (imm & 63);
            else if (f6 == 0x10) v = <u64>(<i64>a >> <i64>(imm & 63));
            else { f3Illegal = true; v = 0; }
            break;
          }
          case 6: v = a | imm; break;
          case 7: v = a & imm; break;
        }
        if (f3Illegal) { f3Illegal = false; break; }
        store<u64>(s + (rd << 3), v, X);
        lpc += len;
        continue;
      }
      case 0x1b: { // OP-IMM-32
        const a = <u32>load<u64>(s + (rs1 << 3), X);
        const shamt = rs2; // bits 24:20
        const f7 = inst >> 25;
        let v: u32 = 0;
        if (f3 == 0) v = a + <u32>immI(inst);
        else if (f3 == 1 && f7 == 0) v = a << shamt;
        else if (f3 == 5 && f7 == 0) v = a >> shamt;
        else if (f3 == 5 && f7 == 0x20) v = <u32>(<i32>a >> shamt);
        else break;
        store<u64>(s + (rd << 3), sext32(v), X);
        lpc += len;
        continue;
      }
      case 0x33: { // OP
        const a = load<u64>(s + (rs1 << 3), X), b = load<u64>(s + (rs2 << 3), X);
        const f7 = inst >> 25;
        let v: u64 = 0;
        if (f7 == 0) {
          switch (f3) {
            case 0: v = a + b; break;
            case 1: v = a << (b & 63); break;
            case 2: v = <i64>a < <i64>b ? 1 : 0; break;
            case 3: v = a < b ? 1 : 0; break;
            case 4: v = a ^ b; break;
            case 5: v = a >> (b & 63); break;
            case 6: v = a | b; break;
            default: v = a & b; break;
          }
        } else if (f7 == 0x20 && f3 == 0) v = a - b;
        else if (f7 == 0x20 && f3 == 5) v = <u64>(<i64>a >> <i64>(b & 63));
        else if (f7 == 1) v = mulDiv(f3, a, b);
        else break;
        store<u64>(s + (rd << 3), v, X);
        lpc += len;
        continue;
      }
      case 0x3b: { // OP-32
        const a = <u32>load<u64>(s + (rs1 << 3), X), b = <u32>load<u64>(s + (rs2 << 3), X);
        const f7 = inst >> 25;
        let v: u32 = 0;
        if (f7 == 0) {
          if (f3 == 0) v = a + b;
          else if (f3 == 1) v = a << (b & 31);
          else if (f3 == 5) v = a >> (b & 31);
          else break;
        } else if (f7 == 0x20) {
          if (f3 == 0) v = a - b;
          else if (f3 == 5) v = <u32>(<i32>a >> (b & 31));
          else break;
        } else if (f7 == 1 && f3 != 1 && f3 != 2 && f3 != 3) v = mulDivW(f3, a, b);
        else break;
        store<u64>(s + (rd << 3), sext32(v), X);
        lpc += len;
        continue;
      }
      case 0x0f: // MISC-MEM: FENCE, FENCE.I. Accesses are performed in order, and
        // translations are kept equal to memory by watching their pages (jit.ts), so
        // both are no-ops.
        if (f3 > 1) break;
        lpc += len;
        continue;
      case 0x07: { // LOAD-FP: FLW, FLD
        if (!fpEnabled() || (f3 != 2 && f3 != 3)) break;
        const va = load<u64>(s + (rs1 << 3), X) + immI(inst);
        const e = tlbEntry(tLoad, va);
        const size: u32 = 1 << f3;
        let v: u64 = 0;
        if ((va ^ load<u64>(e)) <= <u64>(4096 - size)) {
          const h = <u32>(va + load<u64>(e, 8));
          v = f3 == 2 ? <u64>load<u32>(h) : load<u64>(h);
        } else {
          pc = lpc; icount = n;
          v = loadSlow(va, size, rd | RD_FP, <u32>len);
          lpc = pc; lim = limit; fPage = fetchPage; fAdd = fetchAddend; tLoad = tlbLoad; tStore = tlbStore;
          if (excepted) { excepted = false; continue; }
        }
        store<u64>(s + (rd << 3), f3 == 2 ? boxSingle(<u32>v) : v, F);
        markFpDirty();
        lpc += len;
        continue;
      }
      case 0x27: { // STORE-FP: FSW, FSD
        if (!fpEnabled() || (f3 != 2 && f3 != 3)) break;
        const va = load<u64>(s + (rs1 << 3), X) + immS(inst);
        const v = load<u64>(s + (rs2 << 3), F);
        const e = tlbEntry(tStore, va);
        const size: u32 = 1 << f3;
        if ((va ^ load<u64>(e)) <= <u64>(4096 - size)) {
          const h = <u32>(va + load<u64>(e, 8));
          if (f3 == 2) store<u32>(h, <u32>v); else store<u64>(h, v);
        } else {
          pc = lpc; icount = n;
          storeSlow(va, size, f3 == 2 ? v & 0xffffffff : v, <u32>len);
          lpc = pc; lim = limit; fPage = fetchPage; fAdd = fetchAddend; tLoad = tlbLoad; tStore = tlbStore;
          if (excepted) { excepted = false; continue; }
        }
        lpc += len;
        continue;
      }
      default:
        break;
    }

    // Everything not finished above: SYSTEM, AMO, F/D arithmetic, and illegal encodings.
    // These may trap, change privilege or end the slice, so the globals are synced both ways.
    pc = lpc; icount = n;
    // mtval of an illegal instruction is the instruction as fetched: the parcel for RVC.
    rawInst = len == 2 ? <u32>load<u16>(<u32>(lpc + fAdd)) : inst;
    execRare(inst, rd, rs1, rs2, f3, len);
    excepted = false;
    probe = true;
    lpc = pc; lim = limit; fPage = fetchPage; fAdd = fetchAddend; tLoad = tlbLoad; tStore = tlbStore;
  }
  pc = lpc; icount = n;
}

/** Set by a case that found a reserved funct field: the instruction is illegal. */
let f3Illegal: bool = false;
/** An encoding the decoder never accepts (opcode 0 with bits 1:0 = 3 is reserved... as are all zeros). */
@inline const ILLEGAL: u32 = 0xffffffff;

/** The instructions outside the fast path; each sets pc itself (or raises a trap). */
function execRare(inst: u32, rd: u32, rs1: u32, rs2: u32, f3: u32, len: u64): void {
  switch (inst & 0x7f) {
    case 0x73: execSystem(inst, len); return;
    case 0x2f:
      execAmo(inst, rd, rs1, rs2, f3);
      if (!excepted) pc += len;
      return;
    case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
      execFp(inst);
      if (!excepted) pc += len;
      return;
    default:
      // A pc in the empty fetch cache's page reads zeros (hart.ts INVALID_FETCH_PAGE): the
      // real fetch faults there.
      if ((pc >> 12) == (INVALID_FETCH_PAGE >> 12)) { fetchSlow(); return; }
      raiseIllegal();
  }
}

/** Sign-extends the low `size` bytes of v. */
@inline function signExtend(v: u64, size: u32): u64 {
  const shift = <u64>(64 - (size << 3));
  return <u64>((<i64>(v << shift)) >> <i64>shift);
}

/** MUL, MULH, MULHSU, MULHU, DIV, DIVU, REM, REMU (7.1, 7.2; division by zero and overflow table 7.1). */
function mulDiv(f3: u32, a: u64, b: u64): u64 {
  switch (f3) {
    case 0: return a * b;
    case 1: return mulh(a, b);
    case 2: return mulhsu(a, b);
    case 3: return mulhu(a, b);
    case 4: return b == 0 ? <u64>-1 : (a == 0x8000000000000000 && b == <u64>-1) ? a : <u64>(<i64>a / <i64>b);
    case 5: return b == 0 ? <u64>-1 : a / b;
    case 6: return b == 0 ? a : (a == 0x8000000000000000 && b == <u64>-1) ? 0 : <u64>(<i64>a % <i64>b);
    default: return b == 0 ? a : a % b;
  }
}

/** MULW, DIVW, DIVUW, REMW, REMUW on the low 32 bits. */
function mulDivW(f3: u32, a: u32, b: u32): u32 {
  switch (f3) {
    case 0: return a * b;
    case 4: return b == 0 ? 0xffffffff : (a == 0x80000000 && b == 0xffffffff) ? a : <u32>(<i32>a / <i32>b);
    case 5: return b == 0 ? 0xffffffff : a / b;
    case 6: return b == 0 ? a : (a == 0x80000000 && b == 0xffffffff) ? 0 : <u32>(<i32>a % <i32>b);
    default: return b == 0 ? a : a % b;
  }
}
