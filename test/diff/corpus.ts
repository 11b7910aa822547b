// The golden corpus: for a fixed list of programs (random seeds and directed suites), the
// dump QEMU printed. Programs are regenerated from their names at test time, so the file
// holds only names and QEMU's results, each as a sparse diff against the program's
// initial dump image (program.ts) and gzipped.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { directedPrograms } from './directed.js';
import type { DirectedProgram } from './directed.js';
import { unsparse } from './dump.js';
import { DEFAULT_STEPS, GENERATOR_VERSION, generateRandom } from './generator.js';
import type { Profile } from './generator.js';
import { buildProgram } from './program.js';
import type { BuiltProgram, ProgramSpec } from './program.js';
import { repoRoot } from './runners.js';

export const CORPUS_FORMAT = 1;
/** The seeds of the recorded random programs: full RV64GC, and integer-only (no F/D). */
export const GOLDEN_SEEDS: readonly number[] = Array.from({ length: 240 }, (_, k) => k + 1);
export const GOLDEN_INT_SEEDS: readonly number[] = Array.from({ length: 100 }, (_, k) => k + 1);

export interface GoldenEntry {
  readonly name: string;
  /** Dump words that differ from the initial image: [word index, hex value]. */
  readonly words: readonly (readonly [number, string])[];
}

export interface Corpus {
  readonly format: number;
  readonly generator: number;
  readonly steps: number;
  readonly qemu: string;
  readonly entries: readonly GoldenEntry[];
}

export const corpusPath = (): string => join(repoRoot(), 'test/diff/golden/corpus.json.gz');

export function readCorpus(path = corpusPath()): Corpus {
  const c = JSON.parse(gunzipSync(readFileSync(path)).toString('utf8')) as Corpus;
  if (c.format !== CORPUS_FORMAT || !Array.isArray(c.entries)) throw new Error(`${path}: unknown corpus format ${c.format}`);
  return c;
}

export function writeCorpus(c: Corpus, path = corpusPath()): void {
  // One entry per line keeps the uncompressed form readable (zcat).
  const text = '{"format":' + c.format + ',"generator":' + c.generator + ',"steps":' + c.steps +
    ',"qemu":' + JSON.stringify(c.qemu) + ',"entries":[\n' +
    c.entries.map((e) => JSON.stringify(e)).join(',\n') + '\n]}\n';
  writeFileSync(path, gzipSync(text, { level: 9 }));
}

export interface TestProgram {
  readonly name: string;
  readonly spec: ProgramSpec;
  readonly directed?: DirectedProgram;
}

export const randomName = (seed: number, profile: Profile = 'full'): string =>
  `${profile === 'int' ? 'randint' : 'random'}-${seed}`;

let directedCache: Map<string, DirectedProgram> | undefined;
function directedByName(): Map<string, DirectedProgram> {
  directedCache ??= new Map(directedPrograms().map((d) => [d.name, d]));
  return directedCache;
}

/** Regenerates a program from its corpus name. */
export function programByName(name: string, steps = DEFAULT_STEPS): TestProgram {
  const m = /^rand(om|int)-(\d+)$/.exec(name);
  if (m) return { name, spec: generateRandom(Number(m[2]), steps, m[1] === 'int' ? 'int' : 'full') };
  const d = directedByName().get(name);
  if (!d) throw new Error(`unknown test program ${name}`);
  return { name, spec: d.spec, directed: d };
}

/** Every program of the golden corpus, in order: directed suites, integer-only seeds, full seeds. */
export function goldenNames(): string[] {
  return [...directedByName().keys(), ...GOLDEN_INT_SEEDS.map((s) => randomName(s, 'int')),
    ...GOLDEN_SEEDS.map((s) => randomName(s))];
}

export function expectedWords(built: BuiltProgram, e: GoldenEntry): BigUint64Array {
  return unsparse(built.initialDump, e.words);
}

export { GENERATOR_VERSION, DEFAULT_STEPS, buildProgram };
