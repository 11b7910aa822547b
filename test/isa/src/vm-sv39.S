/* Sv39 paging (privileged spec 1.12, 4.3, 4.4): 4 KiB pages, 2 MiB and 1 GiB
   superpages, misaligned superpages, invalid and reserved (W without R) PTEs, a
   non-leaf PTE at the last level, R/W/X permissions and MXR, U-bit rules with SUM,
   hardware A/D updates visible in the PTE, load/store/fetch page faults with
   mtval = the virtual address (and the second half of a page-crossing
   instruction), non-canonical addresses, reserved PTE bits, misaligned accesses
   crossing into a faulting page, sfence.vma after PTE changes, switching between
   two ASIDs, a page fault delegated to S, and satp writes of an unsupported mode. */
#include "vm.h"

#define VA_L0    0x40000000                 /* root[1] -> l1, l1[0] -> l0 */
#define VA(i)    (VA_L0 + (i) * 0x1000)
#define VA_MEGA  0x40200000                 /* l1[1]: 2 MiB page at PA MEGA_PA */
#define VA_MEGA_BAD 0x40400000              /* l1[2]: misaligned 2 MiB page */
#define MEGA_PA  0x80400000
#define VA_GIGA  0xc0000000                 /* root[3]: 1 GiB alias of RAM, read-only */
#define VA_GIGA_BAD 0x100000000             /* root[4]: misaligned 1 GiB page */
#define UOFF     0xc0000000                 /* root[5]: U alias of RAM at 0x140000000 */
#define VA_WALK_FAULT 0x180000000           /* root[6]: next level in unmapped memory */

/* load a 64-bit word from physical symbol into reg (M-mode) */
#define PLOAD(reg, sym) la reg, sym; ld reg, 0(reg)

    .globl main
