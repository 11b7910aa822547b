#!/bin/sh
# Rebuilds the cpu-mix bench ELFs committed beside this script, so `npm run bench`
# needs no cross-compiler. Needs Debian's gcc-riscv64-unknown-elf and a host cc.
#
#   cpu-mix.elf       the workload, ITERATIONS iterations (about 1-3 s on QEMU TCG)
#   cpu-mix-null.elf  the same program with 0 iterations: start-up and exit only,
#                     which the bench subtracts as each machine's fixed cost
#   cpu-mix.json      what bench/cpu.ts checks a run against: iterations, checksum,
#                     and the workload's instruction count measured on QEMU -icount
#
# The expected checksum is computed by a host build of the same workload.c and baked
# into the RISC-V build, so the RISC-V program checks itself.
set -eu
cd "$(dirname "$0")"

ITERATIONS=${ITERATIONS:-16000}
CROSS=${CROSS:-riscv64-unknown-elf-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cc -std=c99 -O2 -Wall -Wextra -Werror -o "$tmp/host" host.c workload.c

CFLAGS="-std=c99 -O2 -march=rv64gc -mabi=lp64d -mcmodel=medany -ffreestanding -nostdlib \
  -fno-builtin -fno-tree-loop-distribute-patterns -fno-asynchronous-unwind-tables \
  -Wall -Wextra -Werror"

build() { # build NAME ITERATIONS
  expected=$("$tmp/host" "$2")
  # Objects get fixed names so the ELF is byte-for-byte reproducible.
  for src in start.S board.c main.c workload.c; do
    # shellcheck disable=SC2086
    "${CROSS}gcc" $CFLAGS -DITERATIONS="$2" -DEXPECTED_CRC="$expected" -c "$src" -o "$tmp/${src%.*}.o"
  done
  # shellcheck disable=SC2086
  (cd "$tmp" && "${CROSS}gcc" $CFLAGS -T "$OLDPWD/link.ld" -Wl,--build-id=none,--no-warn-rwx-segments \
    -o "$OLDPWD/$1" start.o board.o main.o workload.o -lgcc)
  echo "$1: $2 iterations, expected checksum $expected"
}

build cpu-mix.elf "$ITERATIONS"
build cpu-mix-null.elf 0

# Reference instruction count: with -icount shift=0 QEMU's minstret counts retired
# instructions exactly (without it, minstret reads the host's cycle counter).
instret=null
if command -v qemu-system-riscv64 >/dev/null 2>&1; then
  instret=$(qemu-system-riscv64 -M virt -smp 1 -m 128M -bios none -nographic -icount shift=0 \
    -kernel cpu-mix.elf </dev/null | sed -n 's/^cpu-mix: workload instret \([0-9]*\).*/\1/p')
  [ -n "$instret" ] || { echo "build.sh: QEMU reference run failed" >&2; exit 1; }
else
  echo "build.sh: qemu-system-riscv64 missing, cpu-mix.json gets no reference instret" >&2
fi
cat > cpu-mix.json <<JSON
{
  "elf": "cpu-mix.elf",
  "nullElf": "cpu-mix-null.elf",
  "iterations": $ITERATIONS,
  "checksum": "$(cd "$tmp" && ./host "$ITERATIONS")",
  "workloadInstret": $instret
}
JSON
echo "cpu-mix.json: workload instret $instret"
