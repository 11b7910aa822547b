/* Zifencei: code written with stores becomes executable after fence.i, including
   code that already ran (a core that caches decoded instructions must drop it),
   compressed code, code written into the instruction stream just ahead, and with
   Sv39 translation code written through a RW alias and run through a RX alias. */
#include "vm.h"

#define INSN_LI_A0(v)  (0x00000513 | ((v) << 20))   /* addi a0, x0, v */
#define INSN_RET       0x00008067                   /* jalr x0, 0(ra) */
#define CINSN_LI_A0(v) (0x4501 | ((v) << 2))        /* c.li a0, v (0 <= v < 32) */
#define CINSN_RET      0x8082                       /* c.jr ra */

    .globl main
main:
    la s0, codebuf
    /* write a function, fence.i, call it */
    CASE(1)
    li a1, INSN_LI_A0(42)
    sw a1, 0(s0)
    li a1, INSN_RET
    sw a1, 4(s0)
    fence.i
    li a0, 0
    jalr ra, 0(s0)
    CHECK(a0, 42)
    /* call it again (now possibly cached) */
    CASE(2)
    li a0, 0
    jalr ra, 0(s0)
    CHECK(a0, 42)
    /* rewrite the first instruction: the new one runs after fence.i */
    CASE(3)
    li a1, INSN_LI_A0(43)
    sw a1, 0(s0)
    fence.i
    jalr ra, 0(s0)
    CHECK(a0, 43)
    /* several rewrites of the same function in a loop */
    CASE(4)
    li s1, 1
    li s2, 20
1:  slli a1, s1, 20
    li a2, 0x00000513
    or a1, a1, a2
    sw a1, 0(s0)
    fence.i
    jalr ra, 0(s0)
    CHECK_EQ(a0, s1)
    addi s1, s1, 1
    ble s1, s2, 1b
    /* compressed code: c.li a0, 9; c.jr ra */
    CASE(5)
    li a1, CINSN_LI_A0(9) | (CINSN_RET << 16)
    sw a1, 0(s0)
    fence.i
    jalr ra, 0(s0)
    CHECK(a0, 9)
    /* a 32-bit instruction at a 2-byte aligned offset: c.nop; addi a0, x0, 17; c.jr ra */
    CASE(6)
    li a1, 0x0001 | ((INSN_LI_A0(17) & 0xffff) << 16)
    sw a1, 0(s0)
    li a1, (INSN_LI_A0(17) >> 16) | (CINSN_RET << 16)
    sw a1, 4(s0)
    fence.i
    jalr ra, 0(s0)
    CHECK(a0, 17)
    /* patch the instruction stream just ahead of the pc */
    CASE(7)
    la a2, 2f
    li a1, INSN_LI_A0(77)
    sw a1, 0(a2)
    fence.i
    .option push
    .option norvc
2:  addi a0, x0, 1              /* replaced by addi a0, x0, 77 */
    .option pop
    CHECK(a0, 77)
    /* a loop body patched between iterations */
    CASE(8)
    li s1, 0
    li s3, 0
    la s4, 4f
3:  .option push
    .option norvc
4:  addi s3, s3, 1              /* becomes addi s3, s3, 10 after the first pass */
    .option pop
    addi s1, s1, 1
    li a1, 0x00a98993           /* addi s3, s3, 10 */
    sw a1, 0(s4)
    fence.i
    li a2, 3
    blt s1, a2, 3b
    CHECK(s3, 21)
    /* restore the patched code so a rerun of the program starts clean */
    li a1, 0x00198993           /* addi s3, s3, 1 */
    sw a1, 0(s4)
    la a2, 2b
    li a1, INSN_LI_A0(1)
    sw a1, 0(a2)
    fence.i

    /* ---- with translation: code written through one virtual alias (RW) runs at
       another (RX) after fence.i; also after M writes it physically -------------- */
    MAP_PA(root, 0, 0x00000000, LEAF_RW)
    MAP_SYM(root, 1, l1, NONLEAF)
    MAP_PA(root, 2, 0x80000000, LEAF_RWX)
    MAP_SYM(l1, 0, l0, NONLEAF)
    MAP_SYM(l0, 0, codepage, PTE_V | PTE_R | PTE_X | PTE_A)         /* 0x40000000: RX */
    MAP_SYM(l0, 1, codepage, LEAF_RW)                               /* 0x40001000: RW */
    SATP_FOR(s5, SATP_SV39, root)
    csrw satp, s5
    sfence.vma
    li s6, INSN_RET
    li a1, INSN_LI_A0(5)
    la a2, codepage
    sw a1, 0(a2)
    sw s6, 4(a2)
    fence.i
    EXPECT_OK_IN_MODE(10, PRV_S, li a3, 0x40000000; jalr a3; mv s1, a0)
    CHECK(s1, 5)
    EXPECT_OK_IN_MODE(11, PRV_S, li a1, INSN_LI_A0(6); li a4, 0x40001000; sw a1, 0(a4); fence.i; li a3, 0x40000000; jalr a3; mv s1, a0)
    CHECK(s1, 6)
    /* repeatedly, alternating values, in one S-mode run */
    EXPECT_OK_IN_MODE(12, PRV_S, li s2, 0; li s3, 0; li a4, 0x40001000; li a3, 0x40000000; \
        1: slli a1, s2, 20; li a2, 0x00000513; or a1, a1, a2; sw a1, 0(a4); fence.i; jalr a3; add s3, s3, a0; \
        addi s2, s2, 1; li a2, 10; blt s2, a2, 1b)
    CHECK(s3, 45)                       /* 0 + 1 + ... + 9 */
    /* M rewrites it physically */
    li a1, INSN_LI_A0(31)
    la a2, codepage
    sw a1, 0(a2)
    fence.i
    EXPECT_OK_IN_MODE(13, PRV_S, li a3, 0x40000000; jalr a3; mv s1, a0)
    CHECK(s1, 31)
    csrw satp, zero
    sfence.vma

    j pass

    .data
    .align 6
codebuf: .skip 64

    .bss
    .balign 4096
root:     .skip 4096
l1:       .skip 4096
l0:       .skip 4096
codepage: .skip 4096
