// The ELF loader (src/parent/loader/elf.ts parseElf, loadElf): the corpus ELFs with
// byte-level mutations (header, program and section headers), and ELFs generated from a
// description (segments anywhere, sizes that disagree, symbol tables, many sections, long
// unterminated string tables). Fails on any exception but ElfError, a case past the time
// bound (work must stay linear in the file's size), a segment loaded outside guest RAM,
// or RAM that differs from the segments' contents.
import fc from 'fast-check';
import { ElfError, loadElf, parseElf } from '../../../src/parent/loader/elf.js';
import { check, mutate, mutationArb, note, hexdump, show, type CorpusFile, type FuzzTarget, type Mutation } from '../harness.js';

const RAM_BASE = 0x8000_0000n;
const RAM_BYTES = 1 << 20;
const EM_RISCV = 243, PT_LOAD = 1, SHT_SYMTAB = 2, SHT_STRTAB = 3;

interface Segment { type: number; paddr: bigint; filesz: number; memsz: bigint; fill: number }
/** An ELF by description; `symtabs` section headers all point at the one symbol table. */
export interface ElfSpec {
  type: number; machine: number; entry: bigint; phentsize: number; shentsize: number;
  segments: Segment[];
  symbols: { name: string; value: bigint }[];
  symtabs: number;
  /** Extra bytes of string table without any NUL (a name that never ends). */
  runaway: number;
  /** Symbols whose names all point into the runaway bytes. */
  runawaySymbols: number;
}

export type ElfCase = { kind: 'corpus'; seed: number; mutations: Mutation[] } | { kind: 'spec'; spec: ElfSpec; mutations: Mutation[] };

const paddrArb = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt(RAM_BASE - 64n, RAM_BASE + BigInt(RAM_BYTES) + 64n) },
  { weight: 1, arbitrary: fc.constantFrom(0n, RAM_BASE - 1n, RAM_BASE + BigInt(RAM_BYTES), (1n << 64n) - 1n, (1n << 63n), (1n << 53n)) },
);

const specArb: fc.Arbitrary<ElfSpec> = fc.record({
  type: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(2, 3) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
  machine: fc.oneof({ weight: 10, arbitrary: fc.constant(EM_RISCV) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
  entry: fc.bigInt(0n, (1n << 64n) - 1n),
  phentsize: fc.oneof({ weight: 10, arbitrary: fc.constant(56) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
  shentsize: fc.oneof({ weight: 10, arbitrary: fc.constant(64) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
  segments: fc.array(fc.record({
    type: fc.oneof({ weight: 6, arbitrary: fc.constant(PT_LOAD) }, { weight: 1, arbitrary: fc.nat(0xffff_ffff) }),
    paddr: paddrArb,
    filesz: fc.nat(4096),
    memsz: fc.oneof({ weight: 4, arbitrary: fc.bigInt(0n, 8192n) }, { weight: 1, arbitrary: fc.bigInt(0n, (1n << 64n) - 1n) }),
    fill: fc.nat(255),
  }), { maxLength: 4 }),
  symbols: fc.array(fc.record({ name: fc.string({ maxLength: 12 }), value: fc.bigInt(0n, (1n << 64n) - 1n) }), { maxLength: 6 }),
  symtabs: fc.oneof({ weight: 10, arbitrary: fc.nat(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 2000 }) }),
  runaway: fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 256 * 1024 }) }),
  runawaySymbols: fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }) }),
});

