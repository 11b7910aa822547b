// contenders(): tshv's two tiers and QEMU, the interpreter missing when tshv has no --no-jit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contenders, INTERPRETER_LABEL, type Machine } from './machines.js';

/** A "tshv" whose `<subcommand> --help` prints `help`. */
function fakeTshv(help: string): Machine {
  return { state: 'available', label: 'tshv', command: '/bin/sh', baseArgs: ['-c', `echo '${help}'`, 'fake'], version: 'test' };
}
const qemu: Machine = { state: 'missing', label: 'QEMU TCG', reason: 'not installed' };

test('contenders: QEMU, tshv, tshv --no-jit when the help lists the flag', () => {
  const c = contenders({ tshv: fakeTshv('  --no-jit   interpret only'), qemu }, 'exec');
  assert.deepEqual(c.map((x) => [x.machine.label, x.machine.state, x.isTshv, x.required, x.options]), [
    ['QEMU TCG', 'missing', false, false, []],
    ['tshv', 'available', true, true, []],
    [INTERPRETER_LABEL, 'available', true, false, ['--no-jit']],
  ]);
});

test('contenders: an older tshv without --no-jit has its interpreter row missing, with the reason', () => {
  const interpreter = contenders({ tshv: fakeTshv('  --stats'), qemu }, 'run')[2]!.machine;
  assert.equal(interpreter.state, 'missing');
  assert.match(interpreter.state === 'missing' ? interpreter.reason : '', /tshv run --help` does not list --no-jit/);
});
