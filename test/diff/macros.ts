// Multi-instruction sequences shared by the random and directed generators.

import * as A from './assembler.js';
import * as E from './encoder.js';
import type { Item } from './assembler.js';
import type { Insn, XReg } from './encoder.js';

/** Instructions that put the 64-bit pattern `v` into rd (the usual lui/addiw/slli/addi ladder). */
export function liInsns(rd: XReg, v: bigint): Insn[] {
  const s = BigInt.asIntN(64, v);
  if (s >= -(1n << 31n) && s < (1n << 31n)) {
    const n = Number(s);
    const lo = ((n & 0xfff) ^ 0x800) - 0x800;
    const hi = (n - lo) / 4096;
    if (hi === 0) return [E.aluImm('addi', rd, 0, lo)];
    // lui sign-extends bit 31; wrapping the upper part to 20 signed bits is exact because
    // addiw works modulo 2^32 and sign-extends the 32-bit result.
    const hi20 = (((hi + 0x80000) & 0xfffff) - 0x80000);
    const out = [E.lui(rd, hi20)];
    if (lo !== 0 || hi20 !== hi) out.push(E.aluImm('addiw', rd, rd, lo));
    return out;
  }
  const lo = Number(BigInt.asIntN(12, s));
  let rest = (s - BigInt(lo)) >> 12n;
  let shift = 12;
  while ((rest & 1n) === 0n && shift < 60) { rest >>= 1n; shift++; }
  const out = liInsns(rd, rest);
  out.push(E.shiftImm('slli', rd, rd, shift));
  if (lo !== 0) out.push(E.aluImm('addi', rd, rd, lo));
  return out;
}

export function li(rd: XReg, v: bigint): Item[] {
  return liInsns(rd, v).map((i) => A.insn(i));
}

/** auipc rd, hi; ld rd, lo(rd): loads the doubleword at absolute address `addr`. */
export function ldAbs(rd: XReg, addr: number): Item {
  return A.dyn(8, (pc) => {
    const [hi, lo] = A.hiLo(addr - pc);
    return [E.auipc(rd, hi), E.load('ld', rd, rd, lo)];
  });
}

/** auipc tmp, hi; fl{w,d} fd, lo(tmp): loads an f register from absolute address `addr`. */
export function flAbs(fmt: E.Fmt, fd: number, tmp: XReg, addr: number): Item {
  return A.dyn(8, (pc) => {
    const [hi, lo] = A.hiLo(addr - pc);
    return [E.auipc(tmp, hi), E.fload(fmt, fd, tmp, lo)];
  });
}
