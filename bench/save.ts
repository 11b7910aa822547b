/**
 * Save/restore benchmark: the default guest (Linux 6.1 + busybox initramfs, 1 VP) saved to
 * a file and restored from it, on tshv (`tshv run --save-to`, then `--restore`) and on
 * QEMU TCG (`migrate "exec:cat > FILE"` on its monitor, then `-incoming "exec:cat FILE"`).
 *
 * Two guests: idle (256 MiB, at its shell prompt) and dirty (512 MiB, with 200 MiB of
 * non-zero data in a tmpfs: the same 1 MiB of random bytes 200 times, so both machines
 * must write every page).
 *
 * Figures. Save: the time the machine reports for it — tshv's "saved ... in N ms" (pause,
 * requests in flight, the state, the file written, fsynced and renamed) and QEMU's `info
 * migrate` "total time" (its exec: channel has no fsync: QEMU's figure leaves the file in
 * the page cache, ours on disk). Restore: from the spawn of the restoring process to the
 * guest's first answer on its console (a command typed every 50 ms until the answer
 * comes), process start-up included for both. Size: the state file's bytes. Machines
 * take turns run by run; the best run is the figure.
 *
 * Correctness: a restored guest must answer (the arithmetic only its shell does), and the
 * dirty guest's data must still be there (its checksum, computed before the save).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createConnection } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { BenchContext, BenchReport, Benchmark } from './lib/benchmark.js';
import type { Machine } from './lib/machines.js';
import { endsInPrompt } from './lib/console-session.js';
import { min } from './lib/stats.js';
import { fmt, type Table } from './lib/table.js';

const KERNEL = join('guest', 'images', 'Image.gz');
const INITRD = join('guest', 'images', 'initramfs.cpio.gz');
const APPEND = 'console=ttyS0';
const STEP_MS = 120_000;
/** The answer only a live shell gives to PROBE. */
const PROBE = 'echo $((6*7))ok';
const ANSWER = '42ok';

interface Scenario { name: string; memory: string; setup: string[]; check?: string }
const SCENARIOS: Scenario[] = [
  { name: 'idle, 256 MiB', memory: '256M', setup: ['sleep 1'] },
  {
    name: '200 MiB dirty, 512 MiB', memory: '512M',
    setup: [
      'mkdir -p /mnt/d && mount -t tmpfs -o size=220m none /mnt/d && head -c 1048576 /dev/urandom > /mnt/d/one',
      'i=0; while [ $i -lt 200 ]; do cat /mnt/d/one; i=$((i+1)); done > /mnt/d/fill; md5sum /mnt/d/fill > /mnt/d/sum',
    ],
    check: 'md5sum -c /mnt/d/sum',
  },
];

export const saveBenchmark: Benchmark = {
  id: 'save',
  summary: 'save/restore: idle 256 MiB and 200 MiB dirty guests, save time, restore to answering shell, file size, tshv vs QEMU migrate-to-file',
  run,
};

interface Result { saveMs: number; restoreMs: number; bytes: number }
interface Side { machine: Machine & { state: 'available' }; results: Result[]; problem?: string }

