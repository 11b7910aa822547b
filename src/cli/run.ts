// `tshv run`: boot a Linux guest with its console on this terminal (or on stdin/stdout
// when they are not a terminal), like `qemu-system-riscv64 -nographic`.
import { existsSync } from 'node:fs';
import { Vm, type VmConfig } from '../parent/vm.js';
import type { StopReason } from '../parent/vm-protocol.js';
import { guestConfig, sharedImage } from '../parent/guest-config.js';
import { MAX_RAM_BYTES } from '../cpu/memory.js';
import { parseDiskSpec, parseSize } from './units.js';
import type { ConsoleKind, DiskSpec } from '../parent/vm-protocol.js';
import { MAX_DISKS } from '../parent/vsp/synthetic.js';

export { DEFAULT_KERNEL, DEFAULT_INITRD, DEFAULT_APPEND } from '../parent/guest-config.js';
const MIN_RAM_BYTES = 16 * 1024 * 1024;

export interface RunFlags {
  kernel?: string; initrd?: string | false; append?: string; memory: string; cpus: string;
  disk?: string[]; root?: string; console?: ConsoleKind;
}

export class UsageError extends Error {}

/** Validates the flags and reads the images: everything that can fail before a VM exists. */
export async function runConfig(flags: RunFlags): Promise<VmConfig> {
  const memoryBytes = usage(() => parseSize(flags.memory, '--memory'));
  if (memoryBytes < MIN_RAM_BYTES) throw new UsageError(`--memory ${flags.memory} is too small: a Linux guest needs at least 16M`);
  if (memoryBytes > MAX_RAM_BYTES) throw new UsageError(`--memory ${flags.memory} is too large: the maximum is ${Math.floor(MAX_RAM_BYTES / 2 ** 20)}M`);
  if (memoryBytes % 4096 !== 0) throw new UsageError(`--memory must be a multiple of 4K`);
  const cpus = Number(flags.cpus);
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 8) throw new UsageError(`--cpus must be a whole number from 1 to 8, got "${flags.cpus}"`);
  const disks = (flags.disk ?? []).map((d) => diskSpec(d, '--disk'));
  const root = flags.root ? diskSpec(flags.root, '--root') : undefined;
  const count = disks.length + (root ? 1 : 0);
  if (count > MAX_DISKS) throw new UsageError(`at most ${MAX_DISKS} disks (--root counts as one), got ${count}`);
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

const PANIC = 'Kernel panic - not syncing';
const CTRL_A = 0x01;

/** Runs the VM until it stops; resolves to the process exit code. */
export function runVm(config: VmConfig, io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const interactive = io.stdin.isTTY === true;
  return new Promise((resolve) => {
    let vm: Vm;
    let tail = '';
    let panicked = false;
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
      vm.on('console', (data) => {
        io.stdout.write(data);
        if (!panicked) {
          tail = (tail + Buffer.from(data).toString('latin1')).slice(-256);
          if (tail.includes(PANIC)) {
            panicked = true;
            setTimeout(() => vm.stop(), 1000); // let the panic message finish
          }
        }
      });
      vm.on('log', (m) => io.stderr.write(`tshv: ${m}\n`));
      vm.on('stopped', (reason: StopReason) => {
        if (reason.kind === 'reboot' && !quitting) { io.stderr.write('\r\ntshv: the guest rebooted\r\n'); start(); return; }
        restoreTerminal();
        io.stdin.off('data', onInput);
        if (panicked) { io.stderr.write('\ntshv: the guest kernel panicked\n'); resolve(1); return; }
        if (reason.kind === 'error') { io.stderr.write(`\ntshv: ${reason.message}\n`); resolve(1); return; }
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
