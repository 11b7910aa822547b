import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SplitQueue, VirtqueueError, checkLayout, parseSplitQueueState, gather, scatter, ringBytes, MAX_QUEUE_SIZE, type Chain, type QueueFeatures, type SplitQueueState } from './virtqueue.js';
import { GuestMemory } from './guest-memory.js';
import { StateError } from '../state/contract.js';
import { AVAIL_F_NO_INTERRUPT, F_INDIRECT, F_NEXT, F_WRITE, RAM_BASE, TestDriver, TestRam, readable, writable } from './test-driver.js';

const INDIRECT: QueueFeatures = { indirect: true, eventIdx: false };
const PLAIN: QueueFeatures = { indirect: false, eventIdx: false };
const EVENT_IDX: QueueFeatures = { indirect: false, eventIdx: true };

function setup(size = 8, features = INDIRECT) {
  const ram = new TestRam();
  const drv = new TestDriver(ram, size);
  const q = new SplitQueue(ram.mem, drv.layout, features);
  return { ram, drv, q };
}

/** The next pop is refused with a VirtqueueError matching `why`, and nothing was written. */
function assertRefused(s: ReturnType<typeof setup>, why: RegExp): void {
  const used = s.ram.bytes(s.drv.layout.device, ringBytes(s.drv.size).device).slice();
  assert.throws(() => s.q.pop(), (e: unknown) => e instanceof VirtqueueError && why.test(e.message));
  assert.ok(s.ram.guardsIntact(), 'a byte outside guest RAM changed');
  assert.deepEqual(s.ram.bytes(s.drv.layout.device, used.length), used, 'the used ring changed');
}

/** Every buffer of the chain is a view of guest RAM, nothing else. */
function assertInRam(ram: TestRam, c: Chain): void {
  for (const b of [...c.readable, ...c.writable]) {
    assert.equal(b.buffer, ram.mem.ram.buffer);
    assert.ok(b.byteOffset >= ram.mem.ram.byteOffset && b.byteOffset + b.length <= ram.mem.ram.byteOffset + ram.size);
  }
}

// ---- A hostile driver ----

test('a descriptor loop in the queue table is refused', () => {
  const s = setup();
  const buf = s.ram.alloc(64);
  s.drv.desc(0, buf, 64, F_NEXT, 1);
  s.drv.desc(1, buf, 64, F_NEXT, 0);
  s.drv.offer(0);
  assertRefused(s, /loop/);
});

test('a descriptor that links to itself is refused', () => {
  const s = setup(4);
  s.drv.desc(2, s.ram.alloc(8), 8, F_NEXT, 2);
  s.drv.offer(2);
  assertRefused(s, /loop/);
});

test('a chain as long as the queue is taken; one link more (it must revisit) is refused', () => {
  const s = setup(4);
  const buf = s.ram.alloc(4);
  for (let i = 0; i < 4; i++) s.drv.desc(i, buf + i, 1, i < 3 ? F_NEXT : 0, i + 1);
  s.drv.offer(0);
  assert.equal(s.q.pop()?.readable.length, 4);
  s.drv.desc(3, buf + 3, 1, F_NEXT, 1); // 0 1 2 3 1 ...
  s.drv.offer(0);
  assertRefused(s, /longer than its table/);
});

test('a descriptor loop inside an indirect table is refused', () => {
  const s = setup();
  const table = s.ram.alloc(48), buf = s.ram.alloc(16);
  s.drv.writeDesc(table, 0, buf, 16, F_NEXT, 1);
  s.drv.writeDesc(table, 1, buf, 16, F_NEXT, 2);
  s.drv.writeDesc(table, 2, buf, 16, F_NEXT, 0);
  s.drv.desc(0, table, 48, F_INDIRECT);
  s.drv.offer(0);
  assertRefused(s, /loop/);
});

test('an available index more than the queue size ahead is refused', () => {
  const s = setup(8);
  s.drv.setAvailIdx(8); // exactly a full ring is fine
  assert.equal(s.q.pending(), 8);
  s.drv.setAvailIdx(9);
  assert.throws(() => s.q.pending(), VirtqueueError);
  assertRefused(s, /moved 9 entries ahead/);
});

