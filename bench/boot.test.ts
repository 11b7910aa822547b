// The boot benchmark's log reading and its spawn-to-prompt runner, on fake machines (a
// shell script playing the console), so nothing boots under npm test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootToPrompt, checkBoot, endsInPrompt, parseBootLog, type BootRun } from './boot.js';
import type { Machine } from './lib/machines.js';

const LOG = [
  '[    0.000000] Linux version 6.1.192 (tshv@tshv) #1 SMP',
  '[    1.747665] Run /init as init process',
  "tshv guest: Linux 6.1.192 riscv64, 4 hart(s), busybox shell; 'poweroff' to stop",
  'tshv:~# ',
].join('\n');

test('parseBootLog reads the banner, the kernel clock at /init and trouble', () => {
  assert.deepEqual(parseBootLog(LOG), { harts: 4, kernelAtInit: 1.747665, trouble: [] });
  const bad = parseBootLog('[    2.1] WARNING: CPU: 0 PID: 1 at foo\n[    2.2] Call Trace:\n');
  assert.deepEqual(bad, { trouble: ['WARNING:', 'Call Trace'] });
});

test('endsInPrompt wants the prompt at the very end of the output', () => {
  assert.ok(endsInPrompt(LOG));
  assert.ok(endsInPrompt('x\ntshv:/tmp# '));
  assert.ok(!endsInPrompt(LOG + 'uname\n'));
  assert.ok(!endsInPrompt('tshv:~# \n'));
  assert.ok(!endsInPrompt('login: '));
});

const good: BootRun = { promptSeconds: 1.5, exitCode: 0, signal: null, timedOut: false, poweroffHung: false, log: LOG, stderr: '' };

test('checkBoot accepts a clean boot and names what is wrong with the others', () => {
  assert.equal(checkBoot(good, 4), undefined);
  assert.match(checkBoot(good, 1) ?? '', /banner says 4 hart\(s\), expected 1/);
  assert.match(checkBoot({ ...good, log: LOG + 'Oops\n' }, 4) ?? '', /kernel trouble.*Oops/);
  assert.match(checkBoot({ ...good, exitCode: 1 }, 4) ?? '', /exit status 1/);
  assert.match(checkBoot({ ...good, poweroffHung: true, exitCode: null, signal: 'SIGKILL' }, 4) ?? '', /after poweroff/);
  const { promptSeconds: _, ...noPrompt } = good;
  assert.match(checkBoot({ ...noPrompt, timedOut: true, exitCode: null, signal: 'SIGKILL' }, 4) ?? '', /no shell prompt/);
  assert.match(checkBoot({ ...noPrompt, exitCode: 1 }, 4) ?? '', /exited before the shell prompt \(exit status 1\)/);
});

/** A "machine" that is /bin/sh running `script`: it plays the guest console. */
function fake(script: string): Machine & { state: 'available' } {
  return { state: 'available', label: 'fake', command: '/bin/sh', baseArgs: ['-c', script, 'fake'], version: 'test' };
}
const opts = { cwd: process.cwd(), timeoutMs: 5_000, poweroffMs: 5_000 };

test('bootToPrompt times to the prompt, types poweroff and collects the exit', async () => {
  const script = `sleep 0.2; printf 'booting\\r\\n${LOG.replace(/\n/g, '\\r\\n').replace(/'/g, '')}'; ` +
    `read cmd; [ "$cmd" = poweroff ] && { echo 'reboot: Power down'; exit 0; }; exit 7`;
  const r = await bootToPrompt(fake(script), [], opts);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.ok(r.promptSeconds !== undefined && r.promptSeconds >= 0.2 && r.promptSeconds < 5, String(r.promptSeconds));
  assert.ok(!r.log.includes('\r'), 'CR removed');
  assert.match(r.log, /tshv:~# reboot: Power down\n$/);
  assert.equal(r.timedOut, false);
  assert.equal(r.poweroffHung, false);
});

test('bootToPrompt kills a machine that never prompts, and one that ignores poweroff', async () => {
  const silent = await bootToPrompt(fake('echo still booting; exec sleep 60'), [], { ...opts, timeoutMs: 300 });
  assert.equal(silent.timedOut, true);
  assert.equal(silent.signal, 'SIGKILL');
  assert.equal(silent.promptSeconds, undefined);
  assert.match(checkBoot(silent, 1) ?? '', /no shell prompt/);

  const stuck = await bootToPrompt(fake("printf 'tshv:~# '; exec sleep 60"), [], { ...opts, poweroffMs: 300 });
  assert.ok(stuck.promptSeconds !== undefined);
  assert.equal(stuck.poweroffHung, true);
  assert.equal(stuck.signal, 'SIGKILL');
});

test('bootToPrompt reports a program that cannot be started', async () => {
  const missing: Machine & { state: 'available' } = { ...fake(''), command: '/nonexistent/qemu' };
  const r = await bootToPrompt(missing, [], opts);
  assert.equal(r.promptSeconds, undefined);
  assert.match(r.stderr, /ENOENT/);
});
