// Which image files a VM may open, layer by layer: the management service confines images
// to its storage roots (docs/api.md "Storage roots"), and a qcow2 image inside a root could
// otherwise name any host file as its backing file. The policy is plain data, so it crosses
// to the VM worker with the VM's configuration; openDisk applies it to the real path of
// every layer it opens, at the moment it opens it. `tshv run` has none.
import { isAbsolute, relative } from 'node:path';

export interface ImagePolicy {
  /** Real paths of the directories images may be in. */
  roots: readonly string[];
  /** Real paths inside the roots that are still not images (the service's data directory), each with the folders in it that are. */
  reserved: readonly { dir: string; except: readonly string[] }[];
}

/** True if `path` is `dir` or below it (both real, absolute paths). */
export function pathWithin(dir: string, path: string): boolean {
  const r = relative(dir, path);
  return r === '' || (r !== '..' && !r.startsWith('../') && !isAbsolute(r));
}

/** Why the image at real path `real` may not be opened, or undefined if it may. */
export function imageRefusal(policy: ImagePolicy, real: string): 'reserved' | 'outside' | undefined {
  if (policy.reserved.some((r) => pathWithin(r.dir, real) && !r.except.some((e) => pathWithin(e, real)))) return 'reserved';
  if (!policy.roots.some((root) => pathWithin(root, real))) return 'outside';
  return undefined;
}
