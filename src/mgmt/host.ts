// The VM registry of one host: the definitions (in the store) and, for VMs that run, their
// Vm objects. Every action first checks the VM's state against the lifecycle table
// (lifecycle.ts) and answers with a typed error and no side effect when it is illegal
// (seL4's decode-then-invoke); only then does it act.
// Every state change is committed to the store, with its event, before anyone hears of it.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Vm, type VmConfig, type VmStats } from '../parent/vm.js';
import type { StopReason } from '../parent/vm-protocol.js';
import type { EventRecord, NewEvent, Store } from './store.js';
import {
  DEFINITION_DEFAULTS, validateDefinition, vmConfig, isUuid, type VmDefinition, type VmInput, type VmPatch, type VmRecord,
} from './vm-record.js';
import { LIFECYCLE, LIVE_STATES, VM_STATES, type VmAction, type VmState } from './lifecycle.js';
import { ApiError, conflict, notFound } from './errors.js';
import type { StorageRoots } from './storage.js';

/** How long start waits for the machine to be built, stop for the VM to be off, before answering. */
const START_WAIT_MS = 10_000;
const STOP_WAIT_MS = 15_000;
/** After a kill, how long the VM may take to be reported off. */
const KILL_WAIT_MS = 2_000;
/** A guest that reboots this often within REBOOT_WINDOW_MS is stopped as failed. */
const MAX_REBOOTS = 10;
const REBOOT_WINDOW_MS = 60_000;

/** A running VM: its partition's handle and what the registry must remember about this run. */
interface Live {
  readonly vm: Vm;
  /** What to do when this run ends: the restart action starts it again, stop does not. */
  after: 'start' | 'off';
  /** True once stop was asked for: a guest reboot in the meantime does not start it again. */
  stopRequested: boolean;
}

export interface HostEvents {
  /** An event as stored (for the event stream). */
  event: [EventRecord];
  /** A VM record after a change (state or definition). */
  changed: [VmRecord];
  removed: [string];
  /** Console output of a VM (its id, the bytes). */
  console: [string, Uint8Array];
  /** A VM's pending console input (pendingInput) is gone: the guest took it, or the run ended. */
  'input-drained': [string];
}

export class Host extends EventEmitter<HostEvents> {
  private readonly live = new Map<string, Live>();
  private readonly reboots = new Map<string, number[]>();

  /** @param storage where definitions may name images (the service always has roots; none = any path) */
  constructor(private readonly store: Store, private readonly log: (line: string) => void = () => {}, private readonly storage?: StorageRoots) {
    super();
    this.setMaxListeners(0); // one per console client, event stream and waiter
  }

  /** After the service (re)starts: VMs the store says were live are off now (their partitions died with the old process). */
  settleAfterRestart(): void {
    for (const vm of this.store.vms()) {
      if (!LIVE_STATES.includes(vm.state)) continue;
      this.commit({ ...vm, state: 'off', stateReason: 'stopped', startedAt: null, updatedAt: now() }, [
        { type: 'host-restart', message: `the service restarted while the VM was ${vm.state}` },
        { type: 'state', state: 'off', message: 'host restart' },
      ]);
      this.log(`${vm.name}: off (it was ${vm.state} when the service ended)`);
    }
  }

  /** Starts the VMs marked autoStart (when the service starts). */
  async autoStart(): Promise<void> {
    const auto = this.store.vms().filter((vm) => vm.autoStart && (vm.state === 'off' || vm.state === 'failed'));
    await Promise.all(auto.map((vm) => this.start(vm.id).catch((e: Error) => this.log(`${vm.name}: autoStart failed: ${e.message}`))));
  }

  list(): VmRecord[] { return this.store.vms(); }

  /** By id first, then by name. */
  get(ref: string): VmRecord {
    const vm = (isUuid(ref) ? this.store.vm(ref.toLowerCase()) : undefined) ?? this.store.vmByName(ref);
    if (!vm) throw notFound(ref);
    return vm;
  }

  async create(input: VmInput): Promise<VmRecord> {
    const definition: VmDefinition = { ...DEFINITION_DEFAULTS, ...input, disks: normalizeDisks(input.disks ?? []) };
    await validateDefinition(definition, this.storage);
    this.checkNameFree(definition.name);
    const at = now();
    const vm: VmRecord = { ...definition, id: randomUUID(), state: 'off', stateReason: null, createdAt: at, updatedAt: at, startedAt: null };
    this.commit(vm, [{ type: 'created', message: `VM ${vm.name} created` }]);
    return vm;
  }

