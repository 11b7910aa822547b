// The web console's DOM-free modules (src/web/assets/core/), run in Node as they are served:
// plain JavaScript, imported from the source tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { lifecycleTable } from '../../src/mgmt/lifecycle.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const load = (name: string): Promise<any> => import(`${ROOT}src/web/assets/core/${name}`);

const form = await load('vm-form.js');
const { CpuHistory, chartPoints, totalRunSeconds } = await load('cpu.js');
const { SseParser } = await load('sse.js');
const { Api, ApiError } = await load('api.js');
const { takeTokenFromHash, hashParam } = await load('token.js');
const { Lifecycle, UNKNOWN_LIFECYCLE } = await load('vm-state.js');
const { formatBytes, formatDuration, formatPercent, formatMiB } = await load('format.js');

test('create form: a minimal VM takes the defaults', () => {
  const { body, errors } = form.parseCreateForm({ name: 'web-1', vcpus: '', memoryMiB: '' });
  assert.deepEqual(errors, {});
  assert.deepEqual(body, { name: 'web-1', autoStart: false });
});

test('create form: every field', () => {
  const { body, errors } = form.parseCreateForm({
    name: 'a.b_c-9', vcpus: '8', memoryMiB: '4094', console: 'virtio', autoStart: 'on',
    kernel: ' /k/Image ', initrd: '/k/initrd', root: '/d/root.qcow2', append: ' console=hvc0 quiet ',
    disks: '/d/a.raw\n\n  /d/b.qcow2,readonly\n/d/c.raw, ro\n',
  });
  assert.deepEqual(errors, {});
  assert.deepEqual(body, {
    name: 'a.b_c-9', vcpus: 8, memoryMiB: 4094, console: 'virtio', autoStart: true,
    kernel: '/k/Image', initrd: '/k/initrd', root: '/d/root.qcow2', append: 'console=hvc0 quiet',
    disks: [{ path: '/d/a.raw', readOnly: false }, { path: '/d/b.qcow2', readOnly: true }, { path: '/d/c.raw', readOnly: true }],
  });
});

test('create form: the API\'s rules, one message per field', () => {
  const cases: [Record<string, string>, string][] = [
    [{ name: '' }, 'name'],
    [{ name: 'Web' }, 'name'],
    [{ name: '-web' }, 'name'],
    [{ name: 'web 1' }, 'name'],
    [{ name: 'a'.repeat(64) }, 'name'],
    [{ name: 'ok', vcpus: '0' }, 'vcpus'],
    [{ name: 'ok', vcpus: '9' }, 'vcpus'],
    [{ name: 'ok', vcpus: '1.5' }, 'vcpus'],
    [{ name: 'ok', vcpus: 'two' }, 'vcpus'],
    [{ name: 'ok', memoryMiB: '15' }, 'memoryMiB'],
    [{ name: 'ok', memoryMiB: '4095' }, 'memoryMiB'],
    [{ name: 'ok', console: 'hvc' }, 'console'],
    [{ name: 'ok', kernel: 'Image' }, 'kernel'],
    [{ name: 'ok', initrd: './initrd' }, 'initrd'],
    [{ name: 'ok', root: 'root.qcow2' }, 'root'],
    [{ name: 'ok', disks: 'a.raw' }, 'disks'],
    [{ name: 'ok', disks: '/a.raw,rw' }, 'disks'],
    [{ name: 'ok', disks: ',readonly' }, 'disks'],
    [{ name: 'ok', disks: '/1\n/2\n/3\n/4\n/5\n/6\n/7' }, 'disks'],
    [{ name: 'ok', root: '/r', disks: '/1\n/2\n/3\n/4\n/5\n/6' }, 'disks'],
    [{ name: 'ok', append: 'x'.repeat(1025) }, 'append'],
  ];
  for (const [raw, field] of cases) {
    const { errors } = form.parseCreateForm(raw);
    assert.deepEqual(Object.keys(errors), [field], JSON.stringify(raw));
    assert.ok(errors[field].length > 10, 'a message a user can act on');
  }
  assert.equal(form.parseCreateForm({ name: 'a'.repeat(63) }).errors.name, undefined);
  assert.equal(form.parseCreateForm({ name: 'ok', root: '/r', disks: '/1\n/2\n/3\n/4\n/5' }).errors.disks, undefined);
});