main:
    /* ---- build the tables (M-mode, physical) ------------------------------------- */
    MAP_PA(root, 0, 0x00000000, LEAF_RW)                 /* devices, for fail from S */
    MAP_SYM(root, 1, l1, NONLEAF)
    MAP_PA(root, 2, 0x80000000, LEAF_RWX)                /* identity map of RAM */
    MAP_PA(root, 3, 0x80000000, PTE_V | PTE_R | PTE_A)
    MAP_PA(root, 4, 0x80200000, LEAF_RW)                 /* PPN[1] != 0: misaligned */
    MAP_PA(root, 5, 0x80000000, LEAF_RWX | PTE_U)
    MAP_PA(root, 6, 0x90000000, NONLEAF)
    MAP_SYM(l1, 0, l0, NONLEAF)
    MAP_PA(l1, 1, MEGA_PA, LEAF_RW)
    MAP_PA(l1, 2, MEGA_PA + 0x1000, LEAF_RW)             /* PPN[0] != 0: misaligned */
    MAP_SYM(l0, 0, pageA, LEAF_RW)
    MAP_SYM(l0, 1, pageA, LEAF_RW)
    /* l0[2] stays invalid */
    MAP_SYM(l0, 3, pageB, PTE_V | PTE_R | PTE_A | PTE_D)
    MAP_SYM(l0, 4, pageB, PTE_V | PTE_X | PTE_A)
    MAP_SYM(l0, 5, pageB, PTE_V | PTE_W | PTE_A | PTE_D) /* W without R: reserved */
    MAP_SYM(l0, 6, codepage, LEAF_RW)                    /* not executable */
    MAP_SYM(l0, 7, codepage, PTE_V | PTE_R | PTE_X | PTE_A)
    MAP_SYM(l0, 8, pageB, LEAF_RW | PTE_U)
    MAP_SYM(l0, 9, pageE, PTE_V | PTE_R | PTE_W)         /* A = D = 0 */
    MAP_SYM(l0, 10, codepage, PTE_V | PTE_R | PTE_X)     /* A = 0 */
    MAP_SYM(l0, 11, pageA, LEAF_RW)
    MAP_SYM(l0, 12, xpage, PTE_V | PTE_R | PTE_X | PTE_A)
    /* l0[13] stays invalid */
    MAP_SYM(l0, 14, pageA, NONLEAF)                      /* pointer at the last level */
    MAP_SYM(l0, 15, codepage, PTE_V | PTE_R | PTE_X | PTE_A | PTE_U)

    /* data: pageA[0] = 0x1111, pageB[0] = 0x2222, MEGA_PA+0x1234 = 0x3333 */
    la a0, pageA
    li a1, 0x1111
    sd a1, 0(a0)
    la a0, pageB
    li a1, 0x2222
    sd a1, 0(a0)
    li a0, MEGA_PA + 0x1230
    li a1, 0x3333
    sd a1, 0(a0)
    /* xpage: a 4-byte instruction starting 2 bytes before the end of the page */
    la a0, xpage + 0xffe
    li a1, 0x0513                       /* low half of addi a0, a0, 1 */
    sh a1, 0(a0)

    /* satp: a reserved mode is not written */
    CASE(1)
    csrw satp, zero
    li a0, (5 << 60) | 0x1234
    csrw satp, a0
    csrr a1, satp
    CHECK(a1, 0)
    CASE(2)
    SATP_FOR(s0, SATP_SV39, root)
    csrw satp, s0
    csrr a1, satp
    CHECK_EQ(a1, s0)
    sfence.vma
    /* M-mode is not translated: a physical load still works */
    PLOAD(a1, pageA)
    CHECK(a1, 0x1111)

    /* ---- 4 KiB pages -------------------------------------------------------------- */
    EXPECT_OK_IN_MODE(10, PRV_S, li a1, VA(0); ld s1, 0(a1))
    CHECK(s1, 0x1111)
    EXPECT_OK_IN_MODE(11, PRV_S, li a1, VA(1); li a2, 0x4444; sd a2, 8(a1); li a1, VA(0); ld s1, 8(a1))
    CHECK(s1, 0x4444)                                   /* two VAs, one PA */
    CASE(12)
    PLOAD(a1, pageA + 8)
    CHECK(a1, 0x4444)
    /* ---- superpages ------------------------------------------------------------------ */
    EXPECT_OK_IN_MODE(13, PRV_S, li a1, VA_MEGA + 0x1230; ld s1, 0(a1))
    CHECK(s1, 0x3333)
    EXPECT_OK_IN_MODE(14, PRV_S, li a1, VA_GIGA - 0x80000000; la a2, pageB; add a1, a1, a2; ld s1, 0(a1))
    CHECK(s1, 0x2222)
    EXPECT_TRAP_IN_MODE(15, PRV_S, CAUSE_STORE_PAGE, li a1, VA_GIGA + 0x100000; sd zero, 0(a1))
    CHECK_MEM(trap_tval, VA_GIGA + 0x100000)
    EXPECT_TRAP_IN_MODE(16, PRV_S, CAUSE_LOAD_PAGE, li a1, VA_MEGA_BAD + 8; ld s1, 0(a1))
    CHECK_MEM(trap_tval, VA_MEGA_BAD + 8)
    EXPECT_TRAP_IN_MODE(17, PRV_S, CAUSE_LOAD_PAGE, li a1, VA_GIGA_BAD; ld s1, 0(a1))
    CHECK_MEM(trap_tval, VA_GIGA_BAD)
    EXPECT_TRAP_IN_MODE(18, PRV_S, CAUSE_STORE_PAGE, li a1, VA_GIGA_BAD + 0x10; sd zero, 0(a1))
    CHECK_MEM(trap_tval, VA_GIGA_BAD + 0x10)

    /* ---- invalid PTEs ------------------------------------------------------------------ */
    EXPECT_TRAP_IN_MODE(20, PRV_S, CAUSE_LOAD_PAGE, li a1, VA(2) + 0x10; ld s1, 0(a1))
    CHECK_MEM(trap_tval, VA(2) + 0x10)
    EXPECT_TRAP_IN_MODE(21, PRV_S, CAUSE_STORE_PAGE, li a1, VA(2); sw zero, 4(a1))
    CHECK_MEM(trap_tval, VA(2) + 4)
    EXPECT_TRAP_IN_MODE(22, PRV_S, CAUSE_FETCH_PAGE, li a1, VA(2) + 0x20; jalr a1)
    CHECK_MEM(trap_tval, VA(2) + 0x20)
    CHECK_MEM(trap_epc, VA(2) + 0x20)
    EXPECT_TRAP_IN_MODE(23, PRV_S, CAUSE_LOAD_PAGE, li a1, VA(14); ld s1, 0(a1))  /* non-leaf at level 0 */
    CHECK_MEM(trap_tval, VA(14))
    EXPECT_TRAP_IN_MODE(24, PRV_S, CAUSE_LOAD_PAGE, li a1, VA(5); ld s1, 0(a1))   /* W without R */
    EXPECT_TRAP_IN_MODE(25, PRV_S, CAUSE_STORE_PAGE, li a1, VA(5); sd zero, 0(a1))
    /* an AMO needs write permission: store page fault */
    EXPECT_TRAP_IN_MODE(26, PRV_S, CAUSE_STORE_PAGE, li a1, VA(3); amoadd.d s1, zero, (a1))
    CHECK_MEM(trap_tval, VA(3))

    /* ---- permissions -------------------------------------------------------------------- */
    EXPECT_OK_IN_MODE(30, PRV_S, li a1, VA(3); ld s1, 0(a1))                    /* R */
    CHECK(s1, 0x2222)
    EXPECT_TRAP_IN_MODE(31, PRV_S, CAUSE_STORE_PAGE, li a1, VA(3); sd zero, 8(a1))
    CHECK_MEM(trap_tval, VA(3) + 8)
    EXPECT_TRAP_IN_MODE(32, PRV_S, CAUSE_LOAD_PAGE, li a1, VA(4); ld s1, 0(a1))  /* X only */
    CHECK_MEM(trap_tval, VA(4))
    li a0, MSTATUS_MXR
    csrs mstatus, a0
    EXPECT_OK_IN_MODE(33, PRV_S, li a1, VA(4); ld s1, 0(a1))                    /* MXR */
    CHECK(s1, 0x2222)
    EXPECT_TRAP_IN_MODE(34, PRV_S, CAUSE_STORE_PAGE, li a1, VA(4); sd zero, 0(a1))
    li a0, MSTATUS_MXR
    csrc mstatus, a0
    EXPECT_TRAP_IN_MODE(35, PRV_S, CAUSE_FETCH_PAGE, li a1, VA(6); jalr a1)     /* not X */
    CHECK_MEM(trap_tval, VA(6))
    EXPECT_OK_IN_MODE(36, PRV_S, li a1, VA(7); li a0, 0; jalr a1; mv s1, a0)    /* X: runs */
    CHECK(s1, 99)

    /* ---- U bit -------------------------------------------------------------------------- */
    EXPECT_TRAP_IN_MODE(40, PRV_S, CAUSE_LOAD_PAGE, li a1, VA(8); ld s1, 0(a1)) /* SUM = 0 */
    EXPECT_TRAP_IN_MODE(41, PRV_S, CAUSE_STORE_PAGE, li a1, VA(8); sd zero, 8(a1))
    li a0, MSTATUS_SUM
    csrs sstatus, a0
    EXPECT_OK_IN_MODE(42, PRV_S, li a1, VA(8); ld s1, 0(a1); li a2, 0x5555; sd a2, 8(a1))
    CHECK(s1, 0x2222)
    /* S never executes from a U page, SUM or not */
    EXPECT_TRAP_IN_MODE(43, PRV_S, CAUSE_FETCH_PAGE, li a1, VA(15); jalr a1)
    CHECK_MEM(trap_tval, VA(15))
    li a0, MSTATUS_SUM
    csrc sstatus, a0
    /* U-mode, running through the U alias of RAM */
    CASE(44)
    RUN_AT(PRV_U, UOFF, li a1, VA(8); ld s1, 8(a1))
    CHECK_MEM(trap_cause, CAUSE_ECALL_U)
    CHECK(s1, 0x5555)
    CASE(45)
    RUN_AT(PRV_U, UOFF, li a1, VA(0); ld s1, 0(a1))                             /* S page */
    CHECK_MEM(trap_cause, CAUSE_LOAD_PAGE)
    CHECK_MEM(trap_tval, VA(0))
    CASE(46)
    RUN_AT(PRV_U, UOFF, li a1, VA(3); sd zero, 0(a1))
    CHECK_MEM(trap_cause, CAUSE_STORE_PAGE)
    CASE(47)
    RUN_AT(PRV_U, UOFF, li a1, VA(15); li a0, 0; jalr a1; mv s1, a0)            /* U code page */
    CHECK_MEM(trap_cause, CAUSE_ECALL_U)
    CHECK(s1, 99)
    CASE(48)
    RUN_AT(PRV_U, UOFF, li a1, VA(7); jalr a1)                                  /* S code page */
    CHECK_MEM(trap_cause, CAUSE_FETCH_PAGE)
    CHECK_MEM(trap_tval, VA(7))
    CASE(49)
    RUN_IN_MODE(PRV_U, nop)                     /* U at the identity (S-only) mapping */
    CHECK_MEM(trap_cause, CAUSE_FETCH_PAGE)

    /* ---- accessed and dirty bits set by hardware ----------------------------------------- */
    EXPECT_OK_IN_MODE(50, PRV_S, li a1, VA(9); ld s1, 0(a1))
    PTE_ADDR(a0, l0, 9)
    ld a1, 0(a0)
    andi a2, a1, PTE_A | PTE_D
    CHECK(a2, PTE_A)
    EXPECT_OK_IN_MODE(51, PRV_S, li a1, VA(9); sd zero, 0(a1))
    PTE_ADDR(a0, l0, 9)
    ld a1, 0(a0)
    andi a2, a1, PTE_A | PTE_D
    CHECK(a2, PTE_A | PTE_D)
    EXPECT_OK_IN_MODE(52, PRV_S, li a1, VA(10); li a0, 0; jalr a1)
    PTE_ADDR(a0, l0, 10)
    ld a1, 0(a0)
    andi a2, a1, PTE_A | PTE_D
    CHECK(a2, PTE_A)

    /* ---- fetch of an instruction that crosses into an invalid page ----------------------- */
    EXPECT_TRAP_IN_MODE(55, PRV_S, CAUSE_FETCH_PAGE, li a1, VA(12) + 0xffe; jalr a1)
    CHECK_MEM(trap_epc, VA(12) + 0xffe)
    CHECK_MEM(trap_tval, VA(13))

    /* ---- non-canonical virtual addresses --------------------------------------------------- */
    EXPECT_TRAP_IN_MODE(60, PRV_S, CAUSE_LOAD_PAGE, li a1, 0x0000004000000000; ld s1, 0(a1))
    CHECK_MEM(trap_tval, 0x0000004000000000)
    EXPECT_TRAP_IN_MODE(61, PRV_S, CAUSE_STORE_PAGE, li a1, 0x8000000080000000; sd zero, 0(a1))
    CHECK_MEM(trap_tval, 0x8000000080000000)
    EXPECT_TRAP_IN_MODE(62, PRV_S, CAUSE_LOAD_PAGE, li a1, 0xffffffc000000000 - 0x80000000; ld s1, 0(a1))
    /* canonical with bit 38 set: a valid walk that ends at an invalid root entry */
    EXPECT_TRAP_IN_MODE(63, PRV_S, CAUSE_LOAD_PAGE, li a1, 0xffffffffc0000000; ld s1, 0(a1))
    CHECK_MEM(trap_tval, 0xffffffffc0000000)

    /* ---- sfence.vma after a PTE change ------------------------------------------------------ */
    EXPECT_OK_IN_MODE(70, PRV_S, li a1, VA(11); ld s1, 0(a1))
    CHECK(s1, 0x1111)
    MAP_SYM(l0, 11, pageB, LEAF_RW)
    EXPECT_OK_IN_MODE(71, PRV_S, li a1, VA(11); sfence.vma a1, zero; ld s1, 0(a1))
    CHECK(s1, 0x2222)
    /* S clears its own PTE (tables are reachable through the identity map), fences */
    EXPECT_TRAP_IN_MODE(72, PRV_S, CAUSE_LOAD_PAGE, PTE_ADDR(a2, l0, 11); sd zero, 0(a2); sfence.vma; li a1, VA(11); ld s1, 0(a1))
    CHECK_MEM(trap_tval, VA(11))
    MAP_SYM(l0, 11, pageA, LEAF_RW)
    EXPECT_OK_IN_MODE(74, PRV_S, sfence.vma zero, zero; li a1, VA(11); ld s1, 0(a1))
    CHECK(s1, 0x1111)
    /* the same with an ASID-specific fence (satp.ASID is 0 here) */
    MAP_SYM(l0, 11, pageB, LEAF_RW)
    EXPECT_OK_IN_MODE(75, PRV_S, li a1, VA(11); sfence.vma a1, zero; ld s1, 0(a1))
    CHECK(s1, 0x2222)
    MAP_SYM(l0, 11, pageA, LEAF_RW)
    EXPECT_OK_IN_MODE(76, PRV_S, sfence.vma zero, zero; li a1, VA(11); ld s1, 0(a1))
    CHECK(s1, 0x1111)

    /* ---- instruction fetch after a code page is remapped (and fenced) ----------- */
    la a0, pageE
    li a1, 0x02a00513                   /* li a0, 42 */
    sw a1, 0(a0)
    li a1, 0x00008067                   /* ret */
    sw a1, 4(a0)
    fence.i
    MAP_SYM(l0, 11, codepage, PTE_V | PTE_R | PTE_X | PTE_A)
    EXPECT_OK_IN_MODE(77, PRV_S, sfence.vma; li a1, VA(11); li a0, 0; jalr a1; mv s1, a0)
    CHECK(s1, 99)
    MAP_SYM(l0, 11, pageE, PTE_V | PTE_R | PTE_X | PTE_A)
    EXPECT_OK_IN_MODE(78, PRV_S, sfence.vma; li a1, VA(11); li a0, 0; jalr a1; mv s1, a0)
    CHECK(s1, 42)
    MAP_SYM(l0, 11, pageA, LEAF_RW)
    sfence.vma

    /* ---- page fault delegated to S -------------------------------------------------------- */
    li a0, (1 << CAUSE_LOAD_PAGE) | (1 << CAUSE_STORE_PAGE) | (1 << CAUSE_FETCH_PAGE)
    csrw medeleg, a0
    CASE(80)
    ARM_STRAP(2f)
    RUN_IN_MODE(PRV_S, li a1, VA(2) + 0x18; 1: ld s1, 0(a1); j fail; 2:)
    CHECK_MEM(strap_cause, CAUSE_LOAD_PAGE)
    CHECK_MEM(strap_tval, VA(2) + 0x18)
    la a0, 1b
    CHECK_MEM_EQ(strap_epc, a0)
    CHECK_MEM(trap_cause, CAUSE_ECALL_S)
    CASE(81)
    ARM_STRAP(2f)
    RUN_AT(PRV_U, UOFF, li a1, VA(0); sd zero, 0(a1); j fail; 2:)
    CHECK_MEM(strap_cause, CAUSE_STORE_PAGE)
    CHECK_MEM(strap_tval, VA(0))
    csrw medeleg, zero

    /* ---- reserved PTE bits 63:54 (N, PBMT, reserved) must be zero (4.3.1) -------------- */
    SET_PTE_RAW(root, 7, (0x80000000 >> 2) | LEAF_RW | (1 << 54))
    SET_PTE_RAW(root, 8, (0x80000000 >> 2) | LEAF_RW | (1 << 61))
    SET_PTE_RAW(root, 9, (0x80000000 >> 2) | LEAF_RW | (1 << 63))
    sfence.vma
    EXPECT_TRAP_IN_MODE(100, PRV_S, CAUSE_LOAD_PAGE, li a1, 0x1c0000000; ld s1, 0(a1))
    CHECK_MEM(trap_tval, 0x1c0000000)
    EXPECT_TRAP_IN_MODE(101, PRV_S, CAUSE_LOAD_PAGE, li a1, 0x200000000; ld s1, 0(a1))
    EXPECT_TRAP_IN_MODE(102, PRV_S, CAUSE_STORE_PAGE, li a1, 0x240000000; sd s1, 0(a1))

    /* ---- misaligned accesses crossing into a page that faults: mtval = that page ------ */
    EXPECT_TRAP_IN_MODE(103, PRV_S, CAUSE_LOAD_PAGE, li a1, VA(2) - 4; ld s1, 0(a1))
    CHECK_MEM(trap_tval, VA(2))
    EXPECT_TRAP_IN_MODE(104, PRV_S, CAUSE_STORE_PAGE, li a1, VA(12) - 2; sw s1, 0(a1))   /* into RX */
    CHECK_MEM(trap_tval, VA(12))
    /* the same access within one good page works */
    EXPECT_OK_IN_MODE(105, PRV_S, li a1, VA(0) + 0x7fd; li a2, 0x1122334455667788; sd a2, 0(a1); ld s1, 0(a1))
    CHECK(s1, 0x1122334455667788)
    /* an instruction crossing into a valid but non-executable page */
    MAP_SYM(l0, 13, pageB, PTE_V | PTE_R | PTE_A)
    sfence.vma
    EXPECT_TRAP_IN_MODE(106, PRV_S, CAUSE_FETCH_PAGE, li a1, VA(12) + 0xffe; jalr a1)
    CHECK_MEM(trap_epc, VA(12) + 0xffe)
    CHECK_MEM(trap_tval, VA(13))
    /* an instruction split across two virtual pages whose physical pages are not
       adjacent: the upper half comes from the second page's own frame */
    la a0, xpage2
    li a1, 0x80820015                   /* upper half of addi a0, a0, 1; c.jr ra */
    sw a1, 0(a0)
    fence.i
    MAP_SYM(l0, 13, xpage2, PTE_V | PTE_R | PTE_X | PTE_A)
    EXPECT_OK_IN_MODE(107, PRV_S, sfence.vma; li a1, VA(12) + 0xffe; li a0, 5; jalr a1; mv s1, a0)
    CHECK(s1, 6)
    SET_PTE_RAW(l0, 13, 0)
    sfence.vma

    /* ---- two address spaces (ASIDs 1 and 2), switched by satp writes alone ----------- */
    /* Both sets of tables are complete before one global fence, so no further fence is
       needed when switching (4.1.11). rootB maps VA(0) to pageB instead of pageA. */
    MAP_PA(rootB, 0, 0x00000000, LEAF_RW)
    MAP_SYM(rootB, 1, l1B, NONLEAF)
    MAP_PA(rootB, 2, 0x80000000, LEAF_RWX)
    MAP_SYM(l1B, 0, l0B, NONLEAF)
    MAP_SYM(l0B, 0, pageB, LEAF_RW)
    sfence.vma
    CASE(110)
    SATP_FOR(s2, SATP_SV39 | (1 << 44), root)
    SATP_FOR(s3, SATP_SV39 | (2 << 44), rootB)
    csrw satp, s2
    csrr a0, satp
    CHECK_EQ(a0, s2)                    /* ASID bits are implemented */
    EXPECT_OK_IN_MODE(111, PRV_S, li a1, VA(0); ld s1, 0(a1))
    CHECK(s1, 0x1111)
    csrw satp, s3
    EXPECT_OK_IN_MODE(112, PRV_S, li a1, VA(0); ld s1, 0(a1))
    CHECK(s1, 0x2222)
    csrw satp, s2
    EXPECT_OK_IN_MODE(113, PRV_S, li a1, VA(0); ld s1, 0(a1))
    CHECK(s1, 0x1111)
    /* S switches itself */
    EXPECT_OK_IN_MODE(114, PRV_S, li a1, VA(0); ld s1, 0(a1); csrw satp, s3; ld s4, 0(a1); csrw satp, s2; ld s5, 0(a1))
    CHECK(s1, 0x1111)
    CHECK(s4, 0x2222)
    CHECK(s5, 0x1111)
    SATP_FOR(s0, SATP_SV39, root)
    csrw satp, s0
    sfence.vma

    /* ---- translation off again ----------------------------------------------------------- */
    csrw satp, zero
    sfence.vma
    EXPECT_OK_IN_MODE(90, PRV_S, la a1, pageA; ld s1, 0(a1))
    CHECK(s1, 0x1111)

    j pass

    /* executable page: li a0, 99; ret */
    .text
    .balign 4096
codepage:
    li a0, 99
    ret
    .balign 4096

    .bss
    .balign 4096
root:  .skip 4096
l1:    .skip 4096
l0:    .skip 4096
rootB: .skip 4096
l1B:   .skip 4096
l0B:   .skip 4096
pageA: .skip 4096
pageB: .skip 4096
pageE: .skip 4096
xpage: .skip 4096
xpage2: .skip 4096
