// The disk benchmark's reading of dd and md5sum output, its run checks, the scratch image
// and the console driver on a fake machine (a shell script playing the guest), so nothing
// boots under npm test.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  COMMANDS,
  TRANSFER_BYTES,
  checkSession,
  consoleSession,
  ddSeconds,
  expectedCheckMd5,
  expectedChunk,
  freshImage,
  imageProblem,
  mbPerSecond,
  parseDdSummary,
  parseMd5sum,
  patternChunk,
  readRun,
  type SessionRun,
} from './disk.js';
import type { Machine } from './lib/machines.js';

const DD_OK = ['64+0 records in', '64+0 records out', '67108864 bytes (64.0MB) copied, 0.268586 seconds, 238.3MB/s', ''].join('\n');

test('parseDdSummary reads busybox dd\'s three lines, the last summary when there are several', () => {
  assert.deepEqual(parseDdSummary(`tshv:~# dd if=/dev/zero of=/dev/vda\n${DD_OK}`), {
    fullIn: 64, partialIn: 0, fullOut: 64, partialOut: 0, bytes: 67108864, seconds: 0.268586,
  });
  const two = DD_OK + DD_OK.replace('0.268586', '1.5');
  assert.equal(parseDdSummary(two)?.seconds, 1.5);
  assert.equal(parseDdSummary('64+0 records in\n64+0 records out\n'), undefined); // status=noxfer
  assert.equal(parseDdSummary(''), undefined);
});

