import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Channel, ChannelRegisters, ChannelState, MAX_CHANNELS, createChannelTable, type ChannelOffer } from './channel.js';
import { SplitQueue } from './virtqueue.js';
import { StateError } from '../state/contract.js';
import { TestDriver, TestRam } from './test-driver.js';

const BASE = 0x1000_1000n;

function offerAt(index: number, line = 1 + index): ChannelOffer {
  const base = BASE + BigInt(index) * 0x1000n;
  return { index, deviceClass: 2, instance: index, line, doorbell: base + 0x50n, interruptStatus: base + 0x60n, interruptAck: base + 0x64n };
}

/** A channel, the hypervisor's registers for it, and a record of line changes and doorbells. */
function setup(offers = [offerAt(0)]) {
  const table = createChannelTable();
  const ram = new TestRam();
  const lines: [number, boolean][] = [];
  const setLine = (line: number, level: boolean) => { lines.push([line, level]); };
  let doorbells = 0;
  const channels = offers.map((o) => new Channel(table, o, ram.mem, (level) => setLine(o.line, level)));
  const regs = new ChannelRegisters(table, offers, setLine, () => { doorbells++; });
  const drv = new TestDriver(ram, 8);
  return { table, ram, lines, channels, ch: channels[0], regs, drv, doorbells: () => doorbells };
}

const FEATURES = { indirect: false, eventIdx: false };

test('offer: a channel index can be offered once; indices outside the table are refused', () => {
  const s = setup();
  assert.equal(s.ch.state, ChannelState.Offered);
  assert.throws(() => new Channel(s.table, offerAt(0), s.ram.mem, () => {}), /already offered/);
  assert.throws(() => new Channel(s.table, offerAt(MAX_CHANNELS), s.ram.mem, () => {}), RangeError);
  assert.throws(() => new Channel(s.table, offerAt(-1), s.ram.mem, () => {}), RangeError);
  const other = new Channel(s.table, offerAt(1), s.ram.mem, () => {});
  assert.equal(other.state, ChannelState.Offered);
});

test('open grants valid layouts as queues and leaves disabled queues out', () => {
  const s = setup();
  const queues = s.ch.open([s.drv.layout, undefined], FEATURES);
  assert.ok(Array.isArray(queues));
  assert.ok(queues[0] instanceof SplitQueue);
  assert.equal(queues[1], undefined);
  assert.equal(s.ch.state, ChannelState.Open);
});

test('open refuses a layout outside RAM or misaligned, and the channel stays closed', () => {
  const s = setup();
  const bad = [
    { ...s.drv.layout, desc: s.ram.end },
    { ...s.drv.layout, device: s.drv.layout.device + 1 },
    { ...s.drv.layout, size: 0 },
    { ...s.drv.layout, size: 12 },
  ];
  for (const l of bad) {
    const r = s.ch.open([s.drv.layout, l], FEATURES);
    assert.equal(typeof r, 'string');
    assert.match(r as string, /^queue 1: /);
    assert.equal(s.ch.state, ChannelState.Offered);
  }
});

test('a doorbell before open is ignored, after open it sets the queue bit and rings the partition', () => {
  const s = setup();
  assert.equal(s.regs.access(offerAt(0).doorbell, 4, true, 0n), 0n); // consumed, but nothing happens
  assert.equal(s.doorbells(), 0);
  assert.equal(s.ch.takeSignals(), 0);
  s.ch.open([s.drv.layout], FEATURES);
  assert.equal(s.regs.access(offerAt(0).doorbell, 4, true, 0n), 0n);
  assert.equal(s.regs.access(offerAt(0).doorbell, 4, true, 3n), 0n);
  assert.equal(s.regs.access(offerAt(0).doorbell, 4, true, 3n), 0n);
  assert.equal(s.doorbells(), 3);
  assert.equal(s.ch.stats().signals, 3);
  assert.equal(s.ch.takeSignals(), 0b1001);
  assert.equal(s.ch.takeSignals(), 0, 'takeSignals clears');
  assert.equal(s.regs.access(offerAt(0).doorbell, 4, true, 32n), 0n); // no such queue bit: ignored
  assert.equal(s.regs.access(offerAt(0).doorbell, 4, true, 0xffff_ffffn), 0n);
  assert.equal(s.ch.takeSignals(), 0);
  assert.equal(s.doorbells(), 3);
});

