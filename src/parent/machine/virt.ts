// The tshv `virt` machine: QEMU-virt-compatible memory map (ARCHITECTURE.md "Machine model")
// and the devicetree that describes it to a Linux guest.
//
//   0x0010_0000  test / syscon (sifive,test0)   poweroff 0x5555, reboot 0x7777
//   0x0010_1000  goldfish RTC                   PLIC source 11
//   0x0200_0000  CLINT                          bare-metal mode only (`tshv exec`)
//   0x0C00_0000  PLIC                           one context per hart: its S-mode external irq
//   0x1000_0000  UART0 ns16550a                 PLIC source 10
//   0x1000_1000  virtio-mmio slot 0..7          PLIC sources 1..8, 0x1000 apart
//   0x8000_0000  RAM
//
// Unlike QEMU's PLIC (two contexts per hart, M then S), ours has ONE context per hart, the
// supervisor external interrupt (cause 9): the guest runs in S-mode and the hypervisor, not
// the guest, is the M-mode firmware. Context index = hart index.
//
// Bindings followed: Documentation/devicetree/bindings/riscv/cpus.yaml,
// .../interrupt-controller/sifive,plic-1.0.0.yaml, .../rtc/google,goldfish-rtc.txt,
// .../power/reset/syscon-{poweroff,reboot}.yaml, .../virtio/mmio.yaml (Linux).
import { randomBytes } from 'node:crypto';
import { FdtBuilder } from './fdt.js';
import { MAX_VPS } from '../../hypervisor/control-block.js';
import { TIMEBASE_HZ } from '../../cpu/types.js';
import { FINISHER_PASS, FINISHER_RESET } from '../devices/syscon/device.js';

export class MachineConfigError extends Error {}

interface Region { base: bigint; size: bigint }

/** Guest-physical map of the virt machine; device models are mapped at the same addresses. */
export const VIRT_MAP = {
  test: { base: 0x0010_0000n, size: 0x1000n },
  rtc: { base: 0x0010_1000n, size: 0x1000n },
  clint: { base: 0x0200_0000n, size: 0x1_0000n }, // bare-metal mode only; Linux guests use SBI timers
  plic: { base: 0x0c00_0000n, size: 0x60_0000n },
  uart0: { base: 0x1000_0000n, size: 0x100n },
  virtio: { base: 0x1000_1000n, size: 0x1000n },
  ram: { base: 0x8000_0000n, size: 0n },
} as const satisfies Record<string, Region>;

export const VIRTIO_SLOTS = 8;
/** PLIC interrupt sources (QEMU virt's numbering). */
export const VIRT_IRQ = { virtio0: 1, uart0: 10, rtc: 11 } as const;
/** Highest PLIC source number (riscv,ndev); sources are 1..95 as on QEMU virt. */
export const PLIC_NDEV = 95;
/** ns16550a input clock (1.8432 MHz x 2), as QEMU virt advertises. */
export const UART_CLOCK_HZ = 3_686_400;
/** What our harts implement (src/cpu): RV64GC, the counters, and Sstc. */
export const DEFAULT_ISA = 'rv64imafdc_zicsr_zifencei_zicntr_sstc';
export const RNG_SEED_BYTES = 32;
/** Linux on RISC-V keeps COMMAND_LINE_SIZE = 1024 bytes including the NUL. */
export const MAX_BOOTARGS_BYTES = 1023;

/** mcause interrupt code of a supervisor external interrupt (privileged spec, Table 3.6). */
const IRQ_S_EXT = 9;

export function virtioSlotBase(slot: number): bigint {
  return VIRT_MAP.virtio.base + BigInt(slot) * VIRT_MAP.virtio.size;
}

export interface VirtConfig {
  /** Harts, 1..MAX_VPS; hart ids are 0..cpus-1 and hart 0 boots. */
  cpus: number;
  /** Guest-physical start of RAM; default 0x80000000. */
  ramBase?: bigint;
  ramBytes: bigint;
  /** Kernel command line (/chosen/bootargs). */
  bootargs: string;
  /** Guest-physical [start, end) of the initrd, already placed in RAM. */
  initrd?: { start: bigint; end: bigint };
  /** riscv,isa of every hart; default DEFAULT_ISA. */
  isa?: string;
  /** Which of the 8 virtio-mmio slots get a node (0-based); default none. */
  virtioSlots?: number[];
  /** /chosen/rng-seed for the guest's entropy pool: default 32 bytes from crypto.randomBytes;
   *  pass bytes for a reproducible tree, or null for none. */
  rngSeed?: Uint8Array | null;
}

export interface IsaDescription { base: string; extensions: string[] }

/**
 * Splits a RISC-V ISA string such as "rv64imafdc_zicsr_sstc" into riscv,isa-base ("rv64i")
 * and riscv,isa-extensions (i m a f d c zicsr sstc), the newer binding's form. "g" expands
 * to imafd + zicsr + zifencei. Version numbers ("2p1") are not accepted.
 */
