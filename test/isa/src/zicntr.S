/* Zicntr: cycle, time and instret advance; time matches the CLINT mtime; the
   machine counters mcycle/minstret are writable; mcounteren gates S- and U-mode
   reads and scounteren additionally gates U-mode reads (privileged 3.1.11, 4.1.5);
   the RV32-only high halves do not exist. */
#include "test.h"

#define CY 1
#define TM 2
#define IR 4

    .globl main
main:
    /* ---- M-mode: counters advance --------------------------------------------- */
    CASE(1)
    rdcycle a0
    li t0, 100
1:  addi t0, t0, -1
    bnez t0, 1b
    rdcycle a1
    bleu a1, a0, fail
    CASE(2)
    rdinstret a0
    li t0, 100
1:  addi t0, t0, -1
    bnez t0, 1b
    rdinstret a1
    sub a2, a1, a0
    li a3, 200                          /* at least the 200 loop instructions */
    bltu a2, a3, fail
    CASE(3)
    rdtime a0
    li t0, 20000
1:  addi t0, t0, -1
    bnez t0, 1b
    rdtime a1
    bleu a1, a0, fail
    /* time is the CLINT's mtime */
    CASE(4)
    li s0, CLINT_MTIME
    ld a0, 0(s0)
    rdtime a1
    ld a2, 0(s0)
    bltu a1, a0, fail
    bltu a2, a1, fail
    /* mcycle / minstret mirror cycle / instret, and can be written */
    CASE(5)
    csrr a0, minstret
    rdinstret a1
    bltu a1, a0, fail
    csrr a0, mcycle
    rdcycle a1
    bltu a1, a0, fail
    CASE(6)
    li a0, 0x100000000000
    csrw minstret, a0
    csrr a1, minstret
    bltu a1, a0, fail
    li a2, 0x100010000000                /* QEMU counts host ticks: allow slack */
    bgeu a1, a2, fail
    CASE(7)
    csrw mcycle, a0
    rdcycle a1
    bltu a1, a0, fail
    bgeu a1, a2, fail
    /* the RV32 high halves are not CSRs on RV64 */
    EXPECT_TRAP(8, CAUSE_ILLEGAL, csrr a0, cycleh)
    EXPECT_TRAP(9, CAUSE_ILLEGAL, csrr a0, instreth)

    /* ---- counter enables -------------------------------------------------------- */
    CASE(10)
    li a0, CY | TM | IR
    csrw mcounteren, a0
    csrr a1, mcounteren
    and a1, a1, a0
    CHECK_EQ(a1, a0)
    csrw scounteren, a0
    csrr a1, scounteren
    and a1, a1, a0
    CHECK_EQ(a1, a0)

    /* all enabled: S and U may read all three */
    EXPECT_OK_IN_MODE(11, PRV_S, rdcycle a0; rdtime a0; rdinstret a0)
    EXPECT_OK_IN_MODE(12, PRV_U, rdcycle a0; rdtime a0; rdinstret a0)
    /* the values read in U advance too */
    CASE(13)
    RUN_IN_MODE(PRV_U, rdinstret s0; nop; nop; nop; rdinstret s1; rdtime s2; rdcycle s3)
    CHECK_MEM(trap_cause, CAUSE_ECALL_U)
    bleu s1, s0, fail
    beqz s2, fail
    beqz s3, fail

    /* mcounteren clear: illegal in S and U, mtval = the instruction */
    csrw mcounteren, zero
    EXPECT_TRAP_IN_MODE(20, PRV_S, CAUSE_ILLEGAL, rdcycle a0)
    CHECK_MEM(trap_tval, 0xc0002573)            /* csrrs a0, cycle, x0 */
    EXPECT_TRAP_IN_MODE(21, PRV_S, CAUSE_ILLEGAL, rdtime a0)
    CHECK_MEM(trap_tval, 0xc0102573)
    EXPECT_TRAP_IN_MODE(22, PRV_S, CAUSE_ILLEGAL, rdinstret a0)
    CHECK_MEM(trap_tval, 0xc0202573)
    EXPECT_TRAP_IN_MODE(23, PRV_U, CAUSE_ILLEGAL, rdcycle a0)
    EXPECT_TRAP_IN_MODE(24, PRV_U, CAUSE_ILLEGAL, rdtime a0)
    EXPECT_TRAP_IN_MODE(25, PRV_U, CAUSE_ILLEGAL, rdinstret a0)
    /* M-mode is never gated */
    TEST(26, a1, 1, rdcycle a0; rdtime a0; rdinstret a0; li a1, 1)

    /* one bit at a time: each enables exactly its counter */
    csrwi mcounteren, CY
    EXPECT_OK_IN_MODE(30, PRV_S, rdcycle a0)
    EXPECT_TRAP_IN_MODE(31, PRV_S, CAUSE_ILLEGAL, rdtime a0)
    EXPECT_TRAP_IN_MODE(32, PRV_S, CAUSE_ILLEGAL, rdinstret a0)
    csrwi mcounteren, TM
    EXPECT_TRAP_IN_MODE(33, PRV_S, CAUSE_ILLEGAL, rdcycle a0)
    EXPECT_OK_IN_MODE(34, PRV_S, rdtime a0)
    EXPECT_TRAP_IN_MODE(35, PRV_S, CAUSE_ILLEGAL, rdinstret a0)
    csrwi mcounteren, IR
    EXPECT_TRAP_IN_MODE(36, PRV_S, CAUSE_ILLEGAL, rdcycle a0)
    EXPECT_TRAP_IN_MODE(37, PRV_S, CAUSE_ILLEGAL, rdtime a0)
    EXPECT_OK_IN_MODE(38, PRV_S, rdinstret a0)

    /* U needs both: mcounteren set, scounteren clear -> U illegal, S fine */
    csrwi mcounteren, CY | TM | IR
    csrwi scounteren, 0
    EXPECT_OK_IN_MODE(40, PRV_S, rdcycle a0; rdtime a0; rdinstret a0)
    EXPECT_TRAP_IN_MODE(41, PRV_U, CAUSE_ILLEGAL, rdcycle a0)
    EXPECT_TRAP_IN_MODE(42, PRV_U, CAUSE_ILLEGAL, rdtime a0)
    EXPECT_TRAP_IN_MODE(43, PRV_U, CAUSE_ILLEGAL, rdinstret a0)
    /* scounteren set, mcounteren clear -> U still illegal */
    csrwi mcounteren, 0
    csrwi scounteren, CY | TM | IR
    EXPECT_TRAP_IN_MODE(44, PRV_U, CAUSE_ILLEGAL, rdcycle a0)
    EXPECT_TRAP_IN_MODE(45, PRV_U, CAUSE_ILLEGAL, rdtime a0)
    /* per-counter in U */
    csrwi mcounteren, CY | TM | IR
    csrwi scounteren, TM
    EXPECT_OK_IN_MODE(46, PRV_U, rdtime a0)
    EXPECT_TRAP_IN_MODE(47, PRV_U, CAUSE_ILLEGAL, rdinstret a0)
    /* S-mode may write scounteren; U may not touch it */
    EXPECT_OK_IN_MODE(48, PRV_S, csrwi scounteren, IR)
    CASE(49)
    csrr a0, scounteren
    andi a0, a0, 7
    CHECK(a0, IR)
    EXPECT_TRAP_IN_MODE(50, PRV_U, CAUSE_ILLEGAL, csrr a0, scounteren)
    EXPECT_TRAP_IN_MODE(51, PRV_S, CAUSE_ILLEGAL, csrr a0, mcounteren)
    /* the machine counters are M-only */
    EXPECT_TRAP_IN_MODE(52, PRV_S, CAUSE_ILLEGAL, csrr a0, mcycle)
    EXPECT_TRAP_IN_MODE(53, PRV_S, CAUSE_ILLEGAL, csrr a0, minstret)

    j pass
