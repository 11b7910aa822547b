// handleSbi against the RISC-V Supervisor Binary Interface Specification v2.0, through a fake
// SbiHost: registers in an array, every operation with an effect recorded. Each rejected call
// must leave that record empty (decode and validate before invoking).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  handleSbi, RfenceKind, IMPL_ID, type SbiHost,
  SBI_SUCCESS, SBI_ERR_FAILED, SBI_ERR_NOT_SUPPORTED, SBI_ERR_INVALID_PARAM, SBI_ERR_INVALID_ADDRESS,
  SBI_ERR_ALREADY_AVAILABLE, EXT_BASE, EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM, EXT_SRST, EXT_DBCN,
} from './sbi.js';

const A0 = 10, A1 = 11, A6 = 16, A7 = 17;
const RAM_BASE = 0x8000_0000n;
const RAM_SIZE = 8n << 30n; // 8 GiB: RAM reaches above 4 GiB, where DBCN buffers need all 64 bits
const RAM_END = RAM_BASE + RAM_SIZE;
const ALL_ONES = (1n << 64n) - 1n; // -1 as an unsigned long
/** A value the handler must not write back (a1 of legacy calls, a2..a7 of every call). */
const SENTINEL = 0x5a5a_5a5a_5a5a_5a5an;

type Effect = [string, ...unknown[]];

class FakeHost implements SbiHost {
  readonly x: bigint[] = new Array<bigint>(32).fill(SENTINEL);
  /** Operations with an effect on the partition, in call order. */
  readonly effects: Effect[] = [];
  /** Registers the handler wrote. */
  readonly written: number[] = [];
  hartStartResult = SBI_SUCCESS;
  hartStopResult = SBI_ERR_FAILED;
  statuses = [0n, 1n, 2n, 4n];
  consoleResult: bigint | undefined; // undefined: all bytes

  constructor(readonly vpCount = 4, readonly vpIndex = 0) { this.x[0] = 0n; }

  // Registers hold unsigned 64-bit values, as Hart.x() returns them.
  reg(n: number): bigint { return this.x[n]; }
  setReg(n: number, v: bigint): void { this.written.push(n); if (n !== 0) this.x[n] = BigInt.asUintN(64, v); }

  setTimer(deadline: bigint): void { this.effects.push(['setTimer', deadline]); }
  sendIpi(harts: number[]): void { this.effects.push(['sendIpi', harts]); }
  clearIpi(): void { this.effects.push(['clearIpi']); }
  remoteFence(harts: number[], kind: RfenceKind): void { this.effects.push(['remoteFence', harts, kind]); }
  hartStart(hart: number, addr: bigint, opaque: bigint): bigint {
    this.effects.push(['hartStart', hart, addr, opaque]);
    return this.hartStartResult;
  }
  hartStop(): bigint { this.effects.push(['hartStop']); return this.hartStopResult; }
  hartStatus(hart: number): bigint { return this.statuses[hart]; }
  suspend(): void { this.effects.push(['suspend']); }
  systemReset(type: number, reason: number): void { this.effects.push(['systemReset', type, reason]); }
  isRam(addr: bigint, len: bigint): boolean { return len >= 0n && addr >= RAM_BASE && addr + len <= RAM_END; }
  consoleWrite(addr: bigint, len: bigint): bigint { this.effects.push(['consoleWrite', addr, len]); return this.consoleResult ?? len; }
  consoleRead(addr: bigint, len: bigint): bigint { this.effects.push(['consoleRead', addr, len]); return this.consoleResult ?? 3n; }
  consolePutchar(byte: number): void { this.effects.push(['consolePutchar', byte]); }
}

interface Ret { error: bigint; value: bigint; a1: bigint }

/** Performs ecall with a7 = eid, a6 = fid and a0.. = args; the sbiret as signed longs. */
function ecall(h: FakeHost, eid: bigint, fid: bigint, ...args: bigint[]): Ret {
  args.forEach((v, i) => { h.x[A0 + i] = BigInt.asUintN(64, v); });
  h.x[A6] = BigInt.asUintN(64, fid);
  h.x[A7] = BigInt.asUintN(64, eid);
  handleSbi(h);
  return { error: BigInt.asIntN(64, h.x[A0]), value: BigInt.asIntN(64, h.x[A1]), a1: h.x[A1] };
}

