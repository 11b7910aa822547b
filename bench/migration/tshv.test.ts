// parseMigrateJson: the object `tshv vm migrate --json` ends with, checked field by field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMigrateJson } from './tshv.js';

const DONE = { phase: 'completed', totalMs: 2100, downtimeMs: 80, setupMs: 12, bytes: 16_000_000, pass: 3 };
const FIGURES = { totalMs: 2100, downtimeMs: 80, setupMs: 12, bytes: 16_000_000, passes: 4 };

test('parseMigrateJson: the object alone, pretty-printed, or after progress lines', () => {
  assert.deepEqual(parseMigrateJson(JSON.stringify(DONE, null, 2) + '\n'), FIGURES);
  assert.deepEqual(parseMigrateJson(`pass 1: 256 MiB\n{"note": "not the last"}\n${JSON.stringify(DONE)}\n`), FIGURES);
});

test('parseMigrateJson: a migration that did not complete, a missing figure, or no JSON is refused', () => {
  assert.throws(() => parseMigrateJson(JSON.stringify({ ...DONE, phase: 'failed' })), /ended in phase "failed"/);
  assert.throws(() => parseMigrateJson(JSON.stringify({ ...DONE, downtimeMs: undefined })), /no downtimeMs/);
  assert.throws(() => parseMigrateJson(JSON.stringify({ ...DONE, bytes: -1 })), /no bytes/);
  assert.throws(() => parseMigrateJson('migrated\n'), /printed no JSON object/);
  assert.throws(() => parseMigrateJson('[1]\n'), /printed no JSON object/);
});
