// The VM lifecycle, in one table: the states a VM is in and, for every action, the states
// in which it is legal. Host refuses an action outside them (409), the API documents its
// routes from the table and serves it (GET /api/lifecycle) to the web console, which
// offers exactly these actions, and the CLI explains with it. A leaf module of plain data
// (it imports nothing), so the CLI can load it without loading the service.

/**
 * off ──start──> starting ──(machine built)──> running <──pause/resume──> paused
 *  ^                │                             │                         │
 *  │                └────────────stop─────────────┴───────────stop──────────┘
 *  │                                   v
 *  └──(poweroff, host stop)──────── stopping        failed <──(error)── any live state
 * A guest reboot (or the restart action) goes from a live state back to starting.
 *
 * running / paused ──save──> saving ──(state written)──> saved ──start──> starting (resumes)
 *                                                          └──discard-state──> off
 */
export type VmState = 'off' | 'starting' | 'running' | 'paused' | 'saving' | 'saved' | 'stopping' | 'failed';
export const VM_STATES: readonly VmState[] = ['off', 'starting', 'running', 'paused', 'saving', 'saved', 'stopping', 'failed'];
/** States in which the VM has a partition (a Vm object in the registry). */
export const LIVE_STATES: readonly VmState[] = ['starting', 'running', 'paused', 'saving', 'stopping'];

const STATE_DESCRIPTIONS: Record<VmState, string> = {
  off: 'not running; its definition can be changed',
  starting: 'the machine is being built',
  running: 'the virtual processors run the guest',
  paused: 'the virtual processors are suspended, the memory kept',
  saving: 'its memory and device state are being written to the data directory',
  saved: 'not running; its memory and device state are saved, and start resumes it where it was',
  stopping: 'on its way to off',
  failed: 'the last run ended in an error (stateReason says which); otherwise like off',
};

/** The actions that change whether and how a VM runs (POST /api/vms/{vm}/{action}). */
export const POWER_ACTIONS = ['start', 'stop', 'restart', 'pause', 'resume', 'save', 'discard-state'] as const;
export type PowerAction = (typeof POWER_ACTIONS)[number];
export type VmAction = PowerAction | 'update' | 'delete' | 'console' | 'checkpoint' | 'apply-checkpoint' | 'delete-checkpoint' | 'migrate';

export interface ActionRule {
  /** The states in which the action is legal; in any other the service answers 409. */
  readonly states: readonly VmState[];
  /**
   * Legal states in which the action is already under way: asking again only waits for
   * it to finish, so a user interface does not offer it there.
   */
  readonly underWayIn: readonly VmState[];
  /** What it does, in one line. */
  readonly description: string;
}

export const LIFECYCLE: { readonly [A in VmAction]: ActionRule } = {
  start: {
    states: ['off', 'failed', 'saved'], underWayIn: [],
    description: 'power on: build the machine and boot the guest (a saved VM resumes where it was)',
  },
  stop: {
    states: LIVE_STATES, underWayIn: ['stopping'],
    description: 'hard power-off, like pulling the plug (poweroff in the guest is the clean way)',
  },
  restart: { states: ['running', 'paused'], underWayIn: [], description: 'hard power-off, then start again' },
  pause: { states: ['running'], underWayIn: [], description: 'suspend the virtual processors, keeping the memory' },
  resume: { states: ['paused'], underWayIn: [], description: 'run a paused VM again' },
  save: {
    states: ['running', 'paused', 'saving'], underWayIn: ['saving'],
    description: "save the VM's memory and device state and stop it (Hyper-V's Saved state); start resumes it",
  },
  'discard-state': { states: ['saved'], underWayIn: [], description: 'drop the saved state: the VM is off, and start boots it afresh' },
  update: { states: ['off', 'failed'], underWayIn: [], description: "change the VM's definition" },
  delete: { states: ['off', 'failed', 'saved'], underWayIn: [], description: "remove the VM's definition and any saved state (its disk images stay)" },
  checkpoint: {
    states: ['off', 'failed', 'running', 'paused'], underWayIn: [],
    description: "take a checkpoint: the disks are frozen (writes go to new differencing images) and, if it runs, its memory and devices saved",
  },
  'apply-checkpoint': {
    states: ['off', 'failed', 'running', 'paused', 'saved'], underWayIn: [],
    description: 'go back to a checkpoint: its disks (changes since are dropped) and, if it was taken running, its memory (a running VM runs on from there)',
  },
  'delete-checkpoint': {
    states: ['off', 'failed', 'running', 'paused', 'saved'], underWayIn: [],
    description: "delete a checkpoint: its differencing images are merged into their children (once the VM is not running)",
  },
  migrate: {
    states: ['running'], underWayIn: [],
    description: 'move the running VM to another tshv host (live: it runs while its memory is copied; quick: saved, sent, resumed there)',
  },
  console: {
    states: ['starting', 'running', 'paused'], underWayIn: [],
    description: "the VM's console: the current run's output, input to the guest",
  },
};
export const VM_ACTIONS = Object.keys(LIFECYCLE) as VmAction[];

export function isLegal(action: VmAction, state: VmState): boolean {
  return LIFECYCLE[action].states.includes(state);
}

/** The legal states in words: "off or failed", "starting, running or paused". */
export function legalStates(action: VmAction): string {
  const s = LIFECYCLE[action].states;
  return s.length > 1 ? `${s.slice(0, -1).join(', ')} or ${s.at(-1)}` : s[0];
}

/** The table as GET /api/lifecycle serves it (schemas.ts, LifecycleSchema). */
export interface LifecycleTable {
  states: { name: VmState; live: boolean; description: string }[];
  actions: { name: VmAction; states: VmState[]; underWayIn: VmState[]; description: string }[];
}

export function lifecycleTable(): LifecycleTable {
  return {
    states: VM_STATES.map((name) => ({ name, live: LIVE_STATES.includes(name), description: STATE_DESCRIPTIONS[name] })),
    actions: VM_ACTIONS.map((name) => {
      const { states, underWayIn, description } = LIFECYCLE[name];
      return { name, states: [...states], underWayIn: [...underWayIn], description };
    }),
  };
}
