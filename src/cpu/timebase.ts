// The platform timebase (the `time` CSR, the CLINT's mtime): one clock for every thread of
// the process. Its own module: the VM worker reads it without loading the processor.
import { TIMEBASE_HZ } from './types.js';

const NS_PER_TICK = BigInt(1e9 / TIMEBASE_HZ);

/** The platform timebase: TIMEBASE_HZ ticks of the host's monotonic clock. */
export function timebaseNow(): bigint {
  return process.hrtime.bigint() / NS_PER_TICK;
}
