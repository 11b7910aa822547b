// ISA test programs (test/isa/src, built into test/isa/bin by test/isa/build.sh) run on
// the tshv core in bare-metal mode. Each program checks itself and reports through
// HTIF tohost / the syscon: exit code 0 means every case passed; on failure it prints
// "FAIL <case>" on the UART and tshv exits 1. Programs with test/isa/expected/<name>.stdout
// must print exactly that; the others must print nothing. See test/isa/KNOWN-FAILURES.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/isa.test.js -> repository root
const root = fileURLToPath(new URL('../..', import.meta.url));
const binDir = join(root, 'test/isa/bin');
const expectedDir = join(root, 'test/isa/expected');
const tshv = join(root, 'bin/tshv.js');

// Every program finishes in a few million instructions; the limit turns a hang into exit 3.
const MAX_INSTRUCTIONS = 200_000_000;
const TIMEOUT_MS = 60_000;

interface Run { code: number | null; stdout: string; stderr: string }

/**
 * Each program runs under both tiers of the processor: the interpreter alone, and with
 * every block translated at its first entry.
 */
const TIERS = { interpreter: ['--no-jit'], jit: ['--jit-threshold', '1'] } as const;

function runElf(elf: string, tierFlags: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [tshv, 'exec', '--max-instructions', String(MAX_INSTRUCTIONS), ...tierFlags, elf],
      { cwd: root, timeout: TIMEOUT_MS, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      });
  });
}

const programs = existsSync(binDir)
  ? readdirSync(binDir).filter((f) => f.endsWith('.elf')).map((f) => f.slice(0, -4)).sort()
  : [];

test('ISA test programs are present', () => {
  assert.ok(programs.length > 0, `no ELF files in ${binDir}; run test/isa/build.sh`);
});

for (const [tier, flags] of Object.entries(TIERS)) test(`ISA programs on tshv (${tier})`, { concurrency: Math.max(2, availableParallelism()) }, async (t) => {
  await Promise.all(programs.map((name) =>
    t.test(name, async () => {
      const run = await runElf(join('test/isa/bin', `${name}.elf`), flags);
      const detail = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
      assert.equal(run.code, 0, `${name} exited with ${run.code}\n${detail}`);
      const expectedFile = join(expectedDir, `${name}.stdout`);
      const expected = existsSync(expectedFile) ? readFileSync(expectedFile, 'utf8') : '';
      assert.equal(run.stdout, expected, `${name}: UART output differs\n${detail}`);
    })));
});