test('an available index moved backwards (2^16 - 1 ahead) is refused', () => {
  const s = setup(8);
  s.drv.setAvailIdx(0xffff);
  assertRefused(s, /moved 65535 entries ahead/);
});

test('a head index past the queue size is refused', () => {
  const s = setup(8);
  s.drv.offer(8);
  assertRefused(s, /names descriptor 8, past the queue size 8/);
  const t = setup(8);
  t.drv.offer(0xffff);
  assertRefused(t, /names descriptor 65535/);
});

test('a next index past the queue table is refused', () => {
  const s = setup(8);
  s.drv.desc(0, s.ram.alloc(8), 8, F_NEXT, 8);
  s.drv.offer(0);
  assertRefused(s, /links to 8, past its table \(8\)/);
});

test('a next index past an indirect table is refused', () => {
  const s = setup(8);
  const table = s.ram.alloc(32), buf = s.ram.alloc(8);
  s.drv.writeDesc(table, 0, buf, 8, F_NEXT, 1);
  s.drv.writeDesc(table, 1, buf, 8, F_NEXT, 2); // the table has 2 entries
  s.drv.desc(0, table, 32, F_INDIRECT);
  s.drv.offer(0);
  assertRefused(s, /links to 2, past its table \(2\)/);
});

test('a buffer below guest RAM is refused', () => {
  const s = setup();
  s.drv.desc(0, RAM_BASE - 16, 16, 0);
  s.drv.offer(0);
  assertRefused(s, /not in guest RAM/);
});

test('a buffer at the end of guest RAM (one byte past) is refused', () => {
  const s = setup();
  s.drv.desc(0, s.ram.end, 1, F_WRITE);
  s.drv.offer(0);
  assertRefused(s, /not in guest RAM/);
});

test('a buffer straddling the end of guest RAM is refused', () => {
  const s = setup();
  s.drv.desc(0, s.ram.end - 8, 16, F_WRITE);
  s.drv.offer(0);
  assertRefused(s, /not in guest RAM/);
});

test('an address that wraps around 2^64 into RAM is refused', () => {
  const s = setup();
  // 2^64 - 4096 plus a length past 4096 wraps to a low address; in 64-bit arithmetic it would pass.
  s.drv.desc(0, (1n << 64n) - 4096n, 0x2000 + RAM_BASE, F_WRITE);
  s.drv.offer(0);
  assertRefused(s, /not in guest RAM/);
});

test('an address with a huge high half (RAM address + 2^63) is refused', () => {
  const s = setup();
  s.drv.desc(0, (1n << 63n) + BigInt(RAM_BASE), 16, F_WRITE); // truncated to 53 bits it would be RAM
  s.drv.offer(0);
  assertRefused(s, /not in guest RAM/);
  const t = setup();
  t.drv.desc(0, (1n << 32n) + BigInt(RAM_BASE), 16, 0); // below 2^53, but far past RAM
  t.drv.offer(0);
  assertRefused(t, /not in guest RAM/);
});

test('a length that runs one byte past the end of RAM is refused', () => {
  const s = setup();
  s.drv.desc(0, RAM_BASE, s.ram.size + 1, F_WRITE);
  s.drv.offer(0);
  assertRefused(s, /not in guest RAM/);
});

test('a length of 0xffffffff is refused', () => {
  const s = setup();
  s.drv.desc(0, RAM_BASE, 0xffff_ffff, F_WRITE);
  s.drv.offer(0);
  assertRefused(s, /not in guest RAM/);
});

test('a chain of more than 4 GiB in total (buffers repeated) is refused', () => {
  const s = setup(8);
  const n = 4097; // 4097 MiB
  const table = s.ram.alloc(16 * n);
  for (let i = 0; i < n; i++) s.drv.writeDesc(table, i, RAM_BASE, s.ram.size, F_WRITE | (i < n - 1 ? F_NEXT : 0), i + 1);
  s.drv.desc(0, table, 16 * n, F_INDIRECT);
  s.drv.offer(0);
  assertRefused(s, /longer than 4 GiB/);
});

