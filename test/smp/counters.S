# Two or more harts increment shared counters at the same time: one with amoadd.d, one
# with an lr.d/sc.d loop, one with amomax.w on a per-iteration value. Each hart ends with
# its own HTIF tohost write; the host checks the totals (test/smp.test.ts).
    .equ ITERATIONS, 2000000
    .section .text.init
    .globl _start
_start:
    la t0, amo_counter
    la t1, lrsc_counter
    la t2, max_value
    li t3, ITERATIONS
    li t4, 1
1:  amoadd.d zero, t4, (t0)
2:  lr.d a0, (t1)
    addi a0, a0, 1
    sc.d a1, a0, (t1)
    bnez a1, 2b
    amomax.w zero, t3, (t2)
    addi t3, t3, -1
    bnez t3, 1b
    li a0, 1
    la a1, tohost
    sd a0, 0(a1)
3:  j 3b

    .data
    .align 6
amo_counter: .dword 0
    .align 6
lrsc_counter: .dword 0
    .align 6
max_value: .word 0

    .section .tohost, "aw"
    .align 3
    .globl tohost
tohost: .dword 0
