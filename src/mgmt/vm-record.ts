// A VM as the management service knows it: its definition (what the user asked for) and
// its last known state. Checks that need more than the JSON schemas (files on this host,
// rules across fields) and the step from a definition to a bootable VmConfig live here.
import { existsSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { guestConfig, GuestConfigError, sharedImage, type GuestSpec } from '../parent/guest-config.js';
import type { VmConfig } from '../parent/vm.js';
import type { ConsoleKind, DiskSpec } from '../parent/vm-protocol.js';
import { MAX_DISKS } from '../parent/vsp/synthetic.js';
import { badInput } from './errors.js';
import type { VmState } from './lifecycle.js';
import type { StorageRoots } from './storage.js';

/** What a user defines; every field may be changed while the VM is off. */
export interface VmDefinition {
  name: string;
  vcpus: number;
  memoryMiB: number;
  kernel: string | null;
  initrd: string | null;
  append: string | null;
  root: string | null;
  disks: DiskSpec[];
  console: ConsoleKind;
  autoStart: boolean;
  /** What the service does with the VM when it shuts down: stop it (default), or save it and resume it on start. */
  stopAction: StopAction;
  /**
   * Whether the processors translate hot guest code to WebAssembly (true, the default) or
   * only interpret it. Read at every start, resume and reboot; not part of a saved state.
   */
  jit: boolean;
}

export type StopAction = 'stop' | 'save';

export interface VmRecord extends VmDefinition {
  id: string;
  state: VmState;
  /** The checkpoint the VM is at (the last one taken or applied): the parent of the next one. */
  checkpoint: string | null;
  /** How the last run ended: "poweroff" | "reboot" | "stopped" | an error message. */
  stateReason: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
}

/** The definition part of a VM's record (what a user set). */
export function definitionOf(vm: VmRecord): VmDefinition {
  const { name, vcpus, memoryMiB, kernel, initrd, append, root, disks, console, autoStart, stopAction, jit } = vm;
  return { name, vcpus, memoryMiB, kernel, initrd, append, root, disks, console, autoStart, stopAction, jit };
}

/** A definition's disks in the VM's order (the root disk first: /dev/vda), as the VM attaches them. */
export function definitionDisks(d: VmDefinition): DiskSpec[] {
  return [...(d.root ? [{ path: d.root, readOnly: false }] : []), ...d.disks];
}

/** The definition with its disks replaced, in definitionDisks() order. */
export function withDisks(d: VmDefinition, disks: readonly DiskSpec[]): VmDefinition {
  const root = d.root ? disks[0]!.path : null;
  return { ...d, root, disks: disks.slice(d.root ? 1 : 0).map((x) => ({ ...x })) };
}

/** A checkpoint of a VM (docs/state.md): its disks as they were, and its memory if it was running. */
export interface CheckpointRecord {
  id: string;
  vmId: string;
  name: string;
  /** The checkpoint the VM was at when this one was taken (null: the first). */
  parentId: string | null;
  createdAt: string;
  /** Memory and device state (a state file), or null when the VM was off. */
  stateFile: string | null;
  /** The VM's definition at the time; its disks are the checkpoint's frozen images. */
  definition: VmDefinition;
}

/** A create request after schema validation: name required, the rest optional. */
export type VmInput = Partial<VmDefinition> & { name: string };
export type VmPatch = Partial<VmDefinition>;

export const DEFINITION_DEFAULTS: Omit<VmDefinition, 'name'> = {
  vcpus: 1, memoryMiB: 256, kernel: null, initrd: null, append: null, root: null, disks: [], console: 'serial', autoStart: false, stopAction: 'stop', jit: true,
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string) => UUID.test(s);

/**
 * The checks a definition needs beyond its schema: a name that cannot be mistaken for an
 * id, at most MAX_DISKS disks with the root disk, and image files that exist on this host,
 * inside its storage roots (when the service has them: it always does).
 */
export function checkDefinition(d: VmDefinition & { id?: string }, storage?: StorageRoots): void {
  const check = (field: string, path: string | null) => checkFile(field, path, storage, d.id);
  if (isUuid(d.name)) throw badInput('name', 'name must not look like a VM id (a UUID)');
  const count = d.disks.length + (d.root ? 1 : 0);
  if (count > MAX_DISKS) throw badInput('disks', `at most ${MAX_DISKS} disks (the root disk counts as one), got ${count}`);
  check('kernel', d.kernel);
  check('initrd', d.initrd);
  check('root', d.root);
  d.disks.forEach((disk, i) => check(`disks[${i}].path`, disk.path));
  const images = [...(d.root ? [{ field: 'root', path: d.root, readOnly: false }] : []), ...d.disks.map((x, i) => ({ field: `disks[${i}].path`, ...x }))];
  const twice = sharedImage(images);
  if (twice) {
    const [first, second] = twice.map((i) => images[i]);
    throw badInput(second.field, `${second.field}: ${second.path} is the same image as ${first.field} (${first.path}); ` +
      'an image can be attached twice only if both are read-only');
  }
}

/** @param vmId the VM the definition is of: its own checkpoint images are allowed (none for a new VM) */
function checkFile(field: string, path: string | null, storage: StorageRoots | undefined, vmId: string | undefined): void {
  if (path === null) return;
  storage?.check(field, path, vmId); // first: outside the roots, not even whether it exists is told
  if (!existsSync(path)) throw badInput(field, `${field}: ${path}: no such file`);
  if (!statSync(path).isFile() && !statSync(path).isBlockDevice()) throw badInput(field, `${field}: ${path} is not a file`);
}

/**
 * Everything create and update check: checkDefinition, and a kernel or initrd given is read
 * as at start (a kernel must be a RISC-V Linux Image, both must fit the VM's RAM).
 */
export async function validateDefinition(d: VmDefinition & { id?: string }, storage?: StorageRoots): Promise<void> {
  checkDefinition(d, storage);
  if (d.kernel !== null || d.initrd !== null) await vmConfig(d, storage); // the default images are known to be good
}

/**
 * Reads the images and builds the VmConfig; a file that went missing, or left the storage
 * roots (swapped for a symbolic link, say), is a 400 naming its field.
 */
export async function vmConfig(d: VmDefinition & { id?: string }, storage?: StorageRoots): Promise<VmConfig> {
  checkDefinition(d, storage);
  try {
    const config = await guestConfig({
      kernel: d.kernel ?? undefined, initrd: d.initrd ?? undefined, append: d.append ?? undefined, root: d.root ?? undefined,
      disks: d.disks, console: d.console, cpus: d.vcpus, memoryBytes: d.memoryMiB * 2 ** 20, admit: storage && admitWithin(storage, d),
    });
    // The worker checks every layer it opens against the roots too: a qcow2 image inside a
    // root may name a backing file anywhere.
    return { ...config, jit: d.jit, ...(storage ? { imagePolicy: storage.policy() } : {}) };
  } catch (e) {
    if (e instanceof GuestConfigError) throw badInput(e.field, e.message);
    throw e;
  }
}

/**
 * A kernel or initrd the definition names, once opened, must be the file checked against
 * the roots: its real path is checked again, and must be the very inode that was opened
 * (not a file put there since the check). The built-in images need no check.
 */
function admitWithin(storage: StorageRoots, d: VmDefinition): GuestSpec['admit'] {
  return async (field, path, opened) => {
    if (d[field] === null) return;
    const real = storage.check(field, path);
    const now = await stat(real).catch(() => undefined);
    if (now?.ino !== opened.ino || now?.dev !== opened.dev) throw badInput(field, `${field}: ${path} changed while it was being opened; try again`);
  };
}
