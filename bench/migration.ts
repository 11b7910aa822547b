/**
 * Live-migration benchmark: the default guest (Linux 6.1 + busybox, 1 VP, 256 MiB) moved
 * while it runs from one machine to another on this host: QEMU TCG to QEMU TCG over TCP
 * (bench/migration/qemu.ts), tshv service to tshv service (bench/migration/tshv.ts).
 *
 * The guest runs migload (bench/migration/guest), added to the default initramfs as a
 * second, concatenated cpio archive: a '.' on the console every 1 ms, and in the second
 * scenario 32 MiB/s of page writes over 64 MiB, a dirty rate the migration must keep up
 * with. Figures: the machine's own downtime, total and setup times, bytes sent and passes;
 * and the blackout, the largest gap between ticks the host saw arrive, across the source's
 * console and then the destination's, which is what a guest's client would see. A round
 * counts only if the destination's shell answers afterwards. Best of the rounds.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { BenchContext, BenchReport, Benchmark } from './lib/benchmark.js';
import { cpioArchive } from './lib/cpio.js';
import { INITRD, MEMORY, qemuKernel, ratioCell } from './lib/guest.js';
import type { Machine } from './lib/machines.js';
import { min } from './lib/stats.js';
import { fmt, type Table } from './lib/table.js';
import { qemuRound, type QemuRoundResult } from './migration/qemu.js';
import { TICKS_BACK_MS, type Limits, type RoundResult } from './migration/round.js';
import { tshvMigrationRound, type Missing } from './migration/tshv.js';

const MIGLOAD = join('bench', 'migration', 'guest', 'migload');

interface Scenario { readonly name: string; readonly workload: string }
const SCENARIOS: readonly Scenario[] = [
  { name: 'idle', workload: 'migload --tick' },
  { name: '32 MiB/s dirty', workload: 'migload --tick --dirty 32 --size 64' },
];

export const migrationBenchmark: Benchmark = {
  id: 'migration',
  summary: 'live migration of a 256 MiB guest, idle and dirtying 32 MiB/s: downtime, console blackout, total time, bytes sent, tshv vs QEMU over TCP',
  run,
};

/** One machine's rounds of one scenario. */
interface Side<R extends RoundResult> {
  readonly label: string;
  /** tshv: a failed round ends its rounds (`problem`) and fails the bench; QEMU is the yardstick, its failed rounds are dropped. */
  readonly isTshv: boolean;
  readonly results: R[];
  problem?: string;
  readonly dropped: string[];
}

