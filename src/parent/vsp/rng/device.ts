// virtio-rng (virtio 1.2 §5.4): one queue of device-writable buffers, filled with host
// randomness. It has no saved state of its own (no save/restore): a buffer is filled as
// soon as it is taken, so the transport's part (its queue and indices) is all there is.
import { getRandomValues } from 'node:crypto';
import type { DeviceContext, VirtioDevice } from '../virtio-mmio.js';

export const VIRTIO_ID_RNG = 4;
/** Most bytes given for one buffer: a guest asking for more gets this much (it asks again). */
const MAX_BYTES_PER_BUFFER = 64 * 1024;

export class VirtioRng implements VirtioDevice {
  readonly name = 'virtio-rng';
  readonly deviceId = VIRTIO_ID_RNG;
  readonly features = 0n;
  readonly queueMax = [64];
  readonly config = new Uint8Array(0);
  private ctx: DeviceContext | undefined;

  activate(ctx: DeviceContext): void { this.ctx = ctx; }
  reset(): void { this.ctx = undefined; }

  notify(): void {
    const q = this.ctx?.queues[0];
    if (!q) return;
    do {
      for (let chain = q.pop(); chain; chain = q.pop()) {
        let left = MAX_BYTES_PER_BUFFER, written = 0;
        for (const b of chain.writable) {
          const n = Math.min(b.length, left);
          // getRandomValues refuses views of shared memory: fill a private buffer, then copy.
          const bytes = getRandomValues(new Uint8Array(n));
          b.set(bytes);
          written += n;
          left -= n;
          if (left === 0) break;
        }
        q.push(chain, written);
      }
      this.ctx!.notifyUsed(q);
    } while (q.armNotify());
  }
}
