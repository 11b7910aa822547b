// The create-VM form's rules, mirroring POST /api/vms (docs/api.md "VM"). The page checks
// the same rules before sending so most mistakes are caught at once; the service checks
// again and its 400 names the field (`field`), which fieldOf() maps back to an input.
// Form inputs are named after the API's fields.

export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const VCPUS = { min: 1, max: 8 };
export const MEMORY_MIB = { min: 16, max: 4094 };
export const CONSOLES = ['serial', 'virtio'];
/** virtio-mmio slots for disks, the root disk included (src/parent/vsp/synthetic.ts MAX_DISKS). */
export const MAX_DISKS = 6;
export const MAX_APPEND = 1024;

/** Every field of the create body, in form order. */
export const FIELDS = ['name', 'vcpus', 'memoryMiB', 'console', 'autoStart', 'kernel', 'initrd', 'root', 'disks', 'append'];

/**
 * @typedef {{ path: string, readOnly: boolean }} Disk
 * @typedef {{
 *   name: string, vcpus?: number, memoryMiB?: number, console?: string, autoStart?: boolean,
 *   kernel?: string, initrd?: string, root?: string, disks?: Disk[], append?: string
 * }} CreateBody
 * @typedef {Partial<Record<string, string>>} RawForm  input name → value ('on' for a checked box)
 */

/**
 * @param {string | undefined} text
 * @param {string} label
 * @param {{ min: number, max: number }} range
 * @returns {{ value?: number, error?: string }}
 */
function integerIn(text, label, range) {
  const t = (text ?? '').trim();
  if (t === '') return {};
  if (!/^\d+$/.test(t)) return { error: `${label} must be a whole number from ${range.min} to ${range.max}` };
  const value = Number(t);
  if (value < range.min || value > range.max) return { error: `${label} must be from ${range.min} to ${range.max}` };
  return { value };
}

/**
 * Disks, one a line: a path, optionally followed by ",readonly" (as `tshv run --disk`).
 * @param {string} text
 * @returns {{ disks: Disk[], error?: string }}
 */
export function parseDisks(text) {
  /** @type {Disk[]} */
  const disks = [];
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  for (const [i, line] of lines.entries()) {
    const m = /^(.*?)(?:,\s*(\w+))?$/.exec(line);
    const path = (m?.[1] ?? '').trim();
    const option = m?.[2];
    if (path === '') return { disks, error: `Disk ${i + 1}: the path is missing` };
    if (!path.startsWith('/')) return { disks, error: `Disk ${i + 1}: the path must be absolute (start with /)` };
    if (option !== undefined && option !== 'readonly' && option !== 'ro') {
      return { disks, error: `Disk ${i + 1}: unknown option "${option}" (only "readonly")` };
    }
    disks.push({ path, readOnly: option !== undefined });
  }
  return { disks };
}

/**
 * Checks the form and builds the request body. Empty optional fields are left out, so the
 * service applies its defaults.
 * @param {RawForm} raw
 * @returns {{ body: CreateBody, errors: Record<string, string> }}
 */
export function parseCreateForm(raw) {
  /** @type {Record<string, string>} */
  const errors = {};
  const name = (raw.name ?? '').trim();
  /** @type {CreateBody} */
  const body = { name };
  if (name === '') errors.name = 'Name is required';
  else if (!NAME_PATTERN.test(name)) {
    errors.name = name.length > 63
      ? 'Name must be at most 63 characters'
      : 'Name must start with a lowercase letter or digit and use only a-z, 0-9, ".", "_" and "-"';
  }

  const vcpus = integerIn(raw.vcpus, 'vCPUs', VCPUS);
  if (vcpus.error) errors.vcpus = vcpus.error; else if (vcpus.value !== undefined) body.vcpus = vcpus.value;
  const mem = integerIn(raw.memoryMiB, 'Memory', MEMORY_MIB);
  if (mem.error) errors.memoryMiB = mem.error; else if (mem.value !== undefined) body.memoryMiB = mem.value;

  const consoleKind = raw.console ?? '';
  if (consoleKind !== '') {
    if (CONSOLES.includes(consoleKind)) body.console = consoleKind;
    else errors.console = 'Console must be serial or virtio';
  }
  body.autoStart = raw.autoStart === 'on' || raw.autoStart === 'true';

  // Paths are read by the service, whose working directory is nobody's business here.
  for (const [key, label] of /** @type {const} */ ([['kernel', 'Kernel'], ['initrd', 'Initramfs'], ['root', 'Root disk']])) {
    const v = (raw[key] ?? '').trim();
    if (v === '') continue;
    if (v.startsWith('/')) body[key] = v;
    else errors[key] = `${label} must be an absolute path (start with /)`;
  }
  const append = (raw.append ?? '').trim();
  if (append.length > MAX_APPEND) errors.append = `The command line must be at most ${MAX_APPEND} characters`;
  else if (append !== '') body.append = append;

  const disks = parseDisks(raw.disks ?? '');
  const slots = MAX_DISKS - (body.root ? 1 : 0);
  if (disks.error) errors.disks = disks.error;
  else if (disks.disks.length > slots) errors.disks = `At most ${slots} disks${body.root ? ' besides the root disk' : ''}`;
  else if (disks.disks.length > 0) body.disks = disks.disks;

  return { body, errors };
}

/**
 * The form input an API error's `field` belongs to: "disks[1].path", "/disks/1/path" and
 * "path" (a disk's) → "disks".
 * @param {string | undefined | null} field
 * @returns {string | null} null when no input matches
 */
export function fieldOf(field) {
  if (!field) return null;
  const base = field.replace(/^\//, '').split(/[./[]/, 1)[0];
  if (base === 'path' || base === 'readOnly') return 'disks';
  if (base === 'memory') return 'memoryMiB';
  return FIELDS.includes(base) ? base : null;
}
