// The VM lifecycle as the service serves it (GET /api/lifecycle, from src/mgmt/lifecycle.ts):
// which action is legal in which state. The page offers exactly these; the service has the
// last word (409).

/** @typedef {string} VmState one of the lifecycle's states (off, starting, running, ...) */
/** @typedef {'start' | 'stop' | 'restart' | 'pause' | 'resume' | 'save' | 'discard-state' | 'delete'} VmAction the page's buttons */
/**
 * @typedef {{
 *   states: { name: string, live: boolean, description: string }[],
 *   actions: { name: string, states: string[], underWayIn: string[], description: string }[]
 * }} LifecycleTable
 */

export class Lifecycle {
  /** @param {LifecycleTable} table */
  constructor(table) {
    /** @type {Map<string, { states: string[], underWayIn: string[] }>} */
    this.actions = new Map(table.actions.map((a) => [a.name, a]));
    /** @type {Set<string>} */
    this.live = new Set(table.states.filter((s) => s.live).map((s) => s.name));
  }

  /**
   * Whether the service accepts the action in this state.
   * @param {string} action
   * @param {string} state
   */
  isLegal(action, state) {
    return this.actions.get(action)?.states.includes(state) ?? false;
  }

  /**
   * Whether the page offers the action: legal, and not already under way (stop while
   * stopping would only wait).
   * @param {string} action
   * @param {string} state
   */
  offers(action, state) {
    return this.isLegal(action, state) && !(this.actions.get(action)?.underWayIn.includes(state) ?? false);
  }

  /**
   * States in which the VM has counters worth watching (a partition).
   * @param {string} state
   */
  isLive(state) {
    return this.live.has(state);
  }

  /**
   * States in which the VM's console can be connected.
   * @param {string} state
   */
  hasConsole(state) {
    return this.isLegal('console', state);
  }
}

/** Until the service's table has been read: nothing is offered. */
export const UNKNOWN_LIFECYCLE = new Lifecycle({ states: [], actions: [] });

/** What an action is called while it runs, for status messages. */
/** @type {Record<VmAction, string>} */
export const ACTION_PROGRESS = {
  start: 'Starting', stop: 'Stopping', restart: 'Restarting', pause: 'Pausing', resume: 'Resuming', save: 'Saving',
  'discard-state': 'Discarding the saved state of', delete: 'Deleting',
};
