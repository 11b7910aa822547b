// FPU oracle: runs test vectors through real RISC-V F/D instructions (under QEMU's TCG,
// which implements the unprivileged spec's F and D chapters bit-exactly) and prints each
// result register and the fflags it raised. Built and driven by scripts/gen-fpu-vectors.mjs.
//
// Input (placed in RAM by QEMU's generic loader at VEC_BASE): u64 count, then `count`
// records { u32 op, u32 rm, u64 a, u64 b, u64 c }. Output, one line per record over the
// ns16550a UART: "<result as 16 hex digits> <fflags as 2 hex digits>".
// Op numbers are shared with the generator: f32 ops are 0..23, the same f64 ops are 32..55.
#include <stdint.h>

#define VEC_BASE 0x80200000UL
#define UART ((volatile uint8_t *)0x10000000UL)

struct vec { uint32_t op, rm; uint64_t a, b, c; };

static void uart_putc(char ch) {
  while (!(UART[5] & 0x20)) {}
  UART[0] = (uint8_t)ch;
}

static void uart_hex(uint64_t v, int digits) {
  for (int i = digits - 1; i >= 0; i--) {
    unsigned d = (unsigned)(v >> (i * 4)) & 15;
    uart_putc((char)(d < 10 ? '0' + d : 'a' + d - 10));
  }
}

// One instruction per op; operands move through integer registers so no FP value is ever
// touched by compiler-generated code. Instructions with a rounding-mode field use the
// dynamic mode (frm), set by the caller.
#define R2(insn, mvin, mvout) \
  __asm__ volatile(mvin " ft0,%1\n" mvin " ft1,%2\n" insn " ft2,ft0,ft1\n" mvout " %0,ft2" \
                   : "=r"(r) : "r"(a), "r"(b) : "ft0", "ft1", "ft2")
