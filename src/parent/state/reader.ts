// Reads a state stream (format.ts) in two steps, because the VM's memory can only be made
// once its configuration is known: openStateStream reads the header, the configuration and
// the device state; StateStream.readRam then reads the RAM frames straight into the new
// VM's memory, and END.
//
// The stream is untrusted (a file from anywhere, a peer): every failure is a
// StateStreamError saying where and why, never another exception. No length from the
// stream is allocated or read before it is checked against its frame's bound and against
// the bytes left; every loop consumes bytes. A frame's payload is read before its check
// can be verified, so RAM may hold part of a damaged stream when readRam fails: the
// caller throws the VM away. CONF and STAT are verified before they are parsed.
//
// Versions: VERSIONS has an entry for every format version ever written. Reading version N
// < FORMAT_VERSION decodes N's frames with N's rules, then applies the upgrade step of N,
// N+1, ... up to the current version, so the caller always gets the current form.
// Releasing a new version: add its entry, give the previous entry an upgrade step (never
// change what an old entry accepts), and commit a stream it wrote as
// test/fixtures/state/format-N.tshvstate, which reader.test.ts reads.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { ByteSource } from './byte-source.js';
import {
  CHECK_BYTES, END_BYTES, FLAG_IGNORABLE, FORMAT_VERSION, FRAME_HEADER_BYTES, HEADER_BYTES, MAGIC, MAX_CONFIG_JSON_BYTES,
  MAX_MEMORY_BYTES, MAX_RUN_PAGES, MAX_SKIPPED_FRAME_BYTES, MAX_STATE_JSON_BYTES, PAGE_BYTES, RUN_HEADER_BYTES, RunningCheck,
  StateStreamError, TAG, decodeFrameHeader, tagName, validMemoryBytes,
} from './format.js';

/** A path, an open FileHandle of a regular file (read from offset 0), or the stream's bytes. */
export type StateSource = string | FileHandle | Uint8Array;

export interface OpenOptions<C> {
  /**
   * Validates the machine configuration (untrusted JSON, in the current version's form)
   * and returns it typed; throws to refuse it (an error other than StateStreamError is
   * wrapped in one).
   */
  config?: (json: unknown, formatVersion: number) => C;
}

export interface ReadRamOptions {
  /** Stream bytes read so far, of the stream's size: monotonic, ends at the size. */
  onProgress?(doneBytes: number, totalBytes: number): void;
  /**
   * Whether `ram` is all zero already, as a new VM's memory is (the default): pages the
   * stream does not hold are then left alone. If false, they are zeroed.
   */
  ramIsZero?: boolean;
  /** Each run of pages written into `ram` (for the VM's written-page log). */
  onRun?(firstPage: number, count: number): void;
}

/** What the frames before RAM say, in one format version's form. */
interface Head { memoryBytes: number; config: unknown; state: unknown }

export interface FormatRules {
  /** The largest payload of each frame the version has, by tag. */
  readonly maxPayload: ReadonlyMap<number, number>;
  /** Turns this version's Head into the next version's (every version but the current one). */
  readonly upgrade?: (head: Head) => Head;
}

const VERSIONS: ReadonlyMap<number, FormatRules> = new Map([
  [1, {
    maxPayload: new Map([
      [TAG.CONF, 8 + MAX_CONFIG_JSON_BYTES], [TAG.STAT, MAX_STATE_JSON_BYTES],
      [TAG.RAM, RUN_HEADER_BYTES + MAX_RUN_PAGES * PAGE_BYTES], [TAG.END, END_BYTES],
    ]),
  }],
]);