test('ddSeconds accepts exactly 64 whole 1 MiB blocks and quotes dd\'s errors otherwise', () => {
  assert.equal(ddSeconds(DD_OK), 0.268586);
  assert.match(String(ddSeconds("dd: can't open '/dev/vda': No such file or directory\n")), /no dd summary.*can't open '\/dev\/vda'/);
  const short = "dd: error writing '/dev/vda': No space left on device\n12+0 records in\n11+1 records out\n12058624 bytes (11.5MB) copied, 0.1 seconds, 115MB/s\n";
  assert.match(String(ddSeconds(short)), /12\+0 records in, 11\+1 out, 12058624 bytes; expected 64\+0 and 67108864 \(dd: error writing/);
  assert.match(String(ddSeconds(DD_OK.replace('0.268586', '0.000000'))), /0 seconds/);
});

test('mbPerSecond is decimal megabytes; parseMd5sum reads md5sum of stdin', () => {
  assert.equal(mbPerSecond(TRANSFER_BYTES, 0.268586).toFixed(1), '249.9');
  assert.equal(parseMd5sum('tshv:~# dd ... | md5sum\nb2d1236c286a3c0704224fe4105eca49  -\n'), 'b2d1236c286a3c0704224fe4105eca49');
  assert.equal(parseMd5sum('md5sum: not found\n'), undefined);
});

test('the image pattern differs word by word and across the disk; the expectation is zeros then pattern', () => {
  const a = patternChunk(0, 4096);
  const b = patternChunk(4096, 4096);
  assert.notDeepEqual(a, b);
  assert.deepEqual(patternChunk(4096, 16), b.subarray(0, 16), 'a chunk depends only on its offset');
  const words = new Uint32Array(a.buffer, a.byteOffset, a.length / 4);
  assert.equal(new Set(words).size, words.length);
  assert.ok(!words.includes(0));
  assert.deepEqual(expectedChunk(TRANSFER_BYTES - 4096, 4096), Buffer.alloc(4096));
  assert.deepEqual(expectedChunk(TRANSFER_BYTES, 4096), patternChunk(TRANSFER_BYTES, 4096));
  const zerosThenPattern = createHash('md5').update(Buffer.alloc(1 << 20)).update(patternChunk(TRANSFER_BYTES, 1 << 20)).digest('hex');
  assert.equal(expectedCheckMd5(), zerosThenPattern);
});

test('imageProblem finds where a raw image differs from what a correct run leaves', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tshv-disk-test-'));
  try {
    const img = freshImage(dir, 'raw');
    assert.match(imageProblem(img, 'raw', '') ?? '', /first at MiB 0$/, 'nothing written yet');
    const fd = openSync(img, 'r+');
    try {
      writeSync(fd, Buffer.alloc(TRANSFER_BYTES), 0, TRANSFER_BYTES, 0);
      assert.equal(imageProblem(img, 'raw', ''), undefined);
      writeSync(fd, Buffer.alloc(1), 0, 1, 100 * 2 ** 20 + 7); // a stray write beyond the range
      assert.match(imageProblem(img, 'raw', '') ?? '', /first at MiB 100$/);
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const BANNER = "tshv guest: Linux 6.1.192 riscv64, 1 hart(s), busybox shell; 'poweroff' to stop\n";
const MD5 = expectedCheckMd5();
const good: SessionRun = {
  promptSeconds: 1.2,
  steps: [
    { command: COMMANDS[0], output: `${COMMANDS[0]}\n${DD_OK}`, hostSeconds: 0.3 },
    { command: COMMANDS[1], output: `${COMMANDS[1]}\n${DD_OK.replace('0.268586', '0.1')}`, hostSeconds: 0.12 },
    { command: COMMANDS[2], output: `${COMMANDS[2]}\n${MD5}  -\n`, hostSeconds: 0.05 },
  ],
  exitCode: 0,
  signal: null,
  poweroffHung: false,
  log: `[    0.5] Run /init as init process\n${BANNER}tshv:~# `,
  stderr: '',
};

test('readRun gives dd\'s times for a clean run and names what is wrong with the others', () => {
  assert.deepEqual(readRun(good, MD5), { writeSeconds: 0.268586, readSeconds: 0.1, writeHostSeconds: 0.3, readHostSeconds: 0.12 });
  const [w, r, c] = good.steps;
  assert.match(String(readRun({ ...good, steps: [w!, r!, { ...c!, output: '0123456789abcdef0123456789abcdef  -\n' }] }, MD5)), /md5 0123.*expected/);
  assert.match(String(readRun({ ...good, steps: [{ ...w!, hostSeconds: 0.1 }, r!, c!] }, MD5)), /write: .*guest clock runs fast/);
  assert.match(String(readRun({ ...good, steps: [w!, { ...r!, output: "dd: can't open '/dev/vda'\n" }, c!] }, MD5)), /^read: no dd summary/);
  assert.match(String(readRun({ ...good, steps: [w!], exitCode: 1 }, MD5)), /exited while running "dd if=\/dev\/vda of=\/dev\/null/);
  assert.match(String(readRun({ ...good, log: good.log + 'Kernel panic - not syncing' }, MD5)), /kernel trouble/);
  assert.match(String(readRun({ ...good, log: good.log.replace('1 hart', '4 hart') }, MD5)), /expected 1/);
  assert.match(String(readRun({ ...good, poweroffHung: true, exitCode: null, signal: 'SIGKILL' }, MD5)), /after poweroff/);
  assert.match(checkSession({ ...good, timedOut: 'the first shell prompt' }, COMMANDS) ?? '', /waited for the first shell prompt/);
});

/** A "machine" that is /bin/sh running `script`: it plays the guest console. */
function fake(script: string): Machine & { state: 'available' } {
  return { state: 'available', label: 'fake', command: '/bin/sh', baseArgs: ['-c', script, 'fake'], version: 'test' };
}
const opts = { cwd: process.cwd(), bootMs: 5_000, commandMs: 5_000, poweroffMs: 5_000 };

test('consoleSession types each command after a prompt, collects its output, then powers off', async () => {
  // Echoes each line like a tty, answers after a delay, CRLF line ends like a serial console.
  const script = `printf '${BANNER.replace(/'/g, '')}tshv:~# '; while read -r cmd; do printf '%s\\r\\n' "$cmd"; ` +
    `case $cmd in poweroff) echo 'reboot: Power down'; exit 0;; slow) sleep 0.3; echo done;; *) echo "ran $cmd";; esac; ` +
    `printf 'tshv:~# '; done; exit 9`;
  const r = await consoleSession(fake(script), [], ['first', 'slow'], opts);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.deepEqual(r.steps.map((s) => [s.command, s.output]), [['first', 'first\nran first\n'], ['slow', 'slow\ndone\n']]);
  assert.ok(r.steps[1]!.hostSeconds >= 0.3 && r.steps[1]!.hostSeconds < 5, String(r.steps[1]!.hostSeconds));
  assert.equal(checkSession(r, ['first', 'slow']), undefined);
  assert.match(r.log, /tshv:~# poweroff\nreboot: Power down\n$/);
});

test('consoleSession kills a machine whose command never returns, and reports a missing program', async () => {
  const stuck = await consoleSession(fake("printf 'tshv:~# '; exec sleep 60"), [], ['dd'], { ...opts, commandMs: 300 });
  assert.equal(stuck.signal, 'SIGKILL');
  assert.equal(stuck.steps.length, 0);
  assert.match(checkSession(stuck, ['dd']) ?? '', /waited for the prompt after "dd"/);

  const missing = await consoleSession({ ...fake(''), command: '/nonexistent/qemu' }, [], [], opts);
  assert.equal(missing.promptSeconds, undefined);
  assert.match(missing.stderr, /ENOENT/);
  assert.match(checkSession(missing, []) ?? '', /exited before the shell prompt/);
});
