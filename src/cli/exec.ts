// `tshv exec prog.elf`: run a bare-metal RISC-V program (ISA tests, benchmarks).
import { readFileSync, writeSync } from 'node:fs';
import { runBareMetal } from '../parent/baremetal.js';
import { ElfError } from '../parent/loader/elf.js';
import { parseSize, parseCount, parseJitThreshold } from './units.js';

import { ExecExit } from './errors.js';

export interface ExecFlags { maxInstructions?: string; memory: string; stats?: boolean; jit?: boolean; jitThreshold?: string }

export function execCommand(file: string, flags: ExecFlags): number {
  let elf: Uint8Array;
  try {
    elf = readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    process.stderr.write(`tshv exec: cannot read ${file}: ${why}\n`);
    return ExecExit.usage;
  }
  let ramBytes: number, maxInstructions: bigint | undefined, jitThreshold: number;
  try {
    ramBytes = parseSize(flags.memory, '--memory');
    jitThreshold = parseJitThreshold(flags.jitThreshold);
    maxInstructions = flags.maxInstructions === undefined ? undefined : parseCount(flags.maxInstructions, '--max-instructions');
  } catch (e) {
    process.stderr.write(`tshv exec: ${(e as Error).message}\n`);
    return ExecExit.usage;
  }
  try {
    const run = runBareMetal(elf, { ramBytes, maxInstructions, jit: flags.jit !== false, jitThreshold, output: (b) => writeAll(1, b) });
    if (flags.stats) {
      const mips = Number(run.instret) / run.seconds / 1e6;
      process.stderr.write(`tshv exec: ${run.instret} instructions in ${run.seconds.toFixed(3)} s (${mips.toFixed(1)} MIPS)\n`);
      const t = run.translation;
      if (t) {
        process.stderr.write(`tshv exec: translated ${t.translated} regions (${t.instructions} instructions, ${(t.bytes / 1024).toFixed(0)} KiB) ` +
          `in ${t.compileMs.toFixed(0)} ms; ${t.flushes} flushes, ${t.failed} given up\n`);
      }
    }
    const r = run.result;
    switch (r.kind) {
      case 'pass': return ExecExit.pass;
      case 'fail':
        process.stderr.write(`tshv exec: FAIL: test ${r.code}\n`);
        return ExecExit.fail;
      case 'limit':
        process.stderr.write(`tshv exec: stopped after --max-instructions ${maxInstructions} instructions\n`);
        return ExecExit.limit;
      case 'reset':
        process.stderr.write('tshv exec: the program asked for a reset, which bare-metal mode does not do\n');
        return ExecExit.error;
      case 'stuck':
        process.stderr.write(`tshv exec: ${r.reason}\n`);
        return ExecExit.error;
    }
  } catch (e) {
    if (e instanceof ElfError) { process.stderr.write(`tshv exec: ${file}: ${e.message}\n`); return ExecExit.usage; }
    if (e instanceof RangeError) { process.stderr.write(`tshv exec: ${e.message}\n`); return ExecExit.usage; }
    throw e;
  }
}

/** Writes all bytes synchronously, so output order and completeness survive process.exit. */
function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') return;
      throw e;
    }
  }
}

