// ns16550a UART (the emulated console, ARCHITECTURE.md path 2). Register map per the
// National Semiconductor PC16550D datasheet: THR/RBR, IER, IIR/FCR, LCR, MCR, LSR, MSR, SCR,
// and DLL/DLM when LCR.DLAB is set. Transmission is instantaneous.
//
// Nothing typed is dropped: host input waits in a backlog and enters the 16-byte receive
// FIFO only while the guest has the receive-data interrupt enabled, i.e. once a driver is
// listening. Drivers clear the FIFO while they set the port up (Linux's 8250 startup
// does); input that arrived before that would otherwise be lost. The VM worker hands over
// input only while there is room (its CONSOLE_BACKLOG); MAX_BACKLOG is the device's own
// bound, for a caller that does not, and for a restored state.
//
// Saved state (state.ts): every register, the FIFO and the backlog.
import { createShadow, SHADOW_ORDERED, SHADOW_STATUS, type MmioDevice, type Width } from '../mmio.js';
import type { Stateful } from '../../../state/contract.js';
import { parseUartState, saveUart, type Uart16550State } from './state.js';

export type { Uart16550State } from './state.js';

const IER_RDI = 0x01, IER_THRI = 0x02, IER_RLSI = 0x04;
const IIR_NONE = 0x01, IIR_THRI = 0x02, IIR_RDI = 0x04, IIR_FIFO = 0xc0;
const LCR_DLAB = 0x80;
const LSR_DR = 0x01, LSR_THRE = 0x20, LSR_TEMT = 0x40;
const FCR_ENABLE = 0x01, FCR_CLEAR_RX = 0x02;
const FIFO_BYTES = 16;
/** Host input the device holds beyond the FIFO; more is dropped. */
export const MAX_BACKLOG = 1 << 16;
const IER = 1, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;
/** DCD, DSR, CTS asserted: a modem that is always ready. */
const MSR_VALUE = 0xb0;

export class Uart16550 implements MmioDevice, Stateful<Uart16550State> {
  readonly name = 'ns16550a';
  readonly size = 0x100;
  /**
   * Registers whose reads have no side effect, mirrored for the VPs (mmio.ts): polling LSR
   * (every console character) and reading IER (every console line: the 8250 driver saves
   * it, masks it and restores it around each write) need no round trip. IER, LCR, MCR and
   * SCR are what the guest wrote, so they are served only once its stores are performed.
   * RBR and IIR change the device when read, so they are not mirrored.
   */
  readonly shadow = createShadow(0x100);
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  private fifoEnabled = false;
  /** THR-empty interrupt condition, cleared by reading IIR or writing THR (datasheet table 4). */
  private thrEmptyPending = false;
  private rx: number[] = [];
  private backlog: number[] = [];

  /**
   * @param transmit receives each byte the guest writes
   * @param irq drives the device's interrupt line (level)
   */
  constructor(private readonly transmit: (byte: number) => void, private readonly irq: (level: boolean) => void = () => {}) {
    for (const r of [LSR, MSR]) this.shadow.readable[r] = SHADOW_STATUS;
    for (const r of [IER, LCR, MCR, SCR]) this.shadow.readable[r] = SHADOW_ORDERED;
    this.update();
  }

  /** Queues bytes from the host side (keyboard, pipe) for the guest to read. */
  receive(bytes: Uint8Array): void {
    for (const b of bytes.subarray(0, MAX_BACKLOG - this.backlog.length)) this.backlog.push(b);
    this.update();
  }
  /** Bytes the guest has not read yet (FIFO and backlog). */
  get rxPending(): number { return this.rx.length + this.backlog.length; }

  /** Moves backlog into the FIFO while a driver listens (IER.RDI) and there is room. */
  private refill(): void {
    if (!(this.ier & IER_RDI)) return;
    while (this.rx.length < FIFO_BYTES && this.backlog.length) this.rx.push(this.backlog.shift()!);
  }

