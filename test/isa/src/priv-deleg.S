/* Trap delegation (privileged spec 1.12, 3.1.8, 4.1.1-4.1.3): medeleg sends
   exceptions from U and S to the S-mode handler (scause, sepc, stval, SPP, SPIE/SIE),
   exceptions raised in M stay in M, undelegated ones go to M; mideleg sends an
   S-level interrupt to S and sie/sip only show delegated interrupts. */
#include "test.h"

/* S-mode hook for interrupts: mask them all, then record as usual */
#define SET_STRAP_HOOK(label) la t6, label; la t5, strap_hook; sd t6, 0(t5)
#define CLEAR_STRAP_HOOK la t5, strap_hook; sd zero, 0(t5)

    .globl main
main:
    la a0, strap_vector
    csrw stvec, a0

    /* ---- ecall from U delegated ----------------------------------------------- */
    li a0, (1 << CAUSE_ECALL_U)
    csrw medeleg, a0
    CASE(1)
    ARM_STRAP(2f)
    RUN_IN_MODE(PRV_U, 1: ecall; j fail; 2:)   /* S handler resumes in S at 2, then ecall from S -> M */
    CHECK_MEM(strap_cause, CAUSE_ECALL_U)
    CHECK_MEM(strap_tval, 0)
    la a0, 1b
    CHECK_MEM_EQ(strap_epc, a0)
    CHECK_MEM(trap_cause, CAUSE_ECALL_S)       /* M saw only the second ecall */
    la a1, strap_status
    ld a1, 0(a1)
    andi a2, a1, MSTATUS_SPP
    CHECK(a2, 0)                               /* came from U */
    /* ecall from S is not delegated by bit 8 */
    EXPECT_TRAP_IN_MODE(2, PRV_S, CAUSE_ECALL_S, nop)
    /* only one trap reached S in case 1/2 */
    CASE(3)
    la a0, strap_count
    ld a1, 0(a0)
    CHECK(a1, 1)

    /* ---- SIE is pushed into SPIE and cleared ------------------------------------- */
    CASE(4)
    csrw sie, zero
    li a0, MSTATUS_SIE
    csrs sstatus, a0
    li a0, MSTATUS_SPIE
    csrc sstatus, a0
    ARM_STRAP(2f)
    RUN_IN_MODE(PRV_U, ecall; 2:)
    la a1, strap_status
    ld a1, 0(a1)
    andi a2, a1, MSTATUS_SIE
    CHECK(a2, 0)
    andi a2, a1, MSTATUS_SPIE
    CHECK(a2, MSTATUS_SPIE)
    li a0, MSTATUS_SIE | MSTATUS_SPIE
    csrc sstatus, a0

    /* ---- illegal instruction delegated: from U and from S ------------------------- */
    li a0, (1 << CAUSE_ILLEGAL)
    csrw medeleg, a0
    CASE(5)
    ARM_STRAP(2f)
    RUN_IN_MODE(PRV_U, 1: .word 0x0000006b; j fail; 2:)
    CHECK_MEM(strap_cause, CAUSE_ILLEGAL)
    CHECK_MEM(strap_tval, 0x0000006b)
    la a0, 1b
    CHECK_MEM_EQ(strap_epc, a0)
    CHECK_MEM(trap_cause, CAUSE_ECALL_S)
    CASE(6)
    ARM_STRAP(2f)
    RUN_IN_MODE(PRV_S, 1: csrr a0, mstatus; j fail; 2:)   /* M CSR from S: illegal, handled in S */
    CHECK_MEM(strap_cause, CAUSE_ILLEGAL)
    CHECK_MEM(strap_tval, 0x30002573)
    la a1, strap_status
    ld a1, 0(a1)
    andi a2, a1, MSTATUS_SPP
    CHECK(a2, MSTATUS_SPP)                     /* came from S */
    CHECK_MEM(trap_cause, CAUSE_ECALL_S)
    /* illegal in M is never delegated */
    CASE(7)
    la a0, strap_count
    ld s0, 0(a0)
    EXPECT_TRAP_TVAL(8, CAUSE_ILLEGAL, 0x0000006b, .word 0x0000006b)
    CASE(9)
    la a0, strap_count
    ld s1, 0(a0)
    CHECK_EQ(s0, s1)
    /* ecall from U is no longer delegated */
    EXPECT_TRAP_IN_MODE(10, PRV_U, CAUSE_ECALL_U, nop)

    /* ---- breakpoint and load access fault delegated --------------------------------- */
    li a0, (1 << CAUSE_BREAKPOINT) | (1 << CAUSE_LOAD_ACCESS) | (1 << CAUSE_STORE_ACCESS)
    csrw medeleg, a0
    CASE(11)
    ARM_STRAP(2f)
    RUN_IN_MODE(PRV_U, 1: ebreak; j fail; 2:)
    CHECK_MEM(strap_cause, CAUSE_BREAKPOINT)
    la a0, 1b
    CHECK_MEM_EQ(strap_epc, a0)
    CASE(12)
    ARM_STRAP(2f)
    RUN_IN_MODE(PRV_S, li a1, 0x90000000; 1: ld a0, 8(a1); j fail; 2:)
    CHECK_MEM(strap_cause, CAUSE_LOAD_ACCESS)
    CHECK_MEM(strap_tval, 0x90000008)
    la a0, 1b
    CHECK_MEM_EQ(strap_epc, a0)
    CASE(13)
    ARM_STRAP(2f)
    RUN_IN_MODE(PRV_U, li a1, 0x90000000; sw a0, 4(a1); j fail; 2:)
    CHECK_MEM(strap_cause, CAUSE_STORE_ACCESS)
    CHECK_MEM(strap_tval, 0x90000004)
    /* the same fault in M goes to M */
    CASE(14)
    li a1, 0x90000000
    EXPECT_TRAP_TVAL(15, CAUSE_LOAD_ACCESS, 0x90000000, ld a0, 0(a1))
    /* medeleg cleared: the fault from S goes to M */
    csrw medeleg, zero
    CASE(16)
    RUN_IN_MODE(PRV_S, li a1, 0x90000000; ld a0, 0(a1))
    CHECK_MEM(trap_cause, CAUSE_LOAD_ACCESS)
    CHECK_MEM(trap_tval, 0x90000000)

    /* ---- sie / sip show only delegated interrupts ------------------------------------ */
    CASE(20)
    csrw mideleg, zero
    li a0, (1 << IRQ_SSI) | (1 << IRQ_STI)
    csrw mie, a0
    csrr a1, sie
    CHECK(a1, 0)
    li a0, (1 << IRQ_SSI)
    csrw mideleg, a0
    csrr a1, sie
    CHECK(a1, (1 << IRQ_SSI))
    csrr a1, mideleg
    andi a1, a1, (1 << IRQ_SSI)
    CHECK(a1, (1 << IRQ_SSI))
    CASE(21)
    csrw mie, zero
    csrw mideleg, zero
    csrsi mip, (1 << IRQ_SSI)                  /* SSIP is writable by M */
    csrr a1, mip
    andi a1, a1, (1 << IRQ_SSI)
    CHECK(a1, (1 << IRQ_SSI))
    csrr a1, sip
    CHECK(a1, 0)                               /* not delegated: hidden */
    li a0, (1 << IRQ_SSI)
    csrw mideleg, a0
    csrr a1, sip
    CHECK(a1, (1 << IRQ_SSI))
    csrci mip, (1 << IRQ_SSI)

    /* writes through sie/sip reach only delegated bits; in sip only SSIP is writable */
    CASE(28)
    csrw mie, zero
    li a0, (1 << IRQ_SSI)
    csrw mideleg, a0
    li a0, -1
    csrw sie, a0
    csrr a1, mie
    CHECK(a1, (1 << IRQ_SSI))
    csrw mie, zero
    li a0, (1 << IRQ_SSI) | (1 << IRQ_STI) | (1 << IRQ_SEI)
    csrw mideleg, a0
    li a0, (1 << IRQ_STI) | (1 << IRQ_SEI) | (1 << IRQ_SSI)
    csrw sip, a0
    csrr a1, mip
    andi a1, a1, (1 << IRQ_STI) | (1 << IRQ_SEI) | (1 << IRQ_SSI)
    CHECK(a1, (1 << IRQ_SSI))
    csrw sip, zero
    csrr a1, sip
    CHECK(a1, 0)
    csrw mideleg, zero

    /* ---- supervisor software interrupt delegated to S --------------------------------- */
    CASE(22)
    li a0, (1 << IRQ_SSI)
    csrw mideleg, a0
    csrw mie, a0
    li a0, MSTATUS_SIE
    csrs sstatus, a0
    SET_STRAP_HOOK(s_irq_hook)
    ARM_STRAP(2f)
    RUN_IN_MODE(PRV_S, csrsi sip, (1 << IRQ_SSI); 1: j 1b; 2:)   /* S raises its own SSIP */
    CLEAR_STRAP_HOOK
    CHECK_MEM(strap_cause, CAUSE_INTR | IRQ_SSI)
    CHECK_MEM(trap_cause, CAUSE_ECALL_S)
    CASE(23)
    csrr a1, mip
    andi a1, a1, (1 << IRQ_SSI)
    CHECK(a1, 0)                               /* the hook cleared it */
    /* delegated S interrupt pending while in M: not taken in M, even with MIE = 1 */
    CASE(24)
    li a0, (1 << IRQ_SSI)
    csrw mie, a0
    csrsi mip, (1 << IRQ_SSI)
    csrsi mstatus, MSTATUS_MIE
    ARM_TRAP(fail)
    nop
    nop
    csrci mstatus, MSTATUS_MIE
    DISARM_TRAP
    /* ... but taken in S as soon as S runs with SIE = 1 (SSIP still pending) */
    CASE(25)
    li a0, MSTATUS_SIE
    csrs sstatus, a0
    SET_STRAP_HOOK(s_irq_hook)
    ARM_STRAP(2f)
    RUN_IN_MODE(PRV_S, 1: j 1b; 2:)
    CLEAR_STRAP_HOOK
    CHECK_MEM(strap_cause, CAUSE_INTR | IRQ_SSI)
    /* and in U regardless of SIE */
    CASE(26)
    li a0, MSTATUS_SIE
    csrc sstatus, a0
    li a0, (1 << IRQ_SSI)
    csrw mie, a0
    csrsi mip, (1 << IRQ_SSI)
    SET_STRAP_HOOK(s_irq_hook)
    ARM_STRAP(2f)
    RUN_IN_MODE(PRV_U, 1: j 1b; 2:)
    CLEAR_STRAP_HOOK
    CHECK_MEM(strap_cause, CAUSE_INTR | IRQ_SSI)
    la a1, strap_status
    ld a1, 0(a1)
    andi a2, a1, MSTATUS_SPP
    CHECK(a2, 0)
    /* not delegated: the same interrupt goes to M, even from S with SIE = 0 */
    CASE(27)
    csrw mideleg, zero
    li a0, (1 << IRQ_SSI)
    csrw mie, a0
    csrsi mip, (1 << IRQ_SSI)
    la a0, m_irq_hook
    la a1, trap_hook
    sd a0, 0(a1)
    RUN_IN_MODE(PRV_S, 1: j 1b)
    la a1, trap_hook
    sd zero, 0(a1)
    CHECK_MEM(trap_cause, CAUSE_INTR | IRQ_SSI)

    j pass

/* S interrupt hook: clear SSIP and all S enables, then record and resume as usual */
s_irq_hook:
    csrci sip, (1 << IRQ_SSI)
    csrw sie, zero
    j strap_default

/* M interrupt hook: clear SSIP and all M enables, then record and resume at trap_resume */
m_irq_hook:
    csrci mip, (1 << IRQ_SSI)
    csrw mie, zero
    j trap_default
