// The CLINT (SiFive core-local interruptor, as on QEMU virt at 0x2000000): msip per hart at
// 0x0, mtimecmp per hart at 0x4000, mtime at 0xbff8. mtimecmp lives in each hart's state
// block so the core raises MTIP itself; msip drives the hart's MSIP line.
import type { MmioDevice, Width } from '../mmio.js';
import type { WasmHart } from '../../../cpu/wasm-hart.js';
import { Irq } from '../../../cpu/types.js';
import { MTIMECMP } from '../../../cpu/layout.js';

const MSIP_BASE = 0x0, MTIMECMP_BASE = 0x4000, MTIME = 0xbff8;

export class Clint implements MmioDevice {
  readonly name = 'clint';
  readonly size = 0x10000;
  constructor(private readonly harts: WasmHart[], private readonly now: () => bigint) {}

  read(offset: number, width: Width): bigint {
    if (offset < MSIP_BASE + 4 * this.harts.length && offset % 4 === 0 && width === 4) {
      return this.msip(offset >> 2);
    }
    const cmp = this.mtimecmpSlot(offset, width);
    if (cmp) return slice(cmp.hart.field(MTIMECMP), cmp.shift, width);
    if (offset >= MTIME && offset + width <= MTIME + 8) return slice(this.now(), (offset - MTIME) * 8, width);
    return 0n;
  }

  write(offset: number, width: Width, value: bigint): void {
    if (offset < MSIP_BASE + 4 * this.harts.length && offset % 4 === 0 && width === 4) {
      this.harts[offset >> 2].setIrq(Irq.MSIP, (value & 1n) !== 0n);
      return;
    }
    const cmp = this.mtimecmpSlot(offset, width);
    if (cmp) {
      const old = cmp.hart.field(MTIMECMP);
      cmp.hart.setField(MTIMECMP, splice(old, cmp.shift, width, value));
    }
    // mtime is read-only here: the timebase is the host's monotonic clock.
  }

  private msip(hart: number): bigint {
    return this.harts[hart].csr(0x344) & BigInt(Irq.MSIP) ? 1n : 0n;
  }

  private mtimecmpSlot(offset: number, width: Width): { hart: WasmHart; shift: number } | undefined {
    const rel = offset - MTIMECMP_BASE;
    if (rel < 0 || rel >= 8 * this.harts.length || (width !== 4 && width !== 8)) return undefined;
    const within = rel % 8;
    if (within + width > 8) return undefined;
    return { hart: this.harts[Math.floor(rel / 8)], shift: within * 8 };
  }
}

function slice(v: bigint, shift: number, width: Width): bigint {
  return (v >> BigInt(shift)) & ((1n << BigInt(width * 8)) - 1n);
}
function splice(old: bigint, shift: number, width: Width, value: bigint): bigint {
  const mask = ((1n << BigInt(width * 8)) - 1n) << BigInt(shift);
  return (old & ~mask) | ((value << BigInt(shift)) & mask);
}
