/**
 * Every benchmark `npm run bench` knows, in the order they run. A new benchmark
 * (boot to shell, disk throughput...) is one module exporting a `Benchmark`,
 * added here.
 */
import type { Benchmark } from './lib/benchmark.js';
import { bootBenchmark } from './boot.js';
import { cpuBenchmark } from './cpu.js';
import { diskBenchmark } from './disk.js';
import { migrationBenchmark } from './migration.js';
import { saveBenchmark } from './save.js';
import { shellBenchmark } from './shell.js';

export const benchmarks: readonly Benchmark[] = [cpuBenchmark, bootBenchmark, shellBenchmark, diskBenchmark, saveBenchmark, migrationBenchmark];
