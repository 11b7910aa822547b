// The VM registry of one host: the definitions (in the store) and, for VMs that run, their
// Vm objects. Every action first checks the VM's state against the lifecycle table
// (lifecycle.ts) and answers with a typed error and no side effect when it is illegal
// (seL4's decode-then-invoke); only then does it act.
// Every state change is committed to the store, with its event, before anyone hears of it.
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { link, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { applyOverlays, collect, createOverlays, overlayPaths } from './checkpoint-disks.js';
import { randomUUID } from 'node:crypto';
import { Vm, type RestoreOptions, type VmConfig, type VmStats } from '../parent/vm.js';
import type { StopReason } from '../parent/vm-protocol.js';
import type { EventRecord, NewEvent, Store } from './store.js';
import {
  DEFINITION_DEFAULTS, definitionDisks, definitionOf, validateDefinition, vmConfig, withDisks, isUuid, type CheckpointRecord, type VmDefinition, type VmInput, type VmPatch, type VmRecord,
} from './vm-record.js';
import { LIFECYCLE, LIVE_STATES, VM_STATES, type VmAction, type VmState } from './lifecycle.js';
import { ApiError, badInput, conflict, notFound } from './errors.js';
import type { StorageRoots } from './storage.js';
import { checkJson } from './json-check.js';
import { IncomingVmSchema } from './schemas.js';
import { makeIncomingImages, removeIncomingImages } from './incoming-disks.js';
import type { MirroredDisk } from '../parent/disk-mirror.js';

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
  /** While a save is under way: the stateReason the saved VM gets. */
  saveReason?: string;
}

/** The stateReason of a VM saved because the service shut down: it is resumed when the service starts. */
export const SAVED_AT_SHUTDOWN = 'saved when the service shut down';

