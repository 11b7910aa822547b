import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findNode, parseFdt, propValue, type FdtNode } from './fdt.js';
import { decompileDtb } from './dtc.js';
import { buildVirtDtb, describeIsa, MachineConfigError, DEFAULT_ISA, type VirtConfig } from './virt.js';

const SEED = new Uint8Array(32).map((_, i) => i + 1);
const base: VirtConfig = {
  cpus: 4, ramBytes: 256n << 20n, bootargs: 'console=ttyS0 earlycon', rngSeed: SEED,
  initrd: { start: 0x8f000000n, end: 0x8f123456n }, virtioSlots: [0, 3],
};

function node(root: FdtNode, path: string): FdtNode {
  const n = findNode(root, path);
  assert.ok(n, `${path} exists`);
  return n;
}
const str = (n: FdtNode, p: string): string => propValue.string(n.props.get(p) ?? assert.fail(`${n.name} has ${p}`));
const strs = (n: FdtNode, p: string): string[] => propValue.strings(n.props.get(p) ?? assert.fail(`${n.name} has ${p}`));
const cells = (n: FdtNode, p: string): number[] => propValue.cells(n.props.get(p) ?? assert.fail(`${n.name} has ${p}`));
const u64s = (n: FdtNode, p: string): bigint[] => propValue.u64s(n.props.get(p) ?? assert.fail(`${n.name} has ${p}`));

test('cpus: one node per hart with the exact strings Linux matches on', () => {
  const { root } = parseFdt(buildVirtDtb(base));
  const cpus = node(root, '/cpus');
  assert.deepEqual(cells(cpus, 'timebase-frequency'), [10_000_000]);
  assert.deepEqual(cells(cpus, '#address-cells'), [1]);
  assert.deepEqual(cells(cpus, '#size-cells'), [0]);
  for (let n = 0; n < 4; n++) {
    const cpu = node(root, `/cpus/cpu@${n}`);
    assert.equal(str(cpu, 'device_type'), 'cpu');
    assert.deepEqual(cells(cpu, 'reg'), [n]);
    assert.equal(str(cpu, 'status'), 'okay');
    assert.equal(str(cpu, 'compatible'), 'riscv');
    assert.equal(str(cpu, 'riscv,isa'), 'rv64imafdc_zicsr_zifencei_zicntr_sstc');
    assert.equal(str(cpu, 'riscv,isa-base'), 'rv64i');
    assert.deepEqual(strs(cpu, 'riscv,isa-extensions'), ['i', 'm', 'a', 'f', 'd', 'c', 'zicsr', 'zifencei', 'zicntr', 'sstc']);
    assert.equal(str(cpu, 'mmu-type'), 'riscv,sv48');
    const intc = node(cpu, 'interrupt-controller');
    assert.equal(str(intc, 'compatible'), 'riscv,cpu-intc');
    assert.deepEqual(cells(intc, '#interrupt-cells'), [1]);
    assert.equal(intc.props.get('interrupt-controller')?.length, 0);
    assert.deepEqual(cells(node(root, `/cpus/cpu-map/cluster0/core${n}`), 'cpu'), cells(cpu, 'phandle'));
  }
  assert.equal(findNode(root, '/cpus/cpu@4'), undefined);
});

test('PLIC: one S-mode context per hart, in hart order', () => {
  const { root } = parseFdt(buildVirtDtb(base));
  const plic = node(root, '/soc/plic@c000000');
  assert.deepEqual(strs(plic, 'compatible'), ['sifive,plic-1.0.0', 'riscv,plic0']);
  assert.deepEqual(u64s(plic, 'reg'), [0x0c000000n, 0x600000n]);
  assert.deepEqual(cells(plic, 'riscv,ndev'), [95]);
  assert.deepEqual(cells(plic, '#interrupt-cells'), [1]);
  assert.deepEqual(cells(plic, '#address-cells'), [0]);
  const intcs = [0, 1, 2, 3].map((n) => cells(node(root, `/cpus/cpu@${n}/interrupt-controller`), 'phandle')[0]);
  assert.deepEqual(cells(plic, 'interrupts-extended'), intcs.flatMap((ph) => [ph, 9]));
  const ph = cells(plic, 'phandle')[0];
  for (const [path, irq] of [['/soc/serial@10000000', 10], ['/soc/rtc@101000', 11], ['/soc/virtio_mmio@10001000', 1], ['/soc/virtio_mmio@10004000', 4]] as const) {
    assert.deepEqual(cells(node(root, path), 'interrupts'), [irq], path);
    assert.deepEqual(cells(node(root, path), 'interrupt-parent'), [ph], path);
  }
});

