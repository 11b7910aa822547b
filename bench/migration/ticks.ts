/**
 * The guest's 1 ms ticks (migload --tick: one '.' per ms on its console) as the host sees
 * them arrive: the blackout of a migration is the largest gap between two consecutive
 * ticks, the last ones from the source machine's console and then the first ones from the
 * destination's. Times are the arrival of each chunk of console output (performance.now(),
 * ms); the ticks within one chunk arrived together.
 */
export class Ticks {
  /** Arrival times of the chunks that held at least one tick, in order. */
  private readonly times: number[] = [];

  /** Notes a chunk of console output (from either machine) that arrived at `at`. */
  record(text: string, at: number): void {
    if (text.includes('.')) this.times.push(at);
  }

  /**
   * The largest gap between consecutive ticks whose later tick arrived in (from, to]: the
   * gap from the last tick before `from` counts, a stretch after the last tick does not.
   * NaN when fewer than two ticks take part.
   */
  largestGap(from: number, to: number): number {
    let largest = Number.NaN;
    for (let i = 1; i < this.times.length; i++) {
      const t = this.times[i]!;
      if (t <= from || t > to) continue;
      const gap = t - this.times[i - 1]!;
      if (!(gap <= largest)) largest = gap;
    }
    return largest;
  }
}

/** How many ticks ('.') a stretch of console output holds. */
export function countTicks(text: string): number {
  let n = 0;
  for (let i = text.indexOf('.'); i >= 0; i = text.indexOf('.', i + 1)) n++;
  return n;
}
