/* mret and sret (privileged spec 1.12, 3.1.6.1, 3.3.2): the target privilege
   comes from MPP/SPP, xIE <- xPIE, xPIE <- 1, xPP <- U, MPRV is kept by an
   mret to M; sret also works from M; the
   return address is exactly xepc (2-byte aligned targets included).
   MPRV being cleared by an xRET to S or U is checked in tshv-specific.S
   (QEMU 7.2 keeps MPRV). */
#include "test.h"

#define MPP_OF(reg, dst) srli dst, reg, 11; andi dst, dst, 3

    .globl main
main:
    csrw mie, zero                      /* no interrupt can fire in this test */

    /* ---- mret to M: MIE <- MPIE, MPIE <- 1, MPP <- U ------------------------------- */
    CASE(1)
    SET_MPP(PRV_M)
    li a0, MSTATUS_MPIE
    csrs mstatus, a0
    csrci mstatus, MSTATUS_MIE
    la a0, 1f
    csrw mepc, a0
    mret
    j fail
1:  csrr a1, mstatus
    andi a2, a1, MSTATUS_MIE
    CHECK(a2, MSTATUS_MIE)
    andi a2, a1, MSTATUS_MPIE
    CHECK(a2, MSTATUS_MPIE)
    MPP_OF(a1, a2)
    CHECK(a2, PRV_U)
    csrci mstatus, MSTATUS_MIE
    CASE(2)
    SET_MPP(PRV_M)
    li a0, MSTATUS_MPIE
    csrc mstatus, a0
    csrsi mstatus, MSTATUS_MIE
    la a0, 1f
    csrw mepc, a0
    mret
    j fail
1:  csrr a1, mstatus
    andi a2, a1, MSTATUS_MIE
    CHECK(a2, 0)
    andi a2, a1, MSTATUS_MPIE
    CHECK(a2, MSTATUS_MPIE)
    /* mret to M keeps MPRV */
    CASE(3)
    SET_MPP(PRV_M)
    li a0, MSTATUS_MPRV
    csrs mstatus, a0
    la a0, 1f
    csrw mepc, a0
    mret
    j fail
1:  csrr a1, mstatus
    li a0, MSTATUS_MPRV
    and a2, a1, a0
    CHECK_EQ(a2, a0)
    csrc mstatus, a0

    /* ---- mret to S and U ---------------------------------------------------------------- */
    CASE(4)
    ARM_TRAP(2f)
    SET_MPP(PRV_S)
    la a0, 1f
    csrw mepc, a0
    mret
    j fail
1:  ecall
    j fail
2:  CHECK_MEM(trap_cause, CAUSE_ECALL_S)
    la a1, trap_status
    ld a1, 0(a1)
    MPP_OF(a1, a2)
    CHECK(a2, PRV_S)
    CASE(5)
    ARM_TRAP(2f)
    SET_MPP(PRV_U)
    la a0, 1f
    csrw mepc, a0
    mret
    j fail
1:  ecall
    j fail
2:  CHECK_MEM(trap_cause, CAUSE_ECALL_U)
    /* mret lands exactly on mepc, also at a 2-byte aligned address */
    CASE(6)
    SET_MPP(PRV_M)
    la a0, 3f
    csrw mepc, a0
    mret
    .option push
    .option rvc
    .balign 4
    c.j fail_near
3:  c.li a0, 13                        /* pc = 2 mod 4 */
    .option pop
    CHECK(a0, 13)
    j 4f
fail_near:
    j fail
4:

    /* ---- sret executed in M -------------------------------------------------------------- */
    /* SPP = S, SPIE = 1, SIE = 0: lands in S with SIE = 1, SPIE = 1, SPP = U */
    CASE(10)
    li a0, MSTATUS_SPP | MSTATUS_SPIE
    csrs mstatus, a0
    csrci mstatus, MSTATUS_SIE
    ARM_TRAP(2f)
    la a0, 1f
    csrw sepc, a0
    sret
    j fail
