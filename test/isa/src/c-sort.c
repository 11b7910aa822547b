/* Compiler-generated code, integer side: a pseudo-random array sorted three ways
   (recursive quicksort through a comparison function pointer, heapsort, insertion
   sort on a copy), checked against each other, plus a checksum, a histogram with a
   switch, 64-bit division and a string table; results printed over the UART. */
#include "lib.h"

#define N 600

static int64_t a[N], b[N], c[N];

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t xorshift(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}

typedef int (*cmp_fn)(int64_t, int64_t);

static int cmp_asc(int64_t x, int64_t y) { return x < y ? -1 : x > y; }

static void quicksort(int64_t *v, int lo, int hi, cmp_fn cmp) {
  while (lo < hi) {
    int64_t pivot = v[lo + (hi - lo) / 2];
    int i = lo, j = hi;
    while (i <= j) {
      while (cmp(v[i], pivot) < 0) i++;
      while (cmp(v[j], pivot) > 0) j--;
      if (i <= j) { int64_t t = v[i]; v[i] = v[j]; v[j] = t; i++; j--; }
    }
    /* recurse into the smaller half, loop on the larger */
    if (j - lo < hi - i) { quicksort(v, lo, j, cmp); lo = i; }
    else { quicksort(v, i, hi, cmp); hi = j; }
  }
}

static void sift_down(int64_t *v, int start, int end) {
  int root = start;
  while (2 * root + 1 <= end) {
    int child = 2 * root + 1, swap = root;
    if (v[swap] < v[child]) swap = child;
    if (child + 1 <= end && v[swap] < v[child + 1]) swap = child + 1;
    if (swap == root) return;
    int64_t t = v[root]; v[root] = v[swap]; v[swap] = t;
    root = swap;
  }
}

static void heapsort(int64_t *v, int n) {
  for (int start = (n - 2) / 2; start >= 0; start--) sift_down(v, start, n - 1);
  for (int end = n - 1; end > 0; end--) {
    int64_t t = v[end]; v[end] = v[0]; v[0] = t;
    sift_down(v, 0, end - 1);
  }
}

static void insertion_sort(int64_t *v, int n) {
  for (int i = 1; i < n; i++) {
    int64_t x = v[i];
    int j = i - 1;
    while (j >= 0 && v[j] > x) { v[j + 1] = v[j]; j--; }
    v[j + 1] = x;
  }
}

static const char *bucket_name(int64_t x) {
  switch ((uint64_t)x >> 61) {
    case 0: return "zero";
    case 1: return "one";
    case 2: return "two";
    case 3: return "three";
    case 4: return "four";
    case 5: return "five";
    case 6: return "six";
    default: return "seven";
  }
}

int main(void) {
  uint64_t sum_before = 0, xor_before = 0;
  for (int i = 0; i < N; i++) {
    a[i] = (int64_t)xorshift();
    if (i % 7 == 0) a[i] = a[i] % 1000;         /* small values and duplicates */
    if (i % 50 == 0) a[i] = 42;
    sum_before += (uint64_t)a[i];
    xor_before ^= (uint64_t)a[i];
  }
  memcpy(b, a, sizeof a);
  memcpy(c, a, sizeof a);

  quicksort(a, 0, N - 1, cmp_asc);
  heapsort(b, N);
  insertion_sort(c, N);

  uint64_t sum_after = 0, xor_after = 0, weighted = 0;
  for (int i = 0; i < N; i++) {
    if (i > 0) CHECK(1, a[i - 1] <= a[i]);
    CHECK(2, a[i] == b[i]);
    CHECK(3, a[i] == c[i]);
    sum_after += (uint64_t)a[i];
    xor_after ^= (uint64_t)a[i];
    weighted = weighted * 31 + (uint64_t)a[i];
  }
  CHECK(4, sum_before == sum_after);
  CHECK(5, xor_before == xor_after);
  CHECK(6, memcmp(a, b, sizeof a) == 0);

  int dup42 = 0;
  for (int i = 0; i < N; i++) dup42 += a[i] == 42;
  CHECK(7, dup42 >= N / 50);

  int hist[8] = {0};
  for (int i = 0; i < N; i++) {
    const char *name = bucket_name(a[i]);
    static const char *names[8] = { "zero", "one", "two", "three", "four", "five", "six", "seven" };
    for (int k = 0; k < 8; k++) if (strcmp(name, names[k]) == 0) hist[k]++;
  }
  int total = 0;
  for (int k = 0; k < 8; k++) total += hist[k];
  CHECK(8, total == N);

  /* 64-bit division and remainder of signed and unsigned values */
  int64_t q = a[0] / 1000003, r = a[0] % 1000003;
  CHECK(9, q * 1000003 + r == a[0]);
  uint64_t uq = (uint64_t)a[N - 1] / 12345, ur = (uint64_t)a[N - 1] % 12345;
  CHECK(10, uq * 12345 + ur == (uint64_t)a[N - 1]);

  char line[64];
  snprintf(line, sizeof line, "%d|%5d|%-4d|%04x|%s", -7, 42, 3, 0xbe, "ok");
  CHECK(11, strcmp(line, "-7|   42|3   |00be|ok") == 0);

  printf("sorted %d values three ways\n", N);
  printf("min %ld max %ld\n", (long)a[0], (long)a[N - 1]);
  printf("sum %016lx xor %016lx hash %016lx\n", (unsigned long)sum_after,
         (unsigned long)xor_after, (unsigned long)weighted);
  printf("buckets");
  for (int k = 0; k < 8; k++) printf(" %d", hist[k]);
  printf("\n");
  return 0;
}
