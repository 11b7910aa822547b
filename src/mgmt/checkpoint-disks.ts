// The disks of checkpoints (docs/state.md "Checkpoints"): each checkpoint freezes a VM's
// writable disk images, and the VM goes on in new qcow2 differencing images (overlays)
// backed by them, so every disk is a chain: the user's image <- frozen overlays <- the
// current overlay. The overlays live in the data directory's checkpoints/<vm id>/.
//
// Deleting a checkpoint leaves its frozen images without a checkpoint: they are merged into
// the images above them (qcow2-merge.ts) and removed, by collect() — when the VM does not
// run (its images are locked while it does), so a delete while it runs is merged later.
// The user's own images are never changed or removed: only files in the VM's folder are.
import { readdir, rm, realpath, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createQcow2 } from '../parent/drivers/disk/qcow2-create.js';
import { probeFormat } from '../parent/drivers/disk/open.js';
import { backingChain, mergeIntoChild } from '../parent/drivers/disk/qcow2-merge.js';
import type { DiskSpec } from '../parent/vm-protocol.js';
import { definitionDisks, type VmDefinition } from './vm-record.js';

/** /dev/vda, vdb...: a disk's name for file names. */
const diskLabel = (i: number) => 'vd' + String.fromCharCode(0x61 + i);

/**
 * The overlay path for each writable disk of `d` (null for a read-only one: it cannot change
 * and needs none), in definitionDisks() order, named after the disk and `tag`.
 */
export function overlayPaths(dir: string, d: VmDefinition, tag: string): (string | null)[] {
  return definitionDisks(d).map((disk, i) => (disk.readOnly ? null : join(dir, `${diskLabel(i)}-${tag}.qcow2`)));
}

/** Creates the overlays of a VM that is not running (its images are not locked). */
export async function createOverlays(dir: string, disks: readonly DiskSpec[], overlays: readonly (string | null)[]): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const made: string[] = [];
  try {
    for (const [i, overlay] of overlays.entries()) {
      if (!overlay) continue;
      const backing = await realpath(disks[i]!.path);
      await createQcow2(overlay, { backing, backingFormat: await probeFormat(backing) });
      made.push(overlay);
    }
  } catch (e) {
    await Promise.all(made.map((p) => rm(p, { force: true })));
    throw e;
  }
}

/** The disks with each overlay in place of the image it covers. */
export function applyOverlays(disks: readonly DiskSpec[], overlays: readonly (string | null)[]): DiskSpec[] {
  return disks.map((d, i) => (overlays[i] ? { path: overlays[i]!, readOnly: false } : d));
}

/**
 * Merges and removes the images in `dir` that no checkpoint and no current disk uses
 * (`inUse`: the images of every checkpoint and the VM's current disks). Each such image
 * is merged into every image backed by it, then removed; an image nothing is backed by
 * (an overlay a checkpoint apply left behind) is just removed. Only for a VM that does
 * not run. Returns the files removed.
 */
export async function collect(dir: string, inUse: readonly string[]): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.qcow2'));
  } catch {
    return []; // no checkpoints were ever taken
  }
  const files = names.map((n) => join(dir, n));
  const used = new Set(await Promise.all(inUse.map((p) => realpath(p).catch(() => p))));
  const removed: string[] = [];
  for (let changed = true; changed;) {
    changed = false;
    const live = files.filter((f) => !removed.includes(f));
    const backingOf = new Map<string, string | undefined>();
    for (const f of [...live, ...used]) backingOf.set(f, (await backingChain(f).catch(() => []))[1]?.path);
    for (const orphan of live.filter((f) => !used.has(f))) {
      const children = [...backingOf].filter(([, b]) => b === orphan).map(([f]) => f);
      for (const child of children) await mergeIntoChild(child);
      await rm(orphan, { force: true });
      removed.push(orphan);
      changed = true;
      break; // the chains changed: look again
    }
  }
  return removed;
}
