import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlBlock, PartitionState, VpState } from './control-block.js';
import { Partition, IllegalTransition } from './partition.js';
import { Plic, createPlicState } from './plic.js';
import { STATE_BLOCKS_OFFSET, STATE_BLOCK_BYTES, STOP_REQ, INSTRET } from '../cpu/layout.js';

function make(vps = 2) {
  const cb = ControlBlock.create(vps);
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true });
  const stopReq = (i: number) => new Int32Array(memory.buffer)[(STATE_BLOCKS_OFFSET + i * STATE_BLOCK_BYTES + STOP_REQ) >> 2];
  return { cb, p: new Partition(cb, memory), stopReq };
}

test('the lifecycle follows its transition table', () => {
  const { p } = make();
  assert.equal(p.state, PartitionState.Created);
  assert.ok(!p.can('pause') && !p.can('resume'));
  p.apply('start');
  assert.equal(p.state, PartitionState.Running);
  p.apply('pause');
  assert.equal(p.state, PartitionState.Paused);
  assert.ok(!p.can('start') && !p.can('pause'));
  p.apply('resume');
  p.apply('stop');
  assert.equal(p.state, PartitionState.Stopping);
  assert.ok(!p.can('stop') && !p.can('resume'));
});

test('an illegal action names the state and changes nothing', () => {
  const { p } = make();
  p.apply('start');
  assert.throws(() => p.apply('start'), (e: unknown) => e instanceof IllegalTransition && /cannot start a partition that is running/.test(e.message));
  assert.throws(() => p.apply('resume'), /that is running/);
  assert.equal(p.state, PartitionState.Running);
});

test('pause and stop ask every hart to leave guest code; resume withdraws it', () => {
  const { p, stopReq } = make(3);
  p.apply('start');
  p.apply('pause');
  assert.deepEqual([0, 1, 2].map(stopReq), [1, 1, 1]);
  p.apply('resume');
  assert.deepEqual([0, 1, 2].map(stopReq), [0, 0, 0]);
  p.apply('stop');
  assert.deepEqual([0, 1, 2].map(stopReq), [1, 1, 1]);
});

test('a stopping partition is stopped only when every VP has halted', () => {
  const { cb, p } = make(2);
  p.apply('start');
  p.apply('stop');
  cb.setVpState(0, VpState.Halted);
  assert.ok(!p.settle());
  assert.equal(p.state, PartitionState.Stopping);
  cb.setVpState(1, VpState.Halted);
  assert.ok(p.settle());
  assert.equal(p.state, PartitionState.Stopped);
});

test('bootVp starts a stopped VP where the parent says; a VP already started is refused', () => {
  const { cb, p } = make(2);
  p.bootVp(0, 0x8020_0000n, 0x8fe0_0000n);
  assert.equal(cb.vpState(0), VpState.StartPending);
  assert.deepEqual(cb.startRequest(0), { addr: 0x8020_0000n, opaque: 0x8fe0_0000n });
  assert.throws(() => p.bootVp(0, 0n, 0n), /not stopped/);
  assert.throws(() => p.bootVp(2, 0n, 0n), /no VP 2/);
});

test('an interrupt line drives its PLIC source and no other; a source outside the PLIC is refused', () => {
  const cb = ControlBlock.create(1);
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true });
  const plicState = createPlicState();
  const p = new Partition(cb, memory, plicState);
  const uart = p.interruptLine(10);
  const plic = new Plic(plicState, memory, 1, cb);
  const PENDING = 0x1000;
  uart(true);
  assert.equal(plic.read(PENDING, 4), 1n << 10n);
  assert.throws(() => p.interruptLine(0), /out of range/);
  assert.throws(() => p.interruptLine(96), /out of range/);
  assert.throws(() => new Partition(cb, memory).interruptLine(10), /without the PLIC state/);
});

test('stats: run time, instructions and exits per VP from shared memory', () => {
  const cb = ControlBlock.create(2);
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true });
  const p = new Partition(cb, memory);
  cb.addRunTime(1, 2_500_000_000n);
  cb.countExit(1, 'hypercall');
  new BigUint64Array(memory.buffer)[(STATE_BLOCKS_OFFSET + STATE_BLOCK_BYTES + INSTRET) / 8] = 12345n;
  const s = p.stats();
  assert.equal(s.length, 2);
  assert.equal(s[1].runSeconds, 2.5);
  assert.equal(s[1].exits.hypercall, 1);
  assert.equal(s[1].instructions, 12345);
  assert.equal(s[0].instructions, 0);
});

test('guest time is host time less the epoch in the control block, which rebaseTime moves for every VP', () => {
  const { cb, p } = make(2);
  p.rebaseTime(0n, 1_000n);
  assert.equal(cb.epoch(), 1_000n);
  assert.equal(p.guestTime(1_500n), 500n);
  p.rebaseTime(10n ** 12n, 2_000n); // guest time may run ahead of the host's
  assert.equal(p.guestTime(2_001n), 10n ** 12n + 1n);
});

test('quiescent only when paused and every VP has acknowledged the pause or halted', () => {
  const { cb, p } = make(2);
  p.apply('start');
  p.apply('pause');
  assert.ok(!p.quiescent());
  cb.setPauseAcknowledged(0, true);
  assert.ok(!p.quiescent(), 'VP 1 has not parked yet');
  cb.setVpState(1, VpState.Halted);
  assert.ok(p.quiescent());
  p.apply('resume');
  assert.ok(!p.quiescent(), 'running, however stale the acknowledgement');
});
