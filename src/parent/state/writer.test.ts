import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECK_BYTES, FRAME_HEADER_BYTES, HEADER_BYTES, MAX_RUN_PAGES, PAGE_BYTES, RUN_HEADER_BYTES, StateStreamError, TAG } from './format.js';
import { openStateStream } from './reader.js';
import { patternRam, splitFrames } from './test-support.js';
import { writeStateStream } from './writer.js';

const dir = mkdtempSync(join(tmpdir(), 'tshv-state-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const MiB = 1 << 20;

const config = { cpus: 2, memoryBytes: 8 * MiB, console: 'virtio', disks: [{ path: '/images/root.qcow2', readOnly: false }], append: 'console=hvc0 ü' };
const state = { version: 1, devices: { 'goldfish-rtc': { version: 1, offsetNs: '-123' } }, vps: [{ pc: '2147483648' }, { pc: '0' }] };

/** 8 MiB: scattered pages, a run of 1500 pages (longer than one frame), zero stretches, the last page set. */
function sampleRam(): Uint8Array {
  let seed = 7;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) / 65536;
  return patternRam(8 * MiB, (p) => {
    if (p >= 300 && p < 1800) return p;
    if (p === 2047) return 9;
    if (p < 100 || (p >= 1900 && p < 2000)) return 0;
    return random() < 0.3 ? p + 1 : 0;
  }, true);
}

const nonZeroPages = (ram: Uint8Array) => {
  let n = 0;
  for (let p = 0; p < ram.length / PAGE_BYTES; p++) if (ram.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES).some((b) => b !== 0)) n++;
  return n;
};

test('a round trip gives back the configuration, the state and every page; zero pages take no room', async () => {
  const ram = sampleRam();
  const path = join(dir, 'round.tshvstate');
  const r = await writeStateStream(path, { config, state, ram });
  const pages = nonZeroPages(ram);
  assert.equal(r.ramPages, pages);
  assert.equal(r.zeroPages, 2048 - pages);
  assert.equal(r.bytes, statSync(path).size);
  assert.equal(statSync(path).mode & 0o777, 0o600, 'guest RAM is private to its owner');
  assert.ok(!existsSync(`${path}.tmp`));

  const frames = splitFrames(readFileSync(path));
  const ramFrames = frames.filter((f) => f.tag === TAG.RAM);
  assert.deepEqual(frames.map((f) => f.tag), [TAG.CONF, TAG.STAT, ...ramFrames.map(() => TAG.RAM), TAG.END]);
  assert.ok(ramFrames.every((f) => f.payload.length <= RUN_HEADER_BYTES + MAX_RUN_PAGES * PAGE_BYTES));
  assert.ok(ramFrames.some((f) => f.payload.length === RUN_HEADER_BYTES + MAX_RUN_PAGES * PAGE_BYTES), 'the long run was cut at a frame');
  const overhead = HEADER_BYTES + frames.length * (FRAME_HEADER_BYTES + CHECK_BYTES) + ramFrames.length * RUN_HEADER_BYTES
    + frames[0]!.payload.length + frames[1]!.payload.length + 16;
  assert.equal(r.bytes, pages * PAGE_BYTES + overhead, 'nothing but the non-zero pages and the framing');
  assert.ok(overhead < 0.02 * r.bytes, `overhead ${overhead} of ${r.bytes}`);

  const s = await openStateStream(path);
  assert.equal(s.formatVersion, 1);
  assert.equal(s.memoryBytes, ram.length);
  assert.deepEqual(s.config, config);
  assert.deepEqual(s.state, state);
  const back = new Uint8Array(new SharedArrayBuffer(ram.length));
  assert.deepEqual(await s.readRam(back), { ramPages: pages });
  await s.close();
  assert.ok(Buffer.from(back).equals(Buffer.from(ram)));
});

test('RAM that is not zero yet is zeroed where the stream holds no page, when the caller says so', async () => {
  const ram = sampleRam();
  const path = join(dir, 'dirty.tshvstate');
  await writeStateStream(path, { config, state, ram });
  const back = new Uint8Array(ram.length).fill(0xee);
  const s = await openStateStream(path);
  await s.readRam(back, { ramIsZero: false });
  await s.close();
  assert.ok(Buffer.from(back).equals(Buffer.from(ram)));
});

test('an all-zero RAM is a stream of a few hundred bytes; a full one is its pages and ~0.1% framing', async () => {
  const zero = new Uint8Array(16 * MiB);
  const r = await writeStateStream(join(dir, 'zero.tshvstate'), { config: {}, state: {}, ram: zero });
  assert.deepEqual([r.ramPages, r.zeroPages], [0, 4096]);
  assert.ok(r.bytes < 200, `${r.bytes}`);
  const full = new Uint8Array(4 * MiB + PAGE_BYTES).fill(1);
  const f = await writeStateStream(join(dir, 'full.tshvstate'), { config: {}, state: {}, ram: full });
  assert.equal(f.ramPages, 1025);
  assert.equal(f.bytes, full.length + HEADER_BYTES + 5 * (FRAME_HEADER_BYTES + CHECK_BYTES) + 2 * RUN_HEADER_BYTES + 8 + 2 + 2 + 16);
  const s = await openStateStream(join(dir, 'full.tshvstate'));
  const back = new Uint8Array(full.length);
  await s.readRam(back);
  await s.close();
  assert.ok(back.every((b) => b === 1));
});

