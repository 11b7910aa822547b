// What the translator translates: the region of one 4 KiB code page reachable from an
// entry, cut into basic blocks (docs/cpu.md "Translation"). Node-free.
//
// Decoding follows the interpreter (src/cpu/core/execute.ts) exactly: the same RVC
// expansion table, the same reserved encodings. An instruction the translator does not
// handle (SYSTEM, the A and F/D extensions, anything illegal) ends its block before it, so
// the interpreter executes it and raises whatever it raises.

/** What an instruction does to control flow, or null when it is not translated. */
export type Kind = 'op' | 'load' | 'store' | 'branch' | 'jal' | 'jalr';

export interface Insn {
  /** Offset in the page. */
  off: number;
  len: 2 | 4;
  /** The 32-bit encoding (a compressed instruction expanded). */
  inst: number;
  kind: Kind;
}

/** Where a block goes when its last instruction is done. */
export type BlockEnd =
  | { kind: 'fall'; next: number }                     // on to the instruction at next
  | { kind: 'branch'; taken: number; next: number }    // conditional: target or next
  | { kind: 'jal'; target: number }
  | { kind: 'jalr' }
  | { kind: 'stop'; at: number };                      // the interpreter takes over at `at`

export interface Block { start: number; insns: Insn[]; end: BlockEnd }

export interface Region {
  /** Offset of the entry in the page. */
  entry: number;
  /** Blocks in address order; `blocks[i].start` offsets are unique. */
  blocks: Block[];
  /** Instructions translated. */
  size: number;
}

export const PAGE_BYTES = 4096;
/** Instructions per region: bounds translation time and code size. */
export const MAX_REGION_INSNS = 256;

/** Reads the guest code: the 16-bit parcel at a page offset, and the RVC expansion of one. */
export interface CodeReader {
  parcel(off: number): number;
  /** The 32-bit instruction a compressed parcel stands for, 0 if reserved. */
  expand(parcel: number): number;
}

/** The kind of a 32-bit instruction, or null if the interpreter must execute it. */
export function classify(inst: number): Kind | null {
  const f3 = (inst >>> 12) & 7;
  const f7 = inst >>> 25;
  switch (inst & 0x7f) {
    case 0x37: case 0x17: return 'op';
    case 0x6f: return 'jal';
    case 0x67: return f3 === 0 ? 'jalr' : null;
    case 0x63: return (f3 & 6) === 2 ? null : 'branch';
    case 0x03: return f3 === 7 ? null : 'load';
    case 0x23: return f3 > 3 ? null : 'store';
    case 0x13:
      if (f3 === 1) return (inst >>> 26) === 0 ? 'op' : null;
      if (f3 === 5) return (inst >>> 26) === 0 || (inst >>> 26) === 0x10 ? 'op' : null;
      return 'op';
    case 0x1b:
      if (f3 === 0) return 'op';
      if (f3 === 1) return f7 === 0 ? 'op' : null;
      if (f3 === 5) return f7 === 0 || f7 === 0x20 ? 'op' : null;
      return null;
    case 0x33:
      if (f7 === 0 || f7 === 1) return 'op';
      if (f7 === 0x20) return f3 === 0 || f3 === 5 ? 'op' : null;
      return null;
    case 0x3b:
      if (f7 === 0) return f3 === 0 || f3 === 1 || f3 === 5 ? 'op' : null;
      if (f7 === 0x20) return f3 === 0 || f3 === 5 ? 'op' : null;
      if (f7 === 1) return f3 === 0 || f3 >= 4 ? 'op' : null;
      return null;
    case 0x0f: return f3 <= 1 ? 'op' : null; // FENCE, FENCE.I: no-ops (core/execute.ts)
    default: return null;
  }
}

/** B-type immediate (signed). */
export function immB(inst: number): number {
  return ((inst >> 19) & ~0xfff) | ((inst << 4) & 0x800) | ((inst >>> 20) & 0x7e0) | ((inst >>> 7) & 0x1e);
}
/** J-type immediate (signed). */
export function immJ(inst: number): number {
  return ((inst >> 11) & ~0xfffff) | (inst & 0xff000) | ((inst >>> 9) & 0x800) | ((inst >>> 20) & 0x7fe);
}

/** Decodes the instruction at off, or null if it is not translated or leaves the page. */
export function decodeAt(code: CodeReader, off: number): Insn | null {
  if (off + 2 > PAGE_BYTES) return null;
  const lo = code.parcel(off);
  let inst: number, len: 2 | 4;
  if ((lo & 3) !== 3) {
    inst = code.expand(lo);
    if (inst === 0) return null;
    len = 2;
  } else {
    if (off + 4 > PAGE_BYTES) return null; // straddles into the next page: the interpreter's
    inst = (lo | (code.parcel(off + 2) << 16)) >>> 0;
    len = 4;
  }
  const kind = classify(inst);
  return kind ? { off, len, inst, kind } : null;
}

/**
 * The region reachable from `entry` within the page: instructions are followed through
 * fall-through, branches (both ways) and JAL; JALR, the page's end and untranslated
 * instructions end it. Returns null if the entry itself is not translated.
 */
export function findRegion(code: CodeReader, entry: number): Region | null {
  const insns = new Map<number, Insn>();
  /** Offsets covered by the second parcel of a 4-byte instruction. */
  const inner = new Set<number>();
  const leaders = new Set<number>([entry]);
  const work = [entry];
  while (work.length) {
    let off = work.pop()!;
    for (;;) {
      if (insns.has(off)) { leaders.add(off); break; }
      // Decoding stops (the interpreter runs from here) at the size limit, an untranslated
      // instruction, or one overlapping an instruction decoded from another start.
      if (inner.has(off) || insns.size >= MAX_REGION_INSNS) break;
      const insn = decodeAt(code, off);
      if (!insn || (insn.len === 4 && insns.has(off + 2))) break;
      insns.set(off, insn);
      if (insn.len === 4) inner.add(off + 2);
      const next = off + insn.len;
      if (insn.kind === 'branch' || insn.kind === 'jal') {
        const target = off + (insn.kind === 'branch' ? immB(insn.inst) : immJ(insn.inst));
        if (target >= 0 && target < PAGE_BYTES) { leaders.add(target); work.push(target); }
        if (insn.kind === 'branch') { leaders.add(next); work.push(next); }
        break;
      }
      if (insn.kind === 'jalr') break;
      off = next;
    }
  }
  if (!insns.has(entry)) return null;

  const starts = [...leaders].filter((o) => insns.has(o)).sort((a, b) => a - b);
  const isStart = new Set(starts);
  const blocks: Block[] = [];
  for (const start of starts) {
    const list: Insn[] = [];
    let off = start;
    let end: BlockEnd;
    for (;;) {
      const insn = insns.get(off)!;
      list.push(insn);
      const next = off + insn.len;
      if (insn.kind === 'branch') { end = { kind: 'branch', taken: off + immB(insn.inst), next }; break; }
      if (insn.kind === 'jal') { end = { kind: 'jal', target: off + immJ(insn.inst) }; break; }
      if (insn.kind === 'jalr') { end = { kind: 'jalr' }; break; }
      if (isStart.has(next)) { end = { kind: 'fall', next }; break; }
      if (!insns.has(next)) { end = { kind: 'stop', at: next }; break; }
      off = next;
    }
    blocks.push({ start, insns: list, end });
  }
  return { entry, blocks, size: insns.size };
}
