/* tshv ISA tests — freestanding support for the C test programs: UART output,
   a small printf (d i u x X c s p %, l/ll/z, width, '0' and '-' flags) and the
   mem and str routines the compiler may call. */
#include "lib.h"

#define UART ((volatile uint8_t *)0x10000000)
#define UART_LSR 5
#define LSR_THRE 0x20

void uart_putc(char c) {
  while ((UART[UART_LSR] & LSR_THRE) == 0) {}
  UART[0] = (uint8_t)c;
}

void uart_puts(const char *s) {
  while (*s) uart_putc(*s++);
}

/* output sink: a bounded buffer, or the UART when buf is NULL */
struct sink { char *buf; size_t size, len; };

static void emit(struct sink *o, char c) {
  if (o->buf == NULL) uart_putc(c);
  else if (o->len + 1 < o->size) o->buf[o->len] = c;
  o->len++;
}

static void emit_number(struct sink *o, uint64_t v, unsigned base, int upper, int neg,
                        int width, char pad, int left) {
  char tmp[24];
  int n = 0;
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do { tmp[n++] = digits[v % base]; v /= base; } while (v != 0);
  int len = n + neg;
  if (!left && pad == '0' && neg) emit(o, '-');
  if (!left) for (int i = len; i < width; i++) emit(o, pad);
  if (neg && !(pad == '0' && !left)) emit(o, '-');
  while (n > 0) emit(o, tmp[--n]);
  if (left) for (int i = len; i < width; i++) emit(o, ' ');
}

static int format(struct sink *o, const char *fmt, va_list ap) {
  for (; *fmt; fmt++) {
    if (*fmt != '%') { emit(o, *fmt); continue; }
    fmt++;
    int left = 0, width = 0, longs = 0;
    char pad = ' ';
    for (;; fmt++) {
      if (*fmt == '-') left = 1;
      else if (*fmt == '0') pad = '0';
      else break;
    }
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    while (*fmt == 'l' || *fmt == 'z') { longs++; fmt++; }
    switch (*fmt) {
      case 'd': case 'i': {
        int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
        uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
        emit_number(o, mag, 10, 0, v < 0, width, pad, left);
        break;
      }
      case 'u': case 'x': case 'X': {
        uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
        emit_number(o, v, *fmt == 'u' ? 10 : 16, *fmt == 'X', 0, width, pad, left);
        break;
      }
      case 'p':
        emit(o, '0'); emit(o, 'x');
        emit_number(o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, 0, 0, 16, '0', 0);
        break;
      case 'c': emit(o, (char)va_arg(ap, int)); break;
      case 's': {
        const char *s = va_arg(ap, const char *);
        int len = (int)strlen(s);
        if (!left) for (int i = len; i < width; i++) emit(o, ' ');
        while (*s) emit(o, *s++);
        if (left) for (int i = len; i < width; i++) emit(o, ' ');
        break;
      }
      case '%': emit(o, '%'); break;
      case '\0': return (int)o->len;
      default: emit(o, '%'); emit(o, *fmt); break;
    }
  }
  return (int)o->len;
}

int printf(const char *fmt, ...) {
  struct sink o = { NULL, 0, 0 };
  va_list ap;
  va_start(ap, fmt);
  int n = format(&o, fmt, ap);
  va_end(ap);
  return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
  struct sink o = { buf, size, 0 };
  int n = format(&o, fmt, ap);
  if (size > 0) buf[o.len < size ? o.len : size - 1] = '\0';
  return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

void *memcpy(void *dst, const void *src, size_t n) {
  uint8_t *d = dst;
  const uint8_t *s = src;
  while (n--) *d++ = *s++;
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  uint8_t *d = dst;
  const uint8_t *s = src;
  if (d < s) { while (n--) *d++ = *s++; }
  else { d += n; s += n; while (n--) *--d = *--s; }
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  uint8_t *d = dst;
  while (n--) *d++ = (uint8_t)c;
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const uint8_t *x = a, *y = b;
  for (; n; n--, x++, y++) if (*x != *y) return *x - *y;
  return 0;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) { a++; b++; }
  return (uint8_t)*a - (uint8_t)*b;
}
