// Ticks: the largest gap in a window, across the switch from one console to the other.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countTicks, Ticks } from './ticks.js';

test('Ticks: the largest gap whose later tick falls in the window, the one across its start included', () => {
  const t = new Ticks();
  // source ticks, then its stop; the chunk at 50 holds no tick (a prompt, an echo)
  for (const [text, at] of [['..', 10], ['.', 11], ['.', 30], ['tshv:~# ', 31], ['.', 31.5]] as const) t.record(text, at);
  // the destination: a first chunk 400 ms after the source's last tick, then every ms
  for (const [text, at] of [['...', 431.5], ['.', 432.5], ['.', 433.5]] as const) t.record(text, at);
  assert.equal(t.largestGap(20, 1000), 400);
  assert.equal(t.largestGap(0, 31.5), 19, 'the gap before 30 ends in the window');
  assert.equal(t.largestGap(31, 431), 1.5, 'a gap whose end is past the window does not count');
  assert.ok(Number.isNaN(t.largestGap(500, 600)), 'no tick in the window');
});

test('countTicks counts the dots in console output', () => {
  assert.equal(countTicks(''), 0);
  assert.equal(countTicks('..4.2ok..'), 5);
});
