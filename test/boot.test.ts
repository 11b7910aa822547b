// `tshv run` boots the real default guest (guest/images: Linux 6.1 + busybox initramfs) and
// is driven from its shell through the pipe-mode console, as a user's script would.
// Usage errors and a guest panic are checked through the exit code and stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { GuestShell, TSHV, ROOT, kernelTrouble, withGuest } from './lib/guest-shell.js';

/** Per test: a boot takes ~2 s on a quiet machine, much longer on a loaded one. */
const BOOT_TEST_MS = 120_000;
const dir = mkdtempSync(join(tmpdir(), 'tshv-boot-'));

/** Fails with the whole console log when it shows the kernel in trouble. */
function assertCleanLog(g: GuestShell): void {
  const found = kernelTrouble(g.log);
  assert.deepEqual(found, [], `the console log shows kernel trouble (${found.join(', ')}):\n${g.log}`);
}

for (const cpus of [1, 4]) {
  test(`${cpus} VP(s): cpuinfo, uname, RTC date, PLIC interrupts, clean log, poweroff exits 0`, { timeout: BOOT_TEST_MS }, async () => {
    await withGuest(['--cpus', String(cpus)], async (g) => {
      await g.waitForPrompt();
      assert.match(g.log, new RegExp(`^tshv guest: Linux 6\\.1\\.\\d+ riscv64, ${cpus} hart\\(s\\), busybox shell`, 'm'));

      const cpuinfo = await g.run('cat /proc/cpuinfo');
      const processors = cpuinfo.match(/^processor\s*:/gm) ?? [];
      assert.equal(processors.length, cpus, `processor lines in /proc/cpuinfo:\n${cpuinfo}`);
      const isa = cpuinfo.match(/^isa\s*:.*$/gm) ?? [];
      assert.equal(isa.length, cpus, `isa lines in /proc/cpuinfo:\n${cpuinfo}`);
      for (const line of isa) assert.match(line, /:\s*rv64imafdc/, line);

      const uname = await g.run('uname -a');
      assert.match(uname.trim(), /^Linux tshv 6\.1\.\d+ .* riscv64( GNU\/Linux)?$/);

      // The kernel set its clock from the goldfish RTC, which reads the host's clock.
      const guestNow = Number((await g.run('date +%s')).trim());
      const hostNow = Date.now() / 1000;
      assert.ok(Number.isInteger(guestNow), `date +%s printed a number (got ${guestNow})`);
      assert.ok(Math.abs(guestNow - hostNow) <= 5, `guest date ${guestNow} is within 5 s of the host's ${hostNow.toFixed(1)}`);

      // The UART interrupt goes through the PLIC, and it has fired (the shell's input).
      const interrupts = await g.run('cat /proc/interrupts');
      const tty = /^\s*\d+:((?:\s+\d+){1,8})\s+SiFive PLIC\s.*ttyS0$/m.exec(interrupts);
      assert.ok(tty, `a PLIC line for ttyS0 in /proc/interrupts:\n${interrupts}`);
      const header = interrupts.split('\n')[0].trim().split(/\s+/);
      assert.equal(header.length, cpus, `one column per CPU in /proc/interrupts: ${header.join(' ')}`);
      const fired = tty[1].trim().split(/\s+/).map(Number).reduce((a, b) => a + b, 0);
      assert.ok(fired > 0, `ttyS0 interrupts counted: ${tty[0]}`);

      const exit = await g.poweroff();
      assert.deepEqual(exit, { code: 0, signal: null }, `tshv exit after poweroff; stderr:\n${g.stderr}`);
      assert.match(g.log, /reboot: Power down/);
      assertCleanLog(g);
    });
  });
}