/** The call fails with `error` and has no effect. */
function rejects(eid: bigint, fid: bigint, args: bigint[], error: bigint, what: string, h = new FakeHost()): void {
  const r = ecall(h, eid, fid, ...args);
  assert.equal(r.error, error, `${what}: error`);
  assert.deepEqual(h.effects, [], `${what}: no effect before validation`);
}

// --- Binary encoding (§3) ---------------------------------------------------------------------

test('only a0 and a1 are written; every other register is preserved (§3)', () => {
  const h = new FakeHost();
  h.x[A7] = EXT_BASE;
  h.x[A6] = 0n;
  const before = [...h.x];
  handleSbi(h);
  assert.deepEqual([...new Set(h.written)].sort(), [A0, A1]);
  for (let r = 0; r < 32; r++) if (r !== A0 && r !== A1) assert.equal(h.x[r], before[r], `x${r}`);
});

test('an unknown extension returns SBI_ERR_NOT_SUPPORTED (§3)', () => {
  // PMU, SUSP, STA, a vendor and a firmware extension: none is implemented.
  for (const eid of [0x504d55n, 0x53555350n, 0x535441n, 0x0900_0000n, 0x0a00_0000n, 0x7fff_ffffn, 0x11n]) {
    rejects(eid, 0n, [1n, 2n, 3n], SBI_ERR_NOT_SUPPORTED, `eid ${eid.toString(16)}`);
  }
});

test('an unknown function of a known extension returns SBI_ERR_NOT_SUPPORTED (§3)', () => {
  const cases: [bigint, bigint][] = [
    [EXT_BASE, 7n], [EXT_TIME, 1n], [EXT_IPI, 1n], [EXT_RFENCE, 7n], [EXT_HSM, 4n], [EXT_SRST, 1n], [EXT_DBCN, 3n],
    [EXT_TIME, ALL_ONES],
  ];
  // Arguments a successful function 0 would accept, so only the FID can be at fault.
  for (const [eid, fid] of cases) rejects(eid, fid, [0n, 0n, 0n], SBI_ERR_NOT_SUPPORTED, `eid ${eid.toString(16)} fid ${fid}`);
});

// --- BASE (§4) --------------------------------------------------------------------------------

test('BASE reports spec version 2.0, the implementation and zero machine ids (§4.1-4.7)', () => {
  const h = new FakeHost();
  const v = ecall(h, EXT_BASE, 0n);
  assert.equal(v.error, SBI_SUCCESS);
  assert.equal(v.value >> 24n, 2n, 'major in bits 30:24');
  assert.equal(v.value & 0xff_ffffn, 0n, 'minor in bits 23:0');
  assert.equal(v.value >> 31n, 0n, 'bit 31 is reserved and zero');
  assert.deepEqual(ecall(h, EXT_BASE, 1n).value, IMPL_ID);
  assert.ok(IMPL_ID > 11n, 'not one of the registered implementation ids (§4.9)');
  const impl = ecall(h, EXT_BASE, 2n);
  assert.equal(impl.error, SBI_SUCCESS);
  for (const fid of [4n, 5n, 6n]) assert.deepEqual(ecall(h, EXT_BASE, fid), { error: 0n, value: 0n, a1: 0n }, `fid ${fid}`);
  assert.deepEqual(h.effects, []);
});

test('BASE probe_extension: 1 for each implemented extension, 0 for others (§4.4)', () => {
  const h = new FakeHost();
  const implemented = [EXT_BASE, EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM, EXT_SRST, EXT_DBCN, 0x00n, 0x01n, 0x02n, 0x03n, 0x08n];
  for (const eid of implemented) {
    assert.deepEqual(ecall(h, EXT_BASE, 3n, eid).error, SBI_SUCCESS);
    assert.equal(ecall(h, EXT_BASE, 3n, eid).value, 1n, `probe ${eid.toString(16)}`);
  }
  // Unimplemented: legacy send_ipi and remote fences (0x04-0x07), reserved legacy, PMU, SUSP, vendor.
  for (const eid of [0x04n, 0x05n, 0x06n, 0x07n, 0x09n, 0x0fn, 0x504d55n, 0x53555350n, 0x0900_0000n, 0x1234_5678n]) {
    const r = ecall(h, EXT_BASE, 3n, eid);
    assert.deepEqual([r.error, r.value], [SBI_SUCCESS, 0n], `probe ${eid.toString(16)}`);
    // What probe calls unavailable must not answer as if it were there.
    const g = new FakeHost();
    assert.equal(ecall(g, eid, 0n).error, SBI_ERR_NOT_SUPPORTED, `call ${eid.toString(16)}`);
    assert.deepEqual(g.effects, []);
  }
  assert.deepEqual(h.effects, []);
});

