import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLAG_IGNORABLE, FORMAT_VERSION, MAX_MEMORY_BYTES, PAGE_BYTES, StateStreamError, TAG } from './format.js';
import { openStateStream, type StateSource } from './reader.js';
import { buildStream, patternRam, runPayload, splitFrames, u64le, type RawFrame } from './test-support.js';
import { writeStateStream } from './writer.js';

const dir = mkdtempSync(join(tmpdir(), 'tshv-state-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const RAM_BYTES = 64 << 10; // 16 pages

/** A small valid stream: pages 0, 1 and 15 set, so it has two runs and ends at the last page. */
async function smallStream(): Promise<Uint8Array> {
  const ram = patternRam(RAM_BYTES, (p) => (p <= 1 || p === 15 ? p + 3 : 0));
  const path = join(dir, 'small.tshvstate');
  await writeStateStream(path, { config: { cpus: 1, memoryBytes: RAM_BYTES }, state: { version: 1, vps: [] }, ram });
  return new Uint8Array(readFileSync(path));
}
const small = await smallStream();

/** Reads a whole stream; returns the error it fails with (undefined if it reads). */
async function failure(source: StateSource, ramBytes = RAM_BYTES): Promise<unknown> {
  try {
    const s = await openStateStream(source);
    try {
      await s.readRam(new Uint8Array(ramBytes));
    } finally {
      await s.close();
    }
    return undefined;
  } catch (e) {
    return e;
  }
}

async function rejects(source: StateSource, message: RegExp, ramBytes = RAM_BYTES): Promise<void> {
  const e = await failure(source, ramBytes);
  assert.ok(e instanceof StateStreamError, `expected a StateStreamError, got ${e === undefined ? 'success' : String(e)}`);
  assert.match(e.message, message);
}

/** The small stream's frames, changed by `edit`, rebuilt with correct checks. */
const edited = (edit: (frames: RawFrame[]) => RawFrame[], version = FORMAT_VERSION) => buildStream(edit(splitFrames(small)), version);
const conf = (memoryBytes: number | bigint, json = '{}') => ({ tag: TAG.CONF, payload: Buffer.concat([u64le(memoryBytes), Buffer.from(json)]) });

test('the small stream reads, from bytes and from a file', async () => {
  assert.equal(await failure(small), undefined);
  assert.ok(small.length < 4 * PAGE_BYTES);
  const path = join(dir, 'copy.tshvstate');
  writeFileSync(path, small);
  assert.equal(await failure(path), undefined);
});

test('every truncation of a stream is a StateStreamError', async () => {
  for (let n = 0; n < small.length; n++) {
    const e = await failure(small.subarray(0, n));
    assert.ok(e instanceof StateStreamError, `cut at ${n}: ${String(e)}`);
    assert.match(e.message, n >= 8 ? /truncated/ : n === 0 ? /not a tshv state file/ : /truncated|not a tshv/);
  }
  const path = join(dir, 'cut.tshvstate');
  writeFileSync(path, small.subarray(0, small.length - 1));
  await rejects(path, /truncated at byte \d+, in frame 4 \("END"/);
});

test('every flipped byte of a stream is a StateStreamError; inside a payload or a check, a failed check', async () => {
  // Payloads (past a RAM frame's run header, which is bounded before the check can be) and checks.
  const checked: [number, number][] = [];
  let at = 12;
  for (const f of splitFrames(small)) {
    checked.push([at + 16 + (f.tag === TAG.RAM ? 12 : 0), at + 16 + f.payload.length + 4]);
    at += 16 + f.payload.length + 4;
  }
  for (let at = 0; at < small.length; at++) {
    const b = small.slice();
    b[at] ^= 1 << (at % 8);
    const e = await failure(b);
    assert.ok(e instanceof StateStreamError, `byte ${at}: ${String(e)}`);
    if (checked.some(([from, to]) => at >= from && at < to)) assert.match(e.message, /fails its check/, `byte ${at}`);
  }
});

test('a frame that claims more than its bound is refused before anything is allocated or read', async () => {
  for (const tag of [TAG.CONF, TAG.STAT, TAG.RAM, TAG.END]) {
    const frames = splitFrames(small);
    const i = frames.findIndex((f) => f.tag === tag);
    frames[i] = { ...frames[i]!, length: 1n << 60n };
    await rejects(buildStream(frames), /claims 1152921504606846976 bytes; at most \d+ are allowed/);
  }
  const unknown = { tag: 0x4b4e554a, flags: FLAG_IGNORABLE, payload: new Uint8Array(0), length: (1n << 64n) - 1n };
  await rejects(edited((f) => [f[0]!, unknown, ...f.slice(1)]), /claims 18446744073709551615 bytes/);
  // Within the bound but past the end of the stream: refused from the size, not by reading.
  await rejects(edited((f) => [f[0]!, { tag: TAG.STAT, payload: new Uint8Array(10), length: 16n << 20n }]), /which needs 16777220 more bytes where \d+ remain/);
});

test('RAM runs must lie in memory, in order, not overlapping, 1..1024 whole pages', async () => {
  const page = new Uint8Array(PAGE_BYTES).fill(5);
  const withRuns = (...runs: Uint8Array[]) => edited((f) => [f[0]!, f[1]!, ...runs.map((payload) => ({ tag: TAG.RAM, payload })),
    { tag: TAG.END, payload: u64le(runs.length, 2 + runs.length) }]);
  await rejects(withRuns(runPayload(16, 1, page)), /pages 16\.\.16 are beyond memory \(16 pages\)/);
  await rejects(withRuns(runPayload(15, 2, Buffer.concat([page, page]))), /beyond memory/);
  await rejects(withRuns(runPayload((1n << 64n) - 1n, 1, page)), /beyond memory/);
  await rejects(withRuns(runPayload(3, 1, page), runPayload(3, 1, page)), /not after the previous run/);
  await rejects(withRuns(runPayload(4, 2, Buffer.concat([page, page])), runPayload(5, 1, page)), /not after the previous run/);
  await rejects(withRuns(runPayload(5, 1, page), runPayload(2, 1, page)), /not after the previous run/);
  await rejects(withRuns(runPayload(0, 0, new Uint8Array(0))), /a run of 0 pages/);
  await rejects(withRuns(runPayload(0, 2, page)), /a run of 2 pages in 4108 bytes/);
  await rejects(withRuns(runPayload(0, 1, Buffer.concat([page, page]))), /a run of 1 pages in 8204 bytes/);
  await rejects(withRuns(new Uint8Array(5)), /too short for its 12-byte header/);
  assert.equal(await failure(withRuns(runPayload(0, 1, page), runPayload(15, 1, page))), undefined);
});

test('not a state file, or a version this tshv does not read', async () => {
  await rejects(new Uint8Array(0), /not a tshv state file/);
  await rejects(Buffer.from('#!/bin/sh\necho hello\n'), /not a tshv state file/);
  await rejects(Buffer.from('TSHV'), /truncated at byte 4, in the file header/);
  await rejects(edited((f) => f, 2), /format version 2 is newer than this tshv knows.*reads versions 1\.\.1/);
  await rejects(edited((f) => f, 0xffffffff), /format version 4294967295 is newer/);
  await rejects(edited((f) => f, 0), /format version 0 is not one tshv has written/);
});

test('frames out of order, repeated or missing are refused', async () => {
  const [c, s, r1, r2, end] = splitFrames(small) as [RawFrame, RawFrame, RawFrame, RawFrame, RawFrame];
  await rejects(buildStream([c, c, s, r1, r2, end]), /frame 1 \("CONF".*a second configuration/);
  await rejects(buildStream([s, c, r1, r2, end]), /device state before the configuration/);
  await rejects(buildStream([c, r1, s, r2, end]), /"RAM".*unexpected before the device state/);
  await rejects(buildStream([end]), /"END".*unexpected before the configuration/);
  await rejects(buildStream([c, s, r1, s, r2, end]), /"STAT".*a second one/);
  await rejects(buildStream([c, s, r1, c, r2, end]), /"CONF".*a second one/);
  await rejects(buildStream([c, s, r1, r2]), /truncated at byte \d+, in the header of frame 4/);
  await rejects(buildStream([c, s]), /truncated/);
  await rejects(buildStream([c, s, r2, r1, end]), /not after the previous run/);
  await rejects(buildStream([c, s, r1, end]), /END.*says 3 pages in 4 frames; the stream had 2 pages in 3 frames/);
  await rejects(Buffer.concat([small, new Uint8Array(1)]), /bytes follow the END frame, at byte \d+/);
  await rejects(Buffer.concat([small, small]), /bytes follow the END frame/);
  await rejects(buildStream([c, s, r1, r2, { ...end, payload: end.payload.subarray(0, 8) }]), /"END".*is 8 bytes, not 16/);
});

test('a frame of unknown tag is skipped (its check verified) if ignorable, refused otherwise; unknown flags are refused', async () => {
  const note = { tag: 0x45544f4e, flags: FLAG_IGNORABLE, payload: new Uint8Array(200_000).fill(7) }; // "NOTE"
  const frames = splitFrames(small);
  const withNotes = buildStream([frames[0]!, note, frames[1]!, frames[2]!, note, frames[3]!, note, { ...frames[4]!, payload: u64le(3, 7) }]);
  assert.equal(await failure(withNotes), undefined);
  await rejects(edited((f) => [f[0]!, { ...note, flags: 0 }, ...f.slice(1)]), /frame 1 \("NOTE".*has a tag this tshv does not know, and may not be skipped/);
  await rejects(edited((f) => [f[0]!, { tag: 0x00ff0102, payload: new Uint8Array(1) }, ...f.slice(1)]), /frame 1 \(0x00ff0102/);
  await rejects(edited((f) => [{ ...f[0]!, flags: 2 }, ...f.slice(1)]), /has unknown flags 0x2/);
  const damaged = withNotes.slice();
  damaged[12 + 16 + frames[0]!.payload.length + 4 + 16 + 1000] ^= 1; // inside the first NOTE
  await rejects(damaged, /frame 1 \("NOTE".*fails its check: the stream is damaged/);
});

test('the configuration: memoryBytes bounded, JSON valid, and the caller\'s validator has the last word', async () => {
  const keep = (f: RawFrame[]) => f.slice(1);
  await rejects(edited((f) => [conf(0), ...keep(f)]), /gives 0 bytes of RAM/);
  await rejects(edited((f) => [conf(5000), ...keep(f)]), /gives 5000 bytes of RAM/);
  await rejects(edited((f) => [conf(MAX_MEMORY_BYTES + PAGE_BYTES), ...keep(f)]), /not whole 4 KiB pages up to/);
  await rejects(edited((f) => [conf(1n << 63n), ...keep(f)]), /gives 9223372036854775808 bytes/);
  await rejects(edited((f) => [{ tag: TAG.CONF, payload: new Uint8Array(7) }, ...keep(f)]), /too short to hold the memory size/);
  await rejects(edited((f) => [conf(RAM_BYTES, '{"cpus": '), ...keep(f)]), /holds a machine configuration that is not valid JSON/);
  await rejects(edited((f) => [conf(RAM_BYTES, '\xff'), ...keep(f)]), /not valid JSON/);
  await rejects(edited((f) => [f[0]!, { tag: TAG.STAT, payload: Buffer.from([0xc3, 0x28]) }, ...f.slice(2)]), /device state that is not valid JSON/);
  await rejects(edited((f) => [f[0]!, { tag: TAG.STAT, payload: Buffer.from('['.repeat(200_000)) }, ...f.slice(2)]), /not valid JSON/);
  await rejects(small, /holds 65536 bytes of RAM, not 131072/, 2 * RAM_BYTES);

  const seen: unknown[] = [];
  const s = await openStateStream(small, { config: (json, version) => { seen.push(json, version); return { cpus: 1 as const }; } });
  assert.deepEqual(s.config, { cpus: 1 });
  assert.deepEqual(seen, [{ cpus: 1, memoryBytes: RAM_BYTES }, 1]);
  await s.close();
  await assert.rejects(openStateStream(small, { config: () => { throw new Error('cpus: 0 is not in 1..32'); } }),
    (e) => e instanceof StateStreamError && /the machine configuration is refused: cpus: 0 is not in 1\.\.32/.test(e.message));
});

test('a path that is missing, a directory or a FIFO is refused at once (a FIFO would block open)', async () => {
  await rejects(join(dir, 'missing.tshvstate'), /cannot open: ENOENT/);
  await rejects(dir, /not a regular file|EISDIR/);
  const fifo = join(dir, 'fifo');
  if (spawnSync('mkfifo', [fifo]).status === 0) await rejects(fifo, /not a regular file/);
});

// The guard that a newer tshv still reads format 1: a stream written by the first format's
// writer, committed. Regenerate it only while FORMAT_VERSION is 1 (TSHV_REGENERATE_FIXTURES=1).
const FIXTURE = new URL('../../../../test/fixtures/state/format-1.tshvstate', import.meta.url);
const fixtureConfig = { cpus: 2, memoryBytes: RAM_BYTES, console: 'virtio', disks: [{ path: 'root.qcow2', readOnly: false }], append: 'console=hvc0' };
const fixtureState = { version: 1, devices: { 'goldfish-rtc': { version: 1, offsetNs: '-5', alarmNs: '0' } }, vps: [{ pc: '2147483648' }] };
const fixtureRam = () => patternRam(RAM_BYTES, (p) => (p === 0 || p === 1 || p === 15 ? 0x40 + p : 0));

test('format 1: the committed stream still reads, and while 1 is current the writer still writes exactly it', async () => {
  if (process.env.TSHV_REGENERATE_FIXTURES === '1' && FORMAT_VERSION === 1) {
    await writeStateStream(fileURLToPath(FIXTURE), { config: fixtureConfig, state: fixtureState, ram: fixtureRam() });
  }
  const s = await openStateStream(fileURLToPath(FIXTURE));
  assert.equal(s.formatVersion, 1);
  assert.deepEqual(s.config, fixtureConfig);
  assert.deepEqual(s.state, fixtureState);
  const ram = new Uint8Array(RAM_BYTES);
  assert.deepEqual(await s.readRam(ram), { ramPages: 3 });
  await s.close();
  assert.deepEqual(ram, fixtureRam());
  if (FORMAT_VERSION === 1) {
    const path = join(dir, 'again.tshvstate');
    await writeStateStream(path, { config: fixtureConfig, state: fixtureState, ram: fixtureRam() });
    assert.ok(readFileSync(path).equals(readFileSync(FIXTURE)), 'format 1 changed without a new version');
  }
});
