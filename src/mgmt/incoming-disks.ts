// Where a shared-nothing migration's disks land on the destination (docs/migration.md
// "Disks"): a new folder of their own (NAME-xxxxxxxx) in this host's first storage root, one new image per disk of the size and format the source announced (vda.qcow2,
// vdb.raw, ...). The migration then writes them; if it fails, the folder goes.
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createQcow2 } from '../parent/drivers/disk/qcow2-create.js';
import type { MirroredDisk } from '../parent/disk-mirror.js';

/** Makes `dir` (it must not exist) and an empty image in it for each disk; their paths, in order. */
export async function makeIncomingImages(dir: string, disks: readonly MirroredDisk[]): Promise<string[]> {
  await mkdir(dir, { mode: 0o700 });
  try {
    const paths: string[] = [];
    for (const [i, d] of disks.entries()) {
      const path = join(dir, `vd${String.fromCharCode(97 + i)}.${d.format}`);
      if (d.format === 'qcow2') {
        await createQcow2(path, { size: d.size });
      } else {
        const fh = await open(path, 'wx', 0o600);
        try { await fh.truncate(d.size); } finally { await fh.close(); }
      }
      paths.push(path);
    }
    return paths;
  } catch (e) {
    await removeIncomingImages(dir);
    throw e;
  }
}

/** A migration here failed: the images made for it go. */
export async function removeIncomingImages(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
