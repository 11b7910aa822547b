// The 16550 as a driver sees it (PC16550D datasheet register map; Linux's 8250 usage).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_BACKLOG, Uart16550 } from './device.js';
import { StateError, bytesToBase64 } from '../../../state/contract.js';

const RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, LSR = 5, MSR = 6, SCR = 7;
const IER_RDI = 0x01, IER_THRI = 0x02;
const IIR_NONE = 0x01, IIR_THRI = 0x02, IIR_RDI = 0x04;
const LSR_DR = 0x01, LSR_THRE = 0x20, LSR_TEMT = 0x40;

function uart() {
  const sent: number[] = [];
  let level = false;
  const dev = new Uart16550((b) => sent.push(b), (l) => { level = l; });
  const r = (o: number) => Number(dev.read(o, 1));
  const w = (o: number, v: number) => dev.write(o, 1, BigInt(v));
  return { dev, sent, r, w, line: () => level };
}

test('THR: each byte written is transmitted at once; LSR says the transmitter is empty', () => {
  const u = uart();
  for (const b of Buffer.from('hi\n')) u.w(RBR_THR, b);
  assert.deepEqual(u.sent, [0x68, 0x69, 0x0a]);
  assert.equal(u.r(LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
  assert.equal(u.r(LSR) & LSR_DR, 0);
});

test('input waits in a backlog until a driver enables the receive interrupt, then fills the 16-byte FIFO in order', () => {
  const u = uart();
  u.dev.receive(Uint8Array.from({ length: 20 }, (_, i) => 0x41 + i));
  assert.equal(u.r(LSR) & LSR_DR, 0, 'nothing readable before IER.RDI');
  assert.equal(u.line(), false);
  u.w(IIR_FCR, 0x07); // enable and clear the FIFOs, as the 8250 driver does on startup: nothing is lost
  u.w(IER, IER_RDI);
  assert.equal(u.line(), true);
  assert.equal(u.r(IIR_FCR) & 0x0f, IIR_RDI);
  const got: number[] = [];
  while (u.r(LSR) & LSR_DR) got.push(u.r(RBR_THR));
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => 0x41 + i));
  assert.equal(u.line(), false);
  assert.equal(u.dev.rxPending, 0);
});

test('THRI: enabling it with an empty THR raises it; reading IIR clears it until the next write', () => {
  const u = uart();
  u.w(IER, IER_THRI);
  assert.equal(u.line(), true);
  assert.equal(u.r(IIR_FCR) & 0x0f, IIR_THRI);
  assert.equal(u.line(), false);
  assert.equal(u.r(IIR_FCR) & 0x0f, IIR_NONE);
  u.w(RBR_THR, 0x21);
  assert.equal(u.line(), true);
});

test('received data outranks THR empty (datasheet table 4)', () => {
  const u = uart();
  u.w(IER, IER_RDI | IER_THRI);
  u.dev.receive(Uint8Array.of(1));
  assert.equal(u.r(IIR_FCR) & 0x0f, IIR_RDI);
});

test('DLAB selects the divisor latches at 0 and 1; LCR, SCR read back; MSR says the modem is ready', () => {
  const u = uart();
  u.w(LCR, 0x80);
  u.w(0, 0x0c); u.w(1, 0x00);
  assert.equal(u.r(0), 0x0c);
  assert.deepEqual(u.sent, [], 'a divisor write is not a transmitted byte');
  u.w(LCR, 0x03);
  assert.equal(u.r(LCR), 0x03);
  u.w(SCR, 0x5a);
  assert.equal(u.r(SCR), 0x5a);
  assert.equal(u.r(MSR), 0xb0);
});

test('the register shadow mirrors LSR for loads served without a round trip', () => {
  const u = uart();
  u.w(IER, IER_RDI);
  u.dev.receive(Uint8Array.of(0x55));
  assert.equal(u.dev.shadow.bytes[LSR] & LSR_DR, LSR_DR);
  u.r(RBR_THR);
  assert.equal(u.dev.shadow.bytes[LSR] & LSR_DR, 0);
});

test('every mirrored register reads from the shadow as from the device, DLAB included; RBR and IIR are not mirrored', () => {
  const u = uart();
  const MCR = 4;
  const mirrored = [IER, LCR, MCR, LSR, MSR, SCR];
  const same = (when: string) => {
    for (const r of mirrored) {
      assert.equal(u.dev.shadow.readable[r], r === LSR || r === MSR ? 1 : 2, `register ${r} is mirrored`);
      assert.equal(u.dev.shadow.bytes[r], u.r(r), `register ${r} ${when}`);
    }
  };
  same('at reset');
  u.w(IER, IER_RDI | IER_THRI); u.w(MCR, 0x0b); u.w(SCR, 0x77); u.w(LCR, 0x03);
  same('after writes');
  u.w(LCR, 0x83); u.w(1, 0x01); // DLAB: offset 1 is the divisor latch's high byte
  same('with DLAB set');
  assert.equal(u.dev.shadow.bytes[IER], 0x01);
  u.w(LCR, 0x03);
  same('with DLAB clear again');
  assert.equal(u.dev.shadow.bytes[IER], IER_RDI | IER_THRI);
  assert.equal(u.dev.shadow.readable[RBR_THR], 0, 'reading RBR takes a byte');
  assert.equal(u.dev.shadow.readable[IIR_FCR], 0, 'reading IIR clears THRI');
});

