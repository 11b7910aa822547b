/* Interrupts and WFI (privileged spec 1.12, 3.1.9, 3.3.3; Sstc): the M timer via the
   CLINT mtimecmp and the software interrupt via msip (mip.MTIP/MSIP follow the
   device and are read-only in mip), global enable by mstatus.MIE and the moment it
   takes effect, interrupt priority (MSI > MTI; SSI > STI in S), M-level
   interrupts in lower modes regardless of MIE, the S timer through Sstc stimecmp
   delegated to S (and its access rules), and WFI returning on a pending, locally
   enabled interrupt even while interrupts are globally disabled (and, with them
   enabled, trapping with mepc after the wfi); 32-bit CLINT register accesses. */
#include "irq.h"

#define SPINS 4000000
#define STCE_BIT (1 << 63)

    .globl main
main:
    csrw mie, zero
    csrw mideleg, zero
    SET_MTIMECMP(-1)
    SET_MSIP(0)
    SET_HOOK(trap_hook, m_irq_hook)
    SET_HOOK(strap_hook, s_irq_hook)

    /* ---- mip.MTIP follows mtime >= mtimecmp ------------------------------------------- */
    CASE(1)
    csrr a0, mip
    andi a0, a0, (1 << IRQ_MTI)
    CHECK(a0, 0)
    SET_MTIMECMP(0)
    csrr a0, mip
    andi a0, a0, (1 << IRQ_MTI)
    CHECK(a0, (1 << IRQ_MTI))
    csrci mip, 0                        /* no-op */
    li a1, (1 << IRQ_MTI)
    csrc mip, a1                        /* read-only: stays set */
    csrr a0, mip
    and a0, a0, a1
    CHECK(a0, (1 << IRQ_MTI))
    SET_MTIMECMP(-1)
    csrr a0, mip
    and a0, a0, a1
    CHECK(a0, 0)

    /* ---- M timer interrupt ------------------------------------------------------------- */
    CASE(2)
    IRQ_RESET
    li a0, (1 << IRQ_MTI)
    csrw mie, a0
    csrsi mstatus, MSTATUS_MIE
    SET_MTIMECMP_DELTA(200)
    WAIT_IRQ(1, SPINS)
    csrci mstatus, MSTATUS_MIE
    CHECK_IRQ_COUNT(1)
    CHECK_IRQ(0, CAUSE_INTR | IRQ_MTI)
    SET_MTIMECMP(-1)
    csrr a0, mie
    CHECK(a0, 0)                        /* the hook cleared MTIE */

    /* ---- machine software interrupt via CLINT msip ------------------------------------- */
    CASE(3)
    SET_MSIP(1)
    csrr a0, mip
    andi a0, a0, (1 << IRQ_MSI)
    CHECK(a0, (1 << IRQ_MSI))
    li t5, CLINT_MSIP
    lw a0, 0(t5)
    CHECK(a0, 1)
    SET_MSIP(0)
    csrr a0, mip
    andi a0, a0, (1 << IRQ_MSI)
    CHECK(a0, 0)
    csrsi mip, (1 << IRQ_MSI)           /* MSIP is read-only in mip */
    csrr a0, mip
    andi a0, a0, (1 << IRQ_MSI)
    CHECK(a0, 0)
    CASE(4)
    IRQ_RESET
    li a0, (1 << IRQ_MSI)
    csrw mie, a0
    SET_MSIP(1)
    /* pending and enabled, but MIE = 0: nothing happens */
    nop
    nop
    CHECK_IRQ_COUNT(0)
    /* taken right after the instruction that sets MIE */
    csrsi mstatus, MSTATUS_MIE
1:  nop
    csrci mstatus, MSTATUS_MIE
    SET_MSIP(0)
    CHECK_IRQ_COUNT(1)
    CHECK_IRQ(0, CAUSE_INTR | IRQ_MSI)
    la a0, 1b
    CHECK_MEM_EQ(irq_log + 8, a0)

    /* ---- WFI wakes on a pending, enabled interrupt while MIE = 0 ------------------------ */
    CASE(5)
    IRQ_RESET
    li a0, (1 << IRQ_MTI)
    csrw mie, a0
    SET_MTIMECMP_DELTA(20000)           /* 2 ms: the hart really sleeps */
    li s0, SPINS
1:  wfi
    csrr a0, mip
    andi a0, a0, (1 << IRQ_MTI)
    bnez a0, 2f
    addi s0, s0, -1
    bnez s0, 1b
    j fail
