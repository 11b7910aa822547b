/* Compiler-generated code, floating-point side: Machin's formula for pi, Newton's
   square root against fsqrt, a float harmonic sum, conversions in both directions
   (truncation, saturation-free ranges, unsigned), fused multiply-add, a small
   matrix product, 64x64->128-bit multiplication, and an ASCII Mandelbrot set;
   results printed over the UART (checked exactly by the harness). */
#include "lib.h"

static double arctan_inv(int x) {              /* arctan(1/x) by its series */
  double x2 = (double)x * x, term = 1.0 / x, sum = term;
  for (int k = 1; k < 40; k++) {
    term /= x2;
    double t = term / (2 * k + 1);
    sum += (k & 1) ? -t : t;
  }
  return sum;
}

static double newton_sqrt(double v) {
  double x = v > 1 ? v / 2 : 1;
  for (int i = 0; i < 60; i++) x = 0.5 * (x + v / x);
  return x;
}

static uint64_t bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static volatile double vd;                     /* defeat constant folding */
static volatile float vf;
static volatile int64_t vi;

int main(void) {
  double pi = 4 * (4 * arctan_inv(5) - arctan_inv(239));
  CHECK(1, pi > 3.14159265358 && pi < 3.14159265360);
  printf("pi ~ %ld (x 1e12)\n", (long)(pi * 1e12));

  vd = 2.0;
  double r = newton_sqrt(vd), s = __builtin_sqrt(vd);
  CHECK(2, bits(s) == 0x3ff6a09e667f3bcdull);
  CHECK(3, bits(r) - bits(s) + 1 <= 2);         /* Newton may end one ulp off */
  vf = 2.0f;
  CHECK(4, fbits(__builtin_sqrtf(vf)) == 0x3fb504f3u);

  float h = 0;
  for (int i = 1; i <= 1000; i++) h += 1.0f / (float)i;
  printf("harmonic(1000) float bits %08x\n", fbits(h));
  CHECK(5, h > 7.48f && h < 7.49f);

  /* conversions */
  vd = -3.75;
  CHECK(6, (int)vd == -3);
  CHECK(7, (long)(vd * 1e15) == -3750000000000000L);
  vd = 3e9;
  CHECK(8, (unsigned)vd == 3000000000u);
  CHECK(9, (uint64_t)(vd * 4e9) == 12000000000000000000ull);
  vi = -7;
  CHECK(10, (double)vi == -7.0);
  vi = (int64_t)9007199254740993ll;             /* 2^53 + 1 rounds to even */
  CHECK(11, bits((double)vi) == 0x4340000000000000ull);
  CHECK(12, fbits((float)(uint64_t)vi) == 0x5a000000u);
  vf = 0.1f;
  CHECK(13, bits((double)vf) == 0x3fb99999a0000000ull);
  vd = 0.1;
  CHECK(14, fbits((float)vd) == 0x3dcccccdu);

  /* fused multiply-add: one rounding */
  vd = 1.0 + 0x1p-27;
  double p = __builtin_fma(vd, vd, -1.0);
  CHECK(15, p == 0x1p-26 + 0x1p-54);

  /* matrix product */
  double m[6][6], n[6][6], o[6][6];
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 6; j++) { m[i][j] = (i + 1) / (double)(j + 2); n[i][j] = (i == j) ? 2.0 : 0.25 * (i - j); }
  uint64_t mh = 0;
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 6; j++) {
      double acc = 0;
      for (int k = 0; k < 6; k++) acc += m[i][k] * n[k][j];
      o[i][j] = acc;
      mh = mh * 1099511628211ull ^ bits(acc);
    }
  printf("matrix hash %016lx o[5][5] ~ %ld\n", (unsigned long)mh, (long)(o[5][5] * 1e6));

  /* 64x64 -> 128 */
  unsigned __int128 wide = (unsigned __int128)0xfedcba9876543210ull * 0x0123456789abcdefull;
  CHECK(16, (uint64_t)(wide >> 64) == 0x0121fa00ad77d742ull);
  CHECK(17, (uint64_t)wide == 0x2236d88fe5618cf0ull);
  __int128 swide = (__int128)(int64_t)-5 * (int64_t)0x7fffffffffffffffll;
  CHECK(18, (int64_t)(swide >> 64) == -3);

  /* Mandelbrot */
  for (int y = -6; y <= 6; y++) {
    char row[41];
    for (int x = -26; x < 14; x++) {
      double cr = x / 12.0, ci = y / 6.0, zr = 0, zi = 0;
      int it = 0;
      while (it < 50 && zr * zr + zi * zi <= 4.0) {
        double t = zr * zr - zi * zi + cr;
        zi = 2 * zr * zi + ci;
        zr = t;
        it++;
      }
      row[x + 26] = " .:-=+*#%@"[it >= 50 ? 9 : it % 9];
    }
    row[40] = 0;
    printf("|%s|\n", row);
  }
  return 0;
}
