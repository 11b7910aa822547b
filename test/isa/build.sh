#!/bin/sh
# Rebuilds every ISA test program: src/<name>.S or src/<name>.c -> bin/<name>.elf.
# Needs Debian's riscv64-unknown-elf-gcc. The ELFs are committed, so running the
# suite (npm test, run-qemu.sh) does not need the toolchain.
#   ./build.sh            build all
#   ./build.sh rv64m ...  build the named programs only
set -eu
cd "$(dirname "$0")"
CC=${CC:-riscv64-unknown-elf-gcc}
COMMON="-march=rv64gc -mabi=lp64d -mcmodel=medany -nostdlib -nostartfiles -static \
  -Isrc/common -Tsrc/common/link.ld -Wl,--build-id=none -Wl,--no-warn-rwx-segments -g"
mkdir -p bin

build_one() {
  name=$1
  if [ -f "src/$name.S" ]; then
    $CC $COMMON src/common/crt.S "src/$name.S" -o "bin/$name.elf"
  elif [ -f "src/$name.c" ]; then
    $CC $COMMON -O2 -ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns -fno-math-errno -Wall -Werror \
      src/common/crt.S src/common/lib.c "src/$name.c" -o "bin/$name.elf"
  else
    echo "no source for $name" >&2; return 1
  fi
  echo "built bin/$name.elf"
}

if [ $# -gt 0 ]; then
  for n in "$@"; do build_one "$n"; done
else
  rm -f bin/*.elf
  for f in src/*.S src/*.c; do
    [ -e "$f" ] || continue
    n=$(basename "$f"); n=${n%.*}
    build_one "$n"
  done
fi
