/* Behaviour that QEMU 7.2 (the reference for the other programs) does not share,
   so run-qemu.sh skips this program. Two kinds:
   (a) design choices of this core, where the spec leaves a choice:
       ebreak writes mtval = pc; misaligned SC and AMOs raise store/AMO address
       misaligned (cause 6); satp keeps its old value on a write of Sv57; instret
       and cycle count exactly one per retired instruction.
   (b) spec requirements QEMU 7.2 does not meet (each says where):
       FS becomes Dirty when only fflags changes; csrrs/csrrc with rs1 != x0 write
       (and so trap on read-only CSRs) even if the value is 0; MPP never holds 2;
       mepc[0] = 0; medeleg[11] is read-only 0; an xRET to S or U clears MPRV;
       interrupt priority MSI > MTI > SSI > STI; AMO access faults are cause 7; a
       page-table walk that reads unmapped memory raises an access fault of the
       original access type; pmpaddr bits 63:54 are read-only 0; a fetch of an
       instruction straddling the end of RAM faults on its second half (QEMU aborts). */
#include "vm.h"

#define STIP_BIT (1 << IRQ_STI)

    .globl main
main:
    /* ---- (a) ebreak: mtval = pc (privileged 3.1.16 allows pc or 0) --------------------- */
    CASE(1)
    ARM_TRAP(2f)
    .option push
    .option norvc
1:  ebreak
    .option pop
    j fail
2:  CHECK_MEM(trap_cause, CAUSE_BREAKPOINT)
    la a0, 1b
    CHECK_MEM_EQ(trap_tval, a0)
    CASE(2)
    ARM_TRAP(2f)
1:  c.ebreak
    j fail