test('input written at spawn, before the guest has booted, is not lost', { timeout: BOOT_TEST_MS }, async () => {
  await withGuest([], async (g) => {
    // All three lines go into the pipe now; none of the guest's console exists yet.
    const pending = [g.run('echo early-$((6 * 7))'), g.run('uname -m'), g.run('cat /proc/sys/kernel/hostname')];
    assert.equal(g.log, '', 'nothing printed yet when the input was written');
    const [first, machine, hostname] = await Promise.all(pending);
    assert.equal(first.trim(), 'early-42');
    assert.equal(machine.trim(), 'riscv64');
    assert.equal(hostname.trim(), 'tshv');
    // Each answer came from the shell, after /init's banner.
    const banner = g.log.indexOf('tshv guest: Linux');
    assert.ok(banner >= 0, 'the banner was printed');
    assert.ok(g.log.indexOf('\nearly-42\n') > banner, 'the first answer follows the banner');
    const exit = await g.poweroff();
    assert.deepEqual(exit, { code: 0, signal: null }, `tshv exit after poweroff; stderr:\n${g.stderr}`);
    assertCleanLog(g);
  });
});

test('a guest kernel panic ends tshv with exit code 1 and says so on stderr', { timeout: BOOT_TEST_MS }, async () => {
  await withGuest(['--append', 'console=ttyS0 rdinit=/nonexistent'], async (g) => {
    const exit = await g.waitForExit('tshv to exit after the panic', 90_000);
    assert.match(g.log, /Kernel panic - not syncing/);
    assert.deepEqual(exit, { code: 1, signal: null }, `exit status; stderr:\n${g.stderr}`);
    assert.match(g.stderr, /the guest kernel panicked/);
  });
});

/** `tshv run` with arguments and no input; for usage errors, which exit before any VM exists. */
function tshvRun(...args: string[]) {
  const r = spawnSync(process.execPath, [TSHV, 'run', ...args], { cwd: ROOT, encoding: 'utf8', input: '', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A usage error: exit 2, one message on stderr matching `message`, nothing booted, no stack trace. */
function assertUsageError(r: ReturnType<typeof tshvRun>, message: RegExp): void {
  assert.equal(r.code, 2, `exit code; stderr:\n${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.equal(r.stdout, '', 'no guest output');
}

test('a missing kernel file is a usage error naming the file', () => {
  const missing = join(dir, 'no-such-Image');
  assertUsageError(tshvRun('--kernel', missing), new RegExp(`${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: no such file`));
});

test('a kernel that is not a RISC-V Linux Image is a usage error saying why', () => {
  // The host's own node binary: an ELF of the wrong machine and the wrong format.
  assertUsageError(tshvRun('--kernel', process.execPath), /the kernel is not a RISC-V Linux Image: it looks like .*ELF/);
  // Gzip of random bytes: decompresses fine, but there is no Image header inside.
  const noise = join(dir, 'noise.gz');
  writeFileSync(noise, gzipSync(randomBytes(64 * 1024)));
  assertUsageError(tshvRun('--kernel', noise), /the kernel is not a RISC-V Linux Image/);
  // A truncated gzip stream.
  const broken = join(dir, 'broken.gz');
  writeFileSync(broken, gzipSync(randomBytes(64 * 1024)).subarray(0, 1000));
  assertUsageError(tshvRun('--kernel', broken), /kernel/);
});

test('--memory outside 16M..4G and --cpus outside 1..8 are usage errors', () => {
  assertUsageError(tshvRun('--memory', '1M'), /--memory 1M is too small/);
  assertUsageError(tshvRun('--memory', '9G'), /--memory 9G is too large/);
  assertUsageError(tshvRun('--memory', 'lots'), /--memory.*"lots" is not a size/);
  assertUsageError(tshvRun('--cpus', '0'), /--cpus must be a whole number from 1 to 8, got "0"/);
  assertUsageError(tshvRun('--cpus', '9'), /--cpus must be a whole number from 1 to 8, got "9"/);
  assertUsageError(tshvRun('--cpus', 'two'), /--cpus must be a whole number from 1 to 8/);
});
