// What the runner (runner.ts) and a target's worker thread (worker.ts) say to each other.

export interface WorkerJob {
  target: string;
  /** Cases to run, corpus inputs included. */
  runs: number;
  seed: number;
  /** fast-check replay path (a case from an earlier run, then shrink steps). */
  path?: string;
  /** Stop generating after this many ms (long runs). */
  timeLimitMs?: number;
  /** Only print the input at `path`, without running it (after a hang). */
  describe?: boolean;
  caseTimeoutMs?: number;
  /** Send the outcome counts (harness.ts note()) with the answer. */
  stats?: boolean;
  heartbeat: SharedArrayBuffer;
}

export type FailureKind = 'crash' | 'hang' | 'unbounded-allocation';

export type WorkerMessage =
  | { type: 'ready'; corpus: number; caseTimeoutMs: number; async: boolean }
  | { type: 'progress'; cases: number }
  | { type: 'described'; input: string }
  | {
    type: 'done'; cases: number; interrupted: boolean; failed: boolean; kind?: FailureKind; path?: string;
    /** Which case failed first (before shrinking), as a replay path. */
    firstPath?: string; shrinks?: number; input?: string; error?: string; notes?: [string, number][];
  };

/** Heartbeat words (Int32): busy (1 while a case runs), the case index, shrinking (1 after the first failure). */
export const HB = { busy: 0, index: 1, shrinking: 2 } as const;
/** Heartbeat: the Float64 at this byte offset is when the running case began (Date.now()). */
export const HB_START_OFFSET = 16;
export const HEARTBEAT_BYTES = 24;
