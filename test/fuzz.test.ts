// Every fuzz target for a few hundred cases (test/fuzz/, docs/security.md "Fuzzing"), the
// corpus replayed first, with a fixed seed (FUZZ_SEED=n to try another); and the runner
// itself: it must catch a crash (shrunk, replayable), a hang and an unbounded allocation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatResult, fuzzLogged, fuzzTarget } from './fuzz/runner.js';
import { TARGET_NAMES } from './fuzz/targets.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20240601);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Cases per target: about a second or two each on a loaded 2-core machine. */
const RUNS: Record<string, number> = {
  'virtqueue': 1000, 'virtio-mmio': 600, 'virtio-rng': 300, 'virtio-console': 300, 'virtio-blk': 120, 'qcow2-header': 1000,
  'qcow2': 150, 'fdt': 1000, 'elf': 300, 'kernel-image': 200, 'api': 300, 'state-stream': 3000, 'migration-stream': 300,
};

test('every target has a case count here', () => {
  assert.deepEqual(Object.keys(RUNS).sort(), [...TARGET_NAMES].sort());
});

for (const name of TARGET_NAMES) {
  test(`fuzz ${name}: ${RUNS[name]} cases, no crash, hang or unbounded allocation`, async () => {
    const r = await fuzzTarget(name, { runs: RUNS[name], seed: SEED });
    assert.equal(r.failure, undefined, formatResult(r));
    assert.ok(r.corpus > 0, 'the corpus was replayed');
    assert.equal(r.cases, RUNS[name]);
  });
}

test('the runner shrinks a crash to its minimal counterexample and prints the path that replays it', async () => {
  const r = await fuzzTarget('selftest-crash', { runs: 2000, seed: 1 });
  assert.equal(r.failure?.kind, 'crash');
  assert.equal(r.failure.input, '5001');
  assert.match(r.failure.error, /TypeError/);
  const again = await fuzzTarget('selftest-crash', { seed: 1, path: r.failure.path });
  assert.equal(again.failure?.input, '5001', 'the path replays the same case');
  assert.match(formatResult(r), new RegExp(`reproduce: npm run fuzz -- selftest-crash --seed 1 --path ${r.failure.path}`));
});

test('the runner catches a hang (a case past its time bound) and shows the case', async () => {
  const r = await fuzzTarget('selftest-hang', { runs: 2000, seed: 1 });
  assert.equal(r.failure?.kind, 'hang');
  assert.ok(Number(r.failure.input) > 100, r.failure.input);
});

test('the runner catches an allocation beyond the target\'s bound', async () => {
  const r = await fuzzTarget('selftest-alloc', { runs: 2000, seed: 1 });
  assert.equal(r.failure?.kind, 'unbounded-allocation');
  assert.equal(r.failure.input, '101');
});

test('npm run fuzz: --list names every target; a failure exits 1 with the seed and the path', () => {
  const list = spawnSync(process.execPath, ['scripts/fuzz.js', '--list'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(list.status, 0);
  for (const name of TARGET_NAMES) assert.match(list.stdout, new RegExp(`^  ${name} `, 'm'));
  assert.doesNotMatch(list.stdout, /selftest/);
  const bad = spawnSync(process.execPath, ['scripts/fuzz.js', 'selftest-crash', '--runs', '2000', '--seed', '7'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(bad.status, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /FAILED \(crash\)/);
  assert.match(bad.stdout, /minimal counterexample \(\d+ shrinks\): 5001/);
  assert.match(bad.stdout, /reproduce: npm run fuzz -- selftest-crash --seed 7 --path \d+(:\d+)*/);
  const usage = spawnSync(process.execPath, ['scripts/fuzz.js', 'nonesuch'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(usage.status, 2);
});

test('a logged run (--log) goes in chunks, resumes after the last finished one, and names the failing chunk\'s seed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tshv-fuzzlog-')), log = join(dir, 'virtqueue.log');
  try {
    const r = await fuzzLogged('virtqueue', { runs: 250, chunk: 100, seed: 5, log });
    assert.equal(r.failure, undefined, formatResult(r));
    assert.deepEqual([r.cases, r.chunks], [250, 3]);
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], { target: 'virtqueue', seed: 5, runs: 250, chunk: 100 });
    assert.deepEqual(lines.slice(1).map((c) => [c.k, c.seed, c.cases]), [[0, 5, 100], [1, 6, 100], [2, 7, 50]]);
    // A stop in the middle of writing the last chunk: that chunk runs again, nothing else does.
    writeFileSync(log, readFileSync(log, 'utf8').replace(/\{"k":2.*\n$/, '{"k":2,"se'));
    const again = await fuzzLogged('virtqueue', { runs: 250, chunk: 100, log });
    assert.deepEqual([again.cases, again.chunks, again.seed], [250, 3, 5]);
    const done = await fuzzLogged('virtqueue', { runs: 250, chunk: 100, log });
    assert.equal(done.seconds, again.seconds, 'a finished run runs nothing more');
    await assert.rejects(fuzzLogged('virtqueue', { runs: 300, chunk: 100, log }), /run of 250 cases in chunks of 100/);
    await assert.rejects(fuzzLogged('fdt', { runs: 250, chunk: 100, log }), /log of target virtqueue/);

    const bad = await fuzzLogged('selftest-crash', { runs: 3000, chunk: 1, seed: 40, log: join(dir, 'crash.log') });
    assert.equal(bad.failure?.kind, 'crash');
    assert.equal(bad.failedChunkSeed, 40 + bad.chunks! - 1);
    assert.match(formatResult(bad), new RegExp(`reproduce: npm run fuzz -- selftest-crash --seed ${bad.failedChunkSeed} --path`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
