/*
 * tshv bench — the bare-metal board interface shared by the CPU workload.
 *
 * The memory map is QEMU's `virt` board, which tshv reproduces
 * (shared/ARCHITECTURE.md "Machine model"):
 *   0x0010_0000  sifive,test0 syscon: 32-bit store 0x5555 = pass, (code << 16) | 0x3333 = fail
 *   0x1000_0000  ns16550a UART: THR at +0, LSR at +5 (bit 5 THRE = transmit holding empty)
 *   0x8000_0000  RAM, where the linker script places everything
 */
#ifndef TSHV_BENCH_BOARD_H
#define TSHV_BENCH_BOARD_H

#include <stdint.h>

void uart_putc(char c);
void uart_puts(const char *s);
void uart_put_hex32(uint32_t v);
void uart_put_u64(uint64_t v);

/* Ends the program: 0 = pass, otherwise a small failure code (1..0x7fff). Never returns. */
void board_exit(uint32_t code) __attribute__((noreturn));

static inline uint64_t read_minstret(void) {
  uint64_t v;
  __asm__ volatile("csrr %0, minstret" : "=r"(v));
  return v;
}

#endif
