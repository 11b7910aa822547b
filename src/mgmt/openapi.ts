// The OpenAPI 3.0 document of the API (GET /api/openapi.json), built from the schemas the
// routes were registered with, so the document cannot drift from what the service checks.
// JSON Schema draft 7 (what Fastify validates with) differs from OpenAPI 3.0's dialect in
// one way that matters here: `type: [X, "null"]` is written `type: X, nullable: true`.
import type { FastifyInstance, RouteOptions } from 'fastify';
import { STATUS_CODES } from 'node:http';

// The OpenAPI fields a route schema may carry besides what Fastify validates with.
declare module 'fastify' {
  interface FastifySchema { operationId?: string; summary?: string; description?: string; tags?: string[]; hide?: boolean }
}

interface RouteDoc {
  summary?: string; description?: string; tags?: string[]; operationId?: string;
  params?: object; querystring?: object; body?: object; response?: Record<string, object>;
}
interface Route { method: string; path: string; schema: RouteDoc; websocket: boolean }
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Records every route of /api/* and /metrics as it is added. Attach before adding routes. */
export class OpenApiCollector {
  private readonly routes: Route[] = [];

  constructor(private readonly named: Record<string, object>) {}

  attach(app: FastifyInstance): void {
    app.addHook('onRoute', (r: RouteOptions & { websocket?: boolean }) => {
      const path = r.url;
      if (!(path.startsWith('/api/') || path === '/metrics')) return;
      for (const method of [r.method].flat()) {
        if (method === 'HEAD') continue;
        this.routes.push({ method: method.toLowerCase(), path: path.replace(/:(\w+)/g, '{$1}'), schema: (r.schema ?? {}) as RouteDoc, websocket: r.websocket === true });
      }
    });
  }

  document(info: { title: string; version: string; description?: string }): object {
    const paths: Record<string, Record<string, Json>> = {};
    for (const r of this.routes) (paths[r.path] ??= {})[r.method] = this.operation(r);
    return {
      openapi: '3.0.3',
      info,
      paths,
      components: {
        schemas: Object.fromEntries(Object.entries(this.named).map(([name, s]) => [name, this.convert(s, s)])),
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the host token (the "token" file in the data directory)' } },
      },
      security: [{ bearer: [] }],
    };
  }

  private operation(r: Route): Json {
    const s = r.schema;
    const op: Record<string, Json> = {};
    if (s.operationId) op.operationId = s.operationId;
    if (s.summary) op.summary = s.summary;
    if (s.description) op.description = s.description;
    if (s.tags) op.tags = s.tags;
    const parameters: Json[] = [
      ...this.parameters(s.params, 'path'),
      ...this.parameters(s.querystring, 'query'),
    ];
    if (parameters.length) op.parameters = parameters;
    if (s.body) op.requestBody = { required: true, content: { 'application/json': { schema: this.convert(s.body) } } };
    const responses: Record<string, Json> = {};
    if (r.websocket) responses['101'] = { description: 'Switching Protocols: the WebSocket is open' };
    for (const [code, schema] of Object.entries(s.response ?? {})) responses[code] = this.response(code, schema as Record<string, unknown>);
    op.responses = responses;
    return op;
  }

  private parameters(schema: object | undefined, where: 'path' | 'query'): Json[] {
    if (!schema) return [];
    const { properties = {}, required = [] } = schema as { properties?: Record<string, { description?: string }>; required?: string[] };
    return Object.entries(properties).map(([name, p]) => ({
      name, in: where, required: where === 'path' || required.includes(name),
      ...(p.description ? { description: p.description } : {}),
      schema: this.convert(p),
    }));
  }

  private response(code: string, schema: Record<string, unknown>): Json {
    const description = (schema.description as string | undefined) ?? STATUS_CODES[Number(code)] ?? code;
    if (code === '204') return { description };
    if (schema.content) {
      const content = Object.fromEntries(Object.entries(schema.content as Record<string, { schema: object }>)
        .map(([type, c]) => [type, { schema: this.convert(c.schema) }]));
      return { description, content };
    }
    return { description, content: { 'application/json': { schema: this.convert(schema) } } };
  }

  /** A JSON Schema in OpenAPI 3.0's dialect; named schemas become references (except `self`). */
  private convert(schema: unknown, self?: object): Json {
    if (Array.isArray(schema)) return schema.map((s) => this.convert(s));
    if (schema === null || typeof schema !== 'object') return schema as Json;
    if (schema !== self) {
      const name = Object.entries(this.named).find(([, s]) => s === schema)?.[0];
      if (name) return { $ref: `#/components/schemas/${name}` };
    }
    const out: Record<string, Json> = {};
    for (const [key, value] of Object.entries(schema)) {
      if (key === 'type' && Array.isArray(value)) {
        const types = value.filter((t) => t !== 'null');
        out.type = types.length === 1 ? types[0] : types;
        if (types.length !== value.length) out.nullable = true;
      } else if (key === 'properties') {
        out.properties = Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, this.convert(v)]));
      } else if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object')) {
        out[key] = this.convert(value);
      } else {
        out[key] = value as Json;
      }
    }
    return out;
  }
}
