// Messages between the main thread and a VM worker. Everything the worker must react to
// while running goes through shared memory instead (control block, input ring).

export interface VmWorkerData {
  kernel: Uint8Array;
  initrd?: Uint8Array;
  append: string;
  memoryBytes: number;
  cpus: number;
  /** The partition control block (src/hypervisor/control-block.ts). */
  control: SharedArrayBuffer;
  /** Console input ring (src/parent/byte-ring.ts). */
  input: SharedArrayBuffer;
  /** The compiled core (src/cpu/hart.ts coreModule), shared with the VP threads. */
  core: WebAssembly.Module;
}

export type StopReason =
  | { kind: 'poweroff' }      // the guest powered off
  | { kind: 'reboot' }        // the guest asked for a reset
  | { kind: 'stopped' }       // the host stopped it (hard power-off)
  | { kind: 'error'; message: string };

export type VmEvent =
  | { type: 'started' }
  | { type: 'console'; data: Uint8Array }
  | { type: 'log'; message: string }
  | { type: 'stopped'; reason: StopReason };
