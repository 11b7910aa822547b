/**
 * One round of the migration benchmark, the same on every machine: the source's guest at
 * its prompt starts migload, the host waits for its first tick and then WARMUP_MS, the
 * machine migrates the guest (the machine's own part: migrate()), the destination's ticks
 * come back, and its shell must answer a probe. The blackout is the largest tick gap from
 * the migration's start to POST_TICKS ticks after it ended.
 *
 * Ticks that never come back while the shell answers mean the guest's timers did not
 * survive the migration (its sleeping ticker is never woken): the round is returned with
 * no blackout, for the caller to judge (QEMU 7.2 does this to every RISC-V guest with a
 * timer pending; see the README).
 */
import { parseBootLog } from '../lib/guest.js';
import type { LiveConsole } from './console.js';
import { countTicks, Ticks } from './ticks.js';

/** What a machine reports of a migration it completed. */
export interface Migration {
  readonly totalMs: number;
  readonly downtimeMs: number;
  readonly setupMs: number;
  /** Bytes sent to the destination. */
  readonly bytes: number;
  /** Passes over the dirty memory (QEMU: dirty-sync-count). */
  readonly passes: number;
}

export interface RoundResult extends Migration {
  /** Whether the destination's guest ticked again (its timers survived the migration). */
  readonly ticksBack: boolean;
  /** The largest tick gap the host saw across the migration, ms; NaN when the ticks did not come back. */
  readonly blackoutMs: number;
  /** The largest tick gap in the WARMUP_MS before it: the ticker's own jitter on this machine. */
  readonly quietGapMs: number;
}

export interface Limits {
  /** Spawn to the first shell prompt. */
  readonly bootMs: number;
  /** The migration, and each wait after it. */
  readonly stepMs: number;
}

/** The ticker runs this long before the migration starts (the dirtier reaches its rate). */
export const WARMUP_MS = 2000;
/** Ticks (about ms) the destination must show before the blackout is read. */
const POST_TICKS = 300;
/** How long they have to come. */
export const TICKS_BACK_MS = 10_000;
/** A command only a live shell answers, and its answer. */
const PROBE = 'echo $((6*7))ok';
const ANSWER = '42ok';

/**
 * Runs the round once the source is booting. `migrate` starts the migration, waits for
 * it to complete, and returns the machine's figures and the destination's console (open
 * and timed by `ticks` from before the destination's guest ran).
 */
export async function migrationRound(
  ticks: Ticks,
  source: LiveConsole,
  workload: string,
  limits: Limits,
  migrate: () => Promise<{ migration: Migration; destination: LiveConsole }>,
): Promise<RoundResult> {
  await source.prompt(limits.bootMs);
  const mark = source.log.length;
  source.type(`${workload} &`);
  await source.until(() => countTicks(source.log.slice(mark)) > 0, 'migload\'s first tick', limits.stepMs);
  const ticking = performance.now();
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const start = performance.now();
  const quietGapMs = ticks.largestGap(ticking, start);

  const { migration, destination } = await migrate();
  const resumed = destination.log.length;
  const ticksBack = await destination.until(() => countTicks(destination.log.slice(resumed)) >= POST_TICKS, `${POST_TICKS} ticks`, TICKS_BACK_MS)
    .then(() => true, () => false); // a closed console fails the probe, with its reason
  const blackoutMs = ticksBack ? ticks.largestGap(start, performance.now()) : Number.NaN;
  await destination.answers(PROBE, ANSWER, limits.stepMs);

  for (const c of [source, destination]) {
    const trouble = parseBootLog(c.log).trouble;
    if (trouble.length > 0) throw new Error(`kernel trouble on the ${c.name} console: ${trouble.join(', ')}`);
  }
  return { ...migration, ticksBack, blackoutMs, quietGapMs };
}
