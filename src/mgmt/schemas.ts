// The JSON schemas of the REST API (docs/api.md). Fastify validates requests and
// serializes responses with them, and openapi.ts publishes the same objects: the ones in
// NAMED_SCHEMAS become components that routes refer to.
import { MACHINE_LIMITS, MEMORY_MIB } from '../parent/machine/limits.js';
import { VM_ACTIONS, VM_STATES } from './lifecycle.js';
import { EVENT_TYPES } from './store.js';

export const NAME_PATTERN = '^[a-z0-9][a-z0-9._-]{0,62}$';
/** Friendlier words than "must match pattern ...", by field name. */
export const PATTERN_MESSAGES: Record<string, string> = {
  name: 'must be 1 to 63 characters: a-z, 0-9, then also ".", "_" or "-"',
  kernel: 'must be an absolute path',
  initrd: 'must be an absolute path',
  root: 'must be an absolute path',
  path: 'must be an absolute path',
  limit: 'must be a whole number',
};

const absolutePath = (description: string, nullable: boolean) => ({
  type: nullable ? ['string', 'null'] : 'string', minLength: 1, maxLength: 4096, pattern: '^/', description,
});

export const DiskSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: absolutePath('disk image (raw or qcow2) on the host', false),
    readOnly: { type: 'boolean', description: 'attach read-only (default false)' },
  },
} as const;

/** The fields a user sets (create, update). */
const definition = {
  name: { type: 'string', pattern: NAME_PATTERN, description: 'unique on this host: a-z, 0-9, then also . _ - (at most 63 characters)' },
  vcpus: { type: 'integer', minimum: MACHINE_LIMITS.cpus.min, maximum: MACHINE_LIMITS.cpus.max, description: 'virtual processors (default 1)' },
  memoryMiB: { type: 'integer', minimum: MEMORY_MIB.min, maximum: MEMORY_MIB.max, description: 'guest RAM in MiB (default 256)' },
  kernel: absolutePath('RISC-V Linux Image (optionally gzipped); null = the default guest kernel', true),
  initrd: absolutePath('initramfs; null = the default initramfs (none with a root disk or an own kernel)', true),
  append: { type: ['string', 'null'], maxLength: 1024, description: 'kernel command line; null = derived from console and root' },
  root: absolutePath('root disk image: becomes /dev/vda, booted without an initramfs', true),
  disks: { type: 'array', maxItems: MACHINE_LIMITS.disks, items: DiskSchema, description: `more disks, /dev/vdb... after root (at most ${MACHINE_LIMITS.disks} with root)` },
  console: { type: 'string', enum: ['serial', 'virtio'], description: 'serial (ttyS0) or virtio (hvc0)' },
  autoStart: { type: 'boolean', description: 'start the VM when the service starts' },
  stopAction: {
    type: 'string', enum: ['stop', 'save'],
    description: 'when the service shuts down: stop the VM, or save it (memory and devices) and resume it when the service starts',
  },
  jit: {
    type: 'boolean',
    description: 'translate hot guest code to WebAssembly (default true); false = interpret only (slower). Read at every start, so a change applies from the next one',
  },
} as const;

