// `tshv run`'s checks before any VM exists: what it refuses, how fast, and with what message.
// (Booting guests with it is test/boot.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { linkSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, TSHV } from './lib/guest-shell.js';

const dir = mkdtempSync(join(tmpdir(), 'tshv-cli-run-'));

/** `tshv run` with arguments and no input; killed after `timeout` ms (a hang is a failure). */
function tshvRun(args: string[], timeout = 30_000) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [TSHV, 'run', ...args], { cwd: ROOT, encoding: 'utf8', input: '', timeout });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

/** A usage error: exit 2, a message on stderr matching `message`, nothing booted, no stack trace. */
function assertUsageError(r: ReturnType<typeof tshvRun>, message: RegExp): void {
  assert.equal(r.signal, null, `tshv run hung and was killed after ${r.ms} ms; stderr:\n${r.stderr}`);
  assert.equal(r.code, 2, `exit code; stderr:\n${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.equal(r.stdout, '', 'no guest output');
}

test('a stray positional argument is a usage error naming it', () => {
  assertUsageError(tshvRun(['Image']), /tshv run: unexpected argument "Image": tshv run takes only options .*--kernel FILE/);
  assertUsageError(tshvRun(['--memory', '64M', 'a.img', 'b.img']), /unexpected arguments "a\.img" "b\.img"/);
});

test('a FIFO as kernel or initrd is refused at once, never opened for a blocking read', () => {
  const fifo = join(dir, 'a-fifo');
  execFileSync('mkfifo', [fifo]);
  // The old reader blocked forever waiting for a writer: the timeout turns that into a failure.
  assertUsageError(tshvRun(['--kernel', fifo], 20_000), /the kernel .*a-fifo is a named pipe \(FIFO\), not a regular file/);
  assertUsageError(tshvRun(['--initrd', fifo], 20_000), /the initrd .*a-fifo is a named pipe \(FIFO\), not a regular file/);
});

test('the same image twice (by a link, too) is a usage error unless both are read-only', () => {
  const image = join(dir, 'twice.raw');
  writeFileSync(image, Buffer.alloc(1 << 20));
  symlinkSync(image, join(dir, 'twice-symlink.raw'));
  linkSync(image, join(dir, 'twice-hardlink.raw'));
  assertUsageError(tshvRun(['--root', image, '--disk', `${image},readonly`]), /--disk .*twice\.raw is the same image as --root .*twice\.raw: an image can be attached twice only if both are read-only/);
  assertUsageError(tshvRun(['--disk', `${image},ro`, '--disk', join(dir, 'twice-symlink.raw')]), /--disk .*twice-symlink\.raw is the same image as --disk .*twice\.raw/);
  assertUsageError(tshvRun(['--disk', join(dir, 'twice-hardlink.raw'), '--disk', image]), /is the same image as --disk .*twice-hardlink\.raw/);
});
