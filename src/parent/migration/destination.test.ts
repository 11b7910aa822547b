// The destination's reader of a migration stream (readMigration), on its own: a sink of
// plain memory stands for the VM. The stream is untrusted, so most of this is refusals:
// each must be a StateStreamError (MigrationError is one) naming the frame and what is
// wrong, and none may make memory (begin) before the identity and machine are checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { deflateRawSync } from 'node:zlib';
import { ByteSource } from '../state/byte-source.js';
import { FLAG_IGNORABLE, MAX_RUN_PAGES, PAGE_BYTES, StateStreamError, frameTag } from '../state/format.js';
import { runPayload, splitFrames, u64le, type RawFrame } from '../state/test-support.js';
import { StateError } from '../../state/contract.js';
import { readMigration, type MigrationSink } from './destination.js';
import { MIGRATION_VERSION, MTAG, MigrationError } from './stream.js';
import {
  SMALL_CONFIG, bitsOf, frames, migrationStream, pages, recordingSink, sendMigration, withEnd, writeMigration, type SinkLog, type SourcePass,
} from './test-support.js';

const RAM_BYTES = SMALL_CONFIG.memoryBytes;
const PAGES = RAM_BYTES / PAGE_BYTES; // 4096
const IDENTITY = { name: 'web-1', id: '0b7c54c6-3f5e-4c39-9a53-2f4d1a0e9b11' };
const STATE = { version: 1, vps: [{ pc: '2147483648' }] };
const PAUSED_AT = 1_767_000_000_123.5;
const HEAD = [frames.helo(IDENTITY), frames.conf(SMALL_CONFIG), frames.dsks()];
const STAT = frames.stat(PAUSED_AT, STATE);
/** One RAM buffer for the cases that get as far as making memory: 16 MiB each time would be most of the run time. */
const SHARED_RAM = new Uint8Array(RAM_BYTES);

/** A whole stream: HELO, CONF, `middle`, STAT, and END totalling it right. */
const stream = (...middle: RawFrame[]) => migrationStream(withEnd([...HEAD, ...middle, STAT]));

async function read(bytes: Uint8Array, sink = recordingSink({ reuse: SHARED_RAM })): Promise<SinkLog> {
  await readMigration(ByteSource.ofBytes(bytes, 'migration stream'), sink);
  return sink.log;
}

/** The error reading `bytes` fails with; a failure of the test if it reads. */
async function failure(bytes: Uint8Array, sink: MigrationSink & { log: SinkLog } = recordingSink({ reuse: SHARED_RAM })): Promise<{ e: unknown; log: SinkLog }> {
  try {
    await readMigration(ByteSource.ofBytes(bytes, 'migration stream'), sink);
  } catch (e) {
    return { e, log: sink.log };
  }
  assert.fail('the stream was accepted');
}

/** Refused with a StateStreamError matching `why`; returns what the sink saw. */
async function refused(bytes: Uint8Array, why: RegExp): Promise<SinkLog> {
  const { e, log } = await failure(bytes);
  assert.ok(e instanceof StateStreamError, `expected a StateStreamError, got ${String(e)}`);
  assert.match(e.message, why);
  assert.equal(log.finished, undefined, 'a refused stream reached finish()');
  return log;
}

