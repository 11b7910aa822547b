import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as C from './control-block.js';

test('VP block fields do not overlap and fit in the block', () => {
  const i32 = [C.VP_RUN_STATE, C.VP_WAKE, C.MAILBOX_STATE, C.MAILBOX_KIND, C.MAILBOX_WIDTH, C.MAILBOX_STATUS,
    C.VP_IN_GUEST, C.POSTED_HEAD, C.POSTED_TAIL, C.VP_PAUSED].map((i) => [i * 4, i * 4 + 4]);
  i32.push([C.VP_EXITS * 4, (C.VP_EXITS + C.VP_EXIT_REASONS.length) * 4]);
  const i64 = [C.MAILBOX_ADDR64, C.MAILBOX_VALUE64, C.HSM_START_ADDR64, C.HSM_OPAQUE64, C.VP_RUN_NS64, C.VP_CPU_NS64].map((i) => [i * 8, i * 8 + 8]);
  const ring = [[C.POSTED_RING64 * 8, (C.POSTED_RING64 + 3 * C.POSTED_ENTRIES) * 8]];
  const all = [...i32, ...i64, ...ring].sort((a, b) => a[0] - b[0]);
  for (let k = 1; k < all.length; k++) assert.ok(all[k][0] >= all[k - 1][1], `bytes ${all[k]} overlap ${all[k - 1]}`);
  assert.ok(all[all.length - 1][1] <= C.VP_BLOCK_BYTES);
  assert.equal(C.POSTED_ENTRIES & (C.POSTED_ENTRIES - 1), 0, 'ring size is a power of two');
});

test('header fields do not overlap and fit in the header', () => {
  const all = [...[C.DOORBELL, C.PARTITION_STATE, C.VP_COUNT].map((i) => [i * 4, i * 4 + 4]), [C.TIMEBASE_EPOCH64 * 8, C.TIMEBASE_EPOCH64 * 8 + 8]]
    .sort((a, b) => a[0] - b[0]);
  for (let k = 1; k < all.length; k++) assert.ok(all[k][0] >= all[k - 1][1], `bytes ${all[k]} overlap ${all[k - 1]}`);
  assert.ok(all[all.length - 1][1] <= C.HEADER_BYTES);
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

test('hart_start: the caller that loses the race leaves the winner\'s start address alone', () => {
  const cb = C.ControlBlock.create(2);
  assert.ok(cb.requestStart(1, 0x8020_0000n, 0x1234n));
  // A second hart_start for the same VP, before the VP has run: it must fail without
  // redirecting the hart (the start words were once written before the state was checked).
  assert.ok(!cb.requestStart(1, 0xdead_0000n, 0x9999n));
  assert.deepEqual(cb.startRequest(1), { addr: 0x8020_0000n, opaque: 0x1234n });
  assert.equal(cb.vpState(1), C.VpState.StartPending);
  // A VP claimed by a caller still writing its start words is not stopped either.
  cb.setVpState(0, C.VpState.StartClaimed);
  assert.ok(!cb.requestStart(0, 0xdead_0000n, 0n));
  assert.deepEqual(cb.startRequest(0), { addr: 0n, opaque: 0n });
});

test('hart_start from many threads at once: exactly one wins, and the VP starts where the winner asked', async () => {
  const { Worker } = await import('node:worker_threads');
  for (let round = 0; round < 3; round++) {
    const cb = C.ControlBlock.create(1);
    const go = new Int32Array(new SharedArrayBuffer(4));
    // Each racer waits on `go`, then calls requestStart with its own address.
    const src = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.module).then(({ ControlBlock }) => {
        const cb = new ControlBlock(workerData.buffer);
        const g = new Int32Array(workerData.go);
        parentPort.postMessage('ready');
        Atomics.wait(g, 0, 0);
        parentPort.postMessage(cb.requestStart(0, workerData.addr, workerData.addr));
      });`;
    const module = new URL('./control-block.js', import.meta.url).href;
    const racers = [1n, 2n, 3n, 4n].map((addr) => new Worker(src, { eval: true, workerData: { module, buffer: cb.buffer, go: go.buffer, addr } }));
    const messages = racers.map((w) => {
      const next: unknown[] = [];
      const waiting: ((m: unknown) => void)[] = [];
      w.on('message', (m) => { const r = waiting.shift(); if (r) r(m); else next.push(m); });
      return () => new Promise<unknown>((resolve) => { if (next.length) resolve(next.shift()); else waiting.push(resolve); });
    });
    await Promise.all(messages.map((m) => m())); // every racer is about to wait on go
    await new Promise((r) => setTimeout(r, 5));
    const results = messages.map((m) => m() as Promise<boolean>);
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    const won = await Promise.all(results);
    await Promise.all(racers.map((w) => w.terminate()));
    assert.equal(won.filter(Boolean).length, 1);
    const winner = BigInt(won.indexOf(true) + 1);
    assert.deepEqual(cb.startRequest(0), { addr: winner, opaque: winner });
  }
});
