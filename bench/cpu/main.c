/*
 * cpu-mix, bare-metal entry: runs the workload, prints its result lines on the
 * UART and returns the exit code to start.S (0 pass, 1 wrong checksum, 2 failed
 * internal check). The result lines are parsed by bench/cpu.ts; keep their shape.
 */
#include <stdint.h>
#include "board.h"
#include "workload.h"

#ifndef ITERATIONS
#error "build.sh defines ITERATIONS"
#endif
#ifndef EXPECTED_CRC
#error "build.sh defines EXPECTED_CRC (computed by the host build of the same workload)"
#endif

static void put_field(const char *name, uint32_t v) {
  uart_puts(name);
  uart_put_hex32(v);
  uart_puts("\n");
}

int main(void) {
  struct workload_result r;

  uart_puts("cpu-mix: iterations ");
  uart_put_u64(ITERATIONS);
  uart_puts("\n");

  uint64_t start = read_minstret();
  workload_run(ITERATIONS, CPU_MIX_SEED, &r);
  uint64_t retired = read_minstret() - start;

  put_field("cpu-mix: list crc ", r.list_crc);
  put_field("cpu-mix: matrix crc ", r.matrix_crc);
  put_field("cpu-mix: state crc ", r.state_crc);
  uart_puts("cpu-mix: workload instret ");
  uart_put_u64(retired);
  uart_puts("\n");
  uart_puts("cpu-mix: checksum ");
  uart_put_hex32(r.final_crc);
  uart_puts(" expected ");
  uart_put_hex32(EXPECTED_CRC);
  uart_puts("\n");

  if (r.errors != 0) {
    uart_puts("cpu-mix: FAIL internal check errors ");
    uart_put_u64(r.errors);
    uart_puts("\n");
    return 2;
  }
  if (r.final_crc != EXPECTED_CRC) {
    uart_puts("cpu-mix: FAIL checksum mismatch\n");
    return 1;
  }
  uart_puts("cpu-mix: PASS\n");
  return 0;
}