test('memory, chosen, devices and syscon power nodes', () => {
  const { root } = parseFdt(buildVirtDtb(base));
  assert.deepEqual(strs(root, 'compatible'), ['tshv,virt', 'riscv-virtio']);
  const mem = node(root, '/memory@80000000');
  assert.equal(str(mem, 'device_type'), 'memory');
  assert.deepEqual(u64s(mem, 'reg'), [0x80000000n, 0x10000000n]);
  const chosen = node(root, '/chosen');
  assert.equal(str(chosen, 'bootargs'), 'console=ttyS0 earlycon');
  assert.equal(str(chosen, 'stdout-path'), '/soc/serial@10000000');
  assert.ok(findNode(root, str(chosen, 'stdout-path')), 'stdout-path names a real node');
  assert.deepEqual(u64s(chosen, 'linux,initrd-start'), [0x8f000000n]);
  assert.deepEqual(u64s(chosen, 'linux,initrd-end'), [0x8f123456n]);
  assert.deepEqual([...chosen.props.get('rng-seed')!], [...SEED]);
  const soc = node(root, '/soc');
  assert.equal(str(soc, 'compatible'), 'simple-bus');
  assert.equal(soc.props.get('ranges')?.length, 0);
  const uart = node(root, '/soc/serial@10000000');
  assert.equal(str(uart, 'compatible'), 'ns16550a');
  assert.deepEqual(u64s(uart, 'reg'), [0x10000000n, 0x100n]);
  assert.deepEqual(cells(uart, 'clock-frequency'), [3686400]);
  const rtc = node(root, '/soc/rtc@101000');
  assert.equal(str(rtc, 'compatible'), 'google,goldfish-rtc');
  assert.deepEqual(u64s(rtc, 'reg'), [0x101000n, 0x1000n]);
  const testDev = node(root, '/soc/test@100000');
  assert.deepEqual(strs(testDev, 'compatible'), ['sifive,test1', 'sifive,test0', 'syscon']);
  assert.deepEqual(u64s(testDev, 'reg'), [0x100000n, 0x1000n]);
  const testPh = cells(testDev, 'phandle');
  for (const [path, compat, value] of [['/poweroff', 'syscon-poweroff', 0x5555], ['/reboot', 'syscon-reboot', 0x7777]] as const) {
    const n = node(root, path);
    assert.equal(str(n, 'compatible'), compat);
    assert.deepEqual(cells(n, 'regmap'), testPh);
    assert.deepEqual(cells(n, 'offset'), [0]);
    assert.deepEqual(cells(n, 'value'), [value]);
  }
  const virtio = node(root, '/soc').children.filter((c) => c.name.startsWith('virtio_mmio@')).map((c) => c.name);
  assert.deepEqual(virtio, ['virtio_mmio@10001000', 'virtio_mmio@10004000']);
  assert.equal(str(node(root, '/soc/virtio_mmio@10004000'), 'compatible'), 'virtio,mmio');
  assert.deepEqual(u64s(node(root, '/soc/virtio_mmio@10004000'), 'reg'), [0x10004000n, 0x1000n]);
});

test('optional parts: no initrd, no virtio, a random or no rng-seed', () => {
  const plain = { cpus: 1, ramBytes: 64n << 20n, bootargs: '' };
  const { root } = parseFdt(buildVirtDtb({ ...plain, rngSeed: null }));
  const chosen = node(root, '/chosen');
  assert.equal(chosen.props.has('linux,initrd-start'), false);
  assert.equal(chosen.props.has('rng-seed'), false);
  assert.equal(node(root, '/soc').children.some((c) => c.name.startsWith('virtio_mmio')), false);
  assert.deepEqual(cells(node(root, '/soc/plic@c000000'), 'interrupts-extended').length, 2);
  const a = node(parseFdt(buildVirtDtb(plain)).root, '/chosen').props.get('rng-seed');
  const b = node(parseFdt(buildVirtDtb(plain)).root, '/chosen').props.get('rng-seed');
  assert.equal(a?.length, 32);
  assert.notDeepEqual(a, b, 'a fresh seed per tree');
});

test('the same config with a fixed seed builds the same bytes', () => {
  assert.deepEqual(buildVirtDtb(base), buildVirtDtb(base));
});

