// What a fuzz target is, and the generators they share. A target feeds one parser of
// untrusted input (docs/security.md "Fuzzing"): fast-check generates the inputs, the
// target runs the parser on each and throws if the parser did something it must never
// do. A parser's documented, typed error (VirtqueueError, DiskError, BootError, a 4xx
// answer...) is the parser doing its job; any other exception is a finding, and so is a
// case that hangs (the runner's per-case time bound) or allocates beyond its bound.
import fc from 'fast-check';

/** One corpus file: its name and bytes (test/fuzz/corpus/<target>/). */
export interface CorpusFile { name: string; bytes: Uint8Array }

export interface FuzzTarget<T, Ctx = unknown> {
  readonly name: string;
  /** Turns the committed corpus into inputs (replayed before anything is generated). */
  fromCorpus(files: readonly CorpusFile[]): T[];
  /** The generator; `seeds` are the corpus inputs, for mutation-based targets. */
  arbitrary(seeds: readonly T[]): fc.Arbitrary<T>;
  /** Once per worker, before any case (temp files, a disk, an app). */
  setup?(): Promise<Ctx>;
  teardown?(ctx: Ctx): Promise<void>;
  /**
   * Runs one case. Throws a Finding (or any error that `expected` does not accept) if the
   * parser misbehaved; returns normally otherwise.
   */
  run(input: T, ctx: Ctx): void | Promise<void>;
  /** True for the parser's documented, typed errors: those end the case normally. */
  expected(e: unknown): boolean;
  /** Bytes one case may allocate (JS heap and array buffers) before it counts as unbounded. */
  memoryBound?(input: T): number;
  /** How a counterexample is printed (default: show()). */
  show?(input: T): string;
  /** Per-case time bound in ms (default: 2 s for sync targets, 10 s for async ones). */
  readonly caseTimeoutMs?: number;
  readonly async: boolean;
}

const notes = new Map<string, number>();
let noting = false;

/** Turns note() on (the worker does, with --stats); off it costs nothing. */
export function setNoting(on: boolean): void { noting = on; }

/**
 * Counts an outcome (`npm run fuzz -- T --stats` prints the counts): how often the parser
 * refused an input and why, how often it took one, so a generator that never gets past
 * the first check shows. Numbers in `what` are folded, so messages group.
 */
export function note(what: string): void {
  if (!noting) return;
  const k = what.replace(/\/[^\s:]+: /g, '').replace(/0x[0-9a-f]+|\d+/gi, 'N').slice(0, 100);
  notes.set(k, (notes.get(k) ?? 0) + 1);
}

/** Notes the error a parser refused an input with. */
export function noteError(e: unknown): void {
  if (noting) note(e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e));
}

export function takeNotes(): [string, number][] {
  const out = [...notes].sort((a, b) => b[1] - a[1]);
  notes.clear();
  return out;
}

/** A case broke a rule of the parser's contract (the message says which). */
export class Finding extends Error {
  override readonly name = 'Finding';
}

export function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Finding(what);
}

// ---- byte mutation (for parsers of binary formats: start from a valid input) ----

/** Values that sit on the edges of the checks a parser makes. */
const EDGE_U64: bigint[] = [
  0n, 1n, 2n, 7n, 8n, 9n, 15n, 16n, 17n, 0x7fn, 0x80n, 0xffn, 0x100n, 0x1ffn, 0x200n, 0x201n, 0xfffn, 0x1000n,
  0x7fffn, 0x8000n, 0xffffn, 0x10000n, 0x200000n, 0x7fff_ffffn, 0x8000_0000n, 0xffff_fffen, 0xffff_ffffn, 0x1_0000_0000n,
  (1n << 53n) - 1n, 1n << 53n, (1n << 56n) - 1n, 1n << 62n, 1n << 63n, (1n << 64n) - 1n, (1n << 64n) - 512n,
];

export type Mutation =
  /** Sets a byte. */
  | { op: 'byte'; at: number; value: number }
  /** Writes an edge value (or one near a length of the input) as a 2, 4 or 8 byte word. */
  | { op: 'word'; at: number; width: 2 | 4 | 8; value: bigint; near: 'none' | 'length' | 'offset'; delta: number; le: boolean }
  | { op: 'flip'; at: number; bit: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; len: number }
  /** Copies a run of the input over another place (duplicated tables, headers, entries). */
  | { op: 'copy'; from: number; to: number; len: number };

/**
 * A mutation of an input of unknown length: positions are taken modulo the length, or
 * (hot, for `at` values below 2^16 when hot offsets are given) pick a field the target
 * named, so most mutations land on the parser's header and table fields.
 */
export function mutationArb(): fc.Arbitrary<Mutation> {
  const at = fc.oneof(fc.nat(0xffff).map((n) => -1 - n), fc.nat()); // negative: a hot offset
  return fc.oneof(
    { weight: 2, arbitrary: fc.record({ op: fc.constant('byte' as const), at, value: fc.nat(255) }) },
    {
      weight: 5,
      arbitrary: fc.record({
        op: fc.constant('word' as const), at, width: fc.constantFrom(2 as const, 4 as const, 8 as const),
        value: fc.oneof(fc.constantFrom(...EDGE_U64), fc.bigInt(0n, (1n << 64n) - 1n)),
        near: fc.constantFrom('none' as const, 'none' as const, 'length' as const, 'offset' as const),
        delta: fc.integer({ min: -16, max: 16 }), le: fc.boolean(),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('flip' as const), at, bit: fc.nat(7) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 256 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('copy' as const), from: at, to: at, len: fc.integer({ min: 1, max: 512 }) }) },
  );
}

