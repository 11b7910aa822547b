// sifive,test0 (QEMU virt's "test" device at 0x100000): a 32-bit write powers off or resets.
// FINISHER_PASS 0x5555, FINISHER_FAIL 0x3333 with the exit code in bits 31:16, RESET 0x7777.
// It holds no state (a write acts at once, reads are 0): nothing to save or restore.
import type { MmioDevice, Width } from '../mmio.js';

/** The values a 32-bit write to offset 0 acts on (the low 16 bits; FAIL carries the code above). */
export const FINISHER_PASS = 0x5555, FINISHER_FAIL = 0x3333, FINISHER_RESET = 0x7777;

export type PowerEvent = { kind: 'poweroff' } | { kind: 'fail'; code: number } | { kind: 'reset' };

export class Syscon implements MmioDevice {
  readonly name = 'sifive,test0';
  readonly size = 0x1000;
  constructor(private readonly onPower: (e: PowerEvent) => void) {}

  read(): bigint { return 0n; }

  write(offset: number, _width: Width, value: bigint): void {
    if (offset !== 0) return;
    const v = Number(value & 0xffffffffn);
    switch (v & 0xffff) {
      case FINISHER_PASS: this.onPower({ kind: 'poweroff' }); break;
      case FINISHER_FAIL: this.onPower({ kind: 'fail', code: v >>> 16 }); break;
      case FINISHER_RESET: this.onPower({ kind: 'reset' }); break;
      default: break; // other values are ignored, as on QEMU
    }
  }
}
