// The save/restore contract of everything that holds VM state (docs/state.md): save()
// returns versioned plain data with named fields (JSON-safe: 64-bit values as decimal
// strings, bytes as base64), restore() takes it as untrusted input — a state stream comes
// from a file or a peer — and either applies all of it or throws a StateError and changes
// nothing (decode, then invoke). A device's state type and its validation live in the
// state.ts of its folder. No Node APIs: the hypervisor and VMBus use it too.

export interface VersionedState { version: number }

export interface Stateful<S extends VersionedState> {
  save(): S;
  /** Validates, then applies; throws StateError naming the device and the field on bad input. */
  restore(state: unknown): void;
}

/** A saved state that cannot be restored: the message names the device and the field. */
export class StateError extends Error {
  override readonly name: string = 'StateError';
}

/** Reads the fields of one device's saved state, each checked for type and range. */
export class StateReader {
  private readonly s: Record<string, unknown>;

  constructor(private readonly device: string, state: unknown, version: number) {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) throw this.error('is not an object');
    this.s = state as Record<string, unknown>;
    if (this.s.version !== version) throw this.error(`version ${JSON.stringify(this.s.version)} is not ${version}`);
  }

  /** A 64-bit integer saved as a decimal string, within [min, max]. */
  bigint(field: string, min: bigint, max: bigint): bigint {
    const v = this.s[field];
    if (typeof v !== 'string' || !/^-?[0-9]{1,20}$/.test(v)) throw this.error(`${field} is not an integer string`);
    const n = BigInt(v);
    if (n < min || n > max) throw this.error(`${field} out of range`);
    return n;
  }

  /** A whole number within [min, max]. */
  int(field: string, min: number, max: number): number {
    const v = this.s[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw this.error(`${field} is not an integer in ${min}..${max}`);
    return v;
  }

  bool(field: string): boolean {
    const v = this.s[field];
    if (typeof v !== 'boolean') throw this.error(`${field} is not a boolean`);
    return v;
  }

  /** A string of at most `maxLength` characters (matching `pattern` if given). */
  string(field: string, maxLength: number, pattern?: RegExp): string {
    const v = this.s[field];
    if (typeof v !== 'string' || v.length > maxLength || (pattern && !pattern.test(v))) throw this.error(`${field} is not a valid string`);
    return v;
  }

  /** Bytes saved as base64 (bytesToBase64), at most `maxBytes` of them. */
  bytes(field: string, maxBytes: number): Uint8Array {
    const v = this.s[field];
    // Checked before decoding: a hostile length costs nothing.
    if (typeof v !== 'string' || v.length > Math.ceil(maxBytes / 3) * 4) throw this.error(`${field} is not base64 of at most ${maxBytes} bytes`);
    const out = base64ToBytes(v);
    if (!out || out.length > maxBytes) throw this.error(`${field} is not base64 of at most ${maxBytes} bytes`);
    return out;
  }

  /** An array of exactly `length` entries (or `length[0]..length[1]`), each read by `item`. */
  array<T>(field: string, length: number | [number, number], item: (v: unknown, at: string) => T): T[] {
    const v = this.s[field];
    const [min, max] = typeof length === 'number' ? [length, length] : length;
    if (!Array.isArray(v) || v.length < min || v.length > max) {
      throw this.error(`${field} is not an array of ${min === max ? min : `${min}..${max}`} entries`);
    }
    return v.map((x, i) => item(x, `${field}[${i}]`));
  }

  /** A whole number in [min, max], for array items. */
  intItem(min: number, max: number): (v: unknown, at: string) => number {
    return (v, at) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw this.error(`${at} is not an integer in ${min}..${max}`);
      return v;
    };
  }

  /** A 64-bit integer string in [min, max], for array items. */
  bigintItem(min: bigint, max: bigint): (v: unknown, at: string) => bigint {
    return (v, at) => {
      if (typeof v !== 'string' || !/^-?[0-9]{1,20}$/.test(v)) throw this.error(`${at} is not an integer string`);
      const n = BigInt(v);
      if (n < min || n > max) throw this.error(`${at} out of range`);
      return n;
    };
  }

  /** A nested object, read with its own reader (same device name, the path in messages). */
  object(field: string): StateReader {
    return StateReader.nested(`${this.device} ${field}`, this.s[field]);
  }

  /** A reader over an unversioned part of a state (an array item, a nested record). */
  static nested(device: string, state: unknown): StateReader {
    const r = Object.create(StateReader.prototype) as StateReader;
    (r as unknown as { device: string }).device = device;
    if (typeof state !== 'object' || state === null || Array.isArray(state)) throw r.error('is not an object');
    (r as unknown as { s: unknown }).s = state;
    return r;
  }

  /** A StateError naming this device (for checks across fields). */
  error(what: string): StateError { return new StateError(`${this.device} state: ${what}`); }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;

/** Bytes as standard base64 (RFC 4648 §4), for JSON state (no Buffer here: the inner layers use this). */
export function bytesToBase64(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + (i + 1 < b.length ? B64[(n >> 6) & 63]! : '=') + (i + 2 < b.length ? B64[n & 63]! : '=');
  }
  return out;
}

/** Decodes standard padded base64; undefined if it is not. */
export function base64ToBytes(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0) return undefined;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = s.charCodeAt(i + j);
      const last = i + 4 === s.length;
      if (c === 61 && last && j >= 4 - pad) { n <<= 6; continue; } // '='
      const v = c < 128 ? B64_INDEX[c]! : -1;
      if (v < 0) return undefined;
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}