test('a good stream: runs land where they say, a later pass overwrites a page, ZERO clears pages, and every run is marked', async () => {
  const a = pages(3, 1), b = pages(1, 2), c = pages(1, 3), d = pages(1, 4), e = pages(2, 5);
  const log = await read(stream(
    frames.pass(0, 5), frames.ram(0, a), frames.ram(100, b), frames.ram(PAGES - 1, c),
    // Pass 1: page 1 written again, pages 2 and 100 zeroed by the guest, 200..201 new.
    frames.pass(1, 5), frames.ram(1, d), frames.zero(2, 1), frames.zero(100, 1), frames.ram(200, e),
  ));
  assert.equal(log.begun.length, 1);
  assert.deepEqual(log.begun[0], { identity: IDENTITY, config: SMALL_CONFIG });
  const want = new Uint8Array(RAM_BYTES);
  want.set(a.subarray(0, PAGE_BYTES), 0);
  want.set(d, PAGE_BYTES);
  want.set(e, 200 * PAGE_BYTES);
  want.set(c, (PAGES - 1) * PAGE_BYTES);
  assert.ok(Buffer.from(log.ram!).equals(want), 'RAM is what the runs say, applied in order');
  assert.deepEqual(log.runs, [[0, 3], [100, 1], [PAGES - 1, 1], [1, 1], [2, 1], [100, 1], [200, 2]]);
  assert.deepEqual(log.finished, { state: STATE, pausedAt: PAUSED_AT });
});

/**
 * A guest's migration in three passes, as source.ts would send it: pass 0 every page ever
 * written (zero ones left out), then the pages written since, some changed, some zeroed
 * (ZERO frames), a stretch longer than one run. The destination must end up with the
 * source's last RAM exactly.
 */
function threePasses(): { passes: SourcePass[]; last: Uint8Array } {
  const ram0 = new Uint8Array(RAM_BYTES);
  ram0.set(pages(2, 10), 0);
  ram0.set(pages(1, 11), 40 * PAGE_BYTES);
  ram0.set(pages(MAX_RUN_PAGES + 300, 12), 1000 * PAGE_BYTES); // two runs: 1024 and 300 pages
  ram0.set(pages(1, 13), (PAGES - 1) * PAGE_BYTES);
  // Pages 7 and 8 were written but hold zeros: logged, yet not sent in pass 0.
  const bits0 = bitsOf(PAGES, [0, 1, 7, 8, 40, ...Array.from({ length: MAX_RUN_PAGES + 300 }, (_, i) => 1000 + i), PAGES - 1]);
  const ram1 = ram0.slice();
  ram1.set(pages(1, 20), 1 * PAGE_BYTES);     // rewritten
  ram1.fill(0, 40 * PAGE_BYTES, 41 * PAGE_BYTES); // zeroed: a ZERO frame
  ram1.set(pages(1, 21), 3000 * PAGE_BYTES);  // new
  const ram2 = ram1.slice();
  ram2.fill(0, 1000 * PAGE_BYTES, 1010 * PAGE_BYTES); // ten pages of the big stretch zeroed
  ram2.set(pages(1, 22), 3000 * PAGE_BYTES);  // rewritten again
  return {
    passes: [
      { ram: ram0, bits: bits0 },
      { ram: ram1, bits: bitsOf(PAGES, [1, 40, 3000]) },
      { ram: ram2, bits: bitsOf(PAGES, [...Array.from({ length: 10 }, (_, i) => 1000 + i), 3000]) },
    ],
    last: ram2,
  };
}

test('a stream the real writer (FrameWriter, markedRuns) sends over a connection is read to the source\'s RAM', async () => {
  const { passes, last } = threePasses();
  const conn = new PassThrough();
  const sink = recordingSink();
  // Writer and reader run at once, as on a connection: the writer waits for the reader when the pipe is full.
  const reading = readMigration(ByteSource.ofReadable(conn, 'migration stream'), sink);
  await sendMigration(conn, { identity: IDENTITY, config: SMALL_CONFIG, passes, state: STATE, pausedAt: PAUSED_AT });
  conn.end();
  await reading;
  assert.ok(Buffer.from(sink.log.ram!).equals(last), 'the destination has the source\'s RAM');
  assert.deepEqual(sink.log.finished, { state: STATE, pausedAt: PAUSED_AT });
  // Pass 0: zero pages 7, 8 not sent; the 1324-page stretch in two runs.
  assert.deepEqual(sink.log.runs.slice(0, 5), [[0, 2], [40, 1], [1000, MAX_RUN_PAGES], [1000 + MAX_RUN_PAGES, 300], [PAGES - 1, 1]]);
  assert.deepEqual(sink.log.runs.slice(5), [[1, 1], [40, 1], [3000, 1], [1000, 10], [3000, 1]]);
  // A SYNC after each pre-copy pass, answered once that pass's runs were all in.
  assert.deepEqual(sink.log.synced, [[0, 5], [1, 8]]);
  // The same bytes, written whole and read from memory.
  const bytes = await writeMigration({ identity: IDENTITY, config: SMALL_CONFIG, passes, state: STATE, pausedAt: PAUSED_AT });
  assert.ok(Buffer.from((await read(bytes)).ram!).equals(last));
});