async function run(ctx: BenchContext): Promise<BenchReport> {
  const { tshv, qemu } = ctx.machines;
  if (tshv.state !== 'available') throw new Error(`tshv is missing: ${tshv.reason}`);
  const scratch = mkdtempSync(join(tmpdir(), 'tshv-bench-save-'));
  try {
    const image = join(scratch, 'Image');
    if (qemu.state === 'available') writeFileSync(image, gunzipSync(readFileSync(join(ctx.root, KERNEL))));
    const rows = SCENARIOS.map((s) => ({
      s, tshv: { machine: tshv, results: [] } as Side, qemu: qemu.state === 'available' ? { machine: qemu, results: [] } as Side : undefined,
    }));
    for (const row of rows) {
      for (let round = 1; round <= ctx.repeat; round++) {
        for (const side of [row.tshv, row.qemu]) {
          if (!side || side.problem) continue;
          const isTshv = side === row.tshv;
          const file = join(scratch, `${isTshv ? 'tshv' : 'qemu'}.state`);
          rmSync(file, { force: true });
          try {
            const r = isTshv ? await tshvRound(ctx, side.machine, row.s, file) : await qemuRound(ctx, side.machine, row.s, file, image, scratch);
            side.results.push(r);
            ctx.log(`save: ${side.machine.label}, ${row.s.name}, round ${round}: save ${r.saveMs.toFixed(0)} ms, restore ${r.restoreMs.toFixed(0)} ms, ${(r.bytes / 2 ** 20).toFixed(1)} MiB`);
          } catch (e) {
            side.problem = `${row.s.name}, round ${round}: ${(e as Error).message}`;
            ctx.log(`save: ${side.machine.label} FAILED ${side.problem}`);
          }
        }
      }
    }
    const best = (side: Side | undefined, k: keyof Result) => (side && !side.problem && side.results.length ? min(side.results.map((r) => r[k])) : undefined);
    const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}x` : '-');
    const mib = (b?: number) => (b === undefined ? undefined : b / 2 ** 20);
    const table: Table = {
      columns: ['guest', 'tshv save ms', 'QEMU save ms', 'ratio', 'tshv restore ms', 'QEMU restore ms', 'ratio', 'tshv MiB', 'QEMU MiB']
        .map((header, i) => ({ header, align: i === 0 ? 'left' as const : 'right' as const })),
      rows: rows.map((r) => [
        r.s.name,
        fmt(best(r.tshv, 'saveMs'), 0), fmt(best(r.qemu, 'saveMs'), 0), ratio(best(r.tshv, 'saveMs'), best(r.qemu, 'saveMs')),
        fmt(best(r.tshv, 'restoreMs'), 0), fmt(best(r.qemu, 'restoreMs'), 0), ratio(best(r.tshv, 'restoreMs'), best(r.qemu, 'restoreMs')),
        fmt(mib(best(r.tshv, 'bytes')), 1), fmt(mib(best(r.qemu, 'bytes')), 1),
      ]),
    };
    const notes: string[] = [];
    for (const r of rows) for (const side of [r.tshv, r.qemu]) if (side?.problem) notes.push(`FAIL ${side.machine.label}: ${side.problem}`);
    if (qemu.state !== 'available') notes.push(`QEMU TCG: missing: ${qemu.reason}`);
    notes.push('save: the time each machine reports (tshv: pause to file fsynced and renamed; QEMU: migration total time, file left in the page cache); ' +
      'restore: spawn to the first answer of the guest shell, process start-up included; best of the runs; ratio = tshv / QEMU (above 1: tshv is slower)');
    return {
      title: 'Save and restore: idle and dirty guests, tshv vs QEMU migrate to file',
      ok: rows.every((r) => !r.tshv.problem),
      table, notes,
      data: { rows: rows.map((r) => ({ guest: r.s.name, tshv: r.tshv.results, qemu: r.qemu?.results ?? null, tshvProblem: r.tshv.problem ?? null })) },
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function tshvRound(ctx: BenchContext, m: Machine & { state: 'available' }, s: Scenario, file: string): Promise<Result> {
  const args = ['run', '--memory', s.memory, '--kernel', join(ctx.root, KERNEL), '--initrd', join(ctx.root, INITRD), '--append', APPEND, '--save-to', file];
  const c = new Console(m, args, ctx.root);
  try {
    await c.prompt();
    for (const cmd of s.setup) await c.command(cmd);
    c.child.kill('SIGTERM');
    const code = await c.exit();
    const saved = /saved \(.*\) in (\d+) ms/.exec(c.stderr);
    if (code !== 0 || !saved) throw new Error(`tshv did not save (exit ${code}): ${c.stderr.slice(-400)}`);
    const bytes = statSync(file).size;
    const restoreMs = await restoreAndCheck(new Console(m, ['run', '--restore', file], ctx.root), s);
    return { saveMs: Number(saved[1]), restoreMs, bytes };
  } finally {
    c.kill();
  }
}

async function qemuRound(ctx: BenchContext, m: Machine & { state: 'available' }, s: Scenario, file: string, image: string, scratch: string): Promise<Result> {
  const sock = join(scratch, 'monitor.sock');
  rmSync(sock, { force: true });
  const base = ['-M', 'virt', '-smp', '1', '-m', s.memory, '-display', 'none', '-serial', 'stdio', '-kernel', image, '-initrd', join(ctx.root, INITRD), '-append', APPEND];
  const c = new Console(m, [...base, '-monitor', `unix:${sock},server=on,wait=off`], ctx.root);
  try {
    await c.prompt();
    for (const cmd of s.setup) await c.command(cmd);
    const monitor = await Monitor.connect(sock);
    await monitor.send(`migrate "exec:cat > ${file}"`);
    let total: number | undefined;
    for (const t0 = Date.now(); Date.now() - t0 < STEP_MS;) {
      const info = await monitor.send('info migrate');
      if (/Migration status: failed/.test(info)) throw new Error(`migration failed: ${info}`);
      const done = /Migration status: completed[\s\S]*?total time: (\d+) ms/.exec(info);
      if (done) { total = Number(done[1]); break; }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (total === undefined) throw new Error('the migration did not complete');
    await monitor.send('quit').catch(() => '');
    monitor.close();
    await c.exit();
    const bytes = statSync(file).size;
    const restoreMs = await restoreAndCheck(new Console(m, [...base, '-incoming', `exec:cat ${file}`], ctx.root), s);
    return { saveMs: total, restoreMs, bytes };
  } finally {
    c.kill();
  }
}

/** Times a restoring machine to its first answer, checks the guest's data, powers it off. */
async function restoreAndCheck(c: Console, s: Scenario): Promise<number> {
  try {
    const t0 = performance.now();
    const probe = setInterval(() => c.type(PROBE), 50);
    try {
      await c.until(() => c.log.includes(`\n${ANSWER}`), 'the restored guest to answer');
    } finally {
      clearInterval(probe);
    }
    const ms = performance.now() - t0;
    if (s.check) {
      await c.settle();
      const out = await c.command(s.check);
      if (!/: OK/.test(out)) throw new Error(`the restored guest's data is not intact: ${out}`);
    }
    c.type('poweroff');
    await c.exit();
    return ms;
  } finally {
    c.kill();
  }
}

