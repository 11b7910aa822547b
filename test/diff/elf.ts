// Minimal ELF64 little-endian RISC-V executable writer: a file header and one PT_LOAD
// program header per segment, no sections (neither QEMU's loader nor a bare-metal loader
// needs them). Layout per the System V gABI, "ELF Header" and "Program Header".

export interface Segment {
  readonly vaddr: number;
  readonly data: Uint8Array;
  /** PF_X=1, PF_W=2, PF_R=4 */
  readonly flags: number;
}

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const EM_RISCV = 243;
const EF_RISCV_RVC = 0x1;
const EF_RISCV_FLOAT_ABI_DOUBLE = 0x4;

export function writeElf64(entry: number, segments: readonly Segment[]): Uint8Array {
  const phoff = EHDR_SIZE;
  let off = phoff + PHDR_SIZE * segments.length;
  const offsets: number[] = [];
  for (const s of segments) {
    off = Math.ceil(off / 16) * 16;
    offsets.push(off);
    off += s.data.length;
  }
  const out = new Uint8Array(off);
  const dv = new DataView(out.buffer);
  const u64 = (o: number, v: number): void => dv.setBigUint64(o, BigInt(v), true);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2 /* ELFCLASS64 */, 1 /* ELFDATA2LSB */, 1 /* EV_CURRENT */], 0);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, EM_RISCV, true);
  dv.setUint32(20, 1, true); // e_version
  u64(24, entry);
  u64(32, phoff);
  u64(40, 0); // e_shoff: no section headers
  dv.setUint32(48, EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE, true);
  dv.setUint16(52, EHDR_SIZE, true);
  dv.setUint16(54, PHDR_SIZE, true);
  dv.setUint16(56, segments.length, true);
  dv.setUint16(58, 64, true); // e_shentsize (no sections, but the conventional size)
  dv.setUint16(60, 0, true);
  dv.setUint16(62, 0, true);
  segments.forEach((s, i) => {
    const p = phoff + i * PHDR_SIZE;
    dv.setUint32(p, 1, true); // PT_LOAD
    dv.setUint32(p + 4, s.flags, true);
    u64(p + 8, offsets[i]!);
    u64(p + 16, s.vaddr); // p_vaddr
    u64(p + 24, s.vaddr); // p_paddr
    u64(p + 32, s.data.length); // p_filesz
    u64(p + 40, s.data.length); // p_memsz
    u64(p + 48, 16); // p_align
    out.set(s.data, offsets[i]!);
  });
  return out;
}
