// The VM registry of one host: the definitions (in the store) and, for VMs that run, their
// Vm objects. Every action checks the VM's state first and answers with a typed error and
// no side effect when it is illegal (seL4's decode-then-invoke); only then does it act.
// Every state change is committed to the store, with its event, before anyone hears of it.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Vm, type VmConfig, type VmStats } from '../parent/vm.js';
import type { StopReason } from '../parent/vm-protocol.js';
import type { EventRecord, NewEvent, Store } from './store.js';
import {
  DEFINITION_DEFAULTS, LIVE_STATES, VM_STATES, validateDefinition, vmConfig, isUuid,
  type VmDefinition, type VmInput, type VmPatch, type VmRecord, type VmState,
} from './vm-record.js';
import { ApiError, conflict, notFound } from './errors.js';

/** How long start waits for the machine to be built, stop for the VM to be off, before answering. */
const START_WAIT_MS = 10_000;
const STOP_WAIT_MS = 15_000;
/** After a kill, how long the VM may take to be reported off. */
const KILL_WAIT_MS = 2_000;
/** A guest that reboots this often within REBOOT_WINDOW_MS is stopped as failed. */
const MAX_REBOOTS = 10;
const REBOOT_WINDOW_MS = 60_000;
const PANIC = 'Kernel panic - not syncing';

/** A running VM: its partition's handle and what the registry must remember about this run. */
interface Live {
  readonly vm: Vm;
  /** What to do when this run ends: the restart action starts it again, stop does not. */
  after: 'start' | 'off';
  /** True once stop was asked for: a guest reboot in the meantime does not start it again. */
  stopRequested: boolean;
  /** The end of the console output, to see a kernel panic (the guest would hang forever). */
  tail: string;
  panicked: boolean;
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

  constructor(private readonly store: Store, private readonly log: (line: string) => void = () => {}) {
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

  create(input: VmInput): VmRecord {
    const definition: VmDefinition = { ...DEFINITION_DEFAULTS, ...input, disks: normalizeDisks(input.disks ?? []) };
    validateDefinition(definition);
    this.checkNameFree(definition.name);
    const at = now();
    const vm: VmRecord = { ...definition, id: randomUUID(), state: 'off', stateReason: null, createdAt: at, updatedAt: at, startedAt: null };
    this.commit(vm, [{ type: 'created', message: `VM ${vm.name} created` }]);
    return vm;
  }

  update(ref: string, patch: VmPatch): VmRecord {
    const vm = this.get(ref);
    this.requireState(vm, ['off', 'failed'], 'change');
    const definition: VmDefinition = { ...definitionOf(vm), ...patch, ...(patch.disks ? { disks: normalizeDisks(patch.disks) } : {}) };
    validateDefinition(definition);
    if (definition.name !== vm.name) this.checkNameFree(definition.name);
    const changed = Object.keys(patch).filter((k) => JSON.stringify(patch[k as keyof VmPatch]) !== JSON.stringify(vm[k as keyof VmRecord]));
    const updated: VmRecord = { ...vm, ...definition, updatedAt: now() };
    this.commit(updated, [{ type: 'updated', message: changed.length ? `changed: ${changed.join(', ')}` : 'nothing changed' }]);
    return updated;
  }

  remove(ref: string): void {
    const vm = this.get(ref);
    this.requireState(vm, ['off', 'failed'], 'delete');
    for (const e of this.store.remove(vm.id, [{ vmId: vm.id, type: 'deleted', message: `VM ${vm.name} deleted` }])) this.emit('event', e);
    this.reboots.delete(vm.id);
    this.log(`${vm.name}: deleted`);
    this.emit('removed', vm.id);
  }

  async start(ref: string): Promise<VmRecord> {
    const vm = this.get(ref);
    this.requireState(vm, ['off', 'failed'], 'start');
    let config: VmConfig;
    try {
      config = vmConfig(vm);
    } catch (e) {
      this.record(vm.id, [{ type: 'error', message: `cannot start: ${(e as Error).message}` }]);
      throw e;
    }
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
    this.requireState(vm, LIVE_STATES, 'stop');
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
    this.requireState(vm, ['running', 'paused'], 'restart');
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
    this.requireState(vm, ['running'], 'pause');
    if (!this.live.get(vm.id)!.vm.pause()) throw conflict(`${vm.name} cannot be paused now`, vm.state);
    return this.transition(vm.id, 'paused', { message: 'pause requested' });
  }

  resume(ref: string): VmRecord {
    const vm = this.get(ref);
    this.requireState(vm, ['paused'], 'resume');
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
    const live: Live = { vm, after: 'off', stopRequested: false, tail: '', panicked: false };
    this.live.set(id, live);
    this.transition(id, 'starting', { startedAt: now(), message: why, ...(stateReason ? { stateReason } : {}) });
    vm.on('started', () => {
      if (this.live.get(id) === live && this.store.vm(id)?.state === 'starting') this.transition(id, 'running', { message: 'the machine is built' });
    });
    vm.on('console', (data) => {
      this.emit('console', id, data);
      if (live.panicked) return;
      live.tail = (live.tail + Buffer.from(data).toString('latin1')).slice(-256);
      if (live.tail.includes(PANIC)) {
        live.panicked = true;
        setTimeout(() => vm.stop(), 1000).unref(); // let the panic message finish
      }
    });
    vm.on('log', (m) => this.log(`${this.store.vm(id)?.name ?? id}: ${m}`));
    vm.on('input-drained', () => this.emit('input-drained', id));
    vm.on('stopped', (reason) => this.ended(id, live, reason));
  }

  /** A run ended: start again (reboot, restart) or settle in off/failed. */
  private ended(id: string, live: Live, reason: StopReason): void {
    if (this.live.get(id) !== live) return;
    this.live.delete(id);
    if (live.vm.pendingInputBytes) this.emit('input-drained', id); // the input went with the run
    const vm = this.store.vm(id);
    if (!vm) return;
    if (live.panicked) {
      this.transition(id, 'failed', { stateReason: 'the guest kernel panicked', startedAt: null, message: 'the guest kernel panicked', error: true });
      return;
    }
    const guestReboot = reason.kind === 'reboot' && !live.stopRequested;
    if (live.after === 'start' || guestReboot) {
      if (guestReboot && this.rebootLoop(id)) {
        const message = `the guest rebooted ${MAX_REBOOTS} times within ${REBOOT_WINDOW_MS / 1000} s`;
        this.transition(id, 'failed', { stateReason: message, startedAt: null, message, error: true });
        return;
      }
      let config: VmConfig;
      try {
        config = vmConfig(vm);
      } catch (e) {
        const message = `cannot start again: ${(e as Error).message}`;
        this.transition(id, 'failed', { stateReason: message, startedAt: null, message, error: true });
        return;
      }
      this.launch(id, config, guestReboot ? 'the guest rebooted' : 'restart', guestReboot ? 'reboot' : 'stopped');
      return;
    }
    if (reason.kind === 'error') {
      this.transition(id, 'failed', { stateReason: reason.message, startedAt: null, message: reason.message, error: true });
    } else {
      const kind = reason.kind === 'reboot' ? 'stopped' : reason.kind;
      this.transition(id, 'off', { stateReason: kind, startedAt: null, message: kind === 'poweroff' ? 'the guest powered off' : 'stopped' });
    }
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

  private requireState(vm: VmRecord, allowed: readonly VmState[], action: string): void {
    if (allowed.includes(vm.state)) return;
    throw conflict(`cannot ${action} ${vm.name}: it is ${vm.state} (${action} needs ${allowed.join(' or ')})`, vm.state);
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
