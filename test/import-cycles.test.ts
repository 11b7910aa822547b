// No module of src/ may reach itself through its imports: a circle makes the layers of
// ARCHITECTURE.md meaningless (neither side is the inner one) and, at run time, one of the
// two modules sees the other half-initialised. Every import counts, `import type` too:
// a type is a dependency of the design even when it vanishes from the JavaScript.
//
// The imports are read from the source text (static imports, `export ... from`, and
// dynamic `import('./x.js')` with a literal path); test files are left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './lib/guest-shell.js';

const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !/\.test[.-]/.test(e.name) ? [p] : [];
  });
}

// At the start of a line: `import x from`, `import type { a } from`, `import * as m from`,
// `import './side-effect.js'`, `export { a } from`, `export * from`, `export type { T } from`.
const STATIC = /^(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\}|[\w$]+)?\s*(?:from\s*)?['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The specifiers a module imports. */
export function importsOf(text: string): string[] {
  return [...text.matchAll(STATIC), ...text.matchAll(DYNAMIC)].map((m) => m[1]);
}

/** The source file a relative specifier names ('./x.js' and the core's './x' are ./x.ts); undefined for packages and non-TS files. */
function resolveImport(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')]) {
    if (candidate.endsWith('.ts') && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The module graph of src/: file -> the src files it imports. */
function graph(): Map<string, string[]> {
  const files = sources(SRC);
  const known = new Set(files);
  return new Map(files.map((f) => [f, [...new Set(importsOf(readFileSync(f, 'utf8')).map((s) => resolveImport(f, s)).filter((t): t is string => t !== undefined && known.has(t)))]]));
}

/** Strongly connected components with a circle in them (Tarjan), each as one circle through all its modules' first member. */
export function cycles(edges: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
      if (component.length > 1 || (edges.get(v) ?? []).includes(v)) components.push(component);
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((c) => circleIn(c.sort(), edges)).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** A shortest circle from the component's first module back to itself, staying inside the component. */
function circleIn(component: string[], edges: Map<string, string[]>): string[] {
  const inside = new Set(component);
  const start = component[0];
  const from = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of edges.get(v) ?? []) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(from.get(path[0])!);
        return [...path, start];
      }
      if (!from.has(w)) { from.set(w, v); queue.push(w); }
    }
  }
  return component;
}

test('the import parser sees every form of import', () => {
  const text = [
    "import { a } from './a.js';",
    "import type { B } from './b.js';",
    "import c, { d } from './c.js';",
    "import * as e from './e.js';",
    "import './f.js';",
    "import {\n  g,\n  type H,\n} from './g.js';",
    "export { i } from './i.js';",
    "export type { J } from './j.js';",
    "export * from './k.js';",
    "const l = await import('./l.js');",
    '// import { no } from "./comment.js" is prose, not an import',
    "import { m } from './m'",
  ].join('\n');
  assert.deepEqual(importsOf(text), ['./a.js', './b.js', './c.js', './e.js', './f.js', './g.js', './i.js', './j.js', './k.js', './m', './l.js']);
  const edges = new Map([['a', ['b']], ['b', ['c']], ['c', ['a', 'd']], ['d', ['d']], ['e', ['a']]]);
  assert.deepEqual(cycles(edges), [['a', 'b', 'c', 'a'], ['d', 'd']]);
});

test('no import cycles in src/', () => {
  const edges = graph();
  assert.ok(edges.size > 50, `found the sources (${edges.size} modules)`);
  const found = cycles(edges).map((c) => c.map((f) => relative(SRC, f)).join(' -> '));
  assert.deepEqual(found, [], `import cycles in src/:\n${found.map((c) => `  ${c}`).join('\n')}`);
});
