// Runs fuzz targets (`npm run fuzz -- TARGET [--runs N] [--seed S]`, and test/fuzz.test.ts):
// each in its own worker thread, watched from here. A case that outlives its time bound
// is a hang (the worker is terminated and the case printed); a worker that runs out of
// heap, or a process whose memory balloons, is an unbounded allocation; anything the
// worker's fast-check run reports is printed with its shrunk counterexample and the
// command that replays it.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { TARGETS, TARGET_NAMES } from './targets.js';
import { HB, HB_START_OFFSET, HEARTBEAT_BYTES, type FailureKind, type WorkerJob, type WorkerMessage } from './protocol.js';

export interface FuzzOptions {
  /** Cases, the corpus included (default 10000). */
  runs?: number;
  seed?: number;
  /** Replays one case of an earlier run (the path printed with a failure). */
  path?: string;
  /** Stop generating after this many ms (for long runs). */
  timeLimitMs?: number;
  /** Per-case time bound, overriding the target's. */
  caseTimeoutMs?: number;
  /** Progress lines (cases and cases/s), at most every progressEveryMs. */
  progress?: (line: string) => void;
  progressEveryMs?: number;
  /** Heap of the worker, and growth of this process's RSS, beyond which a run is an unbounded allocation. */
  heapLimitMb?: number;
  rssLimitBytes?: number;
  /** Collect outcome counts (FuzzResult.notes). */
  stats?: boolean;
  /**
   * A resumable long run: the run is cut into chunks of `chunk` cases, chunk k seeded with
   * seed + k, and each finished chunk is appended to this file; the same command again
   * goes on after the last finished chunk (a stopped machine loses one chunk at most).
   */
  log?: string;
  /** Cases per chunk of a logged run (default 100000). */
  chunk?: number;
}

export interface Failure {
  kind: FailureKind;
  /** Replay path: the failing case, shrunk. */
  path?: string;
  input?: string;
  error: string;
  shrinks?: number;
  /** True if the hang happened while shrinking an earlier failure. */
  whileShrinking?: boolean;
}

export interface FuzzResult {
  target: string;
  seed: number;
  corpus: number;
  cases: number;
  seconds: number;
  interrupted: boolean;
  failure?: Failure;
  /** Outcome counts, with --stats. */
  notes?: [string, number][];
  /** A logged run: its chunks, and the seed of the one that failed (the seed that replays it). */
  chunks?: number;
  failedChunkSeed?: number;
}

const WORKER = new URL('./worker.js', import.meta.url);

export function randomSeed(): number {
  return (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) | 0;
}

