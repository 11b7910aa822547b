/* mstatus.MPRV, SUM and MXR (privileged spec 1.12, 3.1.6.3): with MPRV = 1, M-mode
   loads, stores and AMOs are translated and checked as if in the mode held in MPP
   (S or U), including page faults taken in M with mtval = the virtual address,
   SUM for S access to U pages and MXR for loads from execute-only pages;
   instruction fetch stays untranslated; MPP = M means no translation; such faults
   are never delegated to S (traps do not go to a less privileged mode). */
#include "vm.h"

#define VA_L0 0x40000000
#define VA(i) (VA_L0 + (i) * 0x1000)

#define MPRV_ON(mode) SET_MPP(mode); li t6, MSTATUS_MPRV; csrs mstatus, t6
#define MPRV_OFF      li t6, MSTATUS_MPRV; csrc mstatus, t6

/* case n: with MPRV and MPP = mode, `code` must not trap; value left in s1 */
#define MPRV_OK(n, mode, code...) \
    CASE(n); MPRV_ON(mode); code; MPRV_OFF
/* case n: with MPRV and MPP = mode, `code` must trap to M with cause and mtval */
#define MPRV_FAULT(n, mode, cause, tval, code...) \
    CASE(n); ARM_TRAP(8201f); MPRV_ON(mode); code; MPRV_OFF; j fail; \
    8201: MPRV_OFF; DISARM_TRAP; CHECK_MEM(trap_cause, cause); CHECK_MEM(trap_tval, tval)

    .globl main
