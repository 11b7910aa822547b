// Crash consistency under load, short: the crash loop (test/crash/loop.ts) for two
// iterations with two guests. `tshv serve` is SIGKILLed while the guests write and flush
// records through qcow2 data disks; every image must pass qemu-img check and hold every
// record a guest saw flushed, and the restarted service must bring the VMs back off, able
// to start and read their data. The long run is `npm run crash-loop -- --iterations 30`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashLoop } from './crash/loop.js';
import { hasQemuImg } from './crash/images.js';

const needs = hasQemuImg ? {} : { skip: 'qemu-img is not installed (apt-get install qemu-utils): it judges the images' };

test('SIGKILL of the service while guests write and flush through qcow2: images check clean, flushed records are all there', { ...needs, timeout: 600_000 }, async (t) => {
  const lines: string[] = [];
  const loop = new CrashLoop({ iterations: 2, vms: 2, writers: 2, seed: 20261121, maxDelayMs: 3000, memoryMiB: 64, log: (l) => { lines.push(l); t.diagnostic(l); } });
  const r = await loop.run();
  assert.deepEqual(r.failures, [], `the crash loop failed; work directory kept: ${r.dir}\n${lines.join('\n')}`);
  assert.equal(r.iterations, 2);
  assert.equal(r.imagesChecked, 6, 'two images after each kill and after the clean stop');
  assert.ok(r.recordsFlushed >= 8, 'every writer flushed in both iterations');
  assert.ok(r.recordsReadInGuests > 0);
});
