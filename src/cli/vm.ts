// `tshv vm ...`: VMs of a running `tshv serve`, through its REST API (docs/api.md).
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { apiAction, apiCommand, printJson, usageError, type ActionContext, type ClientFlags } from './api-command.js';
import { ClientError, ClientExit, vmPath, type ApiClient } from './client.js';
import { attachConsole, type ConsoleFlags } from './console.js';
import { addMigrateCommand } from './migrate.js';
import { formatDuration, formatFields, formatMiB, formatTable } from './table.js';
import { parseDiskSpec, parseSize } from './units.js';
import type { ApiVm, VmCreateBody, VmPatchBody } from './api-types.js';
// The service's lifecycle table: a leaf of plain data, the one module of the service the CLI loads.
import { LIFECYCLE, POWER_ACTIONS, isLegal, legalStates, type PowerAction, type VmAction } from '../mgmt/lifecycle.js';

import { MACHINE_LIMITS } from '../parent/machine/limits.js';

const VCPUS = `${MACHINE_LIMITS.cpus.min}..${MACHINE_LIMITS.cpus.max}`;
/** An action's help line: what it does (the lifecycle table's words), then where it is legal. */
const explain = (action: VmAction, what = LIFECYCLE[action].description) => `${what}; the VM must be ${legalStates(action)}`;

interface CreateFlags extends ClientFlags {
  vcpus?: string; memory?: string; kernel?: string; initrd?: string; append?: string; root?: string;
  disk?: string[]; console?: 'serial' | 'virtio'; autoStart?: boolean; stopAction?: 'stop' | 'save';
  /** false: --no-jit. */
  jit?: boolean;
}

