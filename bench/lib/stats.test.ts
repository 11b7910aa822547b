import assert from 'node:assert/strict';
import { test } from 'node:test';
import { max, min } from './stats.js';

test('min and max, NaN when there is nothing to compare', () => {
  assert.equal(min([2, 1, 3]), 1);
  assert.equal(max([2, 1, 3]), 3);
  assert.ok(Number.isNaN(min([])));
  assert.ok(Number.isNaN(max([])));
});
