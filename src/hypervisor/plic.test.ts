// The virtual PLIC against the RISC-V Platform-Level Interrupt Controller Specification 1.0.0,
// over a real shared WebAssembly.Memory: SEIP is checked where the harts read it, in each
// hart state block's IRQ_LINES word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Plic, createPlicState, SOURCES } from './plic.js';
import { ControlBlock } from './control-block.js';
import { StateError } from '../state/contract.js';
import { STATE_BLOCKS_OFFSET, STATE_BLOCK_BYTES, IRQ_LINES } from '../cpu/layout.js';

const CONTEXTS = 2;
const SEIP = 1 << 9;

// Register map (spec chapter "Memory Map").
const PRIORITY = (src: number) => 4 * src;
const PENDING = (word: number) => 0x1000 + 4 * word;
const ENABLE = (ctx: number, word: number) => 0x2000 + 0x80 * ctx + 4 * word;
const THRESHOLD = (ctx: number) => 0x20_0000 + 0x1000 * ctx;
const CLAIM = (ctx: number) => 0x20_0004 + 0x1000 * ctx;

class Fixture {
  readonly memory: WebAssembly.Memory;
  readonly cb = ControlBlock.create(CONTEXTS);
  readonly plic: Plic;
  private readonly words: Int32Array;

  constructor(contexts = CONTEXTS) {
    const pages = Math.ceil((STATE_BLOCKS_OFFSET + contexts * STATE_BLOCK_BYTES) / 65536);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.words = new Int32Array(this.memory.buffer);
    this.plic = new Plic(createPlicState(), this.memory, contexts, this.cb);
  }

  read(offset: number): number { return Number(this.plic.read(offset, 4)); }
  write(offset: number, value: number): void { this.plic.write(offset, 4, BigInt(value >>> 0)); }
  claim(ctx: number): number { return this.read(CLAIM(ctx)); }
  complete(ctx: number, src: number): void { this.write(CLAIM(ctx), src); }
  enable(ctx: number, ...sources: number[]): void {
    for (const src of sources) {
      const at = ENABLE(ctx, src >> 5);
      this.write(at, this.read(at) | (1 << (src & 31)));
    }
  }
  pending(src: number): boolean { return ((this.read(PENDING(src >> 5)) >>> (src & 31)) & 1) === 1; }
  linesAt(ctx: number): number { return (STATE_BLOCKS_OFFSET + ctx * STATE_BLOCK_BYTES + IRQ_LINES) >> 2; }
  /** SEIP as hart ctx sees it in its IRQ_LINES word. */
  seip(ctx: number): boolean { return (Atomics.load(this.words, this.linesAt(ctx)) & SEIP) !== 0; }
  lines(ctx: number): number { return Atomics.load(this.words, this.linesAt(ctx)); }
  setLines(ctx: number, v: number): void { Atomics.store(this.words, this.linesAt(ctx), v); }
}

// --- Priorities ---------------------------------------------------------------------------------

test('priorities are WARL with 3 bits; source 0 does not exist', () => {
  const f = new Fixture();
  f.write(PRIORITY(1), 0xffff_ffff);
  assert.equal(f.read(PRIORITY(1)), 7, 'all-ones reads back as the implemented bits');
  for (const p of [0, 1, 5, 7]) {
    f.write(PRIORITY(SOURCES - 1), p);
    assert.equal(f.read(PRIORITY(SOURCES - 1)), p, `every value of the variable bits is legal (${p})`);
  }
  f.write(PRIORITY(0), 5);
  assert.equal(f.read(PRIORITY(0)), 0, 'source 0 priority is reserved');
  f.write(PRIORITY(SOURCES), 5);
  assert.equal(f.read(PRIORITY(SOURCES)), 0, 'no source beyond riscv,ndev');
});

test('priority 0 means never interrupt: a pending source at 0 is neither notified nor claimed', () => {
  const f = new Fixture();
  f.enable(0, 4);
  f.plic.setLine(4, true);
  assert.ok(f.pending(4));
  assert.ok(!f.seip(0));
  assert.equal(f.claim(0), 0);
  assert.ok(f.pending(4), 'the failed claim leaves it pending');
  f.write(PRIORITY(4), 1);
  assert.ok(f.seip(0), 'raising the priority makes it notify');
  assert.equal(f.claim(0), 4);
});

// --- Pending bits ----------------------------------------------------------------------------

