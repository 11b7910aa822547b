// The hypervisor stays small and free of Node APIs and of the outer layers (ARCHITECTURE.md:
// "Keep src/hypervisor/ free of Node APIs and device code; its size is tracked"). Its
// tsconfig compiles it without Node types; this test also reads its imports and counts
// its lines, so a regression fails `npm test` with the offending file named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Lines of production code the hypervisor may have (the Hyper-V seed: small on purpose). */
const LINE_BUDGET = 3000;
/** The layers the hypervisor may import: itself, the processor's host-side vocabulary, VMBus. */
const ALLOWED = [/^\.\/[\w-]+\.js$/, /^\.\.\/state\/contract\.js$/, /^\.\.\/cpu\/(layout|types|processor|state-blocks|hart-state)\.js$/, /^\.\.\/vmbus\/[\w-]+\.js$/];

// Tests run from dist/src/hypervisor/; the sources are in src/hypervisor/ of the repository.
const dir = fileURLToPath(new URL('../../../src/hypervisor/', import.meta.url));
const production = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.includes('.test'));

function imports(source: string): string[] {
  return [...source.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
}

/** Lines that are not blank and not comments (line comments and block-comment lines). */
export function codeLines(source: string): number {
  let n = 0, inBlock = false;
  for (const raw of source.split('\n')) {
    const line = raw.trim();
    if (inBlock) { if (line.includes('*/')) inBlock = false; continue; }
    if (line === '' || line.startsWith('//')) continue;
    if (line.startsWith('/*')) { inBlock = !line.includes('*/'); continue; }
    n++;
  }
  return n;
}

test('the hypervisor imports no Node API and no outer layer', () => {
  const bad: string[] = [];
  for (const f of production) {
    for (const spec of imports(readFileSync(join(dir, f), 'utf8'))) {
      if (!ALLOWED.some((re) => re.test(spec))) bad.push(`${f} imports '${spec}'`);
    }
  }
  assert.deepEqual(bad, []);
});

test(`the hypervisor keeps within its line budget (${LINE_BUDGET} lines of production code)`, (t) => {
  const sizes = production.map((f) => [f, codeLines(readFileSync(join(dir, f), 'utf8'))] as const);
  const total = sizes.reduce((a, [, n]) => a + n, 0);
  t.diagnostic(`src/hypervisor: ${total} lines of code in ${production.length} files`);
  assert.ok(total > 500, 'the counter counts something');
  assert.ok(total <= LINE_BUDGET, `src/hypervisor has ${total} lines of code: over the budget of ${LINE_BUDGET} (${sizes.map(([f, n]) => `${f} ${n}`).join(', ')})`);
});

test('the line counter skips comments and blank lines', () => {
  assert.equal(codeLines('// a\n\n/* b\n c */\nconst x = 1;\n/** d */\nlet y;\n'), 2);
});
