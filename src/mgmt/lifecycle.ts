// The VM lifecycle: the states a VM is in. A leaf module (it imports nothing), so the
// service's other modules and the CLI can all name a state.

/**
 * off ──start──> starting ──(machine built)──> running <──pause/resume──> paused
 *  ^                │                             │                         │
 *  │                └────────────stop─────────────┴───────────stop──────────┘
 *  │                                   v
 *  └──(poweroff, host stop)──────── stopping        failed <──(error)── any live state
 * A guest reboot (or the restart action) goes from a live state back to starting.
 */
export type VmState = 'off' | 'starting' | 'running' | 'paused' | 'stopping' | 'failed';
export const VM_STATES: readonly VmState[] = ['off', 'starting', 'running', 'paused', 'stopping', 'failed'];
/** States in which the VM has a partition (a Vm object in the registry). */
export const LIVE_STATES: readonly VmState[] = ['starting', 'running', 'paused', 'stopping'];