/** Opens a state stream and reads everything before RAM. */
export async function openStateStream<C = unknown>(source: StateSource, options: OpenOptions<C> = {}): Promise<StateStream<C>> {
  const { src, close } = await openSource(source);
  try {
    const header = await src.takeUpTo(HEADER_BYTES);
    const magic = header.subarray(0, MAGIC.length);
    if (header.length === 0 || magic.some((c, i) => c !== MAGIC.charCodeAt(i))) throw new StateStreamError(`${src.name}: not a tshv state file (no ${MAGIC} magic)`);
    if (header.length < HEADER_BYTES) throw src.truncated('the file header');
    const version = new DataView(header.buffer, header.byteOffset, HEADER_BYTES).getUint32(8, true);
    const rules = VERSIONS.get(version);
    if (!rules) {
      throw new StateStreamError(`${src.name}: format version ${version} is ${version > FORMAT_VERSION ? 'newer than this tshv knows (written by a newer tshv?)' : 'not one tshv has written'}; this tshv reads versions 1..${FORMAT_VERSION}`);
    }
    const frames = new FrameReader(src, rules);
    frames.check.update(header);

    let head: Head | undefined;
    let conf: { memoryBytes: number; config: unknown } | undefined;
    while (!head) {
      const f = await frames.next();
      if (f.tag === TAG.CONF) {
        if (conf) throw frames.error(f, 'a second configuration');
        conf = decodeConf(frames, f, await frames.payload(f));
      } else if (f.tag === TAG.STAT) {
        if (!conf) throw frames.error(f, 'device state before the configuration (CONF)');
        head = { ...conf, state: parseJson(frames, f, await frames.payload(f), 'device state') };
      } else if (f.tag === TAG.RAM || f.tag === TAG.END) {
        throw frames.error(f, `unexpected before the ${conf ? 'device state (STAT)' : 'configuration (CONF)'}`);
      } else {
        await frames.skip(f);
      }
    }

    for (let v = version; v < FORMAT_VERSION; v++) head = VERSIONS.get(v)!.upgrade!(head);
    let config = head.config as C;
    if (options.config) {
      try {
        config = options.config(head.config, version);
      } catch (e) {
        if (e instanceof StateStreamError) throw e;
        throw new StateStreamError(`${src.name}: the machine configuration is refused: ${(e as Error).message}`, { cause: e });
      }
    }
    return new StateStream<C>(frames, close, version, head.memoryBytes, config, head.state);
  } catch (e) {
    await close();
    throw e;
  }
}

/** An open state stream: what came before RAM, and RAM still to read. */
export class StateStream<C = unknown> {
  private ramRead = false;
  private closed = false;

  constructor(
    private readonly frames: FrameReader,
    private readonly closeSource: () => Promise<void>,
    /** The version the stream was written in (the rest is already in the current form). */
    readonly formatVersion: number,
    readonly memoryBytes: number,
    readonly config: C,
    readonly state: unknown,
  ) {}

