// The browser code is plain JavaScript with JSDoc types; src/web/tsconfig.json checks it
// against the DOM and xterm.js's own typings, so a wrong call fails here, not in a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../lib/guest-shell.js';

test('src/web type-checks (tsc -p src/web)', { timeout: 120_000 }, () => {
  const r = spawnSync(process.execPath, [ROOT + 'node_modules/typescript/bin/tsc', '-p', ROOT + 'src/web'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});
