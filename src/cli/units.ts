// Parsing of the sizes and counts users type on the command line.
import { JIT_THRESHOLD_DEFAULT } from '../cpu/jit/threshold.js';

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * "256M", "1G", "2T", "65536", "512K" -> bytes. Throws with a message naming the bad value.
 * Not bounded: a size may be beyond Number.MAX_SAFE_INTEGER (callers check their limits).
 */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+)\s*([KMGT]?)(i?B)?$/i.exec(text.trim());
  if (!m) throw new Error(`${what}: "${text}" is not a size (examples: 128M, 1G)`);
  return Number(m[1]) * UNITS[m[2].toUpperCase()];
}

/** A positive integer count, allowing 1e9-style and _ separators. */
export function parseCount(text: string, what: string): bigint {
  const t = text.trim().replace(/_/g, '');
  if (/^\d+$/.test(t)) return BigInt(t);
  const n = Number(t);
  if (Number.isSafeInteger(n) && n > 0) return BigInt(n);
  throw new Error(`${what}: "${text}" is not a positive whole number`);
}

/** `FILE[,readonly]` (also `,ro`): a disk image and how to attach it. Throws naming the option. */
export function parseDiskSpec(spec: string, option: string): { path: string; readOnly: boolean } {
  const [path, ...opts] = spec.split(',');
  let readOnly = false;
  for (const o of opts) {
    if (o === 'readonly' || o === 'ro') readOnly = true;
    else throw new Error(`${option} ${spec}: unknown option "${o}" (only "readonly" is known)`);
  }
  if (!path) throw new Error(`${option} ${spec}: no image file`);
  return { path, readOnly };
}

/** --jit-threshold of exec and run: 1..1000000, default JIT_THRESHOLD_DEFAULT. */
export function parseJitThreshold(text: string | undefined): number {
  const n = Number(parseCount(text ?? String(JIT_THRESHOLD_DEFAULT), '--jit-threshold'));
  if (n < 1 || n > 1_000_000) throw new Error('--jit-threshold must be 1..1000000');
  return n;
}