test('on a slow link the writer deflates runs (RAMZ), and they are read to the same RAM', async () => {
  const { passes, last } = threePasses();
  const bytes = await writeMigration({ identity: IDENTITY, config: SMALL_CONFIG, passes, state: STATE, pausedAt: PAUSED_AT, slow: true });
  const tags = splitFrames(bytes).map((f) => f.tag);
  assert.ok(tags.filter((t) => t === MTAG.RAMZ).length >= 5 && !tags.includes(MTAG.RAM), 'every run went deflated (its pages shrink)');
  const log = await read(bytes);
  assert.ok(Buffer.from(log.ram!).equals(last));
  assert.equal(log.runs.length, 10);
});

test('a RAMZ run: inflated into its pages, counted in END\'s pages like RAM', async () => {
  const a = pages(3, 7);
  const log = await read(stream(frames.pass(0, 4), frames.ramz(10, a), frames.ram(20, pages(1, 8))));
  assert.ok(Buffer.from(log.ram!.subarray(10 * PAGE_BYTES, 13 * PAGE_BYTES)).equals(a));
  assert.deepEqual(log.runs, [[10, 3], [20, 1]]);
  // withEnd counted 4 pages; a RAMZ counted as zero pages would make END disagree.
  await refused(migrationStream([...HEAD, frames.ramz(10, a), STAT, frames.end(0, 4)]), /says 0 pages in 4 frames; the stream had 3 pages/);
});

