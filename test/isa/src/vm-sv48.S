/* Sv48 paging (privileged spec 1.12, 4.5): the four-level walk with 4 KiB pages and
   2 MiB, 1 GiB and 512 GiB superpages, misaligned superpages at every level, the
   wider canonical range (bit 47) including negative addresses, non-canonical
   faults, A/D updates in a superpage PTE, U-mode through a U alias, sfence.vma. */
#include "vm.h"

#define VA_L0       0x40000000               /* root[0] -> l2, l2[1] -> l1, l1[0] -> l0 */
#define VA(i)       (VA_L0 + (i) * 0x1000)
#define VA_MEGA     0x40200000               /* l1[1] */
#define VA_MEGA_BAD 0x40400000               /* l1[2] */
#define MEGA_PA     0x80400000
#define UOFF        0x40000000               /* l2[3]: U alias of RAM at 0xc0000000 */
#define VA_GIGA_BAD 0x100000000              /* l2[4] */
#define VA_HIGH     0x4000000000             /* l2[256]: RAM, read-only (non-canonical in Sv39) */
#define VA_TERA     0x8000000000             /* root[1]: 512 GiB page at PA 0 */
#define VA_TERA_BAD 0x10000000000            /* root[2]: misaligned 512 GiB page */
#define VA_TERA_AD  0x18000000000            /* root[3]: 512 GiB page with A = D = 0 */
#define VA_NEG      0xffffff8000000000       /* root[511]: 512 GiB page at PA 0, read-only */

#define PLOAD(reg, sym) la reg, sym; ld reg, 0(reg)

    .globl main
