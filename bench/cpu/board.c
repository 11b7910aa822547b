/*
 * Bare-metal board support for the CPU workload: UART output, the two exit
 * conventions, the trap report, and the few string routines the compiler may call.
 */
#include <stddef.h>
#include <stdint.h>
#include "board.h"

#define UART_BASE   0x10000000UL
#define UART_THR    0
#define UART_LSR    5
#define LSR_THRE    (1u << 5)

#define SYSCON_BASE 0x00100000UL
#define SYSCON_PASS 0x5555u
#define SYSCON_FAIL 0x3333u

/*
 * HTIF exit mailbox (riscv-tests convention): storing 1 means pass, (n << 1) | 1
 * means fail with code n. `tshv exec` stops at this store; QEMU has no HTIF on
 * `virt` and simply carries on to the syscon store below.
 */
volatile uint64_t tohost __attribute__((section(".tohost"), aligned(8), used));
volatile uint64_t fromhost __attribute__((section(".tohost"), aligned(8), used));

void uart_putc(char c) {
  volatile uint8_t *uart = (volatile uint8_t *)UART_BASE;
  while ((uart[UART_LSR] & LSR_THRE) == 0) {
  }
  uart[UART_THR] = (uint8_t)c;
}

void uart_puts(const char *s) {
  while (*s) {
    if (*s == '\n') uart_putc('\r');
    uart_putc(*s++);
  }
}

void uart_put_hex32(uint32_t v) {
  static const char digits[] = "0123456789abcdef";
  uart_puts("0x");
  for (int shift = 28; shift >= 0; shift -= 4) uart_putc(digits[(v >> shift) & 0xf]);
}

void uart_put_u64(uint64_t v) {
  char buf[21];
  int i = 20;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  uart_puts(&buf[i]);
}

void board_exit(uint32_t code) {
  code &= 0x7fff;
  tohost = code == 0 ? 1 : ((uint64_t)code << 1) | 1;
  /* QEMU's sifive_test: PASS exits QEMU with status 0, FAIL with status `code`. */
  *(volatile uint32_t *)SYSCON_BASE = code == 0 ? SYSCON_PASS : (code << 16) | SYSCON_FAIL;
  for (;;) __asm__ volatile("wfi");
}

/* Called from the trap vector: the workload takes no traps, so any trap is a core bug. */
void trap_report(uint64_t mcause, uint64_t mepc, uint64_t mtval) {
  uart_puts("\nFAIL unexpected trap mcause=");
  uart_put_hex32((uint32_t)mcause);
  uart_puts(" mepc=");
  uart_put_hex32((uint32_t)mepc);
  uart_puts(" mtval=");
  uart_put_hex32((uint32_t)mtval);
  uart_puts("\n");
  board_exit(0x7f);
}

/* GCC may turn loops into calls to these even when freestanding (-ftree-loop-distribute-patterns). */
void *memset(void *dst, int c, size_t n) {
  uint8_t *d = dst;
  while (n--) *d++ = (uint8_t)c;
  return dst;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
  uint8_t *d = dst;
  const uint8_t *s = src;
  while (n--) *d++ = *s++;
  return dst;
}
