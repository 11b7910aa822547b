// An idle guest must cost the host next to nothing: once the shell waits for input, the
// VP parks in WFI until its next timer deadline and the VM worker sleeps on its doorbell.
// Measured as the CPU time of the tshv process (main thread, VM worker and VP threads are
// all threads of it, so /proc/<pid>/stat's utime + stime cover them) over a few seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { GuestShell, kernelTrouble } from './lib/guest-shell.js';

const IDLE_SECONDS = 5;
/** At most 5% of one host core while the guest idles. */
const MAX_CPU_SHARE = 0.05;

/** utime + stime of a process, all its threads, in seconds (proc(5): fields 14 and 15). */
function cpuSeconds(pid: number, ticksPerSecond: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // Field 2 is "(comm)" and may contain spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // fields 14, 15
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100; // USER_HZ on every Linux architecture Node runs on
  }
}

test(`an idle 1-VP guest uses less than ${MAX_CPU_SHARE * 100}% of a core`, { timeout: 120_000, skip: process.platform !== 'linux' && 'needs /proc' }, async () => {
  const g = new GuestShell(['--cpus', '1']);
  try {
    await g.waitForPrompt();
    // Let the tail of boot settle (deferred work, the shell's first reads) before measuring.
    assert.equal((await g.run('echo ready')).trim(), 'ready');
    await new Promise((r) => setTimeout(r, 1000));
    const hz = clockTicks();
    const t0 = performance.now(), c0 = cpuSeconds(g.pid, hz);
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const t1 = performance.now(), c1 = cpuSeconds(g.pid, hz);
    const wall = (t1 - t0) / 1000, cpu = c1 - c0, share = cpu / wall;
    console.log(`idle guest: ${cpu.toFixed(2)} s CPU in ${wall.toFixed(2)} s wall = ${(share * 100).toFixed(1)}% of one core ` +
      `(limit ${MAX_CPU_SHARE * 100}%, ${hz} ticks/s)`);
    assert.ok(share < MAX_CPU_SHARE, `idle CPU ${(share * 100).toFixed(1)}% of a core (${cpu.toFixed(2)} s in ${wall.toFixed(2)} s)`);

    const exit = await g.poweroff();
    assert.deepEqual(exit, { code: 0, signal: null }, `tshv exit after poweroff; stderr:\n${g.stderr}`);
    assert.deepEqual(kernelTrouble(g.log), [], `kernel trouble on the console:\n${g.log}`);
  } finally {
    g.kill();
  }
});
