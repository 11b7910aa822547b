// Device stores from different VPs take effect in the order the guest made them, however
// the parent walks the VPs' posted-store rings (MailboxSink.waitForOtherVpsStores).
// The case is the one that hung the 8250 console on SMP guests: the UART interrupt handler
// on VP 0 clears IER.THRI, then a writer on VP 1 takes the port lock and sets it again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ControlBlock, PartitionState, POSTED_HEAD, POSTED_TAIL, POSTED_RING64, POSTED_ENTRIES } from './control-block.js';
import { MailboxSink, MailboxOp } from './intercept.js';

const UART_IER = 0x1000_0001n;
const IER_RDI_RLSI = 0x05n, IER_RDI_THRI_RLSI = 0x07n;

/** Performs (records) what VP `vp` has posted, as the VM worker does. */
function drain(cb: ControlBlock, vp: number, performed: bigint[]): void {
  const b32 = cb.vp32(vp), b64 = cb.vp64(vp);
  const head = Atomics.load(cb.i32, b32 + POSTED_HEAD);
  let tail = cb.i32[b32 + POSTED_TAIL];
  for (; tail !== head; tail = (tail + 1) | 0) performed.push(cb.i64[b64 + POSTED_RING64 + (tail & (POSTED_ENTRIES - 1)) * 3 + 1]);
  Atomics.store(cb.i32, b32 + POSTED_TAIL, tail);
  Atomics.notify(cb.i32, b32 + POSTED_TAIL);
}

// VP 1's thread: posts one store and reports whether post() returned true.
const VP1 = `
const { workerData, parentPort } = require('node:worker_threads');
(async () => {
  const { ControlBlock } = await import(workerData.controlBlock);
  const { MailboxSink } = await import(workerData.intercept);
  const channel = new MailboxSink(new ControlBlock(workerData.control), 1);
  parentPort.postMessage('posting');
  parentPort.postMessage(channel.post(workerData.addr, 1, workerData.value));
})();`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a store waits for the stores other VPs posted before it, even when the parent serves VP 1 first', { timeout: 30_000 }, async () => {
  const cb = ControlBlock.create(2);
  cb.setPartitionState(PartitionState.Running);
  assert.equal(new MailboxSink(cb, 0).post(UART_IER, 1, IER_RDI_RLSI), true, 'VP 0 clears THRI');

  const messages: unknown[] = [];
  const vp1 = new Worker(VP1, {
    eval: true,
    workerData: {
      control: cb.buffer, addr: UART_IER, value: IER_RDI_THRI_RLSI,
      controlBlock: new URL('./control-block.js', import.meta.url).href, intercept: new URL('./intercept.js', import.meta.url).href,
    },
  });
  vp1.on('message', (m) => messages.push(m));
  const failed = new Promise<never>((_, reject) => vp1.once('error', reject));
  try {
    await Promise.race([failed, (async () => { while (messages.length === 0) await sleep(5); })()]);
    await sleep(200); // VP 1 has had every chance to post its store by now

    // A parent that serves VP 1 before VP 0 (the VM worker walks the VPs in a loop, so
    // either order happens).
    const performed: bigint[] = [];
    drain(cb, 1, performed);
    drain(cb, 0, performed);
    const deadline = Date.now() + 10_000;
    while (messages.length < 2 && Date.now() < deadline) {
      await sleep(5);
      drain(cb, 1, performed);
      drain(cb, 0, performed);
    }
    assert.deepEqual(messages, ['posting', true]);
    assert.deepEqual(performed, [IER_RDI_RLSI, IER_RDI_THRI_RLSI], 'VP 1 set THRI after VP 0 cleared it: THRI ends set');
  } finally {
    cb.setPartitionState(PartitionState.Stopping); // a VP still waiting gives up
    await vp1.terminate();
  }
});

test('a VP waiting for another VP\'s stores gives up when the partition stops', { timeout: 30_000 }, () => {
  const cb = ControlBlock.create(2);
  cb.setPartitionState(PartitionState.Running);
  assert.equal(new MailboxSink(cb, 0).post(UART_IER, 1, IER_RDI_RLSI), true);
  // No parent drains VP 0's ring; the partition is already on its way down.
  cb.setPartitionState(PartitionState.Stopping);
  const vp1 = new MailboxSink(cb, 1);
  assert.equal(vp1.post(UART_IER, 1, IER_RDI_THRI_RLSI), false);
  assert.equal(vp1.call(MailboxOp.MmioLoad, UART_IER, 1, 0n), undefined);
});
