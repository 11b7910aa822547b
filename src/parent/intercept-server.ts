// The parent's end of the VPs' mailboxes (hypervisor/intercept.ts): the VM worker performs
// each VP's posted stores on the MMIO bus and answers its requests. A store to a register
// that must take effect before the guest goes on (a device reset, MmioDevice.settling) is
// answered only once the device has settled.
import type { ControlBlock } from '../hypervisor/control-block.js';
import { InterceptService, MailboxOp } from '../hypervisor/intercept.js';
import type { MmioBus, MmioDevice, Width } from './devices/mmio.js';

/** The intercepts that are not device registers: the SBI debug console and system reset. */
export interface FirmwareServices {
  /** Bytes written through SBI DBCN or the legacy putchar. */
  consoleWrite(bytes: Uint8Array): void;
  /** SBI SRST: type 0 is a shutdown, any other a reboot. */
  systemReset(type: number): void;
}

export class InterceptServer {
  private readonly services: InterceptService[];
  /** Per VP, the device whose synchronous store it is waiting for. */
  private readonly settling: (MmioDevice | undefined)[];
  private readonly performStore = (addr: bigint, width: number, value: bigint): void => {
    const hit = this.bus.find(addr, width as Width); // the hypervisor posts only inside registered ranges
    hit?.device.write(hit.offset, width as Width, value);
  };

  /**
   * @param ram guest RAM (index 0 = guest-physical ramBase), for the debug console's buffers
   */
  constructor(cb: ControlBlock, private readonly bus: MmioBus, private readonly ram: Uint8Array, private readonly ramBase: bigint,
    private readonly firmware: FirmwareServices) {
    this.services = Array.from({ length: cb.vpCount }, (_, vp) => new InterceptService(cb, vp));
    this.settling = new Array(cb.vpCount);
  }

  /** Serves every VP's posted stores and mailbox request. */
  serveAll(): void {
    for (let vp = 0; vp < this.services.length; vp++) this.serve(vp);
  }

  private serve(vp: number): void {
    const service = this.services[vp];
    const waitingFor = this.settling[vp];
    if (waitingFor) {
      if (waitingFor.settling?.()) return; // the VP's store is still taking effect
      this.settling[vp] = undefined;
      service.respond(true);
      return;
    }
    const req = service.take(this.performStore);
    if (!req) return;
    const { kind, addr, width, value } = req;
    switch (kind) {
      case MailboxOp.MmioLoad: {
        const hit = this.bus.find(addr, width as Width);
        if (hit) service.respond(true, hit.device.read(hit.offset, width as Width));
        else service.respond(false);
        return;
      }
      case MailboxOp.MmioStore: {
        const hit = this.bus.find(addr, width as Width);
        hit?.device.write(hit.offset, width as Width, value);
        if (hit?.device.settling?.()) { this.settling[vp] = hit.device; return; } // answered when it settles
        service.respond(hit !== undefined);
        return;
      }
      case MailboxOp.ConsoleWrite: { // the hypervisor checked the buffer lies in RAM
        const off = Number(addr - this.ramBase);
        this.firmware.consoleWrite(this.ram.slice(off, off + Number(value)));
        service.respond(true, value);
        return;
      }
      case MailboxOp.ConsolePutchar: this.firmware.consoleWrite(Uint8Array.of(Number(value & 0xffn))); break;
      case MailboxOp.ConsoleRead: break; // no input through the debug console: 0 bytes
      case MailboxOp.SystemReset: this.firmware.systemReset(width); break;
      default: service.respond(false); return;
    }
    service.respond(true);
  }
}