test('create form: an API error\'s field maps back to its input', () => {
  assert.equal(form.fieldOf('name'), 'name');
  assert.equal(form.fieldOf('memoryMiB'), 'memoryMiB');
  assert.equal(form.fieldOf('disks[1].path'), 'disks');
  assert.equal(form.fieldOf('/disks/1/path'), 'disks');
  assert.equal(form.fieldOf('path'), 'disks');
  assert.equal(form.fieldOf('append'), 'append');
  assert.equal(form.fieldOf('nonsense'), null);
  assert.equal(form.fieldOf(undefined), null);
});

test('cpu: the growth of run time per second, as a percentage of one core', () => {
  const h = new CpuHistory(3);
  const m = (...run: number[]) => ({ vcpus: run.map((runSeconds, vp) => ({ vp, runSeconds, instructions: 0 })) });
  assert.equal(totalRunSeconds(m(1, 2.5)), 3.5);
  assert.equal(h.add(1000, m(1, 1)), null, 'nothing to compare the first sample with');
  assert.equal(h.latest, null);
  assert.equal(h.add(3000, m(1.5, 1.5)), 50);     // 1 s of run time in 2 s
  assert.equal(h.add(4000, m(2.5, 2.5)), 200);    // both vCPUs busy
  assert.equal(h.add(5000, m(2.5, 2.5)), 0);
  assert.ok(Math.abs(h.add(6000, m(2.6, 2.5)) - 10) < 1e-9);
  assert.deepEqual(h.values.length, 3, 'keeps capacity values');
  assert.equal(h.add(7000, m(0.1, 0)), null, 'counters restart with the VM');
  assert.equal(h.add(7000, m(0.2, 0)), null, 'no time passed');
  h.reset();
  assert.deepEqual(h.values, []);
});

test('cpu: chart points end at the right edge and clip at the top', () => {
  assert.equal(chartPoints([], 10, 90, 20, 100), '');
  assert.equal(chartPoints([50], 10, 90, 20, 100), '80,10 90,10');
  assert.equal(chartPoints([0, 50, 100, 250], 10, 90, 20, 100), '60,20 70,10 80,0 90,0');
  assert.equal(chartPoints([-1, 0], 2, 10, 10, 100), '0,10 10,10');
});

test('sse: events across chunk boundaries, CRLF, comments and multi-line data', () => {
  const got: { type: string; data: string; id: string }[] = [];
  const p = new SseParser((m: { type: string; data: string; id: string }) => got.push(m));
  p.push('retry: 2000\n\n: keep-alive\n\nid: 1\nda');
  p.push('ta: {"a":1}\n');
  assert.equal(got.length, 0);
  p.push('\nid: 2\r');
  p.push('\ndata:x\r\ndata: y\r\n\r\nevent: ping\ndata\n\n');
  assert.deepEqual(got, [
    { type: 'message', data: '{"a":1}', id: '1' },
    { type: 'message', data: 'x\ny', id: '2' },
    { type: 'ping', data: '', id: '2' },
  ]);
});

/** A fetch that answers from a table and records the requests. */
function fakeFetch(answers: Record<string, () => Response>) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetch = async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const answer = answers[`${init.method ?? 'GET'} ${url}`];
    if (!answer) throw new TypeError('fetch failed');
    return answer();
  };
  return { fetch, calls };
}

test('api: the token goes in the Authorization header; errors carry the service\'s message and field', async () => {
  const { fetch, calls } = fakeFetch({
    'GET /api/vms': () => Response.json([{ id: '1', name: 'a' }]),
    'GET /api/lifecycle': () => Response.json({ states: [], actions: [] }),
    'POST /api/vms': () => Response.json({ error: 'name must be ...', field: 'name' }, { status: 400 }),
    'POST /api/vms/a%20b/start': () => Response.json({ error: 'the VM is running', state: 'running' }, { status: 409 }),
    'DELETE /api/vms/a': () => new Response(null, { status: 204 }),
    'GET /api/host': () => new Response('<html>proxy error</html>', { status: 502, statusText: 'Bad Gateway' }),
  });
  const api = new Api('s3cret', { fetch });
  assert.deepEqual(await api.listVms(), [{ id: '1', name: 'a' }]);
  assert.equal((calls[0].init.headers as Record<string, string>).Authorization, 'Bearer s3cret');
  await assert.rejects(api.createVm({ name: 'X' }), (e: InstanceType<typeof ApiError>) =>
    e instanceof ApiError && e.status === 400 && e.field === 'name' && e.message === 'name must be ...');
  assert.equal(calls[1].init.body, '{"name":"X"}');
  await assert.rejects(api.act('a b', 'start'), (e: InstanceType<typeof ApiError>) => e.status === 409 && e.state === 'running');
  assert.equal(await api.deleteVm('a'), undefined);
  await assert.rejects(api.host(), (e: Error) => e.message === '502 Bad Gateway');
  await assert.rejects(api.metrics('a'), (e: InstanceType<typeof ApiError>) => e.status === 0 && /reach/.test(e.message));
  assert.equal(api.consoleUrl('web 1', 'https://h:7070/#vm=x'), 'wss://h:7070/api/vms/web%201/console?token=s3cret');
  assert.equal(api.consoleUrl('w', 'http://127.0.0.1:1/'), 'ws://127.0.0.1:1/api/vms/w/console?token=s3cret');
  assert.deepEqual(await api.lifecycle(), { states: [], actions: [] });
});

