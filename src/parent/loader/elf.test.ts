import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ElfError, MAX_SYMBOL_NAME, parseElf } from './elf.js';

/**
 * An ELF64 RISC-V executable with one PT_LOAD segment and a symbol table: `names` are the
 * string table's contents (NULs where the caller puts them), `symbols` the name offsets,
 * and `symtabs` section headers that all name the one table.
 */
function elf(strtab: Uint8Array, symbols: number[], symtabs = 1): Uint8Array {
  const phoff = 64, strAt = phoff + 56, symAt = Math.ceil((strAt + strtab.length) / 8) * 8;
  const shoff = symAt + 24 * (symbols.length + 1), shnum = 2 + symtabs;
  const b = new Uint8Array(shoff + 64 * shnum);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 2, true); v.setUint16(18, 243, true); v.setBigUint64(24, 0x8000_0000n, true);
  v.setBigUint64(32, BigInt(phoff), true); v.setBigUint64(40, BigInt(shoff), true);
  v.setUint16(54, 56, true); v.setUint16(56, 1, true); v.setUint16(58, 64, true); v.setUint16(60, shnum, true);
  v.setUint32(phoff, 1, true); v.setBigUint64(phoff + 24, 0x8000_0000n, true); v.setBigUint64(phoff + 40, 16n, true);
  b.set(strtab, strAt);
  symbols.forEach((name, i) => { v.setUint32(symAt + 24 * (i + 1), name, true); v.setBigUint64(symAt + 24 * (i + 1) + 8, BigInt(0x8000_1000 + i), true); });
  const sh = (i: number, type: number, off: number, size: number, link: number) => {
    v.setUint32(shoff + 64 * i + 4, type, true); v.setBigUint64(shoff + 64 * i + 24, BigInt(off), true);
    v.setBigUint64(shoff + 64 * i + 32, BigInt(size), true); v.setUint32(shoff + 64 * i + 40, link, true);
  };
  sh(1, 3, strAt, strtab.length, 0);
  for (let i = 0; i < symtabs; i++) sh(2 + i, 2, symAt, 24 * (symbols.length + 1), 1);
  return b;
}

test('symbols: names up to MAX_SYMBOL_NAME bytes are read; longer or unterminated ones are skipped', () => {
  const enc = new TextEncoder();
  const long = 'x'.repeat(MAX_SYMBOL_NAME);
  const strtab = Uint8Array.from([0, ...enc.encode('tohost'), 0, ...enc.encode(long), 0, ...enc.encode(`${long}y`), 0, ...enc.encode('runs-off-the-end')]);
  const image = parseElf(elf(strtab, [1, 8, 8 + MAX_SYMBOL_NAME + 1, 8 + 2 * MAX_SYMBOL_NAME + 3]));
  assert.deepEqual([...image.symbols.keys()], ['tohost', long]);
  assert.equal(image.symbols.get('tohost'), 0x8000_1000n);
});

// Found by the elf fuzz target (test/fuzz): names that never end made every symbol scan the
// rest of the string table, and every SHT_SYMTAB header naming the same table made it be
// walked again: seconds to minutes for a file of a few MiB. Now both are linear.
test('a hostile symbol table is read in time linear in the file: unterminated names, thousands of SHT_SYMTAB headers', () => {
  const unterminated = new Uint8Array(1 << 20).fill(0x41);
  unterminated[0] = 0;
  let t = performance.now();
  const a = parseElf(elf(unterminated, Array.from({ length: 20_000 }, (_, i) => 1 + i)));
  assert.equal(a.symbols.size, 0);
  const many = parseElf(elf(Uint8Array.from([0, 0x61, 0]), Array.from({ length: 20_000 }, () => 1), 4000));
  assert.deepEqual([...many.symbols.keys()], ['a']);
  t = performance.now() - t;
  assert.ok(t < 2000, `took ${t.toFixed(0)} ms`);
});

test('a symbol table whose string table is missing is an ElfError', () => {
  const b = elf(Uint8Array.from([0, 0x61, 0]), [1]);
  const v = new DataView(b.buffer);
  const shoff = Number(v.getBigUint64(40, true));
  v.setUint32(shoff + 2 * 64 + 40, 99, true); // link past the section headers
  assert.throws(() => parseElf(b), ElfError);
});
