import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDriver, TestRam, readable, writable, type Segment } from '../../../vmbus/test-driver.js';
import { MAX_BACKLOG, VirtioConsole, VIRTIO_ID_CONSOLE } from './device.js';
import { StateError, bytesToBase64 } from '../../../state/contract.js';
import { F_EVENT_IDX, F_VERSION_1, INT_USED_BUFFER, REG, STATUS, type DeviceContext } from '../virtio-mmio.js';
import { MmioBench } from '../test-support.js';

const RX = 0, TX = 1;
const text = (s: string) => [...new TextEncoder().encode(s)];

interface Rx { b: MmioBench; rx: TestDriver; posted: Map<number, Segment> }

function setup(features = F_VERSION_1) {
  const out: number[][] = [];
  const con = new VirtioConsole((bytes) => out.push([...bytes]));
  const b = new MmioBench(con);
  const [rx, tx] = b.start([8, 8], features);
  return { con, b, rx: rx!, tx: tx!, out, posted: new Map<number, Segment>() };
}

/** Posts receive buffers of the given sizes (one chain each), then kicks unless told not to. */
function post(s: Rx, sizes: number[], kick = true): void {
  for (const n of sizes) {
    const w = writable(s.b.ram, n);
    s.posted.set(s.rx.add([w]), w);
  }
  if (kick) s.b.kick(RX);
}

/** What the device returned on the receive queue since the last call: the bytes of each buffer. */
function received(s: Rx): number[][] {
  return s.rx.collect().map((e) => [...s.b.ram.bytes(s.posted.get(e.id)!.gpa as number, e.len)]);
}

test('transmitted bytes reach the output callback, buffer by buffer, and the chains are used with len 0', () => {
  const s = setup();
  assert.equal(s.b.read(REG.deviceId), VIRTIO_ID_CONSOLE);
  s.tx.add([readable(s.b.ram, text('hello')), readable(s.b.ram, text(', '))]);
  s.tx.add([readable(s.b.ram, text('world\n'))]);
  s.b.kick(TX);
  assert.deepEqual(s.out, [text('hello'), text(', '), text('world\n')]);
  assert.deepEqual(s.tx.collect().map((e) => e.len), [0, 0]);
  assert.equal(s.b.read(REG.interruptStatus), INT_USED_BUFFER);
});

test('input waits for receive buffers, then is delivered in order across buffers', () => {
  const s = setup();
  s.con.receive(Uint8Array.from(text('abcdefghij')));
  s.con.receive(Uint8Array.from(text('KL')));
  assert.equal(s.rx.usedIdx(), 0);
  post(s, [4, 4]);
  assert.deepEqual(received(s), [text('abcd'), text('efgh')]);
  post(s, [8]);
  assert.deepEqual(received(s), [text('ijKL')]);
  assert.equal(s.b.ack(), INT_USED_BUFFER);
  // Buffers posted first, input later: delivered at once.
  post(s, [16]);
  s.con.receive(Uint8Array.from(text('now')));
  assert.deepEqual(received(s), [text('now')]);
});

test('input received before DRIVER_OK is delivered into buffers posted before DRIVER_OK', () => {
  const out: number[][] = [];
  const con = new VirtioConsole((bytes) => out.push([...bytes]));
  const b = new MmioBench(con);
  con.receive(Uint8Array.from(text('early')));
  assert.ok(b.negotiate());
  const rx = new TestDriver(b.ram, 8);
  b.setQueue(RX, rx.layout);
  const w = writable(b.ram, 8);
  rx.add([w]);
  b.driverOk();
  assert.deepEqual(rx.collect(), [{ id: 0, len: 5 }]);
  assert.deepEqual([...b.ram.bytes(w.gpa as number, 5)], text('early'));
});

test('a broken receive ring found while delivering host input marks the device needs-reset (not a host error)', () => {
  const s = setup();
  s.rx.setAvailIdx(100); // far more than the queue size ahead
  assert.doesNotThrow(() => s.con.receive(Uint8Array.from(text('x'))));
  assert.ok(s.b.status() & STATUS.needsReset);
  assert.match(s.b.mmio.broken ?? '', /moved 100 entries ahead/);
  assert.doesNotThrow(() => s.con.receive(Uint8Array.from(text('y'))));
});

