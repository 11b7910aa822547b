import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PANIC_MARKER, PanicWatch } from './panic-watch.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');

function watch() {
  let stops = 0;
  const w = new PanicWatch(() => { stops++; }, 20);
  return { w, stops: () => stops };
}

test('the marker is seen wherever the chunks split it; the VM is stopped once, after the grace time', async () => {
  for (let cut = 1; cut < PANIC_MARKER.length; cut++) {
    const { w, stops } = watch();
    w.feed(bytes('[    1.234] VFS: Unable to mount root fs\r\n[    1.235] '));
    w.feed(bytes(PANIC_MARKER.slice(0, cut)));
    assert.equal(w.panicked, false, `cut at ${cut}: not yet`);
    w.feed(bytes(`${PANIC_MARKER.slice(cut)}: VFS: Unable to mount root fs on unknown-block(0,0)\r\n`));
    assert.equal(w.panicked, true, `cut at ${cut}`);
    w.feed(bytes(`---[ end ${PANIC_MARKER} ]---\r\n`));
    assert.equal(stops(), 0, 'the rest of the message first');
    await sleep(40);
    assert.equal(stops(), 1, `cut at ${cut}: stopped once`);
  }
});

test('one byte at a time, in the middle of a large chunk, or not at all', async () => {
  const bytewise = watch();
  for (const c of `boot\r\n${PANIC_MARKER}: Attempted to kill init!`) bytewise.w.feed(bytes(c));
  assert.equal(bytewise.w.panicked, true);

  const large = watch();
  large.w.feed(bytes(`${'x'.repeat(1000)}${PANIC_MARKER}${'y'.repeat(1000)}`));
  assert.equal(large.w.panicked, true, 'the marker far from the end of its chunk');

  const healthy = watch();
  for (const line of ['Kernel panic', ' - not syn', 'c\r\n', 'Kernel command line: console=ttyS0\r\n']) healthy.w.feed(bytes(line));
  assert.equal(healthy.w.panicked, false, 'a near miss is no panic');
  await sleep(40);
  assert.equal(bytewise.stops() + large.stops() + healthy.stops(), 2);
});

test('a VM that stops anyway is not stopped again', async () => {
  const { w, stops } = watch();
  w.feed(bytes(PANIC_MARKER));
  w.cancel();
  await sleep(40);
  assert.equal(stops(), 0);
  assert.equal(w.panicked, true, 'it did panic');
});