// --- TIME (§6) --------------------------------------------------------------------------------

test('TIME set_timer programs the full 64-bit deadline (§6.1)', () => {
  for (const t of [0n, 0x1234_5678_9abc_def0n, ALL_ONES]) {
    const h = new FakeHost();
    const r = ecall(h, EXT_TIME, 0n, t);
    assert.deepEqual([r.error, r.value], [SBI_SUCCESS, 0n]);
    assert.deepEqual(h.effects, [['setTimer', t]]);
  }
});

// --- IPI (§7) and hart masks (§3 hart list) --------------------------------------------------

test('IPI send_ipi: the harts of hart_mask counted from hart_mask_base (§3 hart list, §7.1)', () => {
  const cases: [bigint, bigint, number[]][] = [
    [0b1n, 0n, [0]],
    [0b1010n, 0n, [1, 3]],
    [0b1111n, 0n, [0, 1, 2, 3]],
    [0b11n, 2n, [2, 3]],
    [0b1n, 3n, [3]],
    [0n, 0n, []],             // no hart named: nothing to reject
  ];
  for (const [mask, base, harts] of cases) {
    const h = new FakeHost();
    const r = ecall(h, EXT_IPI, 0n, mask, base);
    assert.deepEqual([r.error, r.value], [SBI_SUCCESS, 0n], `mask ${mask.toString(2)} base ${base}`);
    const sent = h.effects.flatMap(([op, hs]) => (op === 'sendIpi' ? (hs as number[]) : []));
    assert.deepEqual(sent, harts, `mask ${mask.toString(2)} base ${base}`);
  }
});

test('IPI: hart_mask_base -1 means every hart, whatever hart_mask says (§3 hart list)', () => {
  for (const mask of [0n, 1n, ALL_ONES, 0xf0n]) {
    const h = new FakeHost(3);
    assert.equal(ecall(h, EXT_IPI, 0n, mask, -1n).error, SBI_SUCCESS);
    assert.deepEqual(h.effects, [['sendIpi', [0, 1, 2]]]);
  }
});

test('IPI: a hartid from the mask that does not exist is SBI_ERR_INVALID_PARAM, and no IPI is sent (§3 hart list)', () => {
  const cases: [bigint, bigint][] = [
    [0b10000n, 0n],           // hart 4 of 4
    [0b11n, 3n],              // harts 3 and 4: one valid, one not, so none may be sent
    [1n << 63n, 0n],          // hart 63
    [1n, 4n],
    [1n, 1n << 63n],          // a base far out of range
    [1n, ALL_ONES - 1n],      // -2 is not the "all harts" value
    [0b1001n, 1n],            // harts 1 and 4
  ];
  for (const [mask, base] of cases) rejects(EXT_IPI, 0n, [mask, base], SBI_ERR_INVALID_PARAM, `mask ${mask.toString(16)} base ${base.toString(16)}`);
});

// --- RFENCE (§8) ------------------------------------------------------------------------------

test('RFENCE fence.i, sfence.vma and sfence.vma_asid reach the named harts (§8.1-8.3)', () => {
  const cases: [bigint, bigint[], RfenceKind, number[]][] = [
    [0n, [0b110n, 0n], RfenceKind.FenceI, [1, 2]],
    [1n, [0b1n, 3n, 0n, 0n], RfenceKind.SfenceVma, [3]],
    [1n, [0n, -1n, 0x4000_0000n, 0x1000n], RfenceKind.SfenceVma, [0, 1, 2, 3]],
    [1n, [0b1111n, 0n, 0n, ALL_ONES], RfenceKind.SfenceVma, [0, 1, 2, 3]],
    [2n, [0b1n, 0n, 0x1000n, 0x2000n, 7n], RfenceKind.SfenceVma, [0]], // a per-ASID fence may flush more
  ];
  for (const [fid, args, kind, harts] of cases) {
    const h = new FakeHost();
    const r = ecall(h, EXT_RFENCE, fid, ...args);
    assert.deepEqual([r.error, r.value], [SBI_SUCCESS, 0n], `fid ${fid}`);
    assert.deepEqual(h.effects, [['remoteFence', harts, kind]], `fid ${fid}`);
  }
});

