// The save/restore contract of every stateful device (ARCHITECTURE.md "State and
// migration"): save() returns versioned plain data with named fields (JSON-safe: 64-bit
// values as decimal strings), restore() takes it as untrusted input — a state stream comes
// from a file or a peer — and either applies all of it or throws a StateError and changes
// nothing (decode, then invoke). A device's state type and its validation live in the
// state.ts of its folder.

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

  private error(what: string): StateError { return new StateError(`${this.device} state: ${what}`); }
}
