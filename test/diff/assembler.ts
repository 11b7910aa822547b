// A two-pass assembler over a list of items: fixed-size instructions, labels, and
// instructions whose encoding depends on their own address or on a label's (branches,
// pc-relative address formation). Sizes are known before addresses are, so one layout
// pass followed by one emit pass is enough.

import * as E from './encoder.js';
import type { Insn, XReg } from './encoder.js';

export class Label {
  private static next = 0;
  readonly id = Label.next++;
  constructor(readonly name = '') {}
  toString(): string { return this.name || `L${this.id}`; }
}

/** Resolves a label to its address; throws if it was never placed. */
export type Resolve = (label: Label) => number;

export type Item =
  | { readonly kind: 'insn'; readonly insn: Insn }
  | { readonly kind: 'label'; readonly label: Label }
  /** Pads with c.nop to a multiple of 4 (mtvec needs 4-byte alignment). */
  | { readonly kind: 'align4' }
  /** Pads with c.nop until pc % mod === rem (rem even): places code across a page boundary. */
  | { readonly kind: 'padTo'; readonly mod: number; readonly rem: number }
  /** Instructions computed from their own address: `size` bytes in total. */
  | { readonly kind: 'dyn'; readonly size: number; readonly emit: (pc: number, resolve: Resolve) => Insn[] };

export const insn = (i: Insn): Item => ({ kind: 'insn', insn: i });
export const label = (l: Label): Item => ({ kind: 'label', label: l });
export const align4 = (): Item => ({ kind: 'align4' });
export const padTo = (mod: number, rem: number): Item => ({ kind: 'padTo', mod, rem });
const padSize = (pc: number, mod: number, rem: number): number => (((rem - pc) % mod) + mod) % mod;
export const dyn = (size: number, emit: (pc: number, resolve: Resolve) => Insn[]): Item => ({ kind: 'dyn', size, emit });

/** Splits a pc-relative offset into auipc's 20-bit upper part and a 12-bit signed low part. */
export function hiLo(off: number): [number, number] {
  const hi = Math.floor((off + 0x800) / 4096);
  const lo = off - hi * 4096;
  return [hi, lo];
}

/** auipc rd, hi; addi rd, rd, lo: rd = absolute address `target` (8 bytes). */
export function la(rd: XReg, target: number | Label): Item {
  return dyn(8, (pc, resolve) => {
    const t = typeof target === 'number' ? target : resolve(target);
    const [hi, lo] = hiLo(t - pc);
    return [E.auipc(rd, hi), E.aluImm('addi', rd, rd, lo)];
  });
}

/** A branch-like instruction to a label: `make(offset)` encodes it. */
export function toLabel(size: 2 | 4, target: Label, make: (off: number) => Insn): Item {
  return dyn(size, (pc, resolve) => {
    const i = make(resolve(target) - pc);
    if (i.size !== size) throw new Error(`size mismatch for ${i.text}`);
    return [{ ...i, text: `${i.text} <${target}>` }];
  });
}

export interface Listing {
  readonly pc: number;
  readonly insn: Insn;
  /** Index of the item that produced the instruction. */
  readonly item: number;
}

export interface Assembled {
  readonly bytes: Uint8Array;
  readonly labels: Map<Label, number>;
  readonly listing: Listing[];
}

export function assemble(items: readonly Item[], base: number): Assembled {
  const labels = new Map<Label, number>();
  let pc = base;
  for (const it of items) {
    switch (it.kind) {
      case 'insn': pc += it.insn.size; break;
      case 'label':
        if (labels.has(it.label)) throw new Error(`label ${it.label} placed twice`);
        labels.set(it.label, pc);
        break;
      case 'align4': pc += pc % 4; break;
      case 'padTo': pc += padSize(pc, it.mod, it.rem); break;
      case 'dyn': pc += it.size; break;
    }
  }
  const bytes = new Uint8Array(pc - base);
  const listing: Listing[] = [];
  const resolve: Resolve = (l) => {
    const a = labels.get(l);
    if (a === undefined) throw new Error(`label ${l} never placed`);
    return a;
  };
  let item = 0;
  const put = (at: number, i: Insn): void => {
    const o = at - base;
    bytes[o] = i.word & 0xff;
    bytes[o + 1] = (i.word >>> 8) & 0xff;
    if (i.size === 4) {
      bytes[o + 2] = (i.word >>> 16) & 0xff;
      bytes[o + 3] = (i.word >>> 24) & 0xff;
    }
    listing.push({ pc: at, insn: i, item });
  };
  pc = base;
  for (const it of items) {
    switch (it.kind) {
      case 'insn': put(pc, it.insn); pc += it.insn.size; break;
      case 'label': break;
      case 'align4': if (pc % 4) { put(pc, E.cNop()); pc += 2; } break;
      case 'padTo':
        for (let n = padSize(pc, it.mod, it.rem); n > 0; n -= 2) { put(pc, E.cNop()); pc += 2; }
        break;
      case 'dyn': {
        let n = 0;
        for (const i of it.emit(pc, resolve)) { put(pc + n, i); n += i.size; }
        if (n !== it.size) throw new Error(`dynamic item emitted ${n} bytes, declared ${it.size}`);
        pc += n;
        break;
      }
    }
    item++;
  }
  return { bytes, labels, listing };
}