#define R3(insn, mvin, mvout) \
  __asm__ volatile(mvin " ft0,%1\n" mvin " ft1,%2\n" mvin " ft3,%3\n" insn " ft2,ft0,ft1,ft3\n" \
                   mvout " %0,ft2" : "=r"(r) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3")
#define R1(insn, mvin, mvout) \
  __asm__ volatile(mvin " ft0,%1\n" insn " ft2,ft0\n" mvout " %0,ft2" : "=r"(r) : "r"(a) : "ft0", "ft2")
#define CMP(insn, mvin) \
  __asm__ volatile(mvin " ft0,%1\n" mvin " ft1,%2\n" insn " %0,ft0,ft1" : "=r"(r) : "r"(a), "r"(b) : "ft0", "ft1")
#define TOINT(insn, mvin) \
  __asm__ volatile(mvin " ft0,%1\n" insn " %0,ft0" : "=r"(r) : "r"(a) : "ft0")
#define FROMINT(insn, mvout) \
  __asm__ volatile(insn " ft2,%1\n" mvout " %0,ft2" : "=r"(r) : "r"(a) : "ft2")

static uint64_t run(uint32_t op, uint64_t a, uint64_t b, uint64_t c) {
  uint64_t r = 0;
  switch (op) {
  case 0: R2("fadd.s", "fmv.w.x", "fmv.x.w"); break;
  case 1: R2("fsub.s", "fmv.w.x", "fmv.x.w"); break;
  case 2: R2("fmul.s", "fmv.w.x", "fmv.x.w"); break;
  case 3: R2("fdiv.s", "fmv.w.x", "fmv.x.w"); break;
  case 4: R1("fsqrt.s", "fmv.w.x", "fmv.x.w"); break;
  case 5: R3("fmadd.s", "fmv.w.x", "fmv.x.w"); break;
  case 6: R3("fmsub.s", "fmv.w.x", "fmv.x.w"); break;
  case 7: R3("fnmsub.s", "fmv.w.x", "fmv.x.w"); break;
  case 8: R3("fnmadd.s", "fmv.w.x", "fmv.x.w"); break;
  case 9: R2("fmin.s", "fmv.w.x", "fmv.x.w"); break;
  case 10: R2("fmax.s", "fmv.w.x", "fmv.x.w"); break;
  case 11: CMP("feq.s", "fmv.w.x"); break;
  case 12: CMP("flt.s", "fmv.w.x"); break;
  case 13: CMP("fle.s", "fmv.w.x"); break;
  case 14: TOINT("fclass.s", "fmv.w.x"); break;
  case 15: TOINT("fcvt.w.s", "fmv.w.x"); break;
  case 16: TOINT("fcvt.wu.s", "fmv.w.x"); break;
  case 17: TOINT("fcvt.l.s", "fmv.w.x"); break;
  case 18: TOINT("fcvt.lu.s", "fmv.w.x"); break;
  case 19: FROMINT("fcvt.s.w", "fmv.x.w"); break;
  case 20: FROMINT("fcvt.s.wu", "fmv.x.w"); break;
  case 21: FROMINT("fcvt.s.l", "fmv.x.w"); break;
  case 22: FROMINT("fcvt.s.lu", "fmv.x.w"); break;
  case 23: R1("fcvt.d.s", "fmv.w.x", "fmv.x.d"); break;
  case 32: R2("fadd.d", "fmv.d.x", "fmv.x.d"); break;
  case 33: R2("fsub.d", "fmv.d.x", "fmv.x.d"); break;
  case 34: R2("fmul.d", "fmv.d.x", "fmv.x.d"); break;
  case 35: R2("fdiv.d", "fmv.d.x", "fmv.x.d"); break;
  case 36: R1("fsqrt.d", "fmv.d.x", "fmv.x.d"); break;
  case 37: R3("fmadd.d", "fmv.d.x", "fmv.x.d"); break;
  case 38: R3("fmsub.d", "fmv.d.x", "fmv.x.d"); break;
  case 39: R3("fnmsub.d", "fmv.d.x", "fmv.x.d"); break;
  case 40: R3("fnmadd.d", "fmv.d.x", "fmv.x.d"); break;
  case 41: R2("fmin.d", "fmv.d.x", "fmv.x.d"); break;
  case 42: R2("fmax.d", "fmv.d.x", "fmv.x.d"); break;
  case 43: CMP("feq.d", "fmv.d.x"); break;
  case 44: CMP("flt.d", "fmv.d.x"); break;
  case 45: CMP("fle.d", "fmv.d.x"); break;
  case 46: TOINT("fclass.d", "fmv.d.x"); break;
  case 47: TOINT("fcvt.w.d", "fmv.d.x"); break;
  case 48: TOINT("fcvt.wu.d", "fmv.d.x"); break;
  case 49: TOINT("fcvt.l.d", "fmv.d.x"); break;
  case 50: TOINT("fcvt.lu.d", "fmv.d.x"); break;
  case 51: FROMINT("fcvt.d.w", "fmv.x.d"); break;
  case 52: FROMINT("fcvt.d.wu", "fmv.x.d"); break;
  case 53: FROMINT("fcvt.d.l", "fmv.x.d"); break;
  case 54: FROMINT("fcvt.d.lu", "fmv.x.d"); break;
  case 55: R1("fcvt.s.d", "fmv.d.x", "fmv.x.w"); break;
  default: r = 0xdeadbeefdeadbeefULL; break;
  }
  return r;
}

int main(void) {
  uint64_t count = *(volatile uint64_t *)VEC_BASE;
  const struct vec *v = (const struct vec *)(VEC_BASE + 8);
  for (uint64_t i = 0; i < count; i++) {
    uint64_t flags;
    __asm__ volatile("csrw frm, %0\n csrw fflags, zero" : : "r"((uint64_t)v[i].rm));
    uint64_t r = run(v[i].op, v[i].a, v[i].b, v[i].c);
    __asm__ volatile("csrr %0, fflags" : "=r"(flags));
    uart_hex(r, 16);
    uart_putc(' ');
    uart_hex(flags, 2);
    uart_putc('\n');
  }
  return 0;
}
