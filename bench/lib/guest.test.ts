// The default guest's command lines and the shared table cells of the console benchmarks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BenchContext } from './benchmark.js';
import { entries, entriesOk, entryNotes, guestArgs, ratioCell, statusSuffix, takeTurns, timeCells, type Entry } from './guest.js';
import type { Contender, Machine } from './machines.js';

const tshv: Machine = { state: 'available', label: 'tshv', command: 'node', baseArgs: ['bin/tshv.js'], version: 'this tree' };
const qemu: Machine = { state: 'available', label: 'QEMU TCG', command: 'qemu-system-riscv64', baseArgs: [], version: '7.2' };
const all: Contender[] = [
  { machine: qemu, isTshv: false, required: false, options: [] },
  { machine: tshv, isTshv: true, required: true, options: [] },
  { machine: { ...tshv, label: 'tshv (interpreter)' }, isTshv: true, required: false, options: ['--no-jit'] },
];

test('guestArgs: tshv run with the tier\'s options and -c, QEMU virt with -smp', () => {
  const o = { cpus: 4, qemuImage: '/tmp/Image' };
  assert.deepEqual(guestArgs('/r', all[2]!, o), [
    'run', '--no-jit', '--cpus', '4', '--memory', '256M', '--kernel', '/r/guest/images/Image.gz',
    '--initrd', '/r/guest/images/initramfs.cpio.gz', '--append', 'console=ttyS0',
  ]);
  assert.deepEqual(guestArgs('/r', all[0]!, { ...o, qemuExtra: ['-x'] }), [
    '-M', 'virt', '-smp', '4', '-m', '256M', '-nographic', '-kernel', '/tmp/Image',
    '-initrd', '/r/guest/images/initramfs.cpio.gz', '-append', 'console=ttyS0', '-x',
  ]);
});

test('timeCells, ratioCell and statusSuffix', () => {
  assert.deepEqual(timeCells([2, 1, 1.5]), ['1.000', '1.500', '100%']);
  assert.deepEqual(timeCells([]), ['-', '-', '-']);
  assert.equal(ratioCell(3, 2), '1.50x');
  assert.equal(ratioCell(3, undefined), '-');
  const missing: Contender = { ...all[2]!, machine: { state: 'missing', label: 'tshv (interpreter)', reason: 'old' } };
  assert.equal(statusSuffix(missing, undefined), ' (missing)');
  assert.equal(statusSuffix(all[1]!, { ...entries(all)[1]!, problem: 'x' }), ' (FAILED)');
});

test('takeTurns: a wrong tshv run (either tier) ends its runs, a wrong QEMU run is dropped', async () => {
  const logs: string[] = [];
  const ctx = { root: '/', repeat: 2, timeoutMs: 1000, machines: { tshv, qemu }, log: (m: string) => logs.push(m) } as BenchContext;
  const rows = [{ entries: entries<number>(all) }];
  let calls = 0;
  await takeTurns<number, (typeof rows)[number]>(ctx, 't', rows, () => '1 VP', async (e: Entry<number>) => {
    calls++;
    return e.machine.label === 'tshv' ? 1 : 'wrong';
  }, (n) => String(n));
  const [q, t, i] = rows[0]!.entries;
  assert.equal(calls, 5); // QEMU twice, tshv twice, the interpreter once
  assert.equal(q!.dropped.length, 2);
  assert.equal(q!.problem, undefined);
  assert.deepEqual(t!.runs, [1, 1]);
  assert.match(i!.problem ?? '', /^1 VP, round 1: wrong$/);
  assert.equal(entriesOk(all, rows[0]!.entries), false);
  const notes = entryNotes(all, rows[0]!.entries);
  assert.ok(notes.includes('FAIL tshv (interpreter): 1 VP, round 1: wrong'), notes.join('\n'));
  assert.equal(notes.filter((n) => n.startsWith('QEMU TCG: run dropped')).length, 2);
});

test('entriesOk: a missing interpreter is reported, not a failure; a missing tshv is', () => {
  const old: Contender[] = [all[0]!, all[1]!, { ...all[2]!, machine: { state: 'missing', label: 'tshv (interpreter)', reason: 'no --no-jit' } }];
  assert.equal(entriesOk(old, entries(old)), true);
  assert.deepEqual(entryNotes(old, entries(old)), ['tshv (interpreter): missing: no --no-jit']);
  const none: Contender[] = [all[0]!, { ...all[1]!, machine: { state: 'missing', label: 'tshv', reason: 'gone' } }];
  assert.equal(entriesOk(none, entries(none)), false);
});
