// The C extension (unprivileged spec chapter 16, "C" Standard Extension for Compressed
// Instructions) as a table: every 16-bit parcel maps to the 32-bit RV64 instruction it
// expands to, or 0 when it is reserved or illegal in RV64C. The core then executes one
// decoder for both lengths; only the instruction length (2) and mtval (the 16-bit bits)
// remember that the instruction was compressed.
//
// The table is 65536 u32 in the shared memory, filled once per VM. Several harts may fill
// it at the same time: they write identical values, so the race is harmless.

import { CTABLE_OFFSET } from './state';

// 32-bit encoders for the formats the expansions need (spec chapter 2.2/2.3).
@inline function rType(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, op: u32): u32 {
  return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}
@inline function iType(imm: u32, rs1: u32, f3: u32, rd: u32, op: u32): u32 {
  return ((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}
@inline function sType(imm: u32, rs2: u32, rs1: u32, f3: u32, op: u32): u32 {
  return (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op;
}
@inline function bType(imm: u32, rs2: u32, rs1: u32, f3: u32): u32 {
  return (((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) |
    (f3 << 12) | (((imm >> 1) & 0xf) << 8) | (((imm >> 11) & 1) << 7) | 0x63;
}
@inline function jType(imm: u32, rd: u32): u32 {
  return (((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) |
    (((imm >> 12) & 0xff) << 12) | (rd << 7) | 0x6f;
}

@inline function bit(x: u32, i: u32): u32 { return (x >> i) & 1; }
@inline function bits(x: u32, hi: u32, lo: u32): u32 { return (x >> lo) & ((1 << (hi - lo + 1)) - 1); }
/** Sign-extends the low `width` bits of x to 32 bits. */
@inline function sext(x: u32, width: u32): u32 { return <u32>((<i32>(x << (32 - width))) >> (32 - width)); }

const OP_LOAD: u32 = 0x03, OP_LOAD_FP: u32 = 0x07, OP_IMM: u32 = 0x13, OP_IMM_32: u32 = 0x1b;
const OP_STORE: u32 = 0x23, OP_STORE_FP: u32 = 0x27, OP: u32 = 0x33, OP_LUI: u32 = 0x37, OP_32: u32 = 0x3b;
const OP_JALR: u32 = 0x67;

/** Expands one 16-bit parcel (bits 1:0 != 3) to its 32-bit equivalent, 0 if illegal. */
export function expand(c: u32): u32 {
  const quadrant = c & 3;
  const f3 = c >> 13;
  const rdp = bits(c, 4, 2) + 8;   // rd' / rs2' (registers x8..x15)
  const rs1p = bits(c, 9, 7) + 8;  // rs1' / rd'
  const rd = bits(c, 11, 7);
  const rs2 = bits(c, 6, 2);
  // Offsets of the CL/CS formats: c.lw/c.sw scale by 4, c.ld/c.sd/c.fld/c.fsd by 8.
  const uimmW = (bits(c, 12, 10) << 3) | (bit(c, 6) << 2) | (bit(c, 5) << 6);
  const uimmD = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6);
  const imm6 = sext((bit(c, 12) << 5) | bits(c, 6, 2), 6);

  if (quadrant == 0) {
    switch (f3) {
      case 0: { // c.addi4spn: addi rd', x2, nzuimm
        const nzuimm = (bits(c, 10, 7) << 6) | (bits(c, 12, 11) << 4) | (bit(c, 5) << 3) | (bit(c, 6) << 2);
        return nzuimm == 0 ? 0 : iType(nzuimm, 2, 0, rdp, OP_IMM);
      }
      case 1: return iType(uimmD, rs1p, 3, rdp, OP_LOAD_FP);  // c.fld
      case 2: return iType(uimmW, rs1p, 2, rdp, OP_LOAD);     // c.lw
      case 3: return iType(uimmD, rs1p, 3, rdp, OP_LOAD);     // c.ld (RV64)
      case 5: return sType(uimmD, rdp, rs1p, 3, OP_STORE_FP); // c.fsd
      case 6: return sType(uimmW, rdp, rs1p, 2, OP_STORE);    // c.sw
      case 7: return sType(uimmD, rdp, rs1p, 3, OP_STORE);    // c.sd (RV64)
      default: return 0; // f3 = 4 is reserved
    }
  }

  if (quadrant == 1) {
    switch (f3) {
      case 0: return iType(imm6, rd, 0, rd, OP_IMM); // c.addi (c.nop and HINTs included)
      case 1: return rd == 0 ? 0 : iType(imm6, rd, 0, rd, OP_IMM_32); // c.addiw (RV64)
      case 2: return iType(imm6, 0, 0, rd, OP_IMM); // c.li
      case 3: {
        if (rd == 2) { // c.addi16sp
          const nzimm = sext((bit(c, 12) << 9) | (bits(c, 4, 3) << 7) | (bit(c, 5) << 6) | (bit(c, 2) << 5) | (bit(c, 6) << 4), 10);
          return nzimm == 0 ? 0 : iType(nzimm, 2, 0, 2, OP_IMM);
        }
        // c.lui: nzimm[17:12]
        const nzimm = sext((bit(c, 12) << 17) | (bits(c, 6, 2) << 12), 18);
        if (nzimm == 0) return 0;
        return (nzimm & 0xfffff000) | (rd << 7) | OP_LUI;
      }
      case 4: {
        const f2 = bits(c, 11, 10);
        const shamt = (bit(c, 12) << 5) | bits(c, 6, 2);
        if (f2 == 0) return iType(shamt, rs1p, 5, rs1p, OP_IMM);               // c.srli
        if (f2 == 1) return iType(0x400 | shamt, rs1p, 5, rs1p, OP_IMM);       // c.srai
        if (f2 == 2) return iType(imm6, rs1p, 7, rs1p, OP_IMM);                // c.andi
        const f = (bit(c, 12) << 2) | bits(c, 6, 5);
        switch (f) {
          case 0: return rType(0x20, rdp, rs1p, 0, rs1p, OP);   // c.sub
          case 1: return rType(0, rdp, rs1p, 4, rs1p, OP);      // c.xor
          case 2: return rType(0, rdp, rs1p, 6, rs1p, OP);      // c.or
          case 3: return rType(0, rdp, rs1p, 7, rs1p, OP);      // c.and
          case 4: return rType(0x20, rdp, rs1p, 0, rs1p, OP_32); // c.subw
          case 5: return rType(0, rdp, rs1p, 0, rs1p, OP_32);   // c.addw
          default: return 0; // reserved
        }
      }
      case 5: { // c.j: jal x0, offset
        const off = sext((bit(c, 12) << 11) | (bit(c, 11) << 4) | (bits(c, 10, 9) << 8) | (bit(c, 8) << 10) |
          (bit(c, 7) << 6) | (bit(c, 6) << 7) | (bits(c, 5, 3) << 1) | (bit(c, 2) << 5), 12);
        return jType(off, 0);
      }
      default: { // c.beqz (6) / c.bnez (7)
        const off = sext((bit(c, 12) << 8) | (bits(c, 11, 10) << 3) | (bits(c, 6, 5) << 6) | (bits(c, 4, 3) << 1) | (bit(c, 2) << 5), 9);
        return bType(off, 0, rs1p, f3 == 6 ? 0 : 1);
      }
    }
  }

  // quadrant 2
  switch (f3) {
    case 0: { // c.slli (shamt 0 is a HINT, still a no-op)
      const shamt = (bit(c, 12) << 5) | bits(c, 6, 2);
      return iType(shamt, rd, 1, rd, OP_IMM);
    }
    case 1: { // c.fldsp
      const off = (bit(c, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6);
      return iType(off, 2, 3, rd, OP_LOAD_FP);
    }
    case 2: { // c.lwsp
      if (rd == 0) return 0;
      const off = (bit(c, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6);
      return iType(off, 2, 2, rd, OP_LOAD);
    }
    case 3: { // c.ldsp
      if (rd == 0) return 0;
      const off = (bit(c, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6);
      return iType(off, 2, 3, rd, OP_LOAD);
    }
    case 4: {
      if (bit(c, 12) == 0) {
        if (rs2 == 0) return rd == 0 ? 0 : iType(0, rd, 0, 0, OP_JALR); // c.jr
        return rType(0, rs2, 0, 0, rd, OP);                               // c.mv
      }
      if (rs2 == 0) {
        if (rd == 0) return 0x00100073;                // c.ebreak
        return iType(0, rd, 0, 1, OP_JALR);            // c.jalr
      }
      return rType(0, rs2, rd, 0, rd, OP);             // c.add
    }
    case 5: { // c.fsdsp
      const off = (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6);
      return sType(off, rs2, 2, 3, OP_STORE_FP);
    }
    case 6: { // c.swsp
      const off = (bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6);
      return sType(off, rs2, 2, 2, OP_STORE);
    }
    default: { // c.sdsp
      const off = (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6);
      return sType(off, rs2, 2, 3, OP_STORE);
    }
  }
}

/** Fills the expansion table. Entries for 32-bit parcels (bits 1:0 == 3) are unused. */
export function fillExpansionTable(): void {
  for (let c: u32 = 0; c < 0x10000; c++) {
    store<u32>(CTABLE_OFFSET + (c << 2), (c & 3) == 3 ? 0 : expand(c));
  }
}
