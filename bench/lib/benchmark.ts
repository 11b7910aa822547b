/**
 * The benchmark contract. Every benchmark is one module (bench/cpu.ts, later
 * boot-to-shell, disk throughput...) exporting a `Benchmark`, listed in
 * bench/registry.ts. The driver (bench/run.ts) runs them in order and prints
 * each report as a section; a report that is not `ok` fails the run, so a broken
 * guest shows up as a failed bench rather than a fast one.
 */
import type { Machines } from './machines.js';
import type { Table } from './table.js';

export interface BenchContext {
  /** Repository root (holds bin/tshv.js and bench/). */
  readonly root: string;
  /** How many timed runs per machine; benchmarks report the best and the spread. */
  readonly repeat: number;
  /** Upper bound for one guest run, in milliseconds. */
  readonly timeoutMs: number;
  readonly machines: Machines;
  /** Progress on stderr, so stdout stays the report. */
  log(message: string): void;
}

export interface BenchReport {
  readonly title: string;
  /** False when any machine produced a wrong result: the driver exits non-zero. */
  readonly ok: boolean;
  readonly table: Table;
  /** Facts a reader needs next to the table: checksums, counts, what was missing. */
  readonly notes: readonly string[];
  /** Plain data for --json (figures, checksums), keyed by the benchmark. */
  readonly data: Readonly<Record<string, unknown>>;
}

export interface Benchmark {
  /** Short name used by --only, e.g. "cpu". */
  readonly id: string;
  /** One line saying what is measured. */
  readonly summary: string;
  run(ctx: BenchContext): Promise<BenchReport>;
}