test('an indirect descriptor without VIRTIO_F_INDIRECT_DESC is refused', () => {
  const s = setup(8, PLAIN);
  const table = s.ram.alloc(16);
  s.drv.writeDesc(table, 0, s.ram.alloc(8), 8, 0);
  s.drv.desc(0, table, 16, F_INDIRECT);
  s.drv.offer(0);
  assertRefused(s, /without VIRTIO_F_INDIRECT_DESC/);
});

test('an indirect descriptor inside an indirect table is refused', () => {
  const s = setup();
  const outer = s.ram.alloc(16), inner = s.ram.alloc(16);
  s.drv.writeDesc(inner, 0, s.ram.alloc(8), 8, 0);
  s.drv.writeDesc(outer, 0, inner, 16, F_INDIRECT);
  s.drv.desc(0, outer, 16, F_INDIRECT);
  s.drv.offer(0);
  assertRefused(s, /inside an indirect table/);
});

test('an indirect descriptor with NEXT set is refused', () => {
  const s = setup();
  const table = s.ram.alloc(16);
  s.drv.writeDesc(table, 0, s.ram.alloc(8), 8, 0);
  s.drv.desc(0, table, 16, F_INDIRECT | F_NEXT, 1);
  s.drv.desc(1, s.ram.alloc(8), 8, 0);
  s.drv.offer(0);
  assertRefused(s, /NEXT/);
});

test('an indirect table whose length is not a multiple of 16 is refused', () => {
  const s = setup();
  const table = s.ram.alloc(32);
  s.drv.writeDesc(table, 0, s.ram.alloc(8), 8, 0);
  s.drv.desc(0, table, 24, F_INDIRECT);
  s.drv.offer(0);
  assertRefused(s, /indirect table length 24/);
});

test('an indirect table of length zero is refused', () => {
  const s = setup();
  s.drv.desc(0, s.ram.alloc(16), 0, F_INDIRECT);
  s.drv.offer(0);
  assertRefused(s, /indirect table length 0/);
});

test('an indirect table outside guest RAM is refused', () => {
  const s = setup();
  s.drv.desc(0, s.ram.end - 16, 32, F_INDIRECT);
  s.drv.offer(0);
  assertRefused(s, /indirect table .* not in guest RAM/);
  const t = setup();
  t.drv.desc(0, (1n << 64n) - 16n, 32, F_INDIRECT);
  t.drv.offer(0);
  assertRefused(t, /indirect table .* not in guest RAM/);
});

test('a device-readable buffer after a device-writable one is refused', () => {
  const s = setup();
  const w = writable(s.ram, 8), r = readable(s.ram, [1, 2]);
  s.drv.add([w, r]);
  assertRefused(s, /readable buffer follows a device-writable/);
});

test('a device-readable buffer after a device-writable one in an indirect table is refused', () => {
  const s = setup();
  s.drv.add([readable(s.ram, [1]), writable(s.ram, 8), readable(s.ram, [2])], { indirect: true });
  assertRefused(s, /readable buffer follows a device-writable/);
});

test('a device-writable direct descriptor followed by an indirect table of readable ones is refused', () => {
  const s = setup();
  const table = s.ram.alloc(16);
  s.drv.writeDesc(table, 0, s.ram.alloc(8), 8, 0);
  s.drv.desc(0, s.ram.alloc(8), 8, F_WRITE | F_NEXT, 1);
  s.drv.desc(1, table, 16, F_INDIRECT);
  s.drv.offer(0);
  assertRefused(s, /readable buffer follows a device-writable/);
});

test('the WRITE flag of a descriptor pointing at an indirect table is ignored (§2.7.5.3.2)', () => {
  const s = setup();
  const table = s.ram.alloc(32);
  const r = readable(s.ram, [7, 8, 9]), w = writable(s.ram, 4);
  s.drv.writeDesc(table, 0, r.gpa, r.len, F_NEXT, 1);
  s.drv.writeDesc(table, 1, w.gpa, w.len, F_WRITE);
  s.drv.desc(3, table, 32, F_INDIRECT | F_WRITE);
  s.drv.offer(3);
  const c = s.q.pop()!;
  assert.equal(c.head, 3);
  assert.deepEqual(c.readable.map((b) => [...b]), [[7, 8, 9]]);
  assert.equal(c.writableBytes, 4);
});

// ---- Well-behaved drivers ----

