/*
 * tshv ISA tests — M-mode entry, trap vectors and the pass/fail routines.
 * See test.h for the conventions.
 */
#include "test.h"

    .section .text.init, "ax"
    .globl _start
_start:
    /* QEMU's reset stub leaves a0..a2 set, tshv starts with every register 0:
       make both the same. */
    .irp r, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    li x\r, 0
    .endr
    la t0, trap_vector
    csrw mtvec, t0
    la t0, strap_vector
    csrw stvec, t0
    la sp, __stack_top

    /* PMP entry 0: NAPOT over the whole address space, RWX, so S/U may access
       memory on implementations that enforce PMP (privileged spec 3.7.1). */
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0

    csrw mie, zero
    csrw mideleg, zero
    csrw medeleg, zero
    csrw satp, zero
    csrw mscratch, zero
    li t0, MSTATUS_MPP | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR | MSTATUS_MIE | MSTATUS_SIE
    csrc mstatus, t0
    li t0, (1 << 13)            /* FS = Initial */
    csrs mstatus, t0
    csrw fcsr, zero

    /* zero .bss */
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:
    call main
    /* C tests: main returns 0 for pass, the failing case number otherwise. */
    beqz a0, pass
    mv TESTNUM, a0
    j fail

/* trap record layout (must match the .data block below): save 0, cause 8,
   epc 16, tval 24, status 32, count 40, resume 48 */

/* ---- M-mode trap vector ----------------------------------------------------- */
    .text
    .align 6
    .globl trap_vector
trap_vector:
    csrw mscratch, t0
    la t0, trap_hook
    ld t0, 0(t0)
    beqz t0, trap_default
    jr t0
    /* A hook may finish by jumping here, with the original t0 still in mscratch. */
    .globl trap_default
trap_default:
    la t0, trap_save
    sd t1, 0(t0)
    csrr t1, mcause
    sd t1, 8(t0)
    csrr t1, mepc
    sd t1, 16(t0)
    csrr t1, mtval
    sd t1, 24(t0)
    csrr t1, mstatus
    sd t1, 32(t0)
    ld t1, 40(t0)
    addi t1, t1, 1
    sd t1, 40(t0)
    ld t1, 48(t0)
    beqz t1, unexpected_trap
    sd zero, 48(t0)
    csrw mepc, t1
    /* resume in M-mode */
    li t1, MSTATUS_MPP
    csrs mstatus, t1
    ld t1, 0(t0)
    csrr t0, mscratch
    mret

unexpected_trap:
    la a0, msg_unexpected
    call puts_raw
    csrr a0, mcause
    call puthex
    la a0, msg_epc
    call puts_raw
    csrr a0, mepc
    call puthex
    la a0, msg_tval
    call puts_raw
    csrr a0, mtval
    call puthex
    li a0, '\n'
    call putc_raw
    j fail

/* ---- S-mode trap vector (installed in stvec; used once traps are delegated) - */
    .align 6
    .globl strap_vector
strap_vector:
    csrw sscratch, t0
    la t0, strap_hook
    ld t0, 0(t0)
    beqz t0, strap_default
    jr t0
    .globl strap_default
strap_default:
    la t0, strap_save
    sd t1, 0(t0)
    csrr t1, scause
    sd t1, 8(t0)
    csrr t1, sepc
    sd t1, 16(t0)
    csrr t1, stval
    sd t1, 24(t0)
    csrr t1, sstatus
    sd t1, 32(t0)
    ld t1, 40(t0)
    addi t1, t1, 1
    sd t1, 40(t0)
    ld t1, 48(t0)
    beqz t1, unexpected_strap
    sd zero, 48(t0)
    csrw sepc, t1
    /* resume in S-mode */
    li t1, MSTATUS_SPP
    csrs sstatus, t1
    ld t1, 0(t0)
    csrr t0, sscratch
    sret

unexpected_strap:
    /* Reported from S-mode: needs the UART, tohost and syscon reachable
       (Bare, or mapped VA == PA by the test). */
    la a0, msg_unexpected_s
    call puts_raw
    csrr a0, scause
    call puthex
    la a0, msg_epc
    call puts_raw
    csrr a0, sepc
    call puthex
    la a0, msg_tval
    call puts_raw
    csrr a0, stval
    call puthex
    li a0, '\n'
    call putc_raw
    j fail

/* ---- pass / fail ------------------------------------------------------------- */
    .globl pass
pass:
    fence
    li t0, 1
    la t1, tohost
    sd t0, 0(t1)
    li t0, SYSCON_BASE
    li t1, 0x5555
    sw t1, 0(t0)
