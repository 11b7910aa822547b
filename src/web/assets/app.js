// The tshv web console: one page over the management service's API (docs/api.md).
// This module holds the page's state and wires the views to the service: the token, the
// lifecycle table, the VM list kept live by the event stream, CPU sampling and the host header.

import { Api, ApiError } from './core/api.js';
import { CpuHistory } from './core/cpu.js';
import { formatBytes, formatDuration } from './core/format.js';
import { TOKEN_KEY, hashParam, takeTokenFromHash } from './core/token.js';
import { Lifecycle, UNKNOWN_LIFECYCLE } from './core/vm-state.js';
import { CreateForm } from './create-form.js';
import { byId } from './dom.js';
import { VmDetail } from './vm-detail.js';
import { VmList } from './vm-list.js';

/** @typedef {import('./core/api.js').Vm} Vm */
/** @typedef {import('./core/api.js').VmEvent} VmEvent */

const METRICS_MS = 2000;
const HOST_MS = 30_000;

/**
 * Everything that lives while one token is in use; ended on sign-out or a 401.
 * @typedef {{ api: Api, abort: AbortController, timers: ReturnType<typeof setInterval>[] }} Session
 */

/** @type {Session | null} */
let session = null;
/** @type {Map<string, Vm>} */
const vms = new Map();
/** @type {Map<string, CpuHistory>} */
const cpu = new Map();
/** The service's lifecycle table (GET /api/lifecycle): which action is legal in which state. */
let lifecycle = UNKNOWN_LIFECYCLE;
/** @type {string | null} */
let selectedId = null;
let creating = false;

const announcer = byId('announcer');
const connection = byId('connection');
const listError = byId('list-error');

function api() {
  if (!session) throw new Error('not signed in');
  return session.api;
}

/** @param {string} text read out by screen readers */
function announce(text) {
  announcer.textContent = text;
}

/**
 * A 401 ends the session and asks for the token again. Returns whether it handled e.
 * @param {unknown} e
 */
function handleAuth(e) {
  if (e instanceof ApiError && e.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    endSession();
    askForToken('The service refused this token. Enter the current one.');
    return true;
  }
  return false;
}

const list = new VmList(byId('vm-rows'), byId('vm-empty'), (id) => select(id, false));
const detail = new VmDetail({
  api,
  lifecycle: () => lifecycle,
  onChanged: (vm) => { vms.set(vm.id, vm); render(); },
  onDeleted: (id) => {
    const name = vms.get(id)?.name ?? 'The VM';
    vms.delete(id);
    cpu.delete(id);
    if (selectedId === id) selectedId = null;
    render();
    announce(`${name} deleted`);
    byId('new-vm').focus();
  },
  onError: handleAuth,
});
const form = new CreateForm({
  api,
  onCreated: (vm) => {
    vms.set(vm.id, vm);
    announce(`${vm.name} created`);
    creating = false;
    select(vm.id, true);
  },
  onCancel: () => { creating = false; form.reset(); render(); byId('new-vm').focus(); },
  onError: handleAuth,
});

// ---- token ----

function askForToken(message = '') {
  byId('app').hidden = true;
  byId('host').hidden = true;
  byId('sign-out').hidden = true;
  connection.hidden = true;
  byId('auth').hidden = false;
  byId('auth-error').textContent = message;
  const input = /** @type {HTMLInputElement} */ (byId('auth-token'));
  input.value = '';
  input.focus();
}

byId('auth-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = /** @type {HTMLInputElement} */ (byId('auth-token')).value.trim();
  if (!token) { byId('auth-error').textContent = 'Enter the token.'; return; }
  sessionStorage.setItem(TOKEN_KEY, token);
  void startSession(token);
});

byId('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  endSession();
  askForToken();
});

// ---- session ----

/** @param {string} token */
async function startSession(token) {
  endSession();
  /** @type {Session} */
  const s = { api: new Api(token), abort: new AbortController(), timers: [] };
  session = s;
  try {
    await Promise.all([refreshHost(), refreshVms(), refreshLifecycle()]);
  } catch (e) {
    if (handleAuth(e)) return;
    // The service may be restarting: show the page anyway, the event stream retries.
  }
  if (session !== s) return;
  // Coming from the token form, the focus must not vanish with it.
  const fromForm = byId('auth').contains(document.activeElement);
  byId('auth').hidden = true;
  byId('app').hidden = false;
  byId('sign-out').hidden = false;
  if (fromForm) byId('main').focus();
  const wanted = hashParam(location.hash, 'vm');
  const vm = wanted ? [...vms.values()].find((v) => v.name === wanted || v.id === wanted) : undefined;
  if (vm) select(vm.id, false); else render();
  void followEvents(s);
  s.timers.push(setInterval(() => void sampleCpu(s), METRICS_MS));
  s.timers.push(setInterval(() => void refreshHost().catch(handleAuth), HOST_MS));
}

function endSession() {
  if (!session) return;
  session.abort.abort();
  for (const t of session.timers) clearInterval(t);
  session = null;
  detail.hide();
  vms.clear();
  cpu.clear();
  selectedId = null;
  lifecycle = UNKNOWN_LIFECYCLE;
}

/**
 * Follows /api/events for the session's life, reconnecting with backoff. After every
 * (re)connect the list is fetched again, since events may have been missed meanwhile.
 * @param {Session} s
 */