test('a simple chain: its buffers are views of guest RAM, readable ones first', () => {
  const s = setup();
  assert.equal(s.q.pending(), 0);
  assert.equal(s.q.pop(), undefined);
  const r1 = readable(s.ram, [1, 2, 3]), r2 = readable(s.ram, [4]), w1 = writable(s.ram, 5), w2 = writable(s.ram, 3);
  const head = s.drv.add([r1, r2, w1, w2]);
  assert.equal(s.q.pending(), 1);
  const c = s.q.pop()!;
  assertInRam(s.ram, c);
  assert.equal(c.head, head);
  assert.deepEqual(c.readable.map((b) => [...b]), [[1, 2, 3], [4]]);
  assert.equal(c.readableBytes, 4);
  assert.equal(c.writableBytes, 8);
  c.writable[1].set([9, 9, 9]);
  assert.deepEqual([...s.ram.bytes(w2.gpa as number, 3)], [9, 9, 9]);
  assert.equal(s.q.pending(), 0);
  assert.equal(s.q.pop(), undefined);
  assert.ok(s.ram.guardsIntact());
});

test('zero-length buffers are taken as empty views', () => {
  const s = setup();
  s.drv.add([{ gpa: s.ram.alloc(0), len: 0 }, writable(s.ram, 0), { gpa: s.ram.end, len: 0, write: true }]);
  const c = s.q.pop()!;
  assert.equal(c.readable.length, 1);
  assert.equal(c.writable.length, 2);
  assert.equal(c.readableBytes + c.writableBytes, 0);
});

test('an indirect chain is followed through its table', () => {
  const s = setup();
  const r = readable(s.ram, [5, 6]), w = writable(s.ram, 2);
  const head = s.drv.add([r, w], { indirect: true });
  const c = s.q.pop()!;
  assertInRam(s.ram, c);
  assert.equal(c.head, head);
  assert.deepEqual(c.readable.map((b) => [...b]), [[5, 6]]);
  assert.equal(c.writable.length, 1);
  assert.equal(c.writableBytes, 2);
});

test('direct descriptors followed by one indirect descriptor make one chain (§2.7.5.3.2)', () => {
  const s = setup();
  const table = s.ram.alloc(32);
  const r1 = readable(s.ram, [1]), r2 = readable(s.ram, [2]), w = writable(s.ram, 3);
  s.drv.writeDesc(table, 0, r2.gpa, r2.len, F_NEXT, 1);
  s.drv.writeDesc(table, 1, w.gpa, w.len, F_WRITE);
  s.drv.desc(5, r1.gpa, r1.len, F_NEXT, 6);
  s.drv.desc(6, table, 32, F_INDIRECT);
  s.drv.offer(5);
  const c = s.q.pop()!;
  assert.deepEqual(c.readable.map((b) => [...b]), [[1], [2]]);
  assert.equal(c.writableBytes, 3);
});

test('push writes id and len before publishing used.idx', () => {
  const s = setup(4);
  const a = s.drv.add([writable(s.ram, 16)]);
  const b = s.drv.add([readable(s.ram, [1])]);
  const ca = s.q.pop()!, cb = s.q.pop()!;
  s.q.push(cb, 0); // out of order is allowed
  s.q.push(ca, 12);
  assert.equal(s.drv.usedIdx(), 2);
  assert.deepEqual(s.drv.usedElem(0), { id: b, len: 0 });
  assert.deepEqual(s.drv.usedElem(1), { id: a, len: 12 });
  assert.deepEqual(s.drv.collect(), [{ id: b, len: 0 }, { id: a, len: 12 }]);
  assert.equal(s.drv.usedFlags(), 0);
});

// ---- The written-page log: a live migration copies pages the device writes ----

/** The written-page log as the queue's GuestMemory sees it: the pages marked since the last take(). */
class PageLog {
  private readonly pages = new Set<number>();
  mark(offset: number, length: number): void {
    for (let p = Math.floor(offset / 4096); length > 0 && p <= Math.floor((offset + length - 1) / 4096); p++) this.pages.add(p);
  }
  /** What a migration pass harvests: the pages marked, and the log cleared. */
  take(): number[] { const out = [...this.pages].sort((a, b) => a - b); this.pages.clear(); return out; }
}

