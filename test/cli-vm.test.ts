// `tshv vm ...` and `tshv host info` as a user runs them: the real `tshv` binary against a
// real `tshv serve` (its own data directory, any free port), booting a real guest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, TSHV } from './lib/guest-shell.js';

const BOOT_MS = 180_000; // two shared cores, other suites running
const work = mkdtempSync(join(tmpdir(), 'tshv-cli-vm-'));
const dataDir = join(work, 'data');
/** An XDG_DATA_HOME with nothing in it, so no test finds a service by accident. */
const emptyXdg = join(work, 'xdg-empty');
mkdirSync(emptyXdg);

let service: ChildProcessWithoutNullStreams;
let serviceLog = '';
let url = '';
let token = '';

interface Run { code: number | null; stdout: string; stderr: string }

/** The environment of a user with no tshv settings, plus `extra`. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, XDG_DATA_HOME: emptyXdg, ...extra };
  for (const k of ['TSHV_URL', 'TSHV_TOKEN', 'TSHV_DATA_DIR']) if (!(k in extra)) delete e[k];
  return e;
}

/** Runs `tshv args...` to completion. */
function tshv(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSHV, ...args], { cwd: ROOT, env: opts.env ?? env() });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** `tshv ... --data-dir <the service's>`. */
const cli = (...args: string[]) => tshv([...args, '--data-dir', dataDir]);

/** Asserts the exit code, showing everything the command and the service said if it is wrong. */
function exits(r: Run, code: number, what: string): Run {
  assert.equal(r.code, code, `${what}: exit ${r.code}, not ${code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n--- service ---\n${serviceLog.slice(-2000)}`);
  return r;
}
const ok = (r: Run, what: string) => exits(r, 0, what);

async function json<T>(...args: string[]): Promise<T> {
  return JSON.parse(ok(await cli(...args, '--json'), args.join(' ')).stdout) as T;
}

interface Vm { id: string; name: string; state: string; vcpus: number; memoryMiB: number; stateReason: string | null; disks: unknown[]; console: string; autoStart: boolean; append: string | null; jit: boolean }

