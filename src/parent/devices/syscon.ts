// sifive,test0 (QEMU virt's "test" device at 0x100000): a 32-bit write powers off or resets.
// FINISHER_PASS 0x5555, FINISHER_FAIL 0x3333 with the exit code in bits 31:16, RESET 0x7777.
import type { MmioDevice, Width } from './mmio.js';

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
      case 0x5555: this.onPower({ kind: 'poweroff' }); break;
      case 0x3333: this.onPower({ kind: 'fail', code: v >>> 16 }); break;
      case 0x7777: this.onPower({ kind: 'reset' }); break;
      default: break; // other values are ignored, as on QEMU
    }
  }
}
