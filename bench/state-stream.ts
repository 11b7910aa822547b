/**
 * The state stream's speed on its own (src/parent/state/): saving and restoring a 256 MiB
 * guest RAM, as an idle guest leaves it (~15 MB non-zero: a contiguous kernel and scattered
 * pages) and nearly full (200 MiB non-zero). Not part of `npm run bench`, which compares
 * whole guests with QEMU; this is the part of a save that is ours alone.
 *
 *   node dist/bench/state-stream.js [--repeat N] [--dir DIR]
 *
 * RAM is a shared WebAssembly.Memory, as a VM's is, touched all over before timing: the
 * first read of a page a process never touched costs a page fault (~12 µs each in a
 * nested-virtualisation sandbox, 0.8 s for 256 MiB), whoever reads it. "write" is to a
 * path (PATH.tmp, fdatasync, rename); "write, no sync" to an open FileHandle, without the
 * disk; "read" is openStateStream + readRam into fresh memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStateStream } from '../src/parent/state/reader.js';
import { writeStateStream } from '../src/parent/state/writer.js';

const MiB = 1 << 20;
const RAM_BYTES = 256 * MiB;

function guestRam(): Uint8Array {
  const memory = new WebAssembly.Memory({ initial: RAM_BYTES / 65536, maximum: RAM_BYTES / 65536, shared: true });
  const ram = new Uint8Array(memory.buffer);
  ram.fill(0); // touched: see above
  return ram;
}

function fillPage(ram: Uint8Array, page: number): void {
  const at = page * 4096;
  for (let i = 0; i < 4096; i += 8) ram[at + i] = (page + i) | 1;
}

const scenarios: { name: string; fill(ram: Uint8Array): void }[] = [
  {
    name: 'idle: 15 MiB non-zero',
    fill(ram) {
      for (let p = 0; p < 2048; p++) fillPage(ram, 512 + p); // an 8 MiB kernel at 2 MiB
      let seed = 1;
      for (let n = 0; n < 1792;) { // 7 MiB of single pages anywhere else
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const p = (seed >>> 8) % (RAM_BYTES / 4096);
        if (p >= 512 && p < 2560) continue;
        if (ram[p * 4096] === 0) { fillPage(ram, p); n++; }
      }
    },
  },
  { name: 'busy: 200 MiB non-zero', fill(ram) { for (let p = 0; p < (200 * MiB) / 4096; p++) fillPage(ram, p); } },
];

async function time<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const r = await f();
  return [performance.now() - t, r];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { repeat: { type: 'string' }, dir: { type: 'string' } } });
  const repeat = Number(values.repeat ?? 5);
  const dir = mkdtempSync(join(values.dir ?? tmpdir(), 'tshv-state-bench-'));
  try {
    for (const s of scenarios) {
      const ram = guestRam();
      s.fill(ram);
      const into = guestRam();
      const path = join(dir, 'vm.tshvstate');
      const times: Record<string, number[]> = { 'write': [], 'write, no sync': [], 'read': [] };
      let bytes = 0;
      for (let i = 0; i < repeat; i++) {
        const [w, r] = await time(() => writeStateStream(path, { config: { cpus: 1 }, state: {}, ram }));
        times['write']!.push(w);
        bytes = r.bytes;
        const fh = await open(join(dir, 'nosync.tshvstate'), 'w');
        times['write, no sync']!.push((await time(() => writeStateStream(fh, { config: { cpus: 1 }, state: {}, ram })))[0]);
        await fh.close();
        into.fill(0);
        times['read']!.push((await time(async () => {
          const stream = await openStateStream(path);
          await stream.readRam(into);
          await stream.close();
        }))[0]);
      }
      if (!Buffer.from(into.buffer).equals(Buffer.from(ram.buffer))) throw new Error(`${s.name}: RAM read back differs`);
      const fmt = (xs: number[]) => {
        const sorted = [...xs].sort((a, b) => a - b);
        return `best ${sorted[0]!.toFixed(1)} ms, median ${sorted[sorted.length >> 1]!.toFixed(1)} ms`;
      };
      console.log(`${s.name}: ${(bytes / MiB).toFixed(2)} MiB stream`);
      for (const [k, v] of Object.entries(times)) console.log(`  ${k.padEnd(15)} ${fmt(v)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