export const VmCreateSchema = { type: 'object', additionalProperties: false, required: ['name'], properties: definition } as const;
/** A VM arriving by migration: its definition as create takes it, its id and when it was created. */
export const IncomingVmSchema = {
  type: 'object', additionalProperties: false, required: ['name', 'id', 'createdAt'],
  properties: {
    ...definition,
    id: { type: 'string', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' },
    createdAt: { type: 'string', maxLength: 64 },
    startedAt: { type: ['string', 'null'], maxLength: 64 },
  },
} as const;
export const VmPatchSchema = { type: 'object', additionalProperties: false, properties: definition } as const;

const VM_STATE = { type: 'string', enum: VM_STATES } as const;
const TIME = { type: 'string', format: 'date-time' } as const;

/** POST /api/vms/{vm}/migrate. */
export const MigrateSchema = {
  type: 'object', additionalProperties: false, required: ['to', 'token'],
  properties: {
    to: { type: 'string', minLength: 1, maxLength: 2048, description: "the destination host's API: http://HOST:PORT" },
    token: { type: 'string', minLength: 1, maxLength: 1024, description: "the destination's token (its data directory's token file)" },
    quick: { type: 'boolean', description: 'quick migration: the VM is frozen, sent whole and resumed there (default false: live)' },
    maxDowntimeMs: { type: 'integer', minimum: 1, maximum: 60_000, description: 'the pause a live migration aims for, ms (default 50)' },
    bandwidth: { type: 'integer', minimum: 1 << 20, maximum: 2 ** 40, description: 'bytes per second the migration may use (default: the link\'s speed)' },
    withDisks: { type: 'boolean', description: 'shared-nothing: the disks are copied too, while the VM runs, into new images in the destination\'s first storage root (default false: both hosts see the images)' },
  },
} as const;

/** A migration's status (like QEMU's query-migrate). */
export const MigrationSchema = {
  type: 'object', additionalProperties: false,
  required: ['vmId', 'vmName', 'to', 'quick', 'withDisks', 'startedAt', 'finishedAt', 'phase', 'pass', 'remainingPages', 'dirtyRate', 'throughput', 'bytes',
    'pagesSent', 'zeroPages', 'skippedPages', 'deflatedBytes', 'diskBytes', 'diskRemaining', 'throttle', 'setupMs', 'totalMs'],
  properties: {
    vmId: { type: 'string' }, vmName: { type: 'string' }, to: { type: 'string' }, quick: { type: 'boolean' }, withDisks: { type: 'boolean' },
    startedAt: TIME, finishedAt: { type: ['string', 'null'], format: 'date-time' },
    phase: { type: 'string', enum: ['setup', 'active', 'stop-copy', 'completed', 'failed', 'cancelled'] },
    pass: { type: 'integer', description: 'the pre-copy pass under way (0: the first, full copy)' },
    remainingPages: { type: 'integer', description: 'pages the pass under way has still to send (between passes: written since they were last sent)' },
    dirtyRate: { type: 'number', description: 'pages the guest wrote per second during the last pass' },
    throughput: { type: 'number', description: 'bytes per second the last pass sent' },
    bytes: { type: 'integer' }, pagesSent: { type: 'integer' }, zeroPages: { type: 'integer' },
    skippedPages: { type: 'integer', description: 'pages written again with the bytes last sent, not sent again (a slow link)' },
    deflatedBytes: { type: 'integer', description: 'bytes deflating the pages saved (a slow link)' },
    diskBytes: { type: 'integer', description: 'disk bytes sent (withDisks)' },
    diskRemaining: { type: 'integer', description: 'disk bytes the pass under way has still to copy (between passes: written since they were last sent)' },
    throttle: { type: 'integer', description: "auto-converge: percent of the guest's time it is held back" },
    setupMs: { type: 'number' }, totalMs: { type: 'number' },
    downtimeMs: { type: 'number', description: 'from the last guest instruction here to the first there' },
    error: { type: 'string' },
  },
} as const;


export const VmSchema = {
  type: 'object',
  required: ['id', 'name', 'vcpus', 'memoryMiB', 'kernel', 'initrd', 'append', 'root', 'disks', 'console', 'autoStart', 'stopAction', 'jit', 'state',
    'checkpoint', 'stateReason', 'createdAt', 'updatedAt', 'startedAt'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    ...definition,
    disks: { type: 'array', items: { ...DiskSchema, required: ['path', 'readOnly'] } },
    state: VM_STATE,
    checkpoint: { type: ['string', 'null'], description: 'id of the checkpoint the VM is at (the parent of the next one), or null' },
    stateReason: { type: ['string', 'null'], description: 'how the last run ended: poweroff, reboot, stopped or an error message' },
    createdAt: TIME,
    updatedAt: TIME,
    startedAt: { type: ['string', 'null'], format: 'date-time', description: 'when the current run began' },
  },
} as const;

export const ErrorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: { type: 'string' },
    field: { type: 'string', description: 'the input field at fault (400)' },
    state: { ...VM_STATE, description: "the VM's state (409)" },
  },
} as const;

export const EventSchema = {
  type: 'object',
  required: ['id', 'vmId', 'at', 'type'],
  properties: {
    id: { type: 'integer' },
    vmId: { type: 'string' },
    at: TIME,
    type: { type: 'string', enum: EVENT_TYPES },
    state: VM_STATE,
    message: { type: 'string' },
  },
} as const;

export const HostSchema = {
  type: 'object',
  required: ['hostname', 'version', 'cpus', 'memoryBytes', 'uptimeSeconds', 'vms'],
  properties: {
    hostname: { type: 'string' },
    version: { type: 'string' },
    cpus: { type: 'integer' },
    memoryBytes: { type: 'integer' },
    uptimeSeconds: { type: 'number', description: 'since the service started' },
    vms: {
      type: 'object',
      required: ['total', 'running'],
      properties: { total: { type: 'integer' }, running: { type: 'integer', description: 'VMs with a partition: starting, running, paused, saving or stopping' } },
    },
  },
} as const;

