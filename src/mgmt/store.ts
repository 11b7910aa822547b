// The host's persistent state in SQLite (tshv.db): VM definitions with their last known
// state, and the event log. Every write is one transaction committed before the request
// that caused it is answered; WAL with synchronous=FULL makes a commit survive a SIGKILL
// of the service (and a power cut), so an acknowledged change is never lost.
import Database from 'better-sqlite3';
import type { CheckpointRecord, VmDefinition, VmRecord } from './vm-record.js';
import type { VmState } from './lifecycle.js';

export type EventType = 'created' | 'updated' | 'deleted' | 'state' | 'console-closed' | 'host-restart' | 'error' | 'io-error' | 'progress' | 'saved'
  | 'checkpoint' | 'migration';
export const EVENT_TYPES: readonly EventType[] = ['created', 'updated', 'deleted', 'state', 'console-closed', 'host-restart', 'error', 'io-error',
  'progress', 'saved', 'checkpoint', 'migration'];

export interface NewEvent { vmId: string; type: EventType; state?: VmState; message?: string }
export interface EventRecord extends NewEvent { id: number; at: string }

/** The schema, one step per version; PRAGMA user_version records how many have run. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE vms (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     vcpus INTEGER NOT NULL,
     memory_mib INTEGER NOT NULL,
     kernel TEXT,
     initrd TEXT,
     append TEXT,
     root TEXT,
     disks TEXT NOT NULL,          -- JSON: [{ "path": ..., "readOnly": ... }]
     console TEXT NOT NULL,
     auto_start INTEGER NOT NULL,
     state TEXT NOT NULL,
     state_reason TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     started_at TEXT
   );
   CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     vm_id TEXT NOT NULL,          -- no foreign key: a deleted VM's events stay
     at TEXT NOT NULL,
     type TEXT NOT NULL,
     state TEXT,
     message TEXT
   );
   CREATE INDEX events_by_vm ON events (vm_id, id);`,
  // What the service does with the VM when it shuts down: stop it, or save it (and resume it on start).
  `ALTER TABLE vms ADD COLUMN stop_action TEXT NOT NULL DEFAULT 'stop';`,
  // Checkpoints (docs/state.md): each freezes the VM's disks (definition JSON: its disks are
  // the frozen images) and, when taken from a running VM, its memory and devices (state_file).
  `CREATE TABLE checkpoints (
     id TEXT PRIMARY KEY,
     vm_id TEXT NOT NULL,
     name TEXT NOT NULL,
     parent_id TEXT,               -- the checkpoint the VM was at when this one was taken
     created_at TEXT NOT NULL,
     state_file TEXT,              -- null: taken while the VM was off
     definition TEXT NOT NULL,
     UNIQUE (vm_id, name)
   );
   ALTER TABLE vms ADD COLUMN checkpoint_id TEXT;`,
  // Whether the processors translate hot code (1) or only interpret (0). A checkpoint's
  // definition is the VM's as it was: the ones taken before this setting ran translated.
  `ALTER TABLE vms ADD COLUMN jit INTEGER NOT NULL DEFAULT 1;
   UPDATE checkpoints SET definition = json_set(definition, '$.jit', json('true'));`,
];

/** The event log keeps this many events; older ones are pruned. */
const MAX_EVENTS = 100_000;

interface VmRow {
  id: string; name: string; vcpus: number; memory_mib: number; kernel: string | null; initrd: string | null; append: string | null;
  root: string | null; disks: string; console: string; auto_start: number; stop_action: string; jit: number; checkpoint_id: string | null; state: string; state_reason: string | null;
  created_at: string; updated_at: string; started_at: string | null;
}
interface EventRow { id: number; vm_id: string; at: string; type: string; state: string | null; message: string | null }

