/*
 * Host build of cpu-mix, used only by build.sh: prints the checksum the RISC-V
 * build must reproduce, computed by a different compiler back-end on a different ISA.
 */
#include <stdio.h>
#include <stdlib.h>
#include "workload.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s ITERATIONS\n", argv[0]);
    return 2;
  }
  struct workload_result r;
  workload_run((uint32_t)strtoul(argv[1], NULL, 0), CPU_MIX_SEED, &r);
  if (r.errors != 0) {
    fprintf(stderr, "host build: %u internal check errors\n", (unsigned)r.errors);
    return 1;
  }
  printf("0x%08x\n", (unsigned)r.final_crc);
  return 0;
}