test('RFENCE: an invalid hart is SBI_ERR_INVALID_PARAM with no fence (§3 hart list)', () => {
  for (const fid of [0n, 1n, 2n]) {
    rejects(EXT_RFENCE, fid, [0b10001n, 0n, 0n, 0n, 0n], SBI_ERR_INVALID_PARAM, `fid ${fid} hart 4`);
    rejects(EXT_RFENCE, fid, [1n, 9n, 0n, 0n, 0n], SBI_ERR_INVALID_PARAM, `fid ${fid} base 9`);
  }
});

test('RFENCE: the hypervisor-extension fences are SBI_ERR_NOT_SUPPORTED (§8.4-8.7; no H extension)', () => {
  for (const fid of [3n, 4n, 5n, 6n]) {
    rejects(EXT_RFENCE, fid, [0b1n, 0n, 0n, 0n, 0n], SBI_ERR_NOT_SUPPORTED, `fid ${fid}`);
    rejects(EXT_RFENCE, fid, [0n, -1n, 0n, 0n, 0n], SBI_ERR_NOT_SUPPORTED, `fid ${fid} all harts`);
  }
});

// --- HSM (§9) ---------------------------------------------------------------------------------

test('HSM hart_start passes hartid, start_addr and opaque through and returns the host result (§9.1)', () => {
  const h = new FakeHost();
  const r = ecall(h, EXT_HSM, 0n, 2n, 0x8020_0000n, ALL_ONES - 5n);
  assert.deepEqual([r.error, r.value], [SBI_SUCCESS, 0n]);
  assert.deepEqual(h.effects, [['hartStart', 2, 0x8020_0000n, ALL_ONES - 5n]]);
  // The last two bytes of RAM still hold a compressed instruction.
  const e = new FakeHost();
  assert.equal(ecall(e, EXT_HSM, 0n, 3n, RAM_END - 2n, 0n).error, SBI_SUCCESS);
  assert.deepEqual(e.effects, [['hartStart', 3, RAM_END - 2n, 0n]]);
  const busy = new FakeHost();
  busy.hartStartResult = SBI_ERR_ALREADY_AVAILABLE;
  assert.equal(ecall(busy, EXT_HSM, 0n, 0n, RAM_BASE, 0n).error, SBI_ERR_ALREADY_AVAILABLE);
});

test('HSM hart_start: a hartid that does not exist is SBI_ERR_INVALID_PARAM (§9.1)', () => {
  for (const hart of [4n, 5n, 1n << 32n, ALL_ONES]) rejects(EXT_HSM, 0n, [hart, RAM_BASE, 0n], SBI_ERR_INVALID_PARAM, `hart ${hart}`);
});

test('HSM hart_start: an odd or non-RAM start address is SBI_ERR_INVALID_ADDRESS (§9.1)', () => {
  for (const addr of [RAM_BASE + 1n, 0x8020_0003n, 0n, 0x1000n, 0x1000_0000n, RAM_BASE - 2n, RAM_END, RAM_END - 1n, ALL_ONES - 1n]) {
    rejects(EXT_HSM, 0n, [1n, addr, 0n], SBI_ERR_INVALID_ADDRESS, `start_addr ${addr.toString(16)}`);
  }
});

test('HSM hart_stop returns the host result (§9.2)', () => {
  const h = new FakeHost();
  assert.equal(ecall(h, EXT_HSM, 1n).error, SBI_ERR_FAILED);
  assert.deepEqual(h.effects, [['hartStop']]);
});

test('HSM hart_get_status returns the state id in value; an invalid hartid is INVALID_PARAM (§9.3)', () => {
  const h = new FakeHost();
  h.statuses.forEach((s, hart) => {
    const r = ecall(h, EXT_HSM, 2n, BigInt(hart));
    assert.deepEqual([r.error, r.value], [SBI_SUCCESS, s], `hart ${hart}`);
  });
  for (const hart of [4n, ALL_ONES]) {
    const r = ecall(h, EXT_HSM, 2n, hart);
    assert.equal(r.error, SBI_ERR_INVALID_PARAM, `hart ${hart}`);
  }
  assert.deepEqual(h.effects, []);
});

