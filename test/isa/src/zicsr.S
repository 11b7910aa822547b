/* Zicsr: the six CSR instructions (old value returned, set/clear masks, 5-bit
   zero-extended immediates, x0 rules for reads and writes), read-only CSRs
   (write -> illegal, read with rs1 = x0 / uimm = 0 fine), unimplemented CSR ->
   illegal, and a few machine CSR fields (misa, mhartid, mstatus views, mepc). */
#include "test.h"

    .globl main
main:
    /* csrrw: returns old, writes new */
    CASE(1)
    li a0, 0x1234
    csrw mscratch, a0
    li a1, 0xfedcba9876543210
    csrrw a2, mscratch, a1
    CHECK(a2, 0x1234)
    csrr a3, mscratch
    CHECK(a3, 0xfedcba9876543210)
    /* csrrs / csrrc */
    CASE(2)
    li a0, 0xf0
    csrw mscratch, a0
    li a1, 0x0f0f
    csrrs a2, mscratch, a1
    CHECK(a2, 0xf0)
    csrr a3, mscratch
    CHECK(a3, 0x0fff)
    li a1, 0x00ff
    csrrc a2, mscratch, a1
    CHECK(a2, 0x0fff)
    csrr a3, mscratch
    CHECK(a3, 0x0f00)
    /* immediates are 5-bit, zero-extended */
    CASE(3)
    csrw mscratch, zero
    csrrwi a2, mscratch, 31
    CHECK(a2, 0)
    csrr a3, mscratch
    CHECK(a3, 31)
    csrrci a2, mscratch, 0x15
    CHECK(a2, 31)
    csrr a3, mscratch
    CHECK(a3, 0x0a)
    csrrsi a2, mscratch, 0x10
    CHECK(a2, 0x0a)
    csrr a3, mscratch
    CHECK(a3, 0x1a)
    /* rs1 = x0 / uimm = 0: csrrs and csrrc do not write */
    CASE(4)
    li a0, -1
    csrw mscratch, a0
    csrrs a2, mscratch, x0
    CHECK(a2, -1)
    csrrc a2, mscratch, x0
    csrrsi a2, mscratch, 0
    csrrci a2, mscratch, 0
    csrr a3, mscratch
    CHECK(a3, -1)
    /* rd = x0: csrrw still writes */
    CASE(5)
    li a0, 77
    csrrw x0, mscratch, a0
    csrr a3, mscratch
    CHECK(a3, 77)
    CHECK(x0, 0)
    /* rd == rs1: the old value is read before the write uses the register */
    CASE(6)
    li a0, 100
    csrw mscratch, a0
    li a0, 200
    csrrw a0, mscratch, a0
    CHECK(a0, 100)
    csrr a3, mscratch
    CHECK(a3, 200)
    CASE(7)
    li a0, 0x3
    csrw mscratch, a0
    li a0, 0xc
    csrrs a0, mscratch, a0
    CHECK(a0, 0x3)
    csrr a3, mscratch
    CHECK(a3, 0xf)

    /* ---- read-only CSRs ------------------------------------------------------- */
    TEST(10, a0, 0, csrr a0, mhartid)
    TEST(11, a0, 0, li a0, 5; csrrs a0, mhartid, x0)
    TEST(12, a0, 0, li a0, 5; csrrci a0, mhartid, 0)
    EXPECT_TRAP_TVAL(13, CAUSE_ILLEGAL, 0xf1451073, csrw mhartid, a0)   /* csrrw x0, mhartid, a0 */
    /* case 14 (csrrs with rs1 != x0 holding 0 on a read-only CSR) is in tshv-specific.S:
       QEMU 7.2 does not raise it */
    EXPECT_TRAP(15, CAUSE_ILLEGAL, csrrwi a1, mvendorid, 0)            /* csrrwi always writes */
    EXPECT_TRAP(16, CAUSE_ILLEGAL, csrrsi a1, marchid, 1)
    EXPECT_TRAP(17, CAUSE_ILLEGAL, li a0, 1; csrrc a1, mimpid, a0)
    EXPECT_TRAP(18, CAUSE_ILLEGAL, csrw cycle, a0)
    EXPECT_TRAP(19, CAUSE_ILLEGAL, csrw instret, a0)
    EXPECT_TRAP(20, CAUSE_ILLEGAL, csrs time, a0)
    TEST(21, a1, 0, li a1, 0; csrr a0, mvendorid; csrr a0, marchid; csrr a0, mimpid)
    /* an unimplemented CSR number (custom space) */
    EXPECT_TRAP(22, CAUSE_ILLEGAL, csrr a0, 0x800)
    EXPECT_TRAP(23, CAUSE_ILLEGAL, csrw 0x7ff, a0)
    /* the illegal CSR instruction did not change rd */
    CASE(24)
    li a1, 1234
    ARM_TRAP(1f)
    csrrs a1, mhartid, a1
