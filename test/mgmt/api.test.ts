// Every error the REST API documents (docs/api.md "Errors"), its authentication, its
// OpenAPI document, its static files and its data directory, against a real `tshv serve`.
import { request as httpRequest } from 'node:http';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { Service, WsConsole } from './service.js';
import { ROOT, TSHV } from '../lib/guest-shell.js';
import { lifecycleTable } from '../../src/mgmt/lifecycle.js';
import { MISSING_TOKEN } from '../../src/mgmt/auth.js';

let s: Service;
const files = mkdtempSync(join(tmpdir(), 'tshv-api-files-'));
const disk = join(files, 'disk.raw');
writeFileSync(disk, Buffer.alloc(1 << 20));
const notAKernel = join(files, 'not-a-kernel');
writeFileSync(notAKernel, 'hello, I am text\n'.repeat(100));

before(async () => { s = await Service.start(undefined, ['--storage-root', files]); });
after(async () => { await s?.kill('SIGKILL'); });

test('the data directory: token (0600), service.json with the URL and pid, tshv.db', () => {
  assert.equal(statSync(join(s.dataDir, 'token')).mode & 0o777, 0o600);
  assert.match(s.token, /^[0-9a-f]{64}$/);
  assert.deepEqual(JSON.parse(readFileSync(join(s.dataDir, 'service.json'), 'utf8')), { url: s.url, pid: s.pid });
  assert.ok(existsSync(join(s.dataDir, 'tshv.db')));
  assert.match(s.output, new RegExp(`${s.url}/#token=${s.token}`), 'prints the web console URL');
  assert.match(s.output, new RegExp(`token file: +${join(s.dataDir, 'token')}`), 'prints where the token is');
});

test('a second service on the same data directory refuses to start', () => {
  const r = spawnSync(process.execPath, [TSHV, 'serve', '--listen', '127.0.0.1:0', '--data-dir', s.dataDir], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`another tshv serve \\(pid ${s.pid}`));
  const bad = spawnSync(process.execPath, [TSHV, 'serve', '--listen', 'nonsense'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--listen nonsense: expected HOST:PORT/);
});

test('a service.json left behind whose pid is now another program\'s is taken over; old open modes are closed', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'tshv-stale-')), 'data');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'tshv.db'), '', { mode: 0o644 });
  chmodSync(join(dir, 'tshv.db'), 0o644);
  const squatter = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
  writeFileSync(join(dir, 'service.json'), JSON.stringify({ url: 'http://127.0.0.1:1', pid: squatter.pid }));
  let other: Service | undefined;
  try {
    other = await Service.start(dir);
    assert.match(other.output, new RegExp(`taking over .*service.json, left by a service that is gone: pid ${squatter.pid} is now another program`));
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'service.json'), 'utf8')), { url: other.url, pid: other.pid });
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const f of ['tshv.db', 'tshv.db-wal', 'tshv.db-shm', 'token']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
  } finally {
    squatter.kill();
    await other?.kill('SIGKILL');
  }
});

test('401: no token, a wrong one, a malformed header; on the API, /metrics, the event stream and the console', async () => {
  await s.ok('POST', '/api/vms', { name: 'auth-probe' }, 201);
  const wrong = { authorization: 'Bearer 0000' };
  for (const path of ['/api/host', '/api/lifecycle', '/api/vms', '/api/vms/auth-probe', '/api/metrics', '/metrics', '/api/openapi.json', '/api/events', '/api/nonexistent']) {
    for (const headers of [{}, wrong, { authorization: `Basic ${s.token}` }, { authorization: s.token }]) {
      const r = await s.api('GET', path, undefined, headers);
      assert.equal(r.status, 401, `${path} with ${JSON.stringify(headers)}`);
      assert.equal(typeof r.body.error, 'string');
    }
  }
  assert.equal((await s.api('POST', '/api/vms', { name: 'x' }, {})).status, 401);
  assert.equal((await s.api('POST', '/api/vms/auth-probe/start', undefined, wrong)).status, 401);
  // ?token= is for WebSockets and the event stream only.
  assert.equal((await s.api('GET', `/api/vms?token=${s.token}`, undefined, {})).status, 401);
  const stream = await fetch(`${s.url}/api/events?token=${s.token}`);
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type')!, /^text\/event-stream/);
  await stream.body!.cancel();
  // The console: without a token, with a wrong one; the right one in the query works.
  for (const url of [s.consoleUrl('auth-probe').replace(/\?token=.*/, ''), s.consoleUrl('auth-probe', 'wrong')]) {
    await assert.rejects(new WsConsole(url).opened, /HTTP 401/);
  }
  const c = new WsConsole(s.consoleUrl('auth-probe'));
  await c.opened;
  assert.equal((await c.closed).code, 4409, 'authenticated, but the VM is off');
  // The web console's files are public.
  assert.equal((await s.api('GET', '/vendor/xterm.js', undefined, {})).status, 200);
});

