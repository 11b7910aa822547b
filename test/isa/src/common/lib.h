/* tshv ISA tests — freestanding support for the C test programs (lib.c). */
#ifndef TSHV_LIB_H
#define TSHV_LIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void uart_putc(char c);
void uart_puts(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* main() returns 0 for pass or the number of the failing check (crt.S reports it) */
#define CHECK(n, cond) do { if (!(cond)) { printf("check %d failed: %s\n", (n), #cond); return (n); } } while (0)

#endif