// --- Save and restore ---------------------------------------------------------------------------

/** The state through JSON, as a state stream carries it. */
const roundTrip = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

test('save/restore: registers, FIFO and backlog carry over; the restored line is driven at once', () => {
  const a = uart();
  a.w(LCR, 0x80); a.w(0, 0x0c); a.w(1, 0x01); a.w(LCR, 0x03);
  a.w(4, 0x0b); a.w(SCR, 0x5a); a.w(IIR_FCR, 0x01);
  a.w(IER, IER_RDI | IER_THRI);
  a.dev.receive(Uint8Array.from({ length: 20 }, (_, i) => 0x30 + i));
  assert.equal(a.r(RBR_THR), 0x30);
  const saved = roundTrip(a.dev.save());
  assert.equal(saved.version, 1);

  const b = uart();
  assert.equal(b.line(), false);
  b.dev.restore(saved);
  assert.equal(b.line(), true, 'received data is pending: the line is raised by restore itself');
  assert.equal(b.dev.shadow.bytes[LSR] & LSR_DR, LSR_DR, 'the LSR shadow is current');
  assert.equal(b.r(LCR), 0x03); assert.equal(b.r(4), 0x0b); assert.equal(b.r(SCR), 0x5a);
  assert.equal(b.r(IER), IER_RDI | IER_THRI);
  assert.equal(b.r(IIR_FCR), IIR_RDI | 0xc0, 'data outranks THR empty; the FIFOs are enabled');
  b.w(LCR, 0x83);
  assert.equal(b.r(0), 0x0c); assert.equal(b.r(1), 0x01);
  b.w(LCR, 0x03);
  const got: number[] = [];
  while (b.r(LSR) & LSR_DR) got.push(b.r(RBR_THR));
  assert.deepEqual(got, Array.from({ length: 19 }, (_, i) => 0x31 + i), 'FIFO, then backlog, in order');
  assert.equal(b.r(IIR_FCR) & 0x0f, IIR_THRI, 'THR empty was pending at the save');
  assert.equal(b.line(), false);
  assert.deepEqual(b.sent, [], 'restore transmits nothing');
});

test('save/restore: input typed before a driver listens stays in the backlog until it does', () => {
  const a = uart();
  a.dev.receive(Uint8Array.of(1, 2, 3));
  const b = uart();
  b.dev.restore(roundTrip(a.dev.save()));
  assert.equal(b.line(), false);
  assert.equal(b.dev.rxPending, 3);
  assert.equal(b.r(LSR) & LSR_DR, 0);
  b.w(IER, IER_RDI);
  assert.equal(b.line(), true);
  assert.deepEqual([b.r(RBR_THR), b.r(RBR_THR), b.r(RBR_THR)], [1, 2, 3]);
});

test('save/restore: a hostile state is refused with StateError and the device is unchanged', () => {
  const a = uart();
  a.w(IER, IER_RDI);
  a.dev.receive(Uint8Array.of(7));
  const saved = roundTrip(a.dev.save());
  const b = uart();
  b.w(SCR, 0x11);
  b.w(IER, IER_THRI);
  const before = JSON.stringify(b.dev.save());
  const line = b.line();
  const bad: unknown[] = [
    null, [], 'state', { ...saved, version: 2 }, { ...saved, version: undefined },
    { ...saved, ier: 0x10 }, { ...saved, ier: -1 }, { ...saved, lcr: 256 }, { ...saved, mcr: 0x20 }, { ...saved, scr: 1.5 },
    { ...saved, dll: '1' }, { ...saved, dlm: undefined }, { ...saved, fifoEnabled: 1 }, { ...saved, thrEmptyPending: null },
    { ...saved, rx: bytesToBase64(new Uint8Array(17)) }, { ...saved, rx: 'not base64!' }, { ...saved, rx: [1] },
    { ...saved, backlog: bytesToBase64(new Uint8Array(MAX_BACKLOG + 1)) },
  ];
  for (const s of bad) assert.throws(() => b.dev.restore(s), StateError, JSON.stringify(s)?.slice(0, 200));
  assert.equal(JSON.stringify(b.dev.save()), before);
  assert.equal(b.line(), line);
  b.dev.restore({ ...saved, backlog: bytesToBase64(new Uint8Array(MAX_BACKLOG)) });
  assert.equal(b.dev.rxPending, 1 + MAX_BACKLOG, 'the limits themselves are accepted');
});

test('the backlog is bounded: input beyond MAX_BACKLOG is dropped', () => {
  const u = uart();
  u.dev.receive(new Uint8Array(MAX_BACKLOG - 1));
  u.dev.receive(Uint8Array.of(1, 2, 3));
  assert.equal(u.dev.rxPending, MAX_BACKLOG);
});