  async update(ref: string, patch: VmPatch): Promise<VmRecord> {
    const before = this.get(ref);
    this.requireState(before, 'update');
    const definition: VmDefinition = { ...definitionOf(before), ...patch, ...(patch.disks ? { disks: normalizeDisks(patch.disks) } : {}) };
    await validateDefinition(definition, this.storage);
    const vm = this.unchangedSince(before, 'update');
    if (definition.name !== vm.name) this.checkNameFree(definition.name);
    const changed = Object.keys(patch).filter((k) => JSON.stringify(patch[k as keyof VmPatch]) !== JSON.stringify(vm[k as keyof VmRecord]));
    const updated: VmRecord = { ...vm, ...definition, updatedAt: now() };
    this.commit(updated, [{ type: 'updated', message: changed.length ? `changed: ${changed.join(', ')}` : 'nothing changed' }]);
    return updated;
  }

  remove(ref: string): void {
    const vm = this.get(ref);
    this.requireState(vm, 'delete');
    for (const e of this.store.remove(vm.id, [{ vmId: vm.id, type: 'deleted', message: `VM ${vm.name} deleted` }])) this.emit('event', e);
    this.reboots.delete(vm.id);
    this.log(`${vm.name}: deleted`);
    this.emit('removed', vm.id);
  }

  async start(ref: string): Promise<VmRecord> {
    const before = this.get(ref);
    this.requireState(before, 'start');
    let config: VmConfig;
    try {
      config = await vmConfig(before, this.storage);
    } catch (e) {
      this.record(before.id, [{ type: 'error', message: `cannot start: ${(e as Error).message}` }]);
      throw e;
    }
    const vm = this.unchangedSince(before, 'start');
    this.reboots.delete(vm.id);
    this.launch(vm.id, config, 'start requested');
    await this.until(vm.id, (s) => s !== 'starting', START_WAIT_MS);
    const after = this.get(vm.id);
    if (after.state === 'failed') throw new ApiError(500, `${vm.name} failed to start: ${after.stateReason}`, { state: 'failed' });
    return after;
  }

  /** Hard power-off; answers once the VM is off (killed if it takes over STOP_WAIT_MS: then failed). */
  async stop(ref: string): Promise<VmRecord> {
    const vm = this.get(ref);
    this.requireState(vm, 'stop');
    const live = this.live.get(vm.id)!;
    live.after = 'off';
    live.stopRequested = true;
    if (vm.state !== 'stopping') {
      this.transition(vm.id, 'stopping', { message: 'stop requested' });
      live.vm.stop();
    }
    await this.untilStopped(vm.id);
    return this.get(vm.id);
  }

  /** Waits for a stopping VM to end; one that does not within STOP_WAIT_MS is killed. */
  private async untilStopped(id: string): Promise<void> {
    await this.until(id, (s) => !LIVE_STATES.includes(s), STOP_WAIT_MS);
    const live = this.live.get(id);
    if (!live || !LIVE_STATES.includes(this.get(id).state)) return;
    live.vm.kill(`it did not stop within ${STOP_WAIT_MS / 1000} s`);
    await this.until(id, (s) => !LIVE_STATES.includes(s), KILL_WAIT_MS);
  }

  /** Hard stop, then start with the same definition; answers once it is starting again. */
  async restart(ref: string): Promise<VmRecord> {
    const vm = this.get(ref);
    this.requireState(vm, 'restart');
    const live = this.live.get(vm.id)!;
    live.after = 'start';
    live.stopRequested = true;
    this.transition(vm.id, 'stopping', { message: 'restart requested' });
    live.vm.stop();
    await this.until(vm.id, (s) => s !== 'stopping', STOP_WAIT_MS);
    return this.get(vm.id);
  }

  pause(ref: string): VmRecord {
    const vm = this.get(ref);
    this.requireState(vm, 'pause');
    if (!this.live.get(vm.id)!.vm.pause()) throw conflict(`${vm.name} cannot be paused now`, vm.state);
    return this.transition(vm.id, 'paused', { message: 'pause requested' });
  }

  resume(ref: string): VmRecord {
    const vm = this.get(ref);
    this.requireState(vm, 'resume');
    if (!this.live.get(vm.id)!.vm.resume()) throw conflict(`${vm.name} cannot be resumed now`, vm.state);
    return this.transition(vm.id, 'running', { message: 'resume requested' });
  }

