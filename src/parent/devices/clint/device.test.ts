// The CLINT against a real hart (the bare-metal mode's timer and software interrupts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WasmHart } from '../../../cpu/wasm-hart.js';
import { createVmMemory } from '../../../cpu/memory.js';
import { MTIMECMP } from '../../../cpu/layout.js';
import { Clint } from './device.js';

const MIP = 0x344, MSIP = 1n << 3n;

function clint(harts = 2) {
  const memory = createVmMemory(1 << 20);
  const hs = Array.from({ length: harts }, (_, i) => new WasmHart(memory, i, 0x8000_0000n, 1n << 20n, () => 1234n));
  let now = 0x1_0000_0005n;
  return { hs, dev: new Clint(hs, () => now), tick: (n: bigint) => { now += n; } };
}

test('msip: a write of bit 0 raises or lowers that hart\'s software interrupt; a read reflects it', () => {
  const { hs, dev } = clint();
  dev.write(4, 4, 1n);
  assert.equal(hs[1].csr(MIP) & MSIP, MSIP);
  assert.equal(hs[0].csr(MIP) & MSIP, 0n);
  assert.equal(dev.read(4, 4), 1n);
  dev.write(4, 4, 0n);
  assert.equal(dev.read(4, 4), 0n);
});

test('mtimecmp: 64-bit and 32-bit halves land in the hart\'s state block', () => {
  const { hs, dev } = clint();
  dev.write(0x4000 + 8, 8, 0x1122_3344_5566_7788n);
  assert.equal(hs[1].field(MTIMECMP), 0x1122_3344_5566_7788n);
  dev.write(0x4000 + 8 + 4, 4, 0xaabb_ccddn);
  assert.equal(hs[1].field(MTIMECMP), 0xaabb_ccdd_5566_7788n);
  assert.equal(dev.read(0x4000 + 8, 4), 0x5566_7788n);
});

test('mtime reads the timebase and ignores writes; addresses past the harts read zero', () => {
  const { dev, tick } = clint();
  assert.equal(dev.read(0xbff8, 8), 0x1_0000_0005n);
  assert.equal(dev.read(0xbffc, 4), 1n);
  tick(10n);
  dev.write(0xbff8, 8, 0n);
  assert.equal(dev.read(0xbff8, 8), 0x1_0000_000fn);
  assert.equal(dev.read(0x4000 + 16, 8), 0n, 'no third hart');
  assert.equal(dev.read(8, 4), 0n);
});
