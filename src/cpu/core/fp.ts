// Decoding and executing F and D instructions (unprivileged spec chapters 11 and 12):
// register access with NaN-boxing (12.2), rounding-mode resolution (11.2), fflags
// accumulation and mstatus.FS (privileged 3.1.6.6). The arithmetic is fpu.ts.

import { FCSR, MSTATUS } from './state';
import { get, put, xr, xw, fr, fw } from './hart';
import { raiseIllegal, MS_FS } from './trap';
import {
  fpFlags, clearFpFlags,
  f32_add, f32_sub, f32_mul, f32_div, f32_sqrt, f32_fma, f32_min, f32_max, f32_eq, f32_lt, f32_le, f32_class,
  f64_add, f64_sub, f64_mul, f64_div, f64_sqrt, f64_fma, f64_min, f64_max, f64_eq, f64_lt, f64_le, f64_class,
  f32_to_i32, f32_to_u32, f32_to_i64, f32_to_u64, f64_to_i32, f64_to_u32, f64_to_i64, f64_to_u64,
  i32_to_f32, u32_to_f32, i64_to_f32, u64_to_f32, i32_to_f64, u32_to_f64, i64_to_f64, u64_to_f64,
  f32_to_f64, f64_to_f32,
} from './fpu';

@inline const BOX: u64 = 0xffffffff00000000;
@inline const CANONICAL_NAN_S: u32 = 0x7fc00000;

/** FP instructions are illegal while mstatus.FS is Off (3.1.6.6). */
@inline export function fpEnabled(): bool { return (get(MSTATUS) & MS_FS) != 0; }
/** Any instruction that may change FP state marks it Dirty (conservatively allowed). */
@inline export function markFpDirty(): void { put(MSTATUS, get(MSTATUS) | MS_FS); }
/** A single in a 64-bit register is NaN-boxed: upper 32 bits all ones (12.2). */
@inline export function boxSingle(v: u32): u64 { return BOX | <u64>v; }
/** Reads a single; an improperly boxed value is the canonical NaN (12.2). */
@inline function readS(r: u32): u32 {
  const v = fr(r);
  return (v & BOX) == BOX ? <u32>v : CANONICAL_NAN_S;
}

/** Resolves the instruction's rm field; -1 when it (or frm, for DYN) is reserved. */
@inline function roundingMode(inst: u32): i32 {
  let rm = (inst >> 12) & 7;
  if (rm == 7) rm = <u32>(get(FCSR) >> 5) & 7;
  return rm >= 5 ? -1 : <i32>rm;
}

/** Moves the exception flags the last operation raised into fflags. */
@inline function accrue(): void {
  if (fpFlags != 0) { put(FCSR, get(FCSR) | <u64>fpFlags); clearFpFlags(); }
}