/** Writes an ELF64 little-endian file from a description. */
export function buildElf(s: ElfSpec): Uint8Array {
  const enc = new TextEncoder();
  const strtab: number[] = [0];
  const nameAt = s.symbols.map((sym) => { const at = strtab.length; strtab.push(...enc.encode(sym.name), 0); return at; });
  const runawayAt = strtab.length;
  for (let i = 0; i < s.runaway; i++) strtab.push(0x41 + (i % 26));
  const nsyms = 1 + s.symbols.length + s.runawaySymbols;
  const phoff = 64, phnum = s.segments.length;
  let at = phoff + phnum * 56;
  const dataAt = s.segments.map((seg) => { const o = at; at += seg.filesz; return o; });
  const strAt = at; at += strtab.length;
  at = Math.ceil(at / 8) * 8;
  const symAt = at; at += nsyms * 24;
  const shoff = at, shnum = s.symtabs > 0 ? 2 + s.symtabs : 0;
  at += shnum * 64;
  const b = new Uint8Array(at);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, s.type, true); v.setUint16(18, s.machine, true); v.setUint32(20, 1, true);
  v.setBigUint64(24, s.entry, true); v.setBigUint64(32, BigInt(phoff), true); v.setBigUint64(40, BigInt(shnum ? shoff : 0), true);
  v.setUint16(52, 64, true); v.setUint16(54, s.phentsize, true); v.setUint16(56, phnum, true);
  v.setUint16(58, s.shentsize, true); v.setUint16(60, shnum, true); v.setUint16(62, shnum ? 1 : 0, true);
  s.segments.forEach((seg, i) => {
    const p = phoff + i * 56;
    v.setUint32(p, seg.type, true); v.setUint32(p + 4, 7, true);
    v.setBigUint64(p + 8, BigInt(dataAt[i]!), true); v.setBigUint64(p + 16, seg.paddr, true); v.setBigUint64(p + 24, seg.paddr, true);
    v.setBigUint64(p + 32, BigInt(seg.filesz), true); v.setBigUint64(p + 40, seg.memsz, true);
    b.fill(seg.fill, dataAt[i]!, dataAt[i]! + seg.filesz);
  });
  b.set(strtab, strAt);
  s.symbols.forEach((sym, i) => { const p = symAt + 24 * (i + 1); v.setUint32(p, nameAt[i]!, true); v.setBigUint64(p + 8, sym.value, true); });
  for (let i = 0; i < s.runawaySymbols; i++) {
    const p = symAt + 24 * (1 + s.symbols.length + i);
    v.setUint32(p, runawayAt + (s.runaway ? i % Math.min(s.runaway, 64) : 0), true);
  }
  if (shnum) {
    // [0] null, [1] strtab, [2..] symtab (each the same table)
    const sh = (i: number, type: number, off: number, size: number, link: number) => {
      const p = shoff + 64 * i;
      v.setUint32(p + 4, type, true); v.setBigUint64(p + 24, BigInt(off), true); v.setBigUint64(p + 32, BigInt(size), true); v.setUint32(p + 40, link, true);
    };
    sh(1, SHT_STRTAB, strAt, strtab.length, 0);
    for (let i = 0; i < s.symtabs; i++) sh(2 + i, SHT_SYMTAB, symAt, nsyms * 24, 1);
  }
  return b;
}

/** Header fields and the program and section header tables get most mutations. */
function hotOffsets(elf: Uint8Array): number[] {
  const hot = [4, 5, 16, 18, 24, 32, 40, 54, 56, 58, 60, 62];
  if (elf.length >= 64) {
    const v = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
    const phoff = Number(v.getBigUint64(32, true) & 0xfff_ffffn), shoff = Number(v.getBigUint64(40, true) & 0xfff_ffffn);
    for (let i = 0; i < 4 * 56; i += 8) hot.push(phoff + i);
    for (let i = 0; i < 6 * 64; i += 8) hot.push(shoff + i);
  }
  return hot;
}

let seeds: Uint8Array[] = [];

function bytesOf(c: ElfCase): Uint8Array {
  const base = c.kind === 'corpus' ? seeds[c.seed] ?? new Uint8Array(0) : buildElf(c.spec);
  return mutate(base, c.mutations, hotOffsets(base));
}

export const elf: FuzzTarget<ElfCase> = {
  name: 'elf',
  async: false,
  fromCorpus(files: readonly CorpusFile[]) {
    seeds = files.map((f) => f.bytes);
    return files.map((_, seed) => ({ kind: 'corpus' as const, seed, mutations: [] }));
  },
  arbitrary: (s) => fc.oneof(
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('corpus' as const), seed: fc.nat(Math.max(0, s.length - 1)), mutations: fc.array(mutationArb(), { maxLength: 8 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('spec' as const), spec: specArb, mutations: fc.constant<Mutation[]>([]) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('spec' as const), spec: specArb, mutations: fc.array(mutationArb(), { maxLength: 4 }) }) },
  ),
  expected: (e) => e instanceof ElfError,
  memoryBound: () => 48 << 20,
  show: (c) => `${show(c)}\n  bytes: ${hexdump(bytesOf(c), 128)}`,
  run(c) {
    const bytes = bytesOf(c);
    const image = parseElf(bytes);
    note(`parsed: ${image.segments.length} segments, ${image.symbols.size ? 'symbols' : 'no symbols'}`);
    check(image.symbols.size <= bytes.length / 24, 'more symbols than the file has entries for');
    const ram = new Uint8Array(RAM_BYTES).fill(0xcc);
    loadElf(image, ram, RAM_BASE);
    note('loaded');
    for (const seg of image.segments) {
      check(seg.paddr >= RAM_BASE && seg.paddr + seg.memsz <= RAM_BASE + BigInt(RAM_BYTES), 'a segment was loaded outside RAM');
    }
    // The last segment written over a range wins; check the last one.
    const last = image.segments.at(-1);
    if (last) {
      const at = Number(last.paddr - RAM_BASE);
      check(Buffer.compare(ram.subarray(at, at + last.data.length), last.data) === 0, 'RAM does not hold the segment\'s bytes');
      check(ram.subarray(at + last.data.length, at + Number(last.memsz)).every((x) => x === 0), 'the segment\'s bss is not zero');
    }
  },
};