test('HSM hart_suspend: default retentive suspends and returns SBI_SUCCESS (§9.4)', () => {
  // suspend_type is 32 bits wide (§3: only 32 bits of it are used).
  for (const type of [0n, 1n << 32n]) {
    const h = new FakeHost();
    const r = ecall(h, EXT_HSM, 3n, type, 0n, 0n);
    assert.deepEqual([r.error, r.value], [SBI_SUCCESS, 0n]);
    assert.deepEqual(h.effects, [['suspend']]);
  }
});

test('HSM hart_suspend: default non-retentive is SBI_ERR_NOT_SUPPORTED, reserved types INVALID_PARAM (§9.4)', () => {
  // Default non-retentive is defined by the spec, but tshv offers no non-retentive state.
  rejects(EXT_HSM, 3n, [0x8000_0000n, RAM_BASE, 0n], SBI_ERR_NOT_SUPPORTED, 'default non-retentive');
  // Reserved, or platform-specific types tshv does not offer: "SBI_ERR_INVALID_PARAM" (§9.4).
  for (const type of [1n, 0x0fff_ffffn, 0x1000_0000n, 0x7fff_ffffn, 0x8000_0001n, 0x8fff_ffffn, 0x9000_0000n, 0xffff_ffffn]) {
    rejects(EXT_HSM, 3n, [type, RAM_BASE, 0n], SBI_ERR_INVALID_PARAM, `suspend_type ${type.toString(16)}`);
  }
});

// --- SRST (§10) -------------------------------------------------------------------------------

test('SRST system_reset passes shutdown, cold and warm reboot with either reason (§10.1)', () => {
  for (const type of [0, 1, 2]) {
    for (const reason of [0, 1]) {
      const h = new FakeHost();
      assert.equal(ecall(h, EXT_SRST, 0n, BigInt(type), BigInt(reason)).error, SBI_SUCCESS);
      assert.deepEqual(h.effects, [['systemReset', type, reason]]);
    }
  }
});

test('SRST: a reserved or unimplemented type or reason is SBI_ERR_INVALID_PARAM, with no reset (§10.1)', () => {
  for (const type of [3n, 0xefff_ffffn, 0xf000_0000n, 0xffff_ffffn]) rejects(EXT_SRST, 0n, [type, 0n], SBI_ERR_INVALID_PARAM, `type ${type.toString(16)}`);
  for (const reason of [2n, 0xdfff_ffffn, 0xf000_0000n]) rejects(EXT_SRST, 0n, [0n, reason], SBI_ERR_INVALID_PARAM, `reason ${reason.toString(16)}`);
});

// --- DBCN (§12) -------------------------------------------------------------------------------

test('DBCN console_write writes a RAM buffer and returns the bytes written (§12.1)', () => {
  const h = new FakeHost();
  const r = ecall(h, EXT_DBCN, 0n, 13n, 0x8100_0000n, 0n);
  assert.deepEqual([r.error, r.value], [SBI_SUCCESS, 13n]);
  assert.deepEqual(h.effects, [['consoleWrite', 0x8100_0000n, 13n]]);
  const tail = new FakeHost();
  assert.equal(ecall(tail, EXT_DBCN, 0n, 16n, RAM_END - 16n, 0n).error, SBI_SUCCESS);
  assert.deepEqual(tail.effects, [['consoleWrite', RAM_END - 16n, 16n]]);
});

test('DBCN: base_addr_lo is the low XLEN bits of the address, so RV64 buffers above 4 GiB work (§12.1)', () => {
  // Linux on RV64 passes the whole physical address in base_addr_lo and 0 in base_addr_hi.
  const addr = 0x1_2345_6000n;
  const w = new FakeHost();
  assert.deepEqual(ecall(w, EXT_DBCN, 0n, 5n, addr, 0n).error, SBI_SUCCESS);
  assert.deepEqual(w.effects, [['consoleWrite', addr, 5n]]);
  const r = new FakeHost();
  assert.deepEqual(ecall(r, EXT_DBCN, 1n, 8n, addr, 0n).error, SBI_SUCCESS);
  assert.deepEqual(r.effects, [['consoleRead', addr, 8n]]);
});

test('DBCN: base_addr_hi is the high XLEN bits; on RV64 any non-zero value is outside RAM (§12.1)', () => {
  // hi = 1 names 2^64 + lo, which no RV64 hart can address.
  for (const fid of [0n, 1n]) {
    rejects(EXT_DBCN, fid, [4n, 0x8000_0000n, 1n], SBI_ERR_INVALID_PARAM, `fid ${fid} hi 1`);
    rejects(EXT_DBCN, fid, [4n, 0x8000_1000n, ALL_ONES], SBI_ERR_INVALID_PARAM, `fid ${fid} hi -1`);
  }
});

