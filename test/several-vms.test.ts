// One host process runs several VMs at once, each with its own VM worker and VP threads.
// A VSP that throws ends its own VM with a clear error; the others keep running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmShell } from './lib/vm-shell.js';
import { openDisk } from '../src/parent/drivers/disk/open.js';
import { kernelTrouble } from './lib/guest-shell.js';

const dir = mkdtempSync(join(tmpdir(), 'tshv-vms-'));

test('three VMs in one process: each console is its own; a failing back-end kills only its VM', { timeout: 240_000 }, async () => {
  const vms = [0, 1, 2].map((i) => {
    const disk = join(dir, `disk${i}.raw`);
    writeFileSync(disk, Buffer.alloc(1 << 20, 0x41 + i)); // "AAAA...", "BBBB...", "CCCC..."
    return new VmShell({ disks: [{ path: disk, readOnly: false }] });
  });
  try {
    await Promise.all(vms.map((v) => v.waitForPrompt(180_000)));
    for (const [i, v] of vms.entries()) {
      assert.equal((await v.run(`echo vm-${i} says hello`)).trim(), `vm-${i} says hello`);
      // Each VM sees its own disk.
      assert.equal((await v.run('dd if=/dev/vda bs=8 count=1 2>/dev/null; echo')).trim(), String.fromCharCode(0x41 + i).repeat(8));
    }
    for (const [i, v] of vms.entries()) assert.doesNotMatch(v.log, new RegExp(`vm-${(i + 1) % 3} says`), 'no output crosses VMs');

    // The back-end of VM 1's disk throws on its next request.
    vms[1].vm.injectFault('vda');
    vms[1].write('dd if=/dev/vda of=/dev/null bs=4k count=1 iflag=direct\n');
    const reason = await vms[1].done;
    assert.equal(reason.kind, 'error');
    assert.match((reason as { message: string }).message, /vda/);
    assert.match((reason as { message: string }).message, /injected back-end fault/);
    // It stopped in order: its disk was closed and unlocked, so it can be used again.
    const again = await openDisk(join(dir, 'disk1.raw'), {});
    await again.close();

    // The others did not notice.
    for (const i of [0, 2]) {
      assert.equal(vms[i].stopped, undefined);
      assert.equal((await vms[i].run('echo still here')).trim(), 'still here');
      assert.deepEqual(kernelTrouble(vms[i].log), []);
      vms[i].write('poweroff\n');
      assert.equal((await vms[i].done).kind, 'poweroff');
    }
  } finally {
    for (const v of vms) v.vm.stop();
  }
});
