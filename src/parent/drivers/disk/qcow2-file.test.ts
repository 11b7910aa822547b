// Qcow2File.sync() is the barrier the qcow2 driver's ordering rests on, and what a guest's
// flush waits for: every write completed before the call must be durable when it returns.
// A fake file handle decides when writes and fdatasyncs finish.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FileHandle } from 'node:fs/promises';
import { Qcow2File } from './qcow2-file.js';

/** A FileHandle whose writes and datasyncs complete when the test says so. */
class SlowHandle {
  readonly writes: (() => void)[] = [];
  readonly datasyncs: { resolve: () => void; reject: (e: Error) => void }[] = [];

  write(_data: Uint8Array, _offset: number, length: number): Promise<{ bytesWritten: number }> {
    return new Promise((resolve) => this.writes.push(() => resolve({ bytesWritten: length })));
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => this.datasyncs.push({ resolve, reject }));
  }
}

const turn = () => new Promise((r) => setImmediate(r));

function file(): { f: Qcow2File; fh: SlowHandle } {
  const fh = new SlowHandle();
  return { f: new Qcow2File(fh as unknown as FileHandle, '/fake.qcow2', 16, 1 << 20), fh };
}

test('sync: a write that completes while an fdatasync runs is made durable by the next sync', async () => {
  const { f, fh } = file();
  // A commit has written metadata; a guest write in place (no mutex) is issued; the
  // commit's fdatasync starts before the guest's write lands.
  const metadata = f.write(new Uint8Array(8), 4096);
  fh.writes[0]();
  await metadata;
  const write = f.write(new Uint8Array(512), 65536);
  await turn();
  const first = f.sync();
  await turn();
  assert.equal(fh.datasyncs.length, 1);
  fh.writes[1](); // the guest's write lands in the page cache after the fdatasync began
  await write;
  // The guest saw its write complete and flushes: that needs an fdatasync of its own.
  const flush = f.sync();
  let flushed = false;
  void flush.then(() => { flushed = true; });
  fh.datasyncs[0].resolve();
  await first;
  await turn();
  assert.equal(fh.datasyncs.length, 2, 'a second fdatasync, begun after the write completed');
  assert.equal(flushed, false, 'the flush waits for it');
  fh.datasyncs[1].resolve();
  await flush;
});

test('sync: callers share an fdatasync begun after their writes; nothing written means no fdatasync', async () => {
  const { f, fh } = file();
  await f.sync();
  assert.equal(fh.datasyncs.length, 0);
  const w = f.write(new Uint8Array(512), 0);
  fh.writes[0]();
  await w;
  const a = f.sync(), b = f.sync();
  await turn();
  assert.equal(fh.datasyncs.length, 1, 'both wait for one fdatasync');
  fh.datasyncs[0].resolve();
  await Promise.all([a, b]);
  await f.sync();
  assert.equal(fh.datasyncs.length, 1, 'nothing written since');
});

test('sync: a failed fdatasync fails its callers, and the next sync tries again', async () => {
  const { f, fh } = file();
  const w = f.write(new Uint8Array(512), 0);
  fh.writes[0]();
  await w;
  const a = f.sync();
  await turn();
  fh.datasyncs[0].reject(Object.assign(new Error('EIO'), { code: 'EIO' }));
  await assert.rejects(a, /fdatasync failed/);
  const b = f.sync();
  await turn();
  assert.equal(fh.datasyncs.length, 2);
  fh.datasyncs[1].resolve();
  await b;
});