test('the token is checked on the route a request reaches, however its path is spelled', async () => {
  await s.ok('POST', '/api/vms', { name: 'spelled' }, 201);
  const auth = { authorization: `Bearer ${s.token}` };
  // The router decodes %XX before it matches: these reach /api/vms, /api/host, /metrics...
  const spellings = [
    '/%61pi/vms', '/api/%76ms', '/api/vm%73/spelle%64', '/%61pi/host', '/api/metric%73', '/metric%73', '/%6Detrics', '/%6d%65%74%72%69%63%73',
    '/api/openapi.j%73on', '/api/vms/spelled/event%73', '/api/vms/spelled/metric%73', '/api%2Fvms', '/api%2fhost', '/api/vms%2Fspelled', '/API/vms',
    '/api//vms', '/api/vms/', '/nothing-here', '/api/nothing-here',
  ];
  for (const path of spellings) {
    const r = await s.raw(path);
    assert.equal(r.status, 401, `${path}: ${r.status} ${r.body}`);
    assert.doesNotMatch(r.body, /spelled|tshv_|openapi|hostname/, path);
  }
  assert.match((await s.raw('/%61pi/vms', auth)).body, /"spelled"/, 'with the token the same spelling reaches the route');
  assert.match((await s.raw('/metric%73', auth)).body, /tshv_vms/);
  // The event stream and the console, spelled otherwise and without a token.
  for (const path of ['/api/event%73', '/%61pi/events']) assert.equal((await s.raw(path)).status, 401, path);
  assert.equal((await s.raw('/api/event%73', auth)).type.startsWith('text/event-stream'), true);
  const wsBase = s.url.replace(/^http/, 'ws');
  for (const path of ['/%61pi/vms/spelled/console', '/api/vms/spelled/consol%65', '/api/vm%73/spelled/console']) {
    await assert.rejects(new WsConsole(wsBase + path).opened, /HTTP 401/, path);
  }
  const c = new WsConsole(`${wsBase}/api/vms/spelled/consol%65?token=${s.token}`);
  await c.opened;
  assert.equal((await c.closed).code, 4409, 'authenticated: the VM is off');
});

test('?token= only on WebSocket upgrades and the event stream, not on requests that merely say "Upgrade"', async () => {
  const upgrade = { upgrade: 'websocket' };
  const handshake = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
  for (const path of ['/api/vms', '/api/host', '/metrics', '/api/vms/spelled/events']) {
    for (const headers of [upgrade, handshake]) {
      const r = await s.raw(`${path}?token=${s.token}`, headers);
      assert.equal(r.status, 401, `${path} with ${JSON.stringify(headers)}: ${r.body}`);
      assert.doesNotMatch(r.body, /spelled|tshv_|hostname/);
    }
  }
  // The console's query token counts on an upgrade only; a plain GET of it is refused too.
  assert.equal((await s.raw(`/api/vms/spelled/console?token=${s.token}`, upgrade)).status, 401);
  assert.equal((await s.raw(`/api/vms/spelled/console?token=${s.token}`, handshake)).status, 101);
  assert.equal((await s.raw(`/api/events?token=${s.token}`, upgrade)).status, 200);
});

