// One hart on its own thread (the VP thread of the architecture), for test/smp.test.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { WasmHart, Exit, Priv } from '../../src/cpu/wasm-hart.js';
import { CFG_TOHOST } from '../../src/cpu/layout.js';

interface Job { gate: Int32Array; memory: WebAssembly.Memory; hartId: number; ramBase: bigint; ramSize: bigint; entry: bigint; tohost: bigint }
const job = workerData as Job;
const hart = new WasmHart(job.memory, job.hartId, job.ramBase, job.ramSize);
hart.reset(job.entry, Priv.M);
hart.setField(CFG_TOHOST, job.tohost);
// Start barrier: count in, then wait for the host to open the gate, so the harts overlap.
Atomics.add(job.gate, 0, 1);
Atomics.notify(job.gate, 0);
Atomics.wait(job.gate, 1, 0);
let exit: Exit;
do exit = hart.run(1 << 20); while (exit === Exit.Budget);
parentPort!.postMessage({ exit, tohost: hart.exitAddr, instret: hart.instret });
