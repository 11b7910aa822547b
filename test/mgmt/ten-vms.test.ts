// Ten VMs created and started through the API on one host, each booting to its shell; the
// service's memory is measured before and after (guest RAM is in the service's process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Service, type WsConsole } from './service.js';

const COUNT = 10;
const MEMORY_MIB = 64;
const MiB = 2 ** 20;

test(`${COUNT} VMs on one host, all reaching their shell`, { timeout: 300_000 }, async () => {
  const s = await Service.start();
  const consoles: WsConsole[] = [];
  try {
    const idle = await s.ok('GET', '/api/metrics');
    const rssBefore = s.rss();
    const names = Array.from({ length: COUNT }, (_, i) => `vm-${i}`);
    for (const name of names) await s.ok('POST', '/api/vms', { name, memoryMiB: MEMORY_MIB }, 201);
    const t0 = Date.now();
    await Promise.all(names.map((name) => s.ok('POST', `/api/vms/${name}/start`)));
    for (const name of names) consoles.push(await s.console(name));
    await Promise.all(consoles.map((c) => c.waitForPrompt(240_000)));
    const bootSeconds = (Date.now() - t0) / 1000;
    for (const [i, c] of consoles.entries()) assert.equal((await c.run(`echo I am ${names[i]}`)).trim(), `I am ${names[i]}`);
    for (const [i, c] of consoles.entries()) assert.doesNotMatch(c.log, new RegExp(`I am ${names[(i + 1) % COUNT]}\\b`), 'no output crosses VMs');

    const host = await s.ok('GET', '/api/host');
    assert.deepEqual(host.vms, { total: COUNT, running: COUNT });
    const metrics = await s.ok('GET', '/api/metrics');
    assert.equal(Object.keys(metrics.vms).length, COUNT);
    for (const m of Object.values(metrics.vms) as any[]) assert.ok(m.vcpus[0].instructions > 0);
    const rssAfter = s.rss();
    const resident = s.guestRamResident();
    const guestMiB = COUNT * MEMORY_MIB;
    const overhead = (rssAfter - rssBefore - resident) / MiB / COUNT;
    console.log(`${COUNT} VMs: RSS ${(rssAfter / MiB).toFixed(0)} MiB (the service alone: ${(rssBefore / MiB).toFixed(0)} MiB), ` +
      `guest RAM ${guestMiB} MiB (${(resident / MiB).toFixed(0)} MiB of it resident), ` +
      `overhead per VM ${overhead.toFixed(1)} MiB (RSS growth per VM beyond its resident guest RAM); ` +
      `/api/metrics rssBytes ${(idle.rssBytes / MiB).toFixed(0)} -> ${(metrics.rssBytes / MiB).toFixed(0)} MiB; all booted in ${bootSeconds.toFixed(1)} s`);
    assert.ok(resident > 0 && resident <= guestMiB * MiB, `resident guest RAM ${resident}`);
    assert.ok(rssAfter > rssBefore);
  } finally {
    for (const c of consoles) c.close();
    await s.kill('SIGKILL');
  }
});
