// The default guest's files and command line: its own module, so the CLI can show them in
// --help without loading what reads the images (guest-config.ts).
import { fileURLToPath } from 'node:url';

/** The repository (or installed package) root: dist/src/parent/ is three levels down. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DEFAULT_KERNEL = PACKAGE_ROOT + 'guest/images/Image.gz';
export const DEFAULT_INITRD = PACKAGE_ROOT + 'guest/images/initramfs.cpio.gz';
export const DEFAULT_APPEND = 'console=ttyS0';
