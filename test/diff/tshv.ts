// Running a test program on tshv: in-process through the bare-metal runner when the build
// has it (much faster: no process start, no wasm recompilation), otherwise through
// `tshv exec`. Both report like the CLI: exit 0 when the program powers off via syscon.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Runner } from './diagnose.js';
import { MAX_INSTRUCTIONS, repoRoot, runTshvCli } from './runners.js';
import type { RunResult, Tier } from './runners.js';

/** The part of src/parent/baremetal.ts this harness relies on. */
interface BareMetalModule {
  runBareMetal(elf: Uint8Array, opts: {
    ramBytes: number; maxInstructions?: bigint; jit?: boolean; jitThreshold?: number; output: (bytes: Uint8Array) => void;
  }): { result: { kind: string; code?: number; reason?: string } };
}

const RAM_BYTES = 4 << 20;
const EXIT_CODES: Record<string, number> = { pass: 0, fail: 1, limit: 3, reset: 4, stuck: 4 };

async function loadInProcess(): Promise<BareMetalModule | undefined> {
  try {
    // A computed specifier: the harness must still compile if the module moves.
    const url = pathToFileURL(join(repoRoot(), 'dist/src/parent/baremetal.js')).href;
    const mod = (await import(url)) as Partial<BareMetalModule>;
    return typeof mod.runBareMetal === 'function' ? (mod as BareMetalModule) : undefined;
  } catch {
    return undefined;
  }
}

export interface TshvRunner {
  readonly run: Runner;
  readonly mode: 'in-process' | 'cli';
  readonly tier: Tier;
}

export async function tshvRunner(forceCli = false, tier: Tier = 'jit'): Promise<TshvRunner> {
  const mod = forceCli ? undefined : await loadInProcess();
  if (!mod) return { run: (elf, name) => runTshvCli(elf, name, undefined, tier), mode: 'cli', tier };
  const run: Runner = async (elf) => {
    const chunks: Buffer[] = [];
    try {
      const r = mod.runBareMetal(elf, {
        ramBytes: RAM_BYTES, maxInstructions: BigInt(MAX_INSTRUCTIONS), output: (b) => chunks.push(Buffer.from(b)),
        jit: tier === 'jit', jitThreshold: 1,
      });
      const res: RunResult = {
        code: EXIT_CODES[r.result.kind] ?? 4,
        stdout: Buffer.concat(chunks).toString('latin1'),
        stderr: r.result.kind === 'pass' ? '' : JSON.stringify(r.result),
      };
      return res;
    } catch (e) {
      return { code: 4, stdout: Buffer.concat(chunks).toString('latin1'), stderr: String((e as Error).stack ?? e) };
    }
  };
  return { run, mode: 'in-process', tier };
}
