// cpioArchive: newc headers and padding byte for byte, and Debian's cpio reading it back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { cpioArchive } from './cpio.js';

const SMALL = [
  { path: 'bin', mode: 0o755 },
  { path: 'bin/hi', mode: 0o755, data: Buffer.from('hi\n') },
];

/** A newc header from its thirteen fields, written out by hand (ino ... check). */
const header = (...fields: number[]) => `070701${fields.map((n) => n.toString(16).toUpperCase().padStart(8, '0')).join('')}`;

test('cpioArchive: headers, names, data and padding, byte for byte', () => {
  const expected = [
    // "bin": a directory (040755), nlink 2, name 4 bytes with its NUL; 110 + 4 = 114, padded to 116
    header(1, 0o40755, 0, 0, 2, 0, 0, 0, 0, 0, 0, 4, 0), 'bin\0', '\0\0',
    // "bin/hi": a file (0100755), 3 bytes; 110 + 7 = 117, padded to 120; data 3, padded to 4
    header(2, 0o100755, 0, 0, 1, 0, 3, 0, 0, 0, 0, 7, 0), 'bin/hi\0', '\0\0\0', 'hi\n', '\0',
    // the trailer: 110 + 11 = 121, padded to 124
    header(0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0), 'TRAILER!!!\0', '\0\0\0',
  ].join('');
  const archive = cpioArchive(SMALL);
  assert.equal(archive.toString('latin1'), expected);
  assert.equal(archive.length, 116 + 124 + 124);
  // The first header spelt out, so the test does not lean on its own hex formatting alone.
  const dir = ['070701', '00000001', '000041ED', '00000000', '00000000', '00000002', '00000000', '00000000',
    '00000000', '00000000', '00000000', '00000000', '00000004', '00000000'].join('');
  assert.equal(archive.subarray(0, 110).toString('latin1'), dir);
});

test('cpioArchive: refuses paths that are not relative and plain, and modes that are not permission bits', () => {
  for (const path of ['/bin', 'bin/', 'a//b', '../x', 'a/./b', '', 'TRAILER!!!']) {
    assert.throws(() => cpioArchive([{ path, mode: 0o755 }]), /not a relative path/, path);
  }
  assert.throws(() => cpioArchive([{ path: 'x', mode: 0o100755 }]), /not permission bits/);
});

const cpio = spawnSync('cpio', ['--version'], { encoding: 'utf8' });
const noCpio = cpio.error !== undefined || cpio.status !== 0 ? 'no cpio on PATH (Debian: apt-get install cpio)' : false;

test('cpioArchive: Debian\'s cpio lists the archive and extracts the file', { skip: noCpio }, () => {
  const archive = cpioArchive(SMALL);
  const list = spawnSync('cpio', ['-t', '-v', '--quiet'], { input: archive, encoding: 'utf8' });
  assert.equal(list.status, 0, list.stderr);
  const lines = list.stdout.trim().split('\n');
  assert.deepEqual(lines.map((l) => l.split(/\s+/).at(-1)), ['bin', 'bin/hi']);
  assert.match(lines[0]!, /^drwxr-xr-x/);
  assert.match(lines[1]!, /^-rwxr-xr-x .* 3 /);
  const out = spawnSync('cpio', ['-i', '--to-stdout', '--quiet', 'bin/hi'], { input: archive, encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stdout, 'hi\n');
});