function loggedSetup(size: number, indices?: SplitQueueState) {
  const ram = new TestRam();
  const drv = new TestDriver(ram, size);
  const log = new PageLog();
  const q = new SplitQueue(new GuestMemory(ram.mem.ram, ram.base, log), drv.layout, PLAIN, indices);
  const page = (gpa: number) => Math.floor((gpa - ram.base) / 4096);
  return { ram, drv, q, log, page };
}

test('push marks the chain\'s writable buffers and the used ring again, after a harvest took them at pop', () => {
  const s = loggedSetup(8);
  assert.ok(s.log.take().includes(s.page(s.drv.layout.device)), 'the used ring is marked when the queue is made');
  // Each buffer on pages of its own, the first writable one across two.
  const header = s.ram.alloc(16, 4096), w1 = s.ram.alloc(6000, 4096), w2 = s.ram.alloc(100, 4096);
  s.ram.write(header, [1, 2, 3]);
  s.drv.add([{ gpa: header, len: 16 }, { gpa: w1, len: 6000, write: true }, { gpa: w2, len: 100, write: true }]);
  const c = s.q.pop()!;
  const writable = [s.page(w1), s.page(w1) + 1, s.page(w2)];
  assert.deepEqual(s.log.take(), writable, 'pop marks the writable buffers before the device writes them');
  // A pass copies those pages now; then the device writes them and returns the chain.
  assert.equal(scatter(c.writable, 0, new Uint8Array(6050).fill(7)), 6050);
  s.q.push(c, 6050);
  const marked = s.log.take();
  for (const p of writable) assert.ok(marked.includes(p), `written page ${p} is marked again (${marked})`);
  assert.ok(marked.includes(s.page(s.drv.layout.device)), 'the used ring\'s page is marked again');
  assert.ok(!marked.includes(s.page(header)), 'the readable buffer, which the device does not write, is not');
  assert.deepEqual(s.drv.collect(), [{ id: c.head, len: 6050 }]);
});

test('push marks the used element\'s page and used.idx\'s, when the used ring spans pages', () => {
  // A 1024-entry used ring is 8 KiB: element 600 is a page past used.idx.
  const s = loggedSetup(1024, { lastAvail: 600, usedIdx: 600, signalledUsed: 600 });
  const idx = s.drv.layout.device + 2, element = s.drv.layout.device + 4 + 8 * 600;
  assert.notEqual(s.page(idx), s.page(element));
  s.drv.setAvailIdx(600);
  const w = writable(s.ram, 8);
  s.drv.add([w]);
  const c = s.q.pop()!;
  s.log.take();
  s.q.push(c, 8);
  const marked = s.log.take();
  for (const [what, gpa] of [['used.idx', idx], ['the used element', element], ['the used element\'s end', element + 7], ['the buffer', w.gpa as number]] as const) {
    assert.ok(marked.includes(s.page(gpa)), `${what}'s page is marked (${marked})`);
  }
  assert.equal(s.drv.usedIdx(), 601);
  assert.deepEqual(s.drv.usedElem(600), { id: c.head, len: 8 });
});

test('without EVENT_IDX: an interrupt per batch unless avail.flags has NO_INTERRUPT', () => {
  const s = setup(4, PLAIN);
  assert.equal(s.q.needsInterrupt(), false); // nothing used yet
  s.drv.add([writable(s.ram, 1)]);
  s.q.push(s.q.pop()!, 1);
  assert.equal(s.q.needsInterrupt(), true);
  assert.equal(s.q.needsInterrupt(), false); // nothing new since
  s.drv.setAvailFlags(AVAIL_F_NO_INTERRUPT);
  s.drv.add([writable(s.ram, 1)]);
  s.q.push(s.q.pop()!, 1);
  assert.equal(s.q.needsInterrupt(), false);
  s.drv.setAvailFlags(0);
  s.drv.add([writable(s.ram, 1)]);
  s.q.push(s.q.pop()!, 1);
  assert.equal(s.q.needsInterrupt(), true);
});

