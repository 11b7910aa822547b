// The 16550 as a driver sees it (PC16550D datasheet register map; Linux's 8250 usage).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Uart16550 } from './device.js';

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
