// `tshv exec` as a user runs it: exit codes, messages for bad input, exact UART output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as E from './diff/encoder.js';
import { liInsns } from './diff/macros.js';
import { writeElf64 } from './diff/elf.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tshv-exec-'));

function tshv(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'bin/tshv.js'), ...args], { encoding: 'buffer' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** Writes a program (instructions at 0x80000000) to a temporary ELF and returns its path. */
function program(name: string, insns: E.Insn[]): string {
  const bytes: number[] = [];
  for (const i of insns) for (let k = 0; k < i.size; k++) bytes.push((i.word >>> (8 * k)) & 0xff);
  const path = join(dir, name + '.elf');
  writeFileSync(path, writeElf64(0x8000_0000, [{ vaddr: 0x8000_0000, data: Uint8Array.from(bytes), flags: 5 }]));
  return path;
}
const T0 = 5, T1 = 6;
/** sifive,test0 finisher store: 0x5555 passes, (code << 16) | 0x3333 fails. */
const finish = (value: number): E.Insn[] => [...liInsns(T0, 0x100000n), ...liInsns(T1, BigInt(value)), E.store('sw', T1, T0, 0)];

test('a missing ELF is a usage error naming the file', () => {
  const r = tshv('exec', join(dir, 'nope.elf'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot read .*nope\.elf: no such file/);
});

test('malformed ELFs are rejected with the reason', () => {
  const text = join(dir, 'text.elf');
  writeFileSync(text, 'hello, this is not an ELF file at all, just some text padding it out past 64 bytes....');
  assert.match(tshv('exec', text).stderr, /not an ELF file/);
  assert.equal(tshv('exec', text).code, 2);
  const host = tshv('exec', process.execPath); // the x86-64 (or arm64) node binary
  assert.equal(host.code, 2);
  assert.match(host.stderr, /not a RISC-V ELF/);
  const good = program('trunc-src', finish(0x5555));
  const truncated = join(dir, 'trunc.elf');
  writeFileSync(truncated, (spawnSync('head', ['-c', '100', good]).stdout));
  const t = tshv('exec', truncated);
  assert.equal(t.code, 2);
  assert.match(t.stderr, /outside the file|truncated/);
});

test('a syscon pass exits 0 and a failure exits 1 with its number', () => {
  assert.equal(tshv('exec', program('pass', finish(0x5555))).code, 0);
  const r = tshv('exec', program('fail', finish((7 << 16) | 0x3333)));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /FAIL: test 7/);
});

test('--max-instructions stops an endless loop with exit code 3', () => {
  const r = tshv('exec', program('loop', [E.jal(0, 0)]), '--max-instructions', '100000');
  assert.equal(r.code, 3);
  assert.match(r.stderr, /100000 instructions/);
  assert.equal(tshv('exec', program('loop2', [E.jal(0, 0)]), '--max-instructions', 'lots').code, 2);
});

test('WFI with nothing to wake the hart is reported, not a hang', () => {
  const r = tshv('exec', program('wfi', [E.raw32(0x10500073, 'wfi'), E.jal(0, 0)]));
  assert.equal(r.code, 4);
  assert.match(r.stderr, /WFI/);
});

test('UART output reaches stdout byte for byte', () => {
  const bytes = [0x41, 0x0d, 0x0a, 0x00, 0xff, 0x1b, 0x42];
  const insns: E.Insn[] = [...liInsns(T0, 0x1000_0000n)];
  for (const b of bytes) insns.push(...liInsns(T1, BigInt(b)), E.store('sb', T1, T0, 0));
  const r = tshv('exec', program('uart', [...insns, ...finish(0x5555)]));
  assert.equal(r.code, 0);
  assert.deepEqual([...r.stdout], bytes);
});

test('an ELF that does not fit in RAM is refused', () => {
  const path = join(dir, 'low.elf');
  writeFileSync(path, writeElf64(0x1000, [{ vaddr: 0x1000, data: new Uint8Array(16), flags: 5 }]));
  const r = tshv('exec', path);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /outside RAM/);
  assert.equal(tshv('exec', program('mem', finish(0x5555)), '--memory', '12X').code, 2);
});