/** What the processors do with guest code: the definition's jit field. */
const JIT_HELP = 'interpret guest code only: do not translate hot code to WebAssembly (slower; for comparison and diagnosis)';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addVmCommands(program: Command): void {
  const vm = program
    .command('vm')
    .description('create, list and control the VMs of a running tshv service (tshv serve)')
    .addHelpText('after', `
VMs are named by name or id. Every subcommand takes --json, --url and --data-dir;
see tshv vm <command> --help.

Examples:
  tshv vm create web-1 --vcpus 2 --memory 512M
  tshv vm start web-1 && tshv vm console web-1
  tshv vm list --json | jq -r '.[] | select(.state == "running") | .name'`);

  apiAction<CreateFlags>(apiCommand(vm, 'create', 'define a new VM (it starts off; tshv vm start runs it)', `
  tshv vm create web-1
  tshv vm create big --vcpus 4 --memory 1G --console virtio --auto-start
  tshv vm create db --root rootfs.qcow2 --disk data.qcow2 --disk seed.img,readonly
  tshv vm create custom --kernel Image --initrd initrd.gz --append "console=ttyS0 quiet"
  tshv vm create slow --no-jit`, `
Files are opened by the service, on its host, and only inside its storage roots: its data
directory's images/ and the built-in guest images, unless tshv serve was given --storage-root.`)
    .argument('<name>', 'a unique name: a-z, 0-9, then also . _ - (at most 63 characters)')
    .option('-c, --vcpus <n>', `virtual processors, ${VCPUS} (default 1)`)
    .option('-m, --memory <size>', 'guest RAM in whole MiB, e.g. 256M, 1G (default 256M)')
    .option('-k, --kernel <file>', 'RISC-V Linux kernel Image on the service\'s host (default: the built-in guest)')
    .option('-i, --initrd <file>', 'initramfs (default: the built-in one, unless --root or --kernel is given)')
    .option('-a, --append <cmdline>', 'kernel command line (default: derived from --console and --root)')
    .option('-r, --root <file>', 'root disk image (raw or qcow2): /dev/vda, booted without an initramfs')
    .option('-d, --disk <file[,readonly]>', 'attach a disk image: /dev/vdb, ... after the root disk; repeatable', collect)
    .addOption(new Option('--console <kind>', 'the console: serial (ttyS0) or virtio (hvc0)').choices(['serial', 'virtio']))
    .option('--auto-start', 'start the VM whenever the service starts')
    .addOption(new Option('--stop-action <action>', 'when the service shuts down: stop the VM, or save it and resume it on start').choices(['stop', 'save']))
    .option('--no-jit', JIT_HELP), async (ctx) => {
    const created = await ctx.api.post<ApiVm>('/api/vms', createBody(ctx.args[0], ctx.flags)).catch((e: unknown) => { throw withFlag(e); });
    if (ctx.flags.json) return printJson(created);
    process.stdout.write(`created ${created.name} (id ${created.id}); start it with: tshv vm start ${created.name}\n`);
  });

  apiAction<UpdateFlags>(apiCommand(vm, 'update', explain('update', `${LIFECYCLE.update.description} (only the options given change)`), `
  tshv vm update web-1 --memory 1G --vcpus 2
  tshv vm update web-1 --name web-2 --no-auto-start
  tshv vm update db --disk data.qcow2 --disk seed.img,readonly    # replaces the disk list
  tshv vm update db --no-disks --default kernel initrd append
  tshv vm update web-1 --no-jit                                   # from its next start`, `
A VM's definition changes only while it is off or failed, so every change, --jit and
--no-jit included, applies from its next start.`)
    .argument('<vm>', 'name or id')
    .option('-n, --name <name>', 'a new name')
    .option('-c, --vcpus <n>', `virtual processors, ${VCPUS}`)
    .option('-m, --memory <size>', 'guest RAM in whole MiB, e.g. 256M, 1G')
    .option('-k, --kernel <file>', 'RISC-V Linux kernel Image on the service\'s host')
    .option('-i, --initrd <file>', 'initramfs')
    .option('-a, --append <cmdline>', 'kernel command line')
    .option('-r, --root <file>', 'root disk image (raw or qcow2)')
    .option('-d, --disk <file[,readonly]>', 'the disks after the root disk (replaces the list); repeatable', collect)
    .option('--no-disks', 'detach every disk but the root disk')
    .addOption(new Option('--console <kind>', 'the console: serial (ttyS0) or virtio (hvc0)').choices(['serial', 'virtio']))
    .option('--auto-start', 'start the VM whenever the service starts')
    .option('--no-auto-start', 'do not start it with the service')
    .addOption(new Option('--stop-action <action>', 'when the service shuts down: stop the VM, or save it and resume it on start').choices(['stop', 'save']))
    .option('--jit', 'translate hot guest code to WebAssembly (the default)')
    .option('--no-jit', JIT_HELP)
    .addOption(new Option('--default <field...>', 'back to the default for these fields').choices(['kernel', 'initrd', 'append', 'root'])), async (ctx) => {
    const body = updateBody(ctx.flags);
    if (Object.keys(body).length === 0) throw usageError('nothing to change: give at least one option (see --help)');
    const updated = await ctx.api.patch<ApiVm>(vmPath(ctx.args[0]), body).catch((e: unknown) => { throw withFlag(e); });
    if (ctx.flags.json) return printJson(updated);
    process.stdout.write(`updated ${updated.name}\n`);
  });

  apiAction(apiCommand(vm, 'list', 'list the VMs: name, state, size, uptime, id', `
  tshv vm list
  tshv vm ls --json`).alias('ls'), async (ctx) => {
    const vms = await ctx.api.get<ApiVm[]>('/api/vms');
    if (ctx.flags.json) return printJson(vms);
    if (vms.length === 0) { process.stderr.write('no VMs; create one with: tshv vm create NAME\n'); return; }
    process.stdout.write(vmTable(vms));
  });

  apiAction(apiCommand(vm, 'show', 'show one VM\'s definition and state', `
  tshv vm show web-1
  tshv vm show 9b2c4f0e-1d2a-4c1e-9f7a-0b3c5d7e9f11 --json`)
    .argument('<vm>', 'name or id'), async (ctx) => {
    const v = await ctx.api.get<ApiVm>(vmPath(ctx.args[0]));
    if (ctx.flags.json) return printJson(v);
    process.stdout.write(vmFields(v));
  });

  const examples: Record<PowerAction, string> = {
    start: 'tshv vm start web-1',
    stop: 'tshv vm stop web-1',
    restart: 'tshv vm restart web-1',
    pause: 'tshv vm pause web-1 && tshv vm resume web-1',
    resume: 'tshv vm resume web-1',
    save: 'tshv vm save web-1 && tshv vm start web-1   # resumes where it was',
    'discard-state': 'tshv vm discard-state web-1      # the next start boots afresh',
  };
  for (const action of POWER_ACTIONS) {
    apiAction(apiCommand(vm, action, explain(action), `  ${examples[action]}\n  tshv vm ${action} web-1 --json | jq -r .state`)
      .argument('<vm>', 'name or id'), async (ctx) => {
      // A save takes a while: on a terminal, its progress events are shown as it goes.
      const shown = action === 'save' && process.stderr.isTTY && !ctx.flags.json ? await saveProgress(ctx.api, ctx.args[0]!) : undefined;
      let v: ApiVm;
      try {
        v = await ctx.api.post<ApiVm>(vmPath(ctx.args[0], action));
      } finally {
        shown?.();
      }
      if (ctx.flags.json) printJson(v);
      else process.stdout.write(`${v.name}: ${stateText(v)}\n`);
      if (v.state === 'failed') process.exitCode = ClientExit.failed; // e.g. a start that could not build the machine
    });
  }

  apiAction<ClientFlags & { force?: boolean }>(apiCommand(vm, 'delete', explain('delete'), `
  tshv vm delete web-1
  tshv vm rm web-1 --force      # stop it first if it is running`)
    .alias('rm')
    .argument('<vm>', 'name or id')
    .option('-f, --force', 'stop the VM first if it is not off'), async (ctx) => {
    const target = ctx.args[0];
    if (ctx.flags.force) await stopAndWait(ctx.api, target);
    const v = ctx.flags.json ? undefined : await ctx.api.get<ApiVm>(vmPath(target));
    await ctx.api.delete(vmPath(target));
    if (!ctx.flags.json) process.stdout.write(`deleted ${v!.name}\n`);
  });

  addCheckpointCommands(vm);
  addMigrateCommand(vm);

  apiAction<ConsoleFlags>(apiCommand(vm, 'console', explain('console', 'attach this terminal to the VM\'s console'), `
  tshv vm console web-1                      # interactive; Ctrl-] detaches
  echo 'uname -a' | tshv vm console web-1    # pipe mode: stdin in, console out`, `
On a terminal the console is in raw mode: Ctrl-] or Ctrl-A X detaches (the VM keeps
running), Ctrl-A H lists the keys, Ctrl-A Ctrl-A sends Ctrl-A. The console first replays
the last 64 KiB of output. When stdin is not a terminal, stdin goes to the guest and the
console to stdout; the command ends --linger seconds after stdin ends and the output
stops, or when the VM stops. --json changes nothing here (the console is not JSON).`)
    .argument('<vm>', 'name or id')
    .addOption(new Option('--linger <seconds>', 'pipe mode: after stdin ends, detach once the console has been quiet this long').default('2', '2 seconds')), async (ctx: ActionContext<ConsoleFlags>) => {
    const v = await ctx.api.get<ApiVm>(vmPath(ctx.args[0]));
    if (!isLegal('console', v.state)) {
      throw new ClientError(`${v.name} is ${stateText(v)}; start it with: tshv vm start ${v.name}`, ClientExit.failed);
    }
    await attachConsole(ctx.api, v, ctx.flags);
  });
}

