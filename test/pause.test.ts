// Pausing a running Linux guest stops its virtual processors (no guest time passes in
// guest code, the console is silent) and resuming lets it carry on where it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from '../src/parent/vm.js';
import { runConfig } from '../src/cli/run.js';
import { PartitionState } from '../src/hypervisor/control-block.js';

function waitFor(vm: Vm, text: string, log: { s: string }, ms = 90_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${JSON.stringify(text)}; log:\n${log.s}`)), ms);
    const check = () => { if (log.s.includes(text)) { clearTimeout(timer); vm.off('console', check); resolve(); } };
    vm.on('console', check);
    check();
  });
}

test('pause and resume a booted guest', { timeout: 120_000 }, async () => {
  const vm = new Vm(await runConfig({ memory: '128M', cpus: '2' }));
  const log = { s: '' };
  vm.on('console', (d) => { log.s += Buffer.from(d).toString('latin1'); });
  const stopped = new Promise((r) => vm.on('stopped', r));
  try {
    await pauseAndResume(vm, log);
    vm.write(Buffer.from('poweroff\n'));
    assert.deepEqual(await stopped, { kind: 'poweroff' });
  } finally {
    vm.stop(); // a failed assertion must not leave the VM (and this process) running
  }
});

async function pauseAndResume(vm: Vm, log: { s: string }): Promise<void> {
  await waitFor(vm, 'tshv:~# ', log);
  // A counter that prints every 100 ms: while paused, nothing may come out.
  vm.write(Buffer.from('(i=0; while true; do i=$((i+1)); echo tick$i; sleep 0.1; done) &\n'));
  await waitFor(vm, 'tick3', log);
  assert.ok(vm.pause());
  assert.equal(vm.state, PartitionState.Paused);
  assert.ok(!vm.pause(), 'pausing twice is refused');
  await new Promise((r) => setTimeout(r, 300)); // let output in flight arrive
  const frozen = log.s.length;
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(log.s.length, frozen, 'no console output while paused');
  assert.ok(vm.resume());
  assert.ok(!vm.resume(), 'resuming a running VM is refused');
  const last = Number(/tick(\d+)\s*$/.exec(log.s.trimEnd())?.[1] ?? 0);
  await waitFor(vm, `tick${last + 3}`, log);
}
