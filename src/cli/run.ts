// `tshv run`: boot a Linux guest with its console on this terminal (or on stdin/stdout
// when they are not a terminal), like `qemu-system-riscv64 -nographic`.
import { existsSync } from 'node:fs';
import { Vm, type VmConfig } from '../parent/vm.js';
import type { VmThreads } from '../parent/vm-threads.js';
import type { StopReason } from '../parent/vm-protocol.js';
import { guestConfig, sharedImage } from '../parent/guest-config.js';
import { MACHINE_LIMITS, MEMORY_MIB } from '../parent/machine/limits.js';
import { parseDiskSpec, parseSize } from './units.js';
import type { ConsoleKind, DiskSpec } from '../parent/vm-protocol.js';
import type { SavedConfig } from '../parent/machine/state.js';
import { ExecExit, UsageError } from './errors.js';

export { DEFAULT_KERNEL, DEFAULT_INITRD, DEFAULT_APPEND } from '../parent/guest-config.js';

export interface RunFlags {
  kernel?: string; initrd?: string | false; append?: string; memory: string; cpus: string;
  disk?: string[]; root?: string; console?: ConsoleKind;
  saveTo?: string; restore?: string; jit?: boolean; jitThreshold?: string;
}


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

/** What `tshv run` starts: a guest to boot, or a saved one to resume (--restore FILE). */
export type RunSource = { config: VmConfig } | { restore: string };

export interface RunOptions {
  /** --save-to FILE: Ctrl-A S and SIGTERM save the VM there and end the run. */
  saveTo?: string;
  /** --no-jit (false): the processors interpret only. */
  jit?: boolean;
  /** --jit-threshold N. */
  jitThreshold?: number;
  /** The first VM's threads, started early (startThreads); later VMs (a reboot) start their own. */
  threads?: VmThreads;
}

