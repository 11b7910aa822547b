/*
 * Reset entry for the bare-metal CPU workload. Both machines enter here in M-mode:
 * QEMU `virt -bios none` jumps to the start of RAM, `tshv exec` to the ELF entry.
 * Only hart 0 runs the workload; any other hart parks.
 */
  .section .text.start, "ax"
  .globl _start
_start:
  csrr  t0, mhartid
  bnez  t0, park

  /* Trap vector first, so a fault anywhere below is reported instead of looping. */
  la    t0, trap_entry
  csrw  mtvec, t0

  /* mstatus.FS = Initial: -march=rv64gc lets the compiler use the FPU (priv spec §3.1.6.6). */
  li    t0, (1 << 13)
  csrs  mstatus, t0

  .option push
  .option norelax
  la    gp, __global_pointer$
  .option pop
  la    sp, __stack_top

  /* Zero .bss; the linker script keeps both ends 8-byte aligned. */
  la    t0, __bss_start
  la    t1, __bss_end
1:
  bgeu  t0, t1, 2f
  sd    zero, 0(t0)
  addi  t0, t0, 8
  j     1b
2:
  call  main
  /* main returns the failure code, 0 for pass. */
  call  board_exit

park:
  wfi
  j     park

  /* Any trap is a failure: hand mcause/mepc/mtval to C, which reports and exits. */
  .align 2
trap_entry:
  la    sp, __stack_top
  csrr  a0, mcause
  csrr  a1, mepc
  csrr  a2, mtval
  call  trap_report
3:
  j     3b
