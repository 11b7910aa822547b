import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as C from './control-block.js';

test('VP block fields do not overlap and fit in the block', () => {
  const i32 = [C.VP_RUN_STATE, C.VP_WAKE, C.MAILBOX_STATE, C.MAILBOX_KIND, C.MAILBOX_WIDTH, C.MAILBOX_STATUS,
    C.VP_IN_GUEST, C.POSTED_HEAD, C.POSTED_TAIL].map((i) => [i * 4, i * 4 + 4]);
  i32.push([C.VP_EXITS * 4, (C.VP_EXITS + C.VP_EXIT_REASONS.length) * 4]);
  const i64 = [C.MAILBOX_ADDR64, C.MAILBOX_VALUE64, C.HSM_START_ADDR64, C.HSM_OPAQUE64, C.VP_RUN_NS64, C.VP_CPU_NS64].map((i) => [i * 8, i * 8 + 8]);
  const ring = [[C.POSTED_RING64 * 8, (C.POSTED_RING64 + 3 * C.POSTED_ENTRIES) * 8]];
  const all = [...i32, ...i64, ...ring].sort((a, b) => a[0] - b[0]);
  for (let k = 1; k < all.length; k++) assert.ok(all[k][0] >= all[k - 1][1], `bytes ${all[k]} overlap ${all[k - 1]}`);
  assert.ok(all[all.length - 1][1] <= C.VP_BLOCK_BYTES);
  assert.equal(C.POSTED_ENTRIES & (C.POSTED_ENTRIES - 1), 0, 'ring size is a power of two');
});

test('a control block starts with every VP stopped and rejects bad VP counts', () => {
  const cb = C.ControlBlock.create(3);
  assert.equal(cb.vpCount, 3);
  for (let i = 0; i < 3; i++) assert.equal(cb.vpState(i), C.VpState.Stopped);
  assert.ok(cb.transitionVp(1, C.VpState.Stopped, C.VpState.StartPending));
  assert.ok(!cb.transitionVp(1, C.VpState.Stopped, C.VpState.StartPending));
  assert.throws(() => C.ControlBlock.create(0));
  assert.throws(() => C.ControlBlock.create(9));
});
