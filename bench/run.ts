/**
 * `npm run bench`: runs the registered benchmarks on tshv and, side by side, on
 * QEMU TCG, and prints one table per benchmark. Exits non-zero when a benchmark
 * produced a wrong result (a broken core is a failed bench, not a fast one).
 *
 *   node dist/bench/run.js [--repeat N] [--only cpu,...] [--timeout SECONDS] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BenchContext, BenchReport } from './lib/benchmark.js';
import { detectMachines } from './lib/machines.js';
import { renderTable } from './lib/table.js';
import { benchmarks } from './registry.js';

const USAGE = `usage: npm run bench -- [options]
  --repeat N         timed runs per machine, the best is reported (default 3)
  --only ID[,ID...]  run only these benchmarks (${benchmarks.map((b) => b.id).join(', ')})
  --timeout SECONDS  limit for one guest run (default 600)
  --json FILE        also write the results as JSON
  --list             list the benchmarks and exit`;

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} wants a positive integer, got "${text}"`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      repeat: { type: 'string' },
      only: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (values.list === true) {
    for (const b of benchmarks) console.log(`${b.id.padEnd(8)} ${b.summary}`);
    return 0;
  }
  const only = values.only?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = only?.filter((id) => !benchmarks.some((b) => b.id === id)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}; see --list`);
  const selected = benchmarks.filter((b) => only === undefined || only.includes(b.id));

  // dist/bench/run.js -> repository root
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const machines = detectMachines(root);
  const ctx: BenchContext = {
    root,
    repeat: positiveInt('repeat', values.repeat, 3),
    timeoutMs: positiveInt('timeout', values.timeout, 600) * 1000,
    machines,
    log: (message) => process.stderr.write(`bench: ${message}\n`),
  };

  console.log('tshv bench');
  for (const m of [machines.tshv, machines.qemu]) {
    console.log(`  ${m.label}: ${m.state === 'available' ? m.version : `MISSING (${m.reason})`}`);
  }
  console.log(`  host: ${process.platform}/${process.arch}, node ${process.version}, ${ctx.repeat} run(s) per machine`);

  const reports: { id: string; report: BenchReport }[] = [];
  for (const b of selected) {
    let report: BenchReport;
    try {
      report = await b.run(ctx);
    } catch (e) {
      report = {
        title: b.summary,
        ok: false,
        table: { columns: [], rows: [] },
        notes: [`FAIL the benchmark itself failed: ${e instanceof Error ? e.message : String(e)}`],
        data: {},
      };
    }
    reports.push({ id: b.id, report });
    console.log(`\n== ${report.title}${report.ok ? '' : '  [FAILED]'}\n`);
    if (report.table.columns.length > 0) console.log(renderTable(report.table));
    for (const note of report.notes) console.log(`  * ${note}`);
  }

  if (values.json !== undefined) {
    const doc = {
      date: new Date().toISOString(),
      host: { platform: process.platform, arch: process.arch, node: process.version },
      machines,
      benchmarks: Object.fromEntries(reports.map(({ id, report }) => [id, { ok: report.ok, ...report.data }])),
    };
    writeFileSync(values.json, JSON.stringify(doc, null, 2) + '\n');
  }
  const failed = reports.filter((r) => !r.report.ok).map((r) => r.id);
  if (failed.length > 0) console.log(`\nbench FAILED: ${failed.join(', ')}`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 2;
  },
);
