// A partition with real VP threads (src/parent/vp-thread.ts) and no devices, for the tests
// of the VP loop and the partition: tiny guest programs in RAM, booted with bootVp.
// Test-only: it lives in test/lib/, outside the hypervisor, because it starts Node threads.
import { Worker, MessageChannel } from 'node:worker_threads';
import { ControlBlock, PartitionState, VpState, DOORBELL } from '../../src/hypervisor/control-block.js';
import { Partition } from '../../src/hypervisor/partition.js';
import { createPlicState } from '../../src/hypervisor/plic.js';
import { createChannelTable } from '../../src/vmbus/channel.js';
import { coreModule } from '../../src/cpu/wasm-hart.js';
import { timebaseNow } from '../../src/cpu/timebase.js';
import { createVmMemory } from '../../src/cpu/memory.js';
import { RAM_OFFSET } from '../../src/cpu/layout.js';
import type { VpThreadData, VpThreadMessage } from '../../src/parent/vp-thread.js';
import type { InterceptMapMessage } from '../../src/parent/vm-protocol.js';

export const RAM_BASE = 0x8000_0000n;
const RAM_SIZE = 1 << 20;

// RV64 encodings of the few instructions the programs use.
export const addi = (rd: number, rs1: number, imm: number) => (((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13) >>> 0;
export const lui = (rd: number, imm20: number) => (((imm20 & 0xfffff) << 12) | (rd << 7) | 0x37) >>> 0;
export const jal = (rd: number, off: number) => ((((off >> 20) & 1) << 31) | (((off >> 1) & 0x3ff) << 21) | (((off >> 11) & 1) << 20)
  | (((off >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0;
export const csrrs = (rd: number, csr: number, rs1: number) => ((csr << 20) | (rs1 << 15) | (2 << 12) | (rd << 7) | 0x73) >>> 0;
export const csrrsi = (rd: number, csr: number, uimm: number) => ((csr << 20) | (uimm << 15) | (6 << 12) | (rd << 7) | 0x73) >>> 0;
export const ECALL = 0x73;
export const WFI = 0x10500073;

/** x5 counts, x7 holds the last `time` read; never stops. */
export const SPIN = [csrrs(7, 0xc01, 0), addi(5, 5, 1), jal(0, -8)];
/** Waits in WFI for ever (nothing is enabled). */
export const IDLE = [WFI, jal(0, -4)];
/** Enables SSIP, suspends (SBI HSM hart_suspend, default retentive), then sets x8 = 77 and spins. */
export const SUSPEND = [csrrsi(0, 0x104, 2), lui(17, 0x485), addi(17, 17, 0x34d), addi(16, 0, 3), addi(10, 0, 0), ECALL, addi(8, 0, 77), jal(0, 0)];

export interface TestMachine {
  cb: ControlBlock;
  memory: WebAssembly.Memory;
  partition: Partition;
  /** Puts a program at guest-physical `addr` in RAM. */
  load(addr: bigint, code: number[]): void;
  /** VP threads' failures so far. */
  errors: string[];
  /** Stops the partition and ends its threads. */
  close(): Promise<void>;
}

/** A Created partition of `vps` VPs whose threads are up and parked, waiting for start. */
export function testMachine(vps: number): TestMachine {
  const cb = ControlBlock.create(vps);
  const memory = createVmMemory(RAM_SIZE);
  const partition = new Partition(cb, memory);
  partition.rebaseTime(0n, timebaseNow());
  const plicState = createPlicState(), channelTable = createChannelTable(), core = coreModule();
  const errors: string[] = [];
  const threads = Array.from({ length: vps }, (_, index) => {
    const { port1, port2 } = new MessageChannel();
    const data: VpThreadData = { index, memory, control: cb.buffer, plicState, channelTable, ramBase: RAM_BASE, ramSize: BigInt(RAM_SIZE), port: port2, core, jit: true };
    const t = new Worker(new URL('../../src/parent/vp-thread.js', import.meta.url), { workerData: data, transferList: [port2] });
    t.on('error', (e) => errors.push(`VP ${index}: ${e.message}`));
    port1.on('message', (m: VpThreadMessage) => errors.push(m.message));
    port1.unref();
    const map: InterceptMapMessage = { type: 'intercepts', ranges: [], channels: [] };
    port1.postMessage(map);
    return t;
  });
  const ram = new Uint32Array(memory.buffer, RAM_OFFSET, RAM_SIZE / 4);
  return {
    cb, memory, partition, errors,
    load: (addr, code) => ram.set(code, Number(addr - RAM_BASE) / 4),
    async close() {
      if (partition.can('stop')) partition.apply('stop');
      await until(() => Array.from({ length: vps }, (_, i) => cb.vpState(i)).every((s) => s === VpState.Halted), 10_000, 'every VP halted').catch(() => undefined);
      await Promise.all(threads.map((t) => t.terminate()));
    },
  };
}

/** Resolves once cond() holds; rejects naming `what` after `ms`. */
export async function until(cond: () => boolean, ms: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - t0;
}

// Atomics.waitAsync is ES2024; Node 20 has it, TypeScript's ES2022 library does not.
type WaitAsync = (a: Int32Array, i: number, v: number, ms: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/**
 * Waits the way the VM worker does, on the doorbell, until the partition is quiescent;
 * returns the milliseconds it took. Each wait on the doorbell may last up to `ms`, so a VP
 * that parked without ringing shows as a wait that long.
 */
export async function untilQuiescent(p: Partition, cb: ControlBlock, ms: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const seq = Atomics.load(cb.i32, DOORBELL);
    if (p.quiescent()) return performance.now() - t0;
    if (p.state !== PartitionState.Paused) throw new Error('not paused');
    const r = waitAsync(cb.i32, DOORBELL, seq, ms);
    if (r.async && await r.value === 'timed-out') throw new Error(`no doorbell within ${ms} ms and not quiescent`);
  }
}
