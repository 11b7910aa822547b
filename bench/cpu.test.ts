import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExecStats, parseGuestOutput } from './cpu.js';

const PASS_OUTPUT = [
  'cpu-mix: iterations 16000',
  'cpu-mix: list crc 0xc03fb6ab',
  'cpu-mix: matrix crc 0xa0fc0c8b',
  'cpu-mix: state crc 0xb1af3c0c',
  'cpu-mix: workload instret 2034778723',
  'cpu-mix: checksum 0xedd95299 expected 0xedd95299',
  'cpu-mix: PASS',
  '',
].join('\r\n');

test('parseGuestOutput reads the result lines main.c prints, CRLF and all', () => {
  assert.deepEqual(parseGuestOutput(PASS_OUTPUT), {
    pass: true,
    iterations: 16000,
    checksum: 0xedd95299,
    expected: 0xedd95299,
    workloadInstret: 2034778723,
  });
});

test('parseGuestOutput reports a failing guest and a trap', () => {
  const wrong = PASS_OUTPUT.replace('cpu-mix: PASS', 'cpu-mix: FAIL checksum mismatch');
  assert.equal(parseGuestOutput(wrong).pass, false);
  assert.equal(parseGuestOutput(wrong).failure, 'checksum mismatch');
  const trap = 'cpu-mix: iterations 16000\r\n\r\nFAIL unexpected trap mcause=0x00000002 mepc=0x80000100 mtval=0x00000000\r\n';
  assert.match(parseGuestOutput(trap).failure ?? '', /^unexpected trap mcause=0x00000002/);
});

test('parseGuestOutput does not mistake a truncated run for a pass', () => {
  const out = parseGuestOutput('cpu-mix: iterations 16000\n');
  assert.equal(out.pass, false);
  assert.equal(out.checksum, undefined);
});

test('parseExecStats reads the tshv exec --stats line and ignores guest lines', () => {
  assert.deepEqual(parseExecStats('tshv exec: 2034783464 instructions in 14.903 s (136.5 MIPS)\n'), {
    instret: 2034783464,
    seconds: 14.903,
  });
  assert.equal(parseExecStats('cpu-mix: 5 instructions in 1 s\n'), undefined);
  assert.equal(parseExecStats('tshv exec: FAIL: test 1\n'), undefined);
});

test('parseExecStats reads the translation tier\'s line when there is one', () => {
  const stderr =
    'tshv exec: 2034783464 instructions in 1.903 s (1069.3 MIPS)\n' +
    'tshv exec: translated 412 regions (20931 instructions, 1290 KiB) in 841 ms; 2 flushes, 1 given up\n';
  assert.deepEqual(parseExecStats(stderr), {
    instret: 2034783464,
    seconds: 1.903,
    translation: { regions: 412, instructions: 20931, kib: 1290, compileMs: 841, flushes: 2, failed: 1 },
  });
  // --no-jit: no translation line, no translation field
  assert.equal(parseExecStats('tshv exec: 10 instructions in 1.000 s (0.0 MIPS)\n')?.translation, undefined);
});
