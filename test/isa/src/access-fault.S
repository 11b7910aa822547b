/* Access faults (privileged spec 1.12, 3.1.15-16, 3.6): loads, stores, LR and
   instruction fetches at physical addresses where nothing is mapped raise load (5),
   store/AMO (7) and instruction (1) access faults with mtval = the address and,
   for a fetch, mepc = the address; also from S- and U-mode; no side effects. */
#include "test.h"

#define HOLE1 0x88000000           /* just past 128 MiB of RAM */
#define HOLE2 0x90000000
#define HOLE3 0x100000000          /* 4 GiB */
#define HOLE4 0x7ff00000000        /* far away */

    .globl main
main:
    li s0, HOLE1
    EXPECT_TRAP_TVAL( 1, CAUSE_LOAD_ACCESS, HOLE1, lb a0, 0(s0))
    EXPECT_TRAP_TVAL( 2, CAUSE_LOAD_ACCESS, HOLE1 + 2, lhu a0, 2(s0))
    EXPECT_TRAP_TVAL( 3, CAUSE_LOAD_ACCESS, HOLE1 + 4, lw a0, 4(s0))
    EXPECT_TRAP_TVAL( 4, CAUSE_LOAD_ACCESS, HOLE1 + 8, ld a0, 8(s0))
    EXPECT_TRAP_TVAL( 5, CAUSE_LOAD_ACCESS, HOLE1 + 16, lwu a0, 16(s0))
    EXPECT_TRAP_TVAL( 6, CAUSE_STORE_ACCESS, HOLE1, sb a0, 0(s0))
    EXPECT_TRAP_TVAL( 7, CAUSE_STORE_ACCESS, HOLE1 + 2, sh a0, 2(s0))
    EXPECT_TRAP_TVAL( 8, CAUSE_STORE_ACCESS, HOLE1 + 4, sw a0, 4(s0))
    EXPECT_TRAP_TVAL( 9, CAUSE_STORE_ACCESS, HOLE1 + 8, sd a0, 8(s0))
    li s0, HOLE2
    EXPECT_TRAP_TVAL(10, CAUSE_LOAD_ACCESS, HOLE2, flw f1, 0(s0))
    EXPECT_TRAP_TVAL(11, CAUSE_LOAD_ACCESS, HOLE2 + 8, fld f1, 8(s0))
    EXPECT_TRAP_TVAL(12, CAUSE_STORE_ACCESS, HOLE2, fsw f1, 0(s0))
    EXPECT_TRAP_TVAL(13, CAUSE_STORE_ACCESS, HOLE2 + 8, fsd f1, 8(s0))
    /* cases 14, 15 (AMOs raise store/AMO access faults, cause 7) are in
       tshv-specific.S: QEMU 7.2 raises a load access fault */
    EXPECT_TRAP_TVAL(16, CAUSE_LOAD_ACCESS, HOLE2, lr.d a0, (s0))
    li s0, HOLE3
    EXPECT_TRAP_TVAL(18, CAUSE_LOAD_ACCESS, HOLE3 - 8, ld a0, -8(s0))
    li s0, HOLE4
    EXPECT_TRAP_TVAL(19, CAUSE_STORE_ACCESS, HOLE4, sd a0, 0(s0))
    /* compressed */
    li s1, HOLE1
    EXPECT_TRAP_TVAL(20, CAUSE_LOAD_ACCESS, HOLE1 + 4, c.lw a0, 4(s1))
    EXPECT_TRAP_TVAL(21, CAUSE_STORE_ACCESS, HOLE1 + 8, c.sd a0, 8(s1))

    /* a load into x0 still accesses memory, and so still faults */
    EXPECT_TRAP_TVAL(23, CAUSE_LOAD_ACCESS, HOLE1, li s0, HOLE1; ld x0, 0(s0))
    EXPECT_TRAP_TVAL(24, CAUSE_LOAD_ACCESS, HOLE1 + 1, li s0, HOLE1; lbu x0, 1(s0))

    /* a faulting load leaves rd unchanged */
    CASE(22)
    li a0, 0x1234
    li s0, HOLE2
    ARM_TRAP(1f)
    ld a0, 0(s0)
1:  DISARM_TRAP
    CHECK(a0, 0x1234)

    /* instruction fetch */
    CASE(30)
    ARM_TRAP(1f)
    li a1, HOLE2
    jalr a1
    j fail
1:  CHECK_MEM(trap_cause, CAUSE_FETCH_ACCESS)
    CHECK_MEM(trap_tval, HOLE2)
    CHECK_MEM(trap_epc, HOLE2)
    CASE(31)
    ARM_TRAP(1f)
    li a1, HOLE3 + 0x102
    jr a1
    j fail
1:  CHECK_MEM(trap_cause, CAUSE_FETCH_ACCESS)
    CHECK_MEM(trap_tval, HOLE3 + 0x102)
    CHECK_MEM(trap_epc, HOLE3 + 0x102)
    /* ra was written by the jump before the fetch fault */
    CASE(32)
    ARM_TRAP(1f)
    li a1, HOLE1
2:  jalr ra, a1
1:  la a0, 2b
    addi a0, a0, 4
    CHECK_EQ(ra, a0)
    /* falling off the end of RAM */
    CASE(33)
    li a0, HOLE1 - 4
    li a1, 0x0001                       /* c.nop; c.nop */
    slli a2, a1, 16
    or a1, a1, a2
    sw a1, 0(a0)
    fence.i
    ARM_TRAP(1f)
    jr a0
1:  CHECK_MEM(trap_cause, CAUSE_FETCH_ACCESS)
    CHECK_MEM(trap_tval, HOLE1)
    CHECK_MEM(trap_epc, HOLE1)

    /* case 34 (a 4-byte instruction whose second half lies past the end of RAM) is in
       tshv-specific.S: QEMU 7.2 aborts on it (translator_access assertion) */

    /* from S and U (satp Bare) */
    EXPECT_TRAP_IN_MODE(40, PRV_S, CAUSE_LOAD_ACCESS, li a1, HOLE2; ld a0, 0(a1))
    CHECK_MEM(trap_tval, HOLE2)
    EXPECT_TRAP_IN_MODE(41, PRV_U, CAUSE_STORE_ACCESS, li a1, HOLE2; sw a0, 12(a1))
    CHECK_MEM(trap_tval, HOLE2 + 12)
    EXPECT_TRAP_IN_MODE(42, PRV_U, CAUSE_FETCH_ACCESS, li a1, HOLE1 + 0x40; jr a1)
    CHECK_MEM(trap_tval, HOLE1 + 0x40)
    CHECK_MEM(trap_epc, HOLE1 + 0x40)

    j pass