  /** Console input for a live VM (it waits in order until the guest takes it). */
  write(id: string, bytes: Uint8Array): void { this.live.get(id)?.vm.write(bytes); }

  /** Console input of a VM that waits for the guest to make room (0 when it is not live); see 'input-drained'. */
  pendingInput(id: string): number { return this.live.get(id)?.vm.pendingInputBytes ?? 0; }

  exists(id: string): boolean { return this.store.vm(id) !== undefined; }

  isLive(id: string): boolean { return this.live.has(id); }

  /** Statistics of the VM's current run; undefined when it is not live. */
  stats(id: string): VmStats | undefined { return this.live.get(id)?.vm.stats(); }

  /** How many VMs are in each state. */
  stateCounts(): Record<VmState, number> {
    const counts = Object.fromEntries(VM_STATES.map((s) => [s, 0])) as Record<VmState, number>;
    for (const vm of this.store.vms()) counts[vm.state]++;
    return counts;
  }

  /** Adds events that are not state changes (console-closed, error) to the log. */
  record(vmId: string, events: Omit<NewEvent, 'vmId'>[]): void {
    for (const e of this.store.addEvents(events.map((x) => ({ ...x, vmId })))) this.emit('event', e);
  }

  /** Stops every live VM (the service is shutting down); resolves when all are off. */
  async shutdown(): Promise<void> {
    const ids = [...this.live.keys()];
    for (const id of ids) {
      const live = this.live.get(id)!;
      live.after = 'off';
      live.stopRequested = true;
      if (this.store.vm(id)?.state !== 'stopping') this.transition(id, 'stopping', { message: 'the service is shutting down' });
      live.vm.stop();
    }
    await Promise.all(ids.map((id) => this.untilStopped(id)));
  }

  private launch(id: string, config: VmConfig, why: string, stateReason?: string): void {
    let vm: Vm;
    try {
      vm = new Vm(config);
    } catch (e) {
      const message = `the VM could not be created: ${(e as Error).message}`;
      this.transition(id, 'failed', { stateReason: message, startedAt: null, message, error: true });
      return;
    }
    const live: Live = { vm, after: 'off', stopRequested: false };
    this.live.set(id, live);
    this.transition(id, 'starting', { startedAt: now(), message: why, ...(stateReason ? { stateReason } : {}) });
    vm.on('started', () => {
      if (this.live.get(id) === live && this.store.vm(id)?.state === 'starting') this.transition(id, 'running', { message: 'the machine is built' });
    });
    vm.on('console', (data) => this.emit('console', id, data));
    vm.on('log', (m) => this.log(`${this.store.vm(id)?.name ?? id}: ${m}`));
    vm.on('io-error', (disk, m) => this.record(id, [{ type: 'io-error', message: `${disk}: ${m}` }]));
    vm.on('input-drained', () => this.emit('input-drained', id));
    vm.on('stopped', (reason) => this.ended(id, live, reason));
  }

  /** A run ended: start again (reboot, restart) or settle in off/failed. A panic is failed whatever was asked. */
  private ended(id: string, live: Live, reason: StopReason): void {
    if (this.live.get(id) !== live) return;
    this.live.delete(id);
    if (live.vm.pendingInputBytes) this.emit('input-drained', id); // the input went with the run
    const vm = this.store.vm(id);
    if (!vm) return;
    if (reason.kind === 'panic') {
      this.transition(id, 'failed', { stateReason: reason.message, startedAt: null, message: reason.message, error: true });
      return;
    }
    const guestReboot = reason.kind === 'reboot' && !live.stopRequested;
    if (live.after === 'start' || guestReboot) {
      if (guestReboot && this.rebootLoop(id)) {
        const message = `the guest rebooted ${MAX_REBOOTS} times within ${REBOOT_WINDOW_MS / 1000} s`;
        this.transition(id, 'failed', { stateReason: message, startedAt: null, message, error: true });
        return;
      }
      // Until the images are read again the ended run stands in: a stop meanwhile finds it.
      this.live.set(id, live);
      void this.relaunch(id, live, guestReboot);
      return;
    }
    if (reason.kind === 'error' || reason.kind === 'killed') {
      this.transition(id, 'failed', { stateReason: reason.message, startedAt: null, message: reason.message, error: true });
    } else {
      const kind = reason.kind === 'reboot' ? 'stopped' : reason.kind;
      this.transition(id, 'off', { stateReason: kind, startedAt: null, message: kind === 'poweroff' ? 'the guest powered off' : 'stopped' });
    }
  }

