// The committed seed corpus: test/fuzz/corpus/<target>/, small valid inputs (an image, an
// ELF, a DTB, a queue setup...) that each target replays before generating, and that its
// mutation-based generators start from. test/fuzz/make-corpus.ts writes them.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CorpusFile } from './harness.js';

/** The repository root (this file runs as dist/test/fuzz/corpus.js). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CORPUS_DIR = join(REPO_ROOT, 'test', 'fuzz', 'corpus');

export function corpusDir(target: string): string {
  return join(CORPUS_DIR, target);
}

/** The target's corpus files, by name. */
export function readCorpus(target: string): CorpusFile[] {
  const dir = corpusDir(target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => !n.startsWith('.') && n !== 'README.md').sort()
    .map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) }));
}
