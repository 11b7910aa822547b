// Running a test program on QEMU and on tshv and collecting its UART output.

import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RunResult {
  /** Process exit code, or null if killed. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Repository root, from dist/test/diff/ (compiled) or test/diff/ (source). */
export function repoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return here.includes('/dist/test/diff') ? join(here, '../../..') : join(here, '../..');
}

let tmpDir: string | undefined;
let tmpSeq = 0;
function tmpFile(name: string, data: Uint8Array): string {
  if (!tmpDir) {
    tmpDir = mkdtempSync(join(tmpdir(), 'tshv-diff-'));
    const dir = tmpDir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const path = join(tmpDir, `${process.pid}-${tmpSeq++}-${name}`);
  writeFileSync(path, data);
  return path;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export const QEMU = 'qemu-system-riscv64';

export function qemuAvailable(): boolean {
  try {
    execFileSync(QEMU, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * QEMU's virt board with -bios none: the reset vector at 0x1000 jumps to the start of RAM
 * (0x8000_0000) in M-mode, where our ELF's entry point is.
 */
export async function runQemu(elf: Uint8Array, name = 'prog', timeoutMs = 30_000): Promise<RunResult> {
  const path = tmpFile(`${name}.elf`, elf);
  try {
    return await run(QEMU, ['-M', 'virt', '-bios', 'none', '-nographic', '-monitor', 'none', '-m', '128M',
      '-kernel', path], timeoutMs);
  } finally {
    rmSync(path, { force: true });
  }
}

export const MAX_INSTRUCTIONS = 5_000_000;

/** tshv's bare-metal runner: same UART and syscon as QEMU's virt; exit 0 on syscon pass. */
/**
 * The processor tiers a program runs under: the interpreter alone, and translation of every
 * block at its first entry (so the translator, not only the interpreter, meets each case).
 */
export type Tier = 'interpreter' | 'jit';
export const TIERS: readonly Tier[] = ['interpreter', 'jit'];
export const TIER_FLAGS: Record<Tier, string[]> = { interpreter: ['--no-jit'], jit: ['--jit-threshold', '1'] };

export async function runTshvCli(elf: Uint8Array, name = 'prog', timeoutMs = 60_000, tier: Tier = 'jit'): Promise<RunResult> {
  const path = tmpFile(`${name}.elf`, elf);
  try {
    return await run(process.execPath, [join(repoRoot(), 'bin/tshv.js'), 'exec', path,
      '--max-instructions', String(MAX_INSTRUCTIONS), ...TIER_FLAGS[tier]], timeoutMs);
  } finally {
    rmSync(path, { force: true });
  }
}

/** Runs `jobs` with at most `limit` in flight, results in order. */
export async function pool<T, R>(items: readonly T[], limit: number, job: (t: T, k: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const k = next++;
      out[k] = await job(items[k]!, k);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