2:  la a0, 1b
    CHECK_MEM_EQ(trap_tval, a0)

    /* ---- (a) misaligned SC / AMO: cause 6, mtval = address --------------------------- */
    la s0, buf
    addi s1, s0, 4                      /* 4-aligned, not 8-aligned */
    addi s2, s0, 2                      /* 2-aligned */
    EXPECT_TRAP(10, CAUSE_MISALIGNED_STORE, sc.d a0, a1, (s1))
    CHECK_MEM_EQ(trap_tval, s1)
    EXPECT_TRAP(11, CAUSE_MISALIGNED_STORE, sc.w a0, a1, (s2))
    CHECK_MEM_EQ(trap_tval, s2)
    CASE(12)                            /* even right after a valid LR */
    lr.d a0, (s0)
    EXPECT_TRAP(13, CAUSE_MISALIGNED_STORE, sc.d a0, a1, (s1))
    EXPECT_TRAP(14, CAUSE_MISALIGNED_STORE, amoswap.w a0, a1, (s2))
    EXPECT_TRAP(15, CAUSE_MISALIGNED_STORE, amoadd.w a0, a1, (s2))
    EXPECT_TRAP(16, CAUSE_MISALIGNED_STORE, amoxor.w a0, a1, (s2))
    EXPECT_TRAP(17, CAUSE_MISALIGNED_STORE, amoand.w a0, a1, (s2))
    EXPECT_TRAP(18, CAUSE_MISALIGNED_STORE, amoor.w a0, a1, (s2))
    EXPECT_TRAP(19, CAUSE_MISALIGNED_STORE, amomin.w a0, a1, (s2))
    EXPECT_TRAP(20, CAUSE_MISALIGNED_STORE, amomax.w a0, a1, (s2))
    EXPECT_TRAP(21, CAUSE_MISALIGNED_STORE, amominu.w a0, a1, (s2))
    EXPECT_TRAP(22, CAUSE_MISALIGNED_STORE, amomaxu.w a0, a1, (s2))
    EXPECT_TRAP(23, CAUSE_MISALIGNED_STORE, amoswap.d a0, a1, (s1))
    EXPECT_TRAP(24, CAUSE_MISALIGNED_STORE, amoadd.d a0, a1, (s1))
    EXPECT_TRAP(25, CAUSE_MISALIGNED_STORE, amoxor.d a0, a1, (s1))
    EXPECT_TRAP(26, CAUSE_MISALIGNED_STORE, amoand.d a0, a1, (s1))
    EXPECT_TRAP(27, CAUSE_MISALIGNED_STORE, amoor.d a0, a1, (s1))
    EXPECT_TRAP(28, CAUSE_MISALIGNED_STORE, amomin.d a0, a1, (s1))
    EXPECT_TRAP(29, CAUSE_MISALIGNED_STORE, amomax.d a0, a1, (s1))
    EXPECT_TRAP(30, CAUSE_MISALIGNED_STORE, amominu.d a0, a1, (s1))
    EXPECT_TRAP(31, CAUSE_MISALIGNED_STORE, amomaxu.d a0, a1, (s1))
    CHECK_MEM_EQ(trap_tval, s1)
    CASE(32)                            /* memory untouched */
    ld a0, 0(s0)
    CHECK(a0, 0x0123456789abcdef)

    /* ---- (a) satp: Sv57 is not supported, the write is ignored ------------------------- */
    CASE(35)
    csrw satp, zero
    li a0, (10 << 60)
    csrw satp, a0
    csrr a1, satp
    CHECK(a1, 0)

    /* ---- (b) FS: an instruction that only sets fflags makes FS Dirty (priv 3.1.6.6) --- */
    CASE(40)
    li a0, 0x7f800001
    fmv.w.x f1, a0                      /* sNaN */
    li a0, MSTATUS_FS
    csrc mstatus, a0
    li a0, (2 << 13)                    /* Clean */
    csrs mstatus, a0
    feq.s a2, f1, f1                    /* raises NV, writes an x register only */
    csrr a1, mstatus
    srli a2, a1, 13
    andi a2, a2, 3
    CHECK(a2, 3)
    bgez a1, fail                       /* SD */
    csrwi fflags, 0

    /* ---- (b) csrrs/csrrc with rs1 != x0 always write (Zicsr 9.1) ----------------------- */
    EXPECT_TRAP(41, CAUSE_ILLEGAL, li a0, 0; csrrs a1, mhartid, a0)
    EXPECT_TRAP(42, CAUSE_ILLEGAL, li a0, 0; csrrc a1, mvendorid, a0)
    EXPECT_TRAP(43, CAUSE_ILLEGAL, li a0, 0; csrrs a1, cycle, a0)

    /* ---- (b) mstatus.MPP is WARL and never holds 2 (priv 3.1.6.1) ---------------------- */
    CASE(44)
    li a0, MSTATUS_MPP
    csrc mstatus, a0
    li a0, (2 << 11)
    csrs mstatus, a0
    csrr a1, mstatus
    srli a1, a1, 11
    andi a1, a1, 3
    li a2, 2
    beq a1, a2, fail

    /* ---- (b) mepc[0] and sepc[0] are always 0 with IALIGN = 16 (priv 3.1.14) --------- */
    CASE(45)
    li a0, 0x80000003
    csrw mepc, a0
    csrr a1, mepc
    CHECK(a1, 0x80000002)
    li a0, 0x80000001
    csrw sepc, a0
    csrr a1, sepc
    CHECK(a1, 0x80000000)

    /* ---- (b) medeleg[11] (ecall from M) is read-only 0 (priv 3.1.8) ------------------- */
    CASE(46)
    li a0, (1 << 11)
    csrw medeleg, a0
    csrr a1, medeleg
    CHECK(a1, 0)

    /* ---- (b) an xRET to a mode below M clears MPRV (priv 1.12, 3.1.6.3) ---------------- */
    CASE(50)
    li a0, MSTATUS_MPRV
    csrs mstatus, a0
    RUN_IN_MODE(PRV_S, nop)             /* mret to S */
    CHECK_MEM(trap_cause, CAUSE_ECALL_S)
    la a1, trap_status
    ld a1, 0(a1)
    li a0, MSTATUS_MPRV
    and a1, a1, a0
    CHECK(a1, 0)
    CASE(51)
    li a0, MSTATUS_MPRV
    csrs mstatus, a0
    RUN_IN_MODE(PRV_U, nop)             /* mret to U */
    CHECK_MEM(trap_cause, CAUSE_ECALL_U)
    la a1, trap_status
    ld a1, 0(a1)
    li a0, MSTATUS_MPRV
    and a1, a1, a0
    CHECK(a1, 0)
    CASE(52)                            /* sret from M to U */
    li a0, MSTATUS_SPP
    csrc mstatus, a0
    SET_MPP(PRV_M)
    li a0, MSTATUS_MPRV
    csrs mstatus, a0
    ARM_TRAP(2f)
    la a0, 1f
    csrw sepc, a0
    sret
    j fail
1:  ecall
    j fail
