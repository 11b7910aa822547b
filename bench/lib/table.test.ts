import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fmt, renderTable } from './table.js';

test('renderTable pads columns to the widest cell, numbers to the right', () => {
  const text = renderTable({
    columns: [
      { header: 'machine', align: 'left' },
      { header: 'MIPS', align: 'right' },
    ],
    rows: [
      ['tshv', '81.6'],
      ['QEMU TCG', '1244.5'],
    ],
  });
  assert.equal(text, ['machine     MIPS', '--------  ------', 'tshv        81.6', 'QEMU TCG  1244.5'].join('\n'));
});

test('fmt shows a dash for what could not be measured', () => {
  assert.equal(fmt(undefined, 2), '-');
  assert.equal(fmt(Number.NaN, 2), '-');
  assert.equal(fmt(1.23456, 3), '1.235');
});