export function describeIsa(isa: string): IsaDescription {
  const m = /^rv64([a-z]+)((?:_[a-z][a-z0-9]*)*)$/.exec(isa);
  if (!m) throw new MachineConfigError(`ISA string "${isa}" is not of the form rv64<letters>[_<extension>]... (lower case)`);
  const [, single, multi] = m;
  if (single[0] !== 'i' && single[0] !== 'g') throw new MachineConfigError(`ISA string "${isa}": the base must be i (or g)`);
  const letters: string[] = [];
  const extra: string[] = [];
  for (const c of single) {
    if (c === 'g') { letters.push('i', 'm', 'a', 'f', 'd'); extra.push('zicsr', 'zifencei'); continue; }
    letters.push(c);
  }
  const named = multi.split('_').filter((s) => s !== '');
  for (const n of named) {
    if (!/^[zsx]/.test(n)) throw new MachineConfigError(`ISA string "${isa}": multi-letter extension "${n}" must start with z, s or x`);
  }
  const extensions: string[] = [];
  for (const e of [...letters, ...extra, ...named]) {
    if (!extensions.includes(e)) extensions.push(e);
  }
  if (letters.length !== new Set(letters).size) throw new MachineConfigError(`ISA string "${isa}" repeats an extension letter`);
  return { base: 'rv64i', extensions };
}

/** Validates a configuration (no side effects); throws MachineConfigError saying what to fix. */
export function checkVirtConfig(config: VirtConfig): void {
  const { cpus, ramBytes, bootargs, initrd } = config;
  const ramBase = config.ramBase ?? VIRT_MAP.ram.base;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_VPS) throw new MachineConfigError(`cpus must be 1..${MAX_VPS}, not ${cpus}`);
  if (ramBytes <= 0n || ramBytes % 0x1000n !== 0n) throw new MachineConfigError(`RAM size ${ramBytes} bytes is not a positive multiple of 4 KiB`);
  if (ramBase % 0x20_0000n !== 0n) throw new MachineConfigError(`RAM base 0x${ramBase.toString(16)} is not 2 MiB aligned`);
  const ramEnd = ramBase + ramBytes;
  if (ramEnd > 1n << 48n) throw new MachineConfigError(`RAM ends at 0x${ramEnd.toString(16)}, beyond the 48-bit physical address space`);
  for (const [name, r] of Object.entries(VIRT_MAP)) {
    if (name === 'ram') continue;
    const size = name === 'virtio' ? r.size * BigInt(VIRTIO_SLOTS) : r.size;
    if (ramBase < r.base + size && r.base < ramEnd) throw new MachineConfigError(`RAM 0x${ramBase.toString(16)}..0x${ramEnd.toString(16)} overlaps the ${name} device`);
  }
  const argBytes = new TextEncoder().encode(bootargs).length;
  if (bootargs.includes('\0')) throw new MachineConfigError('bootargs contains a NUL character');
  if (argBytes > MAX_BOOTARGS_BYTES) throw new MachineConfigError(`bootargs is ${argBytes} bytes; Linux keeps at most ${MAX_BOOTARGS_BYTES}`);
  if (initrd) {
    if (initrd.start >= initrd.end) throw new MachineConfigError(`initrd 0x${initrd.start.toString(16)}..0x${initrd.end.toString(16)} is empty`);
    if (initrd.start < ramBase || initrd.end > ramEnd) throw new MachineConfigError(`initrd 0x${initrd.start.toString(16)}..0x${initrd.end.toString(16)} is outside RAM`);
  }
  describeIsa(config.isa ?? DEFAULT_ISA);
  const slots = config.virtioSlots ?? [];
  for (const s of slots) {
    if (!Number.isInteger(s) || s < 0 || s >= VIRTIO_SLOTS) throw new MachineConfigError(`virtio slot ${s} is not 0..${VIRTIO_SLOTS - 1}`);
  }
  if (new Set(slots).size !== slots.length) throw new MachineConfigError('a virtio slot is listed twice');
  if (config.rngSeed && (config.rngSeed.length === 0 || config.rngSeed.length > 512)) {
    throw new MachineConfigError(`rng-seed of ${config.rngSeed.length} bytes (1..512 allowed)`);
  }
}

const hex = (v: bigint | number): string => v.toString(16);