test('DNS rebinding: other Host names are refused (403) on every route; WebSockets from pages of other sites too', async () => {
  const port = new URL(s.url).port;
  const auth = { authorization: `Bearer ${s.token}` };
  for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1:${Number(port) + 1}`, `localhost.evil.example:${port}`, `0.0.0.0:${port}`]) {
    for (const path of ['/api/vms', '/', '/vendor/xterm.js', '/api/events', '/metrics', '/nothing-here']) {
      const r = await s.raw(path, { ...auth, host });
      assert.equal(r.status, 403, `${path} for ${host}`);
      assert.match(JSON.parse(r.body).error, /does not answer to the host name .*--allow-host/, `${path} for ${host}`);
    }
    await assert.rejects(new WsConsole(s.consoleUrl('spelled'), { host }).opened, /HTTP 403/);
  }
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
    assert.equal((await s.raw('/api/host', { ...auth, host })).status, 200, host);
  }
  // Origin: a page of another site cannot open the console; the service's own pages and
  // clients that send no Origin (the CLI) can.
  for (const origin of ['http://evil.example', `http://evil.example:${port}`, 'null', `http://localhost:${Number(port) + 1}`]) {
    await assert.rejects(new WsConsole(s.consoleUrl('spelled'), { origin }).opened, /HTTP 403/, origin);
  }
  for (const headers of [{ origin: s.url }, { origin: `http://localhost:${port}` }, undefined]) {
    const c = new WsConsole(s.consoleUrl('spelled'), headers);
    await c.opened;
    assert.equal((await c.closed).code, 4409);
  }
});

