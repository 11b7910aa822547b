/* mstatus.TVM, TW and TSR (privileged spec 1.12, 3.1.6.5): with TVM, S-mode satp
   accesses and sfence.vma are illegal; with TW, wfi in S (and U) is illegal; with
   TSR, sret in S is illegal. M-mode is never affected, and with the bits clear
   S-mode may do all of these. */
#include "test.h"

    .globl main
main:
    /* ---- TVM ------------------------------------------------------------------------ */
    EXPECT_OK_IN_MODE(1, PRV_S, csrr a0, satp; csrw satp, zero; sfence.vma; sfence.vma zero, zero)
    li a0, MSTATUS_TVM
    csrs mstatus, a0
    EXPECT_TRAP_IN_MODE(2, PRV_S, CAUSE_ILLEGAL, csrr a0, satp)
    CHECK_MEM(trap_tval, 0x18002573)
    EXPECT_TRAP_IN_MODE(3, PRV_S, CAUSE_ILLEGAL, csrw satp, zero)
    EXPECT_TRAP_IN_MODE(4, PRV_S, CAUSE_ILLEGAL, sfence.vma)
    CHECK_MEM(trap_tval, 0x12000073)
    EXPECT_TRAP_IN_MODE(5, PRV_S, CAUSE_ILLEGAL, li a1, 0x80000000; sfence.vma a1, zero)
    /* M-mode is not affected */
    TEST(6, a0, 0, csrw satp, zero; sfence.vma; csrr a0, satp)
    /* other S CSRs still fine */
    EXPECT_OK_IN_MODE(7, PRV_S, csrr a0, sstatus; csrw sscratch, a0)
    li a0, MSTATUS_TVM
    csrc mstatus, a0
    EXPECT_OK_IN_MODE(8, PRV_S, csrr a0, satp; sfence.vma)

    /* ---- TW ------------------------------------------------------------------------- */
    /* Make wfi return at once: SSIP pending and locally enabled, delegated to S,
       masked globally (SIE = 0 in S, and delegated interrupts are never taken in M). */
    li a0, (1 << IRQ_SSI)
    csrw mideleg, a0
    csrw mie, a0
    csrsi mip, (1 << IRQ_SSI)
    csrci sstatus, MSTATUS_SIE
    EXPECT_OK_IN_MODE(10, PRV_S, wfi)
    li a0, MSTATUS_TW
    csrs mstatus, a0
    EXPECT_TRAP_IN_MODE(11, PRV_S, CAUSE_ILLEGAL, wfi)
    CHECK_MEM(trap_tval, 0x10500073)
    csrci mip, (1 << IRQ_SSI)          /* U would take the pending S interrupt at once */
    EXPECT_TRAP_IN_MODE(12, PRV_U, CAUSE_ILLEGAL, wfi)
    CHECK_MEM(trap_tval, 0x10500073)
    csrsi mip, (1 << IRQ_SSI)
    TEST(13, a0, 1, wfi; li a0, 1)                     /* M-mode: fine */
    li a0, MSTATUS_TW
    csrc mstatus, a0
    csrci mip, (1 << IRQ_SSI)
    csrw mie, zero
    csrw mideleg, zero

    /* ---- TSR ------------------------------------------------------------------------- */
    /* sret in S with SPP = S returns to S at sepc */
    CASE(20)
    RUN_IN_MODE(PRV_S, la a0, 1f; csrw sepc, a0; li a0, MSTATUS_SPP; csrs sstatus, a0; sret; j fail; 1: nop)
    CHECK_MEM(trap_cause, CAUSE_ECALL_S)
    li a0, MSTATUS_TSR
    csrs mstatus, a0
    CASE(21)
    RUN_IN_MODE(PRV_S, la a0, 1f; csrw sepc, a0; li a0, MSTATUS_SPP; csrs sstatus, a0; sret; 1: nop)
    CHECK_MEM(trap_cause, CAUSE_ILLEGAL)
    CHECK_MEM(trap_tval, 0x10200073)
    /* sret in M ignores TSR */
    CASE(22)
    li a0, MSTATUS_SPP
    csrs mstatus, a0
    ARM_TRAP(2f)
    la a0, 1f
    csrw sepc, a0
    sret
    j fail
1:  ecall
    j fail
2:  CHECK_MEM(trap_cause, CAUSE_ECALL_S)
    /* mret is never affected by TSR (from M) */
    CASE(23)
    SET_MPP(PRV_M)
    la a0, 1f
    csrw mepc, a0
    mret
    j fail
1:  li a0, MSTATUS_TSR
    csrc mstatus, a0

    j pass
