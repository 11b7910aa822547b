// The REST API (src/mgmt/api.ts with the schemas of src/mgmt/schemas.ts): the real
// Fastify app, driven with app.inject() — the same validation (Ajv, strict, no coercion),
// error handler and routes as `tshv serve` — on a store in a temp directory. Each case is
// a few requests: near-valid VM definitions with fields of the wrong type, range or shape,
// unknown fields, any JSON at all, bodies that are not JSON, odd content types, ids and
// names of every shape in the path, query strings, missing or wrong tokens, static paths
// that try to leave the web root. Routes that boot a VM (start, restart) or never end
// (the event stream, the console's WebSocket) are left out.
//
// Fails if an answer is a 5xx, a status the API does not document (2xx, 400, 401, 404,
// 409), a 4xx whose body is not `{ "error": "..." }`, a 401 to a request with the right
// token (or anything but 401 on /api without it), a static file from outside the web
// console's assets, or an exception out of inject().
import fc from 'fast-check';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../../src/mgmt/api.js';
import { Host } from '../../../src/mgmt/host.js';
import { Store } from '../../../src/mgmt/store.js';
import { WEB_ROOT } from '../../../src/mgmt/static.js';
import { check, jsonCorpus, note, type CorpusFile, type FuzzTarget } from '../harness.js';

const TOKEN = 'f'.repeat(64);

export interface ApiRequest {
  method: string;
  path: string;
  auth: 'good' | 'none' | 'wrong' | 'basic' | 'query' | 'junk';
  contentType: string | null;
  body: { json: unknown } | { raw: string } | null;
}

interface Ctx { dir: string; app: FastifyInstance; host: Host; store: Store; files: Record<string, string>; assets: Buffer[]; port: number; agent: Agent }

/** Paths on this host the definitions may name ($NAME in a case). */
const FILE_KEYS = ['$KERNEL', '$TEXT', '$DISK', '$DIR', '$MISSING', '$DEVNULL', '$BLOCK'];

const nameArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('vm-a', 'vm-b', 'web-1', 'a', 'x.y_z-0') },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,62}$/) },
  { weight: 1, arbitrary: fc.constantFrom('', 'Upper', '-x', 'a'.repeat(64), '9b2c4f0e-1111-2222-3333-444455556666', 'ü', 'a b', '..', '%00') },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);
const pathValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...FILE_KEYS) },
  { weight: 1, arbitrary: fc.constantFrom(null, '', 'relative/path', '/', '/nonexistent/x', '/dev/zero', 'x'.repeat(5000)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 8 }), fc.constant([]), fc.constant({}), fc.constant(1e300));

/** A VM definition: each field usually valid, sometimes not, sometimes absent; now and then an unknown one. */
const definitionArb = fc.record({
  name: fc.oneof({ weight: 6, arbitrary: nameArb }, { weight: 1, arbitrary: junk }),
  vcpus: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 8 }) }, { weight: 2, arbitrary: fc.constantFrom(0, 9, -1, 1.5, '2', 2 ** 53, 1e21) }, { weight: 1, arbitrary: junk }),
  memoryMiB: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 16, max: 4094 }) }, { weight: 2, arbitrary: fc.constantFrom(15, 4095, 0, 256.5, '256') }, { weight: 1, arbitrary: junk }),
  kernel: pathValue, initrd: pathValue, root: pathValue,
  append: fc.oneof(fc.constant(null), fc.string({ maxLength: 40 }), fc.constant('x'.repeat(1025)), junk),
  disks: fc.oneof(
    { weight: 4, arbitrary: fc.array(fc.record({ path: pathValue, readOnly: fc.oneof(fc.boolean(), junk) }, { requiredKeys: ['path'] }), { maxLength: 7 }) },
    { weight: 1, arbitrary: junk },
    { weight: 1, arbitrary: fc.array(junk, { maxLength: 3 }) },
  ),
  console: fc.oneof(fc.constantFrom('serial', 'virtio'), fc.constantFrom('Serial', '', 'hvc0'), junk),
  autoStart: fc.oneof(fc.boolean(), junk),
  jit: fc.oneof(fc.boolean(), junk),
  memoryMb: junk, // not a field: "memoryMb is not a known field"
}, { requiredKeys: [] });

const bodyArb: fc.Arbitrary<ApiRequest['body']> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 8, arbitrary: definitionArb.map((json) => ({ json })) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((json) => ({ json })) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.string({ maxLength: 30 }), fc.constantFrom('', ' ', '{', '{"name": "x",', 'null', '[]', '"x"', '1e999', '{"name":"a","name":"b"}',
        '{"__proto__": {"vcpus": 2}, "name": "proto"}', '{"constructor": {"prototype": {}}, "name": "c"}', '['.repeat(5000), '\u0000', '{"name":"a"}garbage'),
    ).map((raw) => ({ raw })),
  },
);

const refArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('vm-a', 'vm-b', 'web-1') },
  { weight: 1, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.constantFrom('', '%', '%zz', '%00', '..', 'a%2Fb', 'x'.repeat(300), '9B2C4F0E-1111-2222-3333-444455556666', '%F0%9F%98%80', '?', '#') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map(encodeURIComponent) },
);

const pathArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constant('/api/vms') },
  { weight: 4, arbitrary: refArb.map((r) => `/api/vms/${r}`) },
  { weight: 3, arbitrary: fc.tuple(refArb, fc.constantFrom('stop', 'pause', 'resume', 'metrics', 'events', 'nonsense', '')).map(([r, a]) => `/api/vms/${r}/${a}`) },
  { weight: 1, arbitrary: fc.tuple(refArb, fc.oneof(fc.constantFrom('0', '1', '10000', '10001', '999999999', '1234567890', '-1', '1.5', 'x', ''), fc.string({ maxLength: 6 }).map(encodeURIComponent)))
    .map(([r, l]) => `/api/vms/${r}/events?limit=${l}`) },
  { weight: 1, arbitrary: fc.constantFrom('/api/host', '/api/metrics', '/metrics', '/api/openapi.json', '/api', '/api/', '/api/vms/', '/api//vms', '/API/vms', '/api/vms?x=1&x=2') },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom('/', '/assets/app.js', '/assets/../../package.json', '/assets/..%2f..%2fpackage.json', '/assets/%2e%2e/%2e%2e/package.json',
        '/assets/....//....//package.json', '/assets//etc/passwd', '/assets/%00', '/vendor/xterm.js', '/vendor/..%2f..%2fpackage.json', '/vendor/constructor',
        '/vendor/__proto__', '/vendor/hasOwnProperty', '/index.html', '/%2e%2e/package.json'),
      fc.array(fc.constantFrom('..', '.', '%2e%2e', '%2f', 'assets', 'web', 'src', 'package.json', '', '%00', 'app.js'), { maxLength: 6 }).map((p) => `/assets/${p.join('/')}`),
    ),
  },
);

const requestArb: fc.Arbitrary<ApiRequest> = fc.record({
  method: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE') }, { weight: 1, arbitrary: fc.constantFrom('PUT', 'HEAD', 'OPTIONS') }),
  path: pathArb,
  auth: fc.oneof({ weight: 12, arbitrary: fc.constant('good' as const) }, { weight: 1, arbitrary: fc.constantFrom('none' as const, 'wrong' as const, 'basic' as const, 'query' as const, 'junk' as const) }),
  contentType: fc.oneof(
    { weight: 8, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom(null, 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'APPLICATION/JSON', 'application/json;', 'junk', '', 'multipart/form-data; boundary=x') },
  ),
  body: bodyArb,
});

/** A case: a VM made first (usually), then the requests. */
export type ApiCase = ApiRequest[];

const caseArb: fc.Arbitrary<ApiCase> = fc.tuple(
  fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  fc.array(requestArb, { minLength: 1, maxLength: 8 }),
).map(([seed, reqs]) => (seed
  ? [{ method: 'POST', path: '/api/vms', auth: 'good' as const, contentType: 'application/json', body: { json: { name: 'vm-a' } } }, ...reqs]
  : reqs));

const DOCUMENTED = new Set([200, 201, 204, 400, 401, 404, 409]);
const STATUS_WORDS: Record<number, string> = { 200: 'ok', 201: 'created', 204: 'no content', 400: 'bad request', 401: 'unauthorized', 404: 'not found', 409: 'conflict' };

