/**
 * Disk throughput benchmark: sequential write and read of 64 MiB on the guest's virtio-blk
 * disk (/dev/vda) with direct I/O, measured by busybox `dd` inside the default guest
 * (Linux 6.1 + busybox initramfs, `console=ttyS0`, 256 MiB, 1 VP) on `tshv run --disk` and
 * on QEMU TCG's `virt` board with a `virtio-blk-device`, on the same kind of image file.
 *
 * Method. Each run boots a machine on a fresh 128 MiB scratch image, waits for the shell
 * prompt (`tshv:~# `) and types, one prompt at a time, as bench/boot.ts drives the console:
 *
 *   dd if=/dev/zero of=/dev/vda bs=1M count=64 oflag=direct     (write)
 *   dd if=/dev/vda of=/dev/null bs=1M count=64 iflag=direct     (read)
 *   dd if=/dev/vda bs=1M skip=63 count=2 2>/dev/null | md5sum   (check, not timed)
 *
 * then `poweroff`. Boot time is not part of the figure. The time is dd's own: busybox dd
 * (FEATURE_DD_THIRD_STATUS_LINE) prints "N bytes (..) copied, S seconds, ..", where S runs
 * from just before it opens the files to just after the last write returns, on the guest's
 * monotonic clock; MB/s is N / S / 10^6. O_DIRECT keeps the guest's page cache out: every
 * 1 MiB block is a request to the device and back. The host times each command too (typing
 * to the next prompt); dd's time can only be shorter, and a dd time that exceeds it means a
 * guest clock running fast, which fails the run.
 *
 * Cache modes. tshv's disk does plain buffered pread/pwrite on the image (the host's page
 * cache between it and the medium; flush is fdatasync), which is what QEMU's
 * `cache=writeback` (its default) does; `cache=none` would add O_DIRECT on the host and
 * measure the host's disk instead. So QEMU runs with `cache=writeback`, stated explicitly.
 * The scratch image is filled with a pattern and fsynced before each run, so neither
 * machine allocates host blocks or has earlier writeback in flight while it is timed.
 *
 * Correctness. A run counts only if both dd report 64+0 full records and 67108864 bytes,
 * the check command's md5 matches the host's (63-65 MiB: the zeros just written, then the
 * host's pattern, which only a read that reaches the image can return), the image on the
 * host holds exactly the zeros written (nothing before or beyond), the log shows no kernel
 * trouble, and poweroff ends the machine with status 0. A failed tshv run fails the bench;
 * a failed QEMU run is dropped and reported (QEMU is the yardstick).
 *
 * Formats: a raw image, and (when `qemu-img` is installed) a fully allocated qcow2 made
 * from the same pattern, so writes overwrite allocated clusters on both machines.
 * Machines take turns run by run; the best run is the figure (other work on the host only
 * ever slows a run), with the median and the spread beside it.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { APPEND, checkSession, INITRD, KERNEL, MEMORY } from './lib/guest.js';
export { checkSession } from './lib/guest.js';
import { consoleSession, type ConsoleStep, type SessionRun } from './lib/console-session.js';
export { consoleSession, type ConsoleStep, type SessionRun } from './lib/console-session.js';
import type { BenchContext, BenchReport, Benchmark } from './lib/benchmark.js';
import { tshvSupports, type Machine } from './lib/machines.js';
import { max, median } from './lib/stats.js';
import { fmt, type Table } from './lib/table.js';

const MiB = 1024 * 1024;
/** The scratch disk's size. */
export const DISK_BYTES = 128 * MiB;
/** dd's block size, and how many blocks each timed dd moves: 64 MiB from offset 0. */
export const BLOCK_BYTES = MiB;
export const BLOCKS = 64;
export const TRANSFER_BYTES = BLOCKS * BLOCK_BYTES;

export const WRITE_COMMAND = `dd if=/dev/zero of=/dev/vda bs=1M count=${BLOCKS} oflag=direct`;
export const READ_COMMAND = `dd if=/dev/vda of=/dev/null bs=1M count=${BLOCKS} iflag=direct`;
/** Reads back the last written MiB and the first unwritten one (through the guest's cache). */
export const CHECK_COMMAND = `dd if=/dev/vda bs=1M skip=${BLOCKS - 1} count=2 2>/dev/null | md5sum`;
/** What each run types, in order. */
export const COMMANDS = [WRITE_COMMAND, READ_COMMAND, CHECK_COMMAND] as const;

