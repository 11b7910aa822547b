// The crash loop's records: what a guest writes, where, and how the host recognises it
// afterwards. Pure (no I/O), so the same code makes the guest's shell loop and checks the
// image.
//
// A record is one 4 KiB block: 64 lines of 64 bytes, each naming the VM, the writer, the
// generation (the crash-loop iteration that wrote it), the record number n, a check value
// over those fields and the line's own index:
//
//   TSHVREC v=100 w=0 g=10003 n=10000000812 c=12345678901 i=07 ----\n
//
// Numbers are offset (100+v, 10000+g, 1e10+n, 1e10+c) so that every line has the same
// length without printf padding: the guest's busybox printf builds the block in one builtin
// call, repeating the format once per line index. Any 64 bytes of a record say which
// record and which line they belong to, so a block read back is either exactly the record
// expected, or the report says what is there instead (zeros, another record, garbage).
//
// Where: record n of writer w goes to the 4 KiB slot ((n * writers + w) * step) mod slots,
// step odd and slots a power of two: a bijection, so no slot is written twice by different
// records, and consecutive records land far apart on the disk (new L2 tables as well as new
// data clusters are allocated all through a run).

export const RECORD_BYTES = 4096;
export const LINE_BYTES = 64;
export const LINES = RECORD_BYTES / LINE_BYTES;
const FILLER = ' ----\n';

/** Where one VM's records go. */
export interface Layout {
  /** The VM's index (0 for vm-0): part of every line. */
  vm: number;
  writers: number;
  /** Odd: the slot permutation. */
  step: number;
  /** Slots on the disk: a power of two (virtual size / 4 KiB). */
  slots: number;
}

export interface RecordId {
  vm: number;
  writer: number;
  gen: number;
  n: number;
}

/** The check value over the record's fields, as the guest's 64-bit shell arithmetic computes it. */
export function checkValue(r: RecordId): number {
  const c = BigInt(r.n) * 2654435761n + BigInt(r.gen) * 40503n + BigInt(r.vm) * 97n + BigInt(r.writer) * 7919n;
  return Number(c & 0xffffffffn);
}

function linePrefix(r: RecordId): string {
  return `TSHVREC v=${100 + r.vm} w=${r.writer} g=${10000 + r.gen} n=${1e10 + r.n} c=${1e10 + checkValue(r)} i=`;
}

/** The 4096 bytes of record r. */
export function recordBytes(r: RecordId): Buffer {
  const prefix = linePrefix(r);
  let text = '';
  for (let i = 0; i < LINES; i++) text += prefix + String(i).padStart(2, '0') + FILLER;
  const b = Buffer.from(text, 'latin1');
  if (b.length !== RECORD_BYTES) throw new Error(`record line is ${b.length / LINES} bytes, not ${LINE_BYTES}`);
  return b;
}

/** The 4 KiB slot of record n of writer w. */
export function slotOf(layout: Layout, writer: number, n: number): number {
  return Number(((BigInt(n) * BigInt(layout.writers) + BigInt(writer)) * BigInt(layout.step)) % BigInt(layout.slots));
}

/** How many records one writer can write before its slots would repeat. */
export function recordsPerWriter(layout: Layout): number {
  return Math.floor(layout.slots / layout.writers);
}

/** One line of a record, parsed and checked (check value, layout, filler); null if it is not one. */
export interface ParsedLine extends RecordId { index: number }

const LINE_RE = /^TSHVREC v=(\d{3}) w=(\d) g=(\d{5}) n=(\d{11}) c=(\d{11}) i=(\d{2}) ----\n$/;

