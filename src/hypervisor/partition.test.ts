import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlBlock, PartitionState, VpState } from './control-block.js';
import { Partition, IllegalTransition } from './partition.js';
import { Plic, createPlicState } from './plic.js';
import { STATE_BLOCKS_OFFSET, STATE_BLOCK_BYTES, STOP_REQ, INSTRET, TLB_OFFSET, MHARTID, PRIV, PC, X, TLB_FLUSH_REQ } from '../cpu/layout.js';
import { StateBlocks } from '../cpu/state-blocks.js';
import { timebaseNow } from '../cpu/timebase.js';
import { StateError } from '../state/contract.js';
import type { VpsState } from './vp-state.js';
import { testMachine, until, untilQuiescent, RAM_BASE, SPIN, IDLE, SUSPEND, type TestMachine } from '../../test/lib/vp-machine.js';

function make(vps = 2) {
  const cb = ControlBlock.create(vps);
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true });
  const stopReq = (i: number) => new Int32Array(memory.buffer)[(STATE_BLOCKS_OFFSET + i * STATE_BLOCK_BYTES + STOP_REQ) >> 2];
  return { cb, memory, p: new Partition(cb, memory), stopReq };
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

/** A partition whose VPs all say they have parked for the pause (no threads: the words are set here). */
function pausedWithoutThreads(vps: number) {
  const m = make(vps);
  m.p.apply('start');
  m.p.apply('pause');
  for (let i = 0; i < vps; i++) m.cb.setPauseAcknowledged(i, true);
  return m;
}

const block = (memory: WebAssembly.Memory, vp: number) => new BigUint64Array(memory.buffer, STATE_BLOCKS_OFFSET + vp * STATE_BLOCK_BYTES, TLB_OFFSET / 8);

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

test('saveVps refuses unless paused and quiescent; a halted VP cannot be saved', () => {
  const { cb, p } = make(2);
  assert.throws(() => p.saveVps(0n), /paused/);
  p.apply('start');
  assert.throws(() => p.saveVps(0n), /paused/);
  p.apply('pause');
  assert.throws(() => p.saveVps(0n), /every VP has parked/);
  cb.setPauseAcknowledged(0, true);
  cb.setPauseAcknowledged(1, true);
  assert.equal(p.saveVps(0n).vps.length, 2);
  cb.setVpState(1, VpState.Halted);
  assert.throws(() => p.saveVps(0n), /VP 1 cannot be saved: it is Halted/);
});

test('saveVps and restoreVps: run states by name, start requests and harts survive JSON into a new partition', () => {
  const a = pausedWithoutThreads(4);
  a.cb.setVpState(0, VpState.Started);
  assert.ok(a.cb.requestStart(1, 0x8020_0000n, 0xffff_ffff_ffff_fff0n));
  a.cb.setVpState(3, VpState.Suspended);
  for (const vp of [0, 3]) {
    const b = block(a.memory, vp);
    b[MHARTID / 8] = BigInt(vp);
    b[PRIV / 8] = 1n;
    b[PC / 8] = 0x8000_0000n + BigInt(vp);
    b[X / 8 + 10] = 0xffff_ffff_ffff_ffffn;
  }
  const saved = JSON.parse(JSON.stringify(a.p.saveVps(0n)));
  assert.deepEqual(saved.vps.map((v: { runState: string }) => v.runState), ['started', 'start-pending', 'stopped', 'suspended']);
  assert.deepEqual(saved.vps[1].start, { addr: '2149580800', opaque: '18446744073709551600' });
  assert.equal(saved.vps[2].hart, undefined, 'a stopped hart carries no state');
  assert.equal(saved.vps[3].hart.PC, '2147483651');

  const b = make(4);
  b.p.restoreVps(saved, 0n);
  assert.deepEqual([0, 1, 2, 3].map((i) => b.cb.vpState(i)), [VpState.Started, VpState.StartPending, VpState.Stopped, VpState.Suspended]);
  assert.deepEqual(b.cb.startRequest(1), { addr: 0x8020_0000n, opaque: 0xffff_ffff_ffff_fff0n });
  for (const vp of [0, 3]) {
    assert.deepEqual([PC, X + 80, MHARTID].map((f) => block(b.memory, vp)[f / 8]), [PC, X + 80, MHARTID].map((f) => block(a.memory, vp)[f / 8]));
    assert.equal(block(b.memory, vp)[TLB_FLUSH_REQ / 8], 1n);
  }
});

