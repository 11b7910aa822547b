// The intercept mailbox and posted-store ring between two threads: this thread is the VP
// (MailboxSink.call and .post), a worker plays the parent (intercept.test-worker.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import {
  ControlBlock, MailboxState, PartitionState, MAILBOX_STATE, POSTED_ENTRIES, POSTED_HEAD, POSTED_TAIL, DOORBELL,
} from './control-block.js';
import { MailboxSink, MailboxOp, InterceptService } from './intercept.js';
import type { ParentData, Store } from './intercept.test-worker.js';

const STORES_DONE = 0x1000_0f00n;
const UNMAPPED = 0x2000_0000n;
const DEVICE = 0x1000_0000n;
/** The channel under test belongs to VP 1, so VP 0's block must stay untouched. */
const VP = 1;
const TIMEOUT = { timeout: 30_000 };

interface Parent {
  cb: ControlBlock;
  channel: MailboxSink;
  /** Stops the partition and returns every store the parent performed, in its order. */
  finish(): Promise<Store[]>;
}

/** Runs body with a parent thread, which is stopped however body ends. */
async function withParent(mode: ParentData['mode'], body: (p: Parent) => Promise<void>): Promise<void> {
  const cb = ControlBlock.create(2);
  cb.setPartitionState(PartitionState.Running);
  const data: ParentData = { control: cb.buffer, vp: VP, mode, storesDone: STORES_DONE, unmapped: UNMAPPED };
  const worker = new Worker(new URL('./intercept.test-worker.js', import.meta.url), { workerData: data });
  const log = new Promise<Store[]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`parent thread exited (${code}) without its log`)));
  });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  let finished: Promise<Store[]> | undefined;
  const finish = () => {
    finished ??= (async () => {
      cb.setPartitionState(PartitionState.Stopping);
      const stores = await log;
      await exited;
      return stores;
    })();
    return finished;
  };
  try {
    await body({ cb, channel: new MailboxSink(cb, VP), finish });
  } finally {
    await finish().catch(() => undefined);
  }
}

const load = (p: Parent, addr: bigint, width = 4) => p.channel.call(MailboxOp.MmioLoad, addr, width, 0n);

test('stores posted before a load are performed before the load is answered', TIMEOUT, () => withParent('eager', async (p) => {
  const { cb, channel } = p;
  const expected: Store[] = [];
  const post = (addr: bigint, width: number, value: bigint) => {
    assert.equal(channel.post(addr, width, value), true);
    expected.push({ addr, value, width });
  };
  post(DEVICE, 1, 0x41n);
  post(DEVICE + 1n, 2, 0x4243n);
  post(DEVICE + 8n, 8, 0xffff_ffff_ffff_fffen);   // all 64 bits survive the ring
  assert.deepEqual(load(p, STORES_DONE), { ok: true, value: 3n });
  assert.deepEqual(load(p, DEVICE + 8n, 8), { ok: true, value: 0xffff_ffff_ffff_fffen });
  for (let round = 0n; round < 50n; round++) {
    post(DEVICE + 4n, 4, round);
    post(DEVICE + 4n, 4, round + 1000n);
    assert.deepEqual(load(p, DEVICE + 4n), { ok: true, value: round + 1000n }, `round ${round}: the last store wins`);
    assert.equal(Atomics.load(cb.i32, cb.vp32(VP) + MAILBOX_STATE), MailboxState.Idle, 'the mailbox is the VP\'s again');
  }
  assert.deepEqual(load(p, STORES_DONE), { ok: true, value: BigInt(expected.length) });
  assert.deepEqual(load(p, UNMAPPED), { ok: false }, 'a parent fault comes back as a fault');
  assert.deepEqual(await p.finish(), expected);
  for (const at of [POSTED_HEAD, POSTED_TAIL, MAILBOX_STATE]) assert.equal(cb.i32[cb.vp32(0) + at], 0, 'VP 0 untouched');
}));

test('more stores than the ring holds all arrive, in order', TIMEOUT, () => withParent('lazy', async (p) => {
  // The lazy parent drains only a full ring, so the VP must wait for room several times.
  const n = 5 * POSTED_ENTRIES + 3;
  const widths = [1, 2, 4, 8];
  const expected: Store[] = [];
  for (let i = 0; i < n; i++) {
    const store = { addr: DEVICE + BigInt(8 * (i % 4)), value: BigInt(i) | (BigInt(i) << 40n), width: widths[i % 4] };
    assert.equal(p.channel.post(store.addr, store.width, store.value), true, `store ${i}`);
    expected.push(store);
  }
  assert.deepEqual(load(p, STORES_DONE), { ok: true, value: BigInt(n) }, 'the load sees every store done');
  assert.deepEqual(await p.finish(), expected);
}));

