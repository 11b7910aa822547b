// The last resort for a VM that will not stop: Vm.kill() ends its threads at once, and the
// disk lock its dead worker held does not keep the image from the next VM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmShell } from './lib/vm-shell.js';
import { openDisk } from '../src/parent/drivers/disk/open.js';

test('kill: a running VM ends at once with the reason; its image can be opened again', { timeout: 120_000 }, async () => {
  const disk = join(mkdtempSync(join(tmpdir(), 'tshv-kill-')), 'disk.raw');
  writeFileSync(disk, Buffer.alloc(1 << 20));
  const v = new VmShell({ disks: [{ path: disk, readOnly: false }] });
  try {
    await v.waitForPrompt(90_000);
    const t0 = performance.now();
    v.vm.kill('a test');
    const reason = await v.done;
    assert.deepEqual(reason, { kind: 'killed', message: 'killed: a test' });
    assert.ok(performance.now() - t0 < 1000, 'no waiting for the guest');
    // The worker was terminated without closing the disk: its lock is stale and taken over.
    const again = await openDisk(disk, {});
    await again.close();
  } finally {
    v.vm.stop();
  }
});