/** Runs one target; never throws for a finding (it is in the result). */
export async function fuzzTarget(name: string, o: FuzzOptions = {}): Promise<FuzzResult> {
  if (!TARGETS[name]) throw new Error(`no fuzz target "${name}" (targets: ${TARGET_NAMES.join(', ')})`);
  const seed = o.seed ?? randomSeed();
  const heartbeat = new SharedArrayBuffer(HEARTBEAT_BYTES);
  const i32 = new Int32Array(heartbeat, 0, 4);
  const started = new Float64Array(heartbeat, HB_START_OFFSET, 1);
  const job: WorkerJob = {
    target: name, runs: o.runs ?? 10_000, seed, path: o.path, timeLimitMs: o.timeLimitMs, caseTimeoutMs: o.caseTimeoutMs, stats: o.stats, heartbeat,
  };
  const t0 = performance.now();
  const worker = new Worker(WORKER, {
    workerData: job, resourceLimits: { maxOldGenerationSizeMb: o.heapLimitMb ?? 2048 },
  });
  const rssBase = process.memoryUsage.rss();
  const rssLimit = o.rssLimitBytes ?? 6 * 2 ** 30;
  let corpus = 0, cases = 0, caseTimeoutMs = 2000, hangAfterMs = 2000, lastPrint = performance.now();

  const outcome = await new Promise<{ done?: Extract<WorkerMessage, { type: 'done' }>; failure?: Failure }>((resolve) => {
    let settled = false;
    const finish = (r: { done?: Extract<WorkerMessage, { type: 'done' }>; failure?: Failure }) => {
      if (settled) return;
      settled = true;
      clearInterval(watch);
      void worker.terminate();
      resolve(r);
    };
    /** The replay path of the case running now (a replay's own path, or the case's index). */
    const here = () => o.path ?? String(i32[HB.index]!);
    // A case is hung when it has spent its bound in CPU time, not on the wall clock: a
    // process that is stopped or starved (SIGSTOP during a benchmark, nice 19 beside a busy
    // build, a suspended laptop) is not hanging. The process's CPU time counts from the
    // first tick that sees the case (so up to WATCH_MS is missed, never added). A case
    // that blocks without spinning is still caught by the wall clock, at WALL_FACTOR times
    // the bound, counting only the intervals between ticks that came on time (a stopped
    // process's ticks come late: that time is not the case's).
    let seen = { start: -1, cpuMs: 0, wallMs: 0 };
    let lastTick = Date.now();
    const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
    const watch = setInterval(() => {
      const index = i32[HB.index]!, busy = Atomics.load(i32, HB.busy) === 1, now = Date.now();
      const interval = now - lastTick;
      lastTick = now;
      // A case is known by its start time: while shrinking, every candidate has the same index.
      if (!busy) seen = { start: -1, cpuMs: 0, wallMs: 0 };
      else if (seen.start !== started[0]) seen = { start: started[0]!, cpuMs: cpuMs(), wallMs: 0 };
      else if (interval <= LATE_TICK_MS) seen.wallMs += interval;
      if (busy && (cpuMs() - seen.cpuMs > hangAfterMs || seen.wallMs > WALL_FACTOR * hangAfterMs)) {
        finish({ failure: { kind: 'hang', path: here(), whileShrinking: Atomics.load(i32, HB.shrinking) === 1,
          error: `case ${index} ran for more than ${caseTimeoutMs} ms` } });
      } else if (process.memoryUsage.rss() - rssBase > rssLimit) {
        finish({ failure: { kind: 'unbounded-allocation', path: here(), error: `the process grew by more than ${rssLimit} bytes during case ${index}` } });
      }
    }, WATCH_MS);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') {
        corpus = m.corpus;
        caseTimeoutMs = m.caseTimeoutMs;
        hangAfterMs = caseTimeoutMs + (m.async ? asyncSlack(caseTimeoutMs) : 0);
      } else if (m.type === 'progress') {
        cases = m.cases;
        const now = performance.now();
        if (o.progress && now - lastPrint >= (o.progressEveryMs ?? 5000)) {
          lastPrint = now;
          o.progress(`${name}: ${cases} cases, ${rate(cases, (now - t0) / 1000)}/s`);
        }
      } else if (m.type === 'done') finish({ done: m });
    });
    worker.on('error', (e: Error & { code?: string }) => {
      const kind: FailureKind = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'unbounded-allocation' : 'crash';
      finish({ failure: { kind, path: here(), error: `${e.code ?? ''} ${e.stack ?? e.message}`.trim() } });
    });
    worker.on('exit', (code) => finish({ failure: { kind: 'crash', error: `the fuzz worker exited (code ${code}) without an answer` } }));
  });
  const seconds = (performance.now() - t0) / 1000;

  if (outcome.done) {
    const d = outcome.done;
    const failure: Failure | undefined = d.failed
      ? { kind: d.kind ?? 'crash', path: d.path, input: d.input, error: d.error ?? '', shrinks: d.shrinks }
      : undefined;
    return { target: name, seed, corpus, cases: d.cases, seconds, interrupted: d.interrupted, failure, notes: d.notes };
  }
  // Killed from here: show the input (regenerated from the seed and path, not run).
  const failure = outcome.failure!;
  if (failure.path !== undefined && failure.kind !== 'crash') failure.input = await describe(name, seed, failure.path);
  return { target: name, seed, corpus, cases: o.path ? 1 : Number(failure.path ?? cases) + 1, seconds, interrupted: false, failure };
}