/** Longest wait for the first prompt, and for one command's prompt (less if --timeout says so). */
const BOOT_LIMIT_MS = 120_000;
const COMMAND_LIMIT_MS = 180_000;

export type DiskFormat = 'raw' | 'qcow2';

export const diskBenchmark: Benchmark = {
  id: 'disk',
  summary: 'disk throughput: 64 MiB sequential dd with O_DIRECT on virtio-blk /dev/vda, tshv run --disk vs QEMU TCG',
  run,
};

// ---- What dd printed ------------------------------------------------------------------

/** busybox dd's closing summary (coreutils/dd.c, FEATURE_DD_THIRD_STATUS_LINE). */
export interface DdSummary {
  readonly fullIn: number;
  readonly partialIn: number;
  readonly fullOut: number;
  readonly partialOut: number;
  readonly bytes: number;
  /** dd's own clock, open to last write. */
  readonly seconds: number;
}

/** Reads the last summary dd printed, e.g. "64+0 records in / 64+0 records out / 67108864 bytes (64.0MB) copied, 0.268586 seconds, 238.3MB/s". */
export function parseDdSummary(output: string): DdSummary | undefined {
  const re = /^(\d+)\+(\d+) records in\n(\d+)\+(\d+) records out\n(\d+) bytes \([^)\n]*\) copied, (\d+(?:\.\d+)?) seconds, /gm;
  let m: RegExpExecArray | null;
  let last: RegExpExecArray | undefined;
  while ((m = re.exec(output)) !== null) last = m;
  if (last === undefined) return undefined;
  const [, fullIn, partialIn, fullOut, partialOut, bytes, seconds] = last.map(Number);
  return { fullIn: fullIn!, partialIn: partialIn!, fullOut: fullOut!, partialOut: partialOut!, bytes: bytes!, seconds: seconds! };
}

/**
 * dd's seconds for a transfer that moved exactly BLOCKS whole blocks, or why the output is
 * not that (dd's own error lines quoted).
 */
export function ddSeconds(output: string): number | string {
  const s = parseDdSummary(output);
  const errors = output.split('\n').filter((l) => /^dd: /.test(l));
  const said = errors.length > 0 ? ` (${errors.join('; ')})` : '';
  if (s === undefined) return `no dd summary in the output${said || `: ${lastLines(output, 3)}`}`;
  if (s.fullIn !== BLOCKS || s.partialIn !== 0 || s.fullOut !== BLOCKS || s.partialOut !== 0 || s.bytes !== TRANSFER_BYTES) {
    return `dd moved ${s.fullIn}+${s.partialIn} records in, ${s.fullOut}+${s.partialOut} out, ${s.bytes} bytes; expected ${BLOCKS}+0 and ${TRANSFER_BYTES}${said}`;
  }
  if (!(s.seconds > 0)) return `dd reports ${s.seconds} seconds`;
  return s.seconds;
}

/** Decimal megabytes per second. */
export function mbPerSecond(bytes: number, seconds: number): number {
  return bytes / seconds / 1e6;
}

/** The md5 `md5sum` printed ("<32 hex>  -"), if any. */
export function parseMd5sum(output: string): string | undefined {
  return /^([0-9a-f]{32}) {2}-$/m.exec(output)?.[1];
}

// ---- The scratch image ------------------------------------------------------------------

/**
 * The bytes a fresh image holds at [offset, offset + length): one 32-bit word per 4 bytes,
 * different across the whole disk and never a run of zeros, so a read of the wrong place,
 * or of nothing, cannot pass for it. offset and length are multiples of 4.
 */
export function patternChunk(offset: number, length: number): Buffer {
  const words = new Uint32Array(length / 4);
  const first = offset / 4;
  for (let i = 0; i < words.length; i++) words[i] = (Math.imul(first + i, 0x9e3779b1) ^ 0x74736876) >>> 0;
  return Buffer.from(words.buffer);
}

/** What the image must hold after a correct run: the guest's zeros, then the pattern untouched. */
export function expectedChunk(offset: number, length: number): Buffer {
  return offset + length <= TRANSFER_BYTES ? Buffer.alloc(length) : patternChunk(offset, length);
}

