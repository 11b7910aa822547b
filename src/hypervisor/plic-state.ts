// The virtual PLIC's saved state (src/state/contract.ts): the registers of one partition's
// PLIC (Platform-Level Interrupt Controller Specification 1.0.0) and the gateway's view of
// each line. Bit arrays are 32 sources a word, source s at bit s % 32 of word s / 32, each
// word saved unsigned.
import { StateReader } from '../state/contract.js';

export interface PlicState {
  version: 1;
  /** Priority of each source, by source id (source 0 does not exist: 0). */
  priority: number[];
  /** Pending bits (spec "Interrupt Pending Bits"). */
  pending: number[];
  /** The level each device drives its line to now. */
  level: number[];
  /** Claimed and not yet completed. */
  inService: number[];
  /** Per context, in hart order (only this partition's): its enable words. */
  enable: number[][];
  /** Per context: its priority threshold. */
  threshold: number[];
}

export type PlicRegisters = Omit<PlicState, 'version'>;

/** Priorities and thresholds have 3 bits (the device masks writes the same way). */
const MAX_PRIORITY = 7;

/**
 * Validates a saved state as untrusted input against this PLIC's shape (`sources`, a
 * multiple of 32, and the partition's `contexts`); throws StateError naming the field.
 * Beyond types and ranges it checks what the PLIC itself guarantees: source 0 has no bit
 * anywhere and priority 0, and a source is never both pending and in service (a claim
 * clears pending; the gateway sets it only for a source not in service).
 */
export function parsePlicState(state: unknown, shape: { sources: number; contexts: number }): PlicRegisters {
  const r = new StateReader('plic', state, 1);
  const words = shape.sources / 32;
  // Word i of a bit array; in word 0, bit 0 would be source 0.
  const word = (v: unknown, at: string, i: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw r.error(`${at} is not a 32-bit word`);
    if (i === 0 && (v & 1) !== 0) throw r.error(`${at} has a bit for source 0, which does not exist`);
    return v;
  };
  const bits = (field: string) => r.array(field, words, (v) => v).map((v, i) => word(v, `${field}[${i}]`, i));
  const priority = r.array('priority', shape.sources, r.intItem(0, MAX_PRIORITY));
  if (priority[0] !== 0) throw r.error('priority[0] is not 0: source 0 does not exist');
  const pending = bits('pending'), level = bits('level'), inService = bits('inService');
  for (let w = 0; w < words; w++) {
    if ((pending[w] & inService[w]) !== 0) throw r.error(`pending[${w}] and inService[${w}] share a source`);
  }
  const enable = r.array('enable', shape.contexts, (v, at): number[] => {
    if (!Array.isArray(v) || v.length !== words) throw r.error(`${at} is not an array of ${words} entries`);
    return v.map((x, i) => word(x, `${at}[${i}]`, i));
  });
  const threshold = r.array('threshold', shape.contexts, r.intItem(0, MAX_PRIORITY));
  return { priority, pending, level, inService, enable, threshold };
}