2:  CHECK_IRQ_COUNT(0)                  /* no trap was taken */
    /* and the interrupt is taken as soon as MIE is set */
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    CHECK_IRQ_COUNT(1)
    CHECK_IRQ(0, CAUSE_INTR | IRQ_MTI)
    SET_MTIMECMP(-1)
    /* WFI with an interrupt already pending returns at once */
    CASE(6)
    li a0, (1 << IRQ_MSI)
    csrw mie, a0
    SET_MSIP(1)
    wfi
    SET_MSIP(0)
    csrw mie, zero

    /* ---- priority of simultaneous M-handled interrupts --------------------------------- */
    /* MSI before MTI. The full order MSI > MTI > SSI > STI (M-handled) is checked in
       tshv-specific.S: QEMU 7.2 takes SSI first. */
    CASE(10)
    IRQ_RESET
    SET_MTIMECMP(0)                     /* MTIP */
    SET_MSIP(1)                         /* MSIP */
    li a0, (1 << IRQ_MSI) | (1 << IRQ_MTI)
    csrw mie, a0
    csrsi mstatus, MSTATUS_MIE
    nop
    nop
    csrci mstatus, MSTATUS_MIE
    CHECK_IRQ_COUNT(2)
    CHECK_IRQ(0, CAUSE_INTR | IRQ_MSI)
    CHECK_IRQ(1, CAUSE_INTR | IRQ_MTI)
    SET_MTIMECMP(-1)
    SET_MSIP(0)

    /* ---- M interrupts are taken in S and U whatever mstatus.MIE says ------------------ */
    CASE(11)
    IRQ_RESET
    li a0, (1 << IRQ_MTI)
    csrw mie, a0
    SET_MTIMECMP_DELTA(100)
    RUN_IN_MODE(PRV_U, li s0, SPINS; 1: la t5, irq_count; ld t5, 0(t5); bnez t5, 2f; addi s0, s0, -1; bnez s0, 1b; 2:)
    CHECK_IRQ_COUNT(1)
    CHECK_IRQ(0, CAUSE_INTR | IRQ_MTI)
    CHECK_MEM(trap_cause, CAUSE_ECALL_U)
    SET_MTIMECMP(-1)
    CASE(12)
    IRQ_RESET
    li a0, (1 << IRQ_MSI)
    csrw mie, a0
    SET_MSIP(1)
    RUN_IN_MODE(PRV_S, 1: nop; nop)
    SET_MSIP(0)
    CHECK_IRQ_COUNT(1)
    CHECK_IRQ(0, CAUSE_INTR | IRQ_MSI)
    la a0, 1b                           /* taken at the first S instruction */
    CHECK_MEM_EQ(irq_log + 8, a0)
    /* enabling a pending interrupt in mie (MIE = 1) takes it right after the csr write */
    CASE(14)
    IRQ_RESET
    csrw mie, zero
    SET_MSIP(1)
    csrsi mstatus, MSTATUS_MIE
    nop
    CHECK_IRQ_COUNT(0)
    li a0, (1 << IRQ_MSI)
    csrs mie, a0
1:  nop
    csrci mstatus, MSTATUS_MIE
    SET_MSIP(0)
    CHECK_IRQ_COUNT(1)
    la a0, 1b
    CHECK_MEM_EQ(irq_log + 8, a0)

    /* ---- S-level priority when delegated (SSI before STI) ----------------------------- */
    CASE(15)
    IRQ_RESET
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
    CHECK_IRQ_COUNT(2)
    CHECK_IRQ(0, CAUSE_INTR | IRQ_SSI)
    CHECK_IRQ(1, CAUSE_INTR | IRQ_STI)
    csrci mip, (1 << IRQ_SSI)
    li a0, (1 << IRQ_STI)
    csrc mip, a0
    csrw mideleg, zero

    /* ---- Sstc: S timer interrupt delegated to S ------------------------------------------ */
    /* stimecmp needs menvcfg.STCE (and mcounteren.TM) in S */
    csrw mcounteren, zero
    li a0, STCE_BIT
    csrc menvcfg, a0
    EXPECT_TRAP_IN_MODE(20, PRV_S, CAUSE_ILLEGAL, csrr a0, stimecmp)
    li a0, STCE_BIT
    csrs menvcfg, a0
    EXPECT_TRAP_IN_MODE(21, PRV_S, CAUSE_ILLEGAL, csrr a0, stimecmp)   /* TM = 0 */
    csrwi mcounteren, 2
    EXPECT_OK_IN_MODE(22, PRV_S, li a0, -1; csrw stimecmp, a0; csrr s1, stimecmp)
    CHECK(s1, -1)
    EXPECT_TRAP_IN_MODE(23, PRV_U, CAUSE_ILLEGAL, csrr a0, stimecmp)
    /* STIP = (time >= stimecmp), read-only in mip while STCE = 1 */
    CASE(24)
    csrw stimecmp, zero
    csrr a0, mip
    andi a0, a0, (1 << IRQ_STI)
    CHECK(a0, (1 << IRQ_STI))
    li a1, (1 << IRQ_STI)
    csrc mip, a1
    csrr a0, mip
    and a0, a0, a1
    CHECK(a0, (1 << IRQ_STI))
    li a0, -1
    csrw stimecmp, a0
    csrr a0, mip
    and a0, a0, a1
    CHECK(a0, 0)
    /* the interrupt itself, taken and handled in S */
    CASE(25)
    IRQ_RESET
    li a0, (1 << IRQ_STI)
    csrw mideleg, a0
    csrw mie, a0
    li a0, MSTATUS_SIE
    csrs mstatus, a0
    RUN_IN_MODE(PRV_S, rdtime a0; addi a0, a0, 300; csrw stimecmp, a0; li s0, SPINS; 1: la t5, irq_count; ld t5, 0(t5); bnez t5, 2f; addi s0, s0, -1; bnez s0, 1b; 2: csrr s1, sip; li a0, -1; csrw stimecmp, a0; csrr s2, sip)
    li a0, MSTATUS_SIE
    csrc mstatus, a0
    CHECK_IRQ_COUNT(1)
    CHECK_IRQ(0, CAUSE_INTR | IRQ_STI)
    andi s1, s1, (1 << IRQ_STI)
    CHECK(s1, (1 << IRQ_STI))           /* still pending until stimecmp is rewritten */
    andi s2, s2, (1 << IRQ_STI)
    CHECK(s2, 0)
    /* not delegated: the S timer interrupt goes to M */
    CASE(26)
    IRQ_RESET
    csrw mideleg, zero
    li a0, (1 << IRQ_STI)
    csrw mie, a0
    csrw stimecmp, zero
    RUN_IN_MODE(PRV_S, nop; nop)
    li a0, -1
    csrw stimecmp, a0
    CHECK_IRQ_COUNT(1)
    CHECK_IRQ(0, CAUSE_INTR | IRQ_STI)
    li a0, STCE_BIT
    csrc menvcfg, a0

    /* ---- WFI with MIE = 1: the interrupt is taken with mepc after the wfi ------------ */
    /* The timer may (rarely) fire before the wfi is reached; then the attempt is
       repeated. So that a wfi reached after the interrupt cannot sleep for ever, the
       hook also leaves a delegated SSIP pending and enabled: never taken in M, but
       it wakes WFI. */
    CASE(30)
    li s1, 5                            /* attempts */
    SET_HOOK(trap_hook, wfi_irq_hook)
    li a0, (1 << IRQ_SSI)
    csrw mideleg, a0