/** Validates the flags of `vm create` into the API's body; only given fields are sent. */
export function createBody(name: string, flags: Omit<CreateFlags, keyof ClientFlags>, cwd = process.cwd()): VmCreateBody {
  const body: VmCreateBody = { name };
  if (flags.vcpus !== undefined) {
    if (!/^\d+$/.test(flags.vcpus.trim())) throw usageError(`--vcpus must be a whole number from ${MACHINE_LIMITS.cpus.min} to ${MACHINE_LIMITS.cpus.max}, got "${flags.vcpus}"`);
    body.vcpus = Number(flags.vcpus);
  }
  if (flags.memory !== undefined) {
    let bytes: number;
    try {
      bytes = parseSize(flags.memory, '--memory');
    } catch (e) {
      throw usageError((e as Error).message);
    }
    if (bytes % 2 ** 20 !== 0) throw usageError(`--memory ${flags.memory}: VM memory is a whole number of MiB (examples: 256M, 1G)`);
    body.memoryMiB = bytes / 2 ** 20;
  }
  // The service opens the files, from its own working directory: send absolute paths.
  const path = (p: string) => resolve(cwd, p);
  if (flags.kernel !== undefined) body.kernel = path(flags.kernel);
  if (flags.initrd !== undefined) body.initrd = path(flags.initrd);
  if (flags.append !== undefined) body.append = flags.append;
  if (flags.root !== undefined) body.root = path(flags.root);
  if (flags.disk?.length) {
    body.disks = flags.disk.map((spec) => {
      let disk: { path: string; readOnly: boolean };
      try {
        disk = parseDiskSpec(spec, '--disk');
      } catch (e) {
        throw usageError((e as Error).message);
      }
      return { path: path(disk.path), readOnly: disk.readOnly };
    });
  }
  if (flags.console !== undefined) body.console = flags.console;
  if (flags.autoStart) body.autoStart = true;
  if (flags.stopAction) body.stopAction = flags.stopAction;
  // Commander makes --no-jit's flag true unless given: only the change from the default is sent.
  if (flags.jit === false) body.jit = false;
  return body;
}

