// `tshv run`: boot a Linux guest with its console on this terminal (or on stdin/stdout
// when they are not a terminal), like `qemu-system-riscv64 -nographic`.
import { existsSync } from 'node:fs';
import { Vm, type VmConfig } from '../parent/vm.js';
import type { StopReason } from '../parent/vm-protocol.js';
import { guestConfig, sharedImage } from '../parent/guest-config.js';
import { MACHINE_LIMITS, MEMORY_MIB } from '../parent/machine/limits.js';
import { parseDiskSpec, parseSize } from './units.js';
import type { ConsoleKind, DiskSpec } from '../parent/vm-protocol.js';

export { DEFAULT_KERNEL, DEFAULT_INITRD, DEFAULT_APPEND } from '../parent/guest-config.js';

export interface RunFlags {
  kernel?: string; initrd?: string | false; append?: string; memory: string; cpus: string;
  disk?: string[]; root?: string; console?: ConsoleKind;
}

export class UsageError extends Error {}

/** Validates the flags and reads the images: everything that can fail before a VM exists. */
export async function runConfig(flags: RunFlags): Promise<VmConfig> {
  const memoryBytes = usage(() => parseSize(flags.memory, '--memory'));
  const { memoryBytes: ram, cpus: vps, disks: maxDisks } = MACHINE_LIMITS;
  if (memoryBytes < ram.min) throw new UsageError(`--memory ${flags.memory} is too small: a Linux guest needs at least ${MEMORY_MIB.min}M`);
  if (memoryBytes > ram.max) throw new UsageError(`--memory ${flags.memory} is too large: the maximum is ${MEMORY_MIB.max}M`);
  if (memoryBytes % 4096 !== 0) throw new UsageError(`--memory must be a multiple of 4K`);
  const cpus = Number(flags.cpus);
  if (!Number.isInteger(cpus) || cpus < vps.min || cpus > vps.max) throw new UsageError(`--cpus must be a whole number from ${vps.min} to ${vps.max}, got "${flags.cpus}"`);
  const disks = (flags.disk ?? []).map((d) => diskSpec(d, '--disk'));
  const root = flags.root ? diskSpec(flags.root, '--root') : undefined;
  const count = disks.length + (root ? 1 : 0);
  if (count > maxDisks) throw new UsageError(`at most ${maxDisks} disks (--root counts as one), got ${count}`);
  if (root?.readOnly) throw new UsageError('--root cannot be read-only');
  const images = [...(root ? [{ ...root, option: '--root' }] : []), ...disks.map((d) => ({ ...d, option: '--disk' }))];
  const twice = sharedImage(images);
  if (twice) {
    const [first, second] = twice.map((i) => images[i]);
    throw new UsageError(`${second.option} ${second.path} is the same image as ${first.option} ${first.path}: ` +
      'an image can be attached twice only if both are read-only (,readonly)');
  }
  const { kernel, initrd, append, console } = flags;
  try {
    return await guestConfig({ kernel, initrd, append, console, memoryBytes, cpus, disks, root: root?.path });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** FILE[,readonly]: a disk image that must exist. */
export function diskSpec(spec: string, option: string): DiskSpec {
  const disk = usage(() => parseDiskSpec(spec, option));
  if (!existsSync(disk.path)) throw new UsageError(`${option} ${disk.path}: no such file`);
  return disk;
}

/** Runs a parser whose errors are the user's: they become UsageErrors (exit 2, no stack). */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

const CTRL_A = 0x01;

/** Runs the VM until it stops; resolves to the process exit code. */
export function runVm(config: VmConfig, io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const interactive = io.stdin.isTTY === true;
  return new Promise((resolve) => {
    let vm: Vm;
    let quitting = false;
    let escape = false;

    const restoreTerminal = () => { if (interactive) io.stdin.setRawMode(false); io.stdin.pause(); };
    const onInput = (chunk: Buffer) => {
      if (!interactive) { vm.write(chunk); return; }
      // QEMU-style escapes: Ctrl-A X quits, Ctrl-A H helps, Ctrl-A Ctrl-A sends Ctrl-A.
      const out: number[] = [];
      for (const b of chunk) {
        if (escape) {
          escape = false;
          const k = String.fromCharCode(b).toLowerCase();
          if (k === 'x') { quitting = true; io.stderr.write('\r\ntshv: terminating the VM\r\n'); vm.stop(); return; }
          if (k === 'h') { io.stderr.write('\r\nC-a h    print this help\r\nC-a x    exit (hard power-off of the VM)\r\nC-a C-a  send C-a to the guest\r\n'); continue; }
          if (b === CTRL_A) out.push(CTRL_A);
          continue;
        }
        if (b === CTRL_A) { escape = true; continue; }
        out.push(b);
      }
      if (out.length) vm.write(Uint8Array.from(out));
    };

    const start = () => {
      vm = new Vm(config);
      vm.on('console', (data) => io.stdout.write(data));
      vm.on('log', (m) => io.stderr.write(`tshv: ${m}\n`));
      vm.on('stopped', (reason: StopReason) => {
        if (reason.kind === 'reboot' && !quitting) { io.stderr.write('\r\ntshv: the guest rebooted\r\n'); start(); return; }
        restoreTerminal();
        io.stdin.off('data', onInput);
        // A panic, a failure of the hypervisor or a back-end: exit 1 with what the VM says.
        if (reason.kind === 'panic' || reason.kind === 'error' || reason.kind === 'killed') { io.stderr.write(`\ntshv: ${reason.message}\n`); resolve(1); return; }
        resolve(0);
      });
    };

    if (interactive) {
      io.stdin.setRawMode(true);
      io.stderr.write('tshv: booting; press Ctrl-A H for help, Ctrl-A X to quit\r\n');
    }
    io.stdin.on('data', onInput);
    io.stdin.resume();
    start();
  });
}
