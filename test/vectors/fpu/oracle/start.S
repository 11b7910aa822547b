# Entry for the FPU oracle: M-mode, one hart. Turn the FPU on (mstatus.FS = Initial),
# set a stack, run main, then power the board off through the sifive,test0 syscon.
  .section .text.start
  .globl _start
_start:
  li t0, 1 << 13
  csrs mstatus, t0
  la sp, _stack_top
  call main
  li t0, 0x100000
  li t1, 0x5555
  sw t1, 0(t0)
1: wfi
  j 1b