test('DBCN: a buffer outside RAM is SBI_ERR_INVALID_PARAM and nothing is written or read (§3 shared memory range, §12.1-12.2)', () => {
  const outside: [bigint, bigint][] = [
    [1n, 0n], [4n, 0x1000_0000n], [16n, RAM_BASE - 8n], [16n, RAM_END - 8n], [1n, RAM_END],
    [RAM_SIZE + 1n, RAM_BASE], [ALL_ONES, RAM_BASE], [2n, ALL_ONES],
  ];
  for (const fid of [0n, 1n]) {
    for (const [n, addr] of outside) rejects(EXT_DBCN, fid, [n, addr, 0n], SBI_ERR_INVALID_PARAM, `fid ${fid} ${n} bytes at ${addr.toString(16)}`);
  }
});

test('DBCN: num_bytes 0 succeeds with value 0 and touches nothing (§12.1-12.2)', () => {
  for (const fid of [0n, 1n]) {
    for (const addr of [RAM_BASE, 0n]) {
      const h = new FakeHost();
      const r = ecall(h, EXT_DBCN, fid, 0n, addr, 0n);
      assert.deepEqual([r.error, r.value], [SBI_SUCCESS, 0n], `fid ${fid} at ${addr.toString(16)}`);
      assert.deepEqual(h.effects, []);
    }
  }
});

test('DBCN console_read returns the bytes read (§12.2)', () => {
  const h = new FakeHost();
  const r = ecall(h, EXT_DBCN, 1n, 64n, RAM_BASE + 0x100n, 0n);
  assert.deepEqual([r.error, r.value], [SBI_SUCCESS, 3n]);
  assert.deepEqual(h.effects, [['consoleRead', RAM_BASE + 0x100n, 64n]]);
});

test('DBCN: a console I/O failure is SBI_ERR_FAILED in error, not a byte count (§12.1-12.2)', () => {
  for (const fid of [0n, 1n]) {
    const h = new FakeHost();
    h.consoleResult = SBI_ERR_FAILED;
    const r = ecall(h, EXT_DBCN, fid, 4n, RAM_BASE, 0n);
    assert.deepEqual([r.error, r.value], [SBI_ERR_FAILED, 0n], `fid ${fid}`);
  }
});

test('DBCN console_write_byte writes the low byte and returns value 0 (§12.3)', () => {
  const h = new FakeHost();
  const r = ecall(h, EXT_DBCN, 2n, 0x141n);
  assert.deepEqual([r.error, r.value], [SBI_SUCCESS, 0n]);
  assert.deepEqual(h.effects, [['consolePutchar', 0x41]]);
});

// --- Legacy extensions (§5) -------------------------------------------------------------------

test('legacy calls return in a0 only, leave a1 alone and ignore a6 (§5)', () => {
  const cases: [bigint, bigint[], bigint, Effect[]][] = [
    [0x00n, [0x1234n], 0n, [['setTimer', 0x1234n]]],
    [0x01n, [0x0a41n], 0n, [['consolePutchar', 0x41]]],
    [0x02n, [], -1n, []],                      // no input: -1
    [0x03n, [], 0n, [['clearIpi']]],
    [0x08n, [], 0n, [['systemReset', 0, 0]]],
  ];
  for (const [eid, args, a0, effects] of cases) {
    for (const fid of [0n, 5n]) {
      const h = new FakeHost();
      const r = ecall(h, eid, fid, ...args);
      assert.equal(r.error, a0, `eid ${eid} a0`);
      assert.equal(r.a1, SENTINEL, `eid ${eid} a1 untouched`);
      assert.deepEqual(h.effects, effects, `eid ${eid}`);
    }
  }
});

test('unimplemented and reserved legacy extensions fail in a0 and leave a1 alone (§5)', () => {
  for (const eid of [0x04n, 0x05n, 0x06n, 0x07n, 0x09n, 0x0an, 0x0fn]) {
    const h = new FakeHost();
    const r = ecall(h, eid, 0n);
    assert.ok(r.error < 0n, `eid ${eid}: a negative error`);
    assert.equal(r.a1, SENTINEL, `eid ${eid}: a1 untouched`);
    assert.deepEqual(h.effects, []);
  }
});
