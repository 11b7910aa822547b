// The `tshv` command.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ExecExit, UsageError } from './errors.js';
import { parseJitThreshold } from './units.js';
import { JIT_THRESHOLD_DEFAULT } from '../cpu/jit/threshold.js';
import { DEFAULT_APPEND } from '../parent/guest-defaults.js';
import { MACHINE_LIMITS } from '../parent/machine/limits.js';
import { VmThreads } from '../parent/vm-threads.js';
import type { RunFlags } from './run.js';
import { addVmCommands } from './vm.js';
import { addHostCommands } from './host.js';
import { addDiskCommands } from './disk.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The threads of a VM of `--cpus` VPs, started before the images are read so that they load
 * while the kernel is unpacked; undefined if the value is not one runConfig accepts (it then
 * says why).
 */
function startThreads(cpusFlag: string): VmThreads | undefined {
  const cpus = Number(cpusFlag);
  const { min, max } = MACHINE_LIMITS.cpus;
  return Number.isInteger(cpus) && cpus >= min && cpus <= max ? VmThreads.start(cpus) : undefined;
}

export function main(argv: string[]): void {
  const program = new Command();
  program
    .name('tshv')
    .description('tshv: a Hyper-V-style hypervisor in TypeScript running RISC-V RV64GC guests')
    .version(packageVersion(), '-V, --version', 'print the tshv version')
    .showHelpAfterError()
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : ExecExit.usage));

  program
    .command('exec')
    .description('run a bare-metal RISC-V ELF on one hart in M-mode (ISA tests, benchmarks)')
    .argument('<elf>', 'RV64 ELF executable, loaded at its physical addresses (RAM starts at 0x80000000)')
    .addOption(new Option('--max-instructions <n>', 'stop after n instructions (exit code 3)'))
    .addOption(new Option('-m, --memory <size>', 'guest RAM size, e.g. 64M, 1G').default('128M'))
    .option('--stats', 'print instructions retired, time and MIPS on stderr (and what the translation tier did)')
    .option('--no-jit', 'interpret only: do not translate hot code to WebAssembly')
    .addOption(new Option('--jit-threshold <n>', 'entries of a block before it is translated (1: translate all code at once)').default(String(JIT_THRESHOLD_DEFAULT)))
    .addHelpText('after', `
Devices: ns16550a UART at 0x10000000 (output goes to stdout exactly as written),
sifive,test0 syscon at 0x100000, CLINT at 0x2000000 (10 MHz), HTIF tohost (the ELF symbol).
The run ends when the program writes tohost (1 = pass, (n<<1)|1 = failure n) or the syscon.

Exit codes: 0 pass, 1 the program reported a failure, 2 bad usage or unreadable ELF,
3 --max-instructions reached, 4 the program hung (WFI with nothing to wake it) or reset.`)
    .action(async (elf: string, flags) => { process.exitCode = (await import('./exec.js')).execCommand(elf, flags); });

  program
    .command('run', { isDefault: false })
    .description('boot a Linux guest with its console on this terminal (the default image: a busybox shell)')
    .option('-k, --kernel <file>', 'RISC-V Linux kernel Image, optionally gzipped (default: guest/images/Image.gz)')
    .option('-i, --initrd <file>', 'initramfs (default: guest/images/initramfs.cpio.gz with the default kernel)')
    .option('--no-initrd', 'boot without an initramfs')
    .option('-a, --append <cmdline>', `kernel command line (default: "${DEFAULT_APPEND}", plus "root=/dev/vda rw" with --root; console=hvc0 with --console virtio)`)
    .option('-m, --memory <size>', 'guest RAM, e.g. 256M, 1G', '256M')
    .option('-c, --cpus <n>', 'virtual processors, 1..8', '1')
    .option('-d, --disk <file[,readonly]>', 'attach a disk image (raw or qcow2) as /dev/vda, /dev/vdb, ...; repeatable', collect)
    .option('-r, --root <file>', 'boot from this root disk image (ext4, raw or qcow2): it becomes /dev/vda, no initramfs')
    .addOption(new Option('--console <kind>', 'the console on this terminal: serial (ttyS0) or virtio (hvc0)').choices(['serial', 'virtio']).default('serial'))
    .option('--save-to <file>', 'Ctrl-A S (or SIGTERM) saves the running VM to this file and exits; resume it with --restore')
    .option('--restore <file>', 'resume a VM saved with --save-to (or `tshv vm save`) exactly where it was, instead of booting')
    .option('--no-jit', 'interpret guest code only: do not translate hot code to WebAssembly (slower; for comparison and diagnosis)')
    .addOption(new Option('--jit-threshold <n>', 'entries of a block before it is translated (1..1000000)').default(String(JIT_THRESHOLD_DEFAULT)))
    .addHelpText('after', `
The console is attached to this terminal in raw mode: Ctrl-A X quits, Ctrl-A H lists the keys.
With --save-to FILE, Ctrl-A S saves the VM (RAM, processors, devices) and exits; so does
SIGTERM. --restore FILE resumes it with the same disks, which must not have been used since
(the machine's size, console and disks come from the file: other options are refused).
When stdin is not a terminal, stdin goes to the guest and guest output to stdout.

Disks are virtio-blk devices served from the image files: raw or qcow2 (v2/v3, with backing
files). An image is locked while a VM uses it. Example with a copy-on-write overlay:
  tshv disk create my.qcow2 --backing "$PWD/guest/images/rootfs.qcow2" && tshv run --root my.qcow2

Exit codes: 0 the guest powered off (or Ctrl-A X, or it was saved), 1 the guest panicked
or the hypervisor failed, 2 bad usage, unreadable images or a state file that cannot be restored.`)
    .action(async (flags: RunFlags, cmd: Command) => {
      let config, jitThreshold;
      // The VM's threads load their code while the kernel is read and unpacked (run.ts).
      const threads = flags.restore === undefined ? startThreads(flags.cpus) : undefined;
      // Commands load what they run when they run: `tshv run` reaches its VM sooner.
      const [{ runConfig, runVm }, { coreModule }] = await Promise.all([import('./run.js'), import('../cpu/wasm-hart.js')]);
      try {
        if (cmd.args.length) {
          throw new UsageError(`unexpected argument${cmd.args.length > 1 ? 's' : ''} ${cmd.args.map((a) => `"${a}"`).join(' ')}: ` +
            'tshv run takes only options (the kernel is --kernel FILE, a disk --disk FILE); see tshv run --help');
        }
        if (flags.restore !== undefined) {
          const given = ['kernel', 'append', 'disk', 'root'].filter((k) => flags[k as keyof RunFlags] !== undefined)
            .concat(flags.initrd === false ? ['no-initrd'] : flags.initrd !== undefined ? ['initrd'] : [])
            .concat(['memory', 'cpus', 'console'].filter((k) => cmd.getOptionValueSource(k) === 'cli'));
          if (given.length) throw new UsageError(`--restore takes the VM's configuration from the file: --${given.join(', --')} cannot be given with it`);
        } else {
          // The images are read and the kernel unpacked on libuv's threads while this one
          // compiles the processor core (~40 ms) that the VM's threads will share.
          const reading = runConfig(flags);
          coreModule();
          config = await reading;
        }
        try { jitThreshold = parseJitThreshold(flags.jitThreshold); } catch (e) { throw new UsageError((e as Error).message); }
      } catch (e) {
        threads?.terminate();
        if (e instanceof UsageError || (e as Error).name === 'LinuxImageError') {
          process.stderr.write(`tshv run: ${(e as Error).message}\n`);
          process.exitCode = ExecExit.usage;
          return;
        }
        throw e;
      }
      process.exitCode = await runVm(config ? { config } : { restore: flags.restore! }, { saveTo: flags.saveTo, jit: flags.jit !== false, jitThreshold, threads });
      process.exit();
    });

  addVmCommands(program);
  addHostCommands(program);
  addDiskCommands(program);

  program
    .command('serve')
    .description('run the management service: this process becomes a host for VMs (REST API, web console)')
    .option('--listen <host:port>', 'address to listen on (port 0 = any free port)', '127.0.0.1:7070')
    .option('--data-dir <dir>', 'data directory (default: $TSHV_DATA_DIR, else $XDG_DATA_HOME/tshv)')
    .option('--storage-root <dir>', 'a directory VMs may take kernels, initrds and disk images from; repeatable ' +
      '(default: the data directory\'s images/ and the built-in guest/images/)', collect)
    .option('--allow-host <name>', 'also answer requests for this host name (NAME or NAME:PORT; repeatable); '
      + 'by default only the --listen host, localhost, 127.0.0.1 and [::1] on the service\'s port', collect)
    .addHelpText('after', `
VM definitions may name only files inside the storage roots (symbolic links resolved),
never the service's own files. The API is described in docs/api.md and at /api/openapi.json.
SIGINT/SIGTERM stop the VMs and the service.`)
    // Loaded here, not at start-up: fastify and SQLite cost the client commands ~0.7 s.
    .action(async (flags) => (await import('./serve.js')).serveCommand(flags));

  program.parse(argv);
}
