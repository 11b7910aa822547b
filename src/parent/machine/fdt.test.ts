import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FdtBuilder, FdtError, FDT_MAGIC, findNode, parseFdt, propValue } from './fdt.js';
import { decompileDtb } from './dtc.js';

function sampleTree(): { dtb: Uint8Array; intc: number } {
  const fdt = new FdtBuilder(3);
  fdt.reserve(0x80000000n, 0x200000n);
  const intc = fdt.allocPhandle();
  fdt.beginNode('');
  fdt.u32('#address-cells', 2).u32('#size-cells', 2).string('model', 'test board');
  fdt.strings('compatible', ['vendor,board', 'generic-board']);
  fdt.beginNode('chosen').string('bootargs', 'console=ttyS0 quiet').u64('linux,initrd-start', 0x88000000n)
    .bytes('rng-seed', new Uint8Array([1, 2, 3, 4, 5])).endNode();
  fdt.beginNode('memory@80000000').string('device_type', 'memory').u64('reg', 0x80000000n, 0x10000000n).endNode();
  fdt.beginNode('intc').empty('interrupt-controller').u32('#interrupt-cells', 1).u32('#address-cells', 0).phandle(intc).endNode();
  fdt.beginNode('dev@1000').u64('reg', 0x1000n, 0x100n).u32('interrupts-extended', intc, 9).endNode();
  fdt.endNode();
  return { dtb: fdt.finish(), intc };
}

test('header fields, alignment and layout follow DT spec §5.2', () => {
  const { dtb } = sampleTree();
  const dv = new DataView(dtb.buffer);
  const h = (i: number): number => dv.getUint32(i * 4);
  assert.equal(h(0), FDT_MAGIC);
  assert.equal(h(1), dtb.length, 'totalsize');
  assert.equal(h(5), 17, 'version');
  assert.equal(h(6), 16, 'last_comp_version');
  assert.equal(h(7), 3, 'boot_cpuid_phys');
  assert.equal(h(4), 40, 'reservation block straight after the header');
  assert.equal(h(4) % 8, 0);
  assert.equal(h(2) % 4, 0, 'structure block 4-aligned');
  assert.ok(h(2) >= h(4) + 2 * 16, 'one reservation plus the terminator');
  assert.equal(h(3), h(2) + h(9), 'strings follow the structure block');
  assert.equal(dv.getUint32(h(2) + h(9) - 4), 9, 'structure block ends with FDT_END');
});

test('round trip: the reader gets back every node and property', () => {
  const { dtb, intc } = sampleTree();
  const fdt = parseFdt(dtb);
  assert.equal(fdt.bootCpuidPhys, 3);
  assert.deepEqual(fdt.reservations, [{ address: 0x80000000n, size: 0x200000n }]);
  assert.equal(fdt.root.name, '');
  assert.deepEqual(fdt.root.children.map((c) => c.name), ['chosen', 'memory@80000000', 'intc', 'dev@1000']);
  assert.deepEqual(propValue.cells(fdt.root.props.get('#address-cells')!), [2]);
  assert.deepEqual(propValue.strings(fdt.root.props.get('compatible')!), ['vendor,board', 'generic-board']);
  const chosen = findNode(fdt.root, '/chosen')!;
  assert.equal(propValue.string(chosen.props.get('bootargs')!), 'console=ttyS0 quiet');
  assert.deepEqual(propValue.u64s(chosen.props.get('linux,initrd-start')!), [0x88000000n]);
  assert.deepEqual([...chosen.props.get('rng-seed')!], [1, 2, 3, 4, 5]);
  const mem = findNode(fdt.root, '/memory@80000000')!;
  assert.deepEqual(propValue.u64s(mem.props.get('reg')!), [0x80000000n, 0x10000000n]);
  const ic = findNode(fdt.root, '/intc')!;
  assert.equal(ic.props.get('interrupt-controller')!.length, 0);
  assert.deepEqual(propValue.cells(ic.props.get('phandle')!), [intc]);
  assert.deepEqual(propValue.cells(findNode(fdt.root, '/dev@1000')!.props.get('interrupts-extended')!), [intc, 9]);
});

test('property names are stored once in the strings block (§5.5)', () => {
  const fdt = new FdtBuilder();
  fdt.beginNode('');
  for (let i = 0; i < 5; i++) fdt.beginNode(`n@${i}`).u32('reg', i).string('compatible', 'x').endNode();
  fdt.endNode();
  const dtb = fdt.finish();
  const dv = new DataView(dtb.buffer);
  const strings = new TextDecoder().decode(dtb.subarray(dv.getUint32(12), dv.getUint32(12) + dv.getUint32(32)));
  assert.equal(strings, 'reg\0compatible\0');
});

