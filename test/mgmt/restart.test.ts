// The service is SIGKILLed with VMs running and started again on the same data directory:
// every definition and event acknowledged before the kill is there, the VMs that ran are
// off (event host-restart), the autoStart one boots again to its shell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Service } from './service.js';

test('SIGKILL mid-way: nothing acknowledged is lost; running VMs are off, autoStart VMs start', { timeout: 240_000 }, async () => {
  let s = await Service.start();
  try {
    const keeper = await s.ok('POST', '/api/vms', { name: 'keeper', memoryMiB: 64 }, 201);
    const auto = await s.ok('POST', '/api/vms', { name: 'auto', memoryMiB: 64, autoStart: true }, 201);
    await s.ok('POST', '/api/vms', { name: 'idle', vcpus: 2, memoryMiB: 32, append: 'console=ttyS0 quiet' }, 201);
    await s.ok('POST', '/api/vms/keeper/start');
    await s.ok('POST', '/api/vms/auto/start');
    const shell = await s.console('keeper');
    await shell.waitForPrompt(120_000);
    await s.ok('POST', '/api/vms/auto/pause');
    // The last acknowledged changes right before the kill.
    await s.ok('PATCH', '/api/vms/idle', { vcpus: 3 });
    await s.ok('POST', '/api/vms', { name: 'last-words', memoryMiB: 16 }, 201);
    const before = { vms: await s.ok('GET', '/api/vms'), events: await s.ok('GET', `/api/vms/${keeper.id}/events?limit=1000`) };

    await s.kill('SIGKILL');
    assert.equal((await shell.closed).code, 1006, 'the console connection just died');

    s = await Service.start(s.dataDir); // service.json still names the dead process: that is no obstacle
    const after = await s.ok('GET', '/api/vms');
    assert.deepEqual(after.map((v: any) => v.name), before.vms.map((v: any) => v.name));
    for (const v of after) {
      const old = before.vms.find((o: any) => o.id === v.id);
      const definition = (x: any) => ({ ...x, state: undefined, stateReason: undefined, updatedAt: undefined, startedAt: undefined });
      assert.deepEqual(definition(v), definition(old), `${v.name}'s definition is intact`);
    }
    assert.equal(after.find((v: any) => v.name === 'idle').vcpus, 3);

    const k = await s.ok('GET', '/api/vms/keeper');
    assert.equal(k.state, 'off');
    assert.equal(k.startedAt, null);
    const events = await s.ok('GET', `/api/vms/${keeper.id}/events?limit=1000`);
    assert.deepEqual(events.slice(0, before.events.length), before.events, 'the stored events are all there');
    const added = events.slice(before.events.length);
    assert.deepEqual(added.map((e: any) => [e.type, e.state]), [['host-restart', undefined], ['state', 'off']]);
    assert.match(added[0].message, /restarted while the VM was running/);
    assert.equal((await s.ok('GET', '/api/vms/idle')).state, 'off', 'a VM that was off stays off');

    // The autoStart VM (paused when the service died) boots again.
    const a = await s.waitForVm('auto', (v) => v.state === 'running', 'running');
    assert.ok(Date.parse(a.startedAt) > Date.parse(before.vms.find((v: any) => v.id === auto.id).startedAt));
    const autoEvents = await s.ok('GET', `/api/vms/${auto.id}/events?limit=5`);
    assert.deepEqual(autoEvents.slice(-4).map((e: any) => [e.type, e.state]), [['host-restart', undefined], ['state', 'off'], ['state', 'starting'], ['state', 'running']]);
    const c = await s.console('auto');
    await c.waitForPrompt(120_000);
    assert.equal((await c.run('echo back')).trim(), 'back');
    c.close();
  } finally {
    await s.kill('SIGKILL');
  }
});