test('a doorbell after rescind is ignored, and a rescinded channel cannot be opened', () => {
  const s = setup();
  s.ch.open([s.drv.layout], FEATURES);
  s.regs.access(offerAt(0).doorbell, 4, true, 1n);
  s.ch.rescind();
  assert.equal(s.ch.state, ChannelState.Rescinded);
  assert.equal(s.ch.takeSignals(), 0, 'rescind drops pending signals');
  s.regs.access(offerAt(0).doorbell, 4, true, 1n);
  assert.equal(s.ch.takeSignals(), 0);
  assert.equal(s.doorbells(), 1);
  assert.match(s.ch.open([s.drv.layout], FEATURES) as string, /rescinded/);
  s.ch.close();
  assert.equal(s.ch.state, ChannelState.Rescinded, 'close does not bring a rescinded channel back');
});

test('only 32-bit accesses to the channel registers are served; other addresses go the slow way', () => {
  const s = setup();
  s.ch.open([s.drv.layout], FEATURES);
  const o = offerAt(0);
  assert.equal(s.regs.access(o.doorbell, 2, true, 0n), undefined);
  assert.equal(s.regs.access(o.doorbell, 8, true, 0n), undefined);
  assert.equal(s.regs.access(o.interruptStatus, 1, false, 0n), undefined);
  assert.equal(s.regs.access(o.doorbell, 4, false, 0n), undefined); // a load from the doorbell
  assert.equal(s.regs.access(o.interruptStatus, 4, true, 1n), undefined); // a store to the status
  assert.equal(s.regs.access(o.interruptAck, 4, false, 0n), undefined);
  assert.equal(s.regs.access(BASE + 0x70n, 4, false, 0n), undefined);
  assert.equal(s.ch.takeSignals(), 0);
});

test('interrupt raises the line; the ack lowers it only once every bit is clear', () => {
  const s = setup([offerAt(0, 7)]);
  const o = offerAt(0, 7);
  s.ch.interrupt(1);
  s.ch.interrupt(2);
  assert.deepEqual(s.lines, [[7, true], [7, true]]);
  assert.equal(s.ch.interruptStatus(), 3);
  assert.equal(s.regs.access(o.interruptStatus, 4, false, 0n), 3n);
  s.lines.length = 0;
  assert.equal(s.regs.access(o.interruptAck, 4, true, 1n), 0n);
  assert.equal(s.ch.interruptStatus(), 2);
  assert.deepEqual(s.lines, [[7, true]], 'bit 1 still pending: the line stays up');
  s.lines.length = 0;
  s.regs.access(o.interruptAck, 4, true, 2n);
  assert.equal(s.regs.access(o.interruptStatus, 4, false, 0n), 0n);
  assert.deepEqual(s.lines.at(-1), [7, false]);
  assert.equal(s.ch.stats().interrupts, 2);
});

test('the slow-path acknowledge behaves like the register', () => {
  const s = setup([offerAt(0, 5)]);
  s.ch.interrupt(3);
  s.lines.length = 0;
  s.ch.acknowledge(1);
  assert.deepEqual(s.lines, [[5, true]]);
  s.ch.acknowledge(2);
  assert.deepEqual(s.lines.at(-1), [5, false]);
  assert.equal(s.ch.interruptStatus(), 0);
});

test('channels are independent: each offer answers at its own addresses with its own line', () => {
  const s = setup([offerAt(0, 3), offerAt(1, 4)]);
  const [a, b] = s.channels;
  a.open([s.drv.layout], FEATURES);
  b.open([new TestDriver(s.ram, 4).layout], FEATURES);
  s.regs.access(offerAt(1).doorbell, 4, true, 2n);
  assert.equal(a.takeSignals(), 0);
  assert.equal(b.takeSignals(), 4);
  b.interrupt(1);
  assert.equal(s.regs.access(offerAt(0).interruptStatus, 4, false, 0n), 0n);
  assert.equal(s.regs.access(offerAt(1).interruptStatus, 4, false, 0n), 1n);
  s.regs.access(offerAt(1).interruptAck, 4, true, 1n);
  assert.deepEqual(s.lines.at(-1), [4, false]);
});

test('close clears signals and interrupt status, lowers the line, and ignores doorbells until reopened', () => {
  const s = setup([offerAt(0, 9)]);
  s.ch.open([s.drv.layout], FEATURES);
  s.regs.access(offerAt(0).doorbell, 4, true, 0n);
  s.ch.interrupt(1);
  s.ch.close();
  assert.equal(s.ch.state, ChannelState.Offered);
  assert.equal(s.ch.takeSignals(), 0);
  assert.equal(s.ch.interruptStatus(), 0);
  assert.deepEqual(s.lines.at(-1), [9, false]);
  s.regs.access(offerAt(0).doorbell, 4, true, 0n);
  assert.equal(s.ch.takeSignals(), 0);
  s.regs.access(offerAt(0).doorbell, 4, true, 0n); // a stale doorbell is not kept for the next open
  s.ch.open([s.drv.layout], FEATURES);
  assert.equal(s.ch.takeSignals(), 0);
  s.regs.access(offerAt(0).doorbell, 4, true, 0n);
  assert.equal(s.ch.takeSignals(), 1);
});