test('ISA strings', () => {
  assert.deepEqual(describeIsa(DEFAULT_ISA).extensions, ['i', 'm', 'a', 'f', 'd', 'c', 'zicsr', 'zifencei', 'zicntr', 'sstc']);
  assert.deepEqual(describeIsa('rv64gc'), { base: 'rv64i', extensions: ['i', 'm', 'a', 'f', 'd', 'c', 'zicsr', 'zifencei'] });
  assert.deepEqual(describeIsa('rv64gc_zicsr_svpbmt').extensions.slice(-3), ['zicsr', 'zifencei', 'svpbmt']);
  for (const bad of ['rv32imac', 'RV64IMAC', 'rv64mac', 'rv64i2p1', 'rv64imm', 'rv64i_', 'rv64i_abc', 'rv64ima_']) {
    assert.throws(() => describeIsa(bad), MachineConfigError, bad);
  }
});

test('bad configurations are MachineConfigError with the reason', () => {
  const bad: Array<[Partial<VirtConfig>, RegExp]> = [
    [{ cpus: 0 }, /cpus must be 1\.\.8/],
    [{ cpus: 9 }, /cpus must be 1\.\.8/],
    [{ cpus: 1.5 }, /cpus/],
    [{ ramBytes: 0n }, /RAM size/],
    [{ ramBytes: 4097n }, /4 KiB/],
    [{ ramBase: 0x80001000n }, /2 MiB aligned/],
    [{ ramBase: 0x10000000n }, /overlaps the uart0/],
    [{ ramBase: 0x0c200000n }, /overlaps the plic/],
    [{ bootargs: 'x'.repeat(1024) }, /1024 bytes; Linux keeps at most 1023/],
    [{ bootargs: 'a\0b' }, /NUL/],
    [{ initrd: { start: 0x90000000n, end: 0x90000001n } }, /outside RAM/],
    [{ initrd: { start: 0x81000000n, end: 0x81000000n } }, /empty/],
    [{ virtioSlots: [8] }, /virtio slot 8/],
    [{ virtioSlots: [1, 1] }, /twice/],
    [{ isa: 'rv64' }, /ISA string/],
    [{ rngSeed: new Uint8Array(0) }, /rng-seed/],
  ];
  for (const [patch, message] of bad) {
    assert.throws(() => buildVirtDtb({ ...base, ...patch }), (e: unknown) => e instanceof MachineConfigError && message.test(e.message), JSON.stringify(patch, (_, v) => typeof v === 'bigint' ? v.toString(16) : v));
  }
});

test('dtc decompiles the 4-hart tree without warnings', (t) => {
  const out = decompileDtb(buildVirtDtb(base));
  if (!out) { t.skip('dtc not installed (apt-get install device-tree-compiler)'); return; }
  assert.equal(out.status, 0, out.warnings);
  assert.equal(out.warnings, '', 'no warnings');
  const dts = out.dts;
  for (const line of [
    'timebase-frequency = <0x989680>;',
    'riscv,isa = "rv64imafdc_zicsr_zifencei_zicntr_sstc";',
    'riscv,isa-extensions = "i\\0m\\0a\\0f\\0d\\0c\\0zicsr\\0zifencei\\0zicntr\\0sstc";',
    'mmu-type = "riscv,sv48";',
    'compatible = "riscv,cpu-intc";',
    'compatible = "sifive,plic-1.0.0\\0riscv,plic0";',
    'riscv,ndev = <0x5f>;',
    'interrupts-extended = <0x02 0x09 0x04 0x09 0x06 0x09 0x08 0x09>;',
    'reg = <0x00 0xc000000 0x00 0x600000>;',
    'stdout-path = "/soc/serial@10000000";',
    'linux,initrd-start = <0x00 0x8f000000>;',
    'compatible = "google,goldfish-rtc";',
    'compatible = "sifive,test1\\0sifive,test0\\0syscon";',
    'compatible = "syscon-poweroff";',
    'value = <0x7777>;',
    'compatible = "virtio,mmio";',
  ]) assert.ok(dts.includes(line), `dts has ${line}`);
  // 3686400 = bytes 00 38 40 00, which dtc's decompiler guesses is a string and prints "\08@".
  assert.ok(dts.includes('clock-frequency = <0x384000>;') || dts.includes('clock-frequency = "\\08@";'));
  for (const name of ['cpu@0 {', 'cpu@3 {', 'memory@80000000 {', 'plic@c000000 {', 'serial@10000000 {', 'rtc@101000 {', 'test@100000 {', 'poweroff {', 'reboot {', 'virtio_mmio@10001000 {', 'virtio_mmio@10004000 {']) {
    assert.ok(dts.includes(name), `dts has node ${name}`);
  }
});
