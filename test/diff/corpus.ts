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
import { DEFAULT_STEPS, GENERATOR_VERSION, PROFILES, generateRandom } from './generator.js';
import type { Profile } from './generator.js';
import { buildProgram } from './program.js';
import type { BuiltProgram, ProgramSpec } from './program.js';
import { repoRoot } from './runners.js';

export const CORPUS_FORMAT = 1;
/** The recorded random programs: how many seeds (1..n) of each profile. */
export const GOLDEN_RANDOM: Readonly<Record<Profile, number>> = { full: 240, int: 100, sv39: 50, sv48u: 50 };
const PREFIX: Record<Profile, string> = { full: 'random', int: 'randint', sv39: 'randsv39', sv48u: 'randsv48u' };

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

export const randomName = (seed: number, profile: Profile = 'full'): string => `${PREFIX[profile]}-${seed}`;

let directedCache: Map<string, DirectedProgram> | undefined;
function directedByName(): Map<string, DirectedProgram> {
  directedCache ??= new Map(directedPrograms().map((d) => [d.name, d]));
  return directedCache;
}

/** Regenerates a program from its corpus name. */
export function programByName(name: string, steps = DEFAULT_STEPS): TestProgram {
  const m = /^([a-z0-9]+)-(\d+)$/.exec(name);
  const profile = m ? PROFILES.find((p) => PREFIX[p] === m[1]) : undefined;
  if (m && profile) return { name, spec: generateRandom(Number(m[2]), steps, profile) };
  const d = directedByName().get(name);
  if (!d) throw new Error(`unknown test program ${name}`);
  return { name, spec: d.spec, directed: d };
}

/** Every program of the golden corpus, in order: directed suites, then random seeds by profile. */
export function goldenNames(): string[] {
  const random = (['int', 'sv39', 'sv48u', 'full'] as const).flatMap((p) =>
    Array.from({ length: GOLDEN_RANDOM[p] }, (_, k) => randomName(k + 1, p)));
  return [...directedByName().keys(), ...random];
}

export function expectedWords(built: BuiltProgram, e: GoldenEntry): BigUint64Array {
  return unsparse(built.initialDump, e.words);
}

export { GENERATOR_VERSION, DEFAULT_STEPS, buildProgram };
