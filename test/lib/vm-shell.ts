// The shell of a VM run in this process (the parent's Vm object), for tests of one host
// running several VMs.
import { readFileSync } from 'node:fs';
import { Vm, type VmConfig } from '../../src/parent/vm.js';
import type { StopReason } from '../../src/parent/vm-protocol.js';
import { ConsoleShell, ROOT } from './guest-shell.js';

export class VmShell extends ConsoleShell {
  readonly vm: Vm;
  stopped: StopReason | undefined;
  /** Resolves with how the VM stopped. */
  readonly done: Promise<StopReason>;

  /** Boots the default guest (with `config` changed), or drives `vm` (a restored one, say). */
  constructor(config: Partial<VmConfig> | Vm = {}) {
    super();
    this.vm = config instanceof Vm ? config : new Vm({
      kernel: readFileSync(ROOT + 'guest/images/Image.gz'), initrd: readFileSync(ROOT + 'guest/images/initramfs.cpio.gz'),
      append: 'console=ttyS0', memoryBytes: 128 << 20, cpus: 1, ...config,
    });
    this.vm.on('console', (d) => this.output(Buffer.from(d).toString('latin1')));
    this.done = new Promise((resolve) => this.vm.on('stopped', (r) => { this.stopped = r; this.poke(); resolve(r); }));
  }

  protected override details(): string { return `\n--- stopped: ${JSON.stringify(this.stopped)}`; }
  write(text: string): void { this.vm.write(Buffer.from(text)); }
}
