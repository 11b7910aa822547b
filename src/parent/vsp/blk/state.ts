// virtio-blk's saved state (src/state/contract.ts): nothing beyond the transport's. The
// disk's contents are the image's (it is flushed or snapshotted on its own), and the I/O
// counters are not carried: like the VM's metrics, they count from the start of the
// current run. The state exists so a save can insist that no request is in flight.
import { StateReader } from '../../../state/contract.js';

export interface VirtioBlkState { version: 1 }

/** Validates a saved state as untrusted input (throws StateError naming the disk). */
export function parseBlkState(state: unknown, name: string): void {
  new StateReader(name, state, 1);
}