/** Polls `vm show --json` until the VM is in `state`. */
async function waitState(name: string, state: string, ms = 60_000): Promise<Vm> {
  const deadline = Date.now() + ms;
  for (;;) {
    const vm = await json<Vm>('vm', 'show', name);
    if (vm.state === state) return vm;
    if (Date.now() > deadline) assert.fail(`${name} is ${vm.state} (${vm.stateReason}), not ${state}, after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

before(async () => {
  service = spawn(process.execPath, [TSHV, 'serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--storage-root', work], { cwd: ROOT, env: env() });
  service.stdout.setEncoding('utf8').on('data', (s: string) => { serviceLog += s; });
  service.stderr.setEncoding('utf8').on('data', (s: string) => { serviceLog += s; });
  const deadline = Date.now() + 30_000;
  while (!/http:\/\/127\.0\.0\.1:\d+/.test(serviceLog)) {
    if (service.exitCode !== null) assert.fail(`tshv serve exited with ${service.exitCode}:\n${serviceLog}`);
    if (Date.now() > deadline) assert.fail(`tshv serve printed no URL in 30 s:\n${serviceLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  url = /http:\/\/127\.0\.0\.1:\d+/.exec(serviceLog)![0];
  token = readFileSync(join(dataDir, 'token'), 'utf8').trim();
  const recorded = JSON.parse(readFileSync(join(dataDir, 'service.json'), 'utf8')) as { url: string; pid: number };
  assert.equal(recorded.url, url);
  assert.equal(recorded.pid, service.pid);
});

after(async () => {
  if (service && service.exitCode === null) {
    service.kill('SIGTERM');
    const t = setTimeout(() => service.kill('SIGKILL'), 15_000);
    await new Promise((r) => service.once('close', r));
    clearTimeout(t);
  }
  rmSync(work, { recursive: true, force: true });
});

test('host info: a table of the host, and the API\'s JSON', async () => {
  const text = ok(await cli('host', 'info'), 'host info').stdout;
  assert.match(text, /^Host: +\S+$/m);
  assert.match(text, new RegExp(`^Service: +${url}$`, 'm'));
  assert.match(text, /^Version: +tshv \d+\.\d+\.\d+/m);
  assert.match(text, /^VMs: +0 \(0 running\)$/m);
  const h = await json<{ hostname: string; cpus: number; memoryBytes: number; vms: { total: number } }>('host', 'info');
  assert.ok(h.cpus >= 1 && h.memoryBytes > 0 && h.vms.total === 0, JSON.stringify(h));
});

test('create: text and JSON; duplicates are refused (1), bad input is usage (2)', async () => {
  const r = ok(await cli('vm', 'create', 'web-1', '--memory', '128M'), 'create web-1');
  assert.match(r.stdout, /^created web-1 \(id [0-9a-f-]{36}\); start it with: tshv vm start web-1$/m);
  const db = await json<Vm>('vm', 'create', 'db-2', '--vcpus', '2', '--memory', '1G', '--console', 'virtio', '--no-jit');
  assert.deepEqual([db.name, db.vcpus, db.memoryMiB, db.state, db.jit], ['db-2', 2, 1024, 'off', false]);

  const dup = await cli('vm', 'create', 'web-1');
  exits(dup, 1, 'create a taken name');
  assert.match(dup.stderr, /^tshv vm create: .*web-1/m);
  for (const bad of [['Bad_Name'], ['x', '--vcpus', '99'], ['x', '--memory', '8M'], ['x', '--memory', 'lots'], ['x', '--console', 'vga'], ['x', '--bogus'], []]) {
    const u = await cli('vm', 'create', ...bad);
    exits(u, 2, `create ${bad.join(' ')}`);
    assert.ok(u.stderr.length > 0);
  }
  assert.equal((await json<Vm[]>('vm', 'list')).length, 2, 'nothing was created by the refused commands');
});

test('list: an aligned table and the JSON array', async () => {
  const lines = ok(await cli('vm', 'list'), 'list').stdout.trimEnd().split('\n');
  assert.match(lines[0], /^NAME +STATE +VCPUS +MEMORY +UPTIME +ID$/);
  assert.equal(lines.length, 3);
  const row = lines.find((l) => l.startsWith('db-2'))!;
  assert.match(row, /^db-2 +off +2 +1G +- +[0-9a-f-]{36}$/);
  // Aligned: every column starts where its header does.
  for (const h of ['STATE', 'ID']) {
    const at = lines[0].indexOf(h);
    for (const l of lines.slice(1)) assert.match(l.slice(at), /^\S/, `column ${h} in "${l}"`);
  }
  const vms = await json<Vm[]>('vm', 'list');
  assert.deepEqual(vms.map((v) => v.name).sort(), ['db-2', 'web-1']);
});

test('show: by name and by id; an unknown VM is exit 4', async () => {
  const text = ok(await cli('vm', 'show', 'db-2'), 'show').stdout;
  assert.match(text, /^Name: +db-2$/m);
  assert.match(text, /^State: +off$/m);
  assert.match(text, /^Console: +virtio \(hvc0\)$/m);
  assert.match(text, /^Processor: +interpreter only$/m, 'created with --no-jit');
  assert.match(ok(await cli('vm', 'show', 'web-1'), 'show web-1').stdout, /^Processor: +translation on/m, 'the default');
  const byName = await json<Vm>('vm', 'show', 'web-1');
  const byId = await json<Vm>('vm', 'show', byName.id);
  assert.deepEqual(byId, byName);
  const nf = await cli('vm', 'show', 'nope');
  exits(nf, 4, 'show nope');
  assert.match(nf.stderr, /^tshv vm show: .*nope/m);
  exits(await cli('vm', 'start', 'nope'), 4, 'start nope');
  exits(await cli('vm', 'delete', 'nope'), 4, 'delete nope');
});

test('update: only the options given change; nothing to change, bad values and a missing VM are refused', async () => {
  const before = await json<Vm>('vm', 'show', 'db-2');
  const after = await json<Vm>('vm', 'update', 'db-2', '--memory', '512M', '--name', 'db-3', '--auto-start');
  assert.deepEqual([after.id, after.name, after.memoryMiB, after.vcpus, after.console, after.autoStart], [before.id, 'db-3', 512, 2, 'virtio', true]);
  const back = await json<Vm>('vm', 'update', 'db-3', '--name', 'db-2', '--no-auto-start', '--memory', '1G', '--default', 'append');
  assert.deepEqual([back.name, back.memoryMiB, back.autoStart, back.append], ['db-2', 1024, false, null]);
  assert.equal(back.jit, false, 'jit unchanged when not given');
  assert.equal((await json<Vm>('vm', 'update', 'db-2', '--jit')).jit, true);
  assert.equal((await json<Vm>('vm', 'update', 'db-2', '--no-jit')).jit, false);
  assert.match(ok(await cli('vm', 'update', 'db-2', '--jit'), 'update --jit').stdout, /^updated db-2$/m);
  assert.match(ok(await cli('vm', 'show', 'db-2'), 'show').stdout, /^Processor: +translation on/m);
  assert.match(exits(await cli('vm', 'update', 'db-2'), 2, 'update without options').stderr, /nothing to change/);
  assert.match(exits(await cli('vm', 'update', 'db-2', '--vcpus', '9'), 2, 'update --vcpus 9').stderr, /--vcpus/);
  exits(await cli('vm', 'update', 'nope', '--vcpus', '2'), 4, 'update nope');
  assert.equal((await json<Vm>('vm', 'show', 'db-2')).vcpus, 2, 'the refused updates changed nothing');
});

test('start boots a real guest; starting it again is refused (exit 1)', async () => {
  const r = ok(await cli('vm', 'start', 'web-1'), 'start');
  assert.match(r.stdout, /^web-1: (starting|running)$/m);
  await waitState('web-1', 'running', BOOT_MS);
  const again = await cli('vm', 'start', 'web-1');
  exits(again, 1, 'start a running VM');
  assert.match(again.stderr, /^tshv vm start: /m);
  const row = ok(await cli('vm', 'list'), 'list').stdout.split('\n').find((l) => l.startsWith('web-1'))!;
  assert.match(row, /^web-1 +running +1 +128M +\d+[smhd]/);
});

test('console in pipe mode: a command typed in, its output out', async () => {
  const child = spawn(process.execPath, [TSHV, 'vm', 'console', 'web-1', '--data-dir', dataDir, '--linger', '1'], { cwd: ROOT, env: env() });
  let out = '', err = '';
  child.stdout.setEncoding('latin1').on('data', (s: string) => { out += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
  const exited = new Promise<number | null>((r) => child.on('close', r));
  try {
    // The line waits in the guest's input if the shell is not up yet.
    child.stdin.write('echo hi\n');
    const deadline = Date.now() + BOOT_MS;
    while (!/(^|\n)hi\r?\n/.test(out)) {
      if (child.exitCode !== null) assert.fail(`console exited with ${child.exitCode}\n${err}\n${out.slice(-1500)}`);
      if (Date.now() > deadline) assert.fail(`no "hi" from the guest\n--- stderr ---\n${err}\n--- console ---\n${out.slice(-1500)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    child.stdin.end(); // pipe mode: detach once the console is quiet for --linger
    assert.equal(await exited, 0, err);
    assert.match(out, /Linux version/, 'the console replays the boot');
  } finally {
    child.kill('SIGKILL');
  }
  assert.equal((await json<Vm>('vm', 'show', 'web-1')).state, 'running', 'detaching leaves the VM running');
});

test('pause and resume, with the state in text, JSON and the table', async () => {
  assert.match(ok(await cli('vm', 'pause', 'web-1'), 'pause').stdout, /^web-1: paused$/m);
  assert.match(ok(await cli('vm', 'list'), 'list').stdout, /^web-1 +paused /m);
  const again = await cli('vm', 'pause', 'web-1');
  exits(again, 1, 'pausing a paused VM is a conflict');
  const resumed = await json<Vm>('vm', 'resume', 'web-1');
  assert.equal(resumed.state, 'running');
  exits(await cli('vm', 'resume', 'web-1'), 1, 'resuming a running VM is a conflict');
});

test('restart, then stop and delete; a deleted VM is not found', async () => {
  const r = ok(await cli('vm', 'restart', 'web-1'), 'restart');
  assert.match(r.stdout, /^web-1: (starting|running)$/m);
  await waitState('web-1', 'running', BOOT_MS);
  const busy = await cli('vm', 'delete', 'web-1');
  exits(busy, 1, 'deleting a running VM is a conflict');
  assert.match(busy.stderr, /^tshv vm delete: /m);

  const stopped = await json<Vm>('vm', 'stop', 'web-1');
  assert.ok(['stopping', 'off'].includes(stopped.state), stopped.state);
  await waitState('web-1', 'off');
  exits(await cli('vm', 'stop', 'web-1'), 1, 'stopping an off VM is a conflict');
  const consoleOff = await cli('vm', 'console', 'web-1');
  exits(consoleOff, 1, 'console of an off VM');
  assert.match(consoleOff.stderr, /web-1 is off.*start it with: tshv vm start web-1/);
  exits(await cli('vm', 'console', 'nope'), 4, 'console nope');

  assert.match(ok(await cli('vm', 'delete', 'web-1'), 'delete').stdout, /^deleted web-1$/m);
  exits(await cli('vm', 'show', 'web-1'), 4, 'show a deleted VM');
});

test('delete --force stops a running VM first', async () => {
  ok(await cli('vm', 'start', 'db-2', '--json'), 'start db-2');
  const r = ok(await cli('vm', 'rm', 'db-2', '--force'), 'rm --force');
  assert.match(r.stdout, /^deleted db-2$/m);
  assert.deepEqual(await json<Vm[]>('vm', 'list'), []);
  const empty = ok(await cli('vm', 'list'), 'list');
  assert.equal(empty.stdout, '');
  assert.match(empty.stderr, /no VMs/);
});

test('start refuses a VM whose image is gone (exit 1, the service\'s message); create refuses a missing one (exit 2)', async () => {
  const image = join(work, 'gone.img');
  writeFileSync(image, Buffer.alloc(1 << 20));
  ok(await cli('vm', 'create', 'orphan', '--disk', image, '--memory', '64M'), 'create orphan');
  rmSync(image);
  const r = await cli('vm', 'start', 'orphan');
  exits(r, 1, 'start with a missing disk image');
  assert.match(r.stderr, /^tshv vm start: .*gone\.img/m);
  const c = await cli('vm', 'create', 'orphan-2', '--disk', image);
  exits(c, 2, 'create with a missing disk image');
  assert.match(c.stderr, /gone\.img.*\(--disk\)$/m);
  ok(await cli('vm', 'delete', 'orphan'), 'delete orphan');
});

test('finding the service: TSHV_URL with TSHV_TOKEN, TSHV_DATA_DIR, XDG_DATA_HOME, --url', async () => {
  const viaUrl = await tshv(['host', 'info', '--json'], { env: env({ TSHV_URL: url, TSHV_TOKEN: token }) });
  ok(viaUrl, 'TSHV_URL');
  const flagUrl = await tshv(['vm', 'list', '--url', url], { env: env({ TSHV_TOKEN: token }) });
  ok(flagUrl, '--url');
  ok(await tshv(['vm', 'list'], { env: env({ TSHV_DATA_DIR: dataDir }) }), 'TSHV_DATA_DIR');

  const xdg = join(work, 'xdg');
  mkdirSync(xdg);
  symlinkSync(dataDir, join(xdg, 'tshv'));
  ok(await tshv(['host', 'info'], { env: env({ XDG_DATA_HOME: xdg }) }), 'default data dir');

  const noToken = await tshv(['vm', 'list'], { env: env({ TSHV_URL: url }) });
  exits(noToken, 1, 'TSHV_URL without TSHV_TOKEN');
  assert.match(noToken.stderr, /set TSHV_TOKEN/);
  const wrong = await tshv(['vm', 'list'], { env: env({ TSHV_URL: url, TSHV_TOKEN: 'f'.repeat(64) }) });
  exits(wrong, 1, 'a wrong TSHV_TOKEN');
  assert.match(wrong.stderr, /TSHV_TOKEN was refused/);
});

test('bad usage is exit 2: unknown commands and options, missing arguments, --url with --data-dir', async () => {
  for (const args of [['vm', 'frobnicate'], ['vm', 'show'], ['vm', 'list', '--bogus'], ['host'], ['vm', 'list', '--url', 'nope'], ['vm', 'list', '--url', url, '--data-dir', dataDir]]) {
    const r = await tshv(args);
    exits(r, 2, args.join(' '));
  }
  const help = await tshv(['vm', 'create', '--help']);
  exits(help, 0, 'vm create --help');
  assert.match(help.stdout, /Examples:\n {2}tshv vm create web-1/);
  assert.match(help.stdout, /Exit codes: 0 done/);
});

test('no service: exit 3 with how to start one (no data directory, closed port, killed service)', async () => {
  const none = await tshv(['vm', 'list', '--data-dir', join(work, 'nothing-here')]);
  exits(none, 3, 'an empty data directory');
  assert.match(none.stderr, /start it with: tshv serve --data-dir .*nothing-here/);
  const byDefault = await tshv(['host', 'info']);
  exits(byDefault, 3, 'the default data directory, empty');
  assert.match(byDefault.stderr, /start it with: tshv serve$/m);
  const closed = await tshv(['vm', 'list', '--url', `http://127.0.0.1:${await closedPort()}`]);
  exits(closed, 3, 'a closed port');
  assert.match(closed.stderr, /cannot reach the tshv service at .*connection refused/);

  // A service killed without cleaning up leaves service.json naming a dead process.
  service.kill('SIGKILL');
  await new Promise((r) => service.once('close', r));
  assert.ok(existsSync(join(dataDir, 'service.json')));
  const dead = await cli('vm', 'list');
  exits(dead, 3, 'a killed service');
  assert.match(dead.stderr, /is not running; start it with: tshv serve --data-dir/);
});
