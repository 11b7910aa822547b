/*
 * tshv ISA tests — page-table helpers (Sv39/Sv48). Tables are built by M-mode code
 * in physical memory with vm_set_pte (crt.S). Uses a0..a3, t0.
 */
#ifndef TSHV_VM_H
#define TSHV_VM_H
#include "test.h"

/* table[index] -> physical address of symbol `sym` / constant `pa`, with flags */
#define MAP_SYM(table, index, sym, flags) \
    la a0, table; li a1, index; la a2, sym; li a3, flags; call vm_set_pte
#define MAP_PA(table, index, pa, flags) \
    la a0, table; li a1, index; li a2, pa; li a3, flags; call vm_set_pte
/* raw PTE value */
#define SET_PTE_RAW(table, index, value) \
    la a0, table; li a1, (index) * 8; add a0, a0, a1; li a1, value; sd a1, 0(a0)
/* reg = address of table[index] */
#define PTE_ADDR(reg, table, index) \
    la reg, table; addi reg, reg, (index) * 8

#define LEAF_RWX (PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
#define LEAF_RW  (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define NONLEAF  (PTE_V)

/* satp for a root table symbol: reg = mode | root >> 12 */
#define SATP_FOR(reg, mode, root) \
    la reg, root; srli reg, reg, 12; li t0, mode; or reg, reg, t0

/*
 * Like RUN_IN_MODE, but the code is entered at its link address + offset: used to
 * run in U-mode through a U-accessible alias of the program's RAM.
 */
#define RUN_AT(mode, offset, code...) \
    ARM_TRAP(8031f); SET_MPP(mode); li t6, MSTATUS_MPIE; csrc mstatus, t6; \
    la t6, 8030f; li t5, offset; add t6, t6, t5; csrw mepc, t6; mret; \
    8030: code; ecall; 8031: DISARM_TRAP

#endif