test('with EVENT_IDX, a buffer the guest posts just as the device arms its notification is not missed', () => {
  const s = setup(F_VERSION_1 | F_EVENT_IDX);
  post(s, [2]);
  const q = (s.con as unknown as { ctx: DeviceContext }).ctx.queues[RX]!;
  const arm = q.armNotify.bind(q);
  let raced = false;
  q.armNotify = () => {
    if (!raced) {
      // The guest adds a buffer and reads the old avail_event, so it does not kick.
      raced = true;
      post(s, [8], false);
    }
    return arm();
  };
  s.con.receive(Uint8Array.from(text('0123456789')));
  assert.deepEqual(received(s), [text('01'), text('23456789')]);
});

test('an oversized transmit chain gives at most 1 MiB of output; the rest is dropped', () => {
  const out: number[] = [];
  const con = new VirtioConsole((bytes) => { out.push(bytes.length); });
  const b = new MmioBench(con, new TestRam(4 << 20));
  const [, tx] = b.start([8, 8], F_VERSION_1);
  const big = b.ram.alloc(1536 << 10, 1);
  tx!.add([{ gpa: big, len: 1536 << 10, write: false } as Segment, readable(b.ram, text('more'))]);
  b.kick(TX);
  assert.equal(out.reduce((a, n) => a + n, 0), 1 << 20);
  assert.equal(tx!.collect().length, 1, 'the chain is returned');
});

// --- Save and restore ----------------------------------------------------------------------------

const roundTrip = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

test('save/restore: input the guest had no buffers for is delivered by the restored console, in order', () => {
  const s = setup();
  post(s, [4]);
  s.con.receive(Uint8Array.from(text('abcdefgh')));
  s.con.receive(Uint8Array.from(text('IJ')));
  assert.deepEqual(received(s), [text('abcd')]);
  const saved = roundTrip(s.b.mmio.save());
  assert.deepEqual(saved.device, { version: 1, backlog: bytesToBase64(Uint8Array.from(text('efghIJ'))) });

  const out: number[][] = [];
  const con = new VirtioConsole((bytes) => out.push([...bytes]));
  const b = new MmioBench(con, s.b.ram);
  b.mmio.restore(saved);
  assert.equal(con.rxPending, 6);
  assert.equal(s.rx.usedIdx(), 1, 'nothing delivered by the restore itself');
  const r = { ...s, b };
  post(r, [4, 4]);
  assert.deepEqual(received(r), [text('efgh'), text('IJ')]);
  assert.equal(con.rxPending, 0);
  // Output goes on too.
  s.tx.add([readable(b.ram, text('out'))]);
  b.kick(TX);
  assert.deepEqual(out, [text('out')]);
});

test('save/restore: input typed before the driver loaded survives into the restored console', () => {
  const a = new VirtioConsole(() => {});
  const ab = new MmioBench(a);
  a.receive(Uint8Array.from(text('early')));
  const saved = roundTrip(ab.mmio.save());
  assert.equal(saved.live, null);
  const con = new VirtioConsole(() => {});
  const b = new MmioBench(con, ab.ram);
  b.mmio.restore(saved);
  const [rx] = b.start([8, 8]);
  const w = writable(b.ram, 8);
  rx!.add([w]);
  b.kick(RX);
  assert.deepEqual(rx!.collect(), [{ id: 0, len: 5 }]);
  assert.deepEqual([...b.ram.bytes(w.gpa as number, 5)], text('early'));
});

test('save/restore: a backlog over MAX_BACKLOG or not base64 is refused, the console unchanged', () => {
  const con = new VirtioConsole(() => {});
  con.receive(Uint8Array.from(text('kept')));
  for (const bad of [{ version: 1, backlog: bytesToBase64(new Uint8Array(MAX_BACKLOG + 1)) }, { version: 1, backlog: 'a?==' },
    { version: 1 }, { version: 2, backlog: '' }, { version: 1, backlog: [1] }, null]) {
    assert.throws(() => con.restore(bad), StateError);
  }
  assert.deepEqual(con.save(), { version: 1, backlog: bytesToBase64(Uint8Array.from(text('kept'))) });
  con.restore({ version: 1, backlog: bytesToBase64(new Uint8Array(MAX_BACKLOG)) });
  assert.equal(con.rxPending, MAX_BACKLOG, 'the bound itself is accepted');
  con.receive(Uint8Array.of(1));
  assert.equal(con.rxPending, MAX_BACKLOG, 'and is the same bound as for live input');
});