test('pending bits are read at 0x1000, bit N mod 32 of word N / 32; bit 0 is zero', () => {
  const f = new Fixture();
  for (const src of [1, 31, 32, 63, 64, 95]) f.plic.setLine(src, true);
  assert.equal(f.read(PENDING(0)) >>> 0, ((1 << 1) | (1 << 31)) >>> 0);
  assert.equal(f.read(PENDING(1)) >>> 0, ((1 << 0) | (1 << 31)) >>> 0);
  assert.equal(f.read(PENDING(2)) >>> 0, ((1 << 0) | (1 << 31)) >>> 0);
  assert.equal(f.read(PENDING(3)), 0, 'no word beyond the last source');
  assert.equal(f.read(PENDING(0)) & 1, 0, 'source 0 is hardwired to zero');
});

// --- Enables ---------------------------------------------------------------------------------

test('enables are per context at 0x2000 + 0x80 * context; bit 0 of word 0 is hardwired to zero', () => {
  const f = new Fixture();
  f.write(ENABLE(0, 0), 0xffff_ffff);
  assert.equal(f.read(ENABLE(0, 0)) >>> 0, 0xffff_fffe);
  f.write(ENABLE(0, 1), 0xffff_ffff);
  assert.equal(f.read(ENABLE(0, 1)) >>> 0, 0xffff_ffff, 'bit 0 of word 1 is source 32');
  f.write(ENABLE(1, 2), 0x8000_0001);
  assert.equal(f.read(ENABLE(1, 2)) >>> 0, 0x8000_0001);
  assert.equal(f.read(ENABLE(1, 0)), 0, 'contexts do not share enables');
  assert.equal(f.read(ENABLE(0, 2)), 0, 'contexts do not share enables');
  f.write(ENABLE(0, 3), 0xffff_ffff);
  assert.equal(f.read(ENABLE(0, 3)), 0, 'no enable word beyond the last source');
  f.write(ENABLE(CONTEXTS, 0), 0xffff_ffff);
  assert.equal(f.read(ENABLE(CONTEXTS, 0)), 0, 'no context beyond the harts');
});

// --- Thresholds and claims -----------------------------------------------------------------------

test('thresholds at 0x200000 + 0x1000 * context are WARL with 3 bits', () => {
  const f = new Fixture();
  f.write(THRESHOLD(0), 0xffff_ffff);
  assert.equal(f.read(THRESHOLD(0)), 7);
  f.write(THRESHOLD(1), 3);
  assert.equal(f.read(THRESHOLD(1)), 3);
  assert.equal(f.read(THRESHOLD(0)), 7, 'contexts do not share thresholds');
  f.write(THRESHOLD(CONTEXTS), 5);
  assert.equal(f.read(THRESHOLD(CONTEXTS)), 0, 'no context beyond the harts');
  assert.equal(f.read(THRESHOLD(0) + 8), 0, 'reserved words of a context read 0');
});

test('a claim returns the highest-priority pending enabled source, ties to the lowest id, and clears its pending bit', () => {
  const f = new Fixture();
  const prio: Record<number, number> = { 3: 2, 7: 5, 40: 5, 70: 1, 90: 7 };
  for (const [src, p] of Object.entries(prio)) f.write(PRIORITY(Number(src)), p);
  f.enable(0, 3, 7, 40, 70);                // 90 is not enabled for context 0
  for (const src of [3, 7, 40, 70, 90]) f.plic.setLine(src, true);
  const order: number[] = [];
  for (let id = f.claim(0); id !== 0; id = f.claim(0)) {
    assert.ok(!f.pending(id), `claiming ${id} clears its pending bit`);
    order.push(id);
  }
  assert.deepEqual(order, [7, 40, 3, 70], 'priority 5 (ids 7 then 40), then 2, then 1');
  assert.ok(f.pending(90), 'a source not enabled for the context stays pending');
  assert.equal(f.claim(0), 0, 'nothing left: claim returns 0');
  assert.equal(f.claim(1), 0, 'context 1 enables nothing');
});

test('sources at word edges (31, 32, 63, 64, 95) are claimed by id order', () => {
  const f = new Fixture();
  const edges = [95, 64, 63, 32, 31];
  for (const src of edges) { f.write(PRIORITY(src), 1); f.enable(1, src); f.plic.setLine(src, true); }
  assert.ok(f.seip(1));
  const order: number[] = [];
  for (let id = f.claim(1); id !== 0; id = f.claim(1)) order.push(id);
  assert.deepEqual(order, [31, 32, 63, 64, 95]);
  assert.ok(!f.seip(1));
});