test('with EVENT_IDX: an interrupt when used.idx passes used_event; avail.flags is ignored', () => {
  const s = setup(8, EVENT_IDX);
  const use = (n: number) => {
    for (let i = 0; i < n; i++) s.drv.add([writable(s.ram, 1)]);
    for (let c = s.q.pop(); c; c = s.q.pop()) s.q.push(c, 1);
    s.drv.collect();
  };
  s.drv.setAvailFlags(AVAIL_F_NO_INTERRUPT); // MUST be ignored with EVENT_IDX (§2.7.10)
  s.drv.setUsedEvent(0);
  use(1); // used.idx 0 -> 1: the element at index 0 = used_event
  assert.equal(s.q.needsInterrupt(), true);
  s.drv.setUsedEvent(3);
  use(2); // 1 -> 3: the elements at 1, 2
  assert.equal(s.q.needsInterrupt(), false);
  use(1); // 3 -> 4: the element at 3
  assert.equal(s.q.needsInterrupt(), true);
  s.drv.setUsedEvent(5);
  use(3); // 4 -> 7 passes 5 in one batch
  assert.equal(s.q.needsInterrupt(), true);
  use(1); // 7 -> 8, used_event 5 is behind
  assert.equal(s.q.needsInterrupt(), false);
});

test('armNotify writes avail_event (EVENT_IDX) and says whether buffers arrived meanwhile', () => {
  const s = setup(8, EVENT_IDX);
  assert.equal(s.q.armNotify(), false);
  assert.equal(s.drv.availEvent(), 0);
  s.drv.add([writable(s.ram, 1)]);
  s.drv.add([writable(s.ram, 1)]);
  assert.equal(s.q.armNotify(), true); // two pending: the caller keeps going
  s.q.pop(); s.q.pop();
  assert.equal(s.q.armNotify(), false);
  assert.equal(s.drv.availEvent(), 2);

  const p = setup(8, PLAIN);
  p.ram.setU16(p.drv.layout.device + 4 + 8 * 8, 0x1234);
  p.drv.add([writable(p.ram, 1)]);
  p.q.pop();
  assert.equal(p.q.armNotify(), false);
  assert.equal(p.drv.availEvent(), 0x1234, 'avail_event is not written without EVENT_IDX');
});

test('the 16-bit indices wrap around: requests keep flowing past 65535, interrupts too', () => {
  const s = setup(4, EVENT_IDX);
  const w = writable(s.ram, 2);
  let n = 0;
  const one = () => {
    const head = s.drv.add([w]);
    const c = s.q.pop()!;
    assert.equal(c.head, head);
    s.q.push(c, 2);
    s.drv.collect();
    n++;
  };
  while (n < 0xfffe) one();
  assert.equal(s.drv.usedIdx(), 0xfffe);
  s.q.needsInterrupt();
  // A batch of four across the wrap: avail slots 2, 3, 0, 1 and indices 0xfffe..1.
  const heads = [0, 1, 2, 3].map(() => s.drv.add([writable(s.ram, 1)], { publish: false }));
  s.drv.publish();
  assert.equal(s.q.pending(), 4);
  const chains = [0, 1, 2, 3].map(() => s.q.pop()!);
  assert.deepEqual(chains.map((c) => c.head), heads);
  assert.equal(s.q.pop(), undefined);
  chains.forEach((c, i) => { c.writable[0][0] = 10 + i; s.q.push(c, 1); });
  assert.equal(s.drv.usedIdx(), 2);
  s.drv.setUsedEvent(0); // the element at used index 0 was in this batch
  assert.equal(s.q.needsInterrupt(), true);
  const used = s.drv.collect();
  assert.deepEqual(used, heads.map((id) => ({ id, len: 1 })));
  assert.equal(s.q.armNotify(), false);
  assert.equal(s.drv.availEvent(), 2);
  s.drv.setUsedEvent(0xffff); // behind: no interrupt for the next one
  one();
  assert.equal(s.q.needsInterrupt(), false);
  s.drv.setUsedEvent(3);
  one();
  assert.equal(s.q.needsInterrupt(), true);
  assert.ok(s.ram.guardsIntact());
});