async function followEvents(s) {
  let delay = 1000;
  while (session === s) {
    try {
      await s.api.followEvents(onEvent, {
        signal: s.abort.signal,
        onOpen: () => {
          showConnection('Live', false);
          delay = 1000;
          void refreshVms().catch(handleAuth);
          if (lifecycle === UNKNOWN_LIFECYCLE) void refreshLifecycle().catch(handleAuth);
        },
      });
    } catch (e) {
      if (session !== s) return;
      if (handleAuth(e)) return;
    }
    if (session !== s) return;
    showConnection('Reconnecting…', true);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 15_000);
  }
}

/**
 * @param {string} text
 * @param {boolean} trouble
 */
function showConnection(text, trouble) {
  connection.hidden = false;
  connection.textContent = text;
  connection.classList.toggle('trouble', trouble);
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let refreshTimer;

/** @param {VmEvent} ev */
function onEvent(ev) {
  const vm = vms.get(ev.vmId);
  if (ev.type === 'state' && ev.state && vm && vm.state !== ev.state) {
    vms.set(vm.id, { ...vm, state: /** @type {Vm['state']} */ (ev.state) });
    announce(`${vm.name} is ${ev.state}`);
    render();
  } else if (ev.type === 'deleted' && vm) {
    vms.delete(vm.id);
    if (selectedId === vm.id) selectedId = null;
    render();
  }
  // Events carry only what changed: fetch the whole picture, once per burst.
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    void Promise.all([refreshVms(), refreshHost()]).catch(handleAuth);
  }, 250);
}

// ---- data ----

async function refreshVms() {
  const s = session;
  if (!s) return;
  try {
    const list = await s.api.listVms();
    if (session !== s) return;
    vms.clear();
    for (const vm of list) vms.set(vm.id, vm);
    if (selectedId && !vms.has(selectedId)) selectedId = null;
    listError.textContent = '';
    render();
  } catch (e) {
    if (e instanceof ApiError && e.status !== 401) listError.textContent = `Could not load the VMs: ${e.message}`;
    throw e;
  }
}

/** Reads the lifecycle table once per session (it is the service's, and fixed). */
async function refreshLifecycle() {
  const s = session;
  if (!s) return;
  const table = await s.api.lifecycle();
  if (session !== s) return;
  lifecycle = new Lifecycle(table);
  render();
}

byId('refresh').addEventListener('click', () => {
  void Promise.all([refreshVms(), refreshHost()]).then(() => announce('Refreshed'), handleAuth);
});

async function refreshHost() {
  const s = session;
  if (!s) return;
  const h = await s.api.host();
  if (session !== s) return;
  /** @type {Record<string, string>} */
  const values = {
    hostname: h.hostname,
    version: h.version,
    cpus: String(h.cpus),
    memory: formatBytes(h.memoryBytes),
    uptime: formatDuration(h.uptimeSeconds),
    vms: `${h.vms.running} of ${h.vms.total}`,
  };
  for (const dd of document.querySelectorAll('[data-host]')) {
    dd.textContent = values[/** @type {HTMLElement} */ (dd).dataset.host ?? ''] ?? '';
  }
  byId('host').hidden = false;
  document.title = `tshv · ${h.hostname}`;
}

/**
 * Samples the counters of every VM that runs; the list draws the CPU charts.
 * @param {Session} s
 */
async function sampleCpu(s) {
  if (document.hidden || session !== s) return;
  await Promise.all([...vms.values()].map(async (vm) => {
    if (!lifecycle.isLive(vm.state)) { cpu.delete(vm.id); return; }
    try {
      const m = await s.api.metrics(vm.id, s.abort.signal);
      let h = cpu.get(vm.id);
      if (!h) { h = new CpuHistory(); cpu.set(vm.id, h); }
      h.add(performance.now(), m);
    } catch (e) {
      handleAuth(e); // a VM that just stopped or went away: nothing to draw
    }
  }));
  if (session !== s) return;
  for (const vm of vms.values()) list.renderCpu(vm.id, cpu.get(vm.id), vm.vcpus);
}

// ---- views ----

function sortedVms() {
  return [...vms.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function render() {
  const all = sortedVms();
  list.render(all, selectedId);
  for (const vm of all) list.renderCpu(vm.id, cpu.get(vm.id), vm.vcpus);
  // The right-hand pane: the create form, the selected VM, or a hint.
  const vm = selectedId ? vms.get(selectedId) : undefined;
  if (!creating) form.close();
  if (vm && !creating) detail.show(vm); else detail.hide();
  byId('nothing').hidden = creating || vm !== undefined;
}

/**
 * @param {string} id
 * @param {boolean} focus move the focus to the VM's pane
 */
function select(id, focus) {
  const vm = vms.get(id);
  if (!vm) return;
  selectedId = id;
  creating = false;
  history.replaceState(null, '', `${location.pathname}${location.search}#vm=${encodeURIComponent(vm.name)}`);
  render();
  if (focus) detail.focus();
}

byId('new-vm').addEventListener('click', () => {
  creating = true;
  render();
  form.open();
});

// ---- start ----

/**
 * Takes a token from the URL fragment, if there is one, and takes it out of the address
 * bar: it must not stay in the history or a bookmark.
 * @returns {string | null}
 */
function tokenFromUrl() {
  const { token, hash } = takeTokenFromHash(location.hash);
  if (token === null) return null;
  sessionStorage.setItem(TOKEN_KEY, token);
  history.replaceState(null, '', `${location.pathname}${location.search}${hash}`);
  return token;
}

// A URL with a new token pasted into this tab changes only the fragment: no reload.
window.addEventListener('hashchange', () => {
  const token = tokenFromUrl();
  if (token !== null) void startSession(token);
});

tokenFromUrl();
const stored = sessionStorage.getItem(TOKEN_KEY);
if (stored) void startSession(stored); else askForToken();
