/* Trap vector modes (privileged spec 1.12, 3.1.7, 4.1.2): in vectored mode
   (xtvec.MODE = 1) interrupts go to BASE + 4 * cause and exceptions to BASE; in
   direct mode everything goes to BASE. Checked for mtvec (MSI, MTI, SSI, STI and
   exceptions) and stvec (delegated SSI, STI and a delegated ecall). */
#include "irq.h"

/* log entry i: (vector entry that ran, cause) */
#define CHECK_VEC(i, entry, cause) \
    CHECK_MEM(vec_log + 16 * (i), entry); CHECK_MEM(vec_log + 16 * (i) + 8, cause)
#define VEC_RESET la t5, vec_count; sd zero, 0(t5)

    .globl main
main:
    csrw mie, zero
    csrw mideleg, zero
    SET_MTIMECMP(-1)
    SET_MSIP(0)

    /* ---- vectored mtvec ------------------------------------------------------------------ */
    CASE(1)
    la a0, mvec
    ori a0, a0, 1
    csrw mtvec, a0
    csrr a1, mtvec
    CHECK_EQ(a0, a1)
    CASE(2)
    VEC_RESET
    li a0, (1 << IRQ_MSI)
    csrw mie, a0
    SET_MSIP(1)
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    SET_MSIP(0)
    CHECK_MEM(vec_count, 1)
    CHECK_VEC(0, IRQ_MSI, CAUSE_INTR | IRQ_MSI)
    CASE(3)
    VEC_RESET
    li a0, (1 << IRQ_MTI)
    csrw mie, a0
    SET_MTIMECMP(0)
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    SET_MTIMECMP(-1)
    CHECK_MEM(vec_count, 1)
    CHECK_VEC(0, IRQ_MTI, CAUSE_INTR | IRQ_MTI)
    CASE(4)
    VEC_RESET
    li a0, (1 << IRQ_SSI)
    csrw mie, a0
    csrsi mip, (1 << IRQ_SSI)
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    csrci mip, (1 << IRQ_SSI)
    CHECK_MEM(vec_count, 1)
    CHECK_VEC(0, IRQ_SSI, CAUSE_INTR | IRQ_SSI)
    CASE(5)
    VEC_RESET
    li a0, (1 << IRQ_STI)
    csrw mie, a0
    csrs mip, a0                        /* menvcfg.STCE = 0: STIP written by M */
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    li a0, (1 << IRQ_STI)
    csrc mip, a0
    CHECK_MEM(vec_count, 1)
    CHECK_VEC(0, IRQ_STI, CAUSE_INTR | IRQ_STI)
    /* an interrupt taken from U lands on its vector too */
    CASE(6)
    VEC_RESET
    li a0, (1 << IRQ_MSI)
    csrw mie, a0
    SET_MSIP(1)
    RUN_IN_MODE(PRV_U, nop; nop)
    SET_MSIP(0)
    CHECK_VEC(0, IRQ_MSI, CAUSE_INTR | IRQ_MSI)
    CHECK_VEC(1, 0, CAUSE_ECALL_U)      /* the ecall: BASE */
    /* exceptions go to BASE */
    CASE(7)
    VEC_RESET
    EXPECT_TRAP(8, CAUSE_ECALL_M, ecall)
    EXPECT_TRAP(9, CAUSE_ILLEGAL, .word 0x0000006b)
    EXPECT_TRAP(10, CAUSE_BREAKPOINT, ebreak)
    CASE(11)
    CHECK_MEM(vec_count, 3)
    CHECK_VEC(0, 0, CAUSE_ECALL_M)
    CHECK_VEC(1, 0, CAUSE_ILLEGAL)
    CHECK_VEC(2, 0, CAUSE_BREAKPOINT)

    /* ---- direct mtvec: interrupts go to BASE as well ---------------------------------------- */
    CASE(12)
    VEC_RESET
    la a0, mvec
    csrw mtvec, a0
    li a0, (1 << IRQ_MTI)
    csrw mie, a0
    SET_MTIMECMP(0)
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    SET_MTIMECMP(-1)
    CHECK_MEM(vec_count, 1)
    CHECK_VEC(0, 0, CAUSE_INTR | IRQ_MTI)
    la a0, mvec
    ori a0, a0, 1
    csrw mtvec, a0

    /* ---- vectored stvec ----------------------------------------------------------------------- */
    CASE(20)
    la a0, svec
    ori a0, a0, 1
    csrw stvec, a0
    csrr a1, stvec
    CHECK_EQ(a0, a1)
    CASE(21)
    VEC_RESET
    li a0, (1 << IRQ_SSI) | (1 << IRQ_STI)
    csrw mideleg, a0
    csrw mie, a0
    csrsi mip, (1 << IRQ_SSI)
    li a0, (1 << IRQ_STI)
    csrs mip, a0
    li a0, MSTATUS_SIE
    csrs mstatus, a0
    RUN_IN_MODE(PRV_S, nop; nop; nop)
    li a0, MSTATUS_SIE
    csrc mstatus, a0
    csrci mip, (1 << IRQ_SSI)
    li a0, (1 << IRQ_STI)
    csrc mip, a0
    CHECK_MEM(vec_count, 3)
    CHECK_VEC(0, 0x100 | IRQ_SSI, CAUSE_INTR | IRQ_SSI)     /* 0x100: S vector table */
    CHECK_VEC(1, 0x100 | IRQ_STI, CAUSE_INTR | IRQ_STI)
    CHECK_VEC(2, 0, CAUSE_ECALL_S)                          /* the ecall back to M */
    /* a delegated exception goes to the S BASE */
    CASE(22)
    VEC_RESET
    csrw mideleg, zero
    li a0, (1 << CAUSE_ECALL_U)
    csrw medeleg, a0
    ARM_STRAP(2f)
    RUN_IN_MODE(PRV_U, ecall; 2:)
    csrw medeleg, zero
    CHECK_MEM(strap_cause, CAUSE_ECALL_U)
    CHECK_VEC(0, 0x100, CAUSE_ECALL_U)
    CHECK_VEC(1, 0, CAUSE_ECALL_S)

    la a0, trap_vector
    csrw mtvec, a0
    la a0, strap_vector
    csrw stvec, a0
    csrw mie, zero
    j pass