/**
 * Applies mutations to a copy of `input`. `hot` lists offsets worth hitting (header
 * fields, table entries); `littleEndian` is the format's byte order for hot words.
 */
export function mutate(input: Uint8Array, mutations: readonly Mutation[], hot: readonly number[] = []): Uint8Array {
  let b = input.slice();
  const pos = (at: number, len: number): number => {
    if (at < 0 && hot.length) return hot[(-1 - at) % hot.length]! % Math.max(1, len);
    return Math.abs(at) % Math.max(1, len);
  };
  for (const m of mutations) {
    if (b.length === 0 && m.op !== 'insert') continue;
    switch (m.op) {
      case 'byte': b[pos(m.at, b.length)] = m.value; break;
      case 'flip': { const p = pos(m.at, b.length); b[p] = b[p]! ^ (1 << m.bit); break; }
      case 'word': {
        const p = pos(m.at, b.length);
        let v = m.value;
        if (m.near === 'length') v = BigInt(Math.max(0, b.length + m.delta));
        else if (m.near === 'offset') v = BigInt(Math.max(0, p + m.delta));
        v = BigInt.asUintN(m.width * 8, v);
        for (let i = 0; i < m.width && p + i < b.length; i++) {
          const shift = BigInt(8 * (m.le ? i : m.width - 1 - i));
          b[p + i] = Number((v >> shift) & 0xffn);
        }
        break;
      }
      case 'truncate': b = b.slice(0, pos(m.at, b.length)); break;
      case 'insert': {
        const p = pos(m.at, b.length + 1);
        const out = new Uint8Array(b.length + m.bytes.length);
        out.set(b.subarray(0, p)); out.set(m.bytes, p); out.set(b.subarray(p), p + m.bytes.length);
        b = out;
        break;
      }
      case 'delete': {
        const p = pos(m.at, b.length);
        const out = new Uint8Array(b.length - Math.min(m.len, b.length - p));
        out.set(b.subarray(0, p)); out.set(b.subarray(p + m.len), p);
        b = out;
        break;
      }
      case 'copy': {
        const from = pos(m.from, b.length), to = pos(m.to, b.length);
        const run = b.slice(from, from + m.len);
        b.set(run.subarray(0, Math.max(0, b.length - to)), to);
        break;
      }
    }
  }
  return b;
}

/** An input built from a seed and mutations: printed small (fast-check shows the recipe). */
export interface Mutated { seed: number; mutations: Mutation[] }

/** Picks one of `n` seeds and up to `max` mutations of it. */
export function mutatedArb(n: number, max = 8): fc.Arbitrary<Mutated> {
  return fc.record({ seed: fc.nat(Math.max(0, n - 1)), mutations: fc.array(mutationArb(), { maxLength: max }) });
}

/** Interesting 32-bit values for guest-written fields (indices, lengths, flags). */
export const edgeU32 = (): fc.Arbitrary<number> =>
  fc.oneof(
    fc.constantFrom(0, 1, 2, 3, 15, 16, 17, 255, 256, 511, 512, 513, 4095, 4096, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff),
    fc.nat({ max: 0xffff_ffff }),
  );

export const MiB = 1 << 20;

/** Bytes in hexadecimal, cut after `max`. */
export function hexdump(b: Uint8Array, max = 64): string {
  return [...b.subarray(0, max)].map((x) => x.toString(16).padStart(2, '0')).join('') + (b.length > max ? `... (${b.length} bytes)` : '');
}

/**
 * An input as JSON: bigints as "123n", byte arrays as "hex:..." (cut, "<N bytes: ...>",
 * past 4 KiB). What it prints can go into a JSON corpus file as it is (see revive).
 */
export function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return `${x}n`;
    if (x instanceof Uint8Array) return x.length <= 4096 ? `hex:${hexdump(x, 4096)}` : `<${x.length} bytes: ${hexdump(x, 48)}>`;
    return x;
  });
}

/** JSON.parse reviver for what show() prints. */
export function revive(_k: string, v: unknown): unknown {
  if (typeof v !== 'string') return v;
  if (/^\d+n$/.test(v)) return BigInt(v.slice(0, -1));
  if (/^hex:([0-9a-f]{2})*$/.test(v)) return Uint8Array.from(v.slice(4).match(/../g) ?? [], (h) => parseInt(h, 16));
  return v;
}

/** A JSON corpus (one case a file, as show() prints them). */
export function jsonCorpus<T>(files: readonly CorpusFile[]): T[] {
  return files.filter((f) => f.name.endsWith('.json')).map((f) => JSON.parse(new TextDecoder().decode(f.bytes), revive) as T);
}
