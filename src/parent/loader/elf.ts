// ELF64 loader for bare-metal programs and kernels: validates the header as untrusted
// input, copies PT_LOAD segments into guest RAM and finds the HTIF symbols.
// Reference: System V ABI (ELF-64 Object File Format), RISC-V ELF psABI.

export class ElfError extends Error {}

const EM_RISCV = 243, ET_EXEC = 2, ET_DYN = 3, PT_LOAD = 1, SHT_SYMTAB = 2;
/** Longest symbol name read (bytes, without the NUL); longer ones are skipped. */
export const MAX_SYMBOL_NAME = 1024;

export interface ElfSegment { paddr: bigint; data: Uint8Array; memsz: bigint }
export interface ElfImage { entry: bigint; segments: ElfSegment[]; symbols: Map<string, bigint> }

/** Parses an ELF64 little-endian RISC-V executable. Throws ElfError with a readable reason. */
export function parseElf(bytes: Uint8Array): ElfImage {
  if (bytes.length < 64) throw new ElfError(`file too short for an ELF header (${bytes.length} bytes)`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) throw new ElfError('not an ELF file (bad magic)');
  if (bytes[4] !== 2) throw new ElfError('not a 64-bit ELF (EI_CLASS is not ELFCLASS64)');
  if (bytes[5] !== 1) throw new ElfError('not a little-endian ELF');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  if (machine !== EM_RISCV) throw new ElfError(`not a RISC-V ELF (e_machine ${machine}, expected ${EM_RISCV})`);
  if (type !== ET_EXEC && type !== ET_DYN) throw new ElfError(`not an executable (e_type ${type})`);
  const entry = dv.getBigUint64(24, true);
  const phoff = dv.getBigUint64(32, true);
  const shoff = dv.getBigUint64(40, true);
  const phentsize = dv.getUint16(54, true), phnum = dv.getUint16(56, true);
  const shentsize = dv.getUint16(58, true), shnum = dv.getUint16(60, true);

  const range = (off: bigint, len: bigint, what: string): [number, number] => {
    if (off + len > BigInt(bytes.length)) throw new ElfError(`${what} lies outside the file (truncated or corrupt ELF)`);
    return [Number(off), Number(off + len)];
  };

  const segments: ElfSegment[] = [];
  if (phnum > 0 && phentsize < 56) throw new ElfError(`bad program header size ${phentsize}`);
  for (let i = 0; i < phnum; i++) {
    const [at] = range(phoff + BigInt(i * phentsize), 56n, `program header ${i}`);
    if (dv.getUint32(at, true) !== PT_LOAD) continue;
    const offset = dv.getBigUint64(at + 8, true);
    const paddr = dv.getBigUint64(at + 24, true);
    const filesz = dv.getBigUint64(at + 32, true);
    const memsz = dv.getBigUint64(at + 40, true);
    if (filesz > memsz) throw new ElfError(`segment ${i}: file size exceeds memory size`);
    const [s, e] = range(offset, filesz, `segment ${i}`);
    if (memsz > 0n) segments.push({ paddr, data: bytes.subarray(s, e), memsz });
  }
  if (segments.length === 0) throw new ElfError('no loadable segments');

  // The symbol table: one pass, bounded by the file. The gABI allows one SHT_SYMTAB per
  // file (only the first is read: a file with thousands of headers naming the same table
  // would otherwise be walked thousands of times), and a name is read up to the first NUL
  // within MAX_SYMBOL_NAME bytes (a longer one cannot be a symbol we look for, and reading
  // each name to the end of an unterminated string table is quadratic in the file size).
  const symbols = new Map<string, bigint>();
  if (shoff !== 0n && shnum > 0 && shentsize >= 64) {
    const decoder = new TextDecoder();
    for (let i = 0; i < shnum; i++) {
      const [at] = range(shoff + BigInt(i * shentsize), 64n, `section header ${i}`);
      if (dv.getUint32(at + 4, true) !== SHT_SYMTAB) continue;
      const symOff = dv.getBigUint64(at + 24, true), symSize = dv.getBigUint64(at + 32, true);
      const link = dv.getUint32(at + 40, true);
      if (link >= shnum) throw new ElfError('symbol table links to a missing string table');
      const [strAt] = range(shoff + BigInt(link * shentsize), 64n, 'string table header');
      const strOff = dv.getBigUint64(strAt + 24, true), strSize = dv.getBigUint64(strAt + 32, true);
      const [ss, se] = range(strOff, strSize, 'string table');
      const [ys, ye] = range(symOff, symSize, 'symbol table');
      for (let p = ys; p + 24 <= ye; p += 24) {
        const nameOff = dv.getUint32(p, true);
        if (nameOff === 0 || ss + nameOff >= se) continue;
        const start = ss + nameOff;
        const length = bytes.subarray(start, Math.min(se, start + MAX_SYMBOL_NAME + 1)).indexOf(0);
        if (length < 0) continue; // no NUL within the limit (or before the table ends): not a name we need
        symbols.set(decoder.decode(bytes.subarray(start, start + length)), dv.getBigUint64(p + 8, true));
      }
      break;
    }
  }
  return { entry, segments, symbols };
}

/** Copies the segments into RAM (guest-physical ramBase = ram[0]); each must fit entirely. */
export function loadElf(image: ElfImage, ram: Uint8Array, ramBase: bigint): void {
  const ramEnd = ramBase + BigInt(ram.length);
  for (const seg of image.segments) {
    if (seg.paddr < ramBase || seg.paddr + seg.memsz > ramEnd) {
      throw new ElfError(`segment at 0x${seg.paddr.toString(16)} (+0x${seg.memsz.toString(16)} bytes) is outside RAM ` +
        `0x${ramBase.toString(16)}..0x${ramEnd.toString(16)}`);
    }
    const at = Number(seg.paddr - ramBase);
    ram.set(seg.data, at);
    ram.fill(0, at + seg.data.length, at + Number(seg.memsz));
  }
}
