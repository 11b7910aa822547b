#!/bin/sh
# Rebuilds counters.elf (needs Debian's gcc-riscv64-unknown-elf).
set -e
cd "$(dirname "$0")"
riscv64-unknown-elf-gcc -march=rv64gc -mabi=lp64d -nostdlib -nostartfiles -static -T link.ld \
  -Wl,--no-warn-rwx-segments counters.S -o counters.elf