1:  DISARM_TRAP
    CHECK(a1, 1234)

    /* ---- machine CSR contents ----------------------------------------------------- */
    /* misa: MXL = 2 (RV64) and I, M, A, F, D, C, S, U */
    CASE(30)
    csrr a0, misa
    srli a1, a0, 62
    CHECK(a1, 2)
    li a2, (1 << 8) | (1 << 12) | (1 << 0) | (1 << 5) | (1 << 3) | (1 << 2) | (1 << 18) | (1 << 20)
    and a1, a0, a2
    CHECK_EQ(a1, a2)
    /* mstatus: UXL = SXL = 2 (64-bit) */
    CASE(31)
    csrr a0, mstatus
    srli a0, a0, 32
    andi a0, a0, 0xf
    CHECK(a0, 0xa)
    /* sstatus is a restricted view of mstatus */
    CASE(32)
    li a0, MSTATUS_SUM
    csrs sstatus, a0
    csrr a1, mstatus
    and a1, a1, a0
    CHECK_EQ(a1, a0)
    csrc mstatus, a0
    csrr a1, sstatus
    and a1, a1, a0
    CHECK(a1, 0)
    CASE(33)
    li a0, MSTATUS_MPP | MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_TVM | MSTATUS_MPRV
    csrc mstatus, a0
    csrs sstatus, a0                    /* not part of sstatus: no effect */
    csrr a1, mstatus
    and a1, a1, a0
    CHECK(a1, 0)
    csrr a1, sstatus
    and a1, a1, a0
    CHECK(a1, 0)
    /* SPP, SIE, SPIE reachable through sstatus */
    CASE(34)
    li a0, MSTATUS_SPP | MSTATUS_SIE | MSTATUS_SPIE
    csrs sstatus, a0
    csrr a1, mstatus
    and a1, a1, a0
    CHECK_EQ(a1, a0)
    csrc sstatus, a0
    csrr a1, mstatus
    and a1, a1, a0
    CHECK(a1, 0)
    /* case 35 (mstatus.MPP is WARL and never holds the reserved value 2) is in
       tshv-specific.S: QEMU 7.2 keeps 2 */
    /* case 36 (mepc/sepc bit 0 always reads zero) is in tshv-specific.S: QEMU 7.2
       keeps bit 0 */
    /* mscratch / sscratch hold 64 bits */
    CASE(37)
    li a0, 0x8000000000000001
    csrw sscratch, a0
    csrr a1, sscratch
    CHECK_EQ(a0, a1)
    /* mtvec: direct base, vectored mode bit kept */
    CASE(38)
    csrr s0, mtvec
    la a0, trap_vector
    CHECK_EQ(a0, s0)
    ori a1, a0, 1
    csrw mtvec, a1
    csrr a2, mtvec
    CHECK_EQ(a1, a2)
    csrw mtvec, s0
    /* medeleg: a delegable bit is kept (case 39 -- medeleg[11], ecall from M,
       is read-only zero -- is in tshv-specific.S: QEMU 7.2 keeps it) */
    CASE(40)
    li a0, (1 << 8)
    csrw medeleg, a0
    csrr a1, medeleg
    CHECK(a1, (1 << 8))
    csrw medeleg, zero

    j pass
