// Reports of something a guest can make happen at any rate (its disk's I/O errors: a
// corrupt image fails every read of the broken cluster, and the guest may retry forever)
// without letting it flood the host's log and event store: the first of a burst is
// reported at once, the rest are counted and summed up once per window while they last.
//
//   error ── report ──┬── window ──┬── window ── (quiet: the burst is over)
//   errors meanwhile: │  "N more"  │  "M more"    the next error is reported at once
//
// So a disk says at most one line per window, however fast the guest fails.

export const BURST_WINDOW_MS = 10_000;

export class BurstLog {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private suppressed = 0;
  private lastSuppressed = '';

  /**
   * @param report where the lines go (the VM worker's log)
   * @param what names one occurrence in summaries, e.g. "I/O errors on vda"
   */
  constructor(private readonly report: (message: string) => void, private readonly what: string, private readonly windowMs = BURST_WINDOW_MS) {}

  add(message: string): void {
    if (this.timer) {
      this.suppressed++;
      this.lastSuppressed = message;
      return;
    }
    this.report(message);
    this.arm();
  }

  /** Reports what is still counted (the VM stops) and stops the timer. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.flush()) this.arm(); // still going: the next summary after another window
    }, this.windowMs);
    this.timer.unref?.();
  }

  /** The summary of the counted ones, if any; true if there was one. */
  private flush(): boolean {
    if (this.suppressed === 0) return false;
    const n = this.suppressed;
    this.suppressed = 0;
    this.report(`${n} more ${this.what} (reported at most once every ${Math.round(this.windowMs / 1000)} s); the last: ${this.lastSuppressed}`);
    return true;
  }
}