/* ---- vector tables: one 4-byte jump per cause ---------------------------------------------- */
    .text
    .option push
    .option norvc
    .balign 256
mvec:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    j mvec_\n
    .endr
    .balign 256
svec:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    j svec_\n
    .endr
    .option pop

    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
mvec_\n:
    csrw mscratch, t0
    li t0, \n
    j mvec_common
svec_\n:
    csrw sscratch, t0
    li t0, 0x100 + \n
    j svec_common
    .endr

/* log (entry, mcause); exceptions continue in the default handler, interrupts
   are masked in mie and return to the interrupted code */
mvec_common:
    la t5, vec_save
    sd t1, 0(t5)
    sd t2, 8(t5)
    la t1, vec_count
    ld t2, 0(t1)
    addi t6, t2, 1
    sd t6, 0(t1)
    slli t2, t2, 4
    la t1, vec_log
    add t2, t2, t1
    sd t0, 0(t2)
    csrr t1, mcause
    sd t1, 8(t2)
    ld t2, 8(t5)
    bgez t1, 1f
    andi t1, t1, 63
    li t0, 1
    sll t0, t0, t1
    csrc mie, t0
    ld t1, 0(t5)
    csrr t0, mscratch
    mret
1:  ld t1, 0(t5)
    j trap_default

svec_common:
    la t5, vec_save
    sd t1, 0(t5)
    sd t2, 8(t5)
    la t1, vec_count
    ld t2, 0(t1)
    addi t6, t2, 1
    sd t6, 0(t1)
    slli t2, t2, 4
    la t1, vec_log
    add t2, t2, t1
    sd t0, 0(t2)
    csrr t1, scause
    sd t1, 8(t2)
    ld t2, 8(t5)
    bgez t1, 1f
    andi t1, t1, 63
    li t0, 1
    sll t0, t0, t1
    csrc sie, t0
    ld t1, 0(t5)
    csrr t0, sscratch
    sret
1:  ld t1, 0(t5)
    j strap_default

    .data
    .balign 8
vec_save:  .dword 0, 0
vec_count: .dword 0
vec_log:   .skip 16 * 16