  /**
   * Reads the RAM frames into `ram` (memoryBytes long), then END, and checks that nothing
   * follows. Once only. On a StateStreamError `ram` holds part of the stream: discard it.
   */
  async readRam(ram: Uint8Array, options: ReadRamOptions = {}): Promise<{ ramPages: number }> {
    if (this.ramRead || this.closed) throw new Error('readRam: RAM was read already, or the stream is closed');
    this.ramRead = true;
    const { frames } = this;
    const src = frames.src;
    if (ram.length !== this.memoryBytes) throw new StateStreamError(`${src.name}: the stream holds ${this.memoryBytes} bytes of RAM, not ${ram.length}`);
    const pages = ram.length / PAGE_BYTES;
    let reported = 0;
    let nextPage = 0;
    let ramPages = 0;
    for (;;) {
      const f = await frames.next();
      if (f.tag === TAG.RAM) {
        const run = new DataView((await frames.part(f, RUN_HEADER_BYTES)).slice().buffer);
        const first = run.getBigUint64(0, true), count = run.getUint32(8, true);
        if (count < 1 || count > MAX_RUN_PAGES || f.length !== RUN_HEADER_BYTES + count * PAGE_BYTES) {
          throw frames.error(f, `a run of ${count} pages in ${f.length} bytes (a run is 1..${MAX_RUN_PAGES} whole pages)`);
        }
        if (first < BigInt(nextPage) || first + BigInt(count) > BigInt(pages)) {
          throw frames.error(f, `pages ${first}..${first + BigInt(count) - 1n} are ${first < BigInt(nextPage) ? 'not after the previous run' : `beyond memory (${pages} pages)`}`);
        }
        const at = Number(first) * PAGE_BYTES;
        if (options.ramIsZero === false) ram.fill(0, nextPage * PAGE_BYTES, at);
        options.onRun?.(Number(first), count);
        await frames.into(f, ram.subarray(at, at + count * PAGE_BYTES));
        await frames.endFrame(f);
        nextPage = Number(first) + count;
        ramPages += count;
        if (options.onProgress && src.offset - reported >= 4 << 20) options.onProgress(reported = src.offset, src.size);
      } else if (f.tag === TAG.END) {
        if (f.length !== END_BYTES) throw frames.error(f, `is ${f.length} bytes, not ${END_BYTES}`);
        const framesBefore = frames.count;
        const end = new DataView((await frames.payload(f)).buffer);
        const endPages = end.getBigUint64(0, true), endFrames = end.getBigUint64(8, true);
        if (endPages !== BigInt(ramPages) || endFrames !== BigInt(framesBefore)) {
          throw frames.error(f, `says ${endPages} pages in ${endFrames} frames; the stream had ${ramPages} pages in ${framesBefore} frames`);
        }
        if (!(await src.atEnd())) throw new StateStreamError(`${src.name}: bytes follow the END frame, at byte ${src.offset}`);
        if (options.ramIsZero === false) ram.fill(0, nextPage * PAGE_BYTES);
        options.onProgress?.(src.size, src.size);
        return { ramPages };
      } else if (f.tag === TAG.CONF || f.tag === TAG.STAT) {
        throw frames.error(f, 'a second one');
      } else {
        await frames.skip(f);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.closeSource();
  }
}

/** A frame's header, as read: its tag, flags, payload length and where it starts. */
export interface Frame { tag: number; flags: number; length: number; at: number; index: number }

/** Frames one after the other, each bounded before its payload is read, the check following every byte. */
export class FrameReader {
  readonly check = new RunningCheck();
  /** Frames read to their end. */
  count = 0;

  constructor(readonly src: ByteSource, private readonly rules: FormatRules) {}

  /** The next frame's header, refused if its flags, tag or length are not ones this version allows. */
  async next(): Promise<Frame> {
    const at = this.src.offset, index = this.count;
    const bytes = await this.src.take(FRAME_HEADER_BYTES, `the header of frame ${index}`);
    this.check.update(bytes);
    const h = decodeFrameHeader(bytes);
    const f: Frame = { tag: h.tag, flags: h.flags, length: 0, at, index };
    if (h.flags & ~FLAG_IGNORABLE) throw this.error(f, `has unknown flags 0x${(h.flags >>> 0).toString(16)}`);
    const known = this.rules.maxPayload.get(h.tag);
    if (known === undefined && !(h.flags & FLAG_IGNORABLE)) throw this.error(f, 'has a tag this tshv does not know, and may not be skipped');
    const max = known ?? MAX_SKIPPED_FRAME_BYTES;
    if (h.length > BigInt(max)) throw this.error(f, `claims ${h.length} bytes; at most ${max} are allowed`);
    f.length = Number(h.length);
    const left = this.src.remaining;
    if (f.length + CHECK_BYTES > left) {
      throw this.src.truncated(`frame ${index} (${tagName(f.tag)}), which needs ${f.length + CHECK_BYTES} more bytes where ${left} remain`, this.src.size);
    }
    return f;
  }

  /** The whole payload (bounded by next()) and the frame's check, verified: the frame is read. */
  async payload(f: Frame): Promise<Uint8Array> {
    const out = new Uint8Array(f.length);
    await this.into(f, out);
    await this.endFrame(f);
    return out;
  }

  /** The next `dst.length` bytes of the payload, into dst. */
  async into(f: Frame, dst: Uint8Array): Promise<void> {
    await this.src.fill(dst, this.where(f));
    this.check.update(dst);
  }

  /** The first n bytes of the payload (a view, as ByteSource.take's). */
  async part(f: Frame, n: number): Promise<Uint8Array> {
    if (f.length < n) throw this.error(f, `is ${f.length} bytes, too short for its ${n}-byte header`);
    const bytes = await this.src.take(n, this.where(f));
    this.check.update(bytes);
    return bytes;
  }

  /** Reads through an ignorable frame's payload and its check (verified, not kept). */
  async skip(f: Frame): Promise<void> {
    for (let left = f.length; left > 0;) {
      const n = Math.min(left, 64 << 10);
      this.check.update(await this.src.take(n, this.where(f)));
      left -= n;
    }
    await this.endFrame(f);
  }

  /** Reads the check after the payload and compares it with the bytes read. */
  async endFrame(f: Frame): Promise<void> {
    const expected = this.check.value;
    const bytes = await this.src.take(CHECK_BYTES, this.where(f));
    const stored = new DataView(bytes.buffer, bytes.byteOffset, CHECK_BYTES).getUint32(0, true);
    this.check.update(bytes);
    if (stored !== expected) throw this.error(f, 'fails its check: the stream is damaged');
    this.count++;
  }

  error(f: Frame, what: string): StateStreamError {
    return new StateStreamError(`${this.src.name}: ${this.where(f)} ${what}`);
  }

  private where(f: Frame): string {
    return `frame ${f.index} (${tagName(f.tag)}, at byte ${f.at})`;
  }
}

function decodeConf(frames: FrameReader, f: Frame, payload: Uint8Array): { memoryBytes: number; config: unknown } {
  if (payload.length < 8) throw frames.error(f, 'is too short to hold the memory size');
  const memoryBytes = new DataView(payload.buffer, payload.byteOffset, 8).getBigUint64(0, true);
  if (memoryBytes > BigInt(MAX_MEMORY_BYTES) || !validMemoryBytes(Number(memoryBytes))) {
    throw frames.error(f, `gives ${memoryBytes} bytes of RAM: not whole 4 KiB pages up to ${MAX_MEMORY_BYTES}`);
  }
  return { memoryBytes: Number(memoryBytes), config: parseJson(frames, f, payload.subarray(8), 'machine configuration') };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseJson(frames: FrameReader, f: Frame, bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch (e) {
    throw frames.error(f, `holds a ${what} that is not valid JSON: ${(e as Error).message}`);
  }
}

async function openSource(source: StateSource): Promise<{ src: ByteSource; close: () => Promise<void> }> {
  const none = async () => undefined;
  if (source instanceof Uint8Array) return { src: ByteSource.ofBytes(source), close: none };
  if (typeof source !== 'string') {
    const st = await source.stat().catch((e) => { throw new StateStreamError(`state stream: cannot stat: ${(e as Error).message}`, { cause: e }); });
    return { src: ByteSource.ofFile(source, st.size, 'state stream'), close: none };
  }
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer, maybe forever.
  const fh = await open(source, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
    .catch((e) => { throw new StateStreamError(`${source}: cannot open: ${(e as Error).message}`, { cause: e }); });
  const close = async () => { await fh.close().catch(() => undefined); };
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new StateStreamError(`${source}: not a regular file`);
    return { src: ByteSource.ofFile(fh, st.size, source), close };
  } catch (e) {
    await close();
    if (e instanceof StateStreamError) throw e;
    throw new StateStreamError(`${source}: cannot stat: ${(e as Error).message}`, { cause: e });
  }
}
