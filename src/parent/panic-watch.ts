// Sees a guest kernel panic on the console. A panicked Linux stays in its panic loop for
// good (unless the command line sets panic=N), so the VM is stopped, a moment after the
// marker so that the rest of the panic message reaches the console first; the VM then
// reports that it stopped because of the panic (StopReason kind 'panic').
import type { StopReason } from './vm-protocol.js';

/** The start of the line Linux prints when it panics (kernel/panic.c). */
export const PANIC_MARKER = 'Kernel panic - not syncing';
/** How long after the marker the VM is stopped. */
export const PANIC_GRACE_MS = 1000;
/** How a VM that panicked ended. */
export const PANIC_STOP: StopReason = { kind: 'panic', message: 'the guest kernel panicked' };

export class PanicWatch {
  /** The end of the output so far: enough to see a marker split across chunks. */
  private tail = '';
  private seen = false;
  private timer: NodeJS.Timeout | undefined;

  /** `stop` is called once, graceMs after the marker is first seen. */
  constructor(private readonly stop: () => void, private readonly graceMs = PANIC_GRACE_MS) {}

  get panicked(): boolean { return this.seen; }

  /** Console output, in the order the guest wrote it. */
  feed(chunk: Uint8Array): void {
    if (this.seen) return;
    const text = this.tail + Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
    if (text.includes(PANIC_MARKER)) {
      this.seen = true;
      this.tail = '';
      this.timer = setTimeout(this.stop, this.graceMs);
      return;
    }
    this.tail = text.slice(-(PANIC_MARKER.length - 1));
  }

  /** The VM stopped anyway: no stop is pending any more. */
  cancel(): void { clearTimeout(this.timer); }
}
