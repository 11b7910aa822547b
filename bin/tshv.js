#!/usr/bin/env node
// Entry point of the `tshv` command (compiled sources live in dist/, built by `npm install`).
import { main } from '../dist/src/cli/main.js';
main(process.argv);