test('restoreVps refuses unless the partition is created', () => {
  const saved = pausedWithoutThreads(2).p.saveVps(0n);
  const { p } = make(2);
  p.apply('start');
  assert.throws(() => p.restoreVps(saved, 0n), /only before the partition starts; it is running/);
  const stopped = make(2);
  stopped.p.apply('stop');
  assert.throws(() => stopped.p.restoreVps(saved, 0n), /it is stopping/);
});

test('restoreVps re-bases guest time: it goes on from the saved timebase however far host time has moved', () => {
  const a = pausedWithoutThreads(1);
  a.p.rebaseTime(0n, 1_000n);
  assert.equal(a.p.guestTime(5_000n), 4_000n);
  const saved = JSON.parse(JSON.stringify(a.p.saveVps(5_000n)));
  assert.equal(saved.timebase, '4000');
  const b = make(1);
  const later = 5_000n + 60n * 10_000_000n; // a minute of host time later
  b.p.restoreVps(saved, later);
  assert.equal(b.p.guestTime(later), 4_000n, 'no jump');
  assert.equal(b.p.guestTime(later + 10n), 4_010n, 'no stall');
});

test('a hostile VPs state is refused with a StateError naming the field, and nothing changes', () => {
  const a = pausedWithoutThreads(2);
  a.cb.setVpState(0, VpState.Started);
  block(a.memory, 0)[PRIV / 8] = 1n;
  const good = JSON.parse(JSON.stringify(a.p.saveVps(0n)));
  const vp0 = good.vps[0];
  const cases: [string, unknown, RegExp][] = [
    ['wrong version', { ...good, version: 2 }, /virtual processors state: version 2 is not 1/],
    ['negative timebase', { ...good, timebase: '-1' }, /timebase out of range/],
    ['timebase beyond i64', { ...good, timebase: (1n << 63n).toString() }, /timebase out of range/],
    ['one VP too many', { ...good, vps: [...good.vps, good.vps[1]] }, /vps is not an array of 2 entries/],
    ['one VP too few', { ...good, vps: [vp0] }, /vps is not an array of 2/],
    ['unknown run state', { ...good, vps: [{ ...vp0, runState: 'halted' }, good.vps[1]] }, /vps\[0\] state: runState is not a valid string/],
    ['run state by number', { ...good, vps: [{ ...vp0, runState: 0 }, good.vps[1]] }, /runState/],
    ['started without a hart', { ...good, vps: [{ runState: 'started' }, good.vps[1]] }, /vps\[0\] hart state: is not an object/],
    ['start-pending without a start', { ...good, vps: [vp0, { runState: 'start-pending' }] }, /vps\[1\] start state: is not an object/],
    ['start address beyond 64 bits', { ...good, vps: [vp0, { runState: 'start-pending', start: { addr: (1n << 64n).toString(), opaque: '0' } }] }, /addr out of range/],
    ['another VP\'s hart', { ...good, vps: [good.vps[1], { ...vp0 }].map((v, i) => (i === 1 ? { ...v, runState: 'started' } : v)) }, /vps\[1\] hart state: MHARTID is not 1/],
    ['a hart with PRIV 2', { ...good, vps: [{ ...vp0, hart: { ...vp0.hart, PRIV: '2' } }, good.vps[1]] }, /PRIV is not 0, 1 or 3/],
  ];
  const b = make(2);
  b.cb.setVpState(1, VpState.Started); // something a bad restore could overwrite
  b.p.rebaseTime(0n, 777n);
  const before = () => [b.cb.vpState(0), b.cb.vpState(1), b.cb.epoch(), b.cb.startRequest(1), Array.from(block(b.memory, 0)), Array.from(block(b.memory, 1))];
  const expected = before();
  for (const [name, state, message] of cases) {
    assert.throws(() => b.p.restoreVps(state, 1_000_000n), (e: unknown) => e instanceof StateError && message.test(e.message), name);
    assert.deepEqual(before(), expected, `${name}: nothing changed`);
  }
  b.p.restoreVps(good, 1_000_000n); // the good state is accepted
  assert.equal(b.cb.vpState(1), VpState.Stopped);
});