export class Store {
  private readonly db: Database.Database;
  private readonly stmt;
  private inserted = 0;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    this.stmt = {
      all: this.db.prepare<[], VmRow>('SELECT * FROM vms ORDER BY created_at, name'),
      byId: this.db.prepare<[string], VmRow>('SELECT * FROM vms WHERE id = ?'),
      byName: this.db.prepare<[string], VmRow>('SELECT * FROM vms WHERE name = ?'),
      upsert: this.db.prepare<VmRow>(`INSERT INTO vms (id, name, vcpus, memory_mib, kernel, initrd, append, root, disks, console, auto_start,
          stop_action, jit, checkpoint_id, state, state_reason, created_at, updated_at, started_at)
        VALUES (@id, @name, @vcpus, @memory_mib, @kernel, @initrd, @append, @root, @disks,
          @console, @auto_start, @stop_action, @jit, @checkpoint_id, @state, @state_reason, @created_at, @updated_at, @started_at)
        ON CONFLICT (id) DO UPDATE SET name = @name, vcpus = @vcpus, memory_mib = @memory_mib, kernel = @kernel, initrd = @initrd,
          append = @append, root = @root, disks = @disks, console = @console, auto_start = @auto_start, stop_action = @stop_action, jit = @jit, checkpoint_id = @checkpoint_id, state = @state,
          state_reason = @state_reason, updated_at = @updated_at, started_at = @started_at`),
      remove: this.db.prepare<[string]>('DELETE FROM vms WHERE id = ?'),
      addEvent: this.db.prepare<[string, string, string, string | null, string | null]>(
        'INSERT INTO events (vm_id, at, type, state, message) VALUES (?, ?, ?, ?, ?)'),
      lastEvents: this.db.prepare<[string, number], EventRow>(
        'SELECT * FROM (SELECT * FROM events WHERE vm_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id'),
      eventsAfter: this.db.prepare<[number, number], EventRow>('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?'),
      prune: this.db.prepare<[number]>('DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - ?'),
      checkpoints: this.db.prepare<[string], CheckpointRow>('SELECT * FROM checkpoints WHERE vm_id = ? ORDER BY created_at, rowid'),
      putCheckpoint: this.db.prepare<CheckpointRow>(`INSERT INTO checkpoints (id, vm_id, name, parent_id, created_at, state_file, definition)
        VALUES (@id, @vm_id, @name, @parent_id, @created_at, @state_file, @definition)
        ON CONFLICT (id) DO UPDATE SET name = @name, parent_id = @parent_id, state_file = @state_file, definition = @definition`),
      removeCheckpoint: this.db.prepare<[string]>('DELETE FROM checkpoints WHERE id = ?'),
      removeCheckpoints: this.db.prepare<[string]>('DELETE FROM checkpoints WHERE vm_id = ?'),
    };
    this.stmt.prune.run(MAX_EVENTS);
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new Error(`the database was written by a newer tshv (schema version ${version}, this one knows ${MIGRATIONS.length})`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  vms(): VmRecord[] { return this.stmt.all.all().map(fromRow); }
  vm(id: string): VmRecord | undefined { const r = this.stmt.byId.get(id); return r && fromRow(r); }
  vmByName(name: string): VmRecord | undefined { const r = this.stmt.byName.get(name); return r && fromRow(r); }

  /** Inserts or updates a VM together with the events that say what happened. */
  save(vm: VmRecord, events: NewEvent[]): EventRecord[] {
    return this.db.transaction(() => {
      this.stmt.upsert.run(toRow(vm));
      return events.map((e) => this.insertEvent(e));
    })();
  }

  /** A VM's checkpoints, oldest first. */
  checkpoints(vmId: string): CheckpointRecord[] { return this.stmt.checkpoints.all(vmId).map(checkpointFromRow); }

  /**
   * One step of a checkpoint operation, in one transaction: checkpoints written and
   * removed, the VM (its disks, its current checkpoint, its state) and the events.
   */
  checkpointChange(c: { put?: CheckpointRecord[]; remove?: string[]; vm: VmRecord; events: NewEvent[] }): EventRecord[] {
    return this.db.transaction(() => {
      for (const cp of c.put ?? []) this.stmt.putCheckpoint.run(checkpointToRow(cp));
      for (const id of c.remove ?? []) this.stmt.removeCheckpoint.run(id);
      this.stmt.upsert.run(toRow(c.vm));
      return c.events.map((e) => this.insertEvent(e));
    })();
  }

  remove(id: string, events: NewEvent[]): EventRecord[] {
    return this.db.transaction(() => {
      this.stmt.removeCheckpoints.run(id);
      this.stmt.remove.run(id);
      return events.map((e) => this.insertEvent(e));
    })();
  }

  addEvents(events: NewEvent[]): EventRecord[] {
    return this.db.transaction(() => events.map((e) => this.insertEvent(e)))();
  }

  /** The newest `limit` events of a VM, oldest first. */
  events(vmId: string, limit: number): EventRecord[] { return this.stmt.lastEvents.all(vmId, limit).map(eventFromRow); }

  /** Events of every VM after the event with this id, oldest first (an SSE client catching up). */
  eventsAfter(id: number, limit: number): EventRecord[] { return this.stmt.eventsAfter.all(id, limit).map(eventFromRow); }

  close(): void { this.db.close(); }

  private insertEvent(e: NewEvent): EventRecord {
    const at = new Date().toISOString();
    const id = Number(this.stmt.addEvent.run(e.vmId, at, e.type, e.state ?? null, e.message ?? null).lastInsertRowid);
    if (++this.inserted % 1000 === 0) this.stmt.prune.run(MAX_EVENTS);
    return { id, at, ...e };
  }
}

function toRow(vm: VmRecord): VmRow {
  return {
    id: vm.id, name: vm.name, vcpus: vm.vcpus, memory_mib: vm.memoryMiB, kernel: vm.kernel, initrd: vm.initrd, append: vm.append,
    root: vm.root, disks: JSON.stringify(vm.disks), console: vm.console, auto_start: vm.autoStart ? 1 : 0, stop_action: vm.stopAction, jit: vm.jit ? 1 : 0, checkpoint_id: vm.checkpoint, state: vm.state,
    state_reason: vm.stateReason, created_at: vm.createdAt, updated_at: vm.updatedAt, started_at: vm.startedAt,
  };
}

function fromRow(r: VmRow): VmRecord {
  return {
    id: r.id, name: r.name, vcpus: r.vcpus, memoryMiB: r.memory_mib, kernel: r.kernel, initrd: r.initrd, append: r.append, root: r.root,
    disks: JSON.parse(r.disks) as VmRecord['disks'], console: r.console as VmRecord['console'], autoStart: r.auto_start !== 0, stopAction: r.stop_action as VmRecord['stopAction'], jit: r.jit !== 0, checkpoint: r.checkpoint_id,
    state: r.state as VmState, stateReason: r.state_reason, createdAt: r.created_at, updatedAt: r.updated_at, startedAt: r.started_at,
  };
}

interface CheckpointRow {
  id: string; vm_id: string; name: string; parent_id: string | null; created_at: string; state_file: string | null; definition: string;
}

function checkpointToRow(c: CheckpointRecord): CheckpointRow {
  return {
    id: c.id, vm_id: c.vmId, name: c.name, parent_id: c.parentId, created_at: c.createdAt, state_file: c.stateFile,
    definition: JSON.stringify(c.definition),
  };
}

function checkpointFromRow(r: CheckpointRow): CheckpointRecord {
  return {
    id: r.id, vmId: r.vm_id, name: r.name, parentId: r.parent_id, createdAt: r.created_at, stateFile: r.state_file,
    definition: JSON.parse(r.definition) as VmDefinition,
  };
}

function eventFromRow(r: EventRow): EventRecord {
  return {
    id: r.id, vmId: r.vm_id, at: r.at, type: r.type as EventType,
    ...(r.state !== null ? { state: r.state as VmState } : {}), ...(r.message !== null ? { message: r.message } : {}),
  };
}
