/*
 * tshv ISA tests — interrupt helpers. Install m_irq_hook / s_irq_hook (irq.S
 * helpers below, included by a test with IRQ_HELPERS) as trap_hook / strap_hook:
 * each interrupt is logged (cause, epc) in irq_log, its enable bit in mie / sie is
 * cleared (so it cannot re-trap), and the handler returns to the interrupted code.
 * A synchronous trap arriving at the hook is handed on to trap_default /
 * strap_default.
 */
#ifndef TSHV_IRQ_H
#define TSHV_IRQ_H
#include "test.h"

#define SET_HOOK(hook, label)  la t6, label; la t5, hook; sd t6, 0(t5)
#define CLEAR_HOOK(hook)       la t5, hook; sd zero, 0(t5)

/* reset the interrupt log */
#define IRQ_RESET  la t5, irq_count; sd zero, 0(t5)
/* fail unless irq_count == n */
#define CHECK_IRQ_COUNT(n) CHECK_MEM(irq_count, n)
/* fail unless log entry i has cause c */
#define CHECK_IRQ(i, c) CHECK_MEM(irq_log + 16 * (i), c)
/* spin until at least n interrupts were logged; fail after `spins` iterations */
#define WAIT_IRQ(n, spins) \
    li t4, spins; 8301: la t5, irq_count; ld t5, 0(t5); li t6, n; bge t5, t6, 8302f; \
    addi t4, t4, -1; bnez t4, 8301b; j fail; 8302:

/* mtimecmp = mtime + delta (CLINT, 10 MHz) */
#define SET_MTIMECMP_DELTA(delta) \
    li t5, CLINT_MTIME; ld t6, 0(t5); li t5, delta; add t6, t6, t5; li t5, CLINT_MTIMECMP; sd t6, 0(t5)
#define SET_MTIMECMP(value) \
    li t6, value; li t5, CLINT_MTIMECMP; sd t6, 0(t5)
#define SET_MSIP(v) \
    li t6, v; li t5, CLINT_MSIP; sw t6, 0(t5)

#define IRQ_HELPERS \
    .text; \
m_irq_hook: \
    csrr t0, mcause; bgez t0, trap_default; \
    la t0, irq_save; sd t1, 0(t0); sd t2, 8(t0); \
    la t1, irq_count; ld t2, 0(t1); addi t2, t2, 1; sd t2, 0(t1); \
    addi t2, t2, -1; slli t2, t2, 4; la t1, irq_log; add t2, t2, t1; \
    csrr t1, mcause; sd t1, 0(t2); csrr t1, mepc; sd t1, 8(t2); \
    csrr t1, mcause; andi t1, t1, 63; li t2, 1; sll t2, t2, t1; csrc mie, t2; \
    ld t1, 0(t0); ld t2, 8(t0); csrr t0, mscratch; mret; \
s_irq_hook: \
    csrr t0, scause; bgez t0, strap_default; \
    la t0, irq_save; sd t1, 16(t0); sd t2, 24(t0); \
    la t1, irq_count; ld t2, 0(t1); addi t2, t2, 1; sd t2, 0(t1); \
    addi t2, t2, -1; slli t2, t2, 4; la t1, irq_log; add t2, t2, t1; \
    csrr t1, scause; sd t1, 0(t2); csrr t1, sepc; sd t1, 8(t2); \
    csrr t1, scause; andi t1, t1, 63; li t2, 1; sll t2, t2, t1; csrc sie, t2; \
    ld t1, 16(t0); ld t2, 24(t0); csrr t0, sscratch; sret; \
    .data; .balign 8; \
irq_save:  .dword 0, 0, 0, 0; \
irq_count: .dword 0; \
irq_log:   .skip 16 * 16; \
    .text

#endif
