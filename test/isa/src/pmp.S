/* PMP CSRs (privileged spec 1.12, 3.7): pmpcfg0/pmpcfg2 and pmpaddr0..15 read back
   what was written (configurations without the reserved W-without-R combination
   and without L; addresses within the 54 implemented bits), pmpcfg1/pmpcfg3 do not
   exist on RV64, S and U may not touch them, and with entry 0 granting everything
   S and U keep full access. (Masking of pmpaddr bits 63:54 is in tshv-specific.S.) */
#include "test.h"

#define WRITE_READ_ADDR(n, csr, value) \
    CASE(n); li a0, value; csrw csr, a0; csrr a1, csr; CHECK(a1, value)

    .globl main
main:
    /* entry 0 is NAPOT over everything, RWX (crt.S) */
    TEST(1, a0, 0x1f, csrr a0, pmpcfg0; andi a0, a0, 0xff)

    /* entries 1..7: A = OFF / TOR / NA4 / NAPOT with R, RW, RX, RWX, X */
    CASE(2)
    li a0, 0x1f0c0d1b0f09031f
    csrw pmpcfg0, a0
    csrr a1, pmpcfg0
    CHECK(a1, 0x1f0c0d1b0f09031f)
    CASE(3)
    li a0, 0x0b0d1f1b0f0b0907
    csrw pmpcfg2, a0
    csrr a1, pmpcfg2
    CHECK(a1, 0x0b0d1f1b0f0b0907)

    WRITE_READ_ADDR(10, pmpaddr1, 0x0000000020000000)
    WRITE_READ_ADDR(11, pmpaddr2, 0x0000000020000fff)
    WRITE_READ_ADDR(12, pmpaddr3, 0x0000000020001000)
    WRITE_READ_ADDR(13, pmpaddr4, 0x00000000201fffff)
    WRITE_READ_ADDR(14, pmpaddr5, 0x0023456789abcdef)
    WRITE_READ_ADDR(15, pmpaddr6, 0x003fffffffffffff)
    WRITE_READ_ADDR(16, pmpaddr7, 0x0000000000000000)
    WRITE_READ_ADDR(17, pmpaddr8, 0x0000000000000001)
    WRITE_READ_ADDR(18, pmpaddr9, 0x0000000000001234)
    WRITE_READ_ADDR(19, pmpaddr10, 0x0015555555555555)
    WRITE_READ_ADDR(20, pmpaddr11, 0x002aaaaaaaaaaaaa)
    WRITE_READ_ADDR(21, pmpaddr12, 0x0000000021ffffff)
    WRITE_READ_ADDR(22, pmpaddr13, 0x0000000022000000)
    WRITE_READ_ADDR(23, pmpaddr14, 0x0000000010000000)
    WRITE_READ_ADDR(24, pmpaddr15, 0x0000000004000000)
    /* the registers are distinct */
    CASE(25)
    csrr a0, pmpaddr1
    CHECK(a0, 0x20000000)
    csrr a0, pmpaddr9
    CHECK(a0, 0x1234)
    csrr a0, pmpaddr0
    li a1, 0x003fffffffffffff
    and a0, a0, a1
    CHECK(a0, 0x003fffffffffffff)

    /* S and U still reach RAM and devices: entry 0 matches first */
    EXPECT_OK_IN_MODE(30, PRV_S, la a1, scratch; li a2, 77; sd a2, 0(a1); ld s1, 0(a1))
    CHECK(s1, 77)
    EXPECT_OK_IN_MODE(31, PRV_U, la a1, scratch; li a2, 78; sd a2, 0(a1); ld s1, 0(a1); li a1, UART_BASE; lbu a2, 5(a1))
    CHECK(s1, 78)

    /* no odd pmpcfg on RV64 */
    EXPECT_TRAP(40, CAUSE_ILLEGAL, csrr a0, 0x3a1)
    EXPECT_TRAP(41, CAUSE_ILLEGAL, csrr a0, 0x3a3)
    /* M-only */
    EXPECT_TRAP_IN_MODE(42, PRV_S, CAUSE_ILLEGAL, csrr a0, pmpcfg2)
    EXPECT_TRAP_IN_MODE(43, PRV_S, CAUSE_ILLEGAL, csrw pmpaddr3, zero)
    EXPECT_TRAP_IN_MODE(44, PRV_U, CAUSE_ILLEGAL, csrr a0, pmpaddr0)

    /* back to entry 0 only */
    li a0, 0x1f
    csrw pmpcfg0, a0
    csrw pmpcfg2, zero
    TEST(50, a1, 0x1f, csrr a1, pmpcfg0)
    j pass

    .data
    .balign 8
scratch: .dword 0
