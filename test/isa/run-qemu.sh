#!/bin/sh
# Runs the ISA test programs on QEMU (the reference): qemu-system-riscv64 -M virt
# -bios none. A program passes when QEMU exits 0 (syscon 0x5555), its UART output has
# no "FAIL" line and, if expected/<name>.stdout exists, its output matches exactly.
#   ./run-qemu.sh            all programs in bin/
#   ./run-qemu.sh rv64m ...  the named programs only
set -u
cd "$(dirname "$0")"
QEMU=${QEMU:-qemu-system-riscv64}

# Skipped: tshv-specific holds (a) tshv design choices where the spec allows QEMU's
# behaviour too (ebreak mtval = pc; misaligned SC/AMO -> cause 6; Sv57 writes ignored;
# exact instret) and (b) spec requirements QEMU 7.2 does not meet (FS dirty on fflags
# writes, csrrs rs1!=x0 writes, MPP/mepc/medeleg WARL, MPRV cleared by xRET, interrupt
# priority, AMO access-fault cause, page-walk access faults, pmpaddr width) or aborts on
# (a fetch straddling the end of RAM). Its source header lists each one.
SKIP="tshv-specific"

pass=0; fail=0; skipped=0; failed=""
if [ $# -gt 0 ]; then names="$*"; else
  names=$(for f in bin/*.elf; do n=$(basename "$f"); echo "${n%.elf}"; done)
fi
for n in $names; do
  case " $SKIP " in *" $n "*)
    if [ $# -eq 0 ]; then echo "SKIP $n (tshv design choice, see run-qemu.sh)"; skipped=$((skipped+1)); continue; fi;;
  esac
  out=$(timeout 20 "$QEMU" -M virt -m 128M -smp 1 -bios none -nographic -monitor none -serial stdio \
        -kernel "bin/$n.elf" </dev/null 2>&1)
  rc=$?
  ok=1
  [ $rc -eq 0 ] || ok=0
  case "$out" in *FAIL*) ok=0;; esac
  if [ -f "expected/$n.stdout" ] && [ "$out" != "$(cat "expected/$n.stdout")" ]; then ok=0; fi
  if [ $ok -eq 1 ]; then
    echo "PASS $n"; pass=$((pass+1))
  else
    echo "FAIL $n (exit $rc)"; [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    /'
    fail=$((fail+1)); failed="$failed $n"
  fi
done
echo "qemu: $pass passed, $fail failed, $skipped skipped${failed:+ —$failed}"
[ $fail -eq 0 ]
