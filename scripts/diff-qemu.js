#!/usr/bin/env node
// Differential testing of tshv's core against a live QEMU; see test/diff/live.ts for options.
// Needs `npm run build` first (it runs the compiled harness from dist/).
import { main } from '../dist/test/diff/live.js';

// `--show NAME | head` closes the pipe early; that is not an error.
process.stdout.on('error', (e) => { if (e.code === 'EPIPE') process.exit(0); throw e; });

process.exitCode = await main(process.argv.slice(2));
