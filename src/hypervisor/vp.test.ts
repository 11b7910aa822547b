// The VP loop on real VP threads: a pause parks every VP, whatever it was doing, and each
// says so (Partition.quiescent); resume and stop still work afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionState, VpState } from './control-block.js';
import { StateBlocks } from '../cpu/state-blocks.js';
import { testMachine, until, untilQuiescent, RAM_BASE, SPIN, IDLE, SUSPEND } from '../../test/lib/vp-machine.js';

const TIMEOUT = { timeout: 60_000 };
/** How long every VP may take to park after a pause (a busy VP leaves run() at its next slice). */
const PARK_BOUND_MS = 2000;

test('pause: a spinning VP, one in WFI, one suspended and one stopped all park and acknowledge; resume and stop still work', TIMEOUT, async () => {
  const m = testMachine(4);
  const { cb, partition: p } = m;
  const harts = new StateBlocks(m.memory, 4);
  try {
    m.load(RAM_BASE, SPIN);
    m.load(RAM_BASE + 0x100n, IDLE);
    m.load(RAM_BASE + 0x200n, SUSPEND);
    p.bootVp(0, RAM_BASE, 0n);
    p.bootVp(1, RAM_BASE + 0x100n, 0n);
    p.bootVp(3, RAM_BASE + 0x200n, 0n); // VP 2 stays HSM-stopped
    assert.ok(!p.quiescent(), 'not paused: not quiescent');
    p.apply('start');
    await until(() => harts.instret(0) > 100_000n && cb.exits(1)[1] > 0 && cb.vpState(3) === VpState.Suspended, 20_000, 'the VPs under way');
    assert.ok(!p.quiescent());

    p.apply('pause');
    assert.ok(await untilQuiescent(p, cb, PARK_BOUND_MS) < PARK_BOUND_MS);
    assert.equal(cb.vpState(3), VpState.Suspended, 'a suspended VP stays suspended across a pause');
    assert.equal(cb.vpState(2), VpState.Stopped);
    const spun = harts.instret(0);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(harts.instret(0), spun, 'no guest code runs while quiescent');

    p.apply('resume');
    assert.ok(!p.quiescent(), 'resumed: not quiescent');
    await until(() => harts.instret(0) > spun, 10_000, 'VP 0 running again');
    await until(() => [0, 1, 2, 3].every((i) => !cb.pauseAcknowledged(i)), 2000, 'every VP to leave its pause');
    assert.equal(cb.vpState(3), VpState.Suspended, 'resume does not wake a suspended VP');

    // An IPI resumes the suspended VP (SBI §9.4), which then runs on past its ecall.
    harts.setLines(3, 1 << 1, true);
    cb.wakeVp(3);
    await until(() => cb.vpState(3) === VpState.Started, 5000, 'VP 3 resumed');

    p.apply('pause');
    await untilQuiescent(p, cb, PARK_BOUND_MS);
    p.apply('stop');
    await until(() => p.settle(), 5000, 'the partition stopped');
    assert.equal(p.state, PartitionState.Stopped);
    assert.ok(p.quiescent(), 'every VP halted');
    assert.deepEqual(m.errors, []);
  } finally {
    await m.close();
  }
});
