// The HTTP face of the service (docs/api.md): a Fastify app whose routes only translate
// requests into Host actions. Inputs are checked by the JSON schemas in schemas.ts (a bad
// one is a 400 naming the field), errors are ApiErrors turned into the documented bodies.
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import websocket from '@fastify/websocket';
import { hostname, totalmem, availableParallelism } from 'node:os';
import type { Host } from './host.js';
import type { Store } from './store.js';
import { ApiError } from './errors.js';
import { registerAuth } from './auth.js';
import { registerHostCheck, serverHosts } from './host-check.js';
import { CONSOLE_FRAME_BYTES, registerConsole } from './console.js';
import { registerEvents } from './events.js';
import { registerMetrics } from './metrics.js';
import { registerStatic } from './static.js';
import { OpenApiCollector } from './openapi.js';
import { Migrations, registerMigrationUpgrade, type MigrateRequest } from './migration.js';
import { definitionDisks, type CheckpointRecord, type VmInput, type VmPatch } from './vm-record.js';
import { LIFECYCLE, LIVE_STATES, POWER_ACTIONS, legalStates, lifecycleTable, type PowerAction, type VmAction } from './lifecycle.js';
import {
  CheckpointCreateSchema, CheckpointParamsSchema, CheckpointSchema, HostSchema, LifecycleSchema, MigrateSchema, MigrationSchema, NAMED_SCHEMAS, PATTERN_MESSAGES, VmCreateSchema, VmParamsSchema, VmPatchSchema, VmSchema, errors,
} from './schemas.js';

export interface AppOptions {
  host: Host; store: Store; token: string; version: string; log?: (line: string) => void;
  /** Migrations to and from this host (default: one whose host calls itself "another host"). */
  migrations?: Migrations;
  /** Host names the service answers to besides the loopback ones (host-check.ts): the --listen host, --allow-host values. */
  hostNames?: readonly string[];
}

type VmParams = { Params: { vm: string } };

/** Longest path parameter the router takes (the vm parameter's schema allows 200 characters). */
const MAX_PARAM_LENGTH = 256;

/** The OpenAPI words of a VM action: its summary from the lifecycle table, and where it is legal. */
function actionDoc(action: VmAction, more = ''): { summary: string; description: string } {
  const { description } = LIFECYCLE[action];
  return {
    summary: description[0].toUpperCase() + description.slice(1) + more,
    description: `Legal when the VM is ${legalStates(action)}; 409 otherwise (GET /api/lifecycle).`,
  };
}

/** What the HTTP answer of each power action waits for, and its error statuses. */
const POWER_ROUTES: Record<PowerAction, { answers: string; codes: readonly (400 | 409 | 500)[] }> = {
  start: { answers: 'once the machine is built (state running) or has failed (500)', codes: [400, 409, 500] },
  stop: { answers: 'once the VM is off', codes: [409] },
  restart: { answers: 'once it is starting again', codes: [409] },
  pause: { answers: 'at once', codes: [409] },
  resume: { answers: 'at once', codes: [409] },
  save: { answers: 'once the state is written (state saved), or the save failed (500; the VM goes on as it was)', codes: [409, 500] },
  'discard-state': { answers: 'at once', codes: [409] },
};

/** The Host method behind each power action. */
const HOST_ACTIONS: Record<PowerAction, (host: Host, vm: string) => Promise<unknown> | unknown> = {
  start: (h, vm) => h.start(vm), stop: (h, vm) => h.stop(vm), restart: (h, vm) => h.restart(vm), pause: (h, vm) => h.pause(vm),
  resume: (h, vm) => h.resume(vm), save: (h, vm) => h.save(vm), 'discard-state': (h, vm) => h.discardState(vm),
};

