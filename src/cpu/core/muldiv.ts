// High halves of 64x64-bit products for MULH, MULHSU, MULHU (unprivileged spec 7.1).
// Wasm has no 128-bit multiply, so the unsigned product is built from 32-bit halves and
// the signed forms are corrected from it.

/** Upper 64 bits of the unsigned 128-bit product a*b. */
export function mulhu(a: u64, b: u64): u64 {
  const aLo = a & 0xffffffff, aHi = a >> 32;
  const bLo = b & 0xffffffff, bHi = b >> 32;
  const lolo = aLo * bLo;
  const hilo = aHi * bLo;
  const lohi = aLo * bHi;
  const hihi = aHi * bHi;
  const mid = (lolo >> 32) + (hilo & 0xffffffff) + (lohi & 0xffffffff);
  return hihi + (hilo >> 32) + (lohi >> 32) + (mid >> 32);
}

/** Upper 64 bits of the signed x signed product: subtract the two's-complement corrections. */
export function mulh(a: u64, b: u64): u64 {
  let h = mulhu(a, b);
  if (<i64>a < 0) h -= b;
  if (<i64>b < 0) h -= a;
  return h;
}

/** Upper 64 bits of signed a times unsigned b. */
export function mulhsu(a: u64, b: u64): u64 {
  let h = mulhu(a, b);
  if (<i64>a < 0) h -= b;
  return h;
}
