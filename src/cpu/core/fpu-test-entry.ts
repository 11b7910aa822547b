// Test-only entry (build/fpu-test.wasm): exposes the FPU routines directly so
// src/cpu/fpu.test.ts can run the oracle vectors against them without a core around them.
export * from './fpu';
import { fpFlags } from './fpu';

export function getFpFlags(): u32 { return fpFlags; }
