/* RV64I control transfer: all six branches taken and not taken (signed and
   unsigned edges, forward and backward), jal and jalr link values, jalr
   offset and bit-0 clearing, jalr with rd == rs1, writes to x0 as link, and
   FENCE variants and HINT encodings executing as no-ops. */
#include "test.h"

/* case n: branch `op a, b` must be taken */
#define TAKEN(n, op, a, b) \
    CASE(n); li a0, a; li a1, b; op a0, a1, 8101f; j fail; 8101:
/* case n: branch `op a, b` must fall through */
#define NOT_TAKEN(n, op, a, b) \
    CASE(n); li a0, a; li a1, b; op a0, a1, 8102f; j 8103f; 8102: j fail; 8103:

    .globl main
main:
    TAKEN(1, beq, 0, 0)
    TAKEN(2, beq, -1, -1)
    NOT_TAKEN(3, beq, 0, 1)
    NOT_TAKEN(4, beq, 0x100000000, 0)       /* compares all 64 bits */
    TAKEN(5, bne, 0, 1)
    TAKEN(6, bne, 0x100000000, 0)
    NOT_TAKEN(7, bne, -1, -1)
    TAKEN(8, blt, -1, 0)
    TAKEN(9, blt, 0x8000000000000000, 0x7fffffffffffffff)
    NOT_TAKEN(10, blt, 0, -1)
    NOT_TAKEN(11, blt, 1, 1)
    TAKEN(12, bge, 0, -1)
    TAKEN(13, bge, 1, 1)
    TAKEN(14, bge, 0x7fffffffffffffff, 0x8000000000000000)
    NOT_TAKEN(15, bge, -1, 0)
    TAKEN(16, bltu, 0, -1)
    TAKEN(17, bltu, 0x7fffffffffffffff, 0x8000000000000000)
    NOT_TAKEN(18, bltu, -1, 0)
    NOT_TAKEN(19, bltu, 3, 3)
    TAKEN(20, bgeu, -1, 0)
    TAKEN(21, bgeu, 3, 3)
    NOT_TAKEN(22, bgeu, 0, -1)
    NOT_TAKEN(23, bgeu, 0x7fffffffffffffff, 0x8000000000000000)

    /* backward branch: loop 10 times */
    CASE(24)
    li a0, 0
    li a1, 10
1:  addi a0, a0, 1
    blt a0, a1, 1b
    CHECK(a0, 10)

    /* branch with x0 operands */
    CASE(25)
    li a0, 5
    bgt a0, x0, 1f          /* blt x0, a0 */
    j fail
1:  beqz x0, 2f
    j fail
2:

    .option push
    .option norvc
    /* jal: rd = pc + 4 */
    CASE(26)
1:  jal a0, 2f
3:  j fail
2:  la a1, 3b
    CHECK_EQ(a0, a1)

    /* jal with rd = x0 (plain jump) leaves x0 zero */
    CASE(27)
    jal x0, 1f
    j fail
1:  CHECK(x0, 0)

    /* jal backwards */
    CASE(28)
    li a0, 0
    j 2f
1:  addi a0, a0, 1
    j 3f
2:  jal ra, 1b
    j fail
3:  CHECK(a0, 1)

    /* jalr: target = rs1 + imm, link = pc + 4 */
    CASE(29)
    la a1, 2f
    jalr a0, 0(a1)
1:  j fail
2:  la a2, 1b
    CHECK_EQ(a0, a2)

    CASE(30)
    la a1, 2f - 12
    jalr a0, 12(a1)
    j fail
2:

    CASE(31)
    la a1, 2f + 100
    jalr a0, -100(a1)
    j fail
2:

    /* bit 0 of the target is cleared */
    CASE(32)
    la a1, 2f
    addi a1, a1, 1
    jalr a0, 0(a1)
    j fail
2:
    CASE(33)
    la a1, 2f
    jalr a0, 1(a1)
    j fail
2:

    /* rd == rs1: the target uses the old value */
    CASE(34)
    la a0, 2f
    jalr a0, 0(a0)
1:  j fail
2:  la a1, 1b
    CHECK_EQ(a0, a1)

    CASE(35)
    la ra, 2f
    jalr ra, 0(ra)
1:  j fail
2:  la a1, 1b
    CHECK_EQ(ra, a1)

    /* call / ret through a function */
    CASE(36)
    li a0, 20
    call add_one
    call add_one
    CHECK(a0, 22)

    /* jalr with rd = x0 */
    CASE(37)
    la a1, 2f
    jalr x0, 0(a1)
    j fail
2:  CHECK(x0, 0)

    /* computed jump table */
    CASE(38)
    li a0, 0
    la a1, table
    li a2, 2
    slli a2, a2, 3
    add a1, a1, a2
    ld a1, 0(a1)
    jalr ra, 0(a1)
    CHECK(a0, 300)
    .option pop

    /* ---- FENCE variants and base HINTs are no-ops -------------------------------- */
    CASE(40)
    li a0, 7
    fence
    fence rw, rw
    fence i, o
    fence r, w
    fence.tso
    .word 0x0100000f                    /* pause (Zihintpause: fence w, 0) */
    .word 0x00000013                    /* nop */
    .word 0x00500013                    /* addi x0, x0, 5 (HINT) */
    .word 0x00a02013                    /* slti x0, x0, 10 (HINT) */
    .word 0x00a01033                    /* sll x0, x0, a0 (HINT) */
    .word 0x0005003b                    /* addw x0, a0, x0 */
    .word 0x00001037                    /* lui x0, 1 (HINT) */
    CHECK(a0, 7)
    CHECK(x0, 0)

    j pass

add_one:
    addi a0, a0, 1
    ret

t0f: li a0, 100
     ret
t1f: li a0, 200
     ret
t2f: li a0, 300
     ret

    .section .rodata
    .align 3
table: .dword t0f, t1f, t2f