/** Executes OP-FP and the fused multiply-adds; raises illegal instruction for reserved forms. */
export function execFp(inst: u32): void {
  if (!fpEnabled()) { raiseIllegal(); return; }
  const opcode = inst & 0x7f;
  const rd = (inst >> 7) & 31, rs1 = (inst >> 15) & 31, rs2 = (inst >> 20) & 31;
  if (opcode != 0x53) { fusedMultiplyAdd(inst, opcode, rd, rs1, rs2); return; }

  const f7 = inst >> 25;
  const f3 = (inst >> 12) & 7;
  // Instructions whose funct3 is a rounding mode check it before doing anything.
  const usesRm = f7 < 0x10 || f7 == 0x2c || f7 == 0x2d || f7 == 0x20 || f7 == 0x21 ||
    (f7 >= 0x60 && f7 <= 0x69);
  let rm: u32 = 0;
  if (usesRm) {
    const r = roundingMode(inst);
    if (r < 0) { raiseIllegal(); return; }
    rm = <u32>r;
  }
  switch (f7) {
    case 0x00: fw(rd, boxSingle(f32_add(readS(rs1), readS(rs2), rm))); break;
    case 0x01: fw(rd, f64_add(fr(rs1), fr(rs2), rm)); break;
    case 0x04: fw(rd, boxSingle(f32_sub(readS(rs1), readS(rs2), rm))); break;
    case 0x05: fw(rd, f64_sub(fr(rs1), fr(rs2), rm)); break;
    case 0x08: fw(rd, boxSingle(f32_mul(readS(rs1), readS(rs2), rm))); break;
    case 0x09: fw(rd, f64_mul(fr(rs1), fr(rs2), rm)); break;
    case 0x0c: fw(rd, boxSingle(f32_div(readS(rs1), readS(rs2), rm))); break;
    case 0x0d: fw(rd, f64_div(fr(rs1), fr(rs2), rm)); break;
    case 0x2c: if (rs2 != 0) { raiseIllegal(); return; } fw(rd, boxSingle(f32_sqrt(readS(rs1), rm))); break;
    case 0x2d: if (rs2 != 0) { raiseIllegal(); return; } fw(rd, f64_sqrt(fr(rs1), rm)); break;
    case 0x10: { // FSGNJ.S / FSGNJN.S / FSGNJX.S (11.6)
      const a = readS(rs1), b = readS(rs2);
      let s: u32;
      if (f3 == 0) s = b; else if (f3 == 1) s = ~b; else if (f3 == 2) s = a ^ b; else { raiseIllegal(); return; }
      fw(rd, boxSingle((a & 0x7fffffff) | (s & 0x80000000)));
      break;
    }
    case 0x11: {
      const a = fr(rs1), b = fr(rs2);
      let s: u64;
      if (f3 == 0) s = b; else if (f3 == 1) s = ~b; else if (f3 == 2) s = a ^ b; else { raiseIllegal(); return; }
      fw(rd, (a & 0x7fffffffffffffff) | (s & 0x8000000000000000));
      break;
    }
    case 0x14:
      if (f3 > 1) { raiseIllegal(); return; }
      fw(rd, boxSingle(f3 == 0 ? f32_min(readS(rs1), readS(rs2)) : f32_max(readS(rs1), readS(rs2))));
      break;
    case 0x15:
      if (f3 > 1) { raiseIllegal(); return; }
      fw(rd, f3 == 0 ? f64_min(fr(rs1), fr(rs2)) : f64_max(fr(rs1), fr(rs2)));
      break;
    case 0x20: // FCVT.S.D
      if (rs2 != 1) { raiseIllegal(); return; }
      fw(rd, boxSingle(f64_to_f32(fr(rs1), rm)));
      break;
    case 0x21: // FCVT.D.S
      if (rs2 != 0) { raiseIllegal(); return; }
      fw(rd, f32_to_f64(readS(rs1)));
      break;
    case 0x50: { // FLE.S / FLT.S / FEQ.S
      const a = readS(rs1), b = readS(rs2);
      if (f3 == 0) xw(rd, f32_le(a, b)); else if (f3 == 1) xw(rd, f32_lt(a, b));
      else if (f3 == 2) xw(rd, f32_eq(a, b)); else { raiseIllegal(); return; }
      break;
    }
    case 0x51: {
      const a = fr(rs1), b = fr(rs2);
      if (f3 == 0) xw(rd, f64_le(a, b)); else if (f3 == 1) xw(rd, f64_lt(a, b));
      else if (f3 == 2) xw(rd, f64_eq(a, b)); else { raiseIllegal(); return; }
      break;
    }
    case 0x60: { // FCVT.{W,WU,L,LU}.S
      const a = readS(rs1);
      if (rs2 == 0) xw(rd, f32_to_i32(a, rm)); else if (rs2 == 1) xw(rd, f32_to_u32(a, rm));
      else if (rs2 == 2) xw(rd, f32_to_i64(a, rm)); else if (rs2 == 3) xw(rd, f32_to_u64(a, rm));
      else { raiseIllegal(); return; }
      break;
    }
    case 0x61: {
      const a = fr(rs1);
      if (rs2 == 0) xw(rd, f64_to_i32(a, rm)); else if (rs2 == 1) xw(rd, f64_to_u32(a, rm));
      else if (rs2 == 2) xw(rd, f64_to_i64(a, rm)); else if (rs2 == 3) xw(rd, f64_to_u64(a, rm));
      else { raiseIllegal(); return; }
      break;
    }
    case 0x68: { // FCVT.S.{W,WU,L,LU}
      const x = xr(rs1);
      let v: u32;
      if (rs2 == 0) v = i32_to_f32(x, rm); else if (rs2 == 1) v = u32_to_f32(x, rm);
      else if (rs2 == 2) v = i64_to_f32(x, rm); else if (rs2 == 3) v = u64_to_f32(x, rm);
      else { raiseIllegal(); return; }
      fw(rd, boxSingle(v));
      break;
    }
    case 0x69: {
      const x = xr(rs1);
      let v: u64;
      if (rs2 == 0) v = i32_to_f64(x, rm); else if (rs2 == 1) v = u32_to_f64(x, rm);
      else if (rs2 == 2) v = i64_to_f64(x, rm); else if (rs2 == 3) v = u64_to_f64(x, rm);
      else { raiseIllegal(); return; }
      fw(rd, v);
      break;
    }
    case 0x70: // FMV.X.W (raw low bits, sign-extended; no unboxing) / FCLASS.S
      if (rs2 != 0) { raiseIllegal(); return; }
      if (f3 == 0) xw(rd, <u64><i64><i32><u32>fr(rs1));
      else if (f3 == 1) xw(rd, f32_class(readS(rs1)));
      else { raiseIllegal(); return; }
      break;
    case 0x71: // FMV.X.D / FCLASS.D
      if (rs2 != 0) { raiseIllegal(); return; }
      if (f3 == 0) xw(rd, fr(rs1));
      else if (f3 == 1) xw(rd, f64_class(fr(rs1)));
      else { raiseIllegal(); return; }
      break;
    case 0x78: // FMV.W.X
      if (rs2 != 0 || f3 != 0) { raiseIllegal(); return; }
      fw(rd, boxSingle(<u32>xr(rs1)));
      break;
    case 0x79: // FMV.D.X
      if (rs2 != 0 || f3 != 0) { raiseIllegal(); return; }
      fw(rd, xr(rs1));
      break;
    default:
      raiseIllegal();
      return;
  }
  accrue();
  markFpDirty();
}

/** FMADD/FMSUB/FNMSUB/FNMADD (11.6), fmt in bits 26:25 (0 = S, 1 = D). */
function fusedMultiplyAdd(inst: u32, opcode: u32, rd: u32, rs1: u32, rs2: u32): void {
  const fmt = (inst >> 25) & 3;
  const rm = roundingMode(inst);
  if (fmt > 1 || rm < 0) { raiseIllegal(); return; }
  const rs3 = inst >> 27;
  const op = (opcode - 0x43) >> 2; // 0 fmadd, 1 fmsub, 2 fnmsub, 3 fnmadd
  if (fmt == 0) fw(rd, boxSingle(f32_fma(readS(rs1), readS(rs2), readS(rs3), <u32>rm, op)));
  else fw(rd, f64_fma(fr(rs1), fr(rs2), fr(rs3), <u32>rm, op));
  accrue();
  markFpDirty();
}