/** The first line of a run log: what the run is (a resumed run must be the same one). */
interface LogHead { target: string; seed: number; runs: number; chunk: number }
/** One finished chunk. */
interface LogChunk { k: number; seed: number; cases: number; seconds: number; interrupted: boolean; failure?: Failure }

/** Seed of chunk k: int32 arithmetic, as fast-check takes it. */
export function chunkSeed(seed: number, k: number): number {
  return (seed + k) | 0;
}

/**
 * Runs (or resumes) a logged run of `o.runs` cases in chunks (FuzzOptions.log). Stops at the
 * first failure; its replay command names the chunk's seed.
 */
export async function fuzzLogged(name: string, o: FuzzOptions & { log: string }): Promise<FuzzResult> {
  const runs = o.runs ?? 10_000, chunk = Math.max(1, Math.floor(o.chunk ?? 100_000));
  let head: LogHead | undefined;
  const done: LogChunk[] = [];
  if (existsSync(o.log)) {
    const text = readFileSync(o.log, 'utf8'), lines = text.split('\n').filter((l) => l.trim() !== '');
    try {
      head = JSON.parse(lines[0] ?? 'null') as LogHead;
    } catch { throw new UsageError(`${o.log} is not a fuzz run log`); }
    // A line cut short by a stop can only be the last: it is dropped (and its chunk run again).
    for (const l of lines.slice(1)) { try { done.push(JSON.parse(l) as LogChunk); } catch { break; } }
    if (done.length !== lines.length - 1 || !text.endsWith('\n')) writeFileSync(o.log, lines.slice(0, done.length + 1).map((l) => `${l}\n`).join(''));
    if (head?.target !== name) throw new UsageError(`${o.log} is a log of target ${String(head?.target)}, not ${name}`);
    if (o.seed !== undefined && o.seed !== head.seed) throw new UsageError(`${o.log} is the run with seed ${head.seed}: resume it without --seed or with that seed`);
    if (head.runs !== runs || head.chunk !== chunk) throw new UsageError(`${o.log} is a run of ${head.runs} cases in chunks of ${head.chunk}: resume it with --runs ${head.runs}${head.chunk !== 100_000 ? ` --chunk ${head.chunk}` : ''}`);
  } else {
    head = { target: name, seed: o.seed ?? randomSeed(), runs, chunk };
    writeFileSync(o.log, `${JSON.stringify(head)}\n`);
  }
  const total = () => done.reduce((n, c) => n + c.cases, 0);
  const summary = (failed?: LogChunk): FuzzResult => ({
    target: name, seed: head.seed, corpus: 0, cases: total(), seconds: done.reduce((n, c) => n + c.seconds, 0),
    interrupted: !failed && total() < runs, failure: failed?.failure, chunks: done.length, failedChunkSeed: failed?.seed,
  });
  const failed = done.find((c) => c.failure);
  if (failed) return summary(failed);
  const started = performance.now(), before = total();
  while (total() < runs) {
    const k = done.length, seed = chunkSeed(head.seed, k);
    const left = o.timeLimitMs === undefined ? undefined : o.timeLimitMs - (performance.now() - started);
    if (left !== undefined && left <= 0) break;
    const r = await fuzzTarget(name, {
      ...o, seed, runs: Math.min(chunk, runs - total()), log: undefined, timeLimitMs: left,
      progress: o.progress && ((line) => o.progress!(`${line} (chunk ${k}, ${total()} cases before it)`)),
    });
    const c: LogChunk = { k, seed, cases: r.cases, seconds: r.seconds, interrupted: r.interrupted, failure: r.failure };
    appendFileSync(o.log, `${JSON.stringify(c)}\n`);
    done.push(c);
    o.progress?.(`${name}: ${total()} of ${runs} cases, ${rate(total() - before, (performance.now() - started) / 1000)}/s this session`);
    if (r.failure) return summary(c);
    if (r.interrupted) break;
  }
  return summary();
}

