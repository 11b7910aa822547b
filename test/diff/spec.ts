// Checks against the specification where QEMU 7.2 (the reference of the golden corpus)
// is itself wrong, so its output cannot be the expectation. tshv's dump is checked
// against rules instead of against a recorded dump.
//
// Misaligned AMOs and SC: Unprivileged ISA §8.2 and §8.4: "If the address is not
// naturally aligned, an address-misaligned exception or an access-fault exception will be
// generated" (for SC, whether or not it would have succeeded); the privileged spec's
// exception codes (§3.1.15, table 3.6) file AMOs with stores: 6 "Store/AMO address
// misaligned", 7 "Store/AMO access fault". QEMU 7.2 raises cause 4 for most misaligned
// AMOs and lets a misaligned SC without a matching reservation fail without trapping.

import * as A from './assembler.js';
import * as E from './encoder.js';
import type { Item } from './assembler.js';
import { initialState } from './generator.js';
import { li } from './macros.js';
import { DUMP_SCRATCH, DUMP_TRAPS, MAX_TRAP_RECORDS, SCRATCH } from './program.js';
import type { BuiltProgram, ProgramSpec } from './program.js';
import { Rng } from './rng.js';
import { hex64 } from './dump.js';

export interface SpecProgram {
  readonly name: string;
  readonly spec: ProgramSpec;
  /** Problems found in tshv's dump; empty when it follows the rules. */
  check(words: BigUint64Array, built: BuiltProgram): string[];
}

const MARKER = 0x5a5a5a5a5a5a5a5an;
const i = A.insn;

interface Expect { title: string; addr: number; insnText: string; causes: readonly number[] }

function misalignedAtomics(which: 'amo' | 'sc'): SpecProgram {
  const cases: { items: Item[]; e: Expect }[] = [];
  const slot = SCRATCH + 512;
  const add = (title: string, w: 4 | 8, op: E.AmoOp, off: number, pre: Item[] = []): void => {
    const insn = E.amo(op, w, 7, 8, 5);
    cases.push({
      items: [...pre, ...li(7, MARKER), A.la(8, slot + off), i(insn)],
      e: { title, addr: slot + off, insnText: insn.text, causes: [6, 7] },
    });
  };
  if (which === 'amo') {
    for (const op of ['amoadd', 'amoswap', 'amoxor', 'amoor', 'amoand', 'amomin', 'amomax', 'amominu', 'amomaxu'] as const) {
      add(`${op}.w at +2`, 4, op, 2);
      add(`${op}.d at +4`, 8, op, 4);
    }
  } else {
    add('sc.w at +1 without a reservation', 4, 'sc', 1);
    add('sc.d at +4 without a reservation', 8, 'sc', 4);
    // a reservation on the aligned word, then SC to a misaligned address inside it
    add('sc.d at +2 after lr.d of the aligned word', 8, 'sc', 2, [A.la(8, slot), i(E.amo('lr', 8, 6, 8, 0))]);
    add('sc.w at +1 after lr.w of the aligned word', 4, 'sc', 1, [A.la(8, slot), i(E.amo('lr', 4, 6, 8, 0))]);
  }
  if (cases.length > MAX_TRAP_RECORDS) throw new Error('too many trap cases for one program');

  const init = initialState(new Rng(0x5bec));
  const body = [{ items: [A.la(31, SCRATCH)] }, ...cases.map((c, k) => ({
    items: [...c.items, i(E.store('sd', 7, 31, k * 8))],
  }))];
  const spec: ProgramSpec = { ...init, body };
  const check = (words: BigUint64Array, built: BuiltProgram): string[] => {
    const problems: string[] = [];
    const count = Number(words[DUMP_TRAPS]);
    if (count !== cases.length) problems.push(`expected ${cases.length} traps, got ${count}`);
    // the slot must be unchanged: every access trapped
    for (let w = 0; w < 2; w++) {
      const k = DUMP_SCRATCH + (slot - SCRATCH) / 8 + w;
      if (words[k] !== built.initialDump[k]) problems.push(`memory at 0x${(slot + 8 * w).toString(16)} was modified`);
    }
    cases.forEach((c, k) => {
      const [cause, tval, epc] = [0, 1, 2].map((f) => words[DUMP_TRAPS + 1 + 3 * k + f]!);
      const at = built.listing.find((l) => l.pc === Number(epc));
      const what = `${c.e.title}: mcause ${cause} mtval 0x${tval.toString(16)} mepc ${at ? at.insn.text : '0x' + epc.toString(16)}`;
      if (!c.e.causes.includes(Number(cause))) problems.push(`${what}: mcause should be one of ${c.e.causes.join('/')}`);
      else if (tval !== 0n && tval !== BigInt(c.e.addr)) problems.push(`${what}: mtval should be 0x${c.e.addr.toString(16)} or 0`);
      if (!at || at.insn.text !== c.e.insnText) problems.push(`${what}: mepc should point at ${c.e.insnText}`);
      const x7 = words[DUMP_SCRATCH + k]!;
      if (x7 !== MARKER) problems.push(`${c.e.title}: rd was written (${hex64(x7)})`);
    });
    return problems;
  };
  return { name: `spec-misaligned-${which}`, spec, check };
}

export function specPrograms(): SpecProgram[] {
  return [misalignedAtomics('amo'), misalignedAtomics('sc')];
}