export function parseLine(bytes: Uint8Array): ParsedLine | null {
  const m = LINE_RE.exec(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'));
  if (!m) return null;
  const r: ParsedLine = { vm: Number(m[1]) - 100, writer: Number(m[2]), gen: Number(m[3]) - 10000, n: Number(m[4]) - 1e10, index: Number(m[6]) };
  if (Number(m[5]) - 1e10 !== checkValue(r)) return null;
  return r;
}

const isZero = (b: Uint8Array) => b.every((x) => x === 0);

/** What a block holds, in words, for a failure report. */
export function describeBlock(block: Uint8Array): string {
  if (isZero(block)) return 'all zeros (never written, or the write was lost)';
  const kinds = new Map<string, number[]>();
  for (let i = 0; i < LINES; i++) {
    const line = block.subarray(i * LINE_BYTES, (i + 1) * LINE_BYTES);
    const p = parseLine(line);
    const key = isZero(line) ? 'zeros' : p ? `record vm=${p.vm} writer=${p.writer} gen=${p.gen} n=${p.n}${p.index === i ? '' : ' (misplaced line)'}` : 'unrecognised bytes';
    kinds.set(key, [...(kinds.get(key) ?? []), i]);
  }
  const parts = [...kinds].map(([k, lines]) => `${k} in ${lines.length === LINES ? 'every line' : `lines ${ranges(lines)}`}`);
  const first = Buffer.from(block.subarray(0, LINE_BYTES)).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return `${parts.join('; ')}; first line: "${first}"`;
}

/**
 * A block in a slot that record `id` may or may not have reached (written after the last
 * flush the host saw): each line must be zeros or that line of some generation of this
 * same record. Returns null if so, else what is wrong: bytes that were never written to
 * this place.
 */
export function foreignBytes(block: Uint8Array, id: RecordId): string | null {
  for (let i = 0; i < LINES; i++) {
    const line = block.subarray(i * LINE_BYTES, (i + 1) * LINE_BYTES);
    if (isZero(line)) continue;
    const p = parseLine(line);
    if (!p || p.vm !== id.vm || p.writer !== id.writer || p.n !== id.n || p.index !== i || p.gen > id.gen) return describeBlock(block);
  }
  return null;
}

/** "1-3, 7" */
function ranges(xs: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    out.push(i === j ? `${xs[i]}` : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

/** How writer w writes: even writers O_DIRECT and a flush per record, odd ones through the page cache and a flush every 4th. */
export interface WriterMode { flushEvery: number; direct: boolean }
export function writerMode(w: number): WriterMode {
  return w % 2 === 0 ? { flushEvery: 1, direct: true } : { flushEvery: 4, direct: false };
}

export interface WriterStart { writer: number; first: number }

/**
 * The guest's workload, one shell line (well under the tty's 4095-byte line limit): a
 * function W that writes records n, n+1, ... of one writer until n reaches `end`, each with
 * one dd (`conv=fsync` makes dd fsync the device, which Linux turns into a virtio-blk
 * FLUSH, every flushEvery-th record) and prints `FLUSHED w n` only after such a dd
 * returned: then records up to n of writer w are durable. Then the writers, in the
 * background. `device` and `tmp` are parameters so the same script runs on the host
 * (records.test.ts).
 */
export function workloadScript(layout: Layout, gen: number, starts: WriterStart[], opts: { device: string; tmp: string; end?: number }): string {
  const indices = Array.from({ length: LINES }, (_, i) => String(i).padStart(2, '0')).join(' ');
  const end = opts.end ?? 1e12;
  const fn = 'W(){ v=$1;w=$2;g=$3;n=$4;f=$5;o=$6;e=$7;' +
    'while [ $n -lt $e ];do ' +
    `s=$(( ((n*${layout.writers}+w)*${layout.step})&${layout.slots - 1} ));` +
    'c=$(( (n*2654435761+g*40503+v*97+w*7919)&4294967295 ));' +
    `printf "TSHVREC v=$((100+v)) w=$w g=$((10000+g)) n=$((10000000000+n)) c=$((10000000000+c)) i=%s${FILLER.replace('\n', '\\n')}" $I >${opts.tmp}/r$w;` +
    'y=;[ $((n%f)) -eq $((f-1)) ]&&y=,fsync;' +
    `dd if=${opts.tmp}/r$w of=${opts.device} bs=${RECORD_BYTES} seek=$s count=1 conv=notrunc$y $o 2>/dev/null||{ echo WRITE-FAILED $w $n;return;};` +
    '[ -n "$y" ]&&echo FLUSHED $w $n;n=$((n+1));done;}';
  const runs = starts.map(({ writer, first }) => {
    const m = writerMode(writer);
    return `W ${layout.vm} ${writer} ${gen} ${first} ${m.flushEvery} ${m.direct ? 'oflag=direct' : "''"} ${end} &`;
  });
  return `I="${indices}";${fn};${runs.join(' ')}`;
}

/** A line the workload prints. */
export type WorkloadLine = { kind: 'flushed'; writer: number; n: number } | { kind: 'write-failed'; writer: number; n: number };

export function parseWorkloadLine(line: string): WorkloadLine | null {
  const m = /^(FLUSHED|WRITE-FAILED) (\d+) (\d+)$/.exec(line);
  if (!m) return null;
  return { kind: m[1] === 'FLUSHED' ? 'flushed' : 'write-failed', writer: Number(m[2]), n: Number(m[3]) };
}