/** How often the watchdog looks at the worker's heartbeat. */
const WATCH_MS = 100;
/** A case that blocks (burns no CPU) for this many times its bound is hung too. */
const WALL_FACTOR = 10;
/** A watchdog tick later than this after the last one means the process was stopped meanwhile. */
const LATE_TICK_MS = 5 * WATCH_MS;

/** Async targets time out inside fast-check (which then shrinks); the watchdog comes later. */
function asyncSlack(ms: number): number {
  return Math.min(ms, 5000);
}

/** The input at `path` of a run, printed by a worker that does not run it. */
async function describe(name: string, seed: number, path: string): Promise<string | undefined> {
  const job: WorkerJob = { target: name, runs: 1, seed, path, describe: true, heartbeat: new SharedArrayBuffer(HEARTBEAT_BYTES) };
  const worker = new Worker(WORKER, { workerData: job });
  try {
    return await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 60_000);
      worker.on('message', (m: WorkerMessage) => { if (m.type === 'described') { clearTimeout(timer); resolve(m.input); } });
      worker.on('error', () => { clearTimeout(timer); resolve(undefined); });
      worker.on('exit', () => { clearTimeout(timer); resolve(undefined); });
    });
  } finally {
    await worker.terminate();
  }
}

function rate(cases: number, seconds: number): number {
  return Math.round(cases / Math.max(seconds, 1e-3));
}

/** The command that replays a failure. */
export function reproduceCommand(r: FuzzResult): string {
  return `npm run fuzz -- ${r.target} --seed ${r.failedChunkSeed ?? r.seed}${r.failure?.path ? ` --path ${r.failure.path}` : ''}`;
}

export function formatResult(r: FuzzResult): string {
  const head = `${r.target}: ${r.cases} cases (${r.chunks !== undefined ? `${r.chunks} chunks, seeds from` : `${r.corpus} from the corpus)`} in ${r.seconds.toFixed(1)} s, ` +
    `${rate(r.cases, r.seconds)}/s, seed ${r.seed}${r.chunks !== undefined ? ')' : ''}`;
  const notes = r.notes?.length ? `\n  outcomes:\n${r.notes.slice(0, 40).map(([k, n]) => `  ${String(n).padStart(9)}  ${k}`).join('\n')}` : '';
  if (!r.failure) return `${head}: no failure${r.interrupted ? ' (time limit reached: not all cases ran)' : ''}${notes}`;
  const f = r.failure;
  return [
    `${head}: FAILED (${f.kind}${f.whileShrinking ? ', while shrinking an earlier failure' : ''})`,
    `  error: ${f.error.split('\n').join('\n    ')}`,
    `  ${f.kind === 'hang' || f.kind === 'unbounded-allocation' && f.shrinks === undefined ? 'input' : `minimal counterexample (${f.shrinks ?? 0} shrinks)`}: ${f.input ?? '(not available)'}`,
    `  seed: ${r.failedChunkSeed ?? r.seed}, path: ${f.path ?? '(none)'}`,
    `  reproduce: ${reproduceCommand(r)}`,
  ].join('\n') + notes;
}

const USAGE = `usage: npm run fuzz -- TARGET... [--runs N] [--seed S] [--path P] [--time SECONDS] [--timeout MS] [--stats] [--json]
       npm run fuzz -- all [--runs N]       every target, one after the other
       npm run fuzz -- --list               the targets
  --runs N       cases per target, corpus included (default 10000)
  --seed S       fast-check seed (default: random, printed)
  --path P       replay one case of a run (with its --seed): the path a failure prints
  --time S       stop each target after S seconds even if --runs is not reached (with
                 --log: this session's share; the next resumes)
  --timeout MS   per-case time bound (default 2000 for sync targets, 10000 for async ones)
  --log FILE     a resumable long run: chunks of --chunk cases (default 100000), chunk k
                 seeded with seed + k, each appended to FILE when done; the same command
                 again resumes after the last finished chunk
  --stats        count the outcomes (which errors the parser gave, how often it took the input)
  --json         one JSON line per target on stdout instead of text`;

