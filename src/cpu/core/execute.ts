// The interpreter: fetch, expand RVC, decode and execute RV64IM and the memory fast paths
// (unprivileged spec chapters 2, 5, 7). SYSTEM, A, F and D go to their own modules.
//
// The loop keeps pc in a wasm global and reaches registers in the state block. Loads and
// stores hit the software TLB inline; fetches hit a one-page cache (fetchPage/fetchAddend).
// An instruction that traps or exits sets `excepted` and leaves pc to the trap (or at
// itself, for an exit); the loop then skips the rest of it.

import { CTABLE_OFFSET, TLB_ENTRIES, X } from './state';
import {
  S, pc, icount, limit, rawInst, xr, xw, fr, fw, tlbLoad, tlbStore, fetchPage, fetchAddend,
} from './hart';
import { excepted, raiseIllegal } from './trap';
import { loadSlow, storeSlow, fetchSlow } from './mmu';
import { execSystem } from './system';
import { execAmo } from './amo';
import { execFp, fpEnabled, boxSingle, markFpDirty } from './fp';
import { mulhu, mulh, mulhsu } from './muldiv';

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


/** Runs instructions until icount reaches limit, an exit, or a trap ends the slice. */
export function runSlice(): void {
  while (icount < limit) {
    store<u64>(S, 0, X); // x0 reads as zero whatever the last instruction wrote
    icount++;

    // Fetch (fast: the current code page is cached; a 4-byte read must stay inside it).
    let inst: u32;
    if ((pc ^ fetchPage) <= 0xffc) inst = load<u32>(<u32>(pc + fetchAddend));
    else {
      inst = fetchSlow();
      if (excepted) { excepted = false; continue; }
    }
    let len: u64 = 4;
    if ((inst & 3) != 3) {
      len = 2;
      inst &= 0xffff;
      rawInst = inst;
      inst = load<u32>(CTABLE_OFFSET + (inst << 2));
      if (inst == 0) { raiseIllegal(); excepted = false; continue; }
    } else rawInst = inst;

    const rd = (inst >> 7) & 31;
    const rs1 = (inst >> 15) & 31;
    const rs2 = (inst >> 20) & 31;
    const f3 = (inst >> 12) & 7;

    switch (inst & 0x7f) {
      case 0x37: // LUI
        xw(rd, sext32(<u64>(inst & 0xfffff000)));
        break;
      case 0x17: // AUIPC
        xw(rd, pc + sext32(<u64>(inst & 0xfffff000)));
        break;
      case 0x6f: { // JAL
        xw(rd, pc + len);
        pc += immJ(inst);
        continue;
      }
      case 0x67: { // JALR (target computed before rd is written: rd may equal rs1)
        if (f3 != 0) { raiseIllegal(); excepted = false; continue; }
        const target = (xr(rs1) + immI(inst)) & ~(<u64>1);
        xw(rd, pc + len);
        pc = target;
        continue;
      }
      case 0x63: { // BRANCH
        const a = xr(rs1), b = xr(rs2);
        let taken: bool;
        switch (f3) {
          case 0: taken = a == b; break;
          case 1: taken = a != b; break;
          case 4: taken = <i64>a < <i64>b; break;
          case 5: taken = <i64>a >= <i64>b; break;
          case 6: taken = a < b; break;
          case 7: taken = a >= b; break;
          default: raiseIllegal(); excepted = false; continue;
        }
        if (taken) { pc += immB(inst); continue; }
        break;
      }
      case 0x03: { // LOAD
        const va = xr(rs1) + immI(inst);
        const e = tlbEntry(tlbLoad, va);
        const d = va ^ load<u64>(e);
        let v: u64;
        switch (f3) {
          case 0: // LB
            if (d <= 0xfff) v = <u64><i64>load<i8>(<u32>(va + load<u64>(e, 8)));
            else v = <u64><i64><i8>loadSlow(va, 1, rd | RD_SIGNED, <u32>len);
            break;
          case 1: // LH
            if (d <= 0xffe) v = <u64><i64>load<i16>(<u32>(va + load<u64>(e, 8)));
            else v = <u64><i64><i16>loadSlow(va, 2, rd | RD_SIGNED, <u32>len);
            break;
          case 2: // LW
            if (d <= 0xffc) v = <u64><i64>load<i32>(<u32>(va + load<u64>(e, 8)));
            else v = <u64><i64><i32>loadSlow(va, 4, rd | RD_SIGNED, <u32>len);
            break;
          case 3: // LD
            if (d <= 0xff8) v = load<u64>(<u32>(va + load<u64>(e, 8)));
            else v = loadSlow(va, 8, rd, <u32>len);
            break;
          case 4: // LBU
            if (d <= 0xfff) v = <u64>load<u8>(<u32>(va + load<u64>(e, 8)));
            else v = loadSlow(va, 1, rd, <u32>len);
            break;
          case 5: // LHU
            if (d <= 0xffe) v = <u64>load<u16>(<u32>(va + load<u64>(e, 8)));
            else v = loadSlow(va, 2, rd, <u32>len);
            break;
          case 6: // LWU
            if (d <= 0xffc) v = <u64>load<u32>(<u32>(va + load<u64>(e, 8)));
            else v = loadSlow(va, 4, rd, <u32>len);
            break;
          default: raiseIllegal(); excepted = false; continue;
        }
        if (excepted) { excepted = false; continue; }
        xw(rd, v);
        break;
      }
      case 0x23: { // STORE
        const va = xr(rs1) + immS(inst);
        const v = xr(rs2);
        const e = tlbEntry(tlbStore, va);
        const d = va ^ load<u64>(e);
        switch (f3) {
          case 0:
            if (d <= 0xfff) store<u8>(<u32>(va + load<u64>(e, 8)), <u8>v); else storeSlow(va, 1, v, <u32>len);
            break;
          case 1:
            if (d <= 0xffe) store<u16>(<u32>(va + load<u64>(e, 8)), <u16>v); else storeSlow(va, 2, v, <u32>len);
            break;
          case 2:
            if (d <= 0xffc) store<u32>(<u32>(va + load<u64>(e, 8)), <u32>v); else storeSlow(va, 4, v, <u32>len);
            break;
          case 3:
            if (d <= 0xff8) store<u64>(<u32>(va + load<u64>(e, 8)), v); else storeSlow(va, 8, v, <u32>len);
            break;
          default: raiseIllegal(); excepted = false; continue;
        }
        if (excepted) { excepted = false; continue; }
        break;
      }
      case 0x13: { // OP-IMM
        const a = xr(rs1);
        const imm = immI(inst);
        let v: u64;
        switch (f3) {
          case 0: v = a + imm; break;
          case 1: // SLLI (shamt is 6 bits in RV64)
            if ((inst >> 26) != 0) { raiseIllegal(); excepted = false; continue; }
            v = a << (imm & 63); break;
          case 2: v = <i64>a < <i64>imm ? 1 : 0; break;
          case 3: v = a < imm ? 1 : 0; break;
          case 4: v = a ^ imm; break;
          case 5: { // SRLI / SRAI
            const f6 = inst >> 26;
            if (f6 == 0) v = a >> (imm & 63);
            else if (f6 == 0x10) v = <u64>(<i64>a >> <i64>(imm & 63));
            else { raiseIllegal(); excepted = false; continue; }
            break;
          }
          case 6: v = a | imm; break;
          default: v = a & imm; break;
        }
        xw(rd, v);
        break;
      }
      case 0x1b: { // OP-IMM-32
        const a = <u32>xr(rs1);
        const shamt = rs2; // bits 24:20
        const f7 = inst >> 25;
        let v: u32;
        if (f3 == 0) v = a + <u32>immI(inst);
        else if (f3 == 1 && f7 == 0) v = a << shamt;
        else if (f3 == 5 && f7 == 0) v = a >> shamt;
        else if (f3 == 5 && f7 == 0x20) v = <u32>(<i32>a >> shamt);
        else { raiseIllegal(); excepted = false; continue; }
        xw(rd, sext32(v));
        break;
      }
      case 0x33: { // OP
        const a = xr(rs1), b = xr(rs2);
        const f7 = inst >> 25;
        let v: u64;
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
        else if (f7 == 1) { // M extension (chapter 7)
          switch (f3) {
            case 0: v = a * b; break;
            case 1: v = mulh(a, b); break;
            case 2: v = mulhsu(a, b); break;
            case 3: v = mulhu(a, b); break;
            case 4: // DIV: x/0 = -1, MIN/-1 = MIN (7.2)
              v = b == 0 ? <u64>-1 : (a == 0x8000000000000000 && b == <u64>-1) ? a : <u64>(<i64>a / <i64>b);
              break;
            case 5: v = b == 0 ? <u64>-1 : a / b; break;
            case 6: // REM: x%0 = x, MIN%-1 = 0
              v = b == 0 ? a : (a == 0x8000000000000000 && b == <u64>-1) ? 0 : <u64>(<i64>a % <i64>b);
              break;
            default: v = b == 0 ? a : a % b; break;
          }
        } else { raiseIllegal(); excepted = false; continue; }
        xw(rd, v);
        break;
      }
      case 0x3b: { // OP-32
        const a = <u32>xr(rs1), b = <u32>xr(rs2);
        const f7 = inst >> 25;
        let v: u32;
        if (f7 == 0) {
          if (f3 == 0) v = a + b;
          else if (f3 == 1) v = a << (b & 31);
          else if (f3 == 5) v = a >> (b & 31);
          else { raiseIllegal(); excepted = false; continue; }
        } else if (f7 == 0x20) {
          if (f3 == 0) v = a - b;
          else if (f3 == 5) v = <u32>(<i32>a >> (b & 31));
          else { raiseIllegal(); excepted = false; continue; }
        } else if (f7 == 1) {
          switch (f3) {
            case 0: v = a * b; break;
            case 4: v = b == 0 ? 0xffffffff : (a == 0x80000000 && b == 0xffffffff) ? a : <u32>(<i32>a / <i32>b); break;
            case 5: v = b == 0 ? 0xffffffff : a / b; break;
            case 6: v = b == 0 ? a : (a == 0x80000000 && b == 0xffffffff) ? 0 : <u32>(<i32>a % <i32>b); break;
            case 7: v = b == 0 ? a : a % b; break;
            default: raiseIllegal(); excepted = false; continue;
          }
        } else { raiseIllegal(); excepted = false; continue; }
        xw(rd, sext32(v));
        break;
      }
      case 0x0f: // MISC-MEM: FENCE, FENCE.I. Accesses are performed in order and nothing
        // decoded is cached (the RVC table depends only on the bits), so both are no-ops.
        if (f3 > 1) { raiseIllegal(); excepted = false; continue; }
        break;
      case 0x73: // SYSTEM: sets pc itself
        execSystem(inst, len);
        excepted = false;
        continue;
      case 0x2f: // AMO
        execAmo(inst, rd, rs1, rs2, f3);
        if (excepted) { excepted = false; continue; }
        break;
      case 0x07: { // LOAD-FP: FLW, FLD
        if (!fpEnabled() || (f3 != 2 && f3 != 3)) { raiseIllegal(); excepted = false; continue; }
        const va = xr(rs1) + immI(inst);
        const e = tlbEntry(tlbLoad, va);
        const d = va ^ load<u64>(e);
        let v: u64;
        if (f3 == 2) {
          if (d <= 0xffc) v = <u64>load<u32>(<u32>(va + load<u64>(e, 8)));
          else v = loadSlow(va, 4, rd | RD_FP, <u32>len);
          v = boxSingle(<u32>v);
        } else {
          if (d <= 0xff8) v = load<u64>(<u32>(va + load<u64>(e, 8)));
          else v = loadSlow(va, 8, rd | RD_FP, <u32>len);
        }
        if (excepted) { excepted = false; continue; }
        fw(rd, v);
        markFpDirty();
        break;
      }
      case 0x27: { // STORE-FP: FSW, FSD
        if (!fpEnabled() || (f3 != 2 && f3 != 3)) { raiseIllegal(); excepted = false; continue; }
        const va = xr(rs1) + immS(inst);
        const v = fr(rs2);
        const e = tlbEntry(tlbStore, va);
        const d = va ^ load<u64>(e);
        if (f3 == 2) {
          if (d <= 0xffc) store<u32>(<u32>(va + load<u64>(e, 8)), <u32>v); else storeSlow(va, 4, v & 0xffffffff, <u32>len);
        } else {
          if (d <= 0xff8) store<u64>(<u32>(va + load<u64>(e, 8)), v); else storeSlow(va, 8, v, <u32>len);
        }
        if (excepted) { excepted = false; continue; }
        break;
      }
      case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53: // F/D arithmetic
        execFp(inst);
        if (excepted) { excepted = false; continue; }
        break;
      default:
        raiseIllegal(); excepted = false; continue;
    }
    pc += len;
  }
}

