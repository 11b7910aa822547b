// A VM's saved state as one document (docs/state.md): what the machine was built from
// (its configuration: the state stream's CONF frame) and the state of everything in it
// (the STAT frame): the partition's VPs and timebase, the virtual PLIC, the emulated
// devices and the synthetic ones with their channels. Guest RAM travels beside it in the
// stream's RAM frames. Each part is saved and validated by its owner (src/state/contract.ts);
// this module only puts them together and checks the shape around them.
import { StateReader } from '../../state/contract.js';
import { MACHINE_LIMITS } from './limits.js';
import type { ConsoleKind, DiskSpec } from '../vm-protocol.js';

/** What a VM was built from: enough to build the same machine again before restoring into it. */
export interface SavedConfig {
  version: 1;
  cpus: number;
  memoryBytes: number;
  console: ConsoleKind;
  disks: DiskSpec[];
  /** The kernel command line it booted with (for information: the kernel is in RAM). */
  append: string;
  /** Where its kernel and initrd came from, to boot again when the guest reboots. */
  boot?: BootFiles;
}

export interface BootFiles { kernel: string; initrd?: string }

/** Everything but RAM, each part as its owner saved it. */
export interface MachineState {
  version: 1;
  /** The partition: VPs (hart state, HSM state) and guest time. */
  partition: unknown;
  plic: unknown;
  uart: unknown;
  rtc: unknown;
  /** The synthetic devices in slot order: transport, queues, channel and VSP state. */
  synthetic: unknown;
}

const MAX_PATH = 4096;
const MAX_APPEND = 4096;

/** Validates a saved configuration (untrusted: it comes from a state file). */
export function parseSavedConfig(v: unknown): SavedConfig {
  const r = new StateReader('machine configuration', v, 1);
  const s = v as Record<string, unknown>;
  const { cpus, memoryBytes, disks } = MACHINE_LIMITS;
  const memory = r.int('memoryBytes', memoryBytes.min, memoryBytes.max);
  if (memory % 4096 !== 0) throw r.error('memoryBytes is not a multiple of 4 KiB');
  const console = r.string('console', 8);
  if (console !== 'serial' && console !== 'virtio') throw r.error(`console "${console}" is not serial or virtio`);
  return {
    version: 1,
    cpus: r.int('cpus', cpus.min, cpus.max),
    memoryBytes: memory,
    console,
    disks: r.array('disks', [0, disks], (d, at) => {
      const dr = StateReader.nested(`machine configuration ${at}`, d);
      return { path: dr.string('path', MAX_PATH, /^[^\0]+$/), readOnly: dr.bool('readOnly') };
    }),
    append: r.string('append', MAX_APPEND),
    ...(s.boot === undefined ? {} : { boot: parseBootFiles(s.boot) }),
  };
}

function parseBootFiles(v: unknown): BootFiles {
  const r = StateReader.nested('machine configuration boot', v);
  const b = v as Record<string, unknown>;
  return { kernel: r.string('kernel', MAX_PATH, /^[^\0]+$/), ...(b.initrd === undefined ? {} : { initrd: r.string('initrd', MAX_PATH, /^[^\0]+$/) }) };
}

/** Checks the frame around the parts (each part is validated by its owner when restored). */
export function parseMachineState(v: unknown): MachineState {
  const r = new StateReader('machine', v, 1);
  const s = v as Record<string, unknown>;
  for (const part of ['partition', 'plic', 'uart', 'rtc', 'synthetic'] as const) {
    if (s[part] === undefined) throw r.error(`${part} is missing`);
  }
  return { version: 1, partition: s.partition, plic: s.plic, uart: s.uart, rtc: s.rtc, synthetic: s.synthetic };
}
