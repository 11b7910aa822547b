/* CSR privilege (privileged spec 1.12, 2.1, 2.2): the CSR number's bits 9:8 give the
   lowest privilege allowed. S-mode touching an M-level CSR and U-mode touching an
   S-level CSR raise illegal instruction with mtval = the instruction; each mode
   may use its own CSRs (and U the FP CSRs). */
#include "test.h"

    .globl main
main:
    /* ---- S-mode: M-level CSRs are illegal ------------------------------------------- */
    EXPECT_TRAP_IN_MODE( 1, PRV_S, CAUSE_ILLEGAL, csrr a0, mstatus)
    CHECK_MEM(trap_tval, 0x30002573)
    EXPECT_TRAP_IN_MODE( 2, PRV_S, CAUSE_ILLEGAL, csrw mstatus, zero)
    CHECK_MEM(trap_tval, 0x30001073)
    EXPECT_TRAP_IN_MODE( 3, PRV_S, CAUSE_ILLEGAL, csrr a0, misa)
    EXPECT_TRAP_IN_MODE( 4, PRV_S, CAUSE_ILLEGAL, csrr a0, medeleg)
    EXPECT_TRAP_IN_MODE( 5, PRV_S, CAUSE_ILLEGAL, csrr a0, mideleg)
    EXPECT_TRAP_IN_MODE( 6, PRV_S, CAUSE_ILLEGAL, csrr a0, mie)
    EXPECT_TRAP_IN_MODE( 7, PRV_S, CAUSE_ILLEGAL, csrw mtvec, zero)
    EXPECT_TRAP_IN_MODE( 8, PRV_S, CAUSE_ILLEGAL, csrr a0, mscratch)
    EXPECT_TRAP_IN_MODE( 9, PRV_S, CAUSE_ILLEGAL, csrw mepc, zero)
    EXPECT_TRAP_IN_MODE(10, PRV_S, CAUSE_ILLEGAL, csrr a0, mcause)
    EXPECT_TRAP_IN_MODE(11, PRV_S, CAUSE_ILLEGAL, csrr a0, mtval)
    EXPECT_TRAP_IN_MODE(12, PRV_S, CAUSE_ILLEGAL, csrr a0, mip)
    EXPECT_TRAP_IN_MODE(13, PRV_S, CAUSE_ILLEGAL, csrr a0, mhartid)
    EXPECT_TRAP_IN_MODE(14, PRV_S, CAUSE_ILLEGAL, csrr a0, mvendorid)
    EXPECT_TRAP_IN_MODE(15, PRV_S, CAUSE_ILLEGAL, csrr a0, menvcfg)
    EXPECT_TRAP_IN_MODE(16, PRV_S, CAUSE_ILLEGAL, csrr a0, pmpcfg0)
    EXPECT_TRAP_IN_MODE(17, PRV_S, CAUSE_ILLEGAL, csrw pmpaddr0, zero)
    EXPECT_TRAP_IN_MODE(18, PRV_S, CAUSE_ILLEGAL, csrr a0, mcycle)
    EXPECT_TRAP_IN_MODE(19, PRV_S, CAUSE_ILLEGAL, csrs mstatus, a0)
    /* the failed write had no effect */
    CASE(20)
    csrr a0, mstatus
    li a1, MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR | MSTATUS_MXR
    and a0, a0, a1
    CHECK(a0, 0)
    EXPECT_TRAP_IN_MODE(21, PRV_S, CAUSE_ILLEGAL, li a0, 0x12345; csrw mscratch, a0)
    CASE(22)
    csrr a0, mscratch
    li a1, 0x12345
    beq a0, a1, fail

    /* ---- S-mode: own CSRs are fine ---------------------------------------------------- */
    EXPECT_OK_IN_MODE(30, PRV_S, li s0, 0x5a5a; csrw sscratch, s0; csrr s1, sscratch)
    CHECK(s1, 0x5a5a)
    EXPECT_OK_IN_MODE(31, PRV_S, csrr s1, sstatus; csrr s1, sie; csrr s1, sip; csrr s1, stvec; csrr s1, scounteren)
    EXPECT_OK_IN_MODE(32, PRV_S, li s0, 0x80001000; csrw sepc, s0; csrr s1, sepc)
    CHECK(s1, 0x80001000)
    EXPECT_OK_IN_MODE(33, PRV_S, li s0, 13; csrw scause, s0; csrr s1, scause; li s0, 0x777; csrw stval, s0; csrr s2, stval)
    CHECK(s1, 13)
    CHECK(s2, 0x777)
    EXPECT_OK_IN_MODE(34, PRV_S, csrw satp, zero; csrr s1, satp)
    CHECK(s1, 0)
    EXPECT_OK_IN_MODE(35, PRV_S, csrr s1, fcsr; csrwi fflags, 1; frflags s1; csrwi fflags, 0)
    CHECK(s1, 1)

    /* ---- U-mode: S-level and M-level CSRs are illegal ------------------------------------- */
    EXPECT_TRAP_IN_MODE(40, PRV_U, CAUSE_ILLEGAL, csrr a0, sstatus)
    CHECK_MEM(trap_tval, 0x10002573)
    EXPECT_TRAP_IN_MODE(41, PRV_U, CAUSE_ILLEGAL, csrr a0, sie)
    EXPECT_TRAP_IN_MODE(42, PRV_U, CAUSE_ILLEGAL, csrw stvec, zero)
    EXPECT_TRAP_IN_MODE(43, PRV_U, CAUSE_ILLEGAL, csrr a0, sscratch)
    EXPECT_TRAP_IN_MODE(44, PRV_U, CAUSE_ILLEGAL, csrr a0, sepc)
    EXPECT_TRAP_IN_MODE(45, PRV_U, CAUSE_ILLEGAL, csrr a0, scause)
    EXPECT_TRAP_IN_MODE(46, PRV_U, CAUSE_ILLEGAL, csrr a0, stval)
    EXPECT_TRAP_IN_MODE(47, PRV_U, CAUSE_ILLEGAL, csrr a0, sip)
    EXPECT_TRAP_IN_MODE(48, PRV_U, CAUSE_ILLEGAL, csrr a0, satp)
    EXPECT_TRAP_IN_MODE(49, PRV_U, CAUSE_ILLEGAL, csrr a0, mstatus)
    EXPECT_TRAP_IN_MODE(50, PRV_U, CAUSE_ILLEGAL, csrr a0, mhartid)
    /* ---- U-mode: the FP CSRs are user CSRs -------------------------------------------------- */
    EXPECT_OK_IN_MODE(51, PRV_U, csrr s1, fcsr; fsrmi 3; frrm s1; fsrmi 0)
    CHECK(s1, 3)

    j pass