/** Progress in steps of 10%, for events (a few per save, not one per write). */
function progressEvents(report: (pct: number) => void): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const pct = Math.floor((10 * done) / Math.max(total, 1)) * 10;
    if (pct > last && pct < 100) { last = pct; report(pct); }
  };
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
  /** VMs with a checkpoint operation under way, and which. */
  private readonly busy = new Map<string, string>();
  /** VMs migrating to this host, by id, with their names: both are taken until they arrive or do not. */
  private readonly incoming = new Map<string, string>();
  /** The folders of new images made for incoming disks (a shared-nothing migration), until the VM is here. */
  private readonly incomingImages = new Map<string, string>();

  /**
   * @param storage where definitions may name images (the service always has roots; none = any path)
   * @param savedDir where saved VMs' state files are kept (the data directory's saved/)
   */
  constructor(private readonly store: Store, private readonly log: (line: string) => void = () => {}, private readonly storage?: StorageRoots,
    private readonly savedDir?: string) {
    super();
    this.setMaxListeners(0); // one per console client, event stream and waiter
  }

  /** After the service (re)starts: VMs the store says were live are off now (their partitions died with the old process). */
  settleAfterRestart(): void {
    for (const vm of this.store.vms()) {
      if (vm.state === 'saved' && !existsSync(this.statePath(vm.id))) {
        this.commit({ ...vm, state: 'off', stateReason: 'the saved state is gone', updatedAt: now() }, [
          { type: 'error', message: `the saved state file ${this.statePath(vm.id)} is missing` },
          { type: 'state', state: 'off', message: 'saved state missing' },
        ]);
        continue;
      }
      if (!LIVE_STATES.includes(vm.state)) continue;
      this.commit({ ...vm, state: 'off', stateReason: 'stopped', startedAt: null, updatedAt: now() }, [
        { type: 'host-restart', message: `the service restarted while the VM was ${vm.state}` },
        { type: 'state', state: 'off', message: 'host restart' },
      ]);
      this.log(`${vm.name}: off (it was ${vm.state} when the service ended)`);
    }
  }

  /**
   * Starts the VMs marked autoStart, and resumes those the service saved when it last shut
   * down (their stopAction is save): when the service starts.
   */
  async autoStart(): Promise<void> {
    const auto = this.store.vms().filter((vm) => (vm.autoStart && (vm.state === 'off' || vm.state === 'failed' || vm.state === 'saved'))
      || (vm.state === 'saved' && vm.stateReason === SAVED_AT_SHUTDOWN));
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
    const vm: VmRecord = { ...definition, id: randomUUID(), state: 'off', checkpoint: null, stateReason: null, createdAt: at, updatedAt: at, startedAt: null };
    this.commit(vm, [{ type: 'created', message: `VM ${vm.name} created` }]);
    return vm;
  }

  async update(ref: string, patch: VmPatch): Promise<VmRecord> {
    const before = this.get(ref);
    this.requireState(before, 'update');
    const definition: VmDefinition = { ...definitionOf(before), ...patch, ...(patch.disks ? { disks: normalizeDisks(patch.disks) } : {}) };
    await validateDefinition({ ...definition, id: before.id }, this.storage);
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
    if (vm.state === 'saved') rmSync(this.statePath(vm.id), { force: true });
    // Its checkpoints go with it: their memory states are removed; the disk images stay,
    // as every disk image of a deleted VM does (the VM's current disk may be among them).
    for (const cp of this.store.checkpoints(vm.id)) if (cp.stateFile) rmSync(cp.stateFile, { force: true });
    for (const e of this.store.remove(vm.id, [{ vmId: vm.id, type: 'deleted', message: `VM ${vm.name} deleted` }])) this.emit('event', e);
    this.reboots.delete(vm.id);
    this.log(`${vm.name}: deleted`);
    this.emit('removed', vm.id);
  }

  async start(ref: string): Promise<VmRecord> {
    const before = this.get(ref);
    this.requireState(before, 'start');
    if (before.state === 'saved') return this.resumeSaved(before);
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

  /**
   * Resumes a saved VM from its state file (its definition cannot change while saved, so
   * the file's machine is the definition's); the file is removed once the VM runs. A file
   * that cannot be restored leaves the VM saved, with the reason in the answer (500).
   */
  private async resumeSaved(before: VmRecord): Promise<VmRecord> {
    const path = this.statePath(before.id);
    let restored: Vm;
    try {
      // The definition's disks: a checkpoint applied since the save has put new overlays there.
      // How the processors run is the definition's too (a state file does not record it).
      restored = (await Vm.restore(path, { disks: definitionDisks(before), imagePolicy: this.storage?.policy(), jit: before.jit })).vm;
    } catch (e) {
      const message = `cannot resume from ${path}: ${(e as Error).message}`;
      this.record(before.id, [{ type: 'error', message }]);
      throw new ApiError(500, `${before.name} ${message}`, { state: 'saved' });
    }
    let vm: VmRecord;
    try {
      vm = this.unchangedSince(before, 'start');
    } catch (e) {
      restored.stop();
      throw e;
    }
    this.reboots.delete(vm.id);
    this.launch(vm.id, restored, 'resumed from its saved state');
    await this.until(vm.id, (s) => s !== 'starting', START_WAIT_MS);
    const after = this.get(vm.id);
    if (after.state === 'failed') throw new ApiError(500, `${vm.name} failed to resume: ${after.stateReason}`, { state: 'failed' });
    rmSync(path, { force: true });
    return after;
  }

  /**
   * Saves the VM (memory and device state, to the data directory) and stops it: it is then
   * saved, and start resumes it. Answers once the state is written; a failed save leaves
   * the VM running (or paused) as it was, and answers 500 with why.
   */
  async save(ref: string, why = 'save requested', reason = 'saved'): Promise<VmRecord> {
    const vm = this.get(ref);
    this.requireState(vm, 'save');
    if (vm.state === 'saving') { await this.until(vm.id, (s) => s !== 'saving', STOP_WAIT_MS); return this.get(vm.id); }
    const live = this.live.get(vm.id)!;
    const was = vm.state;
    live.after = 'off';
    live.saveReason = reason;
    this.transition(vm.id, 'saving', { message: why });
    const t0 = performance.now();
    try {
      mkdirSync(this.savedDir!, { recursive: true, mode: 0o700 });
      const r = await live.vm.save(this.statePath(vm.id), {
        then: 'stop', onProgress: progressEvents((pct) => this.record(vm.id, [{ type: 'progress', message: `saving: ${pct}%` }])),
      });
      this.record(vm.id, [{ type: 'saved', message: `state saved: ${(r.bytes / 2 ** 20).toFixed(1)} MiB (${r.zeroPages} zero pages left out) in ${Math.round(performance.now() - t0)} ms` }]);
    } catch (e) {
      live.saveReason = undefined;
      const message = `the save failed: ${(e as Error).message}`;
      if (this.live.get(vm.id) === live && this.store.vm(vm.id)?.state === 'saving') {
        this.transition(vm.id, was, { message, error: true });
      } else {
        this.record(vm.id, [{ type: 'error', message }]);
      }
      throw new ApiError(500, `${vm.name}: ${message}`, { state: this.get(vm.id).state });
    }
    await this.until(vm.id, (s) => s !== 'saving', STOP_WAIT_MS);
    return this.get(vm.id);
  }

  /** Drops a saved VM's state: it is off, and the next start boots it afresh. */
  discardState(ref: string): VmRecord {
    const vm = this.get(ref);
    this.requireState(vm, 'discard-state');
    rmSync(this.statePath(vm.id), { force: true });
    return this.transition(vm.id, 'off', { stateReason: 'stopped', message: 'saved state discarded' });
  }

  // --- Checkpoints (docs/state.md) ------------------------------------------------------

  /** A VM's checkpoints, oldest first. */
  checkpoints(ref: string): CheckpointRecord[] { return this.store.checkpoints(this.get(ref).id); }

  /** One checkpoint of a VM, by id or name. */
  checkpointOf(vm: VmRecord, ref: string): CheckpointRecord {
    const cp = this.store.checkpoints(vm.id).find((c) => c.id === ref || c.name === ref);
    if (!cp) throw new ApiError(404, `${vm.name} has no checkpoint ${ref}`);
    return cp;
  }

  /**
   * Takes a checkpoint: the VM's writable disks are frozen and it goes on in new overlays;
   * a running (or paused) VM's memory and devices are saved too, and it goes on as it was.
   */
  async checkpoint(ref: string, name?: string): Promise<CheckpointRecord> {
    const vm = this.get(ref);
    this.requireState(vm, 'checkpoint');
    const cpName = name ?? `checkpoint-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}`;
    if (this.store.checkpoints(vm.id).some((c) => c.name === cpName)) throw conflict(`${vm.name} already has a checkpoint ${cpName}`, vm.state);
    const id = randomUUID();
    const dir = this.checkpointDir(vm.id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const definition = definitionOf(vm);
    const disks = definitionDisks(definition);
    const overlays = overlayPaths(dir, definition, id.slice(0, 8));
    const live = this.live.get(vm.id);
    let stateFile: string | null = null;
    await this.exclusive(vm, 'take a checkpoint of', async () => {
      if (live) {
        stateFile = join(dir, `${id}.tshvstate`);
        await live.vm.save(stateFile, { then: 'continue', switchDisks: overlays });
      } else {
        await createOverlays(dir, disks, overlays);
      }
    });
    const cp: CheckpointRecord = { id, vmId: vm.id, name: cpName, parentId: vm.checkpoint, createdAt: now(), stateFile, definition };
    const current = this.get(vm.id);
    this.commitCheckpoint({
      put: [cp], vm: { ...current, ...withDisks(definitionOf(current), applyOverlays(disks, overlays)), checkpoint: id, updatedAt: now() },
      events: [{ type: 'checkpoint', message: `checkpoint ${cpName} taken${stateFile ? ' (memory and devices too)' : ''}` }],
    });
    return cp;
  }

  /**
   * Goes back to a checkpoint: its disks again (in new overlays: the changes since are
   * dropped) and its definition; with memory (taken running) a VM that runs now runs on from
   * the checkpoint, one that does not is left saved at it; without, it is left off (or
   * started afresh if it was running).
   */
  async applyCheckpoint(ref: string, cpRef: string): Promise<VmRecord> {
    const before = this.get(ref);
    this.requireState(before, 'apply-checkpoint');
    const cp = this.checkpointOf(before, cpRef);
    const wasLive = LIVE_STATES.includes(before.state);
    if (wasLive) await this.stop(before.id);
    const vm = this.get(before.id);
    if (LIVE_STATES.includes(vm.state)) throw conflict(`${vm.name} did not stop`, vm.state);
    if (vm.state === 'saved') await rm(this.statePath(vm.id), { force: true });
    const dir = this.checkpointDir(vm.id);
    const frozen = definitionDisks(cp.definition);
    const overlays = overlayPaths(dir, cp.definition, randomUUID().slice(0, 8));
    await createOverlays(dir, frozen, overlays);
    let state: VmState = 'off';
    if (cp.stateFile) {
      await mkdir(this.savedDir!, { recursive: true, mode: 0o700 });
      await rm(this.statePath(vm.id), { force: true });
      await link(cp.stateFile, this.statePath(vm.id)); // a restore only reads it: the checkpoint keeps its copy
      state = 'saved';
    }
    this.commitCheckpoint({
      vm: { ...vm, ...withDisks(cp.definition, applyOverlays(frozen, overlays)), checkpoint: cp.id, state, stateReason: `checkpoint ${cp.name} applied`, updatedAt: now() },
      events: [{ type: 'checkpoint', message: `checkpoint ${cp.name} applied` }, { type: 'state', state, message: `checkpoint ${cp.name} applied` }],
    });
    await this.collectImages(vm.id);
    if (wasLive) return this.start(vm.id);
    return this.get(vm.id);
  }

  /**
   * Deletes a checkpoint: its children hang from its parent, its memory state goes, and its
   * frozen images are merged into the images above them (at once when the VM does not run,
   * else when it next stops).
   */
  async deleteCheckpoint(ref: string, cpRef: string): Promise<void> {
    const vm = this.get(ref);
    this.requireState(vm, 'delete-checkpoint');
    const cp = this.checkpointOf(vm, cpRef);
    const children = this.store.checkpoints(vm.id).filter((c) => c.parentId === cp.id).map((c) => ({ ...c, parentId: cp.parentId }));
    this.commitCheckpoint({
      put: children, remove: [cp.id],
      vm: { ...vm, checkpoint: vm.checkpoint === cp.id ? cp.parentId : vm.checkpoint, updatedAt: now() },
      events: [{ type: 'checkpoint', message: `checkpoint ${cp.name} deleted` }],
    });
    if (cp.stateFile) await rm(cp.stateFile, { force: true });
    if (!this.live.has(vm.id)) await this.collectImages(vm.id);
  }

  /** Merges and removes the checkpoint images nothing uses any more (a VM that does not run). */
  private async collectImages(id: string): Promise<void> {
    const vm = this.store.vm(id);
    if (!vm || this.live.has(id)) return;
    const inUse = [...this.store.checkpoints(id).flatMap((c) => definitionDisks(c.definition)), ...definitionDisks(vm)].map((d) => d.path);
    try {
      const removed = await collect(this.checkpointDir(id), inUse);
      if (removed.length) this.record(id, [{ type: 'checkpoint', message: `merged and removed ${removed.length} image(s) of deleted checkpoints` }]);
    } catch (e) {
      this.record(id, [{ type: 'error', message: `merging the images of deleted checkpoints failed: ${(e as Error).message}` }]);
    }
  }

  private checkpointDir(id: string): string {
    if (!this.savedDir) throw new ApiError(500, 'this host has no directory for checkpoints');
    return join(dirname(this.savedDir), 'checkpoints', id);
  }

  // --- Migration (docs/migration.md; migration.ts drives it) ------------------------------

  /**
   * Runs `fn` (the outgoing migration) with the Vm of a running VM, no other multi-step
   * operation overlapping. A VM whose migration completes stops here as 'migrated', and
   * its record is removed (ended()).
   */
  async migrating<T>(ref: string, fn: (vm: Vm, record: VmRecord) => Promise<T>): Promise<T> {
    const record = this.get(ref);
    this.requireState(record, 'migrate');
    if (this.store.checkpoints(record.id).length) {
      throw conflict(`cannot migrate ${record.name}: its checkpoints are kept on this host; delete them first`, record.state);
    }
    return this.exclusive(record, 'migrate', () => fn(this.live.get(record.id)!.vm, record));
  }

  /**
   * An incoming VM (from a migration stream: untrusted) checked as a create request is
   * (VmCreateSchema, its files inside this host's storage roots) and its id and name taken
   * until adoptIncoming or releaseIncoming. Refused (ApiError) if either is in use here.
   */
  async reserveIncoming(v: unknown, disks: readonly MirroredDisk[] = []): Promise<{ record: VmRecord; restore: RestoreOptions }> {
    checkJson(IncomingVmSchema, v, 'vm');
    const { id, createdAt, startedAt, ...definition } = v as VmDefinition & { id: string; createdAt: string; startedAt?: string | null };
    let d: VmDefinition = { ...DEFINITION_DEFAULTS, ...definition, disks: normalizeDisks(definition.disks ?? []) };
    const vmId = id.toLowerCase();
    if (this.store.vm(vmId) || this.incoming.has(vmId)) throw conflict(`a VM with id ${vmId} is already on this host`, 'off');
    this.checkNameFree(d.name);
    let made: string | undefined;
    try {
      if (disks.length > 0) {
        // Shared-nothing: the disks come in the stream, into new images here.
        const specs = definitionDisks(d);
        const root = this.storage?.roots[0];
        if (!root) throw badInput('disks', 'this host has no storage root to take a migration\'s disks into');
        if (specs.length !== disks.length) throw badInput('disks', `${disks.length} disks come for a VM that defines ${specs.length}`);
        // A folder of its own each time: a VM that comes back finds its earlier copies there still.
        const dir = join(root, `${d.name}-${randomUUID().slice(0, 8)}`);
        const paths = await makeIncomingImages(dir, disks);
        made = dir;
        d = withDisks(d, specs.map((s, i) => ({ ...s, path: paths[i]! })));
      }
      await validateDefinition({ ...d, id: vmId }, this.storage);
      if (this.store.vm(vmId) || this.incoming.has(vmId)) throw conflict(`a VM with id ${vmId} is already on this host`, 'off');
      this.checkNameFree(d.name);
    } catch (e) {
      if (made) await removeIncomingImages(made);
      throw e;
    }
    this.incoming.set(vmId, d.name);
    if (made) this.incomingImages.set(vmId, made);
    const at = now();
    return {
      // It has run since it started on the first host: its uptime goes on.
      record: { ...d, id: vmId, state: 'starting', checkpoint: null, stateReason: null, createdAt: isoOr(createdAt, at), updatedAt: at, startedAt: isoOr(startedAt, at) },
      restore: { disks: definitionDisks(d), imagePolicy: this.storage?.policy(), jit: d.jit },
    };
  }

  /**
   * The incoming VM exists (its memory arrives; it runs once its state is in): from now on
   * it is listed, starting, and its console can be opened, so nothing it prints is missed.
   * Once it runs, it is running (attach).
   */
  arriving(record: VmRecord, vm: Vm, message: string): void {
    this.commit(record, [{ type: 'migration', message }, { type: 'state', state: 'starting', message }]);
    this.log(`${record.name}: starting (${message})`);
    this.incoming.delete(record.id); // the store holds its id and name now
    const live: Live = { vm, after: 'off', stopRequested: false };
    this.live.set(record.id, live);
    this.attach(record.id, live);
  }

  /**
   * The incoming VM did not arrive: its record (if it had one yet: the id was free when it
   * was reserved, so the record is the migration's) is removed, its id and name are free.
   */
  releaseIncoming(id: string, why: string): void {
    this.incoming.delete(id);
    const live = this.live.get(id);
    if (live) {
      this.live.delete(id);
      live.vm.kill(`the migration failed: ${why}`);
    }
    const images = this.incomingImages.get(id);
    if (images) {
      this.incomingImages.delete(id);
      // Once the VM's threads have let go of them.
      const remove = () => { removeIncomingImages(images).catch((e: Error) => this.log(`${images}: could not be removed: ${e.message}`)); };
      if (live && !live.vm.stopped) live.vm.once('stopped', remove);
      else remove();
    }
    const vm = this.store.vm(id);
    if (!vm) return;
    for (const e of this.store.remove(id, [{ vmId: id, type: 'migration', message: `the migration here failed: ${why}` }])) this.emit('event', e);
    this.log(`${vm.name}: the migration here failed: ${why}`);
    this.emit('removed', id);
  }

  /** The incoming VM runs here: the images made for its disks are its own from now on. */
  arrived(id: string): void { this.incomingImages.delete(id); }

  /** The VM runs on `to` now (a migration completed, or found completed after a restart): its record here goes. */
  migratedAway(id: string, to: string): void {
    const vm = this.store.vm(id);
    if (!vm || this.live.has(id)) return;
    for (const e of this.store.remove(id, [{ vmId: id, type: 'migration', message: `it runs on ${to} now: its record here is removed` }])) this.emit('event', e);
    this.reboots.delete(id);
    this.log(`${vm.name}: migrated to ${to}`);
    this.emit('removed', id);
  }

  /** Marks an off VM failed, with why (a migration whose outcome nobody could tell). */
  markFailed(id: string, why: string): void {
    const vm = this.store.vm(id);
    if (!vm || LIVE_STATES.includes(vm.state)) return;
    this.transition(id, 'failed', { stateReason: why, message: why, error: true });
  }

  /** Records an event of a VM (a migration's phases). */
  note(id: string, type: 'migration' | 'progress' | 'error', message: string): void { this.record(id, [{ type, message }]); }

  /** Runs a multi-step operation on a VM that no other such operation may overlap. */
  private async exclusive<T>(vm: VmRecord, what: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy.has(vm.id)) throw conflict(`cannot ${what} ${vm.name}: ${this.busy.get(vm.id)} is under way`, vm.state);
    this.busy.set(vm.id, what);
    try {
      return await fn();
    } finally {
      this.busy.delete(vm.id);
    }
  }

  private commitCheckpoint(c: { put?: CheckpointRecord[]; remove?: string[]; vm: VmRecord; events: Omit<NewEvent, 'vmId'>[] }): void {
    const stored = this.store.checkpointChange({ ...c, events: c.events.map((e) => ({ ...e, vmId: c.vm.id })) });
    for (const e of stored) this.emit('event', e);
    this.emit('changed', c.vm);
  }

  /** Where a VM's saved state is kept. */
  statePath(id: string): string {
    if (!this.savedDir) throw new ApiError(500, 'this host has no directory for saved states');
    return join(this.savedDir, `${id}.tshvstate`);
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

  /**
   * The service is shutting down: VMs whose stopAction is save are saved (and resumed when
   * it starts again), every other live VM is stopped; resolves when all are off or saved.
   */
  async shutdown(): Promise<void> {
    const saving = [...this.live.keys()].filter((id) => {
      const vm = this.store.vm(id);
      return vm?.stopAction === 'save' && (vm.state === 'running' || vm.state === 'paused');
    });
    await Promise.all(saving.map((id) => this.save(id, 'the service is shutting down', SAVED_AT_SHUTDOWN)
      .catch((e: Error) => this.log(`${this.store.vm(id)?.name ?? id}: ${e.message}; stopping it instead`))));
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

  private launch(id: string, config: VmConfig | Vm, why: string, stateReason?: string): void {
    let vm: Vm;
    try {
      vm = config instanceof Vm ? config : new Vm(config);
    } catch (e) {
      const message = `the VM could not be created: ${(e as Error).message}`;
      this.transition(id, 'failed', { stateReason: message, startedAt: null, message, error: true });
      return;
    }
    const live: Live = { vm, after: 'off', stopRequested: false };
    this.live.set(id, live);
    this.transition(id, 'starting', { startedAt: now(), message: why, ...(stateReason ? { stateReason } : {}) });
    this.attach(id, live);
  }

  /** Follows a live VM: its start, console, log, I/O errors and end. */
  private attach(id: string, live: Live): void {
    const { vm } = live;
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
    void this.collectImages(id); // checkpoints deleted while it ran
    if (live.vm.pendingInputBytes) this.emit('input-drained', id); // the input went with the run
    const vm = this.store.vm(id);
    if (!vm) return;
    if (reason.kind === 'migrated') {
      this.migratedAway(id, reason.to);
      return;
    }
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
    if (reason.kind === 'saved') {
      this.transition(id, 'saved', { stateReason: live.saveReason ?? 'saved', startedAt: null, message: `saved to ${reason.path}` });
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
    for (const [id, arriving] of this.incoming) if (arriving === name) throw conflict(`the name ${name} is taken by VM ${id}, which is migrating here`, 'starting');
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


function normalizeDisks(disks: readonly { path: string; readOnly?: boolean }[]): VmDefinition['disks'] {
  return disks.map((d) => ({ path: d.path, readOnly: d.readOnly ?? false }));
}

const now = () => new Date().toISOString();
/** A time from elsewhere (a migration stream) as ISO text, or `fallback` if it is none. */
const isoOr = (t: string | null | undefined, fallback: string) => (typeof t === 'string' && !Number.isNaN(Date.parse(t)) ? new Date(t).toISOString() : fallback);