test('a RAMZ run that does not inflate to exactly its pages is refused, and bounded before it inflates', async () => {
  const one = pages(1, 3);
  const BOMB = deflateRawSync(new Uint8Array(4 << 20), { level: 9 });
  assert.ok(BOMB.length <= PAGE_BYTES, 'the bomb fits a one-page RAMZ frame');
  const cases: [RawFrame, RegExp][] = [
    [frames.ramz(0, one, Uint8Array.of(1, 2, 3, 4)), /frame 3 \("RAMZ".*holds pages that do not inflate to 4096 bytes/],
    [frames.ramz(0, one, deflateRawSync(one).subarray(0, 20)), /do not inflate to 4096 bytes/], // cut short
    [frames.ramz(0, pages(2, 3), deflateRawSync(one)), /inflates to 4096 bytes, not the 8192 of its pages/],
    // More than its pages: a small frame (4 MiB of zeros deflate to under a page) must not inflate into a large allocation.
    [frames.ramz(0, one, BOMB), /do not inflate to 4096 bytes/],
    [frames.ramz(0, one, deflateRawSync(pages(2, 3))), /do not inflate to 4096 bytes/],
    [frames.ramz(0, one, new Uint8Array(0)), /a run of 1 pages in 12 bytes/],
    [frames.ramz(0, one, new Uint8Array(PAGE_BYTES + 1)), /a run of 1 pages in 4109 bytes/], // never larger than its pages as they are
    [frames.ramz(0, new Uint8Array(0), Uint8Array.of(3, 0), 0), /a run of 0 pages/],
    [frames.ramz(PAGES, one), /pages 4096..4096 are beyond memory/],
    [{ tag: MTAG.RAMZ, payload: new Uint8Array(0), length: BigInt(12 + MAX_RUN_PAGES * PAGE_BYTES + 1) }, /claims 4194317 bytes; at most 4194316/],
  ];
  for (const [f, why] of cases) assert.deepEqual((await refused(stream(f), why)).runs, [], String(why));
});

test('SYNC: answered with its pass once everything before it is read; another size is refused', async () => {
  const log = await read(stream(frames.pass(0, 1), frames.ram(0, pages(1, 1)), frames.sync(0), frames.pass(1, 1), frames.ram(1, pages(1, 2)), frames.sync(7)));
  assert.deepEqual(log.synced, [[0, 1], [7, 2]]);
  await refused(stream({ tag: MTAG.SYNC, payload: new Uint8Array(2) }), /frame 3 \("SYNC".*is 2 bytes, not 4/);
  await refused(stream({ tag: MTAG.SYNC, payload: new Uint8Array(5) }), /claims 5 bytes; at most 4/);
  // Before the machine is known there is nothing to answer for.
  await refused(migrationStream(withEnd([frames.helo(IDENTITY), frames.sync(0), frames.conf(SMALL_CONFIG), STAT])), /"SYNC".*is here where "CONF" was due/);
});

test('the header: another magic is not a migration stream, another version is named, a short one is truncated', async () => {
  const list = withEnd([...HEAD, STAT]);
  for (const [bytes, why] of [
    [migrationStream(list, MIGRATION_VERSION, 'TSHVSTAT'), /not a tshv migration stream/],
    [migrationStream(list, 1), /migration stream version 1; this tshv speaks version 2/],
    [migrationStream(list, 0), /migration stream version 0/],
  ] as const) {
    const log = await refused(bytes, why);
    assert.equal(log.begun.length, 0);
    assert.ok((await failure(bytes)).e instanceof MigrationError, 'a wrong header is a MigrationError');
  }
  await refused(stream().subarray(0, 11), /truncated at byte \d+, in the stream header/);
});

test('HELO and CONF: missing, not JSON, too short, or a memory size that disagrees are refused before memory is made', async () => {
  const conf = frames.conf(SMALL_CONFIG);
  const cases: [RawFrame[], RegExp][] = [
    [[conf], /frame 0 \("CONF", at byte 12\) is here where "HELO" was due/],
    [[{ tag: MTAG.HELO, payload: Buffer.from('{"name": ') }, conf], /frame 0 \("HELO".*identity that is not valid JSON/],
    [[{ tag: MTAG.HELO, payload: Uint8Array.of(0x22, 0xff, 0x22) }, conf], /identity that is not valid JSON/], // not UTF-8
    [[frames.helo(IDENTITY), frames.helo(IDENTITY)], /frame 1 \("HELO".*is here where "CONF" was due/],
    [[frames.helo(IDENTITY), { tag: MTAG.CONF, payload: new Uint8Array(7) }], /frame 1 \("CONF".*too short to hold the memory size/],
    [[frames.helo(IDENTITY), frames.conf(SMALL_CONFIG, RAM_BYTES * 2)], /says 33554432 bytes of RAM, its configuration 16777216/],
    [[frames.helo(IDENTITY), frames.conf(SMALL_CONFIG, 2n ** 64n - 1n)], /says 18446744073709551615 bytes of RAM/],
    [[frames.helo(IDENTITY), { tag: MTAG.CONF, payload: Buffer.concat([u64le(RAM_BYTES), Buffer.from('[1,')]) }], /machine configuration that is not valid JSON/],
  ];
  for (const [list, why] of cases) {
    const log = await refused(migrationStream(withEnd([...list, STAT])), why);
    assert.equal(log.begun.length, 0, `memory was made for ${why}`);
  }
});

test('a machine configuration parseSavedConfig refuses is a StateError naming the field, before memory is made', async () => {
  const cases: [unknown, number, RegExp][] = [
    [{ ...SMALL_CONFIG, cpus: 0 }, RAM_BYTES, /cpus/],
    [{ ...SMALL_CONFIG, memoryBytes: 64 << 10 }, 64 << 10, /memoryBytes/], // below the machine's minimum, though the sizes agree
    [{ ...SMALL_CONFIG, console: 'vga' }, RAM_BYTES, /console "vga"/],
    [{ ...SMALL_CONFIG, version: 2 }, RAM_BYTES, /version 2 is not 1/],
    [[], RAM_BYTES, /not an object/],
  ];
  for (const [config, memory, why] of cases) {
    const { e, log } = await failure(migrationStream(withEnd([frames.helo(IDENTITY), frames.conf(config, memory), STAT])));
    assert.ok(e instanceof StateError, `expected a StateError, got ${String(e)}`);
    assert.match(e.message, /machine configuration/);
    assert.match(e.message, why);
    assert.equal(log.begun.length, 0);
  }
});

test('a run must lie inside memory: the last page is fine, one past it is not, nor a first page near 2^64', async () => {
  const log = await read(stream(frames.ram(PAGES - 2, pages(2, 1)), frames.zero(PAGES - 1, 1)));
  assert.deepEqual(log.runs, [[PAGES - 2, 2], [PAGES - 1, 1]]);
  await refused(stream(frames.ram(PAGES - 1, pages(2, 1))), /frame 3 \("RAM".*pages 4095..4096 are beyond memory \(4096 pages\)/);
  await refused(stream(frames.ram(PAGES, pages(1, 1))), /pages 4096..4096 are beyond memory/);
  await refused(stream(frames.zero(PAGES - 3, 4)), /frame 3 \("ZERO".*pages 4093..4096 are beyond memory/);
  await refused(stream(frames.ram(2n ** 64n - 1n, pages(1, 1))), /pages 18446744073709551615..18446744073709551615 are beyond memory/);
  await refused(stream(frames.zero(2n ** 63n, MAX_RUN_PAGES)), /are beyond memory/);
});

test('a run\'s page count: 0 or more than MAX_RUN_PAGES, or not the bytes its frame holds, is refused', async () => {
  const cases: [RawFrame, RegExp][] = [
    [frames.ram(0, new Uint8Array(0), 0), /a run of 0 pages in 12 bytes \(a run is 1..1024 pages\)/],
    [frames.ram(0, pages(MAX_RUN_PAGES, 1), MAX_RUN_PAGES + 1), /a run of 1025 pages in 4194316 bytes/],
    [frames.ram(0, pages(1, 1), 2), /a run of 2 pages in 4108 bytes/],
    [frames.ram(0, pages(2, 1), 1), /a run of 1 pages in 8204 bytes/],
    [frames.ram(0, Buffer.concat([pages(1, 1), Uint8Array.of(9)]), 1), /a run of 1 pages in 4109 bytes/],
    [frames.ram(0, new Uint8Array(100), 0xffff_ffff), /a run of 4294967295 pages/],
    [frames.zero(0, 0), /frame 3 \("ZERO".*a run of 0 pages in 12 bytes/],
    [frames.zero(0, MAX_RUN_PAGES + 1), /a run of 1025 pages/],
    [{ tag: MTAG.RAM, payload: new Uint8Array(8) }, /is 8 bytes, too short for its 12-byte header/],
    [{ tag: MTAG.ZERO, payload: new Uint8Array(11) }, /is 11 bytes, too short for its 12-byte header/],
  ];
  for (const [f, why] of cases) assert.deepEqual((await refused(stream(f), why)).runs, [], 'nothing marked');
  // The largest run there is reads.
  assert.deepEqual((await read(stream(frames.ram(5, pages(MAX_RUN_PAGES, 2))))).runs, [[5, MAX_RUN_PAGES]]);
});

test('frames bounded by their kind: ZERO with pages, PASS of another size, a payload over its kind\'s bound', async () => {
  await refused(stream({ tag: MTAG.ZERO, payload: runPayload(0, 1, pages(1, 1)) }), /frame 3 \("ZERO".*claims 4108 bytes; at most 12 are allowed/);
  await refused(stream({ tag: MTAG.PASS, payload: new Uint8Array(4) }), /frame 3 \("PASS".*is 4 bytes, not 8/);
  await refused(stream({ tag: MTAG.PASS, payload: new Uint8Array(9) }), /claims 9 bytes; at most 8 are allowed/);
  // A length is bounded before anything is read or allocated, whatever the bytes behind it.
  await refused(migrationStream([{ tag: MTAG.HELO, payload: new Uint8Array(0), length: (1n << 20n) + 1n }]), /frame 0 \("HELO".*claims 1048577 bytes; at most 1048576/);
  await refused(stream({ tag: MTAG.RAM, payload: new Uint8Array(0), length: 2n ** 64n - 1n }), /claims 18446744073709551615 bytes/);
});

test('frames that do not belong: unknown tags (skippable or not), unknown flags, a second HELO or CONF, END before STAT', async () => {
  const junk = frameTag('JUNK');
  await refused(stream({ tag: junk, payload: new Uint8Array(4) }), /frame 3 \("JUNK".*has a tag this tshv does not know, and may not be skipped/);
  // A state file skips an ignorable frame; a migration stream has none to skip.
  await refused(stream(frames.pass(3, 0), { tag: junk, flags: FLAG_IGNORABLE, payload: new Uint8Array(4) }), /frame 4 \("JUNK".*is not expected here \(pass 3\)/);
  await refused(stream({ ...frames.pass(0, 0), flags: 2 }), /frame 3 \("PASS".*has unknown flags 0x2/);
  await refused(stream(frames.helo(IDENTITY)), /frame 3 \("HELO".*is not expected here/);
  await refused(stream(frames.conf(SMALL_CONFIG)), /frame 3 \("CONF".*is not expected here/);
  await refused(migrationStream([...HEAD, frames.end(0, 2)]), /frame 3 \("END".*is not expected here/);
});

test('STAT: too short, a time that is not finite, state that is not JSON, or anything but END after it', async () => {
  const stat = (head: Uint8Array, json: string): RawFrame => ({ tag: MTAG.STAT, payload: Buffer.concat([head, Buffer.from(json)]) });
  const time = (v: number) => { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v, true); return b; };
  for (const [f, why] of [
    [stat(new Uint8Array(7), ''), /frame 3 \("STAT".*too short to hold when the guest stopped/],
    [stat(time(NaN), '{}'), /gives no time the guest stopped/],
    [stat(time(Infinity), '{}'), /gives no time the guest stopped/],
    [stat(time(1), '{"vps": ['), /machine state that is not valid JSON/],
  ] as const) {
    await refused(migrationStream(withEnd([...HEAD, f])), why);
  }
  await refused(migrationStream([...HEAD, STAT, frames.pass(1, 0)]), /frame 4 \("PASS".*is here where "END" was due/);
});

test('END\'s totals must be the stream\'s: RAM pages (not ZERO) and frames before it; finish() only after', async () => {
  const body = [...HEAD, frames.pass(0, 3), frames.ram(0, pages(2, 1)), frames.zero(9, 3), STAT];
  assert.ok((await read(migrationStream([...body, frames.end(2, 7)]))).finished);
  await refused(migrationStream([...body, frames.end(5, 7)]), /frame 7 \("END".*says 5 pages in 7 frames; the stream had 2 pages in 7 frames/);
  await refused(migrationStream([...body, frames.end(2, 6)]), /says 2 pages in 6 frames; the stream had 2 pages in 7 frames/);
  await refused(migrationStream([...body, frames.end(2n ** 64n - 1n, 7)]), /says 18446744073709551615 pages/);
  await refused(migrationStream([...body, { tag: MTAG.END, payload: new Uint8Array(8) }]), /frame 7 \("END".*is 8 bytes, not 16/);
});

test('what follows END is not read: the stream is over there (the connection stays open for the replies)', async () => {
  // The source ends the connection only after "running", so the reader cannot wait for its end.
  const good = stream(frames.ram(0, pages(1, 1)));
  const log = await read(Buffer.concat([good, migrationStream([frames.pass(9, 9)]).subarray(12), Buffer.from('junk')]));
  assert.ok(log.finished);
  const conn = new PassThrough();
  const sink = recordingSink();
  conn.write(good); // not ended: the reader must finish without waiting for more
  await readMigration(ByteSource.ofReadable(conn, 'migration stream'), sink);
  assert.ok(sink.log.finished);
  conn.destroy();
});

/** A small good stream, one page of RAM: short enough to cut and damage everywhere. */
const small = stream(frames.pass(0, 1), frames.ram(7, pages(1, 9)));
/** Offsets worth trying: everything outside the page data, every 61st byte inside it. */
function offsets(b: Uint8Array): number[] {
  const ramStart = Buffer.from(b).indexOf(Buffer.from(pages(1, 9).subarray(0, 64)));
  assert.ok(ramStart > 0);
  return Array.from({ length: b.length }, (_, i) => i).filter((i) => i < ramStart || i >= ramStart + PAGE_BYTES || (i - ramStart) % 61 === 0);
}

test('a stream cut anywhere is refused as truncated, from memory and from a connection that closes', async () => {
  assert.ok((await read(small)).finished, 'the whole stream reads');
  for (const n of offsets(small)) await refused(small.subarray(0, n), /truncated at byte \d+, in /);
  for (const n of [5, 40, small.length - 2000, small.length - 1]) {
    const conn = new PassThrough();
    conn.end(small.subarray(0, n));
    await assert.rejects(readMigration(ByteSource.ofReadable(conn, 'migration stream'), recordingSink({ reuse: SHARED_RAM })),
      (e: unknown) => e instanceof StateStreamError && /^migration stream: truncated at byte \d+, in /.test(e.message));
  }
});

test('a flipped bit anywhere is refused; in a payload or a check, by the check', async () => {
  // Where each frame's payload (past a run header, which is bounded before the check can be) and check lie.
  const checked: [number, number][] = [];
  for (let at = 12; at < small.length;) {
    const v = new DataView(small.buffer, small.byteOffset + at);
    const tag = v.getUint32(0, true), length = Number(v.getBigUint64(8, true));
    checked.push([at + 16 + (tag === MTAG.RAM || tag === MTAG.ZERO ? 12 : 0), at + 16 + length + 4]);
    at += 16 + length + 4;
  }
  for (const at of offsets(small)) {
    const b = small.slice();
    b[at]! ^= 1 << (at % 8);
    const { e } = await failure(b);
    assert.ok(e instanceof StateStreamError, `flip at ${at}: ${String(e)}`);
    if (checked.some(([from, to]) => at >= from && at < to)) assert.match(e.message, /fails its check: the stream is damaged/, `flip at ${at}`);
  }
});

test('begin() refusing the VM refuses the stream with its error; nothing more is read', async () => {
  const refusal = new MigrationError('a VM with this id is already here');
  const sink = recordingSink({ refuse: refusal });
  await assert.rejects(read(stream(frames.ram(0, pages(1, 1))), sink), (e) => e === refusal);
  assert.equal(sink.log.begun.length, 1);
  assert.deepEqual(sink.log.runs, []);
  assert.equal(sink.log.finished, undefined);
});

test('disks (a shared-nothing migration): DSKS lists one per machine disk, DBLK and DZER land in them, the last copy wins', async () => {
  const config = { ...SMALL_CONFIG, disks: [{ path: '/a.qcow2', readOnly: false }, { path: '/b.img', readOnly: true }] };
  const head = [frames.helo(IDENTITY), frames.conf(config), frames.dsks([{ size: 1 << 20, format: 'qcow2', readOnly: false }, { size: 4096, format: 'raw', readOnly: true }])];
  const a = pages(16, 7), b = pages(1, 8);
  const log = await read(migrationStream(withEnd([
    ...head, frames.disk(0, 0, a), frames.disk(1, 0, b), frames.pass(0, 0),
    frames.disk(0, 512, 1024), frames.disk(0, (1 << 20) - 512, a.subarray(0, 512)), STAT,
  ])));
  assert.ok(log.finished);
  const [d0, d1] = log.disks!;
  assert.deepEqual(d0!.subarray(0, 512), a.subarray(0, 512));
  assert.ok(d0!.subarray(512, 1536).every((x) => x === 0), 'DZER zeroed its range');
  assert.deepEqual(d0!.subarray(1536, a.length), a.subarray(1536));
  assert.deepEqual(d0!.subarray((1 << 20) - 512), a.subarray(0, 512));
  assert.deepEqual(d1, b);
});

test('disk frames are checked before a byte is written: the disk, whole sectors, inside it, laid out as their kind', async () => {
  const config = { ...SMALL_CONFIG, disks: [{ path: '/a.qcow2', readOnly: false }] };
  const one = [{ size: 1 << 20, format: 'raw', readOnly: false }];
  const head = (list: unknown = one) => [frames.helo(IDENTITY), frames.conf(config), frames.dsks(list)];
  const sector = new Uint8Array(512).fill(9);
  const cases: [RawFrame[], RegExp][] = [
    [[...head(), frames.disk(1, 0, sector)], /is for disk 1, and the stream carries 1 disk/],
    [[...head([]), frames.disk(0, 0, sector)], /is for disk 0, and the stream carries 0 disk/],
    [[...head(), frames.disk(0, 100, sector)], /covers 512 bytes at 100 of disk 0/],
    [[...head(), frames.disk(0, 0, new Uint8Array(100))], /covers 100 bytes at 0/],
    [[...head(), frames.disk(0, (1 << 20) - 512, new Uint8Array(1024))], /covers 1024 bytes at 1048064 of disk 0 \(1048576 bytes/],
    [[...head(), frames.disk(0, 2n ** 64n - 512n, sector)], /covers 512 bytes at 18446744073709551104/],
    [[...head(), frames.disk(0, 0, 0)], /covers 0 bytes/],
    [[...head(), frames.disk(0, 0, 2 << 20)], /covers 2097152 bytes/],
    [[...head(), { tag: MTAG.DBLK, payload: new Uint8Array(8) }], /too short to say which disk/],
    [[...head(), { tag: MTAG.DZER, payload: Buffer.concat([frames.disk(0, 0, 512).payload, new Uint8Array(512)]) }], /claims 528 bytes; at most 16/],
    [[...head(), { tag: MTAG.DBLK, payload: (() => { const p = Buffer.from(frames.disk(0, 0, sector).payload); p.writeUInt32LE(5, 4); return p; })() }], /not laid out as its kind is/],
    [[...head([one[0], one[0]])], /lists 2 disks; the machine has 1/],
    [[...head([{ size: 1000, format: 'raw', readOnly: false }])], /lists disk 0 as/],
    [[...head([{ size: 4096, format: 'vmdk', readOnly: false }])], /lists disk 0 as/],
    [[...head([{ size: 4096, format: 'raw', readOnly: 'no' }])], /lists disk 0 as/],
    [[...head([{ size: 4096, format: 'raw', readOnly: false, path: '/etc/passwd' }])], /lists disk 0 as/],
    [[...head([{ size: 2 ** 60, format: 'raw', readOnly: false }])], /lists disk 0 as/],
    [[...head({ size: 4096 })], /holds no list of disks/],
    [[frames.helo(IDENTITY), frames.conf(config), frames.pass(0, 0)], /"PASS".*is here where "DSKS" was due/],
  ];
  for (const [list, why] of cases) await refused(migrationStream(withEnd([...list, STAT])), why);
});
