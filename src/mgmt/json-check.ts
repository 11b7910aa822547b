// Checks a value against one of the API's JSON schemas (schemas.ts) outside a request: a
// VM definition that arrives inside a migration stream is as untrusted as a request body,
// and must meet the same rules, which the schemas own. Fastify's validator serves requests;
// this covers the part of JSON Schema those schemas use: type (with null), enum, pattern,
// minLength/maxLength, minimum/maximum, maxItems/items, required, additionalProperties:
// false, properties.
import { badInput } from './errors.js';

type Schema = {
  readonly type?: string | readonly string[]; readonly enum?: readonly unknown[]; readonly pattern?: string;
  readonly minLength?: number; readonly maxLength?: number; readonly minimum?: number; readonly maximum?: number;
  readonly maxItems?: number; readonly items?: Schema; readonly required?: readonly string[];
  readonly additionalProperties?: boolean; readonly properties?: { readonly [k: string]: Schema };
};

/** Throws a 400 ApiError naming the first field of `value` that `schema` does not allow. */
export function checkJson(schema: Schema, value: unknown, field = 'body'): void {
  const fail = (why: string) => { throw badInput(field, `${field} ${why}`); };
  if (schema.type !== undefined) {
    const types = typeof schema.type === 'string' ? [schema.type] : schema.type;
    if (!types.some((t) => isType(t, value))) fail(`must be ${types.join(' or ')}`);
  }
  if (value === null) return;
  if (schema.enum && !schema.enum.includes(value)) fail(`must be one of ${schema.enum.join(', ')}`);
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) fail(`must be at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) fail(`must be at most ${schema.maxLength} characters`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) fail(`must match ${schema.pattern}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) fail(`must be at least ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) fail(`must be at most ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) fail(`must have at most ${schema.maxItems} items`);
    if (schema.items) value.forEach((v, i) => checkJson(schema.items!, v, `${field}[${i}]`));
  } else if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    for (const k of schema.required ?? []) if (!(k in o)) fail(`lacks ${k}`);
    for (const [k, v] of Object.entries(o)) {
      // Own properties only: a key like "constructor" would find Object.prototype's member, a "schema" that allows anything.
      const sub = schema.properties && Object.hasOwn(schema.properties, k) ? schema.properties[k] : undefined;
      if (sub) checkJson(sub, v, field === 'body' ? k : `${field}.${k}`);
      else if (schema.additionalProperties === false) fail(`has an unknown field ${k}`);
    }
  }
}

function isType(t: string, v: unknown): boolean {
  switch (t) {
    case 'null': return v === null;
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'integer': return Number.isSafeInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'array': return Array.isArray(v);
    case 'object': return typeof v === 'object' && v !== null && !Array.isArray(v);
    default: return false;
  }
}
