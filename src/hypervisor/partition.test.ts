import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlBlock, PartitionState, VpState } from './control-block.js';
import { Partition, IllegalTransition } from './partition.js';
import { STATE_BLOCKS_OFFSET, STATE_BLOCK_BYTES, STOP_REQ } from '../cpu/layout.js';

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