/** GET /api/lifecycle: lifecycle.ts's table. */
export const LifecycleSchema = {
  type: 'object',
  required: ['states', 'actions'],
  properties: {
    states: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'live', 'description'],
        properties: {
          name: VM_STATE,
          live: { type: 'boolean', description: 'the VM has a partition (threads, memory, counters)' },
          description: { type: 'string' },
        },
      },
    },
    actions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'states', 'underWayIn', 'description'],
        properties: {
          name: { type: 'string', enum: VM_ACTIONS },
          states: { type: 'array', items: VM_STATE, description: 'the states in which the action is legal (409 in any other)' },
          underWayIn: { type: 'array', items: VM_STATE, description: 'legal states in which the action is already under way: asking again waits for it' },
          description: { type: 'string' },
        },
      },
    },
  },
} as const;

const count = { type: 'integer', minimum: 0 } as const;

export const VmMetricsSchema = {
  type: 'object',
  required: ['vcpus', 'exits', 'io', 'memoryBytes'],
  properties: {
    vcpus: {
      type: 'array',
      items: {
        type: 'object',
        required: ['vp', 'runSeconds', 'cpuSeconds', 'instructions', 'translation'],
        properties: {
          vp: count, runSeconds: { type: 'number' }, cpuSeconds: { type: 'number' }, instructions: count,
          translation: {
            type: 'object',
            description: 'the translation tier (docs/cpu.md "Translation"): calls of translated code, lookup misses, stores that made translations stale, regions translated, time translating, translations given up',
            required: ['runs', 'misses', 'invalidations', 'translated', 'compileSeconds', 'dropped'],
            properties: { runs: count, misses: count, invalidations: count, translated: count, compileSeconds: { type: 'number' }, dropped: count },
          },
        },
      },
    },
    exits: { type: 'object', additionalProperties: count, description: 'VP exits by reason, all VPs' },
    io: {
      type: 'object',
      required: ['disks'],
      properties: {
        disks: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'reads', 'writes', 'readBytes', 'writtenBytes', 'flushes', 'errors'],
            properties: { name: { type: 'string' }, reads: count, writes: count, readBytes: count, writtenBytes: count, flushes: count, errors: count },
          },
        },
      },
    },
    memoryBytes: { ...count, description: 'guest RAM of the current run (0 when the VM is not running)' },
  },
} as const;

export const HostMetricsSchema = {
  type: 'object',
  required: ['cpuSeconds', 'rssBytes', 'heapBytes', 'vms'],
  properties: {
    cpuSeconds: { type: 'number', description: 'CPU time of the service process (all threads: every VP)' },
    rssBytes: count,
    heapBytes: count,
    vms: { type: 'object', additionalProperties: VmMetricsSchema, description: 'by VM id, VMs with a partition' },
  },
} as const;

export const VmParamsSchema = {
  type: 'object',
  required: ['vm'],
  properties: { vm: { type: 'string', minLength: 1, maxLength: 200, description: 'VM id or name' } },
} as const;

export const EventsQuerySchema = {
  type: 'object',
  properties: { limit: { type: 'string', pattern: '^[0-9]{1,9}$', description: 'how many of the newest events (default 100, at most 10000)' } },
} as const;

export const CheckpointSchema = {
  type: 'object',
  required: ['id', 'name', 'parentId', 'createdAt', 'memory', 'current', 'disks'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    name: { type: 'string' },
    parentId: { type: ['string', 'null'], description: 'the checkpoint the VM was at when this one was taken' },
    createdAt: TIME,
    memory: { type: 'boolean', description: 'taken while the VM ran: applying it resumes the VM from that moment' },
    current: { type: 'boolean', description: 'the VM is at this checkpoint (the parent of the next one)' },
    disks: { type: 'array', items: { type: 'string' }, description: 'the frozen images, /dev/vda first' },
  },
} as const;

export const CheckpointCreateSchema = {
  type: 'object', additionalProperties: false,
  properties: { name: { type: 'string', pattern: NAME_PATTERN, description: 'default: checkpoint-<date>-<time>' } },
} as const;

export const CheckpointParamsSchema = {
  type: 'object',
  required: ['vm', 'checkpoint'],
  properties: {
    vm: VmParamsSchema.properties.vm,
    checkpoint: { type: 'string', minLength: 1, maxLength: 200, description: 'checkpoint id or name' },
  },
} as const;

/** Schemas published as OpenAPI components (by identity). */
export const NAMED_SCHEMAS: Record<string, object> = {
  Vm: VmSchema, VmCreate: VmCreateSchema, VmPatch: VmPatchSchema, Disk: DiskSchema, Error: ErrorSchema, Event: EventSchema,
  Host: HostSchema, Lifecycle: LifecycleSchema, VmMetrics: VmMetricsSchema, HostMetrics: HostMetricsSchema,
  Checkpoint: CheckpointSchema, CheckpointCreate: CheckpointCreateSchema,
};

/** Error responses of a route, by status. */
export function errors(...codes: (400 | 401 | 404 | 409 | 500)[]): Record<number, typeof ErrorSchema> {
  return Object.fromEntries(codes.map((c) => [c, ErrorSchema]));
}