// --- Save and restore ----------------------------------------------------------------------------

const roundTrip = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

test('save/restore: a doorbell rung before the save and a pending interrupt survive into a fresh channel', () => {
  const a = setup([offerAt(0, 6)]);
  a.ch.open([a.drv.layout], FEATURES);
  a.regs.access(offerAt(0).doorbell, 4, true, 0n);
  a.regs.access(offerAt(0).doorbell, 4, true, 2n);
  a.ch.interrupt(1);
  const saved = roundTrip(a.ch.save());
  assert.deepEqual(saved, { version: 1, state: 'open', interruptStatus: 1, signals: 0b101 });

  const b = setup([offerAt(0, 6)]);
  b.ch.restore(saved);
  assert.equal(b.ch.state, ChannelState.Open);
  assert.deepEqual(b.lines, [[6, true]], 'the line is driven from the restored status');
  assert.equal(b.ch.takeSignals(), 0b101, 'the doorbells are not lost');
  assert.equal(b.regs.access(offerAt(0).interruptStatus, 4, false, 0n), 1n);
  b.regs.access(offerAt(0).interruptAck, 4, true, 1n);
  assert.deepEqual(b.lines.at(-1), [6, false]);
  b.regs.access(offerAt(0).doorbell, 4, true, 1n);
  assert.equal(b.ch.takeSignals(), 0b10, 'an open channel takes doorbells');
  assert.deepEqual(b.ch.stats(), { signals: 1, interrupts: 0 }, 'the counters count from the restore');
});

test('save/restore: the state word decides whether doorbells are taken; the line is lowered with no status', () => {
  const a = setup();
  a.ch.rescind();
  const b = setup();
  b.ch.open([b.drv.layout], FEATURES);
  b.ch.interrupt(2);
  b.ch.restore(roundTrip(a.ch.save()));
  assert.equal(b.ch.state, ChannelState.Rescinded);
  assert.deepEqual(b.lines.at(-1), [1, false]);
  b.regs.access(offerAt(0).doorbell, 4, true, 0n);
  assert.equal(b.ch.takeSignals(), 0);
  b.ch.restore({ version: 1, state: 'offered', interruptStatus: 0, signals: 0 });
  assert.equal(b.ch.state, ChannelState.Offered);
  assert.ok(Array.isArray(b.ch.open([b.drv.layout], FEATURES)), 'an offered channel opens again');
});

test('grant: queues that continue saved indices, the channel itself untouched; bad layouts refused', () => {
  const s = setup();
  const queues = s.ch.grant([undefined, s.drv.layout], FEATURES, [undefined, { lastAvail: 5, usedIdx: 4, signalledUsed: 4 }]);
  assert.ok(Array.isArray(queues));
  assert.equal(queues[0], undefined);
  assert.deepEqual(queues[1]!.save(), { lastAvail: 5, usedIdx: 4, signalledUsed: 4 });
  assert.equal(s.ch.state, ChannelState.Offered);
  assert.match(s.ch.grant([{ ...s.drv.layout, desc: s.ram.end }], FEATURES) as string, /^queue 0: .*not in guest RAM/);
});

test('save/restore: a hostile state is refused with StateError and the channel is unchanged', () => {
  const s = setup();
  s.ch.open([s.drv.layout], FEATURES);
  s.regs.access(offerAt(0).doorbell, 4, true, 3n);
  s.ch.interrupt(1);
  const before = JSON.stringify(s.ch.save());
  const lines = s.lines.length;
  const ok = { version: 1, state: 'offered', interruptStatus: 0, signals: 0 };
  const bad: unknown[] = [
    null, 'open', [], { ...ok, version: 0 }, { ...ok, state: 'free' }, { ...ok, state: 1 }, { ...ok, state: 'open ' },
    { ...ok, interruptStatus: -1 }, { ...ok, interruptStatus: 2 ** 32 }, { ...ok, signals: 0.5 }, { ...ok, signals: '1' },
    { version: 1, state: 'open', interruptStatus: 0 },
  ];
  for (const v of bad) assert.throws(() => s.ch.restore(v), StateError, JSON.stringify(v));
  assert.equal(JSON.stringify(s.ch.save()), before);
  assert.equal(s.lines.length, lines, 'the line was not touched');
  assert.equal(s.ch.takeSignals(), 0b1000);
});
