// Builds the RV64GC core (AssemblyScript) to build/cpu.wasm, run by the install step.
// Each hart is one instance of this module over the VM's shared memory, so the module
// must keep no static data in memory: the stub runtime, no strings, no abort messages.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
execFileSync(process.execPath, [root + 'scripts/gen-layout.js'], { stdio: 'inherit' });
mkdirSync(root + 'build', { recursive: true });

const asc = root + 'node_modules/assemblyscript/bin/asc.js';
const common = [
  '--runtime', 'stub', '--noAssert', '--use', 'abort=',
  '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536',
  '--enable', 'threads', '-O3', '--converge', '--noExportMemory',
];
function build(entry, out, extra = []) {
  execFileSync(process.execPath, [asc, root + entry, '-o', root + out, ...common, ...extra], { stdio: 'inherit', cwd: root });
}
// The core imports its function table: the host adds translated blocks to it (src/cpu/jit).
build('src/cpu/core/index.ts', 'build/cpu.wasm', ['--importTable']);
// Test-only entry exposing the FPU routines directly (src/cpu/fpu.test.ts).
if (existsSync(root + 'src/cpu/core/fpu-test-entry.ts')) build('src/cpu/core/fpu-test-entry.ts', 'build/fpu-test.wasm');