/** The devicetree blob for a virt machine with this configuration. */
export function buildVirtDtb(config: VirtConfig): Uint8Array {
  checkVirtConfig(config);
  const ramBase = config.ramBase ?? VIRT_MAP.ram.base;
  const isa = config.isa ?? DEFAULT_ISA;
  const { base: isaBase, extensions } = describeIsa(isa);
  const rngSeed = config.rngSeed === undefined ? randomBytes(RNG_SEED_BYTES) : config.rngSeed;
  const slots = [...(config.virtioSlots ?? [])].sort((a, b) => a - b);

  const fdt = new FdtBuilder(0);
  const cpuPh: number[] = [], intcPh: number[] = [];
  for (let n = 0; n < config.cpus; n++) { cpuPh.push(fdt.allocPhandle()); intcPh.push(fdt.allocPhandle()); }
  const plic = fdt.allocPhandle(), test = fdt.allocPhandle();
  const uart = `serial@${hex(VIRT_MAP.uart0.base)}`;

  fdt.beginNode('');
  fdt.u32('#address-cells', 2).u32('#size-cells', 2);
  fdt.strings('compatible', ['tshv,virt', 'riscv-virtio']);
  fdt.string('model', 'tshv virt');

  fdt.beginNode('chosen');
  fdt.string('bootargs', config.bootargs);
  fdt.string('stdout-path', `/soc/${uart}`);
  if (config.initrd) fdt.u64('linux,initrd-start', config.initrd.start).u64('linux,initrd-end', config.initrd.end);
  if (rngSeed) fdt.bytes('rng-seed', rngSeed);
  fdt.endNode();

  fdt.beginNode(`memory@${hex(ramBase)}`);
  fdt.string('device_type', 'memory');
  fdt.u64('reg', ramBase, config.ramBytes);
  fdt.endNode();

  fdt.beginNode('cpus');
  fdt.u32('#address-cells', 1).u32('#size-cells', 0);
  fdt.u32('timebase-frequency', TIMEBASE_HZ);
  for (let n = 0; n < config.cpus; n++) {
    fdt.beginNode(`cpu@${hex(n)}`);
    fdt.string('device_type', 'cpu');
    fdt.u32('reg', n);
    fdt.string('status', 'okay');
    fdt.string('compatible', 'riscv');
    fdt.string('riscv,isa', isa);
    fdt.string('riscv,isa-base', isaBase);
    fdt.strings('riscv,isa-extensions', extensions);
    fdt.string('mmu-type', 'riscv,sv48');
    fdt.phandle(cpuPh[n]);
    fdt.beginNode('interrupt-controller');
    fdt.string('compatible', 'riscv,cpu-intc');
    fdt.u32('#address-cells', 0).u32('#interrupt-cells', 1);
    fdt.empty('interrupt-controller');
    fdt.phandle(intcPh[n]);
    fdt.endNode();
    fdt.endNode();
  }
  fdt.beginNode('cpu-map').beginNode('cluster0');
  for (let n = 0; n < config.cpus; n++) fdt.beginNode(`core${n}`).u32('cpu', cpuPh[n]).endNode();
  fdt.endNode().endNode();
  fdt.endNode(); // cpus

  fdt.beginNode('poweroff');
  fdt.string('compatible', 'syscon-poweroff');
  fdt.u32('regmap', test).u32('offset', 0).u32('value', FINISHER_PASS);
  fdt.endNode();
  fdt.beginNode('reboot');
  fdt.string('compatible', 'syscon-reboot');
  fdt.u32('regmap', test).u32('offset', 0).u32('value', FINISHER_RESET);
  fdt.endNode();

  fdt.beginNode('soc');
  fdt.u32('#address-cells', 2).u32('#size-cells', 2);
  fdt.string('compatible', 'simple-bus');
  fdt.empty('ranges');

  fdt.beginNode(`test@${hex(VIRT_MAP.test.base)}`);
  fdt.strings('compatible', ['sifive,test1', 'sifive,test0', 'syscon']);
  fdt.u64('reg', VIRT_MAP.test.base, VIRT_MAP.test.size);
  fdt.phandle(test);
  fdt.endNode();

  fdt.beginNode(`rtc@${hex(VIRT_MAP.rtc.base)}`);
  fdt.string('compatible', 'google,goldfish-rtc');
  fdt.u64('reg', VIRT_MAP.rtc.base, VIRT_MAP.rtc.size);
  fdt.u32('interrupts', VIRT_IRQ.rtc).u32('interrupt-parent', plic);
  fdt.endNode();

  fdt.beginNode(`plic@${hex(VIRT_MAP.plic.base)}`);
  fdt.strings('compatible', ['sifive,plic-1.0.0', 'riscv,plic0']);
  fdt.u64('reg', VIRT_MAP.plic.base, VIRT_MAP.plic.size);
  fdt.u32('#address-cells', 0).u32('#interrupt-cells', 1);
  fdt.empty('interrupt-controller');
  fdt.u32('riscv,ndev', PLIC_NDEV);
  fdt.u32('interrupts-extended', ...intcPh.flatMap((ph) => [ph, IRQ_S_EXT]));
  fdt.phandle(plic);
  fdt.endNode();

  fdt.beginNode(uart);
  fdt.string('compatible', 'ns16550a');
  fdt.u64('reg', VIRT_MAP.uart0.base, VIRT_MAP.uart0.size);
  fdt.u32('clock-frequency', UART_CLOCK_HZ);
  fdt.u32('interrupts', VIRT_IRQ.uart0).u32('interrupt-parent', plic);
  fdt.endNode();

  for (const slot of slots) {
    const base = virtioSlotBase(slot);
    fdt.beginNode(`virtio_mmio@${hex(base)}`);
    fdt.string('compatible', 'virtio,mmio');
    fdt.u64('reg', base, VIRT_MAP.virtio.size);
    fdt.u32('interrupts', VIRT_IRQ.virtio0 + slot).u32('interrupt-parent', plic);
    fdt.endNode();
  }
  fdt.endNode(); // soc

  fdt.endNode(); // root
  return fdt.finish();
}
