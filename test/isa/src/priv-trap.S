/* Synchronous traps into M-mode (privileged spec 1.12, 3.1.6.1, 3.1.14-16, 3.3):
   ecall from U/S/M (causes 8/9/11, mepc = the ecall, mtval = 0), ebreak (cause 3,
   32- and 16-bit), illegal instruction with mtval = the instruction bits, xRET
   from too low a privilege, and the mstatus stack on trap entry (MPP, MPIE, MIE). */
#include "test.h"

    .globl main
main:
    /* ---- ecall ------------------------------------------------------------------ */
    CASE(1)
    ARM_TRAP(2f)
1:  ecall
    j fail
2:  CHECK_MEM(trap_cause, CAUSE_ECALL_M)
    CHECK_MEM(trap_tval, 0)
    la a0, 1b
    CHECK_MEM_EQ(trap_epc, a0)
    /* mstatus at the trap: MPP = M */
    la a1, trap_status
    ld a1, 0(a1)
    srli a1, a1, 11
    andi a1, a1, 3
    CHECK(a1, PRV_M)

    CASE(2)
    ARM_TRAP(2f)
    SET_MPP(PRV_S)
    la t0, 1f
    csrw mepc, t0
    mret
1:  ecall                               /* in S */
    j fail
2:  CHECK_MEM(trap_cause, CAUSE_ECALL_S)
    CHECK_MEM(trap_tval, 0)
    la a0, 1b
    CHECK_MEM_EQ(trap_epc, a0)
    la a1, trap_status
    ld a1, 0(a1)
    srli a1, a1, 11
    andi a1, a1, 3
    CHECK(a1, PRV_S)

    CASE(3)
    ARM_TRAP(2f)
    SET_MPP(PRV_U)
    la t0, 1f
    csrw mepc, t0
    mret
1:  ecall                               /* in U */
    j fail
2:  CHECK_MEM(trap_cause, CAUSE_ECALL_U)
    CHECK_MEM(trap_tval, 0)
    la a0, 1b
    CHECK_MEM_EQ(trap_epc, a0)
    la a1, trap_status
    ld a1, 0(a1)
    srli a1, a1, 11
    andi a1, a1, 3
    CHECK(a1, PRV_U)

    /* ---- trap entry pushes MIE into MPIE and clears MIE ------------------------- */
    CASE(4)
    csrw mie, zero                      /* no interrupt can actually fire */
    li a0, MSTATUS_MPIE
    csrc mstatus, a0
    li a0, MSTATUS_MIE
    csrs mstatus, a0
    ARM_TRAP(1f)
    ecall
1:  la a1, trap_status
    ld a1, 0(a1)
    andi a2, a1, MSTATUS_MIE
    CHECK(a2, 0)
    andi a2, a1, MSTATUS_MPIE
    CHECK(a2, MSTATUS_MPIE)
    /* the default handler's mret restored MIE from MPIE */
    csrr a1, mstatus
    andi a2, a1, MSTATUS_MIE
    CHECK(a2, MSTATUS_MIE)
    li a0, MSTATUS_MIE
    csrc mstatus, a0
    CASE(5)
    ARM_TRAP(1f)
    ecall
1:  la a1, trap_status
    ld a1, 0(a1)
    andi a2, a1, MSTATUS_MPIE
    CHECK(a2, 0)                        /* MIE was 0 */

    /* ---- ebreak -------------------------------------------------------------------- */
    CASE(6)
    ARM_TRAP(2f)
    .option push
    .option norvc
1:  ebreak
    .option pop
    j fail
2:  CHECK_MEM(trap_cause, CAUSE_BREAKPOINT)
    la a0, 1b
    CHECK_MEM_EQ(trap_epc, a0)
    CASE(7)
    ARM_TRAP(2f)
1:  c.ebreak
    j fail
2:  CHECK_MEM(trap_cause, CAUSE_BREAKPOINT)
    la a0, 1b
    CHECK_MEM_EQ(trap_epc, a0)
    EXPECT_TRAP_IN_MODE(8, PRV_U, CAUSE_BREAKPOINT, ebreak)
    EXPECT_TRAP_IN_MODE(9, PRV_S, CAUSE_BREAKPOINT, ebreak)

    /* ---- illegal instructions: mtval = the instruction bits ------------------------ */
    EXPECT_TRAP_TVAL(10, CAUSE_ILLEGAL, 0x0000006b, .word 0x0000006b)   /* reserved major opcode */
    EXPECT_TRAP_TVAL(11, CAUSE_ILLEGAL, 0x1234506b, .word 0x1234506b)
    EXPECT_TRAP_TVAL(12, CAUSE_ILLEGAL, 0xfe000033, .word 0xfe000033)   /* OP, funct7 = 0x7f */
    EXPECT_TRAP_TVAL(13, CAUSE_ILLEGAL, 0x0000701b, .word 0x0000701b)   /* OP-IMM-32 funct3 = 7 */
    EXPECT_TRAP_TVAL(14, CAUSE_ILLEGAL, 0x00007003, .word 0x00007003)   /* LOAD funct3 = 7 */
    EXPECT_TRAP_TVAL(15, CAUSE_ILLEGAL, 0x00004023, .word 0x00004023)   /* STORE funct3 = 4 */
    EXPECT_TRAP_TVAL(16, CAUSE_ILLEGAL, 0x00002063, .word 0x00002063)   /* BRANCH funct3 = 2 */
    EXPECT_TRAP_TVAL(17, CAUSE_ILLEGAL, 0x00001067, .word 0x00001067)   /* JALR funct3 = 1 */
    EXPECT_TRAP_TVAL(18, CAUSE_ILLEGAL, 0x4200501b, .word 0x4200501b)   /* sraiw with shamt[5] = 1 */
    EXPECT_TRAP_TVAL(19, CAUSE_ILLEGAL, 0x8800302f, .word 0x8800302f)   /* AMO funct5 = 0x11 */
    EXPECT_TRAP_TVAL(20, CAUSE_ILLEGAL, 0x1010302f, .word 0x1010302f)   /* lr.d with rs2 != 0 */
    /* the instruction bits in mtval are the original ones, not a decoded form */
    CASE(21)
    ARM_TRAP(1f)
    .word 0xffffffff                    /* not a valid instruction of any length we have */
1:  DISARM_TRAP
    CHECK_MEM(trap_cause, CAUSE_ILLEGAL)

    /* ---- xRET from a lower privilege --------------------------------------------- */
    EXPECT_TRAP_IN_MODE(30, PRV_U, CAUSE_ILLEGAL, mret)
    CHECK_MEM(trap_tval, 0x30200073)
    EXPECT_TRAP_IN_MODE(31, PRV_S, CAUSE_ILLEGAL, mret)
    EXPECT_TRAP_IN_MODE(32, PRV_U, CAUSE_ILLEGAL, sret)
    CHECK_MEM(trap_tval, 0x10200073)

    /* ---- many traps in a row ------------------------------------------------------- */
    CASE(40)
    li s0, 0
    li s1, 50
1:  ARM_TRAP(2f)
    ecall
2:  addi s0, s0, 1
    blt s0, s1, 1b
    CHECK_MEM(trap_cause, CAUSE_ECALL_M)

    j pass