test('--allow-host NAME adds a name (and its origin); a bad one is a usage error', async () => {
  const other = await Service.start(undefined, ['--allow-host', 'tshv.test', '--allow-host', 'proxy.test:8443']);
  try {
    const port = new URL(other.url).port;
    const auth = { authorization: `Bearer ${other.token}` };
    for (const host of [`tshv.test:${port}`, 'proxy.test:8443', `localhost:${port}`]) assert.equal((await other.raw('/api/host', { ...auth, host })).status, 200, host);
    for (const host of ['tshv.test', `proxy.test:${port}`, `evil.test:${port}`]) assert.equal((await other.raw('/api/host', { ...auth, host })).status, 403, host);
    await other.ok('POST', '/api/vms', { name: 'named' }, 201);
    const c = new WsConsole(other.consoleUrl('named'), { host: `tshv.test:${port}`, origin: `http://tshv.test:${port}` });
    await c.opened;
    assert.equal((await c.closed).code, 4409);
  } finally {
    await other.kill('SIGKILL');
  }
  const bad = spawnSync(process.execPath, [TSHV, 'serve', '--listen', '127.0.0.1:0', '--allow-host', 'evil.example/x'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--allow-host evil.example\/x: expected a host name/);
});

test('400 names the field: bad values, wrong types, unknown fields, missing files, bad JSON', async () => {
  const cases: [unknown, string][] = [
    [{ name: 'a', vcpus: 0 }, 'vcpus'],
    [{ name: 'a', vcpus: 9 }, 'vcpus'],
    [{ name: 'a', vcpus: 1.5 }, 'vcpus'],
    [{ name: 'a', vcpus: '2' }, 'vcpus'],
    [{ name: 'a', memoryMiB: 15 }, 'memoryMiB'],
    [{ name: 'a', memoryMiB: 4095 }, 'memoryMiB'],
    [{ name: 'Upper' }, 'name'],
    [{ name: '-dash-first' }, 'name'],
    [{ name: 'x'.repeat(64) }, 'name'],
    [{ name: '9b2c4f0e-1111-2222-3333-444455556666' }, 'name'],
    [{ name: 12 }, 'name'],
    [{ vcpus: 1 }, 'name'],
    [{ name: 'a', console: 'tty' }, 'console'],
    [{ name: 'a', autoStart: 'yes' }, 'autoStart'],
    [{ name: 'a', jit: 'no' }, 'jit'],
    [{ name: 'a', jit: 0 }, 'jit'],
    [{ name: 'a', jit: null }, 'jit'],
    [{ name: 'a', kernel: 5 }, 'kernel'],
    [{ name: 'a', kernel: 'relative/Image' }, 'kernel'],
    [{ name: 'a', kernel: join(files, 'missing') }, 'kernel'],
    [{ name: 'a', kernel: notAKernel }, 'kernel'],
    [{ name: 'a', initrd: join(files, 'missing') }, 'initrd'],
    [{ name: 'a', root: join(files, 'missing') }, 'root'],
    [{ name: 'a', root: files }, 'root'],
    [{ name: 'a', append: 'x'.repeat(1025) }, 'append'],
    [{ name: 'a', disks: 'disk.raw' }, 'disks'],
    [{ name: 'a', disks: [{ path: disk }, { path: join(files, 'missing') }] }, 'disks[1].path'],
    [{ name: 'a', disks: [{ readOnly: true }] }, 'disks[0].path'],
    [{ name: 'a', disks: [{ path: disk, readOnly: 'no' }] }, 'disks[0].readOnly'],
    [{ name: 'a', disks: [{ path: disk, size: 1 }] }, 'disks[0].size'],
    [{ name: 'a', disks: Array(7).fill({ path: disk, readOnly: true }) }, 'disks'],
    [{ name: 'a', root: disk, disks: Array(6).fill({ path: disk, readOnly: true }) }, 'disks'],
    [{ name: 'a', memoryMb: 64 }, 'memoryMb'],
    ['{"name": "a",', 'body'],
    ['[1, 2]', 'body'],
  ];
  for (const [body, field] of cases) {
    const r = await s.api('POST', '/api/vms', body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.field, field, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assert.ok(r.body.error.includes(field) || field === 'body', `the message names ${field}: ${r.body.error}`);
  }
  assert.equal((await s.api('POST', '/api/vms')).status, 400, 'no body');
  assert.equal((await s.api('POST', '/api/vms', { name: 'a', jit: 'false' })).body.error, 'jit must be a boolean');
  // None of them was created.
  assert.deepEqual((await s.ok('GET', '/api/vms')).map((v: any) => v.name).filter((n: string) => !['auth-probe', 'spelled'].includes(n)), []);

  // The same checks on update; a failed update changes nothing.
  await s.ok('POST', '/api/vms', { name: 'target', disks: [{ path: disk }] }, 201);
  for (const [body, field] of [[{ vcpus: 0 }, 'vcpus'], [{ kernel: join(files, 'missing') }, 'kernel'], [{ id: 'x' }, 'id'], [{ state: 'running' }, 'state'], [{ jit: 'off' }, 'jit']] as const) {
    const r = await s.api('PATCH', '/api/vms/target', body);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.field, field);
  }
  const target = await s.ok('GET', '/api/vms/target');
  assert.equal(target.vcpus, 1);
  assert.equal(target.jit, true);
  assert.deepEqual(target.disks, [{ path: disk, readOnly: false }]);
  const patched = await s.ok('PATCH', '/api/vms/target', { vcpus: 2, memoryMiB: 64, disks: [], append: 'console=ttyS0 quiet' });
  assert.deepEqual([patched.vcpus, patched.memoryMiB, patched.disks, patched.append], [2, 64, [], 'console=ttyS0 quiet']);
  assert.equal((await s.api('GET', '/api/vms/target/events?limit=abc')).body.field, 'limit');
});

test('jit: true by default; false round-trips through create, get, list and update', async () => {
  assert.equal((await s.ok('POST', '/api/vms', { name: 'jit-default' }, 201)).jit, true);
  const created = await s.ok('POST', '/api/vms', { name: 'jit-off', jit: false }, 201);
  assert.equal(created.jit, false);
  assert.equal((await s.ok('GET', `/api/vms/${created.id}`)).jit, false);
  assert.deepEqual((await s.ok('GET', '/api/vms')).filter((v: any) => v.name.startsWith('jit-')).map((v: any) => [v.name, v.jit]),
    [['jit-default', true], ['jit-off', false]]);
  assert.equal((await s.ok('PATCH', '/api/vms/jit-off', { jit: true })).jit, true);
  assert.equal((await s.ok('PATCH', '/api/vms/jit-default', { jit: false })).jit, false);
  assert.equal((await s.ok('GET', '/api/vms/jit-default')).jit, false);
  const events = await s.ok('GET', '/api/vms/jit-default/events');
  assert.equal(events.at(-1).message, 'changed: jit');
  for (const name of ['jit-default', 'jit-off']) assert.equal((await s.api('DELETE', `/api/vms/${name}`)).status, 204);
});

test('404: unknown VMs by id or name, on every VM endpoint and the console; unknown endpoints', async () => {
  for (const ref of ['nope', '9b2c4f0e-1111-2222-3333-444455556666']) {
    for (const [method, path] of [
      ['GET', ''], ['PATCH', ''], ['DELETE', ''], ['POST', '/start'], ['POST', '/stop'], ['POST', '/restart'], ['POST', '/pause'],
      ['POST', '/resume'], ['GET', '/events'], ['GET', '/metrics'],
    ]) {
      const r = await s.api(method, `/api/vms/${ref}${path}`, method === 'PATCH' ? {} : undefined);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.match(r.body.error, new RegExp(ref));
    }
    const c = new WsConsole(s.consoleUrl(ref));
    await c.opened;
    assert.equal((await c.closed).code, 4404);
  }
  assert.equal((await s.api('GET', '/api/nothing-here')).status, 404);
});

test('409 names the state: start a running VM, change or delete it, pause or resume in the wrong state, a taken name', async () => {
  const vm = await s.ok('POST', '/api/vms', { name: 'busy', memoryMiB: 64 }, 201);
  const taken = await s.api('POST', '/api/vms', { name: 'busy' });
  assert.equal(taken.status, 409);
  assert.equal(taken.body.state, 'off');
  assert.match(taken.body.error, /busy/);
  await s.ok('POST', '/api/vms', { name: 'rename-me' }, 201);
  assert.equal((await s.api('PATCH', '/api/vms/rename-me', { name: 'busy' })).status, 409, 'renaming onto a taken name');
  assert.equal((await s.ok('PATCH', '/api/vms/rename-me', { name: 'renamed' })).name, 'renamed');
  for (const [action, state] of [['stop', 'off'], ['restart', 'off'], ['pause', 'off'], ['resume', 'off']] as const) {
    const r = await s.api('POST', `/api/vms/busy/${action}`);
    assert.equal(r.status, 409, action);
    assert.equal(r.body.state, state);
  }
  await s.ok('POST', `/api/vms/${vm.id}/start`);
  await s.waitForVm('busy', (v) => v.state === 'running', 'running');
  for (const [method, path, body] of [
    ['POST', '/start', undefined], ['POST', '/resume', undefined], ['DELETE', '', undefined], ['PATCH', '', { vcpus: 2 }],
    ['PATCH', '', { jit: false }], // like every field: changed while off, used from the next start
  ] as const) {
    const r = await s.api(method, `/api/vms/busy${path}`, body);
    assert.equal(r.status, 409, `${method} ${path}`);
    assert.equal(r.body.state, 'running');
    assert.match(r.body.error, /running/);
  }
  const refused = await s.api('PATCH', '/api/vms/busy', { vcpus: 2 });
  assert.equal(refused.body.error, 'cannot change busy: it is running (change needs off or failed)', 'the message names the legal states');
  await s.ok('POST', '/api/vms/busy/pause');
  const again = await s.api('POST', '/api/vms/busy/pause');
  assert.equal(again.status, 409);
  assert.equal(again.body.state, 'paused');
  assert.equal((await s.ok('POST', '/api/vms/busy/stop')).state, 'off');
  assert.equal((await s.api('DELETE', '/api/vms/busy')).status, 204);
});

test('the host and the OpenAPI document (3.x, every path, every reference resolves)', async () => {
  const host = await s.ok('GET', '/api/host');
  assert.equal(typeof host.hostname, 'string');
  assert.equal(host.version, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  assert.ok(host.cpus >= 1 && host.memoryBytes > 0 && host.uptimeSeconds > 0);
  assert.deepEqual(host.vms, { total: (await s.ok('GET', '/api/vms')).length, running: 0 });
  assert.deepEqual(await s.ok('GET', '/api/lifecycle'), lifecycleTable(), 'the lifecycle table, as the service holds it');

  const r = await s.api('GET', '/api/openapi.json');
  assert.equal(r.status, 200);
  const doc = r.body;
  assert.match(doc.openapi, /^3\.\d+\.\d+$/);
  const expected: Record<string, string[]> = {
    '/api/host': ['get'], '/api/lifecycle': ['get'], '/api/vms': ['get', 'post'], '/api/vms/{vm}': ['get', 'patch', 'delete'],
    '/api/vms/{vm}/start': ['post'], '/api/vms/{vm}/stop': ['post'], '/api/vms/{vm}/restart': ['post'], '/api/vms/{vm}/pause': ['post'],
    '/api/vms/{vm}/resume': ['post'], '/api/vms/{vm}/console': ['get'], '/api/vms/{vm}/events': ['get'], '/api/events': ['get'],
    '/api/vms/{vm}/metrics': ['get'], '/api/metrics': ['get'], '/metrics': ['get'], '/api/openapi.json': ['get'],
    '/api/vms/{vm}/save': ['post'], '/api/vms/{vm}/discard-state': ['post'], '/api/vms/{vm}/checkpoints': ['get', 'post'],
    '/api/vms/{vm}/checkpoints/{checkpoint}': ['delete'], '/api/vms/{vm}/checkpoints/{checkpoint}/apply': ['post'],
    '/api/vms/{vm}/migrate': ['post'], '/api/vms/{vm}/migration': ['get', 'delete'],
  };
  assert.deepEqual(Object.keys(doc.paths).sort(), Object.keys(expected).sort());
  for (const [path, methods] of Object.entries(expected)) assert.deepEqual(Object.keys(doc.paths[path]).sort(), [...methods].sort(), path);
  assert.equal(doc.paths['/api/vms'].post.requestBody.content['application/json'].schema.$ref, '#/components/schemas/VmCreate');
  assert.deepEqual(doc.paths['/api/vms/{vm}'].get.parameters.map((p: any) => [p.name, p.in, p.required]), [['vm', 'path', true]]);
  assert.equal(doc.components.schemas.Vm.properties.kernel.type, 'string');
  assert.equal(doc.components.schemas.Vm.properties.kernel.nullable, true);
  assert.deepEqual(doc.components.schemas.VmCreate.required, ['name']);
  assert.equal(doc.components.schemas.VmCreate.properties.jit.type, 'boolean');
  assert.ok(doc.components.schemas.Vm.required.includes('jit'));
  assert.deepEqual(doc.components.schemas.VmCreate.properties.vcpus, { type: 'integer', minimum: 1, maximum: 8, description: 'virtual processors (default 1)' });
  // OpenAPI 3.0 has no type arrays; every $ref points at a component.
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) { x.forEach(walk); return; }
    if (!x || typeof x !== 'object') return;
    const o = x as Record<string, unknown>;
    if (Array.isArray(o.type)) assert.fail(`type array in ${JSON.stringify(o)}`);
    if (typeof o.$ref === 'string') assert.ok(doc.components.schemas[o.$ref.replace('#/components/schemas/', '')], o.$ref);
    Object.values(o).forEach(walk);
  };
  walk(doc);
  const ids = Object.values(doc.paths).flatMap((p: any) => Object.values(p).map((op: any) => op.operationId));
  assert.ok(ids.every((id) => typeof id === 'string'), 'every operation has an operationId');
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  assert.deepEqual(doc.security, [{ bearer: [] }]);
  assert.equal(doc.paths['/api/lifecycle'].get.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/Lifecycle');
  assert.match(doc.paths['/api/vms/{vm}/pause'].post.description, /Legal when the VM is running; 409 otherwise/);
});

test('static files: the web console page, its assets and xterm.js, public; no way out of the web root', async () => {
  const page = await s.api('GET', '/', undefined, {});
  if (existsSync(join(ROOT, 'src/web/index.html'))) {
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
  } else {
    assert.equal(page.status, 404);
  }
  for (const [path, type] of [['/vendor/xterm.js', /javascript/], ['/vendor/xterm.css', /css/], ['/vendor/addon-fit.js', /javascript/]] as const) {
    const r = await s.api('GET', path, undefined, {});
    assert.equal(r.status, 200, path);
    assert.match(r.headers.get('content-type')!, type);
  }
  for (const path of ['/vendor/nope.js', '/assets/nope.js', '/assets/..%2f..%2fpackage.json', '/vendor/..%2f..%2fpackage.json']) {
    const r = await s.api('GET', path, undefined, {});
    assert.equal(r.status, 404, path);
    assert.doesNotMatch(String(JSON.stringify(r.body)), /"tshv"/, path);
  }
  // A path outside the web console's routes (fetch resolves the %2e%2e) needs the token like any other.
  for (const path of ['/assets/%2e%2e/%2e%2e/package.json', '/package.json', '/favicon.ico']) {
    const r = await s.api('GET', path, undefined, {});
    assert.equal(r.status, 401, path);
    assert.doesNotMatch(String(JSON.stringify(r.body)), /"tshv"/, path);
  }
});

test('SIGTERM: the VMs stop, the service exits 0 and removes service.json', async () => {
  await s.ok('POST', '/api/vms', { name: 'at-exit', memoryMiB: 64 }, 201);
  await s.ok('POST', '/api/vms', { name: 'interpreted', jit: false }, 201);
  await s.ok('POST', '/api/vms/at-exit/start');
  const exit = await s.kill('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, s.output);
  assert.equal(existsSync(join(s.dataDir, 'service.json')), false);
  // Started again: the VM is off, stopped by the shutdown, not by a crash.
  s = await Service.start(s.dataDir);
  const vm = await s.ok('GET', '/api/vms/at-exit');
  assert.equal(vm.state, 'off');
  assert.equal(vm.stateReason, 'stopped');
  assert.equal((await s.ok('GET', '/api/vms/interpreted')).jit, false, 'the setting is in the database');
  assert.equal(vm.jit, true);
  const events = await s.ok('GET', '/api/vms/at-exit/events');
  assert.equal(events.some((e: any) => e.type === 'host-restart'), false);
  assert.match(events.at(-2).message, /shutting down/);
});

/** An HTTP upgrade to the migration stream, answered with a status line and its JSON error (or 101). */
function migrationUpgrade(headers: Record<string, string>, path = '/api/migrations/incoming'): Promise<{ status: number; error?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${s.url}${path}`, { headers: { connection: 'Upgrade', upgrade: 'tshv-migration/1', ...headers } });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode! }); });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, error: (JSON.parse(body) as { error: string }).error }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('an incoming migration needs the Host and the token before anything, whatever its path', async () => {
  assert.deepEqual(await migrationUpgrade({}), { status: 401, error: MISSING_TOKEN });
  assert.deepEqual(await migrationUpgrade({ authorization: 'Bearer nope' }), { status: 401, error: 'wrong token' });
  // A path spelled otherwise, or another one, does not skip the checks: it is refused after them.
  assert.equal((await migrationUpgrade({}, '/%61pi/migrations/incoming')).status, 401);
  assert.equal((await migrationUpgrade({ authorization: `Bearer ${s.token}` }, '/%61pi/migrations/incoming')).status, 404);
  assert.equal((await migrationUpgrade({ authorization: `Bearer ${s.token}`, host: 'evil.example:80' })).status, 403);
  // With both, the connection is the stream's: 101, then the destination reads a migration stream.
  assert.equal((await migrationUpgrade({ authorization: `Bearer ${s.token}` })).status, 101);
  // The service goes on (the cut stream was the migration's to refuse).
  assert.equal((await s.api('GET', '/api/vms')).status, 200);
});

test('a migrate request is checked before anything is reached: bad fields and destinations are 400s naming the field', async () => {
  assert.equal((await s.api('POST', '/api/vms', { name: 'stay' })).status, 201);
  const bad: [unknown, string][] = [
    [{}, 'to'], [{ to: 'http://127.0.0.1:1' }, 'token'], [{ to: 7, token: 't' }, 'to'], [{ to: 'http://127.0.0.1:1', token: '' }, 'token'],
    [{ to: 'http://127.0.0.1:1', token: 't', extra: 1 }, 'extra'], [{ to: 'http://127.0.0.1:1', token: 't', maxDowntimeMs: 0 }, 'maxDowntimeMs'],
    [{ to: 'http://127.0.0.1:1', token: 't', bandwidth: 1 }, 'bandwidth'], [{ to: 'http://127.0.0.1:1', token: 't', quick: 'yes' }, 'quick'],
    [{ to: 'file:///etc/passwd', token: 't' }, 'to'], [{ to: 'http://127.0.0.1:1/api/x', token: 't' }, 'to'],
    [{ to: 'http://u:p@127.0.0.1:1', token: 't' }, 'to'], [{ to: 'not a url at all', token: 't' }, 'to'],
  ];
  for (const [body, field] of bad) {
    const r = await s.api('POST', '/api/vms/stay/migrate', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.field, field, JSON.stringify(body));
  }
  // A good request for a VM that is not running: 409, and nothing was started.
  const off = await s.api('POST', '/api/vms/stay/migrate', { to: 'http://127.0.0.1:1', token: 't' });
  assert.equal(off.status, 409);
  assert.equal((await s.api('GET', '/api/vms/stay/migration')).status, 404);
  assert.equal((await s.api('DELETE', '/api/vms/stay')).status, 204);
});
