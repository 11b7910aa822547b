// virtio-console's saved state (src/state/contract.ts): the host input the guest has not
// taken yet. Everything else is the transport's (its queues and their indices).
import { StateReader, bytesToBase64 } from '../../../state/contract.js';

export interface VirtioConsoleState {
  version: 1;
  /** Input waiting for receive buffers, oldest byte first (base64). */
  backlog: string;
}

export function saveConsole(backlog: Uint8Array): VirtioConsoleState {
  return { version: 1, backlog: bytesToBase64(backlog) };
}

/** Validates a saved state as untrusted input: a backlog within the device's own bound. */
export function parseConsoleState(state: unknown, maxBacklog: number): Uint8Array {
  return new StateReader('virtio-console', state, 1).bytes('backlog', maxBacklog);
}
