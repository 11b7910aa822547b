import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, min } from './stats.js';

test('median of odd and even counts, NaN when empty', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(min([2, 1, 3]), 1);
});
