// A Linux guest described with typed values (parsed `tshv run` flags, a VM definition of
// the management service) becomes a VmConfig here: the default images, the derived
// kernel command line and the reading of the images live in one place for both.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { VmConfig } from './vm.js';
import type { ConsoleKind, DiskSpec } from './vm-protocol.js';
import { checkLinuxImage } from './linux-boot.js';
import { MAX_DISKS } from './vsp/synthetic.js';

/** The repository (or installed package) root: dist/src/parent/ is three levels down. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DEFAULT_KERNEL = PACKAGE_ROOT + 'guest/images/Image.gz';
export const DEFAULT_INITRD = PACKAGE_ROOT + 'guest/images/initramfs.cpio.gz';
export const DEFAULT_APPEND = 'console=ttyS0';

export interface GuestSpec {
  /** Kernel Image path; undefined = the default guest kernel. */
  kernel?: string;
  /** initramfs path; undefined = the default one unless kernel or root is given; false = none. */
  initrd?: string | false;
  /** Kernel command line; undefined = derived from the console and root. */
  append?: string;
  memoryBytes: number;
  cpus: number;
  /** Root disk image: becomes /dev/vda (read-write) and replaces the default initramfs. */
  root?: string;
  /** More disks, /dev/vdb... after the root disk (/dev/vda... without one). */
  disks?: DiskSpec[];
  console?: ConsoleKind;
}

/** A guest that cannot be built, with the spec field at fault. */
export class GuestConfigError extends Error {
  override readonly name = 'GuestConfigError';
  constructor(readonly field: 'kernel' | 'initrd' | 'root' | 'disks', message: string) { super(message); }
}

/** Reads and checks the images; throws GuestConfigError naming the field at fault. */
export function guestConfig(spec: GuestSpec): VmConfig {
  const kernelPath = spec.kernel ?? DEFAULT_KERNEL;
  const kernel = readImage(kernelPath, 'kernel', spec.memoryBytes);
  try {
    checkLinuxImage(kernel, spec.memoryBytes);
  } catch (e) {
    throw new GuestConfigError('kernel', `${kernelPath}: ${(e as Error).message}`);
  }
  const disks = [...(spec.root ? [{ path: spec.root, readOnly: false }] : []), ...(spec.disks ?? [])];
  if (disks.length > MAX_DISKS) throw new GuestConfigError('disks', `at most ${MAX_DISKS} disks (the root disk counts as one), got ${disks.length}`);
  for (const [i, d] of disks.entries()) {
    const field = spec.root && i === 0 ? 'root' : 'disks';
    if (!existsSync(d.path)) throw new GuestConfigError(field, `the ${field === 'root' ? 'root disk' : 'disk'} image ${d.path} does not exist`);
  }
  // A root disk replaces the initramfs unless one is named explicitly.
  const defaultInitrd = spec.kernel || spec.root ? undefined : DEFAULT_INITRD;
  const initrdPath = spec.initrd === false ? undefined : spec.initrd ?? defaultInitrd;
  const initrd = initrdPath ? readImage(initrdPath, 'initrd', spec.memoryBytes) : undefined;
  const console = spec.console ?? 'serial';
  const append = spec.append ?? [console === 'virtio' ? 'console=hvc0' : DEFAULT_APPEND, ...(spec.root ? ['root=/dev/vda rw'] : [])].join(' ');
  return { kernel, initrd, append, memoryBytes: spec.memoryBytes, cpus: spec.cpus, disks, console };
}

/**
 * Reads a kernel or initrd: a regular file no larger than the VM's memory (it must fit in
 * RAM). Checked before reading: a block device (/dev/vda) or a huge file named as a kernel
 * would otherwise be read whole into the host's memory.
 */
function readImage(path: string, field: 'kernel' | 'initrd', maxBytes: number): Uint8Array {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new GuestConfigError(field, `the ${field} ${path} is not a regular file`);
    if (st.size > maxBytes) {
      throw new GuestConfigError(field, `the ${field} ${path} is ${st.size} bytes, more than the VM's memory (${maxBytes} bytes)`);
    }
    return readFileSync(path);
  } catch (e) {
    if (e instanceof GuestConfigError) throw e;
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new GuestConfigError(field, `cannot read the ${field} ${path}: ${why}`);
  }
}
