// Events: the stored log of one VM (GET /api/vms/{vm}/events) and the live stream of all
// (GET /api/events, server-sent events). A stream client that reconnects with
// Last-Event-ID first gets what it missed from the store, then live events.
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Host } from './host.js';
import type { EventRecord, Store } from './store.js';
import { EventSchema, EventsQuerySchema, VmParamsSchema, errors } from './schemas.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;
const HEARTBEAT_MS = 15_000;

export function registerEvents(app: FastifyInstance, host: Host, store: Store): void {
  app.get<{ Params: { vm: string }; Querystring: { limit?: string } }>('/api/vms/:vm/events', {
    schema: {
      operationId: 'listVmEvents',
      summary: "A VM's stored events, newest last",
      tags: ['events'],
      params: VmParamsSchema,
      querystring: EventsQuerySchema,
      response: { 200: { type: 'array', items: EventSchema }, ...errors(400, 401, 404) },
    },
  }, async (req) => {
    const vm = host.get(req.params.vm);
    const limit = Math.min(Number(req.query.limit ?? DEFAULT_LIMIT), MAX_LIMIT);
    return store.events(vm.id, limit);
  });

  const clients = new Set<ServerResponse>();
  const send = (res: ServerResponse, e: EventRecord) => res.write(`id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`);
  host.on('event', (e) => { for (const res of clients) send(res, e); });
  const heartbeat = setInterval(() => { for (const res of clients) res.write(': keep-alive\n\n'); }, HEARTBEAT_MS);
  heartbeat.unref();
  app.addHook('preClose', async () => {
    clearInterval(heartbeat);
    for (const res of clients) res.end();
    clients.clear();
  });

  app.get('/api/events', {
    config: { access: 'token-or-query' },
    schema: {
      operationId: 'streamEvents',
      summary: 'Live events of every VM (text/event-stream; each data line one Event as JSON)',
      description: 'Send Last-Event-ID to get the stored events after that id first. Browsers may pass ?token= instead of the Authorization header.',
      tags: ['events'],
      response: { 200: { description: 'an event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors(401) },
    },
  }, (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    const last = Number(req.headers['last-event-id']);
    if (Number.isInteger(last) && last >= 0) for (const e of store.eventsAfter(last, MAX_LIMIT)) send(res, e);
    clients.add(res);
    const drop = () => clients.delete(res);
    res.on('close', drop);
    res.on('error', drop);
  });
}
