/*
 * tshv ISA tests — common assembler environment.
 *
 * A test is an assembly file that includes this header and defines `main`
 * (entered in M-mode from crt.S with sp set, mtvec = trap_vector, PMP entry 0
 * granting all of memory, mstatus.FS = Initial). It reports with `j pass` or
 * `j fail`; the current case number lives in TESTNUM and is what `fail`
 * reports (tohost = (n<<1)|1, syscon = (n<<16)|0x3333, "FAIL n" on the UART).
 *
 * Register conventions inside the macros below: t5/t6 are scratch for the
 * checks, so a case must not keep a value under test in t5 or t6.
 *
 * Traps: crt.S installs trap_vector (M) and strap_vector (S, used once a test
 * writes stvec = strap_vector). Either jumps to a hook if the test stored one
 * in trap_hook / strap_hook (original t0 is then in mscratch / sscratch).
 * A hook may end with `j trap_default` (`j strap_default`) to continue as below.
 * Otherwise it records cause/epc/tval/status into trap_* (strap_*) and, if the
 * test armed trap_resume (strap_resume), resumes there in M-mode (S-mode)
 * with the record kept; an unarmed trap is a failure of the current case.
 */
#ifndef TSHV_TEST_H
#define TSHV_TEST_H

#define TESTNUM gp

/* privilege levels and CSR fields (privileged spec 1.12) */
#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#define MSTATUS_SIE   (1 << 1)
#define MSTATUS_MIE   (1 << 3)
#define MSTATUS_SPIE  (1 << 5)
#define MSTATUS_UBE   (1 << 6)
#define MSTATUS_MPIE  (1 << 7)
#define MSTATUS_SPP   (1 << 8)
#define MSTATUS_MPP   (3 << 11)
#define MSTATUS_FS    (3 << 13)
#define MSTATUS_XS    (3 << 15)
#define MSTATUS_MPRV  (1 << 17)
#define MSTATUS_SUM   (1 << 18)
#define MSTATUS_MXR   (1 << 19)
#define MSTATUS_TVM   (1 << 20)
#define MSTATUS_TW    (1 << 21)
#define MSTATUS_TSR   (1 << 22)
#define MSTATUS_SD    (1 << 63)

#define CAUSE_MISALIGNED_FETCH  0
#define CAUSE_FETCH_ACCESS      1
#define CAUSE_ILLEGAL           2
#define CAUSE_BREAKPOINT        3
#define CAUSE_MISALIGNED_LOAD   4
#define CAUSE_LOAD_ACCESS       5
#define CAUSE_MISALIGNED_STORE  6
#define CAUSE_STORE_ACCESS      7
#define CAUSE_ECALL_U           8
#define CAUSE_ECALL_S           9
#define CAUSE_ECALL_M           11
#define CAUSE_FETCH_PAGE        12
#define CAUSE_LOAD_PAGE         13
#define CAUSE_STORE_PAGE        15
#define CAUSE_INTR              (1 << 63)

#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11

/* machine (QEMU virt / tshv bare-metal) */
#define UART_BASE    0x10000000
#define SYSCON_BASE  0x100000
#define CLINT_BASE   0x2000000
#define CLINT_MSIP   (CLINT_BASE + 0)
#define CLINT_MTIMECMP (CLINT_BASE + 0x4000)
#define CLINT_MTIME  (CLINT_BASE + 0xbff8)

/* page table entry bits (Sv39/Sv48) */
#define PTE_V (1 << 0)
#define PTE_R (1 << 1)
#define PTE_W (1 << 2)
#define PTE_X (1 << 3)
#define PTE_U (1 << 4)
#define PTE_G (1 << 5)
#define PTE_A (1 << 6)
#define PTE_D (1 << 7)
#define SATP_SV39 (8 << 60)
#define SATP_SV48 (9 << 60)

/* ---- case bookkeeping and checks ---------------------------------------- */

/* Start case n. */
#define CASE(n) li TESTNUM, n

/* Fail the current case unless register reg == 64-bit constant val. */
#define CHECK(reg, val) \
    li t6, val; beq reg, t6, 8001f; j fail; 8001:

/* Fail the current case unless the 64-bit word at symbol sym == val. */
#define CHECK_MEM(sym, val) \
    la t5, sym; ld t5, 0(t5); li t6, val; beq t5, t6, 8002f; j fail; 8002:

/* Fail unless the 64-bit word at symbol sym equals register reg (not t5). */
#define CHECK_MEM_EQ(sym, reg) \
    la t5, sym; ld t5, 0(t5); beq t5, reg, 8004f; j fail; 8004:

/* Fail unless registers a and b are equal. */
#define CHECK_EQ(a, b) \
    beq a, b, 8003f; j fail; 8003:

/* Case n: run code, then reg must equal val. */
#define TEST(n, reg, val, code...) \
    CASE(n); code; CHECK(reg, val)

/* Register-register op: rd = a op b. Uses a0..a2. */
#define TEST_RR(n, op, val, a, b) \
    TEST(n, a2, val, li a0, a; li a1, b; op a2, a0, a1)

/* Register-immediate op: rd = a op imm. Uses a0, a2. */
#define TEST_RI(n, op, val, a, imm) \
    TEST(n, a2, val, li a0, a; op a2, a0, imm)

/* Register-register op with rd == rs1 and with rd == rs2 (same result). */
#define TEST_RR_SRC1(n, op, val, a, b) \
    TEST(n, a0, val, li a0, a; li a1, b; op a0, a0, a1)
#define TEST_RR_SRC2(n, op, val, a, b) \
    TEST(n, a1, val, li a0, a; li a1, b; op a1, a0, a1)

/* ---- traps --------------------------------------------------------------- */

/* Arm the M-mode default handler to resume at label (in M-mode), and clear the record. */
#define ARM_TRAP(label) \
    la t6, label; la t5, trap_resume; sd t6, 0(t5); \
    li t6, -1; la t5, trap_cause; sd t6, 0(t5); \
    la t5, trap_tval; sd t6, 0(t5)
#define DISARM_TRAP \
    la t5, trap_resume; sd zero, 0(t5)

/* Case n: code must trap to M with mcause == cause (then continue after the code). */
#define EXPECT_TRAP(n, cause, code...) \
    CASE(n); ARM_TRAP(8010f); code; 8010: DISARM_TRAP; CHECK_MEM(trap_cause, cause)

/* Case n: as EXPECT_TRAP and also mtval == tval. */
#define EXPECT_TRAP_TVAL(n, cause, tval, code...) \
    EXPECT_TRAP(n, cause, code); CHECK_MEM(trap_tval, tval)

/* The same for traps handled in S-mode by strap_vector (test code runs in S). */
#define ARM_STRAP(label) \
    la t6, label; la t5, strap_resume; sd t6, 0(t5); \
    li t6, -1; la t5, strap_cause; sd t6, 0(t5); \
    la t5, strap_tval; sd t6, 0(t5)
#define DISARM_STRAP \
    la t5, strap_resume; sd zero, 0(t5)
#define S_EXPECT_TRAP(n, cause, code...) \
    CASE(n); ARM_STRAP(8011f); code; 8011: DISARM_STRAP; CHECK_MEM(strap_cause, cause)
#define S_EXPECT_TRAP_TVAL(n, cause, tval, code...) \
    S_EXPECT_TRAP(n, cause, code); CHECK_MEM(strap_tval, tval)

/* Set mstatus.MPP = mode. */
#define SET_MPP(mode) \
    li t6, MSTATUS_MPP; csrc mstatus, t6; li t6, ((mode) << 11); csrs mstatus, t6

/*
 * From M-mode: run code in privilege `mode`, followed by an ecall. Control comes
 * back to M-mode after the macro through the default handler; trap_cause then
 * holds the cause of the first trap (ecall 8/9/11 if code itself did not trap).
 * The code runs at the same virtual address as its link address, so with
 * translation on it must be identity-mapped. MPIE is cleared first, so that
 * mstatus.MIE is 0 again when M-mode resumes.
 */
#define RUN_IN_MODE(mode, code...) \
    ARM_TRAP(8021f); SET_MPP(mode); li t6, MSTATUS_MPIE; csrc mstatus, t6; \
    la t6, 8020f; csrw mepc, t6; mret; \
    8020: code; ecall; 8021: DISARM_TRAP

/* Case n: code in `mode` must trap to M with the given cause. */
#define EXPECT_TRAP_IN_MODE(n, mode, cause, code...) \
    CASE(n); RUN_IN_MODE(mode, code); CHECK_MEM(trap_cause, cause)

/* Case n: code in `mode` must not trap (the trailing ecall is the only trap). */
#define EXPECT_OK_IN_MODE(n, mode, code...) \
    EXPECT_TRAP_IN_MODE(n, mode, (CAUSE_ECALL_U + (mode)), code)

#endif