  read(offset: number, _width: Width): bigint {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0: {
        if (dlab) return BigInt(this.dll);
        const b = this.rx.shift() ?? 0;
        this.update();
        return BigInt(b);
      }
      case 1: return BigInt(dlab ? this.dlm : this.ier);
      case 2: {
        const iir = this.interruptId();
        if (iir === IIR_THRI) { this.thrEmptyPending = false; this.update(); }
        return BigInt(iir | (this.fifoEnabled ? IIR_FIFO : 0));
      }
      case 3: return BigInt(this.lcr);
      case 4: return BigInt(this.mcr);
      case LSR: return BigInt(this.lsr());
      case MSR: return BigInt(MSR_VALUE);
      case 7: return BigInt(this.scr);
      default: return 0n;
    }
  }

  write(offset: number, _width: Width, value: bigint): void {
    const v = Number(value & 0xffn);
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0:
        if (dlab) { this.dll = v; break; }
        this.transmit(v);
        this.thrEmptyPending = true; // sent at once: THR is empty again
        break;
      case 1:
        if (dlab) { this.dlm = v; break; }
        // Enabling THRI with an empty THR raises it immediately (drivers rely on this).
        if ((v & IER_THRI) && !(this.ier & IER_THRI)) this.thrEmptyPending = true;
        this.ier = v & 0x0f;
        break;
      case 2:
        this.fifoEnabled = (v & FCR_ENABLE) !== 0;
        if (v & FCR_CLEAR_RX) this.rx.length = 0;
        break;
      case 3: this.lcr = v; break;
      case 4: this.mcr = v & 0x1f; break;
      case 7: this.scr = v; break;
      default: return;
    }
    this.update();
  }

  save(): Uart16550State {
    const { ier, lcr, mcr, scr, dll, dlm, fifoEnabled, thrEmptyPending } = this;
    return saveUart({ ier, lcr, mcr, scr, dll, dlm, fifoEnabled, thrEmptyPending, rx: Uint8Array.from(this.rx), backlog: Uint8Array.from(this.backlog) });
  }

  /**
   * Restores saved state; validates it as untrusted input and changes nothing if it is bad.
   * The line and the LSR shadow are then driven from the restored registers (update()).
   */
  restore(state: unknown): void {
    const s = parseUartState(state, { fifoBytes: FIFO_BYTES, maxBacklog: MAX_BACKLOG });
    this.ier = s.ier; this.lcr = s.lcr; this.mcr = s.mcr; this.scr = s.scr; this.dll = s.dll; this.dlm = s.dlm;
    this.fifoEnabled = s.fifoEnabled;
    this.thrEmptyPending = s.thrEmptyPending;
    this.rx = [...s.rx];
    this.backlog = [...s.backlog];
    this.update();
  }

  /** Highest-priority pending interrupt (datasheet table 4): line status, data, THR empty. */
  private interruptId(): number {
    if ((this.ier & IER_RDI) && this.rx.length > 0) return IIR_RDI;
    if ((this.ier & IER_THRI) && this.thrEmptyPending) return IIR_THRI;
    void IER_RLSI; // line-status errors never happen on this link
    return IIR_NONE;
  }

  private lsr(): number { return LSR_THRE | LSR_TEMT | (this.rx.length > 0 ? LSR_DR : 0); }

  private update(): void {
    this.refill();
    this.publish();
    this.irq(this.interruptId() !== IIR_NONE);
  }

  /** The mirrored registers as read() would return them now. */
  private publish(): void {
    const b = this.shadow.bytes;
    Atomics.store(b, IER, (this.lcr & LCR_DLAB) !== 0 ? this.dlm : this.ier);
    Atomics.store(b, LCR, this.lcr);
    Atomics.store(b, MCR, this.mcr);
    Atomics.store(b, LSR, this.lsr());
    Atomics.store(b, MSR, MSR_VALUE);
    Atomics.store(b, SCR, this.scr);
  }
}
