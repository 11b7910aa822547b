// The management service's REST API (docs/api.md) as the page uses it. No DOM here: it
// runs in Node too, with any fetch.

import { SseParser } from './sse.js';

/** An answer other than 2xx: `{ error, field?, state? }` from the service, or a network failure. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status; 0 when the service could not be reached
   * @param {string} message
   * @param {{ field?: string | null, state?: string | null }} [details]
   */
  constructor(status, message, details = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.field = details.field ?? null;
    this.state = details.state ?? null;
  }
}

/**
 * @typedef {{
 *   id: string, name: string, vcpus: number, memoryMiB: number, kernel: string | null,
 *   initrd: string | null, append: string | null, root: string | null,
 *   disks: { path: string, readOnly: boolean }[], console: 'serial' | 'virtio',
 *   autoStart: boolean, stopAction: 'stop' | 'save', jit: boolean, state: import('./vm-state.js').VmState, stateReason: string | null,
 *   checkpoint: string | null, createdAt: string, updatedAt: string, startedAt: string | null
 * }} Vm
 * @typedef {{
 *   id: string, name: string, parentId: string | null, createdAt: string, memory: boolean, current: boolean, disks: string[]
 * }} Checkpoint
 * @typedef {{
 *   hostname: string, version: string, cpus: number, memoryBytes: number,
 *   uptimeSeconds: number, vms: { total: number, running: number }
 * }} HostInfo
 * @typedef {{ id: number | string, vmId: string, at: string, type: string, state?: string, message?: string }} VmEvent
 * @typedef {import('./cpu.js').VmMetrics} VmMetrics
 */

export class Api {
  /**
   * @param {string} token
   * @param {{ base?: string, fetch?: typeof fetch }} [options] base: the service's origin ('' = this page's)
   */
  constructor(token, options = {}) {
    this.token = token;
    this.base = options.base ?? '';
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @param {AbortSignal} [signal]
   * @returns {Promise<any>} the parsed JSON answer; undefined for 204
   */
  async request(method, path, body, signal) {
    /** @type {Record<string, string>} */
    const headers = { Authorization: `Bearer ${this.token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await this.fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new ApiError(0, 'Cannot reach the tshv service');
    }
    if (res.status === 204) return undefined;
    const text = await res.text();
    /** @type {any} */
    let json;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    if (!res.ok) {
      const message = typeof json?.error === 'string' ? json.error : `${res.status} ${res.statusText}`.trim();
      throw new ApiError(res.status, message, { field: json?.field, state: json?.state });
    }
    return json;
  }

  /** @returns {Promise<HostInfo>} */
  host() { return this.request('GET', '/api/host'); }
  /** @returns {Promise<import('./vm-state.js').LifecycleTable>} */
  lifecycle() { return this.request('GET', '/api/lifecycle'); }
  /** @returns {Promise<Vm[]>} */
  listVms() { return this.request('GET', '/api/vms'); }
  /** @param {string} vm id or name @returns {Promise<Vm>} */
  getVm(vm) { return this.request('GET', `/api/vms/${encodeURIComponent(vm)}`); }
  /** @param {import('./vm-form.js').CreateBody} body @returns {Promise<Vm>} */
  createVm(body) { return this.request('POST', '/api/vms', body); }
  /** @param {string} vm @returns {Promise<void>} */
  deleteVm(vm) { return this.request('DELETE', `/api/vms/${encodeURIComponent(vm)}`); }
  /**
   * @param {string} vm
   * @param {'start' | 'stop' | 'restart' | 'pause' | 'resume' | 'save' | 'discard-state'} action
   * @returns {Promise<Vm>}
   */
  act(vm, action) { return this.request('POST', `/api/vms/${encodeURIComponent(vm)}/${action}`); }
  /** @param {string} vm @returns {Promise<Checkpoint[]>} */
  checkpoints(vm) { return this.request('GET', `/api/vms/${encodeURIComponent(vm)}/checkpoints`); }
  /** @param {string} vm @param {string} [name] @returns {Promise<Checkpoint>} */
  takeCheckpoint(vm, name) { return this.request('POST', `/api/vms/${encodeURIComponent(vm)}/checkpoints`, name ? { name } : {}); }
  /** @param {string} vm @param {string} checkpoint @returns {Promise<Vm>} */
  applyCheckpoint(vm, checkpoint) {
    return this.request('POST', `/api/vms/${encodeURIComponent(vm)}/checkpoints/${encodeURIComponent(checkpoint)}/apply`);
  }
  /** @param {string} vm @param {string} checkpoint @returns {Promise<void>} */
  deleteCheckpoint(vm, checkpoint) {
    return this.request('DELETE', `/api/vms/${encodeURIComponent(vm)}/checkpoints/${encodeURIComponent(checkpoint)}`);
  }
  /** @param {string} vm @param {AbortSignal} [signal] @returns {Promise<VmMetrics>} */
  metrics(vm, signal) { return this.request('GET', `/api/vms/${encodeURIComponent(vm)}/metrics`, undefined, signal); }

  /**
   * The WebSocket URL of a VM's console (the token goes in the query: browsers cannot set
   * headers on WebSockets).
   * @param {string} vm
   * @param {string} pageUrl the page's address, when base is ''
   */
  consoleUrl(vm, pageUrl) {
    const url = new URL(`${this.base}/api/vms/${encodeURIComponent(vm)}/console`, pageUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('token', this.token);
    return url.href;
  }

  /**
   * Follows GET /api/events until the stream ends, the signal aborts or an error occurs.
   * Resolves when the service closes the stream; rejects with ApiError on a refusal.
   * @param {(event: VmEvent) => void} onEvent
   * @param {{ signal?: AbortSignal, onOpen?: () => void }} [options]
   */
  async followEvents(onEvent, options = {}) {
    let res;
    try {
      res = await this.fetch(`${this.base}/api/events`, {
        headers: { Authorization: `Bearer ${this.token}`, Accept: 'text/event-stream' },
        signal: options.signal,
        cache: 'no-store',
      });
    } catch (e) {
      if (options.signal?.aborted) throw e;
      throw new ApiError(0, 'Cannot reach the tshv service');
    }
    if (!res.ok || !res.body) throw new ApiError(res.status, `The event stream was refused (${res.status})`);
    options.onOpen?.();
    const parser = new SseParser((m) => {
      let event;
      try { event = JSON.parse(m.data); } catch { return; } // not ours to interpret
      if (event && typeof event === 'object') onEvent(event);
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      parser.push(value);
    }
  }
}
