/*
 * tshv bench — cpu-mix: a CPU-bound integer workload in the spirit of CoreMark,
 * written for this project. Four kernels run every iteration:
 *
 *   list    build a linked list of random keys, merge-sort it, probe it, split,
 *           reverse and re-sort it (pointer chasing, unpredictable branches)
 *   matrix  integer matrix products, a matrix-vector product and a bit-field fold
 *           (multiply-accumulate, 16/32/64-bit arithmetic)
 *   state   a tokenizer state machine classifying numbers in a mutated text
 *           (switch dispatch, byte loads)
 *   crc     CRC-32 of every kernel's summary, CRC-16 of the text (shifts, xors)
 *
 * The code is plain C99 with fixed-width types and no undefined or
 * implementation-defined behaviour, so a host build computes the same checksum
 * as the RISC-V build: build.sh uses that to bake the expected value in.
 */
#ifndef TSHV_BENCH_WORKLOAD_H
#define TSHV_BENCH_WORKLOAD_H

#include <stdint.h>

struct workload_result {
  uint32_t list_crc;   /* CRC-32 over the list kernel's results */
  uint32_t matrix_crc; /* CRC-32 over the matrix kernel's results */
  uint32_t state_crc;  /* CRC-32 over the tokenizer's counts and the text CRC-16s */
  uint32_t final_crc;  /* CRC-32 chaining the three above, every iteration */
  uint32_t errors;     /* internal invariant violations (unsorted list, lost node...) */
};

/* The seed both builds use; changing it changes the expected checksum. */
#define CPU_MIX_SEED 0x2545f491u

void workload_run(uint32_t iterations, uint32_t seed, struct workload_result *out);

#endif
