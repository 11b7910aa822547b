// A VM's threads started before its configuration is known (src/parent/vm-threads.ts, as
// `tshv run` does): they wait for their data, and the VM they are then given boots on them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from '../src/parent/vm.js';
import { VmThreads } from '../src/parent/vm-threads.js';
import { runConfig } from '../src/cli/run.js';

test('threads started early wait for their data, then run the VM they are given', { timeout: 120_000 }, async () => {
  const threads = VmThreads.start(2);
  // Long enough for both to have loaded their code and be waiting for a message.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(threads.failure, undefined);
  const vm = new Vm(await runConfig({ memory: '128M', cpus: '2' }), undefined, threads);
  let log = '';
  vm.on('console', (d) => { log += Buffer.from(d).toString('latin1'); });
  const stopped = new Promise((r) => vm.on('stopped', r));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no prompt; log:\n${log}`)), 90_000);
      const check = () => { if (log.includes('tshv:~# ')) { clearTimeout(timer); resolve(); } };
      vm.on('console', check);
    });
    assert.match(log, /smp: Brought up 1 node, 2 CPUs/, 'both VP threads run');
    vm.write(Buffer.from('poweroff\n'));
    assert.deepEqual(await stopped, { kind: 'poweroff' });
  } finally {
    vm.stop();
  }
  assert.throws(() => threads.give({ data: {} as never, transfer: [] }, []), /given their data already/);
});

test('threads are checked against the VM they are given', async () => {
  const threads = VmThreads.start(1);
  try {
    const config = await runConfig({ memory: '128M', cpus: '2' });
    assert.throws(() => new Vm(config, undefined, threads), /1 VP threads for a VM of 2 VPs/);
  } finally {
    threads.terminate();
  }
});