test('api: followEvents parses the stream and reports refusals', async () => {
  const stream = 'retry: 2000\n\nid: 7\ndata: {"id":7,"vmId":"v","type":"state","state":"running"}\n\ndata: not json\n\n';
  const { fetch } = fakeFetch({
    'GET /api/events': () => new Response(new Blob([stream]).stream(), { headers: { 'content-type': 'text/event-stream' } }),
  });
  const events: unknown[] = [];
  let opened = false;
  await new Api('t', { fetch }).followEvents((e: unknown) => events.push(e), { onOpen: () => { opened = true; } });
  assert.ok(opened);
  assert.deepEqual(events, [{ id: 7, vmId: 'v', type: 'state', state: 'running' }]);

  const refused = fakeFetch({ 'GET /api/events': () => Response.json({ error: 'wrong token' }, { status: 401 }) });
  await assert.rejects(new Api('t', { fetch: refused.fetch }).followEvents(() => {}), (e: InstanceType<typeof ApiError>) => e.status === 401);
});

test('token: taken out of the fragment, other parameters kept', () => {
  assert.deepEqual(takeTokenFromHash('#token=abc'), { token: 'abc', hash: '' });
  assert.deepEqual(takeTokenFromHash('#token=abc&vm=web-1'), { token: 'abc', hash: '#vm=web-1' });
  assert.deepEqual(takeTokenFromHash('#vm=web-1'), { token: null, hash: '#vm=web-1' });
  assert.deepEqual(takeTokenFromHash(''), { token: null, hash: '' });
  assert.deepEqual(takeTokenFromHash('#token='), { token: null, hash: '' });
  assert.equal(hashParam('#vm=web-1', 'vm'), 'web-1');
  assert.equal(hashParam('', 'vm'), null);
});

test('vm state: the page offers the actions the service\'s lifecycle table allows (GET /api/lifecycle)', () => {
  const lifecycle = new Lifecycle(JSON.parse(JSON.stringify(lifecycleTable())));
  const buttons = ['start', 'stop', 'restart', 'pause', 'resume', 'delete'];
  const offered = (state: string) => buttons.filter((a) => lifecycle.offers(a, state));
  assert.deepEqual(offered('off'), ['start', 'delete']);
  assert.deepEqual(offered('failed'), ['start', 'delete']);
  assert.deepEqual(offered('running'), ['stop', 'restart', 'pause']);
  assert.deepEqual(offered('paused'), ['stop', 'restart', 'resume']);
  assert.deepEqual(offered('starting'), ['stop']);
  assert.deepEqual(offered('stopping'), [], 'stop is legal while stopping, but already under way');
  assert.ok(lifecycle.isLegal('stop', 'stopping'));
  assert.deepEqual(['off', 'starting', 'running', 'paused', 'stopping', 'failed'].filter((s) => lifecycle.isLive(s)), ['starting', 'running', 'paused', 'stopping']);
  assert.deepEqual(['off', 'starting', 'running', 'paused', 'stopping', 'failed'].filter((s) => lifecycle.hasConsole(s)), ['starting', 'running', 'paused']);
  assert.deepEqual(buttons.filter((a) => UNKNOWN_LIFECYCLE.offers(a, 'off')), [], 'nothing is offered before the table is read');
});

test('format', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(16 * 2 ** 30), '16 GiB');
  assert.equal(formatBytes(15.5 * 2 ** 30), '15.5 GiB');
  assert.equal(formatMiB(256), '256 MiB');
  assert.equal(formatMiB(4094), '4094 MiB', 'exact, as entered');
  assert.equal(formatMiB(2048), '2 GiB');
  assert.equal(formatDuration(42.9), '42 s');
  assert.equal(formatDuration(3 * 3600 + 12 * 60), '3 h 12 min');
  assert.equal(formatDuration(2 * 86400 + 4 * 3600), '2 d 4 h');
  assert.equal(formatPercent(3.14159), '3.1%');
  assert.equal(formatPercent(123.4), '123%');
});