export const api: FuzzTarget<ApiCase, Ctx> = {
  name: 'api',
  async: true,
  fromCorpus: (files: readonly CorpusFile[]) => jsonCorpus<ApiCase>(files),
  arbitrary: () => caseArb,
  expected: () => false, // every answer is checked; inject() itself must not throw
  memoryBound: () => 128 << 20,
  async setup() {
    const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tshv-fuzz-api-'));
    const kernel = new Uint8Array(4096);
    const v = new DataView(kernel.buffer);
    v.setBigUint64(0x10, 8192n, true);
    v.setUint32(0x38, 0x05435352, true); // "RSC\x05": a RISC-V Image header
    writeFileSync(join(dir, 'Image'), kernel);
    writeFileSync(join(dir, 'text'), 'hello, I am text\n');
    writeFileSync(join(dir, 'disk.raw'), new Uint8Array(1 << 16));
    mkdirSync(join(dir, 'folder'));
    const files: Record<string, string> = {
      $KERNEL: join(dir, 'Image'), $TEXT: join(dir, 'text'), $DISK: join(dir, 'disk.raw'), $DIR: join(dir, 'folder'),
      $MISSING: join(dir, 'missing'), $DEVNULL: '/dev/null',
      // A block device (an unattached loop device reads as empty, should it be read at all).
      $BLOCK: existsSync('/dev/loop0') ? '/dev/loop0' : '/dev/null',
    };
    const store = new Store(join(dir, 'tshv.db'));
    const host = new Host(store);
    const app = await buildApp({ host, store, token: TOKEN, version: '0.0.0-fuzz' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    const agent = new Agent({ keepAlive: false });
    return { dir, app, host, store, files, port, agent, assets: listFiles(join(WEB_ROOT, 'assets')).map((f) => readFileSync(f)) };
  },
  async teardown(ctx) {
    ctx.agent.destroy();
    await ctx.app.close();
    ctx.store.close();
    rmSync(ctx.dir, { recursive: true, force: true });
  },
  async run(c, ctx) {
    // Each case starts from an empty host, so it replays alone as it ran.
    for (const vm of ctx.host.list()) ctx.host.remove(vm.id);
    for (const r of c) await send(r, ctx);
  },
};

async function send(r: ApiRequest, ctx: Ctx): Promise<void> {
  const subst = (v: unknown): unknown =>
    typeof v === 'string' ? ctx.files[v] ?? v : Array.isArray(v) ? v.map(subst)
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, subst(x)])) : v;
  // The service's own name (its Host check refuses others: tested in mgmt/host-check.test.ts).
  const headers: Record<string, string> = { host: `127.0.0.1:${ctx.port}` };
  if (r.contentType !== null) headers['content-type'] = r.contentType;
  let url = r.path;
  switch (r.auth) {
    case 'good': headers.authorization = `Bearer ${TOKEN}`; break;
    case 'wrong': headers.authorization = 'Bearer 0000'; break;
    case 'basic': headers.authorization = `Basic ${TOKEN}`; break;
    case 'junk': headers.authorization = 'Bearer'; break;
    case 'query': url += `${url.includes('?') ? '&' : '?'}token=${TOKEN}`; break;
    case 'none': break;
  }
  // Never the event stream or a console (they do not end); a path that resolves to one is skipped.
  const resolved = new URL(url, 'http://x').pathname;
  if (/^\/api\/events\/?$|\/console\/?$/.test(resolved) || /^\/api\/vms\/[^/]+\/(start|restart)\/?$/.test(resolved)) { note('skipped: stream, console or boot'); return; }
  const payload = r.body === null ? undefined : 'raw' in r.body ? r.body.raw : JSON.stringify(subst(r.body.json));
  // inject() resolves "." and ".." as a browser would; static paths go over a real socket,
  // as they are, so the handler sees what a hostile client can send.
  const res = /^\/(assets|vendor)\//.test(url) ? await overHttp(ctx, r.method, url, headers, payload)
    : await ctx.app.inject({ method: r.method as 'GET', url, headers, payload });
  const what = `${r.method} ${r.path} (${r.auth} token) -> ${res.statusCode}`;
  note(`${r.method} ${r.path.startsWith('/api/vms/') ? '/api/vms/{vm}...' : r.path.split('?')[0]!.slice(0, 16)} -> ${STATUS_WORDS[res.statusCode] ?? res.statusCode}`);
  check(res.statusCode < 500, `${what}: ${res.body.slice(0, 300)}`);
  check(DOCUMENTED.has(res.statusCode), `${what}, a status the API does not document: ${res.body.slice(0, 300)}`);
  const onApi = /^\/(api(\/|$|\?)|metrics(\?|$))/.test(r.path);
  if (res.statusCode >= 400 && r.method !== 'HEAD') { // a HEAD answer has no body
    let body: unknown;
    try { body = JSON.parse(res.body); } catch { /* checked below */ }
    check(typeof (body as { error?: unknown } | undefined)?.error === 'string', `${what}: the error body is not { "error": "..." }: ${res.body.slice(0, 200)}`);
  }
  if (onApi && r.auth === 'good') check(res.statusCode !== 401, `${what}: the right token was refused`);
  if (onApi && (r.auth === 'none' || r.auth === 'wrong' || r.auth === 'basic' || r.auth === 'junk')) {
    // A URL that does not decode is refused by the router before any route (or the token check) runs.
    const badUrl = res.statusCode === 400 && (r.method === 'HEAD' || /"field":"url"/.test(res.body));
    check(res.statusCode === 401 || badUrl, `${what}: answered without the token`);
  }
  if (res.statusCode === 200 && r.path.startsWith('/assets/') && r.method === 'GET') {
    check(ctx.assets.some((a) => a.equals(res.rawPayload)), `${what}: served a file that is not one of the web console's assets`);
  }
}

/** One request over HTTP to the app's socket (loopback), the path sent byte for byte. */
function overHttp(ctx: Ctx, method: string, path: string, headers: Record<string, string>, payload: string | undefined):
  Promise<{ statusCode: number; body: string; rawPayload: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: ctx.port, method, path, headers, agent: ctx.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { const raw = Buffer.concat(chunks); resolve({ statusCode: res.statusCode ?? 0, body: raw.toString(), rawPayload: raw }); });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(method === 'HEAD' ? undefined : payload); // a HEAD with a body confuses the client's parser, not the server
  });
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}