test('progress: writing reports RAM scanned and reading reports stream bytes, both monotonic and ending at their total', async () => {
  const ram = patternRam(32 * MiB, (p) => (p % 3 === 0 ? 0 : p + 1)); // ~21 MiB written: several batches
  const path = join(dir, 'progress.tshvstate');
  const wrote: [number, number][] = [];
  await writeStateStream(path, { config, state, ram, onProgress: (d, t) => wrote.push([d, t]) });
  const read: [number, number][] = [];
  const s = await openStateStream(path);
  await s.readRam(new Uint8Array(ram.length), { onProgress: (d, t) => read.push([d, t]) });
  await s.close();
  const size = statSync(path).size;
  for (const [calls, total] of [[wrote, ram.length], [read, size]] as const) {
    assert.ok(calls.length >= 3, `${calls.length} calls`);
    assert.ok(calls.every(([d, t], i) => t === total && d <= t && (i === 0 || d >= calls[i - 1]![0])), JSON.stringify(calls));
    assert.deepEqual(calls.at(-1), [total, total]);
  }
});

test('the stream goes to and comes from an open FileHandle, and from bytes in memory', async () => {
  const ram = patternRam(64 << 10, (p) => (p % 2 ? p : 0));
  const path = join(dir, 'handle.tshvstate');
  writeFileSync(path, new Uint8Array(1 << 20).fill(9)); // longer than the stream: it replaces all of it
  const fh = await open(path, 'r+');
  const r = await writeStateStream(fh, { config: [1, 2], state: 'text', ram });
  const s = await openStateStream(fh);
  assert.deepEqual([s.config, s.state], [[1, 2], 'text']);
  const back = new Uint8Array(ram.length);
  await s.readRam(back);
  await s.close();
  await fh.stat(); // not closed by the stream: the caller owns it
  await fh.close();
  assert.ok(Buffer.from(back).equals(Buffer.from(ram)));
  const bytes = readFileSync(path);
  assert.equal(bytes.length, r.bytes);
  const m = await openStateStream(new Uint8Array(bytes));
  const back2 = new Uint8Array(ram.length);
  await m.readRam(back2);
  await m.close();
  assert.ok(Buffer.from(back2).equals(Buffer.from(ram)));
});

test('what cannot be saved is refused before the file is touched: no final file, no .tmp', async () => {
  const ram = patternRam(64 << 10, (p) => p);
  const sub = join(dir, 'refused');
  mkdirSync(sub);
  const path = join(sub, 'vm.tshvstate');
  await assert.rejects(writeStateStream(path, { config, state: { big: 1n }, ram }), (e) => e instanceof StateStreamError && /device state cannot be saved/.test(e.message));
  await assert.rejects(writeStateStream(path, { config, state: { toJSON() { throw new Error('device busy'); } }, ram }), /device busy/);
  await assert.rejects(writeStateStream(path, { config, state: undefined, ram }), /not a JSON value/);
  await assert.rejects(writeStateStream(path, { config: 'x'.repeat(2 * MiB), state, ram }), /configuration is larger/);
  await assert.rejects(writeStateStream(path, { config, state, ram: new Uint8Array(5000) }), /whole 4 KiB pages/);
  await assert.rejects(writeStateStream(join(dir, 'no-such-dir', 'vm.tshvstate'), { config, state, ram }), (e) => e instanceof StateStreamError && /cannot create/.test(e.message));
  assert.deepEqual(readdirSync(sub), []);
});

test('a save that fails while writing, or when renaming, leaves no .tmp and an earlier save untouched', async () => {
  const ram = patternRam(64 << 10, (p) => p + 1);
  const sub = join(dir, 'failing');
  mkdirSync(sub);
  const path = join(sub, 'vm.tshvstate');
  await writeStateStream(path, { config, state, ram });
  const before = readFileSync(path);
  await assert.rejects(writeStateStream(path, { config, state: { other: true }, ram, onProgress() { throw new Error('cancelled'); } }), /cancelled/);
  assert.deepEqual(readdirSync(sub), ['vm.tshvstate']);
  assert.ok(readFileSync(path).equals(before));

  const occupied = join(sub, 'occupied');
  mkdirSync(occupied);
  writeFileSync(join(occupied, 'x'), 'x'); // a non-empty directory under the final name: rename(2) fails
  await assert.rejects(writeStateStream(occupied, { config, state, ram }), (e) => e instanceof StateStreamError && /rename/.test(e.message));
  assert.deepEqual(readdirSync(sub).sort(), ['occupied', 'vm.tshvstate']);
});