interface UpdateFlags extends Omit<CreateFlags, 'autoStart'> {
  name?: string; disks?: boolean; autoStart?: boolean; default?: ('kernel' | 'initrd' | 'append' | 'root')[];
}

/** The body of PATCH /api/vms/{vm}: only what the options change (docs/api.md). */
export function updateBody(flags: Omit<UpdateFlags, keyof ClientFlags>, cwd = process.cwd()): VmPatchBody {
  const { name, disks, autoStart, jit, default: defaults, ...rest } = flags;
  const body: VmPatchBody = createBody('', { ...rest, autoStart: false }, cwd);
  delete (body as { name?: string }).name;
  if (name !== undefined) body.name = name;
  if (disks === false) {
    if (rest.disk?.length) throw usageError('--no-disks and --disk contradict each other');
    body.disks = [];
  }
  if (autoStart !== undefined) body.autoStart = autoStart;
  if (jit !== undefined) body.jit = jit;
  for (const f of defaults ?? []) {
    if (body[f] !== undefined) throw usageError(`--${f} and --default ${f} contradict each other`);
    body[f] = null;
  }
  return body;
}

/** The create option behind each field of the API's body, to name it in the service's 400s. */
const FIELD_FLAGS: Record<string, string> = {
  vcpus: '--vcpus', memoryMiB: '--memory', kernel: '--kernel', initrd: '--initrd', append: '--append',
  root: '--root', disks: '--disk', console: '--console', autoStart: '--auto-start', stopAction: '--stop-action', jit: '--no-jit',
};

/**
 * A 400 answering `vm create` is bad usage (exit 2): the service checks what the CLI
 * cannot (name rules, ranges, files on its host). Its message names the API's field;
 * "(--memory)" names what the user typed.
 */
