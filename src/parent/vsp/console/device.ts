// virtio-console (virtio 1.2 §5.3), one port: the guest's hvc0. Queue 0 (receiveq)
// carries host input to the guest, queue 1 (transmitq) the guest's output.
//
// Saved state (state.ts): the input backlog; the queues are the transport's.
import type { DeviceContext, VirtioDevice } from '../virtio-mmio.js';
import { scatter } from '../../../vmbus/virtqueue.js';
import { parseConsoleState, saveConsole, type VirtioConsoleState } from './state.js';

export const VIRTIO_ID_CONSOLE = 3;
const RX = 0, TX = 1;
/** Output taken from one transmit chain; the rest of an oversized one is dropped. */
const MAX_TX_CHAIN = 1 << 20;
/** Input kept while the guest has no receive buffers posted; beyond this it is dropped. */
export const MAX_BACKLOG = 1 << 20;

export class VirtioConsole implements VirtioDevice {
  readonly name = 'virtio-console';
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly features = 0n;
  readonly queueMax = [64, 64];
  /** struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr (no feature bits: unused). */
  readonly config = new Uint8Array(12);
  private ctx: DeviceContext | undefined;
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;

  /** @param output receives what the guest writes to hvc0 */
  constructor(private readonly output: (bytes: Uint8Array) => void) {}

  // Input waiting since before DRIVER_OK goes out when the transport then notifies receiveq.
  activate(ctx: DeviceContext): void { this.ctx = ctx; }
  reset(): void { this.ctx = undefined; }

  save(): VirtioConsoleState {
    const all = new Uint8Array(this.backlogBytes);
    let at = 0;
    for (const b of this.backlog) { all.set(b, at); at += b.length; }
    return saveConsole(all);
  }

  /** The backlog of a saved state (validated first); delivered once the guest has buffers and notifies. */
  restore(state: unknown): void {
    const backlog = parseConsoleState(state, MAX_BACKLOG);
    this.backlog = backlog.length ? [backlog] : [];
    this.backlogBytes = backlog.length;
  }

  /** Host input for the guest: delivered now if it has buffers posted, else kept in order. */
  receive(bytes: Uint8Array): void {
    if (this.backlogBytes + bytes.length > MAX_BACKLOG) return;
    this.backlog.push(bytes.slice());
    this.backlogBytes += bytes.length;
    // Outside a transport call: a broken ring must still end in DEVICE_NEEDS_RESET.
    this.ctx?.run(() => this.deliver());
  }

  /** Input bytes the guest has not taken yet. */
  get rxPending(): number { return this.backlogBytes; }

  notify(queue: number): void {
    if (queue === RX) this.deliver();
    else if (queue === TX) this.transmit();
  }

  private transmit(): void {
    const q = this.ctx?.queues[TX];
    if (!q) return;
    do {
      for (let chain = q.pop(); chain; chain = q.pop()) {
        let left = MAX_TX_CHAIN;
        for (const b of chain.readable) {
          if (left === 0) break;
          const n = Math.min(b.length, left);
          this.output(b.slice(0, n));
          left -= n;
        }
        q.push(chain, 0);
      }
      this.ctx!.notifyUsed(q);
    } while (q.armNotify());
  }

  private deliver(): void {
    const q = this.ctx?.queues[RX];
    if (!q) return;
    do {
      while (this.backlog.length && q.pending() > 0) {
        const chain = q.pop()!;
        let written = 0;
        while (this.backlog.length && written < chain.writableBytes) {
          const head = this.backlog[0];
          const n = scatter(chain.writable, written, head);
          written += n;
          this.backlogBytes -= n;
          if (n < head.length) this.backlog[0] = head.subarray(n);
          else this.backlog.shift();
        }
        q.push(chain, written);
      }
      this.ctx!.notifyUsed(q);
      // With EVENT_IDX a buffer posted before avail_event was written brings no kick:
      // look again while input is waiting, or it waits for the next keystroke.
    } while (q.armNotify() && this.backlog.length);
  }
}