1:  csrr s0, sstatus                    /* in S */
    ecall
    j fail
2:  CHECK_MEM(trap_cause, CAUSE_ECALL_S)
    andi a2, s0, MSTATUS_SIE
    CHECK(a2, MSTATUS_SIE)
    andi a2, s0, MSTATUS_SPIE
    CHECK(a2, MSTATUS_SPIE)
    andi a2, s0, MSTATUS_SPP
    CHECK(a2, 0)
    csrci sstatus, MSTATUS_SIE
    /* sret from M to U */
    CASE(11)
    li a0, MSTATUS_SPP
    csrc mstatus, a0
    ARM_TRAP(2f)
    la a0, 1f
    csrw sepc, a0
    sret
    j fail
1:  ecall                               /* in U */
    j fail
2:  CHECK_MEM(trap_cause, CAUSE_ECALL_U)

    /* ---- sret executed in S ---------------------------------------------------------------- */
    /* S -> U with SPIE = 1, SIE = 0: U runs with SIE = 1, SPIE = 1, SPP = U */
    CASE(12)
    ARM_TRAP(3f)
    SET_MPP(PRV_S)
    li a0, MSTATUS_MPIE
    csrc mstatus, a0
    la a0, 1f
    csrw mepc, a0
    mret
1:  li a0, MSTATUS_SPP                  /* in S */
    csrc sstatus, a0
    li a0, MSTATUS_SPIE
    csrs sstatus, a0
    csrci sstatus, MSTATUS_SIE
    la a0, 2f
    csrw sepc, a0
    sret
    j fail
2:  ecall                               /* in U */
    j fail
3:  CHECK_MEM(trap_cause, CAUSE_ECALL_U)
    la a1, trap_status
    ld a1, 0(a1)
    andi a2, a1, MSTATUS_SIE
    CHECK(a2, MSTATUS_SIE)
    andi a2, a1, MSTATUS_SPIE
    CHECK(a2, MSTATUS_SPIE)
    andi a2, a1, MSTATUS_SPP
    CHECK(a2, 0)
    csrci sstatus, MSTATUS_SIE
    /* S -> S with SPP = 1, SPIE = 0 */
    CASE(13)
    ARM_TRAP(3f)
    SET_MPP(PRV_S)
    la a0, 1f
    csrw mepc, a0
    mret
1:  li a0, MSTATUS_SPP                  /* in S */
    csrs sstatus, a0
    li a0, MSTATUS_SPIE
    csrc sstatus, a0
    csrsi sstatus, MSTATUS_SIE
    la a0, 2f
    csrw sepc, a0
    sret
    j fail
2:  csrr s0, sstatus
    ecall                               /* still S */
    j fail
3:  CHECK_MEM(trap_cause, CAUSE_ECALL_S)
    andi a2, s0, MSTATUS_SIE
    CHECK(a2, 0)
    andi a2, s0, MSTATUS_SPIE
    CHECK(a2, MSTATUS_SPIE)
    andi a2, s0, MSTATUS_SPP
    CHECK(a2, 0)

    /* ---- trap, then return to the interrupted mode through the handler's own mret ---- */
    CASE(14)
    la a0, resume_hook
    la a1, trap_hook
    sd a0, 0(a1)
    ARM_TRAP(3f)
    SET_MPP(PRV_U)
    la a0, 1f
    csrw mepc, a0
    mret
1:  li s1, 5                            /* in U */
    .word 0x0000006b                    /* illegal: the hook skips it and returns to U */
    addi s1, s1, 1
    ecall                               /* to the default handler (hook removed by itself) */
    j fail
3:  CHECK_MEM(trap_cause, CAUSE_ECALL_U)
    CHECK(s1, 6)

    j pass

/* skips the trapping 4-byte instruction, removes itself, returns to the trapped mode */
resume_hook:
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    la t0, trap_hook
    sd zero, 0(t0)
    csrr t0, mscratch
    mret
