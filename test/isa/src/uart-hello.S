/* ns16550a UART: the usual driver initialisation (divisor latch, line control,
   FIFO control) produces no output, LSR reports the transmitter empty, and the
   bytes written to THR appear on stdout exactly: "hello\n". */
#include "test.h"

#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5

    .globl main
main:
    li s0, UART_BASE
    /* init: 8N1, divisor 1 (DLAB), FIFOs on; writes to DLL must not print */
    sb zero, IER(s0)
    li a0, 0x80
    sb a0, LCR(s0)              /* DLAB = 1 */
    li a0, 'X'
    sb a0, DLL(s0)
    sb zero, DLM(s0)
    li a0, 0x03
    sb a0, LCR(s0)              /* DLAB = 0, 8 bits */
    li a0, 0x07
    sb a0, FCR(s0)
    li a0, 0x03
    sb a0, MCR(s0)
    /* line control reads back */
    CASE(1)
    lbu a1, LCR(s0)
    CHECK(a1, 0x03)
    /* transmitter holding register empty (bit 5) and transmitter empty (bit 6) */
    CASE(2)
    lbu a1, LSR(s0)
    andi a1, a1, 0x60
    CHECK(a1, 0x60)

    la s1, msg
1:  lbu a0, 0(s1)
    beqz a0, 3f
2:  lbu a1, LSR(s0)
    andi a1, a1, 0x20
    beqz a1, 2b
    sb a0, THR(s0)
    addi s1, s1, 1
    j 1b
3:  j pass

    .section .rodata
msg: .asciz "hello\n"
