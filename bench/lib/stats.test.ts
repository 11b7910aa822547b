import assert from 'node:assert/strict';
import { test } from 'node:test';
import { max, median, min } from './stats.js';

test('min and max, NaN when there is nothing to compare', () => {
  assert.equal(min([2, 1, 3]), 1);
  assert.equal(max([2, 1, 3]), 3);
  assert.ok(Number.isNaN(min([])));
  assert.ok(Number.isNaN(max([])));
});

test('median of odd and even counts, NaN when empty, input left unsorted', () => {
  const v = [3, 1, 2];
  assert.equal(median(v), 2);
  assert.deepEqual(v, [3, 1, 2]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.ok(Number.isNaN(median([])));
});