test('save on real VP threads, restore into a new partition seconds later: the guest carries on, and so does its time', { timeout: 60_000 }, async () => {
  const programs = (m: TestMachine) => { m.load(RAM_BASE, SPIN); m.load(RAM_BASE + 0x100n, IDLE); m.load(RAM_BASE + 0x200n, SUSPEND); };
  const a = testMachine(4);
  let saved: VpsState;
  try {
    programs(a);
    a.partition.rebaseTime(10n ** 12n, timebaseNow()); // guest time far from host time: the VPs must read the epoch
    a.partition.bootVp(0, RAM_BASE, 0n);
    a.partition.bootVp(1, RAM_BASE + 0x100n, 0n);
    a.partition.bootVp(3, RAM_BASE + 0x200n, 0n);
    a.partition.apply('start');
    const harts = new StateBlocks(a.memory, 4);
    await until(() => harts.instret(0) > 100_000n && a.cb.vpState(3) === VpState.Suspended, 20_000, 'the VPs under way');
    a.partition.apply('pause');
    await untilQuiescent(a.partition, a.cb, 2000);
    saved = JSON.parse(JSON.stringify(a.partition.saveVps(timebaseNow())));
    assert.deepEqual(a.errors, []);
  } finally {
    await a.close();
  }
  assert.deepEqual(saved.vps.map((v) => v.runState), ['started', 'started', 'stopped', 'suspended']);
  const timebase = BigInt(saved.timebase);
  const readTime = BigInt(saved.vps[0].hart!.X[7]);
  assert.ok(readTime >= 10n ** 12n && readTime <= timebase, `the guest read time ${readTime} from the shared epoch`);
  const counted = BigInt(saved.vps[0].hart!.X[5]);

  await new Promise((r) => setTimeout(r, 1500)); // host time moves on
  const b = testMachine(4);
  try {
    programs(b);
    b.partition.restoreVps(saved, timebaseNow());
    const drift = b.partition.guestTime(timebaseNow()) - timebase;
    assert.ok(drift >= 0n && drift < 1_000_000n, `guest time goes on from the save (drift ${drift} ticks)`);
    b.partition.apply('start');
    const harts = new StateBlocks(b.memory, 4);
    await until(() => harts.instret(0) > BigInt(saved.vps[0].hart!.INSTRET), 20_000, 'VP 0 running on');
    harts.setLines(3, 1 << 1, true); // an IPI resumes the restored suspended VP
    b.cb.wakeVp(3);
    await until(() => b.cb.vpState(3) === VpState.Started, 5000, 'VP 3 resumed');
    b.partition.apply('pause');
    await untilQuiescent(b.partition, b.cb, 2000);
    const again = b.partition.saveVps(timebaseNow());
    assert.ok(BigInt(again.vps[0].hart!.X[5]) > counted, 'VP 0 counted on from where it was saved');
    const readAgain = BigInt(again.vps[0].hart!.X[7]);
    assert.ok(readAgain >= timebase && readAgain - timebase < 20n * 10_000_000n, `time went on from the save (${readAgain - timebase} ticks)`);
    assert.equal(again.vps[3].hart!.X[8], '77', 'the suspended VP returned from its ecall');
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
  }
});
