// The 16550 UART's saved state (src/state/contract.ts): its registers, the bytes in the
// receive FIFO and the host input still waiting in the backlog.
import { StateReader, bytesToBase64 } from '../../../state/contract.js';

/** The registers and buffers, as restore() applies them. */
export interface Uart16550Registers {
  ier: number;
  lcr: number;
  mcr: number;
  scr: number;
  dll: number;
  dlm: number;
  fifoEnabled: boolean;
  thrEmptyPending: boolean;
  /** The receive FIFO, oldest byte first. */
  rx: Uint8Array;
  /** Host input not yet in the FIFO, oldest first. */
  backlog: Uint8Array;
}

/** The saved form: the registers as they are, the buffers as base64. */
export type Uart16550State = { version: 1 } & Omit<Uart16550Registers, 'rx' | 'backlog'> & { rx: string; backlog: string };

export function saveUart(r: Uart16550Registers): Uart16550State {
  return {
    version: 1, ier: r.ier, lcr: r.lcr, mcr: r.mcr, scr: r.scr, dll: r.dll, dlm: r.dlm,
    fifoEnabled: r.fifoEnabled, thrEmptyPending: r.thrEmptyPending, rx: bytesToBase64(r.rx), backlog: bytesToBase64(r.backlog),
  };
}

/**
 * Validates a saved state as untrusted input; throws StateError naming the field. The
 * FIFO and the backlog are bounded by the device's own limits; IER and MCR by the bits the
 * device implements (it masks writes the same way).
 */
export function parseUartState(state: unknown, limits: { fifoBytes: number; maxBacklog: number }): Uart16550Registers {
  const r = new StateReader('ns16550a', state, 1);
  return {
    ier: r.int('ier', 0, 0x0f),
    lcr: r.int('lcr', 0, 0xff),
    mcr: r.int('mcr', 0, 0x1f),
    scr: r.int('scr', 0, 0xff),
    dll: r.int('dll', 0, 0xff),
    dlm: r.int('dlm', 0, 0xff),
    fifoEnabled: r.bool('fifoEnabled'),
    thrEmptyPending: r.bool('thrEmptyPending'),
    rx: r.bytes('rx', limits.fifoBytes),
    backlog: r.bytes('backlog', limits.maxBacklog),
  };
}
