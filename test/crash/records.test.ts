// The crash loop's record format: the shell workload the guests run, run here by the host's
// /bin/sh and dd into a file, writes exactly the bytes the host expects, where it expects
// them, and says FLUSHED when it should.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeBlock, foreignBytes, LINE_BYTES, parseLine, parseWorkloadLine, RECORD_BYTES, recordBytes, slotOf, workloadScript, type Layout,
} from './records.js';

const layout: Layout = { vm: 2, writers: 2, step: 389, slots: 1024 };

test('the workload script, run by /bin/sh, writes the records the host expects and prints FLUSHED after each flush', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tshv-records-'));
  try {
    const device = join(dir, 'device');
    const script = workloadScript(layout, 7, [{ writer: 0, first: 5 }, { writer: 1, first: 12 }], { device, tmp: dir, end: 30 });
    assert.ok(script.length < 4000, `one tty line: ${script.length} bytes`);
    const r = spawnSync('/bin/sh', ['-c', `${script} wait`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map(parseWorkloadLine);
    const flushed = (w: number) => lines.filter((l) => l?.kind === 'flushed' && l.writer === w).map((l) => l!.n);
    assert.deepEqual(flushed(0), Array.from({ length: 25 }, (_, i) => 5 + i), 'writer 0 flushes every record');
    assert.deepEqual(flushed(1), [15, 19, 23, 27], 'writer 1 flushes every 4th record');

    const fd = openSync(device, 'r');
    const block = Buffer.alloc(RECORD_BYTES);
    for (const [w, first] of [[0, 5], [1, 12]]) {
      for (let n = first; n < 30; n++) {
        readSync(fd, block, 0, RECORD_BYTES, slotOf(layout, w, n) * RECORD_BYTES);
        assert.ok(block.equals(recordBytes({ vm: 2, writer: w, gen: 7, n })), `writer ${w} record ${n}: ${describeBlock(block)}`);
      }
    }
    closeSync(fd);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('slots are a permutation; lines parse and name their record; foreign bytes are told apart from lost writes', () => {
  const seen = new Set<number>();
  for (let n = 0; n < layout.slots / 2; n++) for (const w of [0, 1]) seen.add(slotOf(layout, w, n));
  assert.equal(seen.size, layout.slots);

  const id = { vm: 2, writer: 1, gen: 4, n: 99 };
  const rec = recordBytes(id);
  assert.deepEqual(parseLine(rec.subarray(LINE_BYTES * 3, LINE_BYTES * 4)), { ...id, index: 3 });
  const bad = Buffer.from(rec);
  bad[LINE_BYTES * 3 + 30] ^= 1; // a digit of n changes: the check value no longer matches
  assert.equal(parseLine(bad.subarray(LINE_BYTES * 3, LINE_BYTES * 4)), null);

  // After the last flush: zeros, an older generation of the same record, or a torn mix are fine.
  assert.equal(foreignBytes(Buffer.alloc(RECORD_BYTES), id), null);
  const torn = Buffer.concat([recordBytes({ ...id, gen: 3 }).subarray(0, 2048), Buffer.alloc(2048)]);
  assert.equal(foreignBytes(torn, id), null);
  // Another record's bytes, or garbage, are not.
  assert.match(foreignBytes(recordBytes({ ...id, n: 98 }), id)!, /record vm=2 writer=1 gen=4 n=98 in every line/);
  assert.match(foreignBytes(bad, id)!, /unrecognised bytes in lines 3/);
  assert.match(describeBlock(Buffer.alloc(RECORD_BYTES)), /all zeros/);
});