  /** Starts a VM again after a reboot or restart, once its images are read (asynchronously). */
  private async relaunch(id: string, live: Live, guestReboot: boolean): Promise<void> {
    let config: VmConfig | undefined;
    let error: Error | undefined;
    try {
      config = await vmConfig(this.store.vm(id)!, this.storage);
    } catch (e) {
      error = e as Error;
    }
    if (this.live.get(id) !== live) return;
    this.live.delete(id);
    if (live.after === 'off' && live.stopRequested) { // stopped while the images were read
      this.transition(id, 'off', { stateReason: 'stopped', startedAt: null, message: 'stopped' });
      return;
    }
    if (!config) {
      const message = `cannot start again: ${error!.message}`;
      this.transition(id, 'failed', { stateReason: message, startedAt: null, message, error: true });
      return;
    }
    this.launch(id, config, guestReboot ? 'the guest rebooted' : 'restart', guestReboot ? 'reboot' : 'stopped');
  }

  private rebootLoop(id: string): boolean {
    const t = Date.now();
    const recent = [...(this.reboots.get(id) ?? []), t].filter((x) => t - x < REBOOT_WINDOW_MS);
    this.reboots.set(id, recent);
    return recent.length >= MAX_REBOOTS;
  }

  private transition(
    id: string, state: VmState,
    o: { message: string; stateReason?: string; startedAt?: string | null; error?: boolean },
  ): VmRecord {
    const vm = this.store.vm(id)!;
    const next: VmRecord = {
      ...vm, state, updatedAt: now(),
      ...(o.stateReason !== undefined ? { stateReason: o.stateReason } : {}),
      ...(o.startedAt !== undefined ? { startedAt: o.startedAt } : {}),
    };
    const events: Omit<NewEvent, 'vmId'>[] = [{ type: 'state', state, message: o.message }];
    if (o.error) events.unshift({ type: 'error', message: o.message });
    this.commit(next, events);
    this.log(`${vm.name}: ${state} (${o.message})`);
    return next;
  }

  private commit(vm: VmRecord, events: Omit<NewEvent, 'vmId'>[]): void {
    const stored = this.store.save(vm, events.map((e) => ({ ...e, vmId: vm.id })));
    for (const e of stored) this.emit('event', e);
    this.emit('changed', vm);
  }

  /** The 409 for an action that the lifecycle table does not allow in the VM's state. */
  private requireState(vm: VmRecord, action: VmAction): void {
    const { states } = LIFECYCLE[action];
    if (states.includes(vm.state)) return;
    const verb = action === 'update' ? 'change' : action;
    throw conflict(`cannot ${verb} ${vm.name}: it is ${vm.state} (${verb} needs ${states.join(' or ')})`, vm.state);
  }

  /**
   * The VM again after an await (the images are read asynchronously): still in a state that
   * allows `action`, and not changed by another request meanwhile.
   */
  private unchangedSince(before: VmRecord, action: VmAction): VmRecord {
    const vm = this.get(before.id);
    this.requireState(vm, action);
    if (JSON.stringify(vm) !== JSON.stringify(before)) throw conflict(`${vm.name} was changed by another request meanwhile; try again`, vm.state);
    return vm;
  }

  private checkNameFree(name: string): void {
    const holder = this.store.vmByName(name);
    if (holder) throw conflict(`the name ${name} is taken by VM ${holder.id}`, holder.state);
  }

  /** Resolves when the VM's state satisfies test, it is deleted, or ms have passed. */
  private until(id: string, test: (s: VmState) => boolean, ms: number): Promise<void> {
    const current = this.store.vm(id);
    if (!current || test(current.state)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); this.off('changed', onChange); this.off('removed', onRemoved); resolve(); };
      const onChange = (vm: VmRecord) => { if (vm.id === id && test(vm.state)) done(); };
      const onRemoved = (removed: string) => { if (removed === id) done(); };
      const timer = setTimeout(done, ms);
      this.on('changed', onChange);
      this.on('removed', onRemoved);
    });
  }
}

function definitionOf(vm: VmRecord): VmDefinition {
  const { name, vcpus, memoryMiB, kernel, initrd, append, root, disks, console, autoStart } = vm;
  return { name, vcpus, memoryMiB, kernel, initrd, append, root, disks, console, autoStart };
}

function normalizeDisks(disks: readonly { path: string; readOnly?: boolean }[]): VmDefinition['disks'] {
  return disks.map((d) => ({ path: d.path, readOnly: d.readOnly ?? false }));
}

const now = () => new Date().toISOString();