test('call returns undefined once the partition is Stopping', TIMEOUT, () => withParent('stop', async (p) => {
  // This parent never answers: it stops the partition when the request arrives.
  assert.equal(load(p, DEVICE), undefined);
  assert.equal(p.cb.partitionState(), PartitionState.Stopping);
  assert.deepEqual(await p.finish(), []);
}));

test('post returns false once the partition is Stopping while the ring is full', TIMEOUT, () => withParent('stop', async (p) => {
  for (let i = 0; i < POSTED_ENTRIES; i++) assert.equal(p.channel.post(DEVICE, 4, BigInt(i)), true, `store ${i} fits`);
  assert.equal(p.channel.post(DEVICE, 4, 99n), false, 'no room, and no parent to make it');
  assert.deepEqual(await p.finish(), []);
}));

test('post rings the doorbell only into an empty ring; a drain takes what is posted while it runs', () => {
  const cb = ControlBlock.create(2);
  cb.setPartitionState(PartitionState.Running);
  const sink = new MailboxSink(cb, VP, [{ base: DEVICE, size: 0x100n }]);
  const parent = new InterceptService(cb, VP);
  const bell = () => Atomics.load(cb.i32, DOORBELL);
  const before = bell();
  assert.equal(sink.post(DEVICE, 1, 1n), true);
  assert.equal(bell(), before + 1, 'the first store wakes the parent');
  assert.equal(sink.post(DEVICE, 1, 2n), true);
  assert.equal(bell(), before + 1, 'the parent has not taken the first yet: no second wake-up');
  const performed: bigint[] = [];
  parent.drainStores((_addr, _width, value) => {
    performed.push(value);
    // The VP posts while the parent drains (it sees the ring not empty, so it does not ring).
    if (value === 2n) assert.equal(sink.post(DEVICE, 1, 3n), true);
  });
  assert.deepEqual(performed, [1n, 2n, 3n], 'the store posted during the drain is not left behind');
  assert.equal(bell(), before + 1);
  assert.equal(parent.queuedStores, 0);
  assert.equal(sink.post(DEVICE, 1, 4n), true);
  assert.equal(bell(), before + 2, 'an empty ring again: the next store rings');
});

test('an ordered shadow register is served only when no posted store is still to be performed, a status one always', () => {
  const cb = ControlBlock.create(2);
  cb.setPartitionState(PartitionState.Running);
  const shadow = { bytes: new Uint8Array(new SharedArrayBuffer(0x100)), readable: new Uint8Array(0x100) };
  shadow.readable[1] = 2; // SHADOW_ORDERED, like the 16550's IER
  shadow.readable[5] = 1; // SHADOW_STATUS, like its LSR
  shadow.bytes[1] = 0x0f; // what the device showed before the store below
  const sink = new MailboxSink(cb, VP, [{ base: DEVICE, size: 0x100n, shadow }]);
  const calls: bigint[] = [];
  const mailbox = (_kind: MailboxOp, addr: bigint) => { calls.push(addr); return { ok: true as const, value: 0n }; };
  sink.call = mailbox;
  assert.deepEqual(sink.mmioLoad(DEVICE + 1n, 1), { ok: true, value: 0x0fn }, 'nothing pending: from the shadow');
  assert.deepEqual(calls, []);
  assert.equal(sink.post(DEVICE + 1n, 1, 0n), true); // e.g. the 8250 driver masking IER
  assert.deepEqual(sink.mmioLoad(DEVICE + 1n, 1), { ok: true, value: 0n }, 'its own store pending: through the mailbox');
  assert.equal(calls.length, 1);
  assert.deepEqual(sink.mmioLoad(DEVICE + 5n, 1), { ok: true, value: 0n }, 'a status register: from the shadow all the same');
  assert.equal(calls.length, 1);
  const other = new MailboxSink(cb, 0, [{ base: DEVICE, size: 0x100n, shadow }]);
  other.call = mailbox;
  other.mmioLoad(DEVICE + 1n, 1);
  assert.equal(calls.length, 2, "another VP's store pending: through the mailbox too");
  new InterceptService(cb, VP).drainStores(() => { shadow.bytes[1] = 0; });
  assert.deepEqual(other.mmioLoad(DEVICE + 1n, 1), { ok: true, value: 0n }, 'performed: from the shadow again');
  assert.equal(calls.length, 2);
});