function listing(): string {
  const width = Math.max(...TARGET_NAMES.map((n) => n.length));
  return TARGET_NAMES.map((n) => `  ${n.padEnd(width)}  ${TARGETS[n]!.summary}`).join('\n');
}

/** The CLI (scripts/fuzz.js); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const names: string[] = [];
  const o: FuzzOptions = {};
  let json = false;
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n)) throw new UsageError(`${flag} needs a number`);
    return n;
  };
  try {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      switch (a) {
        case '--list': console.log(`fuzz targets:\n${listing()}`); return 0;
        case '-h': case '--help': console.log(`${USAGE}\n\ntargets:\n${listing()}`); return 0;
        case '--runs': o.runs = num(a, argv[++i]); break;
        case '--seed': o.seed = num(a, argv[++i]) | 0; break;
        case '--path': o.path = argv[++i]; if (!o.path || !/^\d+(:\d+)*$/.test(o.path)) throw new UsageError('--path needs a path such as 12:3:0'); break;
        case '--time': o.timeLimitMs = num(a, argv[++i]) * 1000; break;
        case '--timeout': o.caseTimeoutMs = num(a, argv[++i]); break;
        case '--json': json = true; break;
        case '--stats': o.stats = true; break;
        case '--log': o.log = argv[++i]; if (!o.log) throw new UsageError('--log needs a file'); break;
        case '--chunk': o.chunk = num(a, argv[++i]); if (o.chunk < 1) throw new UsageError('--chunk needs a positive number'); break;
        default:
          if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
          if (a === 'all') names.push(...TARGET_NAMES);
          else if (TARGETS[a]) names.push(a);
          else throw new UsageError(`no fuzz target "${a}"`);
      }
    }
    if (names.length === 0) { console.log(`${USAGE}\n\ntargets:\n${listing()}`); return 0; }
    if (o.path && names.length !== 1) throw new UsageError('--path replays one target\'s case: name one target');
    if (o.path && o.seed === undefined) throw new UsageError('--path needs the --seed of the run it comes from');
    if (o.log && (names.length !== 1 || o.path)) throw new UsageError('--log is one target\'s long run: name one target, without --path');
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`fuzz: ${e.message}\n${USAGE}`);
    return 2;
  }

  if (!o.log) o.seed ??= randomSeed();
  o.progress = (line) => (json ? process.stderr : process.stdout).write(`  ${line}\n`);
  let failed = 0;
  for (const name of names) {
    if (!json) console.log(`fuzz ${name}: ${o.path ? `replaying ${o.path}` : `${o.runs ?? 10_000} cases`}${o.log ? `, logged in ${o.log}` : `, seed ${o.seed}`}`);
    let r: FuzzResult;
    try {
      r = o.log ? await fuzzLogged(name, { ...o, log: o.log }) : await fuzzTarget(name, o);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      console.error(`fuzz: ${e.message}`);
      return 2;
    }
    if (r.failure) failed++;
    if (json) console.log(JSON.stringify({ ...r, crashes: count(r, 'crash'), hangs: count(r, 'hang'), unboundedAllocations: count(r, 'unbounded-allocation') }));
    else console.log(formatResult(r));
  }
  if (names.length > 1 && !json) console.log(`${names.length - failed} of ${names.length} targets passed`);
  return failed ? 1 : 0;
}

function count(r: FuzzResult, kind: FailureKind): number {
  return r.failure?.kind === kind ? 1 : 0;
}

class UsageError extends Error {}