2:  la a1, trap_status
    ld a1, 0(a1)
    li a0, MSTATUS_MPRV
    and a1, a1, a0
    CHECK(a1, 0)
    li a0, MSTATUS_MPRV
    csrc mstatus, a0

    /* ---- (b) priority of M-handled interrupts: MSI > MTI > SSI > STI (priv 3.1.9) ------- */
    CASE(60)
    la a0, prio_hook
    la a1, trap_hook
    sd a0, 0(a1)
    la a0, prio_count
    sd zero, 0(a0)
    csrw mideleg, zero
    li t0, CLINT_MTIMECMP
    sd zero, 0(t0)                      /* MTIP */
    li t0, CLINT_MSIP
    li a0, 1
    sw a0, 0(t0)                        /* MSIP */
    csrsi mip, (1 << IRQ_SSI)
    li a0, STIP_BIT
    csrs mip, a0                        /* menvcfg.STCE = 0: M may set STIP */
    li a0, (1 << IRQ_MSI) | (1 << IRQ_MTI) | (1 << IRQ_SSI) | (1 << IRQ_STI)
    csrw mie, a0
    csrsi mstatus, MSTATUS_MIE
    nop
    nop
    nop
    nop
    csrci mstatus, MSTATUS_MIE
    la a1, trap_hook
    sd zero, 0(a1)
    CHECK_MEM(prio_count, 4)
    CHECK_MEM(prio_log + 0, CAUSE_INTR | IRQ_MSI)
    CHECK_MEM(prio_log + 8, CAUSE_INTR | IRQ_MTI)
    CHECK_MEM(prio_log + 16, CAUSE_INTR | IRQ_SSI)
    CHECK_MEM(prio_log + 24, CAUSE_INTR | IRQ_STI)
    li t0, CLINT_MTIMECMP
    li a0, -1
    sd a0, 0(t0)
    li t0, CLINT_MSIP
    sw zero, 0(t0)
    csrci mip, (1 << IRQ_SSI)
    li a0, STIP_BIT
    csrc mip, a0

    /* ---- (b) AMO access faults are store/AMO access faults (priv 3.6) ------------------- */
    li s3, 0x90000000
    EXPECT_TRAP_TVAL(70, CAUSE_STORE_ACCESS, 0x90000000, amoadd.w a0, a1, (s3))
    EXPECT_TRAP_TVAL(71, CAUSE_STORE_ACCESS, 0x90000000, amoswap.d a0, a1, (s3))
    EXPECT_TRAP_TVAL(72, CAUSE_STORE_ACCESS, 0x90000000, amomaxu.d a0, a1, (s3))

    /* ---- (b) a page-table walk reading unmapped memory: access fault (priv 4.3.2 step 2) */
    MAP_PA(root, 0, 0x00000000, LEAF_RW)
    MAP_PA(root, 2, 0x80000000, LEAF_RWX)
    MAP_PA(root, 3, 0x90000000, NONLEAF)          /* next level in unmapped memory */
    SATP_FOR(s4, SATP_SV39, root)
    csrw satp, s4
    sfence.vma
    EXPECT_TRAP_IN_MODE(80, PRV_S, CAUSE_LOAD_ACCESS, li a1, 0xc0000000; ld a0, 0(a1))
    CHECK_MEM(trap_tval, 0xc0000000)
    EXPECT_TRAP_IN_MODE(81, PRV_S, CAUSE_STORE_ACCESS, li a1, 0xc0000010; sd a0, 0(a1))
    CHECK_MEM(trap_tval, 0xc0000010)
    EXPECT_TRAP_IN_MODE(82, PRV_S, CAUSE_FETCH_ACCESS, li a1, 0xc0000020; jr a1)
    CHECK_MEM(trap_tval, 0xc0000020)
    csrw satp, zero
    sfence.vma

    /* ---- (b) pmpaddr holds bits 55:2 of the address: bits 63:54 read 0 (priv 3.7.1) ---- */
    CASE(90)
    li a0, -1
    csrw pmpaddr3, a0
    csrr a1, pmpaddr3
    CHECK(a1, 0x003fffffffffffff)
    li a0, 0xffc0000000001234
    csrw pmpaddr4, a0
    csrr a1, pmpaddr4
    CHECK(a1, 0x1234)
    csrw pmpaddr3, zero
    csrw pmpaddr4, zero

    /* ---- (b) QEMU 7.2 aborts on this one: a 4-byte instruction whose second half is
       past the end of RAM (fetch access fault, mepc = its address, mtval = the
       faulting half, priv 3.1.16) ------------------------------------------------- */
    CASE(95)
    li a0, 0x88000000 - 2
    li a1, 0x0513                       /* low half of addi a0, a0, 1 */
    sh a1, 0(a0)
    fence.i
    ARM_TRAP(1f)
    jr a0
1:  CHECK_MEM(trap_cause, CAUSE_FETCH_ACCESS)
    CHECK_MEM(trap_epc, 0x88000000 - 2)
    CHECK_MEM(trap_tval, 0x88000000)


    /* ---- (a) instret counts every retired instruction exactly ------------------------ */
    CASE(96)
    .option push
    .option norvc
    rdinstret a0
    nop
    nop
    nop
    rdinstret a1
    .option pop
    sub a2, a1, a0
    CHECK(a2, 4)
    CASE(97)                             /* mcycle counts one per instruction too */
    rdcycle a0
    nop
    rdcycle a1
    sub a2, a1, a0
    CHECK(a2, 2)

    j pass

/* log mcause, mask the interrupt in mie, return */
prio_hook:
    la t0, prio_save
    sd t1, 0(t0)
    sd t2, 8(t0)
    la t0, prio_count
    ld t1, 0(t0)
    addi t2, t1, 1
    sd t2, 0(t0)
    slli t1, t1, 3
    la t2, prio_log
    add t2, t2, t1
    csrr t1, mcause
    sd t1, 0(t2)
    andi t1, t1, 63
    li t2, 1
    sll t2, t2, t1
    csrc mie, t2
    la t0, prio_save
    ld t1, 0(t0)
    ld t2, 8(t0)
    csrr t0, mscratch
    mret

    .data
    .balign 8
buf:        .dword 0x0123456789abcdef, 0
prio_save:  .dword 0, 0
prio_count: .dword 0
prio_log:   .dword 0, 0, 0, 0, 0, 0, 0, 0
    .bss
    .balign 4096
root:       .skip 4096