4:  IRQ_RESET
    csrci mip, (1 << IRQ_SSI)
    li a0, (1 << IRQ_MTI) | (1 << IRQ_SSI)
    csrw mie, a0
    SET_MTIMECMP_DELTA(20000)
    csrsi mstatus, MSTATUS_MIE
    li s0, SPINS
1:  la t5, irq_count
    ld t5, 0(t5)
    bnez t5, 3f
    wfi
2:  addi s0, s0, -1
    bnez s0, 1b
    j fail
3:  csrci mstatus, MSTATUS_MIE
    SET_MTIMECMP(-1)
    CHECK_IRQ(0, CAUSE_INTR | IRQ_MTI)
    la a0, 2b
    la t5, irq_log + 8
    ld t5, 0(t5)
    beq t5, a0, 5f
    addi s1, s1, -1
    bnez s1, 4b
    j fail
5:  csrci mip, (1 << IRQ_SSI)
    csrw mie, zero
    csrw mideleg, zero
    SET_HOOK(trap_hook, m_irq_hook)

    /* ---- the CLINT registers also take 32-bit accesses ------------------------------- */
    CASE(31)
    li s0, CLINT_MTIMECMP
    li a0, -1
    sw a0, 0(s0)
    sw a0, 4(s0)
    ld a1, 0(s0)
    CHECK(a1, -1)
    sw zero, 0(s0)                      /* low half only */
    ld a1, 0(s0)
    CHECK(a1, 0xffffffff00000000)
    lw a1, 4(s0)
    CHECK(a1, -1)
    lwu a1, 0(s0)
    CHECK(a1, 0)
    sd a0, 0(s0)
    CASE(32)
    li s0, CLINT_MTIME
    lwu a0, 4(s0)                       /* high, low, high: consistent unless the low half wrapped */
    lwu a1, 0(s0)
    lwu a2, 4(s0)
    ld a3, 0(s0)
    slli a0, a0, 32
    or a0, a0, a1
    bltu a3, a0, fail                   /* 64-bit read later than the 32-bit halves */
    CASE(33)
    li s0, CLINT_MSIP
    li a0, 1
    sw a0, 0(s0)
    lw a1, 0(s0)
    CHECK(a1, 1)
    csrr a1, mip
    andi a1, a1, (1 << IRQ_MSI)
    CHECK(a1, (1 << IRQ_MSI))
    sw zero, 0(s0)

    csrw mie, zero
    CLEAR_HOOK(trap_hook)
    CLEAR_HOOK(strap_hook)
    j pass

/* m_irq_hook, leaving SSIP pending (see case 30) */
wfi_irq_hook:
    csrsi mip, (1 << IRQ_SSI)
    j m_irq_hook

    IRQ_HELPERS