type RunIo = { stdin: NodeJS.ReadStream; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

/** Runs the VM until it stops (or is saved); resolves to the process exit code. */
export function runVm(source: RunSource, options: RunOptions = {}, io: RunIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const interactive = io.stdin.isTTY === true;
  return new Promise((resolve) => {
    let vm: Vm | undefined;
    let quitting = false;
    let escape = false;
    let saving = false;
    let ended = false;

    const restoreTerminal = () => { if (interactive) io.stdin.setRawMode(false); io.stdin.pause(); };
    const end = (code: number) => {
      if (ended) return;
      ended = true;
      restoreTerminal();
      io.stdin.off('data', onInput);
      process.off('SIGTERM', onTerm);
      resolve(code);
    };
    const save = () => {
      if (!vm || saving || !options.saveTo) return;
      saving = true;
      const path = options.saveTo;
      io.stderr.write(`\r\ntshv: saving the VM to ${path}\r\n`);
      const bar = progressBar(io.stderr, 'saving');
      vm.save(path, { then: 'stop', onProgress: bar.update }).then(
        (r) => { bar.done(); io.stderr.write(`tshv: saved (${formatMiB(r.bytes)} MiB, ${r.ramPages} RAM pages, ${r.zeroPages} zero pages left out) in ${r.pausedMs.toFixed(0)} ms; resume with: tshv run --restore ${path}\r\n`); },
        (e: Error) => { bar.done(); saving = false; io.stderr.write(`tshv: the save failed: ${e.message}; the VM goes on\r\n`); },
      );
    };
    const onTerm = () => { if (options.saveTo) save(); else { quitting = true; vm?.stop(); } };
    const early: Buffer[] = [];
    const onInput = (chunk: Buffer) => {
      if (!vm) { early.push(chunk); return; } // typed while a restore reads the state file
      if (!interactive) { vm.write(chunk); return; }
      // QEMU-style escapes: Ctrl-A X quits, Ctrl-A S saves (with --save-to), Ctrl-A H helps, Ctrl-A Ctrl-A sends Ctrl-A.
      const out: number[] = [];
      for (const b of chunk) {
        if (escape) {
          escape = false;
          const k = String.fromCharCode(b).toLowerCase();
          if (k === 'x') { quitting = true; io.stderr.write('\r\ntshv: terminating the VM\r\n'); vm.stop(); return; }
          if (k === 's') {
            if (options.saveTo) save();
            else io.stderr.write('\r\ntshv: no --save-to FILE was given: nothing to save to\r\n');
            continue;
          }
          if (k === 'h') {
            io.stderr.write('\r\nC-a h    print this help\r\nC-a x    exit (hard power-off of the VM)\r\n' +
              `C-a s    save the VM ${options.saveTo ? `to ${options.saveTo}` : '(needs --save-to FILE)'} and exit\r\nC-a C-a  send C-a to the guest\r\n`);
            continue;
          }
          if (b === CTRL_A) out.push(CTRL_A);
          continue;
        }
        if (b === CTRL_A) { escape = true; continue; }
        out.push(b);
      }
      if (out.length) vm.write(Uint8Array.from(out));
    };

    const attach = (next: Vm) => {
      vm = next;
      for (const chunk of early.splice(0)) onInput(chunk);
      next.on('console', (data) => io.stdout.write(data));
      next.on('log', (m) => io.stderr.write(`tshv: ${m}\n`));
      next.on('stopped', (reason: StopReason) => {
        if (reason.kind === 'reboot' && !quitting) { io.stderr.write('\r\ntshv: the guest rebooted\r\n'); void reboot(); return; }
        // A panic, a failure of the hypervisor or a back-end: exit 1 with what the VM says.
        if (reason.kind === 'panic' || reason.kind === 'error' || reason.kind === 'killed') { io.stderr.write(`\ntshv: ${reason.message}\n`); end(1); return; }
        end(0);
      });
    };
    // The guest's kernel and initrd again (a restored VM takes them from its state file's record).
    let bootConfig = 'config' in source ? source.config : undefined;
    const reboot = async () => {
      try {
        bootConfig ??= await rebootConfig(restoredConfig!);
        attach(new Vm({ ...bootConfig, jit: options.jit, jitThreshold: options.jitThreshold }));
      } catch (e) {
        io.stderr.write(`tshv: cannot boot the guest again: ${(e as Error).message}\n`);
        end(1);
      }
    };
    let restoredConfig: SavedConfig | undefined;

    if (interactive) {
      io.stdin.setRawMode(true);
      io.stderr.write(`tshv: ${'restore' in source ? 'restoring' : 'booting'}; press Ctrl-A H for help, Ctrl-A X to quit${options.saveTo ? ', Ctrl-A S to save' : ''}\r\n`);
    }
    io.stdin.on('data', onInput);
    io.stdin.resume();
    process.on('SIGTERM', onTerm);
    if ('config' in source) { attach(new Vm({ ...source.config, jit: options.jit, jitThreshold: options.jitThreshold }, undefined, options.threads)); return; }
    const bar = progressBar(io.stderr, 'restoring');
    Vm.restore(source.restore, { onProgress: bar.update, jit: options.jit, jitThreshold: options.jitThreshold }).then(
      ({ vm: restored, config }) => { bar.done(); restoredConfig = config; attach(restored); },
      (e: Error) => { bar.done(); io.stderr.write(`tshv run: cannot restore ${source.restore}: ${e.message}\n`); end(ExecExit.usage); },
    );
  });
}

/** The boot configuration of a restored VM whose guest rebooted: its recorded kernel and initrd. */
async function rebootConfig(saved: SavedConfig): Promise<VmConfig> {
  if (!saved.boot) throw new Error('the state file does not say which kernel the VM booted');
  return guestConfig({
    kernel: saved.boot.kernel, initrd: saved.boot.initrd ?? false, append: saved.append, memoryBytes: saved.memoryBytes,
    cpus: saved.cpus, disks: saved.disks, console: saved.console,
  });
}

function formatMiB(bytes: number): string { return (bytes / 2 ** 20).toFixed(1); }

/** A progress bar on stderr when it is a terminal (nothing otherwise): "saving [#####     ] 50%". */
function progressBar(out: NodeJS.WritableStream, label: string): { update: (done: number, total: number) => void; done: () => void } {
  const tty = (out as NodeJS.WriteStream).isTTY === true;
  let last = -1, shown = false;
  return {
    update: (done, total) => {
      if (!tty || total <= 0) return;
      const pct = Math.floor((100 * done) / total);
      if (pct === last) return;
      last = pct;
      shown = true;
      const width = 30, fill = Math.round((width * pct) / 100);
      out.write(`\r${label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${String(pct).padStart(3)}%`);
    },
    done: () => { if (shown) out.write('\r\x1b[K'); },
  };
}