/** A machine's serial console on stdin/stdout: prompts, commands, output. */
class Console {
  readonly child: ChildProcessWithoutNullStreams;
  log = '';
  stderr = '';
  private waiters: (() => void)[] = [];
  private closed: Promise<number | null>;

  constructor(m: Machine & { state: 'available' }, args: readonly string[], cwd: string) {
    this.child = spawn(m.command, [...m.baseArgs, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdin.on('error', () => {});
    this.child.stdout.setEncoding('latin1');
    this.child.stdout.on('data', (d: string) => { this.log += d.replace(/\r/g, ''); for (const w of this.waiters) w(); });
    this.child.stderr.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.closed = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  type(line: string): void { this.child.stdin.write(`${line}\n`); }

  until(test: () => boolean, what: string, ms = STEP_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => { if (test()) { done(); resolve(); } };
      const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${what}: ${this.log.slice(-300)}`)); }, ms);
      const done = () => { clearTimeout(timer); this.waiters = this.waiters.filter((w) => w !== check); };
      this.waiters.push(check);
      check();
    });
  }

  prompt(): Promise<void> { return this.until(() => endsInPrompt(this.log), 'the shell prompt'); }

  /** Waits until the console has been quiet for a moment (probes typed before the answer still run). */
  async settle(): Promise<void> {
    for (let n = -1; n !== this.log.length;) { n = this.log.length; await new Promise((r) => setTimeout(r, 300)); }
  }

  async command(cmd: string): Promise<string> {
    const mark = this.log.length;
    const end = `__end_${mark}__`;
    this.type(`${cmd}; echo ${end.replace(/_/g, '_""')}`);
    await this.until(() => this.log.slice(mark).includes(`\n${end}\n`) && endsInPrompt(this.log), `"${cmd}"`);
    return this.log.slice(mark);
  }

  exit(): Promise<number | null> {
    const timer = setTimeout(() => this.kill(), STEP_MS);
    return this.closed.finally(() => clearTimeout(timer));
  }

  kill(): void { if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL'); }
}

/** QEMU's human monitor on a unix socket: one command, its answer up to the next "(qemu) " prompt. */
class Monitor {
  private buf = '';
  private wake: (() => void) | undefined;
  private constructor(private readonly socket: import('node:net').Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => { this.buf += d; this.wake?.(); });
  }

  static async connect(path: string): Promise<Monitor> {
    const socket = createConnection(path);
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const m = new Monitor(socket);
    await m.answer();
    return m;
  }

  async send(cmd: string): Promise<string> {
    this.buf = '';
    this.socket.write(`${cmd}\n`);
    return this.answer();
  }

  private async answer(): Promise<string> {
    const t0 = Date.now();
    while (!this.buf.includes('(qemu) ')) {
      if (Date.now() - t0 > STEP_MS) throw new Error('the QEMU monitor does not answer');
      await new Promise<void>((r) => { this.wake = r; setTimeout(r, 100); });
    }
    const out = this.buf;
    this.buf = '';
    return out;
  }

  close(): void { this.socket.destroy(); }
}
