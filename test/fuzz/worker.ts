// One fuzz target in a worker thread (runner.ts starts it). The runner watches the
// heartbeat: a case that runs past its time bound is a hang, and the worker is terminated
// (a sync parser stuck in a loop cannot be interrupted any other way). Each case's growth
// of the JS heap and array buffers is measured here against the target's bound.
import { parentPort, workerData } from 'node:worker_threads';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { TARGETS } from './targets.js';
import { readCorpus } from './corpus.js';
import { Finding, noteError, setNoting, show as showJson, takeNotes, type FuzzTarget } from './harness.js';
import { HB, HB_START_OFFSET, type FailureKind, type WorkerJob, type WorkerMessage } from './protocol.js';

/** A case grew the heap past its bound. */
export class UnboundedAllocation extends Finding {}

const SHOW_MAX = 6000;

/** A full garbage collection (the --expose-gc function, taken from a fresh context: workers cannot get V8 flags). */
function collector(): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

async function main(job: WorkerJob): Promise<void> {
  const post = (m: WorkerMessage) => parentPort!.postMessage(m);
  const entry = TARGETS[job.target];
  if (!entry) throw new Error(`no fuzz target ${job.target}`);
  const target: FuzzTarget<unknown, unknown> = await entry.load();
  const seeds = target.fromCorpus(readCorpus(job.target));
  const caseTimeoutMs = job.caseTimeoutMs ?? target.caseTimeoutMs ?? (target.async ? 10_000 : 2_000);
  post({ type: 'ready', corpus: seeds.length, caseTimeoutMs, async: target.async });
  const arb = target.arbitrary(seeds);
  const examples = seeds.map((s) => [s] as [unknown]);
  const show = (input: unknown) => {
    const text = target.show ? target.show(input) : showJson(input);
    return text.length > SHOW_MAX ? `${text.slice(0, SHOW_MAX)}... (${text.length} characters)` : text;
  };

  if (job.describe) {
    let input = '';
    fc.check(fc.property(arb, (x) => { input ||= show(x); return true; }), { seed: job.seed, path: job.path, numRuns: 1, examples });
    post({ type: 'described', input });
    return;
  }

  const ctx = target.setup ? await target.setup() : undefined;
  const i32 = new Int32Array(job.heartbeat, 0, 4);
  const started = new Float64Array(job.heartbeat, HB_START_OFFSET, 1);
  let index = -1, firstFailure = -1, lastProgress = Date.now();
  const gc = collector();
  const enter = () => {
    if (firstFailure < 0) index++;
    // While shrinking, each candidate's allocation is measured from a collected heap: the
    // garbage of the failing cases before it would hide or fake growth.
    else gc?.();
    i32[HB.index] = index;
    started[0] = Date.now();
    Atomics.store(i32, HB.busy, 1);
  };
  const leave = (failed: boolean) => {
    Atomics.store(i32, HB.busy, 0);
    if (failed && firstFailure < 0) { firstFailure = index; Atomics.store(i32, HB.shrinking, 1); }
    const now = Date.now();
    if (firstFailure < 0 && now - lastProgress >= 1000) { lastProgress = now; post({ type: 'progress', cases: index + 1 }); }
  };
  const heap = () => { const h = v8.getHeapStatistics(); return h.used_heap_size + h.external_memory; };
  const bounded = (input: unknown, before: number) => {
    const grown = heap() - before, bound = target.memoryBound?.(input) ?? 256 << 20;
    if (grown > bound) throw new UnboundedAllocation(`one case grew the heap by ${grown} bytes, over its bound of ${bound}`);
  };
  const swallow = (e: unknown) => { if (!target.expected(e)) throw e; noteError(e); };
  setNoting(job.stats ?? false);

  const prop = target.async
    ? fc.asyncProperty(arb, async (input) => {
      enter();
      let failed = true;
      try {
        const before = heap();
        try { await target.run(input, ctx); } catch (e) { swallow(e); }
        bounded(input, before);
        failed = false;
      } finally { leave(failed); }
    })
    : fc.property(arb, (input) => {
      enter();
      let failed = true;
      try {
        const before = heap();
        try { target.run(input, ctx); } catch (e) { swallow(e); }
        bounded(input, before);
        failed = false;
      } finally { leave(failed); }
    });

  const params: fc.Parameters<[unknown]> = {
    seed: job.seed, numRuns: job.runs, examples, path: job.path, endOnFailure: false,
    ...(target.async ? { timeout: caseTimeoutMs } : {}),
    ...(job.timeLimitMs ? { interruptAfterTimeLimit: job.timeLimitMs } : {}),
  };
  const r = await fc.check(prop as fc.IRawProperty<[unknown]>, params);
  if (target.teardown) await target.teardown(ctx);
  const cases = firstFailure >= 0 ? firstFailure + 1 : index + 1;
  const notes = job.stats ? takeNotes() : undefined;
  if (!r.failed) { post({ type: 'done', cases, interrupted: r.interrupted, failed: false, notes }); return; }
  const err = r.errorInstance;
  const kind: FailureKind = err instanceof UnboundedAllocation ? 'unbounded-allocation'
    : err instanceof Error && /Property timeout/.test(err.message) ? 'hang' : 'crash';
  post({
    type: 'done', cases, interrupted: r.interrupted, failed: true, kind, path: r.counterexamplePath ?? undefined,
    firstPath: r.counterexamplePath?.split(':')[0], shrinks: r.numShrinks,
    input: r.counterexample ? show(r.counterexample[0]) : undefined,
    error: err instanceof Error ? (err.stack ?? err.message) : String(err), notes,
  });
}

// The runner terminates the worker once it has the answer (a target may leave handles open).
main(workerData as WorkerJob).catch((e: unknown) => {
  const error = `the fuzz worker failed: ${e instanceof Error ? e.stack : String(e)}`;
  parentPort!.postMessage({ type: 'done', cases: 0, interrupted: false, failed: true, kind: 'crash', error } satisfies WorkerMessage);
});
