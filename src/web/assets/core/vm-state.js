// The VM lifecycle as the API states it (docs/api.md "Endpoints"): which action is legal
// in which state. The page offers exactly these; the service has the last word (409).

/** @typedef {'off' | 'starting' | 'running' | 'paused' | 'stopping' | 'failed'} VmState */
/** @typedef {'start' | 'stop' | 'restart' | 'pause' | 'resume' | 'delete'} VmAction */

/** @type {readonly VmAction[]} */
export const ACTIONS = ['start', 'stop', 'restart', 'pause', 'resume', 'delete'];

/** @type {Record<VmAction, readonly string[]>} */
const LEGAL = {
  start: ['off', 'failed'],
  stop: ['starting', 'running', 'paused'],     // 409 only if off; "stopping" is already on its way
  restart: ['running', 'paused'],
  pause: ['running'],
  resume: ['paused'],
  delete: ['off', 'failed'],
};

/**
 * @param {VmAction} action
 * @param {string} state
 */
export function isLegal(action, state) {
  return LEGAL[action].includes(state);
}

/**
 * States in which the VM has a console and counters worth watching.
 * @param {string} state
 */
export function isLive(state) {
  return state === 'running' || state === 'paused' || state === 'starting' || state === 'stopping';
}

/** What an action is called while it runs, for status messages. */
/** @type {Record<VmAction, string>} */
export const ACTION_PROGRESS = {
  start: 'Starting', stop: 'Stopping', restart: 'Restarting', pause: 'Pausing', resume: 'Resuming', delete: 'Deleting',
};