export function withFlag(e: unknown): unknown {
  if (!(e instanceof ClientError) || e.status !== 400) return e;
  const flag = e.body?.field ? FIELD_FLAGS[e.body.field.split(/[.[]/)[0]] : undefined;
  return new ClientError(flag ? `${e.message} (${flag})` : e.message, ClientExit.usage, e.status, e.body);
}

/** The `vm list` table. */
export function vmTable(vms: readonly ApiVm[], now = Date.now()): string {
  return formatTable(
    [{ header: 'NAME' }, { header: 'STATE' }, { header: 'VCPUS', align: 'right' }, { header: 'MEMORY', align: 'right' }, { header: 'UPTIME', align: 'right' }, { header: 'ID' }],
    vms.map((v) => [v.name, v.state, String(v.vcpus), formatMiB(v.memoryMiB), uptime(v, now), v.id]),
  );
}

/** The `vm show` text. */
export function vmFields(v: ApiVm, now = Date.now()): string {
  const running = v.state === 'running' || v.state === 'paused';
  return formatFields([
    ['Name', v.name],
    ['ID', v.id],
    ['State', stateText(v)],
    ['Started', running && v.startedAt ? `${v.startedAt} (up ${uptime(v, now)})` : undefined],
    ['vCPUs', String(v.vcpus)],
    ['Memory', formatMiB(v.memoryMiB)],
    ['Kernel', v.kernel ?? '(the built-in guest kernel)'],
    ['Initrd', v.initrd ?? (v.root || v.kernel ? '(none)' : '(the built-in initramfs)')],
    ['Append', v.append ?? '(derived)'],
    ['Root', v.root ?? undefined],
    ['Disks', v.disks.length ? v.disks.map((d) => d.path + (d.readOnly ? ' (read-only)' : '')).join('\n') : undefined],
    ['Console', v.console === 'virtio' ? 'virtio (hvc0)' : 'serial (ttyS0)'],
    ['Auto-start', v.autoStart ? 'yes' : 'no'],
    ['Stop action', v.stopAction === 'save' ? 'save (resumed when the service starts)' : 'stop'],
    ['Processor', v.jit ? 'translation on (hot code runs as WebAssembly)' : 'interpreter only'],
    ['Created', v.createdAt],
    ['Updated', v.updatedAt],
  ]);
}

/** "running", "off (poweroff)", "failed (the kernel image is not ...)". */
export function stateText(v: Pick<ApiVm, 'state' | 'stateReason'>): string {
  return v.stateReason && (v.state === 'off' || v.state === 'failed') ? `${v.state} (${v.stateReason})` : v.state;
}

function uptime(v: ApiVm, now: number): string {
  if ((v.state !== 'running' && v.state !== 'paused') || !v.startedAt) return '-';
  const t = Date.parse(v.startedAt);
  return Number.isNaN(t) ? '-' : formatDuration((now - t) / 1000);
}

/** Stops a VM unless it is off or failed, and waits until it is. */
async function stopAndWait(api: ApiClient, target: string, timeoutMs = 60_000): Promise<void> {
  const settled = (v: ApiVm) => v.state === 'off' || v.state === 'failed';
  let v = await api.get<ApiVm>(vmPath(target));
  if (settled(v)) return;
  if (v.state !== 'stopping') {
    try {
      v = await api.post<ApiVm>(vmPath(target, 'stop'));
    } catch (e) {
      // It stopped by itself between the two requests.
      if (!(e instanceof ClientError && e.status === 409)) throw e;
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (!settled(v)) {
    if (Date.now() > deadline) throw new ClientError(`${v.name} did not stop within ${timeoutMs / 1000} s (state: ${v.state})`, ClientExit.failed);
    await new Promise((r) => setTimeout(r, 200));
    v = await api.get<ApiVm>(vmPath(target));
  }
}

/** A checkpoint as the API lists it (GET /api/vms/{vm}/checkpoints). */
interface ApiCheckpoint { id: string; name: string; parentId: string | null; createdAt: string; memory: boolean; current: boolean; disks: string[] }

/**
 * `tshv vm checkpoint VM [NAME]` takes one; `list`, `apply` and `rm` (delete) act on them.
 * The VM's checkpoints form a tree: each hangs from the one the VM was at when it was taken.
 */
function addCheckpointCommands(vm: Command): void {
  const cmd = apiAction(apiCommand(vm, 'checkpoint', explain('checkpoint'), `
  tshv vm checkpoint web-1                   # named checkpoint-<date>-<time>
  tshv vm checkpoint web-1 before-upgrade
  tshv vm checkpoint list web-1
  tshv vm checkpoint apply web-1 before-upgrade
  tshv vm checkpoint rm web-1 before-upgrade`, `
A checkpoint freezes the VM's writable disks (it goes on in new qcow2 differencing images)
and, when the VM runs, saves its memory and devices too. Applying one goes back to it: the
disks' changes since are dropped, and a running VM runs on from the checkpoint's moment.
Deleting one merges its images into the ones above them (once the VM is not running).`)
    .argument('<vm>', 'name or id')
    .argument('[name]', 'the checkpoint\'s name (default: checkpoint-<date>-<time>)'), async (ctx) => {
    const [target, name] = ctx.args;
    const cp = await ctx.api.post<ApiCheckpoint>(vmPath(target!, 'checkpoints'), name ? { name } : {});
    if (ctx.flags.json) return printJson(cp);
    process.stdout.write(`${target}: checkpoint ${cp.name} taken${cp.memory ? ' (memory and devices too)' : ''}\n`);
  });

  apiAction(apiCommand(cmd, 'list', 'list the VM\'s checkpoints as a tree (* marks the one the VM is at)', `
  tshv vm checkpoint list web-1
  tshv vm checkpoint list web-1 --json`)
    .alias('ls')
    .argument('<vm>', 'name or id'), async (ctx) => {
    const list = await ctx.api.get<ApiCheckpoint[]>(vmPath(ctx.args[0]!, 'checkpoints'));
    if (ctx.flags.json) return printJson(list);
    if (!list.length) { process.stdout.write(`${ctx.args[0]} has no checkpoints\n`); return; }
    const rows: string[][] = [];
    const ids = new Set(list.map((c) => c.id));
    const childrenOf = (parent: string | null) => list.filter((x) => (parent === null ? x.parentId === null || !ids.has(x.parentId) : x.parentId === parent));
    const walk = (parent: string | null, depth: number) => {
      for (const c of childrenOf(parent)) {
        rows.push([`${'  '.repeat(depth)}${c.current ? '* ' : ''}${c.name}`, c.createdAt.replace('T', ' ').replace(/\..*/, ''), c.memory ? 'yes' : 'no']);
        walk(c.id, depth + 1);
      }
    };
    walk(null, 0);
    process.stdout.write(formatTable([{ header: 'CHECKPOINT' }, { header: 'TAKEN' }, { header: 'MEMORY' }], rows));
  });

  apiAction(apiCommand(cmd, 'apply', explain('apply-checkpoint'), `
  tshv vm checkpoint apply web-1 before-upgrade`)
    .argument('<vm>', 'name or id')
    .argument('<checkpoint>', 'checkpoint name or id'), async (ctx) => {
    const [target, checkpoint] = ctx.args;
    const v = await ctx.api.post<ApiVm>(`${vmPath(target!, 'checkpoints')}/${encodeURIComponent(checkpoint!)}/apply`);
    if (ctx.flags.json) return printJson(v);
    process.stdout.write(`${v.name}: at checkpoint ${checkpoint}; ${stateText(v)}\n`);
  });

  apiAction(apiCommand(cmd, 'rm', explain('delete-checkpoint'), `
  tshv vm checkpoint rm web-1 before-upgrade`)
    .alias('delete')
    .argument('<vm>', 'name or id')
    .argument('<checkpoint>', 'checkpoint name or id'), async (ctx) => {
    const [target, checkpoint] = ctx.args;
    await ctx.api.delete(`${vmPath(target!, 'checkpoints')}/${encodeURIComponent(checkpoint!)}`);
    if (!ctx.flags.json) process.stdout.write(`${target}: checkpoint ${checkpoint} deleted\n`);
  });
}

/** Prints a save's progress events on stderr ("saving web-1: 40%"); returns the function that ends it. */
async function saveProgress(api: ApiClient, ref: string): Promise<() => void> {
  const target = await api.get<ApiVm>(vmPath(ref)).catch(() => undefined);
  if (!target) return () => {};
  let shown = false;
  const stop = api.followEvents((e) => {
    if (e.vmId !== target.id || e.type !== 'progress' || !e.message) return;
    shown = true;
    process.stderr.write(`\r${target.name}: ${e.message}\x1b[K`);
  });
  return () => { stop(); if (shown) process.stderr.write('\r\x1b[K'); };
}