main:
    MAP_SYM(root, 0, l2, NONLEAF)
    MAP_PA(root, 1, 0x0, LEAF_RWX)
    MAP_PA(root, 2, 0x40000000, LEAF_RW)                 /* PPN[2:0] != 0 */
    MAP_PA(root, 3, 0x0, PTE_V | PTE_R | PTE_W)
    MAP_PA(root, 511, 0x0, PTE_V | PTE_R | PTE_A)
    MAP_PA(l2, 0, 0x0, LEAF_RW)                          /* devices */
    MAP_SYM(l2, 1, l1, NONLEAF)
    MAP_PA(l2, 2, 0x80000000, LEAF_RWX)                  /* identity map of RAM */
    MAP_PA(l2, 3, 0x80000000, LEAF_RWX | PTE_U)
    MAP_PA(l2, 4, 0x80200000, LEAF_RW)                   /* PPN[1] != 0 */
    MAP_PA(l2, 256, 0x80000000, PTE_V | PTE_R | PTE_A)
    MAP_SYM(l1, 0, l0, NONLEAF)
    MAP_PA(l1, 1, MEGA_PA, LEAF_RW)
    MAP_PA(l1, 2, MEGA_PA + 0x1000, LEAF_RW)
    MAP_SYM(l0, 0, pageA, LEAF_RW)
    MAP_SYM(l0, 2, pageA, PTE_V | PTE_R | PTE_W)         /* A = D = 0 */
    MAP_SYM(l0, 3, pageA, LEAF_RW | PTE_U)

    la a0, pageA
    li a1, 0x1111
    sd a1, 0(a0)
    li a0, MEGA_PA + 0x2000
    li a1, 0x3333
    sd a1, 0(a0)

    CASE(1)
    SATP_FOR(s0, SATP_SV48, root)
    csrw satp, s0
    csrr a1, satp
    CHECK_EQ(a1, s0)
    sfence.vma

    /* ---- every page size ----------------------------------------------------------- */
    EXPECT_OK_IN_MODE(10, PRV_S, li a1, VA(0); ld s1, 0(a1))
    CHECK(s1, 0x1111)
    EXPECT_OK_IN_MODE(11, PRV_S, li a1, VA_MEGA + 0x2000; ld s1, 0(a1))
    CHECK(s1, 0x3333)
    EXPECT_OK_IN_MODE(12, PRV_S, li a1, VA_HIGH - 0x80000000; la a2, pageA; add a1, a1, a2; ld s1, 0(a1))
    CHECK(s1, 0x1111)
    EXPECT_OK_IN_MODE(13, PRV_S, li a1, VA_TERA; la a2, pageA; add a1, a1, a2; ld s1, 0(a1))
    CHECK(s1, 0x1111)
    EXPECT_OK_IN_MODE(14, PRV_S, li a1, VA_TERA; la a2, pageA; add a1, a1, a2; li a3, 0x6666; sd a3, 16(a1))
    CASE(15)
    PLOAD(a1, pageA + 16)
    CHECK(a1, 0x6666)
    /* code runs through the 512 GiB page too */
    EXPECT_OK_IN_MODE(16, PRV_S, li a1, VA_TERA; la a2, get99; add a1, a1, a2; jalr a1; mv s1, a0)
    CHECK(s1, 99)
    /* negative (canonical) addresses */
    EXPECT_OK_IN_MODE(17, PRV_S, li a1, VA_NEG; la a2, pageA; add a1, a1, a2; ld s1, 0(a1))
    CHECK(s1, 0x1111)
    EXPECT_TRAP_IN_MODE(18, PRV_S, CAUSE_STORE_PAGE, li a1, VA_NEG + 0x80000000; sd zero, 0(a1))
    CHECK_MEM(trap_tval, VA_NEG + 0x80000000)

    /* ---- misaligned superpages ---------------------------------------------------------- */
    EXPECT_TRAP_IN_MODE(20, PRV_S, CAUSE_LOAD_PAGE, li a1, VA_MEGA_BAD; ld s1, 0(a1))
    CHECK_MEM(trap_tval, VA_MEGA_BAD)
    EXPECT_TRAP_IN_MODE(21, PRV_S, CAUSE_LOAD_PAGE, li a1, VA_GIGA_BAD + 8; ld s1, 0(a1))
    CHECK_MEM(trap_tval, VA_GIGA_BAD + 8)
    EXPECT_TRAP_IN_MODE(22, PRV_S, CAUSE_STORE_PAGE, li a1, VA_TERA_BAD + 0x80000000; sd zero, 0(a1))
    CHECK_MEM(trap_tval, VA_TERA_BAD + 0x80000000)
    EXPECT_TRAP_IN_MODE(23, PRV_S, CAUSE_FETCH_PAGE, li a1, VA_TERA_BAD + 0x80000000; jalr a1)
    CHECK_MEM(trap_tval, VA_TERA_BAD + 0x80000000)

    /* ---- invalid entries at each level ----------------------------------------------------- */
    EXPECT_TRAP_IN_MODE(25, PRV_S, CAUSE_LOAD_PAGE, li a1, VA(1); ld s1, 0(a1))            /* level 0 */
    EXPECT_TRAP_IN_MODE(26, PRV_S, CAUSE_LOAD_PAGE, li a1, VA_L0 + 0x600000; ld s1, 0(a1)) /* level 1 */
    EXPECT_TRAP_IN_MODE(27, PRV_S, CAUSE_LOAD_PAGE, li a1, 0x140000000; ld s1, 0(a1))      /* level 2 */
    EXPECT_TRAP_IN_MODE(28, PRV_S, CAUSE_LOAD_PAGE, li a1, 0x200000000000; ld s1, 0(a1))   /* level 3 */
    CHECK_MEM(trap_tval, 0x200000000000)

    /* ---- non-canonical: bits 63:48 must equal bit 47 -------------------------------------- */
    EXPECT_TRAP_IN_MODE(30, PRV_S, CAUSE_LOAD_PAGE, li a1, 0x0000800000000000; ld s1, 0(a1))
    CHECK_MEM(trap_tval, 0x0000800000000000)
    EXPECT_TRAP_IN_MODE(31, PRV_S, CAUSE_STORE_PAGE, li a1, 0x0001000080000000; sd zero, 0(a1))
    CHECK_MEM(trap_tval, 0x0001000080000000)
    EXPECT_TRAP_IN_MODE(32, PRV_S, CAUSE_FETCH_PAGE, li a1, 0xff00000080000000; jalr a1)
    CHECK_MEM(trap_tval, 0xff00000080000000)

    /* ---- A/D in a 512 GiB page PTE and a 4 KiB PTE ---------------------------------------- */
    EXPECT_OK_IN_MODE(40, PRV_S, li a1, VA_TERA_AD; la a2, pageA; add a1, a1, a2; ld s1, 0(a1))
    PTE_ADDR(a0, root, 3)
    ld a1, 0(a0)
    andi a2, a1, PTE_A | PTE_D
    CHECK(a2, PTE_A)
    EXPECT_OK_IN_MODE(41, PRV_S, li a1, VA_TERA_AD; la a2, pageA; add a1, a1, a2; sd s1, 24(a1))
    PTE_ADDR(a0, root, 3)
    ld a1, 0(a0)
    andi a2, a1, PTE_A | PTE_D
    CHECK(a2, PTE_A | PTE_D)
    EXPECT_OK_IN_MODE(42, PRV_S, li a1, VA(2); sd s1, 32(a1))
    PTE_ADDR(a0, l0, 2)
    ld a1, 0(a0)
    andi a2, a1, PTE_A | PTE_D
    CHECK(a2, PTE_A | PTE_D)

    /* ---- U-mode through the U alias ------------------------------------------------------- */
    CASE(50)
    RUN_AT(PRV_U, UOFF, li a1, VA(3); ld s1, 0(a1))
    CHECK_MEM(trap_cause, CAUSE_ECALL_U)
    CHECK(s1, 0x1111)
    CASE(51)
    RUN_AT(PRV_U, UOFF, li a1, VA(0); ld s1, 0(a1))
    CHECK_MEM(trap_cause, CAUSE_LOAD_PAGE)
    EXPECT_TRAP_IN_MODE(52, PRV_S, CAUSE_LOAD_PAGE, li a1, VA(3); ld s1, 0(a1))   /* SUM = 0 */

    /* ---- sfence.vma after a PTE change ------------------------------------------------------ */
    EXPECT_OK_IN_MODE(60, PRV_S, li a1, VA_TERA; la a2, pageA; add a1, a1, a2; ld s1, 0(a1))
    MAP_PA(root, 1, 0x0, PTE_V | PTE_R | PTE_A)          /* now read-only */
    EXPECT_TRAP_IN_MODE(61, PRV_S, CAUSE_STORE_PAGE, sfence.vma; li a1, VA_TERA; la a2, pageA; add a1, a1, a2; sd zero, 0(a1))
    MAP_PA(root, 1, 0x0, LEAF_RWX)
    EXPECT_OK_IN_MODE(62, PRV_S, sfence.vma; li a1, VA_TERA; la a2, pageA; add a1, a1, a2; sd zero, 40(a1))

    csrw satp, zero
    sfence.vma
    j pass

get99:
    li a0, 99
    ret

    .bss
    .balign 4096
root:  .skip 4096
l2:    .skip 4096
l1:    .skip 4096
l0:    .skip 4096
pageA: .skip 4096