async function run(ctx: BenchContext): Promise<BenchReport> {
  const { tshv, qemu } = ctx.machines;
  if (tshv.state !== 'available') throw new Error(`tshv is missing: ${tshv.reason}`);
  const limits: Limits = { bootMs: Math.min(ctx.timeoutMs, 120_000), stepMs: 120_000 };
  const scratch = mkdtempSync(join(tmpdir(), 'tshv-bench-migration-'));
  let tshvMissing: string | undefined;
  try {
    const initrd = withMigload(ctx.root, scratch);
    const image = qemu.state === 'available' ? qemuKernel(ctx.root, scratch) : '';
    const rows = SCENARIOS.map((s) => ({ s, tshv: side<RoundResult>(tshv.label, true), qemu: side<QemuRoundResult>(qemu.label, false) }));
    for (const row of rows) {
      for (let round = 1; round <= ctx.repeat; round++) {
        const what = `${row.s.name}, round ${round}/${ctx.repeat}`;
        const guest = { initrd, memory: MEMORY, workload: row.s.workload };
        if (qemu.state === 'available') {
          await attempt(ctx, row.qemu, what, () => qemuRound(qemu, { ...guest, image }, scratch, limits));
        }
        if (tshvMissing === undefined && row.tshv.problem === undefined) {
          tshvMissing = await attempt(ctx, row.tshv, what, () => tshvMigrationRound(tshv, ctx.root, guest, scratch, limits));
        }
      }
    }
    return report(rows, qemu, tshvMissing);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const side = <R extends RoundResult>(label: string, isTshv: boolean): Side<R> => ({ label, isTshv, results: [], dropped: [] });

/** Runs one round on one machine and files its result or its failure; returns why the machine cannot migrate, if it cannot. */
async function attempt<R extends RoundResult>(ctx: BenchContext, s: Side<R>, what: string, round: () => Promise<R | Missing>): Promise<string | undefined> {
  try {
    const r = await round();
    if ('missing' in r) {
      ctx.log(`migration: ${s.label} missing: ${r.missing}`);
      return r.missing;
    }
    if (s.isTshv && !r.ticksBack) {
      throw new Error(`the guest's ticks did not come back on the destination within ${TICKS_BACK_MS / 1000} s, though its shell answers: its timers did not survive the migration`);
    }
    s.results.push(r);
    ctx.log(`migration: ${s.label}, ${what}: downtime ${r.downtimeMs} ms, blackout ${r.ticksBack ? `${r.blackoutMs.toFixed(0)} ms` : 'none (no ticks came back)'}, ` +
      `total ${r.totalMs} ms, ${mib(r.bytes).toFixed(1)} MiB, ${r.passes} passes (ticker's quiet gap ${r.quietGapMs.toFixed(0)} ms)`);
  } catch (e) {
    const failure = `${what}: ${(e as Error).message}`;
    ctx.log(`migration: ${s.label} FAILED ${failure}`);
    if (s.isTshv) s.problem = failure;
    else s.dropped.push(failure);
  }
  return undefined;
}

/** The default initramfs followed by a gzipped cpio with /bin/migload; returns its path. */
function withMigload(root: string, scratch: string): string {
  const extra = cpioArchive([{ path: 'bin', mode: 0o755 }, { path: 'bin/migload', mode: 0o755, data: readFileSync(join(root, MIGLOAD)) }]);
  const path = join(scratch, 'initramfs-migload.cpio.gz');
  writeFileSync(path, Buffer.concat([readFileSync(join(root, INITRD)), gzipSync(extra)]));
  return path;
}

const mib = (bytes: number) => bytes / 2 ** 20;

type Row = { s: Scenario; tshv: Side<RoundResult>; qemu: Side<QemuRoundResult> };

function report(rows: readonly Row[], qemu: Machine, tshvMissing: string | undefined): BenchReport {
  /** The best of a side's rounds; undefined when none measured it (a failed side, a blackout never seen). */
  const best = (s: Side<RoundResult>, figure: (r: RoundResult) => number) => {
    const values = s.problem === undefined ? s.results.map(figure).filter(Number.isFinite) : [];
    return values.length > 0 ? min(values) : undefined;
  };
  const figures: [string, (r: RoundResult) => number, number][] = [
    ['downtime ms', (r) => r.downtimeMs, 0], ['blackout ms', (r) => r.blackoutMs, 0], ['total ms', (r) => r.totalMs, 0], ['MiB sent', (r) => mib(r.bytes), 1],
  ];
  const table: Table = {
    columns: ['guest', ...figures.flatMap(([name]) => [`tshv ${name}`, `QEMU ${name}`, 'ratio'])]
      .map((header, i) => ({ header, align: i === 0 ? 'left' as const : 'right' as const })),
    rows: rows.map((r) => [r.s.name, ...figures.flatMap(([, figure, decimals]) => {
      const t = best(r.tshv, figure), q = best(r.qemu, figure);
      return [fmt(t, decimals), fmt(q, decimals), ratioCell(t, q)];
    })]),
  };
  const notes: string[] = [];
  for (const r of rows) {
    if (r.tshv.problem !== undefined) notes.push(`FAIL tshv: ${r.tshv.problem}`);
    for (const d of r.qemu.dropped) notes.push(`${r.qemu.label}: run dropped (not counted): ${d}`);
  }
  if (tshvMissing !== undefined) notes.push(`tshv: missing: ${tshvMissing}`);
  if (qemu.state !== 'available') notes.push(`${qemu.label}: missing: ${qemu.reason}`);
  const lost = rows.flatMap((r) => {
    const n = r.qemu.results.filter((x) => !x.ticksBack).length;
    return n > 0 ? [`${r.s.name} ${n} of ${r.qemu.results.length}`] : [];
  });
  if (lost.length > 0 && qemu.state === 'available') {
    notes.push(`${qemu.label} ${qemu.version}: the guest's ticks never came back on the destination (rounds: ${lost.join(', ')}), though its shell answered, so no blackout ` +
      'was measured there: QEMU leaves a RISC-V guest\'s pending timer events out of its migration stream (the ACLINT mtimer\'s timers and the CPU\'s stimer; ' +
      'fixed upstream in October 2025 by "hw/intc: Save timers array in RISC-V mtimer VMState" and "target/riscv: Save stimer and vstimer in CPU vmstate"), ' +
      'so the ticker\'s sleep, and every kernel timer pending at the switch, never expires there');
  }
  for (const r of rows) {
    for (const s of [r.qemu, r.tshv] as Side<RoundResult>[]) {
      if (s.problem !== undefined || s.results.length === 0) continue;
      const dirty = s === r.qemu ? `, dirty rate QEMU measured up to ${Math.max(...r.qemu.results.map((x) => x.dirtyMiBps)).toFixed(1)} MiB/s` : '';
      notes.push(`${s.label}, ${r.s.name}: setup ${fmt(best(s, (x) => x.setupMs), 0)} ms, ${fmt(best(s, (x) => x.passes), 0)} passes (fewest), ` +
        `ticker's largest gap before migrating ${fmt(best(s, (x) => x.quietGapMs), 0)} ms${dirty}`);
    }
  }
  notes.push('downtime, total, setup, bytes and passes: the machine\'s own figures (QEMU: query-migrate); blackout: the largest gap between ' +
    'the guest\'s 1 ms console ticks as the host saw them, source then destination; best of the rounds; ratio = tshv / QEMU (above 1: tshv takes longer or sends more)');
  return {
    title: 'Live migration: 256 MiB guest, idle and dirtying 32 MiB/s, tshv vs QEMU TCP migration on this host',
    ok: rows.every((r) => r.tshv.problem === undefined),
    table,
    notes,
    data: {
      tshvMissing: tshvMissing ?? null,
      rows: rows.map((r) => ({ guest: r.s.name, workload: r.s.workload, tshv: r.tshv.results, tshvProblem: r.tshv.problem ?? null, qemu: r.qemu.results, qemuDropped: r.qemu.dropped })),
    },
  };
}