test('gather and scatter cross buffer boundaries', () => {
  const bufs = [Uint8Array.of(1, 2, 3), new Uint8Array(0), Uint8Array.of(4), Uint8Array.of(5, 6, 7, 8)];
  assert.deepEqual([...gather(bufs, 0, 8)!], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...gather(bufs, 2, 4)!], [3, 4, 5, 6]);
  assert.deepEqual([...gather(bufs, 3, 1)!], [4]);
  assert.deepEqual([...gather(bufs, 8, 0)!], []);
  assert.equal(gather(bufs, 5, 4), undefined); // only 3 bytes from offset 5
  assert.equal(gather(bufs, 9, 1), undefined);

  const out = [new Uint8Array(2), new Uint8Array(0), new Uint8Array(3)];
  assert.equal(scatter(out, 1, Uint8Array.of(9, 8, 7)), 3);
  assert.deepEqual(out.map((b) => [...b]), [[0, 9], [], [8, 7, 0]]);
  assert.equal(scatter(out, 3, Uint8Array.of(1, 2, 3, 4)), 2); // only 2 bytes of room left
  assert.deepEqual([...out[2]], [8, 1, 2]);
  assert.equal(scatter(out, 5, Uint8Array.of(1)), 0);
});

// ---- checkLayout ----

function layoutOf(ram: TestRam, size: number) {
  const b = ringBytes(Math.max(1, Math.min(size, MAX_QUEUE_SIZE)));
  return { size, desc: ram.alloc(b.desc, 16), driver: ram.alloc(b.driver, 2), device: ram.alloc(b.device, 4) };
}

test('checkLayout: queue size 0 is refused', () => {
  const ram = new TestRam();
  assert.match(checkLayout(ram.mem, layoutOf(ram, 0)) ?? '', /queue size 0/);
});

test('checkLayout: a queue size that is not a power of two is refused', () => {
  const ram = new TestRam();
  for (const size of [3, 100, 1.5, 32767]) assert.match(checkLayout(ram.mem, layoutOf(ram, size)) ?? '', /not a power of two/, `size ${size}`);
});

test('checkLayout: a queue size above 32768 is refused; 32768 is fine', () => {
  const ram = new TestRam();
  assert.match(checkLayout(ram.mem, { ...layoutOf(ram, 1), size: 65536 }) ?? '', /queue size 65536/);
  const big = new TestRam();
  const l = layoutOf(big, MAX_QUEUE_SIZE);
  assert.equal(checkLayout(big.mem, l), undefined);
  assert.equal(new SplitQueue(big.mem, l, EVENT_IDX).size, MAX_QUEUE_SIZE);
});

test('checkLayout: misaligned rings are refused (16, 2 and 4 bytes, §2.7)', () => {
  const ram = new TestRam();
  const l = layoutOf(ram, 8);
  assert.equal(checkLayout(ram.mem, l), undefined);
  assert.match(checkLayout(ram.mem, { ...l, desc: l.desc + 8 }) ?? '', /descriptor table .* not 16-byte aligned/);
  assert.match(checkLayout(ram.mem, { ...l, driver: l.driver + 1 }) ?? '', /available ring .* not 2-byte aligned/);
  assert.match(checkLayout(ram.mem, { ...l, device: l.device + 2 }) ?? '', /used ring .* not 4-byte aligned/);
  assert.equal(checkLayout(ram.mem, { ...l, desc: l.desc + 16, driver: l.driver + 2, device: l.device + 4 }), undefined);
});

test('checkLayout: rings outside guest RAM are refused', () => {
  const ram = new TestRam();
  const l = layoutOf(ram, 8);
  const b = ringBytes(8);
  assert.match(checkLayout(ram.mem, { ...l, desc: RAM_BASE - 128 }) ?? '', /descriptor table .* not in guest RAM/);
  assert.match(checkLayout(ram.mem, { ...l, driver: ram.end - b.driver + 2 }) ?? '', /available ring .* not in guest RAM/);
  assert.match(checkLayout(ram.mem, { ...l, device: ram.end - 4 }) ?? '', /used ring .* not in guest RAM/);
  assert.match(checkLayout(ram.mem, { ...l, device: 2 ** 53 }) ?? '', /used ring .* not in guest RAM/);
  assert.equal(checkLayout(ram.mem, { ...l, device: ram.end - b.device - 2 }), undefined); // 2 bytes short of the end
  assert.match(checkLayout(ram.mem, { ...l, device: ram.end - b.device + 2 }) ?? '', /not in guest RAM/);
});

