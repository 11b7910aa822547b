// npm run fuzz -- TARGET [--runs N] [--seed S]: the fuzz targets of test/fuzz/, compiled
// (npm run build:ts). See docs/security.md "Fuzzing".
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const runner = fileURLToPath(new URL('../dist/test/fuzz/runner.js', import.meta.url));
if (!existsSync(runner)) {
  console.error('fuzz: dist/test/fuzz/ is missing: run `npm run build:ts` first');
  process.exit(2);
}
const { main } = await import(runner);
process.exitCode = await main(process.argv.slice(2));
