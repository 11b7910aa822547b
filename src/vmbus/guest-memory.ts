// Guest RAM as the parent sees it: a bounds-checked view (ARCHITECTURE.md "Memory"). Every
// guest-physical address a VSP touches comes from the guest, so each range is checked
// here, once, where it enters: whole inside RAM, no wrap-around, no overflow past 2^53.

/** Guest-physical addresses are plain numbers here: RAM ends far below 2^53. */
export type Gpa = number;

export class GuestMemory {
  readonly end: Gpa;

  /**
   * @param ram guest RAM, index 0 = guest-physical `base` (a view over the VM's shared memory)
   * @param base guest-physical address of the first RAM byte
   */
  /**
   * @param writes where writes the device side makes into RAM are logged (the VM's
   *   written-page log: offset 0 = the first RAM byte), so a save does not miss them
   */
  constructor(readonly ram: Uint8Array, readonly base: Gpa, private readonly writes?: { mark(offset: number, length: number): void }) {
    this.end = base + ram.length;
  }

  /** Notes that the device side may write [gpa, gpa+len) (which must be RAM). */
  willWrite(gpa: Gpa, len: number): void { this.writes?.mark(gpa - this.base, len); }

  /** Notes that the device side has written `view` (a view of this RAM, as bytes() and the rings hand out). */
  wrote(view: ArrayBufferView): void { this.writes?.mark(view.byteOffset - this.ram.byteOffset, view.byteLength); }

  /** True if [gpa, gpa+len) lies wholly in RAM. */
  contains(gpa: Gpa, len: number): boolean {
    return Number.isSafeInteger(gpa) && Number.isSafeInteger(len) && len >= 0 && gpa >= this.base && gpa + len <= this.end;
  }

  /** The bytes of [gpa, gpa+len), or undefined if any of them is not RAM. */
  bytes(gpa: Gpa, len: number): Uint8Array | undefined {
    if (!this.contains(gpa, len)) return undefined;
    const at = gpa - this.base;
    return this.ram.subarray(at, at + len);
  }

  /** Byte offset of gpa inside the shared buffer (for typed views over granted ranges). */
  bufferOffset(gpa: Gpa): number { return this.ram.byteOffset + (gpa - this.base); }
}

/** A 64-bit guest address given as two 32-bit halves (virtio-mmio's Low/High registers). */
export function gpaFromHalves(low: number, high: number): Gpa | undefined {
  const hi = high >>> 0;
  // Anything at or above 2^53 is no RAM address; keep it out of float arithmetic.
  if (hi >= 1 << 21) return undefined;
  return hi * 2 ** 32 + (low >>> 0);
}
