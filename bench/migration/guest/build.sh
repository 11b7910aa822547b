#!/bin/sh
# Rebuilds migload, the guest workload of the migration benchmark, committed beside this
# script so that `npm run bench` needs no cross-compiler. Needs Debian's
# gcc-riscv64-linux-gnu. Static (the default initramfs has no C library) and stripped
# (it is packed into every run's initramfs).
set -eu
cd "$(dirname "$0")"
CC=${CC:-riscv64-linux-gnu-gcc}
"$CC" -static -O2 -s -std=c11 -Wall -Wextra -Werror -pthread -Wl,--build-id=none -o migload migload.c
ls -l migload
