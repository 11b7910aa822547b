// The `tshv` command.
import { Command, Option } from 'commander';
import { execCommand, ExecExit } from './exec.js';

export function main(argv: string[]): void {
  const program = new Command();
  program
    .name('tshv')
    .description('tshv: a Hyper-V-style hypervisor in TypeScript running RISC-V RV64GC guests')
    .showHelpAfterError()
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : ExecExit.usage));

  program
    .command('exec')
    .description('run a bare-metal RISC-V ELF on one hart in M-mode (ISA tests, benchmarks)')
    .argument('<elf>', 'RV64 ELF executable, loaded at its physical addresses (RAM starts at 0x80000000)')
    .addOption(new Option('--max-instructions <n>', 'stop after n instructions (exit code 3)'))
    .addOption(new Option('-m, --memory <size>', 'guest RAM size, e.g. 64M, 1G').default('128M'))
    .option('--stats', 'print instructions retired, time and MIPS on stderr')
    .addHelpText('after', `
Devices: ns16550a UART at 0x10000000 (output goes to stdout exactly as written),
sifive,test0 syscon at 0x100000, CLINT at 0x2000000 (10 MHz), HTIF tohost (the ELF symbol).
The run ends when the program writes tohost (1 = pass, (n<<1)|1 = failure n) or the syscon.

Exit codes: 0 pass, 1 the program reported a failure, 2 bad usage or unreadable ELF,
3 --max-instructions reached, 4 the program hung (WFI with nothing to wake it) or reset.`)
    .action((elf: string, flags) => { process.exitCode = execCommand(elf, flags); });

  program.parse(argv);
}
