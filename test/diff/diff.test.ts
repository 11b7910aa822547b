// Differential test of the tshv core against QEMU's recorded results (test/diff/golden/).
// Every golden program is regenerated from its name, run on tshv, and its dump (x1..x31,
// f0..f31, fcsr, trap records, 4 KiB of scratch memory) compared with QEMU's.
//
// Environment:
//   TSHV_DIFF_FILTER=regex   run only the programs whose name matches
//   TSHV_DIFF_BISECT=n       with QEMU installed, bisect the first n failures to their
//                            shortest failing prefix (default 3; 0 disables)
//   TSHV_DIFF_CLI=1          run tshv through `tshv exec` instead of in-process
// Live runs and re-recording: scripts/diff-qemu.js (test/diff/live.ts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GENERATOR_VERSION, buildProgram, expectedWords, programByName, readCorpus } from './corpus.js';
import { describeMismatch, dumpOf, shortestFailingPrefix } from './diagnose.js';
import { diffDumps } from './dump.js';
import { qemuAvailable, runQemu, TIERS } from './runners.js';
import { specPrograms } from './spec.js';
import { tshvRunner } from './tshv.js';

const corpus = readCorpus();
const filter = process.env.TSHV_DIFF_FILTER ? new RegExp(process.env.TSHV_DIFF_FILTER) : undefined;
let bisectLeft = qemuAvailable() ? Number(process.env.TSHV_DIFF_BISECT ?? 3) : 0;

test('golden corpus was recorded with the current generator', () => {
  assert.equal(corpus.generator, GENERATOR_VERSION,
    'test programs changed since the corpus was recorded: re-record with `node scripts/diff-qemu.js --record`');
});

// Every program runs under both tiers of the processor (runners.ts TIERS).
for (const tier of TIERS) {
  const tshv = await tshvRunner(process.env.TSHV_DIFF_CLI === '1', tier);

  describe(`tshv vs QEMU golden dumps (${corpus.qemu}; tshv ${tshv.mode}, ${tier})`, () => {
    for (const entry of corpus.entries) {
      if (filter && !filter.test(entry.name)) continue;
      test(entry.name, async () => {
        const program = programByName(entry.name, corpus.steps);
        const built = buildProgram(program.spec);
        const expected = expectedWords(built, entry);
        const got = await dumpOf(tshv.run, built.elf, entry.name);
        let report: string | undefined;
        if (!got.words) report = `tshv produced no dump: ${got.error}`;
        else if (diffDumps(expected, got.words).length > 0 || got.error) {
          report = (got.error ? `tshv: ${got.error}\n` : '') + describeMismatch(built, expected, got.words, program.directed);
        }
        if (report === undefined) return;
        if (bisectLeft > 0) {
          bisectLeft--;
          report += '\n' + await shortestFailingPrefix(program.spec, entry.name, (elf, n) => runQemu(elf, n), tshv.run);
        } else {
          report += `\n(for the shortest failing prefix: node scripts/diff-qemu.js --golden with QEMU installed,` +
            ` or the listing: node scripts/diff-qemu.js --show ${entry.name})`;
        }
        assert.fail(`${entry.name}: tshv differs from QEMU\n${report}`);
      });
    }
  });

  describe(`spec checks where QEMU 7.2 is not a valid reference (${tier})`, () => {
    for (const p of specPrograms()) {
      if (filter && !filter.test(p.name)) continue;
      test(p.name, async () => {
        const built = buildProgram(p.spec);
        const got = await dumpOf(tshv.run, built.elf, p.name);
        assert.ok(got.words && !got.error, `tshv produced no dump: ${got.error}`);
        const problems = p.check(got.words, built);
        assert.deepEqual(problems, [], `${p.name}:\n  ${problems.join('\n  ')}`);
      });
    }
  });
}
