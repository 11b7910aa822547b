// The shell benchmark's reading of busybox `time -p` and of a loop session, on recorded
// console text, so nothing boots under npm test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SessionRun } from './lib/console-session.js';
import { ITERATIONS, LOOP_COMMAND, parseTimeP, readLoop } from './shell.js';

const BOOT = [
  '[    0.812000] Run /init as init process',
  "tshv guest: Linux 6.1.192 riscv64, 1 hart(s), busybox shell; 'poweroff' to stop",
  'tshv:~# ',
].join('\n');

/** What the console shows for the loop: the echoed line (wrapped at 80 columns), its output. */
function output(real: string, count = ITERATIONS): string {
  return `${LOOP_COMMAND.slice(0, 72)}\n${LOOP_COMMAND.slice(72)}\nloop ${count}\nreal ${real}\nuser 0.54\nsys 0.90\n`;
}

function session(out: string, hostSeconds = 2): SessionRun {
  return {
    promptSeconds: 1.2,
    steps: [{ command: LOOP_COMMAND, output: out, hostSeconds }],
    exitCode: 0,
    signal: null,
    poweroffHung: false,
    log: `${BOOT}${out}tshv:~# poweroff\nreboot: Power down\n`,
    stderr: '',
  };
}

test('parseTimeP reads busybox time -p, the last report when there are several', () => {
  assert.deepEqual(parseTimeP(output('1.47')), { real: 1.47, user: 0.54, sys: 0.9 });
  assert.equal(parseTimeP(output('1.47') + output('3.5'))?.real, 3.5);
  assert.equal(parseTimeP('real\t0m 1.47s\nuser\t0m 0.54s\nsys\t0m 0.90s\n'), undefined); // without -p
  assert.equal(parseTimeP(''), undefined);
});

test('readLoop gives the times of a loop that ran to its end', () => {
  assert.deepEqual(readLoop(session(output('1.47'))), { real: 1.47, user: 0.54, sys: 0.9, hostSeconds: 2 });
});

test('readLoop names what is wrong with a run', () => {
  assert.match(readLoop(session(output('1.47', 499))) as string, /counted to 499, expected "loop 500"/);
  assert.match(readLoop(session(output('1.47').replace(/^loop .*\n/m, ''))) as string, /did not finish/);
  assert.match(readLoop(session(output('1.47').replace(/^real[^]*$/m, ''))) as string, /no "time -p" report/);
  assert.match(readLoop(session(output('2.50'), 2)) as string, /guest clock runs fast/);
  const { steps: _, ...rest } = session(output('1.47'));
  assert.match(readLoop({ ...rest, steps: [], exitCode: 1 }) as string, /exited while running "time -p sh -c/);
  const twoHarts = session(output('1.47'));
  assert.match(readLoop({ ...twoHarts, log: twoHarts.log.replace('1 hart(s)', '2 hart(s)') }) as string, /expected 1/);
});
