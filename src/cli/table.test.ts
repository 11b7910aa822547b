// Human output: table alignment, key/value blocks, sizes and durations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatDuration, formatFields, formatMiB, formatTable } from './table.js';

test('tables: columns as wide as their widest cell, right-aligned numbers, no trailing blanks', () => {
  const text = formatTable(
    [{ header: 'NAME' }, { header: 'VCPUS', align: 'right' }, { header: 'ID' }],
    [['a', '1', 'x'], ['longer-name', '8', '']],
  );
  assert.equal(text, [
    'NAME          VCPUS   ID',
    'a                 1   x',
    'longer-name       8',
    '',
  ].join('\n'));
});

test('tables: a header wider than every cell sets the width; no rows is just the header', () => {
  assert.equal(formatTable([{ header: 'STATE' }, { header: 'X' }], [['on', 'y']]), 'STATE   X\non      y\n');
  assert.equal(formatTable([{ header: 'A' }, { header: 'B' }], []), 'A   B\n');
});

test('fields: values aligned after the longest key; undefined left out; continuation lines indented', () => {
  assert.equal(formatFields([['Name', 'web-1'], ['Root', undefined], ['Disks', '/a\n/b'], ['ID', 'x']]),
    'Name:   web-1\nDisks:  /a\n        /b\nID:     x\n');
});

test('memory in MiB prints as --memory takes it', () => {
  assert.equal(formatMiB(256), '256M');
  assert.equal(formatMiB(1024), '1G');
  assert.equal(formatMiB(4094), '4094M');
  assert.equal(formatMiB(3072), '3G');
});

test('bytes in binary units', () => {
  assert.equal(formatBytes(512), '512B');
  assert.equal(formatBytes(1536), '1.5K');
  assert.equal(formatBytes(16 * 2 ** 30), '16G');
  assert.equal(formatBytes(15.6 * 2 ** 30), '15.6G');
  assert.equal(formatBytes(300 * 2 ** 20 + 5), '300M');
});

test('durations', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(59.9), '59s');
  assert.equal(formatDuration(60), '1m');
  assert.equal(formatDuration(3600 + 12 * 60 + 5), '1h 12m');
  assert.equal(formatDuration(7200), '2h');
  assert.equal(formatDuration(2 * 86400 + 4 * 3600 + 59), '2d 4h');
  assert.equal(formatDuration(-5), '0s'); // clocks disagree: never negative
});
