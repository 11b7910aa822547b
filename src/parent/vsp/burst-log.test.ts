import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { BurstLog } from './burst-log.js';

test('a burst: the first at once, the rest summed up once a window while it lasts, then quiet', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const lines: string[] = [];
    const log = new BurstLog((m) => lines.push(m), 'I/O errors on vda', 10_000);
    for (let i = 0; i < 1000; i++) log.add(`read at sector ${i}: corrupt`); // a guest retrying as fast as it can
    assert.deepEqual(lines, ['read at sector 0: corrupt']);
    mock.timers.tick(9_999);
    assert.equal(lines.length, 1);
    mock.timers.tick(1);
    assert.deepEqual(lines.slice(1), ['999 more I/O errors on vda (reported at most once every 10 s); the last: read at sector 999: corrupt']);
    log.add('read at sector 5: corrupt'); // still inside the next window
    mock.timers.tick(10_000);
    assert.equal(lines.length, 3);
    assert.match(lines[2], /^1 more I\/O errors on vda .*sector 5/);
    mock.timers.tick(10_000); // a window without errors ends the burst
    assert.equal(lines.length, 3);
    log.add('write at sector 1: EIO'); // a new burst: reported at once
    assert.deepEqual(lines.slice(3), ['write at sector 1: EIO']);
    log.add('write at sector 2: EIO');
    log.close(); // the VM stops: nothing counted is lost, no timer is left
    assert.match(lines[4], /^1 more .*sector 2: EIO$/);
    mock.timers.tick(60_000);
    assert.equal(lines.length, 5);
  } finally {
    mock.timers.reset();
  }
});