test('a SplitQueue cannot be built over a layout checkLayout refuses', () => {
  const ram = new TestRam();
  const l = layoutOf(ram, 8);
  assert.throws(() => new SplitQueue(ram.mem, { ...l, size: 6 }, PLAIN), VirtqueueError);
  assert.throws(() => new SplitQueue(ram.mem, { ...l, device: ram.end }, PLAIN), VirtqueueError);
  assert.throws(() => new SplitQueue(ram.mem, { ...l, desc: l.desc + 4 }, PLAIN), VirtqueueError);
});

// ---- Save and restore ----

const roundTrip = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

test('save/restore: a queue rebuilt from its saved indices takes the chains posted before the save, in order', () => {
  const s = setup(8, EVENT_IDX);
  const heads = [0, 1, 2].map(() => s.drv.add([writable(s.ram, 4)]));
  const first = s.q.pop()!;
  s.q.push(first, 4);
  assert.equal(s.q.needsInterrupt(), true);
  const saved = roundTrip(s.q.save());
  assert.deepEqual(saved, { lastAvail: 1, usedIdx: 1, signalledUsed: 1 });

  const q = new SplitQueue(s.ram.mem, s.drv.layout, EVENT_IDX, parseSplitQueueState(saved, 'queue 0'));
  assert.deepEqual(q.layout, s.drv.layout);
  assert.equal(q.pending(), 2, 'the chain taken before the save is not taken again');
  for (const head of heads.slice(1)) {
    const c = q.pop()!;
    assert.equal(c.head, head);
    q.push(c, 3);
  }
  assert.deepEqual(s.drv.collect(), [{ id: heads[0], len: 4 }, { id: heads[1], len: 3 }, { id: heads[2], len: 3 }],
    'the used ring continues where the saved queue left it');
  // The driver asked for an interrupt past used index 0, and got it before the save
  // (signalledUsed 1): none is due now. A queue that forgot it would interrupt again.
  s.drv.setUsedEvent(0);
  assert.equal(q.needsInterrupt(), false);
});

test('save/restore: indices near the 16-bit wrap continue across it', () => {
  const ram = new TestRam();
  const drv = new TestDriver(ram, 8);
  drv.setAvailIdx(0xfffe);
  const q = new SplitQueue(ram.mem, drv.layout, PLAIN, parseSplitQueueState({ lastAvail: 0xfffe, usedIdx: 0xfffe, signalledUsed: 0xfffe }, 'queue 0'));
  const heads = [drv.add([writable(ram, 1)]), drv.add([writable(ram, 1)])];
  assert.equal(q.pending(), 2);
  for (const head of heads) { const c = q.pop()!; assert.equal(c.head, head); q.push(c, 1); }
  assert.equal(drv.usedIdx(), 0);
  assert.deepEqual([drv.usedElem(0xfffe).id, drv.usedElem(0xffff).id], heads);
  assert.deepEqual(q.save(), { lastAvail: 0, usedIdx: 0, signalledUsed: 0xfffe });
});

test('save/restore: the indices are not checked against guest RAM, and a ring that disagrees fails as a live one would', () => {
  const s = setup(8);
  // Saved indices far from the (zeroed) rings: accepted, and the first look at the ring
  // finds avail.idx out of reach, as it would for a driver that wrote it.
  const q = new SplitQueue(s.ram.mem, s.drv.layout, PLAIN, parseSplitQueueState({ lastAvail: 100, usedIdx: 7, signalledUsed: 7 }, 'queue 0'));
  assert.throws(() => q.pending(), VirtqueueError);
  assert.ok(s.ram.guardsIntact());
});

test('parseSplitQueueState refuses anything but three 16-bit indices', () => {
  const ok = { lastAvail: 1, usedIdx: 2, signalledUsed: 3 };
  assert.deepEqual(parseSplitQueueState(ok, 'q'), ok);
  const bad: unknown[] = [null, 1, [], {}, { ...ok, lastAvail: -1 }, { ...ok, usedIdx: 0x10000 }, { ...ok, signalledUsed: 1.5 },
    { ...ok, lastAvail: '1' }, { lastAvail: 1, usedIdx: 2 }];
  for (const v of bad) assert.throws(() => parseSplitQueueState(v, 'q'), StateError, JSON.stringify(v));
});
