import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Syscon, FINISHER_PASS, FINISHER_FAIL, FINISHER_RESET, type PowerEvent } from './device.js';

function syscon() {
  const events: PowerEvent[] = [];
  return { dev: new Syscon((e) => events.push(e)), events };
}

test('a write of PASS, FAIL (code in bits 31:16) or RESET to offset 0 powers off, fails or resets', () => {
  const { dev, events } = syscon();
  dev.write(0, 4, BigInt(FINISHER_PASS));
  dev.write(0, 4, BigInt((7 << 16) | FINISHER_FAIL));
  dev.write(0, 4, BigInt(FINISHER_RESET));
  assert.deepEqual(events, [{ kind: 'poweroff' }, { kind: 'fail', code: 7 }, { kind: 'reset' }]);
});

test('other values and other offsets are ignored; reads are zero', () => {
  const { dev, events } = syscon();
  dev.write(0, 4, 0x1234n);
  dev.write(4, 4, BigInt(FINISHER_PASS));
  dev.write(0, 4, 0xffff_ffff_0000_0000n | BigInt(0x4444)); // only the low 32 bits count
  assert.deepEqual(events, []);
  assert.equal(dev.read(), 0n);
});
