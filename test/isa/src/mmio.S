/* Device (MMIO) accesses, which leave the core's RAM path: loads of every width
   with sign and zero extension, FP loads and stores (NaN-boxing of flw), compressed
   forms, a load into x0, 32-bit halves of 64-bit registers, and device accesses
   from S-mode and U-mode through Sv39 page tables at a virtual address that is not
   the device's physical one. The registers used are the CLINT's mtimecmp (plain
   read/write storage while its interrupt is disabled) and the UART's LSR/SCR. */
#include "vm.h"

#define CMP CLINT_MTIMECMP
#define VA_DEV 0x40000000                   /* l0[0..15] -> CLINT pages, l0[16] -> UART */
#define VA_CMP (VA_DEV + 0x4000)
#define VA_UART (VA_DEV + 0x10000)

    .globl main
main:
    csrw mie, zero
    li s0, CMP
    li a0, 0x1234567880000001
    sd a0, 0(s0)
    TEST( 1, a1, 0x1234567880000001, ld a1, 0(s0))
    TEST( 2, a1, 0xffffffff80000001, lw a1, 0(s0))
    TEST( 3, a1, 0x0000000080000001, lwu a1, 0(s0))
    TEST( 4, a1, 0x0000000012345678, lw a1, 4(s0))
    TEST( 5, a1, 0xffffffff80000001, c.lw a1, 0(s0))
    TEST( 6, a1, 0x1234567880000001, c.ld a1, 0(s0))
    /* the same register written as two 32-bit halves */
    CASE(7)
    li a0, 0xdeadbeef
    sw a0, 0(s0)
    li a0, 0x8badf00d
    sw a0, 4(s0)
    ld a1, 0(s0)
    CHECK(a1, 0x8badf00ddeadbeef)
    /* FP loads and stores */
    CASE(8)
    flw f1, 0(s0)
    fmv.x.d a1, f1
    CHECK(a1, 0xffffffffdeadbeef)       /* NaN-boxed */
    fld f2, 0(s0)
    fmv.x.d a1, f2
    CHECK(a1, 0x8badf00ddeadbeef)
    CASE(9)
    li a0, 0x0123456789abcdef
    fmv.d.x f3, a0
    fsd f3, 0(s0)
    ld a1, 0(s0)
    CHECK(a1, 0x0123456789abcdef)
    li a0, 0x3f800000
    fmv.w.x f4, a0
    fsw f4, 4(s0)
    ld a1, 0(s0)
    CHECK(a1, 0x3f80000089abcdef)
    CASE(10)
    c.fld f8, 0(s0)
    fmv.x.d a1, f8
    CHECK(a1, 0x3f80000089abcdef)
    /* a device load into x0 leaves x0 alone */
    TEST(11, a1, 0, ld x0, 0(s0); lw x0, 4(s0); mv a1, x0)
    /* the load's other registers are untouched */
    CASE(12)
    li a2, 0x77
    lw a1, 0(s0)
    CHECK(a2, 0x77)
    CHECK(a1, 0xffffffff89abcdef)
    /* UART: LSR reads transmitter empty; the scratch register (7) holds a byte */
    CASE(13)
    li s1, UART_BASE
    lbu a1, 5(s1)
    andi a1, a1, 0x60
    CHECK(a1, 0x60)
    li a0, 0xa5
    sb a0, 7(s1)
    lbu a1, 7(s1)
    CHECK(a1, 0xa5)
    lb a1, 7(s1)
    CHECK(a1, 0xffffffffffffffa5)       /* sign-extended */

    /* ---- through page tables ------------------------------------------------------- */
    MAP_PA(root, 0, 0x00000000, LEAF_RW)
    MAP_SYM(root, 1, l1, NONLEAF)
    MAP_PA(root, 2, 0x80000000, LEAF_RWX)
    MAP_PA(root, 3, 0x80000000, LEAF_RWX | PTE_U)         /* U alias of RAM at 0xc0000000 */
    MAP_SYM(l1, 0, l0, NONLEAF)
    MAP_PA(l0, 4, CLINT_BASE + 0x4000, LEAF_RW)          /* VA_CMP -> mtimecmp page */
    MAP_PA(l0, 16, UART_BASE, LEAF_RW | PTE_U)           /* VA_UART -> UART, user */
    SATP_FOR(s2, SATP_SV39, root)
    csrw satp, s2
    sfence.vma
    li a0, 0x1111222233334444
    sd a0, 0(s0)
    EXPECT_OK_IN_MODE(20, PRV_S, li a1, VA_CMP; ld s3, 0(a1); lw s4, 4(a1); li a2, 0x5555; sw a2, 0(a1))
    CHECK(s3, 0x1111222233334444)
    CHECK(s4, 0x11112222)
    CASE(21)
    ld a1, 0(s0)
    CHECK(a1, 0x1111222200005555)
    CASE(22)
    RUN_AT(PRV_U, 0x40000000, li a1, VA_UART; lbu s3, 5(a1); li a2, 0x3c; sb a2, 7(a1); lbu s4, 7(a1))
    CHECK_MEM(trap_cause, CAUSE_ECALL_U)
    andi s3, s3, 0x60
    CHECK(s3, 0x60)
    CHECK(s4, 0x3c)
    /* U may not reach the supervisor-only device page */
    CASE(23)
    RUN_AT(PRV_U, 0x40000000, li a1, VA_CMP; ld s3, 0(a1))
    CHECK_MEM(trap_cause, CAUSE_LOAD_PAGE)
    CHECK_MEM(trap_tval, VA_CMP)
    /* M-mode with MPRV: the device through the S mapping */
    CASE(24)
    li a1, VA_CMP
    SET_MPP(PRV_S)
    li a0, MSTATUS_MPRV
    csrs mstatus, a0
    ld s3, 0(a1)
    csrc mstatus, a0
    CHECK(s3, 0x1111222200005555)
    csrw satp, zero
    sfence.vma

    li a0, -1
    sd a0, 0(s0)
    j pass

    .bss
    .balign 4096
root: .skip 4096
l1:   .skip 4096
l0:   .skip 4096