test('the threshold masks notifications at or below it, but not claims', () => {
  const f = new Fixture();
  f.write(PRIORITY(5), 3);
  f.enable(0, 5);
  f.write(THRESHOLD(0), 3);
  f.plic.setLine(5, true);
  assert.ok(!f.seip(0), 'priority equal to the threshold is masked');
  f.write(THRESHOLD(0), 2);
  assert.ok(f.seip(0), 'priority above the threshold notifies');
  f.write(THRESHOLD(0), 7);
  assert.ok(!f.seip(0), 'raising the threshold withdraws the notification');
  // "The PLIC can perform a claim at any time and the claim operation is not affected by the
  // setting of the priority threshold register" (chapter "Interrupt Claim Process").
  assert.equal(f.claim(0), 5, 'a hart may poll by claiming with notifications masked');
  assert.ok(!f.pending(5));
});

// --- Completion and the gateway --------------------------------------------------------------

test('completion ends service; a line still high then becomes pending again', () => {
  const f = new Fixture();
  f.write(PRIORITY(9), 1);
  f.enable(0, 9);
  f.plic.setLine(9, true);
  assert.equal(f.claim(0), 9);
  assert.ok(!f.seip(0));
  f.plic.setLine(9, true);                  // still asserted, or asserted again, while in service
  assert.ok(!f.pending(9), 'the gateway forwards nothing until completion');
  assert.equal(f.claim(0), 0);
  f.complete(0, 9);
  assert.ok(f.pending(9), 'level still high: a new request');
  assert.ok(f.seip(0));
  assert.equal(f.claim(0), 9);
  f.plic.setLine(9, false);
  f.complete(0, 9);
  assert.ok(!f.pending(9), 'level low at completion: no new request');
  assert.ok(!f.seip(0));
  f.plic.setLine(9, true);
  assert.ok(f.pending(9), 'after completion the next assertion is forwarded');
});

test('a completion for a source not enabled for that context is ignored', () => {
  const f = new Fixture();
  f.write(PRIORITY(12), 1);
  f.enable(0, 12);
  f.plic.setLine(12, true);
  assert.equal(f.claim(0), 12);
  f.complete(1, 12);                        // context 1 does not enable 12
  assert.ok(!f.pending(12), 'still in service');
  f.complete(0, 0);                         // no source 0
  f.complete(0, SOURCES);                   // no such source
  f.complete(0, 0xffff_ffff);
  assert.ok(!f.pending(12), 'still in service');
  f.complete(0, 12);
  assert.ok(f.pending(12), 'completed from the context that enables it');
});

test('a level line lowered before the claim stays pending: the gateway cannot retract a request', () => {
  // Spec chapter "Interrupt Gateways": "The gateway does not have the facility to retract an
  // interrupt request once forwarded to the PLIC core. If a level-sensitive interrupt source
  // deasserts the interrupt after the PLIC core accepts the request and before the interrupt
  // is serviced, the interrupt request remains present in the IP bit of the PLIC core".
  const f = new Fixture();
  f.write(PRIORITY(6), 2);
  f.enable(0, 6);
  f.plic.setLine(6, true);
  f.plic.setLine(6, false);
  assert.ok(f.pending(6));
  assert.ok(f.seip(0));
  assert.equal(f.claim(0), 6, 'the handler finds out the device no longer needs service');
  f.complete(0, 6);
  assert.ok(!f.pending(6), 'the line is low at completion: no new request');
  assert.ok(!f.seip(0));
});

// --- Notifications (SEIP in each hart's IRQ_LINES) ------------------------------------------

test('two contexts with different enables and thresholds each see their own SEIP', () => {
  const f = new Fixture();
  f.write(PRIORITY(1), 1); f.write(PRIORITY(2), 2); f.write(PRIORITY(3), 4);
  f.enable(0, 1, 2);
  f.enable(1, 2, 3);
  f.write(THRESHOLD(1), 3);
  const seip = () => [f.seip(0), f.seip(1)];

  f.plic.setLine(1, true);
  assert.deepEqual(seip(), [true, false], 'source 1 is enabled for context 0 only');
  assert.equal(f.claim(0), 1);
  assert.deepEqual(seip(), [false, false]);

  f.plic.setLine(2, true);
  assert.deepEqual(seip(), [true, false], 'source 2 (priority 2) is under context 1\'s threshold 3');
  f.write(THRESHOLD(1), 1);
  assert.deepEqual(seip(), [true, true], 'both notified (multicast)');
  assert.equal(f.claim(1), 2, 'the faster context claims it');
  assert.deepEqual(seip(), [false, false], 'and the other loses its notification');
  f.write(THRESHOLD(1), 3);

  f.plic.setLine(3, true);
  assert.deepEqual(seip(), [false, true], 'source 3 (priority 4) passes context 1\'s threshold');
  assert.equal(f.claim(0), 0, 'context 0 does not enable 3');
  f.write(ENABLE(1, 0), 0);
  assert.deepEqual(seip(), [false, false], 'disabling the source withdraws the notification');
  f.enable(1, 3);
  assert.deepEqual(seip(), [false, true]);
  f.write(PRIORITY(3), 0);
  assert.deepEqual(seip(), [false, false], 'priority 0 withdraws it too');
});

