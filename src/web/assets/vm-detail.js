// The selected VM: its actions, its configuration and its console.

import { ACTION_PROGRESS } from './core/vm-state.js';
import { formatMiB } from './core/format.js';
import { CLOSE_NOT_RUNNING, CLOSE_UNKNOWN_VM, VmConsole } from './console.js';
import { byId, el, isOff, setEnabled, setState } from './dom.js';

/** @typedef {import('./core/api.js').Api} Api */
/** @typedef {import('./core/api.js').Vm} Vm */
/** @typedef {import('./core/vm-state.js').VmAction} VmAction */
/** @typedef {import('./core/vm-state.js').Lifecycle} Lifecycle */

/** How long to wait before reconnecting a console that dropped while its VM runs. */
const RECONNECT_MS = 2000;
/** Where the console's screen reader mode is remembered (a preference, not a secret). */
const SR_MODE_KEY = 'tshv.screenReaderMode';

export class VmDetail {
  /**
   * @param {{
   *   api: () => Api,
   *   lifecycle: () => Lifecycle,
   *   onChanged: (vm: Vm) => void,
   *   onDeleted: (id: string) => void,
   *   onError: (e: unknown) => boolean,
   * }} hooks onError handles what is not this view's business (401) and says whether it did
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.section = byId('detail');
    this.heading = byId('detail-heading');
    this.heading.tabIndex = -1;
    this.badge = byId('detail-state');
    this.error = byId('action-error');
    this.progress = byId('action-status');
    this.facts = byId('detail-facts');
    this.toolbar = /** @type {HTMLElement} */ (this.section.querySelector('[role=toolbar]'));
    /** @type {Map<VmAction, HTMLButtonElement>} */
    this.buttons = new Map();
    for (const b of this.toolbar.querySelectorAll('button')) {
      const action = /** @type {VmAction} */ (b.dataset.action);
      this.buttons.set(action, b);
      b.addEventListener('click', () => { if (!isOff(b)) void this.act(action); });
    }
    this.checkpointList = byId('checkpoint-list');
    this.takeCheckpoint = /** @type {HTMLButtonElement} */ (byId('take-checkpoint'));
    this.takeCheckpoint.addEventListener('click', () => void this.checkpointAction('take'));
    /** The VM and updatedAt the checkpoint list was read for. */
    this.checkpointsFor = '';
    this.status = byId('console-status');
    this.console = new VmConsole(byId('terminal'), (t) => this.setStatus(t), (code) => this.consoleClosed(code));
    /** @type {Vm | null} */
    this.vm = null;
    /** @type {VmAction | 'checkpoint' | null} */
    this.busy = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retry = undefined;
    const srMode = /** @type {HTMLInputElement} */ (byId('sr-mode'));
    srMode.checked = localStorage.getItem(SR_MODE_KEY) === 'on';
    this.console.setScreenReaderMode(srMode.checked);
    srMode.addEventListener('change', () => {
      localStorage.setItem(SR_MODE_KEY, srMode.checked ? 'on' : 'off');
      this.console.setScreenReaderMode(srMode.checked);
    });
  }

  /**
   * Shows a VM, or updates it when it is the one shown.
   * @param {Vm} vm
   */
  show(vm) {
    const other = this.vm?.id !== vm.id;
    if (other) {
      clearTimeout(this.retry);
      this.retry = undefined;
      this.console.disconnect();
      this.console.clear();
      this.error.textContent = '';
      this.progress.textContent = '';
      this.busy = null;
    }
    this.vm = vm;
    this.section.hidden = false;
    this.heading.textContent = vm.name;
    setState(this.badge, vm.state);
    for (const [action, b] of this.buttons) setEnabled(b, this.busy === null && this.hooks.lifecycle().offers(action, vm.state));
    this.toolbar.setAttribute('aria-busy', String(this.busy !== null));
    this.renderFacts(vm);
    setEnabled(this.takeCheckpoint, this.busy === null && this.hooks.lifecycle().offers('checkpoint', vm.state));
    if (this.checkpointsFor !== vm.id + vm.updatedAt) void this.refreshCheckpoints(vm);
    this.syncConsole();
  }

  /**
   * Reads and shows the VM's checkpoints (each with Apply and Delete).
   * @param {Vm} vm
   */
  async refreshCheckpoints(vm) {
    this.checkpointsFor = vm.id + vm.updatedAt;
    /** @type {import('./core/api.js').Checkpoint[]} */
    let list;
    try {
      list = await this.hooks.api().checkpoints(vm.id);
    } catch (e) {
      if (this.hooks.onError(e)) return;
      list = [];
    }
    if (this.vm?.id !== vm.id) return;
    const lifecycle = this.hooks.lifecycle();
    this.checkpointList.replaceChildren(...list.map((c) => {
      const li = el('li', c.current ? 'current' : '', `${c.name}${c.current ? ' (current)' : ''} — ${new Date(c.createdAt).toLocaleString()}${c.memory ? ', with memory' : ''}`);
      const apply = el('button', '', 'Apply');
      const del = el('button', 'danger', 'Delete');
      apply.setAttribute('aria-label', `Apply checkpoint ${c.name}`);
      del.setAttribute('aria-label', `Delete checkpoint ${c.name}`);
      setEnabled(/** @type {HTMLButtonElement} */ (apply), lifecycle.offers('apply-checkpoint', vm.state));
      setEnabled(/** @type {HTMLButtonElement} */ (del), lifecycle.offers('delete-checkpoint', vm.state));
      apply.addEventListener('click', () => void this.checkpointAction('apply', c.id, c.name));
      del.addEventListener('click', () => void this.checkpointAction('delete', c.id, c.name));
      li.append(' ', apply, ' ', del);
      return li;
    }));
    if (!list.length) this.checkpointList.replaceChildren(el('li', 'empty', 'No checkpoints'));
  }

  /**
   * Takes, applies or deletes a checkpoint.
   * @param {'take' | 'apply' | 'delete'} what
   * @param {string} [id]
   * @param {string} [name]
   */
  async checkpointAction(what, id, name) {
    const vm = this.vm;
    if (!vm || this.busy) return;
    if (what === 'apply' && !confirm(`Apply checkpoint "${name}" to ${vm.name}? Its changes since are lost.`)) return;
    if (what === 'delete' && !confirm(`Delete checkpoint "${name}" of ${vm.name}?`)) return;
    const words = { take: 'Taking a checkpoint of', apply: `Applying ${name} to`, delete: `Deleting ${name} of` };
    this.busy = 'checkpoint';
    this.error.textContent = '';
    this.progress.textContent = `${words[what]} ${vm.name}…`;
    this.show(vm);
    try {
      const api = this.hooks.api();
      if (what === 'take') await api.takeCheckpoint(vm.id);
      else if (what === 'apply') this.hooks.onChanged(await api.applyCheckpoint(vm.id, /** @type {string} */ (id)));
      else await api.deleteCheckpoint(vm.id, /** @type {string} */ (id));
      this.progress.textContent = '';
    } catch (e) {
      this.progress.textContent = '';
      if (!this.hooks.onError(e)) this.error.textContent = `${words[what]} ${vm.name} failed: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      this.busy = null;
      this.checkpointsFor = '';
      if (this.vm?.id === vm.id) this.show(this.vm);
    }
  }

  /**
   * The console's state. It is a live region, which announces every change of its text,
   * so the text is set only when it changes.
   * @param {string} text
   */
  setStatus(text) {
    if (this.status.textContent !== text) this.status.textContent = text;
  }

  /** Nothing selected: closes the console. */
  hide() {
    this.section.hidden = true;
    this.console.disconnect();
    clearTimeout(this.retry);
    this.retry = undefined;
    this.vm = null;
  }

  focus() {
    this.heading.focus();
  }

  /** @param {Vm} vm */
  renderFacts(vm) {
    /** @type {[string, string][]} */
    const facts = [
      ['vCPUs', String(vm.vcpus)],
      ['Memory', formatMiB(vm.memoryMiB)],
      ['Console', vm.console === 'virtio' ? 'virtio (hvc0)' : 'serial (ttyS0)'],
      ['Processor', vm.jit ? 'translation on' : 'interpreter only'],
      ['Kernel', vm.kernel ?? 'default'],
      ['Initramfs', vm.initrd ?? (vm.root ? 'none' : 'default')],
    ];
    if (vm.root) facts.push(['Root disk', vm.root]);
    if (vm.disks.length > 0) facts.push(['Disks', vm.disks.map((d) => d.path + (d.readOnly ? ' (read-only)' : '')).join(', ')]);
    if (vm.append) facts.push(['Command line', vm.append]);
    facts.push(['Start with service', vm.autoStart ? 'yes' : 'no']);
    if (vm.startedAt) facts.push(['Started', new Date(vm.startedAt).toLocaleString()]);
    if (vm.stateReason) facts.push([vm.state === 'failed' ? 'Failure' : 'Last stop', vm.stateReason]);
    facts.push(['ID', vm.id]);
    this.facts.replaceChildren(...facts.map(([k, v]) => {
      const div = el('div');
      div.append(el('dt', '', k), el('dd', '', v));
      return div;
    }));
  }

  /** @param {VmAction} action */
  async act(action) {
    const vm = this.vm;
    if (!vm || this.busy) return;
    if (action === 'delete' && !confirm(`Delete the VM "${vm.name}"? Its definition is removed for good.`)) return;
    this.busy = action;
    this.error.textContent = '';
    this.progress.textContent = `${ACTION_PROGRESS[action]} ${vm.name}…`;
    this.show(vm);
    try {
      if (action === 'delete') {
        await this.hooks.api().deleteVm(vm.id);
        this.busy = null;
        this.progress.textContent = '';
        this.hooks.onDeleted(vm.id);
        return;
      }
      const updated = await this.hooks.api().act(vm.id, action);
      this.busy = null;
      this.progress.textContent = '';
      this.hooks.onChanged(updated);
    } catch (e) {
      this.busy = null;
      this.progress.textContent = '';
      if (this.hooks.onError(e)) return;
      this.error.textContent = `${ACTION_PROGRESS[action]} failed: ${e instanceof Error ? e.message : String(e)}`;
      if (this.vm?.id === vm.id) this.show(this.vm);
    }
  }

  /** Connects or disconnects the console to match the VM's state. */
  syncConsole() {
    const vm = this.vm;
    if (!vm) return;
    const wanted = this.hooks.lifecycle().hasConsole(vm.state);
    if (wanted && !this.console.active && this.retry === undefined) {
      void this.console.connect(this.hooks.api().consoleUrl(vm.id, location.href));
    } else if (!wanted && !this.console.active && this.busy === null) {
      this.setStatus(idleStatus(vm));
    }
  }

  /** @param {number} code */
  consoleClosed(code) {
    const vm = this.vm;
    if (!vm) return;
    if (code === CLOSE_UNKNOWN_VM) { this.setStatus('No such VM'); return; }
    if (code !== CLOSE_NOT_RUNNING && this.hooks.lifecycle().hasConsole(vm.state)) {
      // Dropped while the VM runs: try again shortly (state events may also stop it).
      this.setStatus('Disconnected; reconnecting…');
      this.retry = setTimeout(() => { this.retry = undefined; this.syncConsole(); }, RECONNECT_MS);
      return;
    }
    this.setStatus(idleStatus(vm));
  }
}

/** @param {Vm} vm */
function idleStatus(vm) {
  switch (vm.state) {
    case 'off': return 'Off. Start the VM to use its console.';
    case 'failed': return 'Failed. Start the VM to use its console.';
    case 'starting': return 'Starting…';
    case 'stopping': return 'Stopping…';
    default: return 'Not connected';
  }
}