/** The md5 CHECK_COMMAND must print: the MiB before TRANSFER_BYTES and the MiB after it. */
export function expectedCheckMd5(): string {
  return createHash('md5')
    .update(expectedChunk(TRANSFER_BYTES - MiB, MiB))
    .update(expectedChunk(TRANSFER_BYTES, MiB))
    .digest('hex');
}

/** Writes a DISK_BYTES raw image MiB by MiB and fsyncs it. */
function writeRawImage(path: string, chunk: (offset: number, length: number) => Buffer): void {
  const fd = openSync(path, 'w');
  try {
    for (let offset = 0; offset < DISK_BYTES; offset += MiB) writeSync(fd, chunk(offset, MiB), 0, MiB, offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The first MiB of a raw image that is not what a correct run leaves, or undefined. */
function rawImageMismatch(path: string): number | undefined {
  const fd = openSync(path, 'r');
  try {
    const got = Buffer.alloc(MiB);
    for (let offset = 0; offset < DISK_BYTES; offset += MiB) {
      const n = readSync(fd, got, 0, MiB, offset);
      if (n !== MiB || !got.equals(expectedChunk(offset, MiB))) return offset;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function qemuImg(args: readonly string[]): { status: number | null; output: string } {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() };
}

/** The image a run starts from: the pattern everywhere, raw or (fully allocated) qcow2. */
export function freshImage(scratch: string, format: DiskFormat): string {
  const raw = join(scratch, 'disk.raw');
  writeRawImage(raw, patternChunk);
  if (format === 'raw') return raw;
  const qcow2 = join(scratch, 'disk.qcow2');
  rmSync(qcow2, { force: true });
  const r = qemuImg(['convert', '-f', 'raw', '-O', 'qcow2', '-o', 'compat=1.1', raw, qcow2]);
  rmSync(raw, { force: true });
  if (r.status !== 0) throw new Error(`qemu-img convert failed: ${r.output}`);
  return qcow2;
}

/** Why the image after a run is not what the guest's writes should have left, or undefined. */
export function imageProblem(path: string, format: DiskFormat, expectedRaw: string): string | undefined {
  if (format === 'raw') {
    const at = rawImageMismatch(path);
    return at === undefined ? undefined : `the image on the host differs from what the guest wrote, first at MiB ${at / MiB}`;
  }
  const check = qemuImg(['check', '-q', path]);
  if (check.status !== 0) return `qemu-img check: ${check.output || `exit status ${String(check.status)}`}`;
  const cmp = qemuImg(['compare', '-q', '-f', 'qcow2', '-F', 'raw', path, expectedRaw]);
  return cmp.status === 0 ? undefined : `the image on the host differs from what the guest wrote (qemu-img compare: ${cmp.output || `exit status ${String(cmp.status)}`})`;
}

/** The figures of one correct run, or why the run is wrong. */
export interface RunFigures {
  readonly writeSeconds: number;
  readonly readSeconds: number;
  readonly writeHostSeconds: number;
  readonly readHostSeconds: number;
}

/** Reads a session that ran COMMANDS: dd's times, checked against the host clock and the md5. */
export function readRun(r: SessionRun, checkMd5: string): RunFigures | string {
  const problem = checkSession(r, COMMANDS);
  if (problem !== undefined) return problem;
  const [write, read, check] = r.steps as [ConsoleStep, ConsoleStep, ConsoleStep];
  const seconds: number[] = [];
  for (const [what, step] of [['write', write], ['read', read]] as const) {
    const s = ddSeconds(step.output);
    if (typeof s === 'string') return `${what}: ${s}`;
    // dd's interval lies inside the host's: a longer one means the guest clock runs fast.
    if (s > step.hostSeconds * 1.02 + 0.005) {
      return `${what}: dd says ${s.toFixed(3)} s but the whole command took ${step.hostSeconds.toFixed(3)} s on the host clock (guest clock runs fast)`;
    }
    seconds.push(s);
  }
  const md5 = parseMd5sum(check.output);
  if (md5 !== checkMd5) {
    return `read-back of MiB ${BLOCKS - 1}-${BLOCKS + 1}: md5 ${md5 ?? `missing (${lastLines(check.output, 2)})`}, expected ${checkMd5}`;
  }
  return { writeSeconds: seconds[0]!, readSeconds: seconds[1]!, writeHostSeconds: write.hostSeconds, readHostSeconds: read.hostSeconds };
}

// ---- The benchmark ----------------------------------------------------------------------

/** One machine on one image format: its runs so far, or why it stopped. */
interface Contestant {
  readonly machine: Machine & { readonly state: 'available' };
  readonly args: (image: string) => readonly string[];
  readonly runs: RunFigures[];
  /** tshv's first failed run (or why it cannot run): it ends tshv's runs and fails the bench. */
  problem?: string;
  /** QEMU's failed runs: the yardstick, so a failed run is dropped and reported. */
  readonly dropped: string[];
}

interface Row {
  readonly format: DiskFormat;
  readonly tshv?: Contestant;
  readonly qemu?: Contestant;
}

async function run(ctx: BenchContext): Promise<BenchReport> {
  const { tshv, qemu } = ctx.machines;
  if (tshv.state !== 'available') throw new Error(`tshv is missing: ${tshv.reason}`);
  const kernelGz = join(ctx.root, KERNEL);
  const initrd = join(ctx.root, INITRD);
  const notes: string[] = [];
  const tshvHasDisk = tshvSupports(tshv, 'run', '--disk');
  const noDisk =
    "this tree's `tshv run` has no --disk option (`tshv run --help` does not list it), so there is no /dev/vda to measure; " +
    'the bench needs `tshv run --disk FILE`';
  const hasQemuImg = qemuImg(['--version']).status === 0;
  const formats: DiskFormat[] = hasQemuImg ? ['raw', 'qcow2'] : ['raw'];
  if (!hasQemuImg) notes.push('qcow2: not measured (qemu-img not runnable; Debian: qemu-utils)');

  const scratch = mkdtempSync(join(tmpdir(), 'tshv-bench-disk-'));
  try {
    // QEMU's -kernel takes the Image itself, not a gzip stream.
    const image = join(scratch, 'Image');
    if (qemu.state === 'available') writeFileSync(image, gunzipSync(readFileSync(kernelGz)));
    const expectedRaw = join(scratch, 'expected.raw');
    if (hasQemuImg) writeRawImage(expectedRaw, expectedChunk);
    const checkMd5 = expectedCheckMd5();

    const rows: Row[] = formats.map((format) => ({
      format,
      tshv: {
        machine: tshv,
        args: (img) => ['run', '--kernel', kernelGz, '--initrd', initrd, '--append', APPEND, '--memory', MEMORY, '--cpus', '1', '--disk', img],
        runs: [],
        dropped: [],
        ...(tshvHasDisk ? {} : { problem: noDisk }),
      },
      ...(qemu.state === 'available'
        ? {
            qemu: {
              machine: qemu,
              args: (img: string) => [
                '-M', 'virt', '-smp', '1', '-m', MEMORY, '-nographic', '-kernel', image, '-initrd', initrd, '-append', APPEND,
                '-drive', `file=${img},format=${format},if=none,id=d0,cache=writeback`, '-device', 'virtio-blk-device,drive=d0',
              ],
              runs: [],
              dropped: [],
            },
          }
        : {}),
    }));

    const limits = {
      cwd: ctx.root,
      bootMs: Math.min(ctx.timeoutMs, BOOT_LIMIT_MS),
      commandMs: Math.min(ctx.timeoutMs, COMMAND_LIMIT_MS),
    };
    for (const row of rows) {
      for (let round = 1; round <= ctx.repeat; round++) {
        for (const c of [row.tshv, row.qemu]) {
          if (c === undefined || c.problem !== undefined) continue;
          const img = freshImage(scratch, row.format);
          const r = await consoleSession(c.machine, c.args(img), COMMANDS, limits);
          let result = readRun(r, checkMd5);
          if (typeof result !== 'string') result = imageProblem(img, row.format, expectedRaw) ?? result;
          rmSync(img, { force: true });
          if (typeof result === 'string') {
            const what = `${row.format}, round ${round}: ${result}; output: ${tail(r)}`;
            ctx.log(`disk: ${c.machine.label} FAILED ${what}`);
            if (c === row.tshv) c.problem = what;
            else c.dropped.push(what);
            continue;
          }
          c.runs.push(result);
          ctx.log(
            `disk: ${c.machine.label}, ${row.format}, round ${round}/${ctx.repeat}: ` +
              `write ${fmt(mbPerSecond(TRANSFER_BYTES, result.writeSeconds), 1)} MB/s, read ${fmt(mbPerSecond(TRANSFER_BYTES, result.readSeconds), 1)} MB/s`,
          );
        }
      }
    }

    const ok = rows.every((r) => r.tshv?.problem === undefined);
    type Op = 'write' | 'read';
    const rates = (c: Contestant | undefined, op: Op): number[] =>
      c === undefined || c.problem !== undefined ? [] : c.runs.map((f) => mbPerSecond(TRANSFER_BYTES, op === 'write' ? f.writeSeconds : f.readSeconds));
    const best = (c: Contestant | undefined, op: Op): number | undefined => (rates(c, op).length ? max(rates(c, op)) : undefined);
    const mid = (c: Contestant | undefined, op: Op): number | undefined => (rates(c, op).length ? median(rates(c, op)) : undefined);
    const spread = (c: Contestant | undefined, op: Op): string => {
      const v = rates(c, op);
      return v.length ? `${(((max(v) - Math.min(...v)) / max(v)) * 100).toFixed(0)}%` : '-';
    };
    const count = (c: Contestant | undefined): number => (c === undefined || c.problem !== undefined ? 0 : c.runs.length);

    const table: Table = {
      columns: [
        { header: 'image', align: 'left' },
        { header: 'op', align: 'left' },
        { header: 'runs', align: 'right' },
        { header: 'tshv MB/s', align: 'right' },
        { header: 'median', align: 'right' },
        { header: 'spread', align: 'right' },
        { header: 'QEMU MB/s', align: 'right' },
        { header: 'median', align: 'right' },
        { header: 'spread', align: 'right' },
        { header: 'tshv/QEMU', align: 'right' },
      ],
      rows: rows.flatMap((r) =>
        (['write', 'read'] as const).map((op) => {
          const t = best(r.tshv, op);
          const q = best(r.qemu, op);
          return [
            r.format,
            op,
            r.qemu === undefined || count(r.qemu) === count(r.tshv) ? String(count(r.tshv)) : `${count(r.tshv)}/${count(r.qemu)}`,
            fmt(t, 1),
            fmt(mid(r.tshv, op), 1),
            spread(r.tshv, op),
            fmt(q, 1),
            fmt(mid(r.qemu, op), 1),
            spread(r.qemu, op),
            t !== undefined && q !== undefined ? `${(t / q).toFixed(2)}x` : '-',
          ];
        }),
      ),
    };

    const failures: string[] = [];
    for (const r of rows) {
      for (const c of [r.tshv, r.qemu]) {
        if (c?.problem !== undefined && !failures.includes(c.problem)) failures.push(c.problem);
        for (const d of c?.dropped ?? []) notes.push(`${c!.machine.label}: run dropped (not counted): ${d}`);
      }
    }
    notes.unshift(...failures.map((f) => `FAIL tshv: ${f}`));
    if (qemu.state !== 'available') notes.push(`QEMU TCG: missing: ${qemu.reason}`);
    notes.push(
      `MB/s = 10^6 bytes/s over dd's own time inside the guest (${TRANSFER_BYTES / MiB} MiB in 1 MiB O_DIRECT blocks from offset 0); ` +
        'runs = correct runs (tshv/QEMU when they differ); best of them, median, spread = (best - worst) / best; ' +
        'tshv/QEMU = best over best (below 1: tshv is slower)',
    );
    notes.push(
      `image: a fresh ${DISK_BYTES / MiB} MiB file per run, filled with a pattern and fsynced (qcow2: fully allocated); ` +
        'QEMU: -drive format=FMT,if=none,cache=writeback -device virtio-blk-device (host page cache, as tshv\'s buffered pread/pwrite)',
    );
    notes.push(`guest: ${KERNEL} (QEMU: the same Image gunzipped), ${INITRD}, -append "${APPEND}", ${MEMORY}, 1 VP`);

    return {
      title: 'Disk throughput: 64 MiB sequential dd, O_DIRECT, virtio-blk /dev/vda',
      ok,
      table,
      notes,
      data: {
        memory: MEMORY,
        transferBytes: TRANSFER_BYTES,
        diskBytes: DISK_BYTES,
        rows: rows.map((r) => ({
          format: r.format,
          tshvRuns: r.tshv?.runs ?? null,
          tshvProblem: r.tshv?.problem ?? null,
          qemuRuns: r.qemu?.runs ?? null,
          qemuDropped: r.qemu?.dropped ?? null,
        })),
      },
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ') || '(none)';
}

function tail(r: SessionRun): string {
  return lastLines(r.log + r.stderr, 6);
}