test('SEIP changes leave the other bits of IRQ_LINES alone', () => {
  const f = new Fixture();
  const others = (1 << 1) | (1 << 3) | (1 << 7) | (1 << 11);
  f.setLines(0, others);
  f.write(PRIORITY(2), 1);
  f.enable(0, 2);
  f.plic.setLine(2, true);
  assert.equal(f.lines(0), others | SEIP);
  assert.equal(f.claim(0), 2);
  assert.equal(f.lines(0), others);
  assert.equal(f.lines(1), 0, 'the other hart\'s word is untouched');
});

test('a context\'s wake word is bumped when its SEIP rises', () => {
  const f = new Fixture();
  f.write(PRIORITY(8), 1);
  f.enable(1, 8);
  const w0 = f.cb.wakeSeq(0), w1 = f.cb.wakeSeq(1);
  f.plic.setLine(8, true);
  assert.ok(f.cb.wakeSeq(1) !== w1, 'context 1 woken');
  assert.equal(f.cb.wakeSeq(0), w0, 'context 0 had nothing new');
  // A parked VP that read the sequence before SEIP rose does not sleep through it.
  assert.equal(f.claim(1), 8);
  f.plic.setLine(8, false);
  f.complete(1, 8);
  assert.ok(!f.seip(1));
  const seq = f.cb.wakeSeq(1);
  f.plic.setLine(8, true);
  const t = performance.now();
  f.cb.parkVp(1, seq, 1000);
  assert.ok(performance.now() - t < 500, 'the park returned at once');
});

// --- Access rules ----------------------------------------------------------------------------

test('only aligned 32-bit accesses work: others read 0 and write nothing, and do not claim', () => {
  const f = new Fixture();
  f.write(PRIORITY(3), 4);
  f.enable(0, 3);
  f.plic.setLine(3, true);
  for (const width of [1, 2, 8]) {
    assert.equal(f.plic.read(CLAIM(0), width), 0n, `${width}-byte read of claim`);
    assert.equal(f.plic.read(PRIORITY(3), width), 0n, `${width}-byte read of a priority`);
    f.plic.write(PRIORITY(3), width, 1n);
    f.plic.write(THRESHOLD(0), width, 7n);
  }
  for (const off of [1, 2, 3]) {
    assert.equal(f.plic.read(CLAIM(0) + off, 4), 0n, `unaligned claim +${off}`);
    f.plic.write(PRIORITY(3) + off, 4, 1n);
    f.plic.write(THRESHOLD(0) + off, 4, 7n);
    f.plic.write(ENABLE(0, 0) + off, 4, 0n);
  }
  assert.ok(f.pending(3), 'no stray claim');
  assert.equal(f.read(PRIORITY(3)), 4);
  assert.equal(f.read(THRESHOLD(0)), 0);
  assert.ok(f.seip(0));
  assert.equal(f.claim(0), 3);
  f.plic.write(CLAIM(0), 1, 3n);            // a byte-wide completion is not a completion
  f.plic.setLine(3, true);
  assert.ok(!f.pending(3), 'still in service');
});

test('setLine rejects sources out of range', () => {
  const f = new Fixture();
  for (const src of [0, -1, SOURCES, SOURCES + 1, 1.5, Number.NaN]) assert.throws(() => f.plic.setLine(src, true), RangeError, `source ${src}`);
  f.plic.setLine(SOURCES - 1, true);
  assert.ok(f.pending(SOURCES - 1));
});

test('the PLIC accepts 1..8 contexts', () => {
  assert.throws(() => new Fixture(0), RangeError);
  assert.throws(() => new Fixture(9), RangeError);
  assert.ok(new Fixture(1).plic);
});

// --- Save and restore ----------------------------------------------------------------------------

