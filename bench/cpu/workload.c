/* cpu-mix kernels; see workload.h for the shape of the workload. */
#include <stddef.h>
#include <stdint.h>
#include "workload.h"

/* ---------------------------------------------------------------- helpers */

/* xorshift32 (Marsaglia 2003): cheap, deterministic, never 0 once seeded non-zero. */
static uint32_t rng_next(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

/* CRC-32, reflected, polynomial 0x04C11DB7 (0xEDB88320 reversed), one bit at a time. */
static uint32_t crc32_byte(uint32_t crc, uint8_t b) {
  crc ^= b;
  for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  return crc;
}

static uint32_t crc32_u32(uint32_t crc, uint32_t v) {
  crc = crc32_byte(crc, (uint8_t)v);
  crc = crc32_byte(crc, (uint8_t)(v >> 8));
  crc = crc32_byte(crc, (uint8_t)(v >> 16));
  return crc32_byte(crc, (uint8_t)(v >> 24));
}

/* CRC-16/CCITT, MSB first, polynomial 0x1021: the other bit order, left shifts. */
static uint16_t crc16_buf(uint16_t crc, const char *p, size_t n) {
  while (n--) {
    crc ^= (uint16_t)((uint8_t)*p++ << 8);
    for (int k = 0; k < 8; k++) {
      crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
  }
  return crc;
}

/* ---------------------------------------------------------------- list */

#define LIST_LEN 160
#define LIST_PROBES 8

struct item {
  struct item *next;
  int32_t key; /* random, in [-512, 511] */
  uint32_t tag; /* position at build time: a permutation check after re-sorting */
};

static struct item pool[LIST_LEN];

static struct item *list_build(uint32_t *rng) {
  for (uint32_t i = 0; i < LIST_LEN; i++) {
    pool[i].key = (int32_t)(rng_next(rng) & 0x3ffu) - 512;
    pool[i].tag = i;
    pool[i].next = i + 1 < LIST_LEN ? &pool[i + 1] : NULL;
  }
  return &pool[0];
}

static int item_before(const struct item *a, const struct item *b, int by_tag) {
  return by_tag ? a->tag <= b->tag : a->key <= b->key;
}

/* Stable merge of two sorted lists. */
static struct item *list_merge(struct item *a, struct item *b, int by_tag) {
  struct item head;
  struct item *tail = &head;
  while (a && b) {
    if (item_before(a, b, by_tag)) {
      tail->next = a;
      a = a->next;
    } else {
      tail->next = b;
      b = b->next;
    }
    tail = tail->next;
  }
  tail->next = a ? a : b;
  return head.next;
}

/* Top-down merge sort: split at the middle found with a slow and a fast pointer. */
static struct item *list_sort(struct item *h, int by_tag) {
  if (!h || !h->next) return h;
  struct item *slow = h, *fast = h->next;
  while (fast && fast->next) {
    slow = slow->next;
    fast = fast->next->next;
  }
  struct item *second = slow->next;
  slow->next = NULL;
  return list_merge(list_sort(h, by_tag), list_sort(second, by_tag), by_tag);
}

static struct item *list_reverse(struct item *h) {
  struct item *prev = NULL;
  while (h) {
    struct item *next = h->next;
    h->next = prev;
    prev = h;
    h = next;
  }
  return prev;
}

/* Position of the first item whose key is >= key in a key-sorted list, LIST_LEN if none. */
static uint32_t list_find(const struct item *h, int32_t key) {
  uint32_t pos = 0;
  for (; h; h = h->next, pos++) {
    if (h->key >= key) return pos;
  }
  return LIST_LEN;
}

static uint32_t list_kernel(uint32_t *rng, uint32_t crc, uint32_t *errors) {
  struct item *h = list_sort(list_build(rng), 0);

  /* Sorted by key, ties in build order (the sort is stable); fold keys as we check. */
  uint32_t fold = 0, count = 0;
  for (const struct item *p = h; p; p = p->next, count++) {
    const struct item *n = p->next;
    if (n && (n->key < p->key || (n->key == p->key && n->tag < p->tag))) (*errors)++;
    fold = fold * 31u + (uint32_t)p->key;
  }
  if (count != LIST_LEN) (*errors)++;
  crc = crc32_u32(crc, fold);

  for (int i = 0; i < LIST_PROBES; i++) {
    int32_t probe = (int32_t)(rng_next(rng) & 0x3ffu) - 512;
    crc = crc32_u32(crc, list_find(h, probe));
  }

  /* Split out the items whose key is a multiple of 3, reverse the rest, join them. */
  struct item keep_head, out_head;
  struct item *keep = &keep_head, *out = &out_head;
  uint32_t kept = 0;
  for (struct item *p = h; p; p = p->next) {
    if (p->key % 3 == 0) {
      out->next = p;
      out = p;
    } else {
      keep->next = p;
      keep = p;
      kept++;
    }
  }
  out->next = NULL;
  keep->next = NULL;
  struct item *rev = list_reverse(keep_head.next);
  crc = crc32_u32(crc, kept);
  crc = crc32_u32(crc, rev ? (uint32_t)rev->key : 0xffffffffu);
  if (rev) {
    struct item *t = rev;
    while (t->next) t = t->next;
    t->next = out_head.next;
  } else {
    rev = out_head.next;
  }

  /* Sorting by tag must give back exactly the build order: nothing lost or duplicated. */
  h = list_sort(rev, 1);
  uint32_t expect = 0;
  fold = 0;
  for (const struct item *p = h; p; p = p->next, expect++) {
    if (p->tag != expect) (*errors)++;
    fold ^= ((uint32_t)p->key << (expect & 15u)) + expect;
  }
  if (expect != LIST_LEN) (*errors)++;
  return crc32_u32(crc, fold);
}

/* ---------------------------------------------------------------- matrix */

#define MAT_N 12

static int16_t mat_a[MAT_N][MAT_N];
static int16_t mat_b[MAT_N][MAT_N];
static int32_t mat_c[MAT_N][MAT_N];
static int32_t vec_y[MAT_N];

static void mat_fill(uint32_t *rng) {
  for (int i = 0; i < MAT_N; i++) {
    for (int j = 0; j < MAT_N; j++) {
      uint32_t r = rng_next(rng);
      mat_a[i][j] = (int16_t)((int32_t)(r & 0x1ffu) - 256);
      mat_b[i][j] = (int16_t)((int32_t)((r >> 16) & 0x1ffu) - 256);
    }
  }
}

static void mat_mul(void) {
  for (int i = 0; i < MAT_N; i++) {
    for (int j = 0; j < MAT_N; j++) {
      int32_t acc = 0;
      for (int k = 0; k < MAT_N; k++) acc += (int32_t)mat_a[i][k] * mat_b[k][j];
      mat_c[i][j] = acc;
    }
  }
}

/* |products| stay below 2^16 * MAT_N, far inside int32. */
static uint32_t mat_fold(uint32_t crc) {
  int64_t total = 0;
  for (int i = 0; i < MAT_N; i++) {
    int32_t row_max = mat_c[i][0];
    int64_t row_sum = 0;
    for (int j = 0; j < MAT_N; j++) {
      int32_t v = mat_c[i][j];
      if (v > row_max) row_max = v;
      row_sum += v;
    }
    total += row_sum * (i + 1);
    crc = crc32_u32(crc, (uint32_t)row_max);
  }
  return crc32_u32(crc32_u32(crc, (uint32_t)(uint64_t)total), (uint32_t)((uint64_t)total >> 32));
}

static uint32_t matrix_kernel(uint32_t *rng, uint32_t crc) {
  mat_fill(rng);
  mat_mul();
  crc = mat_fold(crc);

  /* y = A x, with x the first column of C scaled down to keep within int32. */
  for (int i = 0; i < MAT_N; i++) {
    int32_t acc = 0;
    for (int k = 0; k < MAT_N; k++) acc += (int32_t)mat_a[i][k] * (mat_c[k][0] / 64);
    vec_y[i] = acc;
  }
  uint32_t fold = 0;
  for (int i = 0; i < MAT_N; i++) fold = (fold << 3 | fold >> 29) ^ (uint32_t)vec_y[i];
  crc = crc32_u32(crc, fold);

  /* B <- B + A^T, then a second product whose elements are folded bit-field by bit-field. */
  for (int i = 0; i < MAT_N; i++) {
    for (int j = 0; j < MAT_N; j++) mat_b[i][j] = (int16_t)(mat_b[i][j] + mat_a[j][i]);
  }
  mat_mul();
  uint32_t bits = 0;
  for (int i = 0; i < MAT_N; i++) {
    for (int j = 0; j < MAT_N; j++) {
      uint32_t v = (uint32_t)mat_c[i][j];
      bits += ((v >> 2) & 0xffu) * (uint32_t)(j + 1) + ((v >> 13) & 0x3fu);
    }
  }
  return crc32_u32(crc, bits);
}

/* ---------------------------------------------------------------- state machine */

#define TEXT_LEN 384
#define TEXT_MUTATIONS 3

static char text_pristine[TEXT_LEN];
static char text[TEXT_LEN];

enum token_kind { TOK_INT, TOK_DECIMAL, TOK_SCI, TOK_HEX, TOK_BAD, TOK_KINDS };

enum scan_state {
  S_START, S_SIGN, S_ZERO, S_INT, S_DOT, S_FRAC, S_EXP, S_EXP_SIGN, S_EXP_INT,
  S_HEX_X, S_HEX, S_BAD,
};

static const char mutation_chars[] = "0123456789+-.eEx,aF#";

/* A comma-separated list of tokens: integers, decimals, scientific, hex, junk. */
static void text_generate(uint32_t *rng) {
  static const char junk[] = "#@!?z_ ";
  static const char hexd[] = "0123456789abcdefABCDEF";
  uint32_t n = 0;
  while (n + 24 < TEXT_LEN) {
    uint32_t r = rng_next(rng);
    uint32_t digits = 1 + (r >> 8) % 5;
    switch (r % 6) {
      case 0: /* signed integer */
        text_pristine[n++] = (r >> 4 & 1) ? '-' : '+';
        /* fall through */
      case 1: /* integer */
        for (uint32_t i = 0; i < digits; i++) text_pristine[n++] = (char)('0' + rng_next(rng) % 10);
        break;
      case 2: /* decimal */
      case 3: /* scientific */
        for (uint32_t i = 0; i < digits; i++) text_pristine[n++] = (char)('0' + rng_next(rng) % 10);
        text_pristine[n++] = '.';
        for (uint32_t i = 0; i < 1 + (r >> 12) % 3; i++) text_pristine[n++] = (char)('0' + rng_next(rng) % 10);
        if (r % 6 == 3) {
          text_pristine[n++] = (r >> 20 & 1) ? 'e' : 'E';
          if (r >> 21 & 1) text_pristine[n++] = '-';
          text_pristine[n++] = (char)('1' + (r >> 24) % 9);
        }
        break;
      case 4: /* hex */
        text_pristine[n++] = '0';
        text_pristine[n++] = 'x';
        for (uint32_t i = 0; i < digits; i++) text_pristine[n++] = hexd[rng_next(rng) % 22];
        break;
      default: /* junk */
        for (uint32_t i = 0; i < digits; i++) text_pristine[n++] = junk[rng_next(rng) % 7];
        break;
    }
    text_pristine[n++] = ',';
  }
  while (n < TEXT_LEN) text_pristine[n++] = ' ';
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Classifies a token from the state it ended in. */
static enum token_kind token_kind_of(enum scan_state s) {
  switch (s) {
    case S_ZERO:
    case S_INT: return TOK_INT;
    case S_FRAC: return TOK_DECIMAL;
    case S_EXP_INT: return TOK_SCI;
    case S_HEX: return TOK_HEX;
    default: return TOK_BAD;
  }
}

struct scan_stats {
  uint32_t count[TOK_KINDS];
  uint32_t transitions; /* state changes, a measure of the path taken */
  uint32_t value_sum;   /* sum of the values of the integer and hex tokens, mod 2^32 */
};

static void text_scan(const char *p, uint32_t len, struct scan_stats *st) {
  enum scan_state s = S_START;
  uint32_t value = 0;
  for (uint32_t i = 0; i <= len; i++) {
    char c = i < len ? p[i] : ',';
    enum scan_state next = s;
    if (c == ',') {
      if (s != S_START) {
        enum token_kind k = token_kind_of(s);
        st->count[k]++;
        if (k == TOK_INT || k == TOK_HEX) st->value_sum += value;
      }
      s = S_START;
      value = 0;
      continue;
    }
    switch (s) {
      case S_START:
        if (c == '+' || c == '-') next = S_SIGN;
        else if (c == '0') next = S_ZERO;
        else if (is_digit(c)) { next = S_INT; value = (uint32_t)(c - '0'); }
        else if (c == ' ') next = S_START;
        else next = S_BAD;
        break;
      case S_SIGN:
        if (is_digit(c)) { next = S_INT; value = (uint32_t)(c - '0'); }
        else next = S_BAD;
        break;
      case S_ZERO:
        if (c == 'x' || c == 'X') next = S_HEX_X;
        else if (c == '.') next = S_DOT;
        else if (is_digit(c)) { next = S_INT; value = (uint32_t)(c - '0'); }
        else next = S_BAD;
        break;
      case S_INT:
        if (is_digit(c)) value = value * 10u + (uint32_t)(c - '0');
        else if (c == '.') next = S_DOT;
        else if (c == 'e' || c == 'E') next = S_EXP;
        else next = S_BAD;
        break;
      case S_DOT:
        next = is_digit(c) ? S_FRAC : S_BAD;
        break;
      case S_FRAC:
        if (c == 'e' || c == 'E') next = S_EXP;
        else if (!is_digit(c)) next = S_BAD;
        break;
      case S_EXP:
        if (c == '+' || c == '-') next = S_EXP_SIGN;
        else next = is_digit(c) ? S_EXP_INT : S_BAD;
        break;
      case S_EXP_SIGN:
        next = is_digit(c) ? S_EXP_INT : S_BAD;
        break;
      case S_EXP_INT:
        if (!is_digit(c)) next = S_BAD;
        break;
      case S_HEX_X:
      case S_HEX: {
        int h = hex_value(c);
        if (h < 0) next = S_BAD;
        else { next = S_HEX; value = value << 4 | (uint32_t)h; }
        break;
      }
      case S_BAD:
        break;
    }
    if (next != s) st->transitions++;
    s = next;
  }
}

static uint32_t state_kernel(uint32_t *rng, uint32_t crc) {
  /* Each iteration scans the pristine text with a few characters changed. */
  for (uint32_t i = 0; i < TEXT_LEN; i++) text[i] = text_pristine[i];
  for (int m = 0; m < TEXT_MUTATIONS; m++) {
    uint32_t r = rng_next(rng);
    text[r % TEXT_LEN] = mutation_chars[(r >> 16) % (sizeof mutation_chars - 1)];
  }

  struct scan_stats st = {{0}, 0, 0};
  text_scan(text, TEXT_LEN, &st);
  for (int k = 0; k < TOK_KINDS; k++) crc = crc32_u32(crc, st.count[k]);
  crc = crc32_u32(crc, st.transitions);
  crc = crc32_u32(crc, st.value_sum);
  return crc32_u32(crc, crc16_buf(0xffffu, text, TEXT_LEN));
}

/* ---------------------------------------------------------------- driver */

void workload_run(uint32_t iterations, uint32_t seed, struct workload_result *out) {
  uint32_t rng = seed ? seed : 1u;
  uint32_t list_crc = 0, matrix_crc = 0, state_crc = 0, final_crc = 0xffffffffu, errors = 0;

  text_generate(&rng);
  for (uint32_t it = 0; it < iterations; it++) {
    list_crc = list_kernel(&rng, list_crc, &errors);
    matrix_crc = matrix_kernel(&rng, matrix_crc);
    state_crc = state_kernel(&rng, state_crc);
    final_crc = crc32_u32(final_crc, list_crc ^ matrix_crc ^ state_crc ^ it);
  }
  out->list_crc = list_crc;
  out->matrix_crc = matrix_crc;
  out->state_crc = state_crc;
  out->final_crc = ~final_crc;
  out->errors = errors;
}