main:
    MAP_PA(root, 0, 0x00000000, LEAF_RW)
    MAP_SYM(root, 1, l1, NONLEAF)
    MAP_PA(root, 2, 0x80000000, LEAF_RWX)
    MAP_SYM(l1, 0, l0, NONLEAF)
    MAP_SYM(l0, 0, pageA, LEAF_RW)                       /* S page */
    MAP_SYM(l0, 1, pageB, LEAF_RW | PTE_U)               /* U page */
    MAP_SYM(l0, 2, pageA, PTE_V | PTE_X | PTE_A)         /* execute-only */
    MAP_SYM(l0, 4, pageB, PTE_V | PTE_R | PTE_A | PTE_U) /* U read-only */
    la a0, pageA
    li a1, 0xaaaa
    sd a1, 0(a0)
    la a0, pageB
    li a1, 0xbbbb
    sd a1, 0(a0)
    SATP_FOR(s0, SATP_SV39, root)
    csrw satp, s0
    sfence.vma

    /* ---- MPP = S ------------------------------------------------------------------- */
    MPRV_OK(1, PRV_S, li a1, VA(0); ld s1, 0(a1))
    CHECK(s1, 0xaaaa)
    MPRV_OK(2, PRV_S, li a1, VA(0); li a2, 0x1234; sd a2, 8(a1))
    CASE(3)
    la a0, pageA
    ld a1, 8(a0)
    CHECK(a1, 0x1234)
    MPRV_OK(4, PRV_S, li a1, VA(0) + 8; li a2, 1; amoadd.d s1, a2, (a1))
    CHECK(s1, 0x1234)
    CASE(5)
    la a0, pageA
    ld a1, 8(a0)
    CHECK(a1, 0x1235)
    /* unmapped VA: page fault taken in M, mtval = VA */
    MPRV_FAULT(6, PRV_S, CAUSE_LOAD_PAGE, VA(3) + 8, li a1, VA(3); ld s1, 8(a1))
    MPRV_FAULT(7, PRV_S, CAUSE_STORE_PAGE, VA(3), li a1, VA(3); sd zero, 0(a1))
    CASE(8)                                 /* trap entry set MPP = M (from M): the handler's */
    la a1, trap_status                      /* own accesses were not translated */
    ld a1, 0(a1)
    srli a1, a1, 11
    andi a1, a1, 3
    CHECK(a1, PRV_M)
    /* SUM */
    MPRV_FAULT(10, PRV_S, CAUSE_LOAD_PAGE, VA(1), li a1, VA(1); ld s1, 0(a1))
    li a0, MSTATUS_SUM
    csrs mstatus, a0
    MPRV_OK(11, PRV_S, li a1, VA(1); ld s1, 0(a1))
    CHECK(s1, 0xbbbb)
    MPRV_FAULT(12, PRV_S, CAUSE_STORE_PAGE, VA(4), li a1, VA(4); sd zero, 0(a1))  /* SUM does not grant W */
    li a0, MSTATUS_SUM
    csrc mstatus, a0
    /* MXR */
    MPRV_FAULT(13, PRV_S, CAUSE_LOAD_PAGE, VA(2), li a1, VA(2); ld s1, 0(a1))
    li a0, MSTATUS_MXR
    csrs mstatus, a0
    MPRV_OK(14, PRV_S, li a1, VA(2); ld s1, 0(a1))
    CHECK(s1, 0xaaaa)
    MPRV_FAULT(15, PRV_S, CAUSE_STORE_PAGE, VA(2), li a1, VA(2); sd zero, 0(a1))
    li a0, MSTATUS_MXR
    csrc mstatus, a0

    /* ---- a fault of an M-mode access is taken in M even if medeleg delegates it ----- */
    li a0, (1 << CAUSE_LOAD_PAGE) | (1 << CAUSE_STORE_PAGE)
    csrw medeleg, a0
    CASE(16)
    la a0, strap_count
    ld s3, 0(a0)
    MPRV_FAULT(17, PRV_S, CAUSE_LOAD_PAGE, VA(3), li a1, VA(3); ld s1, 0(a1))
    CASE(18)
    la a0, strap_count
    ld s4, 0(a0)
    CHECK_EQ(s3, s4)
    csrw medeleg, zero

    /* ---- MPP = U ------------------------------------------------------------------------ */
    MPRV_OK(20, PRV_U, li a1, VA(1); ld s1, 0(a1))
    CHECK(s1, 0xbbbb)
    MPRV_FAULT(21, PRV_U, CAUSE_LOAD_PAGE, VA(0), li a1, VA(0); ld s1, 0(a1))
    /* SUM has no effect on U accesses to S pages */
    li a0, MSTATUS_SUM
    csrs mstatus, a0
    MPRV_FAULT(22, PRV_U, CAUSE_STORE_PAGE, VA(0), li a1, VA(0); sd zero, 0(a1))
    li a0, MSTATUS_SUM
    csrc mstatus, a0
    /* instruction fetch is not affected: this code runs in M from a page U may not use */
    MPRV_OK(23, PRV_U, li a1, VA(1); ld s1, 0(a1); nop; nop; li a1, VA(1); ld s2, 0(a1))
    CHECK(s2, 0xbbbb)

    /* ---- MPP = M: no translation ----------------------------------------------------------- */
    /* unmap RAM for S: an S-translated access to pageA now faults, an M one does not */
    SET_PTE_RAW(root, 2, 0)
    sfence.vma
    MPRV_OK(30, PRV_M, la a1, pageA; ld s1, 0(a1))
    CHECK(s1, 0xaaaa)
    la s2, pageA
    CASE(31)
    ARM_TRAP(1f)
    MPRV_ON(PRV_S)
    ld s1, 0(s2)
    MPRV_OFF
    j fail
1:  MPRV_OFF
    DISARM_TRAP
    CHECK_MEM(trap_cause, CAUSE_LOAD_PAGE)
    CHECK_MEM_EQ(trap_tval, s2)
    MAP_PA(root, 2, 0x80000000, LEAF_RWX)
    sfence.vma

    /* ---- satp Bare: MPRV with MPP = U is just a U-mode physical access ------------------- */
    csrw satp, zero
    sfence.vma
    MPRV_OK(40, PRV_U, la a1, pageA; ld s1, 0(a1))
    CHECK(s1, 0xaaaa)

    j pass

    .bss
    .balign 4096
root:  .skip 4096
l1:    .skip 4096
l0:    .skip 4096
pageA: .skip 4096
pageB: .skip 4096