1:  wfi
    j 1b

    /* Report case TESTNUM (65535 if no case had started). */
    .globl fail
fail:
    bnez TESTNUM, 1f
    li TESTNUM, 0xffff
1:  la a0, msg_fail
    call puts_raw
    mv a0, TESTNUM
    call putdec
    li a0, '\n'
    call putc_raw
    fence
    slli t0, TESTNUM, 1
    ori t0, t0, 1
    la t1, tohost
    sd t0, 0(t1)
    li t0, SYSCON_BASE
    slli t1, TESTNUM, 16
    li t2, 0x3333
    or t1, t1, t2
    sw t1, 0(t0)
1:  wfi
    j 1b

/* ---- page tables ---------------------------------------------------------------
   vm_set_pte: table[index] = PTE for physical address pa with flags.
   a0 = table (4 KiB aligned), a1 = index, a2 = pa, a3 = flags. Clobbers t0. */
    .globl vm_set_pte
vm_set_pte:
    srli t0, a2, 12
    slli t0, t0, 10
    or t0, t0, a3
    slli a1, a1, 3
    add a1, a0, a1
    sd t0, 0(a1)
    ret

/* ---- minimal UART output (usable from M-mode or S-mode with VA == PA) -------- */
    .globl putc_raw
putc_raw:
    li t0, UART_BASE
1:  lbu t1, 5(t0)
    andi t1, t1, 0x20
    beqz t1, 1b
    sb a0, 0(t0)
    ret

    .globl puts_raw
puts_raw:
    addi sp, sp, -16
    sd ra, 0(sp)
    sd s0, 8(sp)
    mv s0, a0
1:  lbu a0, 0(s0)
    beqz a0, 2f
    call putc_raw
    addi s0, s0, 1
    j 1b
2:  ld ra, 0(sp)
    ld s0, 8(sp)
    addi sp, sp, 16
    ret

    /* a0 as 0x followed by 16 hex digits */
    .globl puthex
puthex:
    addi sp, sp, -32
    sd ra, 0(sp)
    sd s0, 8(sp)
    sd s1, 16(sp)
    mv s0, a0
    li a0, '0'
    call putc_raw
    li a0, 'x'
    call putc_raw
    li s1, 60
1:  srl a0, s0, s1
    andi a0, a0, 15
    addi a0, a0, '0'
    li t0, '9'
    ble a0, t0, 2f
    addi a0, a0, 'a' - '0' - 10
2:  call putc_raw
    addi s1, s1, -4
    bgez s1, 1b
    ld ra, 0(sp)
    ld s0, 8(sp)
    ld s1, 16(sp)
    addi sp, sp, 32
    ret

    /* a0 (unsigned) in decimal */
    .globl putdec
putdec:
    addi sp, sp, -48
    sd ra, 0(sp)
    sd s0, 8(sp)
    addi s0, sp, 47
    sb zero, 0(s0)
    li t1, 10
1:  remu t2, a0, t1
    divu a0, a0, t1
    addi t2, t2, '0'
    addi s0, s0, -1
    sb t2, 0(s0)
    bnez a0, 1b
    mv a0, s0
    call puts_raw
    ld ra, 0(sp)
    ld s0, 8(sp)
    addi sp, sp, 48
    ret

    .section .rodata
msg_fail:          .asciz "FAIL "
msg_unexpected:    .asciz "unexpected M trap: mcause="
msg_unexpected_s:  .asciz "unexpected S trap: scause="
msg_epc:           .asciz " epc="
msg_tval:          .asciz " tval="

/* ---- trap records (see test.h) ------------------------------------------------ */
    .data
    .align 3
    .globl trap_hook, strap_hook
trap_hook:    .dword 0
strap_hook:   .dword 0
    .globl trap_save, trap_cause, trap_epc, trap_tval, trap_status, trap_count, trap_resume
trap_save:    .dword 0
trap_cause:   .dword 0
trap_epc:     .dword 0
trap_tval:    .dword 0
trap_status:  .dword 0
trap_count:   .dword 0
trap_resume:  .dword 0
    .globl strap_save, strap_cause, strap_epc, strap_tval, strap_status, strap_count, strap_resume
strap_save:   .dword 0
strap_cause:  .dword 0
strap_epc:    .dword 0
strap_tval:   .dword 0
strap_status: .dword 0
strap_count:  .dword 0
strap_resume: .dword 0

/* HTIF mailbox */
    .section .tohost, "aw", @progbits
    .align 3
    .globl tohost, fromhost
tohost:   .dword 0
fromhost: .dword 0