test('builder misuse is a typed error', () => {
  const cases: Array<[string, (f: FdtBuilder) => void]> = [
    ['root named', (f) => f.beginNode('x')],
    ['bad node name', (f) => f.beginNode('').beginNode('bad name')],
    ['node name too long', (f) => f.beginNode('').beginNode('a'.repeat(32))],
    ['bad property name', (f) => f.beginNode('').u32('bad name', 1)],
    ['property outside a node', (f) => f.u32('x', 1)],
    ['property after child', (f) => f.beginNode('').beginNode('a').endNode().u32('late', 1)],
    ['duplicate property', (f) => f.beginNode('').u32('a', 1).u32('a', 2)],
    ['duplicate node', (f) => f.beginNode('').beginNode('a').endNode().beginNode('a')],
    ['cell out of range', (f) => f.beginNode('').u32('a', 2 ** 32)],
    ['negative cell', (f) => f.beginNode('').u32('a', -1)],
    ['fractional cell', (f) => f.beginNode('').u32('a', 1.5)],
    ['u64 out of range', (f) => f.beginNode('').u64('a', 1n << 64n)],
    ['NUL in string', (f) => f.beginNode('').string('a', 'x\0y')],
    ['empty string list', (f) => f.beginNode('').strings('a', [])],
    ['unallocated phandle', (f) => f.beginNode('').phandle(7)],
    ['phandle twice', (f) => { const p = f.allocPhandle(); f.beginNode('').phandle(p).beginNode('a').phandle(p); }],
    ['unbalanced end', (f) => f.endNode()],
    ['second root', (f) => f.beginNode('').endNode().beginNode('')],
    ['unclosed at finish', (f) => { f.beginNode(''); f.finish(); }],
    ['no root at finish', (f) => { f.finish(); }],
    ['empty reservation', (f) => f.reserve(0x1000n, 0n)],
  ];
  for (const [what, run] of cases) {
    assert.throws(() => run(new FdtBuilder()), FdtError, what);
  }
});

test('reader rejects corrupt blobs with FdtError, never another exception', () => {
  const { dtb } = sampleTree();
  const set = (b: Uint8Array, off: number, v: number): Uint8Array => { const c = b.slice(); new DataView(c.buffer).setUint32(off, v); return c; };
  const bad: Array<[string, Uint8Array]> = [
    ['short', dtb.subarray(0, 20)],
    ['magic', set(dtb, 0, 0xdeadbeef)],
    ['totalsize past end', set(dtb, 4, dtb.length + 4)],
    ['struct offset past end', set(dtb, 8, 0x7fffffff)],
    ['strings size past end', set(dtb, 32, 0x7fffffff)],
    ['future version', set(dtb, 24, 18)],
    ['misaligned rsvmap', set(dtb, 16, 44)],
    ['bad token', set(dtb, new DataView(dtb.buffer).getUint32(8), 0x77)],
    ['truncated struct', set(dtb, 36, 16)],
  ];
  for (const [what, blob] of bad) assert.throws(() => parseFdt(blob), FdtError, what);
  // Every single-byte corruption of the structure block either parses or fails as FdtError.
  const dv = new DataView(dtb.buffer);
  for (let off = dv.getUint32(8); off < dv.getUint32(8) + dv.getUint32(36); off++) {
    const c = dtb.slice();
    c[off] ^= 0xff;
    try { parseFdt(c); } catch (e) { assert.ok(e instanceof FdtError, `offset ${off}: ${String(e)}`); }
  }
});

test('dtc decompiles the tree without warnings and sees what was put in', (t) => {
  const { dtb } = sampleTree();
  const out = decompileDtb(dtb);
  if (!out) { t.skip('dtc not installed (apt-get install device-tree-compiler)'); return; }
  assert.equal(out.status, 0, out.warnings);
  assert.equal(out.warnings, '', 'no warnings');
  const dts = out.dts;
  assert.match(dts, /\/memreserve\/\s+0x0*80000000 0x0*200000;/);
  assert.match(dts, /compatible = "vendor,board\\0generic-board";|compatible = "vendor,board", "generic-board";/);
  assert.match(dts, /bootargs = "console=ttyS0 quiet";/);
  assert.match(dts, /linux,initrd-start = <0x00 0x88000000>;/);
  assert.match(dts, /rng-seed = \[01 02 03 04 05\];/);
  assert.match(dts, /reg = <0x00 0x80000000 0x00 0x10000000>;/);
  assert.match(dts, /interrupt-controller;/);
  assert.match(dts, /phandle = <0x01>;/);
  assert.match(dts, /interrupts-extended = <0x01 0x09>;/);
});