export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 1 << 20,
    forceCloseConnections: true, // event streams and consoles end when the service closes
    // Strict input: no type coercion ("2" is not a vcpus count), unknown fields are errors rather than dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // Above VmParamsSchema's 200 characters, so that the schema answers (400, field "vm").
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // URLs the router cannot take (a bad %-escape, a path segment over maxParamLength) are
    // bad input like any other: 400 with the documented body, not Fastify's own (or a 414).
    frameworkErrors: (err, _req, reply) => {
      const why = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? `a part of the path is longer than ${MAX_PARAM_LENGTH} characters` : 'it has a malformed %-escape';
      void (reply as FastifyReply).code(400).send({ error: `the URL is not valid: ${why}`, field: 'url' });
    },
  });
  const openapi = new OpenApiCollector(NAMED_SCHEMAS);
  openapi.attach(app);

  // An empty body is no body (POST /start with "Content-Type: application/json" and nothing else).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === '') { done(null, undefined); return; }
    try {
      done(null, JSON.parse(text));
    } catch (e) {
      done(new ApiError(400, `the body is not valid JSON: ${(e as Error).message}`, { field: 'body' }), undefined);
    }
  });

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err instanceof ApiError) return reply.code(err.status).send(err.body());
    if (err.validation) {
      const { field, message } = describeValidation(err.validation[0], err.validationContext ?? 'body');
      return reply.code(400).send({ error: message, field });
    }
    // A body in another media type is a body that is not JSON (docs/api.md: 400, field "body"),
    // not Fastify's 415.
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.code(400).send({ error: 'the body must be JSON, sent with "Content-Type: application/json"', field: 'body' });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
    o.log?.(`internal error: ${err.stack ?? err.message}`);
    return reply.code(500).send({ error: `internal error: ${err.message}` });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` }));

  // The WebSocket plugin's hooks first: they mark upgrades (req.ws), which the host check and
  // the auth hook look at, and an upgrade those refuse (403, 401) must still have its socket
  // destroyed by the plugin once the answer is sent.
  await app.register(websocket, { options: { maxPayload: CONSOLE_FRAME_BYTES } });
  registerHostCheck(app, o.hostNames ?? []);
  registerAuth(app, o.token);

  const { host } = o;
  const vmResponse = (...codes: Parameters<typeof errors>) => ({ 200: VmSchema, ...errors(401, 404, ...codes) });

  app.get('/api/host', {
    schema: { operationId: 'getHost', summary: 'This host: the machine and its VMs', tags: ['host'], response: { 200: HostSchema, ...errors(401) } },
  }, async () => {
    const vms = host.list();
    return {
      hostname: hostname(), version: o.version, cpus: availableParallelism(), memoryBytes: totalmem(), uptimeSeconds: process.uptime(),
      vms: { total: vms.length, running: vms.filter((v) => LIVE_STATES.includes(v.state)).length },
    };
  });

  app.get('/api/lifecycle', {
    schema: {
      operationId: 'getLifecycle', summary: 'The VM lifecycle: the states, and the states in which each action is legal', tags: ['host'],
      response: { 200: LifecycleSchema, ...errors(401) },
    },
  }, async () => lifecycleTable());

  app.get('/api/vms', {
    schema: { operationId: 'listVms', summary: 'Every VM on this host', tags: ['vms'], response: { 200: { type: 'array', items: VmSchema }, ...errors(401) } },
  }, async () => host.list());

  app.post<{ Body: VmInput }>('/api/vms', {
    schema: {
      operationId: 'createVm', summary: 'Define a VM (it is off until started)', tags: ['vms'],
      body: VmCreateSchema, response: { 201: VmSchema, ...errors(400, 401, 409) },
    },
  }, async (req, reply) => reply.code(201).send(await host.create(req.body)));

  app.get<VmParams>('/api/vms/:vm', {
    schema: { operationId: 'getVm', summary: 'One VM, by id or name', tags: ['vms'], params: VmParamsSchema, response: vmResponse() },
  }, async (req) => host.get(req.params.vm));

  app.patch<VmParams & { Body: VmPatch }>('/api/vms/:vm', {
    schema: {
      operationId: 'updateVm', ...actionDoc('update', ': any subset of the create fields (null resets a path to its default)'),
      tags: ['vms'], params: VmParamsSchema, body: VmPatchSchema, response: vmResponse(400, 409),
    },
  }, async (req) => host.update(req.params.vm, req.body));

  app.delete<VmParams>('/api/vms/:vm', {
    schema: {
      operationId: 'deleteVm', ...actionDoc('delete'), tags: ['vms'], params: VmParamsSchema,
      response: { 204: { description: 'deleted', type: 'null' }, ...errors(401, 404, 409) },
    },
  }, async (req, reply) => {
    host.remove(req.params.vm);
    return reply.code(204).send();
  });

  for (const action of POWER_ACTIONS) {
    const { answers, codes } = POWER_ROUTES[action];
    app.post<VmParams>(`/api/vms/:vm/${action}`, {
      schema: { operationId: `${action.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())}Vm`, ...actionDoc(action, `; answers ${answers}`), tags: ['vms'], params: VmParamsSchema, response: vmResponse(...codes) },
    }, async (req) => HOST_ACTIONS[action](host, req.params.vm));
  }

  // Checkpoints (docs/state.md).
  type CheckpointParams = { Params: { vm: string; checkpoint: string } };
  const checkpointView = (vm: { checkpoint: string | null }, c: CheckpointRecord) => ({
    id: c.id, name: c.name, parentId: c.parentId, createdAt: c.createdAt, memory: c.stateFile !== null, current: vm.checkpoint === c.id,
    disks: definitionDisks(c.definition).map((d) => d.path),
  });
  app.get<VmParams>('/api/vms/:vm/checkpoints', {
    schema: {
      operationId: 'listCheckpoints', summary: "The VM's checkpoints, oldest first (a tree: parentId)", tags: ['checkpoints'], params: VmParamsSchema,
      response: { 200: { type: 'array', items: CheckpointSchema }, ...errors(401, 404) },
    },
  }, async (req) => { const vm = host.get(req.params.vm); return host.checkpoints(vm.id).map((c) => checkpointView(vm, c)); });
  app.post<VmParams & { Body: { name?: string } }>('/api/vms/:vm/checkpoints', {
    schema: {
      operationId: 'createCheckpoint', ...actionDoc('checkpoint', '; answers with the checkpoint once it is taken'), tags: ['checkpoints'],
      params: VmParamsSchema, body: CheckpointCreateSchema, response: { 201: CheckpointSchema, ...errors(400, 401, 404, 409, 500) },
    },
  }, async (req, reply) => {
    const cp = await host.checkpoint(req.params.vm, req.body?.name);
    return reply.code(201).send(checkpointView(host.get(req.params.vm), cp));
  });
  app.post<CheckpointParams>('/api/vms/:vm/checkpoints/:checkpoint/apply', {
    schema: {
      operationId: 'applyCheckpoint', ...actionDoc('apply-checkpoint', '; answers with the VM (running again if it ran, else saved or off)'),
      tags: ['checkpoints'], params: CheckpointParamsSchema, response: vmResponse(409, 500),
    },
  }, async (req) => host.applyCheckpoint(req.params.vm, req.params.checkpoint));
  app.delete<CheckpointParams>('/api/vms/:vm/checkpoints/:checkpoint', {
    schema: {
      operationId: 'deleteCheckpoint', ...actionDoc('delete-checkpoint'), tags: ['checkpoints'], params: CheckpointParamsSchema,
      response: { 204: { description: 'deleted', type: 'null' }, ...errors(401, 404, 409) },
    },
  }, async (req, reply) => {
    await host.deleteCheckpoint(req.params.vm, req.params.checkpoint);
    return reply.code(204).send();
  });

  // Migration (docs/migration.md).
  const migrations = o.migrations ?? new Migrations(host, () => 'another host');
  app.post<VmParams & { Body: MigrateRequest }>('/api/vms/:vm/migrate', {
    schema: {
      operationId: 'migrateVm', ...actionDoc('migrate', '; answers once it has begun (202): GET /api/vms/{vm}/migration follows it'),
      tags: ['migration'], params: VmParamsSchema, body: MigrateSchema, response: { 202: MigrationSchema, ...errors(400, 401, 404, 409) },
    },
  }, async (req, reply) => reply.code(202).send(await migrations.start(req.params.vm, req.body)));
  app.get<VmParams>('/api/vms/:vm/migration', {
    schema: {
      operationId: 'getMigration', summary: "The VM's migration under way, or its last one (kept for an hour, also after the VM has left)", tags: ['migration'],
      params: VmParamsSchema, response: { 200: MigrationSchema, ...errors(401, 404) },
    },
  }, async (req) => migrations.status(req.params.vm));
  app.delete<VmParams>('/api/vms/:vm/migration', {
    schema: {
      operationId: 'cancelMigration', summary: 'Cancel the migration under way: the VM runs on here as before', tags: ['migration'],
      params: VmParamsSchema, response: { 200: MigrationSchema, ...errors(401, 404, 409) },
    },
  }, async (req) => migrations.cancel(req.params.vm));
  registerMigrationUpgrade(app, migrations, o.token, serverHosts(app, o.hostNames ?? []));

  registerConsole(app, host);
  registerEvents(app, host, o.store);
  registerMetrics(app, host);

  let document: object | undefined;
  app.get('/api/openapi.json', {
    schema: { operationId: 'getOpenApi', summary: 'This document', tags: ['host'] },
  }, async () => (document ??= openapi.document({
    title: 'tshv management API', version: o.version,
    description: 'One tshv host: its VMs, their consoles, events and metrics. See docs/api.md.',
  })));

  registerStatic(app);
  return app;
}

/** The first schema violation as `{ field, message }`: disks[0].path, "vcpus must be <= 8". */
function describeValidation(
  e: { keyword: string; instancePath: string; params: Record<string, unknown>; message?: string },
  context: string,
): { field: string; message: string } {
  const segments = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') segments.push(String(e.params.missingProperty));
  if (e.keyword === 'additionalProperties') segments.push(String(e.params.additionalProperty));
  const field = segments.reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '') || context;
  const last = segments.at(-1) ?? context;
  switch (e.keyword) {
    case 'required': return { field, message: `${field} is required` };
    case 'additionalProperties': return { field, message: `${field} is not a known field` };
    case 'pattern': return { field, message: `${field} ${PATTERN_MESSAGES[last] ?? e.message}` };
    case 'enum': return { field, message: `${field} must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}` };
    case 'type': return { field, message: `${field} must be ${String(e.params.type).split(',').map((t) => (t === 'null' ? 'null' : `a${/^[aeiou]/.test(t) ? 'n' : ''} ${t}`)).join(' or ')}` };
    default: return { field, message: `${field} ${e.message ?? 'is not valid'}` };
  }
}