const roundTrip = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Two contexts programmed differently, a source in service, others pending. */
function busyPlic(): Fixture {
  const f = new Fixture();
  for (const [src, p] of [[3, 2], [5, 6], [40, 4], [95, 7]] as const) f.write(PRIORITY(src), p);
  f.enable(0, 3, 5, 95);
  f.enable(1, 40, 95);
  f.write(THRESHOLD(0), 1);
  f.write(THRESHOLD(1), 5);
  for (const src of [3, 5, 40, 95]) f.plic.setLine(src, true);
  assert.equal(f.claim(0), 95); // in service, line still high
  f.plic.setLine(40, false);   // lowered, still pending
  return f;
}

test('save/restore: every register carries over and a fresh PLIC drives SEIP and claims as the original', () => {
  const a = busyPlic();
  const saved = roundTrip(a.plic.save());
  assert.equal(saved.version, 1);
  assert.equal(saved.enable.length, CONTEXTS, 'only the partition\'s contexts');
  const b = new Fixture();
  assert.ok(!b.seip(0) && !b.seip(1));
  b.plic.restore(saved);
  assert.deepEqual(b.plic.save(), a.plic.save());
  for (const ctx of [0, 1]) assert.equal(b.seip(ctx), a.seip(ctx), `SEIP of context ${ctx}`);
  assert.ok(b.seip(0), 'context 0 has 5 and 3 to claim');
  assert.ok(!b.seip(1), 'context 1: 40 (priority 4) is under its threshold 5, 95 is in service');
  // The same guest actions on both give the same answers.
  for (const f of [a, b]) {
    assert.equal(f.claim(0), 5);
    assert.equal(f.claim(0), 3);
    assert.ok(!f.seip(0));
    f.complete(0, 95);
    assert.ok(f.seip(0), 'its line is still high: 95 is pending again');
    assert.equal(f.claim(1), 95);
    assert.equal(f.claim(1), 40, 'a request the gateway cannot retract');
  }
  assert.deepEqual(b.plic.save(), a.plic.save());
});

test('save/restore: restore lowers a SEIP the restored state does not call for', () => {
  const f = new Fixture();
  f.write(PRIORITY(7), 1);
  f.enable(0, 7);
  f.plic.setLine(7, true);
  assert.ok(f.seip(0));
  f.plic.restore(roundTrip(new Fixture().plic.save()));
  assert.ok(!f.seip(0));
  assert.ok(!f.pending(7));
  assert.equal(f.claim(0), 0);
});

test('save/restore: a hostile state is refused with StateError and the PLIC is unchanged', () => {
  const saved = roundTrip(busyPlic().plic.save());
  const f = new Fixture();
  f.write(PRIORITY(9), 3);
  f.enable(1, 9);
  f.plic.setLine(9, true);
  const before = JSON.stringify(f.plic.save());
  const lines = [f.lines(0), f.lines(1)];
  const words = (n: number, v = 0) => new Array<number>(n).fill(v);
  const bad: unknown[] = [
    null, 5, [], { ...saved, version: 2 }, { ...saved, priority: undefined },
    { ...saved, priority: saved.priority.slice(1) }, { ...saved, priority: [...saved.priority, 0] },
    { ...saved, priority: saved.priority.map((p, i) => (i === 4 ? 8 : p)) },
    { ...saved, priority: saved.priority.map((p, i) => (i === 0 ? 1 : p)) },
    { ...saved, pending: words(2) }, { ...saved, pending: [1, 0, 0] }, { ...saved, level: [0, 2 ** 32, 0] },
    { ...saved, level: [0, -1, 0] }, { ...saved, inService: ['0', 0, 0] },
    { ...saved, pending: [8, 0, 0], inService: [8, 0, 0] },
    { ...saved, enable: [words(3)] }, { ...saved, enable: [words(3), words(3), words(3)] },
    { ...saved, enable: [words(3), words(4)] }, { ...saved, enable: [words(3), [1, 0, 0]] }, { ...saved, enable: [words(3), 'x'] },
    { ...saved, threshold: [0] }, { ...saved, threshold: [0, 8] }, { ...saved, threshold: [0, 1.5] },
  ];
  for (const s of bad) assert.throws(() => f.plic.restore(s), StateError, JSON.stringify(s));
  assert.equal(JSON.stringify(f.plic.save()), before);
  assert.deepEqual([f.lines(0), f.lines(1)], lines);
  // A state from a partition with another number of VPs names other contexts.
  assert.throws(() => new Fixture(1).plic.restore(saved), StateError);
  assert.throws(() => new Fixture(3).plic.restore(saved), StateError);
});
