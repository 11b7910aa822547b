import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GoldfishRtc, hostClockNs } from './device.js';
import { StateError } from '../../../state/contract.js';

const TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0c, IRQ_ENABLED = 0x10,
  CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1c;

/** A device on a fake clock, recording every change of its interrupt line. */
function rig(startNs = 1_700_000_000_123_456_789n) {
  const clock = { ns: startNs };
  const lines: boolean[] = [];
  const rtc = new GoldfishRtc((l) => lines.push(l), () => clock.ns);
  const r = (off: number): bigint => rtc.read(off, 4);
  const w = (off: number, v: bigint): void => rtc.write(off, 4, v);
  /** What Linux's rtc-goldfish does: TIME_LOW, then TIME_HIGH. */
  const readTime = (): bigint => { const lo = r(TIME_LOW); return (r(TIME_HIGH) << 32n) | lo; };
  const setAlarm = (ns: bigint): void => { w(ALARM_HIGH, ns >> 32n); w(ALARM_LOW, ns & 0xffffffffn); };
  return { rtc, clock, lines, r, w, readTime, setAlarm };
}

test('time is the host clock in ns; reading TIME_LOW latches TIME_HIGH', () => {
  const { clock, r, readTime } = rig(0x1_ffff_fff0n);
  assert.equal(readTime(), 0x1_ffff_fff0n);
  const lo = r(TIME_LOW);
  clock.ns = 0x2_0000_0010n; // the high half moves on between the two reads
  assert.equal(r(TIME_HIGH), 1n, 'TIME_HIGH is the half latched with TIME_LOW');
  assert.equal(lo, 0xffff_fff0n);
  assert.equal(readTime(), 0x2_0000_0010n);
});

test('the default clock is close to the wall clock', () => {
  const rtc = new GoldfishRtc();
  const lo = rtc.read(TIME_LOW, 4);
  const t = (rtc.read(TIME_HIGH, 4) << 32n) | lo;
  const wall = BigInt(Date.now()) * 1_000_000n;
  assert.ok(t > wall - 1_000_000_000n && t < wall + 1_000_000_000n, `${t} vs ${wall}`);
  assert.ok(hostClockNs() >= t);
});

test('the guest sets its time (TIME_HIGH, then TIME_LOW) as an offset; the clock keeps running', () => {
  const { clock, w, readTime, rtc } = rig(5_000_000_000n);
  const want = 0x1234_5678_9abc_def0n;
  w(TIME_HIGH, want >> 32n);
  w(TIME_LOW, want & 0xffffffffn);
  assert.equal(readTime(), want);
  clock.ns += 1000n;
  assert.equal(readTime(), want + 1000n);
  assert.equal(rtc.now(), want + 1000n);
});

test('an alarm fires when polled after its time, raising the line only while enabled', () => {
  const { clock, lines, r, w, setAlarm, rtc } = rig(1_000_000_000n);
  w(IRQ_ENABLED, 1n);
  assert.equal(r(IRQ_ENABLED), 1n);
  setAlarm(1_500_000_000n);
  assert.equal(r(ALARM_STATUS), 1n, 'armed');
  assert.equal(r(ALARM_LOW), 1_500_000_000n & 0xffffffffn);
  assert.equal(r(ALARM_HIGH), 0n);
  assert.equal(rtc.msUntilAlarm(), 500);
  rtc.poll();
  assert.deepEqual(lines, [], 'not yet');
  clock.ns = 1_500_000_000n;
  assert.equal(rtc.msUntilAlarm(), 0);
  rtc.poll();
  assert.deepEqual(lines, [true]);
  assert.equal(r(ALARM_STATUS), 0n, 'a fired alarm is no longer armed');
  assert.equal(rtc.msUntilAlarm(), undefined);
  rtc.poll();
  assert.deepEqual(lines, [true], 'the line is a level: no repeated calls');
  w(CLEAR_INTERRUPT, 1n);
  assert.deepEqual(lines, [true, false]);
});

test('an alarm set in the past fires at once; a disabled interrupt stays pending until enabled', () => {
  const { lines, w, setAlarm } = rig(2_000_000_000n);
  setAlarm(1_000_000_000n);
  assert.deepEqual(lines, [], 'fired but IRQ_ENABLED is 0');
  w(IRQ_ENABLED, 1n);
  assert.deepEqual(lines, [true], 'pending interrupt shows once enabled');
  w(IRQ_ENABLED, 0n);
  assert.deepEqual(lines, [true, false]);
});

test('CLEAR_ALARM disarms; register accesses alone notice a due alarm', () => {
  const { clock, lines, r, w, setAlarm } = rig(0n);
  w(IRQ_ENABLED, 1n);
  setAlarm(100n);
  w(CLEAR_ALARM, 1n);
  assert.equal(r(ALARM_STATUS), 0n);
  clock.ns = 200n;
  r(TIME_LOW);
  assert.deepEqual(lines, [], 'a cleared alarm never fires');
  setAlarm(300n);
  clock.ns = 300n;
  assert.equal(r(ALARM_STATUS), 0n, 'the read itself fired it');
  assert.deepEqual(lines, [true]);
});

test('only aligned 32-bit accesses do anything', () => {
  const { r, rtc, w } = rig(0x1_0000_0002n);
  assert.equal(rtc.read(TIME_LOW, 8), 0n);
  assert.equal(rtc.read(TIME_LOW + 1, 4), 0n);
  assert.equal(rtc.read(TIME_LOW, 1), 0n);
  rtc.write(IRQ_ENABLED, 1, 1n);
  assert.equal(r(IRQ_ENABLED), 0n);
  w(0xffc, 0xffn); // unmapped offset inside the window: ignored
  assert.equal(r(0xffc), 0n);
  w(ALARM_HIGH, 0xdead_beef_0000_0001n); // upper bits of a 32-bit write are dropped
  assert.equal(r(ALARM_HIGH), 1n);
});

test('save/restore carries offset, alarm and interrupt state; bad state is rejected untouched', () => {
  const a = rig(10_000n);
  a.w(TIME_HIGH, 7n); a.w(TIME_LOW, 0n);
  a.w(IRQ_ENABLED, 1n);
  a.setAlarm((7n << 32n) + 5000n);
  const saved = JSON.parse(JSON.stringify(a.rtc.save()));
  const b = rig(10_000n);
  b.rtc.restore(saved);
  assert.equal(b.readTime(), 7n << 32n);
  assert.equal(b.r(ALARM_STATUS), 1n);
  b.clock.ns += 5000n;
  b.rtc.poll();
  assert.deepEqual(b.lines, [true]);

  const c = rig(0n);
  c.rtc.restore({ ...saved, alarmArmed: false, irqPending: true });
  assert.deepEqual(c.lines, [true], 'a restored pending interrupt drives the line');

  const before = JSON.stringify(b.rtc.save());
  const bad: unknown[] = [null, 7, {}, { ...saved, version: 2 }, { ...saved, offsetNs: 12 }, { ...saved, alarmNs: '-1' },
    { ...saved, alarmNs: '1e9' }, { ...saved, alarmArmed: 'yes' }, { ...saved, timeHighLatch: 2 ** 32 }, { ...saved, alarmNs: (1n << 64n).toString() }];
  for (const s of bad) assert.throws(() => b.rtc.restore(s), StateError, JSON.stringify(s));
  assert.equal(JSON.stringify(b.rtc.save()), before);
});
