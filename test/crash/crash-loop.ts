// `npm run crash-loop -- [--iterations N] [--vms K] [--seed S] ...`: the crash loop
// (loop.ts) from the command line. Exit 0 if every iteration passed, 1 on any failure
// (each described: which VM, which record, qemu-img's output), 2 on bad usage.
import { parseArgs } from 'node:util';
import { randomInt } from 'node:crypto';
import { CrashLoop } from './loop.js';
import { hasQemuImg } from './images.js';

const USAGE = `usage: npm run crash-loop -- [options]

Kills a real \`tshv serve\` (SIGKILL) while its guests write and flush records through
qcow2 data disks, again and again over the same data directory and images; after each kill
every image must pass \`qemu-img check\` (leaked clusters are allowed, corruption is not)
and every record a guest saw flushed must be in it. See docs/disks.md, "Crash consistency".

  --iterations N   crashes (default 10)
  --vms K          guests, each with its own qcow2 data disk (default 3)
  --writers W      writer loops per guest (default 2)
  --seed S         seed for the disk layouts and kill delays (default: random, printed)
  --max-delay MS   the kill comes 0..MS ms after every writer's first flush (default 4000)
  --memory MIB     guest memory (default 64)
  --dir DIR        work directory, new or empty (default: a temporary one)
  --keep           keep the work directory after a run that passed (a failed run's is kept)
  --snapshots      copy the images right after each kill to DIR/after-kill-N/ (implies --keep)
`;

function fail(message: string): never {
  process.stderr.write(`crash-loop: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function int(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer from ${min} to ${max}, not ${value}`);
  return n;
}

let args;
try {
  args = parseArgs({
    options: {
      iterations: { type: 'string' }, vms: { type: 'string' }, writers: { type: 'string' }, seed: { type: 'string' },
      'max-delay': { type: 'string' }, memory: { type: 'string' }, dir: { type: 'string' }, keep: { type: 'boolean' }, snapshots: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (e) {
  fail((e as Error).message);
}
if (args.help) { process.stdout.write(USAGE); process.exit(0); }
if (!hasQemuImg) { process.stderr.write('crash-loop: qemu-img is not installed (Debian: apt-get install qemu-utils); it judges the images\n'); process.exit(2); }

const loop = new CrashLoop({
  iterations: int(args.iterations, 'iterations', 10, 1, 100_000),
  vms: int(args.vms, 'vms', 3, 1, 16),
  writers: int(args.writers, 'writers', 2, 1, 8),
  seed: int(args.seed, 'seed', randomInt(1, 2 ** 31), 0, 2 ** 32 - 1),
  maxDelayMs: int(args['max-delay'], 'max-delay', 4000, 0, 600_000),
  memoryMiB: int(args.memory, 'memory', 64, 32, 4094),
  dir: args.dir,
  keep: args.keep || args.snapshots,
  snapshots: args.snapshots,
  log: (line) => process.stdout.write(`${line}\n`),
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => { loop.abort(); process.stderr.write(`crash-loop: ${signal}; the work directory is ${loop.dir}\n`); process.exit(130); });
}

const r = await loop.run();
process.stdout.write(`\ncrash loop ${r.failures.length ? 'FAILED' : 'passed'}: ${r.iterations} iterations, ${r.recordsVerified} records verified ` +
  `(${r.recordsFlushed} distinct records flushed, ${r.recordsReadInGuests} read back inside restarted guests), ` +
  `${r.imagesChecked} images checked, ${r.leakedClusters} leaked clusters at the end, ${r.refcountTableMoves} refcount table moves, ` +
  `${r.failures.length} failures, ${(r.wallMs / 1000).toFixed(0)} s\n`);
if (r.failures.length) {
  process.stdout.write(`\n${r.failures.map((f, i) => `failure ${i + 1}: ${f}`).join('\n\n')}\n\nwork directory (kept): ${r.dir}\n`);
  process.exit(1);
}
