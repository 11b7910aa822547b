// A VM's whole life through the REST API of a real `tshv serve`, with a real Linux guest:
// create with the defaults, start, the shell through the WebSocket console, metrics, pause
// and resume, restart, a guest reboot and poweroff, stop, delete; and the events of all of
// it, live on the event stream and stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Service, type WsConsole } from './service.js';
import { PROMPT, kernelTrouble } from '../lib/guest-shell.js';

const BOOT_MS = 120_000;

/** Waits for a shell prompt in the output after `mark` (a new run of the guest). */
function promptAfter(c: WsConsole, mark: number, what: string): Promise<void> {
  return c.waitFor(what, () => PROMPT.test(c.log.slice(mark)), BOOT_MS);
}

test('a VM from create to delete, with a real guest', { timeout: 300_000 }, async () => {
  const s = await Service.start();
  const stream = s.events();
  let c: WsConsole | undefined;
  try {
    // Create with the defaults.
    const created = await s.ok('POST', '/api/vms', { name: 'life' }, 201);
    assert.match(created.id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(
      { ...created, id: undefined, createdAt: undefined, updatedAt: undefined },
      {
        id: undefined, name: 'life', vcpus: 1, memoryMiB: 256, kernel: null, initrd: null, append: null, root: null, disks: [],
        console: 'serial', autoStart: false, stopAction: 'stop', jit: true, checkpoint: null, state: 'off', stateReason: null, createdAt: undefined, updatedAt: undefined, startedAt: null,
      },
    );
    assert.ok(!Number.isNaN(Date.parse(created.createdAt)));
    // Ids and names both address a VM.
    assert.equal((await s.ok('GET', `/api/vms/${created.id}`)).name, 'life');
    assert.deepEqual((await s.ok('GET', '/api/vms')).map((v: any) => v.name), ['life']);

    // Start: the answer comes once the machine is built.
    const started = await s.ok('POST', '/api/vms/life/start');
    assert.ok(['starting', 'running'].includes(started.state), started.state);
    assert.ok(started.startedAt);
    c = await s.console('life');
    await promptAfter(c, 0, 'the first shell prompt');
    // Typed as a user would: the line echoes, its output follows, then the prompt.
    const typed = c.log.length;
    c.write('echo hi\n');
    await c.waitFor('the output of echo hi', () => /^echo hi\nhi\ntshv:~# $/.test(c!.log.slice(typed)), 30_000);
    assert.equal((await s.ok('GET', '/api/vms/life')).state, 'running');

    // A second console client sees the scrollback (the boot) and the same live output.
    const second = await s.console('life');
    await second.waitFor('the scrollback', () => second.log.includes('Linux version'), 10_000);
    second.write('echo from-the-$((1+1))nd\n'); // the output differs from the echoed line
    await second.waitFor('its own output', () => second.log.includes('\nfrom-the-2nd\n'), 30_000);
    await c.waitFor('the other client\'s output', () => c!.log.includes('\nfrom-the-2nd\n'), 10_000);
    second.close();

    // Metrics: JSON and Prometheus, with instructions counted.
    const m = await s.ok('GET', '/api/vms/life/metrics');
    assert.equal(m.vcpus.length, 1);
    assert.ok(m.vcpus[0].instructions > 0 && m.vcpus[0].runSeconds > 0, JSON.stringify(m));
    // The VP thread's own host CPU time (Linux schedstat): it booted a kernel, so well above 0.
    assert.ok(m.vcpus[0].cpuSeconds > 0.05, JSON.stringify(m));
    // Translation is on by default: a Linux boot makes hot code, which runs translated.
    const t = m.vcpus[0].translation;
    assert.ok(t.translated > 0 && t.runs > 0 && t.misses > 0 && t.compileSeconds > 0, JSON.stringify(t));
    assert.equal(m.memoryBytes, 256 << 20);
    assert.ok(Object.values(m.exits).some((n) => (n as number) > 0));
    const hostMetrics = await s.ok('GET', '/api/metrics');
    assert.ok(hostMetrics.rssBytes > 0 && hostMetrics.cpuSeconds > 0 && hostMetrics.heapBytes > 0);
    assert.ok(hostMetrics.vms[created.id].vcpus[0].instructions > 0);
    const prom = await s.api('GET', '/metrics');
    assert.equal(prom.status, 200);
    assert.match(prom.headers.get('content-type')!, /^text\/plain/);
    const instructions = Number(/^tshv_vp_instructions_total\{vm="life",vp="0"\} (\d+)$/m.exec(prom.body)?.[1]);
    assert.ok(instructions > 0, 'tshv_vp_instructions_total > 0');
    assert.ok(Number(/^tshv_vp_cpu_seconds_total\{vm="life",vp="0"\} ([\d.e-]+)$/m.exec(prom.body)?.[1]) > 0, 'tshv_vp_cpu_seconds_total > 0');
    assert.match(prom.body, /^tshv_vp_run_seconds_total\{vm="life",vp="0"\} [0-9.e-]+$/m);
    assert.match(prom.body, /^tshv_vp_exits_total\{vm="life",reason="\w+"\} \d+$/m);
    assert.ok(Number(/^tshv_vp_jit_translated_total\{vm="life",vp="0"\} (\d+)$/m.exec(prom.body)?.[1]) > 0, 'tshv_vp_jit_translated_total > 0');
    assert.match(prom.body, /^tshv_vms\{state="running"\} 1$/m);
    assert.match(prom.body, /^process_resident_memory_bytes \d+/m, 'process defaults');

    // Pause: nothing the guest does comes out; resume: it carries on.
    assert.equal((await s.ok('POST', '/api/vms/life/pause')).state, 'paused');
    const frozen = c.log.length;
    c.write('echo after-pause\n');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(c.log.slice(frozen).includes('after-pause'), false, 'a paused guest does not echo');
    assert.equal((await s.ok('POST', '/api/vms/life/resume')).state, 'running');
    await c.waitFor('the output after resume', () => /\nafter-pause\n/.test(c!.log.slice(frozen)), 30_000);

    // Restart: a hard stop and a new boot; the console stays connected.
    let mark = c.log.length;
    const restarted = await s.ok('POST', '/api/vms/life/restart');
    assert.ok(['starting', 'running'].includes(restarted.state), restarted.state);
    await promptAfter(c, mark, 'the prompt after restart');
    assert.equal((await c.run('echo again')).trim(), 'again');

    // The guest reboots itself: the service starts it again.
    mark = c.log.length;
    c.write('reboot\n');
    await stream.waitFor((e) => e.type === 'state' && e.state === 'starting' && /rebooted/.test(e.message), 'starting after the guest rebooted', 60_000);
    await promptAfter(c, mark, 'the prompt after the guest rebooted');
    const rebooted = await s.ok('GET', '/api/vms/life');
    assert.equal(rebooted.state, 'running');
    assert.equal(rebooted.stateReason, 'reboot');
    assert.deepEqual(kernelTrouble(c.log), []);

    // The guest powers off: the VM is off and the console closes.
    c.write('poweroff\n');
    const closed = await c.closed;
    assert.equal(closed.code, 1000);
    const off = await s.waitForVm('life', (v) => v.state === 'off', 'off');
    assert.equal(off.stateReason, 'poweroff');
    assert.equal(off.startedAt, null);
    assert.deepEqual(await s.ok('GET', '/api/vms/life/metrics'), { vcpus: [], exits: {}, io: { disks: [] }, memoryBytes: 0 });

    // Start again and stop (hard power-off): the answer comes once it is off.
    await s.ok('POST', '/api/vms/life/start');
    const stopped = await s.ok('POST', '/api/vms/life/stop');
    assert.equal(stopped.state, 'off');
    assert.equal(stopped.stateReason, 'stopped');

    // The stored events tell the story, with ids and timestamps in order.
    const events = await s.ok('GET', `/api/vms/life/events?limit=1000`);
    assert.equal(events[0].type, 'created');
    for (const [i, e] of events.entries()) {
      assert.equal(e.vmId, created.id);
      assert.ok(!Number.isNaN(Date.parse(e.at)), e.at);
      if (i > 0) { assert.ok(e.id > events[i - 1].id); assert.ok(e.at >= events[i - 1].at); }
    }
    const states = events.filter((e: any) => e.type === 'state').map((e: any) => e.state);
    assert.deepEqual(states, [
      'starting', 'running', // start
      'paused', 'running', // pause, resume
      'stopping', 'starting', 'running', // restart
      'starting', 'running', // the guest rebooted
      'off', // the guest powered off
      'starting', 'running', 'stopping', 'off', // start, stop
    ]);
    assert.ok(events.some((e: any) => e.type === 'console-closed'));
    assert.deepEqual((await s.ok('GET', '/api/vms/life/events?limit=2')).map((e: any) => e.id), events.slice(-2).map((e: any) => e.id));

    // Delete: gone, and the stream saw everything the store holds, in the same order.
    assert.equal((await s.api('DELETE', '/api/vms/life')).status, 204);
    assert.equal((await s.api('GET', '/api/vms/life')).status, 404);
    const deleted = await stream.waitFor((e) => e.type === 'deleted' && e.vmId === created.id, 'deleted');
    const live = stream.events.filter((e) => e.id <= deleted.id);
    assert.deepEqual(live.slice(0, events.length), events);
  } finally {
    stream.close();
    c?.close();
    await s.kill('SIGKILL');
  }
});

test('a guest kernel panic: the VM ends failed, "the guest kernel panicked", after the whole message', { timeout: 180_000 }, async () => {
  const s = await Service.start();
  try {
    await s.ok('POST', '/api/vms', { name: 'doomed', memoryMiB: 64, append: 'console=ttyS0 rdinit=/nonexistent' }, 201);
    await s.ok('POST', '/api/vms/doomed/start');
    const c = await s.console('doomed');
    const failed = await s.waitForVm('doomed', (v) => v.state === 'failed', 'failed', BOOT_MS);
    assert.equal(failed.stateReason, 'the guest kernel panicked');
    assert.equal(failed.startedAt, null);
    await c.closed;
    assert.match(c.log, /Kernel panic - not syncing: .*\n/, 'the panic line reached the console before the stop');
    const events = await s.ok('GET', '/api/vms/doomed/events');
    assert.deepEqual(events.filter((e: any) => e.type !== 'console-closed').slice(-2).map((e: any) => [e.type, e.state ?? null, e.message]), [
      ['error', null, 'the guest kernel panicked'], ['state', 'failed', 'the guest kernel panicked'],
    ]);
  } finally {
    await s.kill('SIGKILL');
  }
});
