// The service's storage roots (docs/api.md "Storage roots"): the only directories whose
// files a VM definition may name as kernel, initrd, root or disk. A path is judged by where
// it really is, symbolic links resolved (the file's and the root's), so a link inside a
// root that points outside is refused; the service's own files (its database, token) are
// refused even when a root contains them. `tshv run` has no roots: the user's own process
// may open whatever the user can.
import { mkdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { imageRefusal, pathWithin as within, type ImagePolicy } from '../parent/drivers/disk/image-policy.js';
import { badInput } from './errors.js';

export class StorageRoots {
  private constructor(
    /** Real paths of the roots. */
    readonly roots: readonly string[],
    /**
     * The data directory's real path, its images/ folder and its checkpoints/ folder (the
     * checkpoints' differencing images, which VMs open whatever the roots): everything else
     * in it is the service's own.
     */
    private readonly own: { dir: string; images: string; checkpoints: string },
  ) {}

  /**
   * The roots of a service: `given` (--storage-root, each an existing directory), else the
   * data directory's images/ (made, 0700, if missing) and the package's guest/images/.
   * Throws an Error naming the option when a given root is not a directory.
   */
  static open(o: { given: readonly string[]; dataDir: string; packageImages: string }): StorageRoots {
    const images = join(o.dataDir, 'images');
    const checkpoints = join(o.dataDir, 'checkpoints');
    mkdirSync(images, { recursive: true, mode: 0o700 });
    mkdirSync(checkpoints, { recursive: true, mode: 0o700 });
    const dirs = o.given.length ? o.given.map((d) => resolve(d)) : [images, o.packageImages];
    const roots: string[] = [];
    for (const d of dirs) {
      let real: string;
      try {
        real = realpathSync(d);
      } catch {
        if (o.given.length === 0) continue; // an installed package without guest images
        throw new Error(`--storage-root ${d}: no such directory`);
      }
      if (!statSync(real).isDirectory()) throw new Error(`--storage-root ${d}: not a directory`);
      if (!roots.includes(real)) roots.push(real);
    }
    return new StorageRoots(roots, { dir: realpathSync(o.dataDir), images: realpathSync(images), checkpoints: realpathSync(checkpoints) });
  }

  /**
   * The real path of an image a definition names in `field`, or a 400 naming the field if
   * it lies outside every root or among the service's own files. A missing file is judged
   * by where it would be (its nearest existing folder), so the answer never tells whether
   * a file outside the roots exists.
   */
  /** The roots as plain data, for the VM worker's disk opens (backing files included). */
  policy(): ImagePolicy {
    return { roots: [...this.roots, this.own.checkpoints], reserved: [{ dir: this.own.dir, except: [this.own.images, this.own.checkpoints] }] };
  }

  /**
   * @param vmId the VM whose definition names the path: its own checkpoint images
   *   (checkpoints/<vmId>/) are allowed; no other VM's are
   */
  check(field: string, path: string, vmId?: string): string {
    const real = realPathOf(field, path);
    const shown = real === path ? path : `${path} (really ${real})`;
    const own = vmId ? [join(this.own.checkpoints, vmId)] : [];
    const refusal = imageRefusal({ roots: [...this.roots, ...own], reserved: [{ dir: this.own.dir, except: [this.own.images, ...own] }] }, real);
    if (refusal === 'reserved') {
      throw badInput(field, `${field}: ${shown} is one of the service's own files (its data directory ${this.own.dir}); put images in ${this.own.images}`);
    }
    if (refusal === 'outside') {
      throw badInput(field, `${field}: ${shown} is outside the service's storage roots (${this.roots.join(', ') || 'none'}); ` +
        'start tshv serve with --storage-root DIR to allow images in DIR');
    }
    return real;
  }
}


/** realpath, or for a path that does not exist, the real path of its nearest existing ancestor joined with the rest. */
function realPathOf(field: string, path: string): string {
  try {
    return realpathSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw badInput(field, `${field}: ${path}: ${code === 'ELOOP' ? 'a symbolic link loop' : (e as Error).message}`);
    const parent = dirname(path);
    if (parent === path) return path;
    return join(realPathOf(field, parent), basename(path));
  }
}
