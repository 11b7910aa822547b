// `tshv vm migrate` as a user runs it: two real `tshv serve` hosts on loopback, a real
// guest moved between them live (4 VPs, processes running, tmpfs data) and quick (a root
// disk with writes in flight), and the failures that must leave the VM running where it
// was: a wrong token, a destination killed in the middle, a cancel.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ConsoleShell, ROOT, TSHV } from './lib/guest-shell.js';
import { createQcow2 } from '../src/parent/drivers/disk/qcow2-create.js';

const TEST_MS = 600_000;
const work = mkdtempSync(join(tmpdir(), 'tshv-cli-migrate-'));
const images = join(work, 'images');
mkdirSync(images);
const emptyXdg = join(work, 'xdg');
mkdirSync(emptyXdg);
const services: Service[] = [];
after(() => {
  for (const s of services) s.child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

interface Service { child: ChildProcessWithoutNullStreams; dir: string; url: string; token: string; log: string }

async function serve(name: string, root = images): Promise<Service> {
  const dir = join(work, name);
  const child = spawn(process.execPath, [TSHV, 'serve', '--data-dir', dir, '--listen', '127.0.0.1:0', '--storage-root', root, '--storage-root', join(ROOT, 'guest/images')],
    { cwd: ROOT, env: { ...process.env, XDG_DATA_HOME: emptyXdg } });
  const s: Service = { child, dir, url: '', token: '', log: '' };
  services.push(s);
  child.stdout.setEncoding('utf8').on('data', (t: string) => { s.log += t; });
  child.stderr.setEncoding('utf8').on('data', (t: string) => { s.log += t; });
  for (let i = 0; i < 300 && !/listening on (\S+)/.test(s.log); i++) await new Promise((r) => setTimeout(r, 100));
  s.url = /listening on (\S+)/.exec(s.log)![1]!;
  s.token = readFileSync(join(dir, 'token'), 'utf8').trim();
  return s;
}

interface Run { code: number | null; stdout: string; stderr: string }
function tshv(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSHV, ...args], { cwd: ROOT, env: { ...process.env, XDG_DATA_HOME: emptyXdg } });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => { stdout += t; });
    child.stderr.setEncoding('utf8').on('data', (t: string) => { stderr += t; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}
const on = (s: Service, ...args: string[]) => tshv([...args, '--data-dir', s.dir]);
function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}\n--- services ---\n${services.map((s) => s.log.slice(-1500)).join('\n---\n')}`);
  return r;
}

/** A VM's console through its host's API (a WebSocket), driven like a shell. */
class ServiceShell extends ConsoleShell {
  private readonly ws: WebSocket;
  constructor(s: Service, vm: string) {
    super();
    this.ws = new WebSocket(`${s.url.replace('http', 'ws')}/api/vms/${vm}/console`, { headers: { authorization: `Bearer ${s.token}` } });
    this.ws.on('message', (d: Buffer) => this.output(d.toString('latin1')));
  }
  write(text: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(Buffer.from(text));
    else this.ws.once('open', () => this.ws.send(Buffer.from(text)));
  }
  close(): void { this.ws.close(); }
}

async function vmOn(s: Service, name: string): Promise<{ id: string; state: string; name: string; startedAt: string } | undefined> {
  const list = JSON.parse(ok(await on(s, 'vm', 'list', '--json'), 'vm list').stdout) as { id: string; state: string; name: string; startedAt: string }[];
  return list.find((v) => v.name === name);
}

const counter = '(i=0; while true; do i=$((i+1)); echo $i > /run/t/next; mv /run/t/next /run/t/count; sleep 0.02; done) >/dev/null 2>&1 & true';

test('a VM moves between two hosts live (4 VPs) and quick (with its root disk), keeping its id, processes, data and console', { timeout: TEST_MS }, async () => {
  const a = await serve('a'), b = await serve('b');
  const disk = join(images, 'root.qcow2');
  await createQcow2(disk, { backing: join(ROOT, 'guest/images/rootfs.qcow2'), backingFormat: 'qcow2' });
  ok(await on(a, 'vm', 'create', 'mover', '--vcpus', '4', '--memory', '256M', '--root', disk), 'create');
  ok(await on(a, 'vm', 'start', 'mover'), 'start');
  const before = await vmOn(a, 'mover');
  let g = new ServiceShell(a, 'mover');
  await g.waitForPrompt(180_000);
  assert.match(await g.run('grep -c ^processor /proc/cpuinfo'), /^4$/m);
  await g.run('mkdir -p /run/t && mount -t tmpfs none /run/t && dd if=/dev/urandom of=/run/t/data bs=64k count=64 2>/dev/null');
  const sum = (await g.run('md5sum /run/t/data | cut -d" " -f1')).trim();
  await g.run(counter);
  await new Promise((r) => setTimeout(r, 500));
  const counted = Number((await g.run('cat /run/t/count')).trim());

  // Live, A to B, with a disk write going on (4 MiB: the root file system has 32 MiB): the CLI prints the final status as JSON.
  g.write('dd if=/dev/urandom of=/root/live bs=64k count=64 2>/dev/null && sync && md5sum /root/live > /root/live.sum\n');
  await new Promise((r) => setTimeout(r, 300));
  const live = JSON.parse(ok(await on(a, 'vm', 'migrate', 'mover', '--to-data-dir', b.dir, '--json'), 'migrate live').stdout) as
    { phase: string; downtimeMs: number; pass: number; bytes: number; vmId: string };
  g.close();
  assert.equal(live.phase, 'completed');
  assert.equal(live.vmId, before!.id);
  assert.ok(live.downtimeMs > 0 && live.downtimeMs < 2000, `downtime ${live.downtimeMs} ms`);
  assert.equal(await vmOn(a, 'mover'), undefined, "the source's record is removed");
  const there = await vmOn(b, 'mover');
  assert.equal(there?.id, before!.id, 'the VM keeps its id');
  assert.equal(there?.state, 'running');
  assert.equal(there?.startedAt, before!.startedAt, 'its uptime goes on');
  g = new ServiceShell(b, 'mover');
  const after1 = Number((await g.run('cat /run/t/count')).trim());
  assert.ok(after1 > counted, `the counter went on (${counted} -> ${after1})`);
  assert.equal((await g.run('md5sum /run/t/data | cut -d" " -f1')).trim(), sum, 'tmpfs survived');
  // It finished on one host or the other: its sum is written last.
  await g.run('while [ ! -s /root/live.sum ]; do sleep 0.2; done; echo 3 > /proc/sys/vm/drop_caches', 120_000);
  assert.match(await g.run('md5sum -c /root/live.sum'), /OK/, 'the disk write in flight reached the disk');

  // Quick, B back to A, with a disk write going on.
  g.write('dd if=/dev/urandom of=/root/big bs=64k count=64 2>/dev/null && sync && md5sum /root/big > /root/big.sum\n');
  await new Promise((r) => setTimeout(r, 300));
  const quick = ok(await on(b, 'vm', 'migrate', 'mover', '--to', a.url, '--to-token', a.token, '--quick'), 'migrate quick');
  g.close();
  assert.match(quick.stdout, /migrated mover to http:\/\/127\.0\.0\.1:\d+: downtime [\d.]+ ms/);
  assert.equal(await vmOn(b, 'mover'), undefined);
  g = new ServiceShell(a, 'mover');
  await g.run('while [ ! -s /root/big.sum ]; do sleep 0.2; done; echo 3 > /proc/sys/vm/drop_caches', 120_000);
  assert.match(await g.run('md5sum -c /root/big.sum'), /OK/);
  const after2 = Number((await g.run('cat /run/t/count')).trim());
  assert.ok(after2 > after1, 'the counter still counts');
  // The event log on A tells the whole journey (a VM's events stay with its id).
  const events = (await (await fetch(`${a.url}/api/vms/${before!.id}/events`, { headers: { authorization: `Bearer ${a.token}` } })).json()) as { message: string }[];
  const log = events.map((e) => e.message).join('\n');
  assert.match(log, /live migration to http:\/\/127\.0\.0\.1:\d+ started/);
  assert.match(log, /migrated to http:\/\/127\.0\.0\.1:\d+: downtime/);
  assert.match(log, /migrated here from http:\/\/127\.0\.0\.1:\d+/);

  // A wrong token: refused, the VM runs on.
  const refused = await on(a, 'vm', 'migrate', 'mover', '--to', b.url, '--to-token', 'not-the-token');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /wrong token/);
  assert.equal((await vmOn(a, 'mover'))?.state, 'running');

  // The destination dies in the middle (a slow link, so there is a middle): the VM runs on here.
  const slow = on(a, 'vm', 'migrate', 'mover', '--to', b.url, '--to-token', b.token, '--bandwidth', '2M', '--json');
  await new Promise((r) => setTimeout(r, 2500));
  b.child.kill('SIGKILL');
  const died = await slow;
  assert.equal(died.code, 1);
  assert.equal((JSON.parse(died.stdout) as { phase: string }).phase, 'failed');
  assert.equal((await vmOn(a, 'mover'))?.state, 'running');
  const after3 = Number((await g.run('cat /run/t/count')).trim());
  assert.ok(after3 > after2, 'the counter still counts after the failed migration');
  assert.equal((await g.run('md5sum /run/t/data | cut -d" " -f1')).trim(), sum);

  // A cancel: the same.
  const c = await serve('c');
  const cancelling = on(a, 'vm', 'migrate', 'mover', '--to-data-dir', c.dir, '--bandwidth', '2M');
  await new Promise((r) => setTimeout(r, 2500));
  ok(await on(a, 'vm', 'migrate', 'mover', '--cancel'), 'cancel');
  const cancelled = await cancelling;
  assert.equal(cancelled.code, 1);
  assert.match(cancelled.stderr, /cancelled/);
  assert.equal(await vmOn(c, 'mover'), undefined, 'nothing is left on the destination');
  assert.equal((await vmOn(a, 'mover'))?.state, 'running');
  assert.match(await g.run('echo $((6*7))ok'), /42ok/);

  // The source dies during the stop-and-copy (a slow link and a large last pass make it
  // last): exactly one host owns the VM afterwards, the source, where it is off.
  g.write('dd if=/dev/urandom of=/run/t/more bs=64k count=256 2>/dev/null; echo filled\n');
  await g.waitFor('tmpfs to fill', () => g.log.includes('filled'), 60_000);
  g.close();
  const dying = on(a, 'vm', 'migrate', 'mover', '--to-data-dir', c.dir, '--bandwidth', '4M', '--max-downtime', '60000');
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await fetch(`${a.url}/api/vms/mover/migration`, { headers: { authorization: `Bearer ${a.token}` } });
    if (r.ok && ((await r.json()) as { phase: string }).phase === 'stop-copy') break;
    assert.ok(Date.now() < deadline, 'the migration reached its stop-and-copy');
    await new Promise((r2) => setTimeout(r2, 50));
  }
  a.child.kill('SIGKILL');
  await dying;
  await new Promise((r) => setTimeout(r, 1000));
  // Either the stream was cut before its end (the destination drops the VM) or the end was
  // out (the destination runs it): after the source's restart, exactly one host has it.
  const a2 = await serve('a');
  const onSource = await vmOn(a2, 'mover'), onDestination = await vmOn(c, 'mover');
  assert.ok((onSource === undefined) !== (onDestination === undefined),
    `exactly one host has the VM (source: ${onSource?.state}, destination: ${onDestination?.state})`);
  if (onSource) assert.equal(onSource.state, 'off', 'the source owns it, off (it was running when its service died)');
  else assert.equal(onDestination!.state, 'running');
});

test('shared-nothing: hosts that see none of each other\'s images move a VM with its disks, live and back quick, writes in flight; a cancel leaves no image behind', { timeout: TEST_MS }, async () => {
  const rootsA = join(work, 'images-a'), rootsB = join(work, 'images-b');
  mkdirSync(rootsA);
  mkdirSync(rootsB);
  const a = await serve('sn-a', rootsA), b = await serve('sn-b', rootsB);
  const disk = join(rootsA, 'root.qcow2'), data = join(rootsA, 'data.img');
  await createQcow2(disk, { backing: join(ROOT, 'guest/images/rootfs.qcow2'), backingFormat: 'qcow2' });
  writeFileSync(data, Buffer.alloc(16 << 20));
  ok(await on(a, 'vm', 'create', 'nomad', '--vcpus', '2', '--memory', '128M', '--root', disk, '--disk', data), 'create');
  // B cannot open A's images: a migration without the disks is refused there, the VM runs on.
  ok(await on(a, 'vm', 'start', 'nomad'), 'start');
  const before = (await vmOn(a, 'nomad'))!;
  let g = new ServiceShell(a, 'nomad');
  await g.waitForPrompt(180_000);
  const refused = await on(a, 'vm', 'migrate', 'nomad', '--to-data-dir', b.dir);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /outside the service's storage roots/);
  assert.equal((await vmOn(a, 'nomad'))?.state, 'running');

  await g.run('dd if=/dev/urandom of=/dev/vdb bs=64k count=64 2>/dev/null && sync');
  const vdb = (await g.run('dd if=/dev/vdb bs=64k count=64 2>/dev/null | md5sum | cut -d" " -f1')).trim();
  await g.run('mkdir -p /run/t && mount -t tmpfs none /run/t && dd if=/dev/urandom of=/run/t/data bs=64k count=16 2>/dev/null');
  const sum = (await g.run('md5sum /run/t/data | cut -d" " -f1')).trim();
  await g.run(counter);
  await new Promise((r) => setTimeout(r, 500));
  const counted = Number((await g.run('cat /run/t/count')).trim());

  // Live, with its disks, a file being written on the root disk all the while.
  g.write('dd if=/dev/urandom of=/root/live bs=64k count=64 2>/dev/null && sync && md5sum /root/live > /root/live.sum\n');
  await new Promise((r) => setTimeout(r, 300));
  const live = JSON.parse(ok(await on(a, 'vm', 'migrate', 'nomad', '--to-data-dir', b.dir, '--with-disks', '--json'), 'migrate --with-disks').stdout) as
    { phase: string; withDisks: boolean; diskBytes: number; downtimeMs: number };
  g.close();
  assert.equal(live.phase, 'completed');
  assert.equal(live.withDisks, true);
  assert.ok(live.diskBytes >= 4 << 20, `disk bytes sent: ${live.diskBytes}`);
  assert.ok(live.downtimeMs < 2000, `downtime ${live.downtimeMs} ms`);
  const there = (await vmOn(b, 'nomad'))!;
  assert.equal(there.id, before.id);
  const defined = JSON.parse(ok(await on(b, 'vm', 'show', 'nomad', '--json'), 'show').stdout) as { root: string; disks: { path: string; readOnly: boolean }[] };
  assert.ok(defined.root.startsWith(rootsB + '/') && defined.root.endsWith('/vda.qcow2'), `the root disk is B's own: ${defined.root}`);
  assert.ok(defined.disks[0]!.path.startsWith(rootsB + '/') && defined.disks[0]!.path.endsWith('/vdb.raw'), `and the data disk: ${defined.disks[0]!.path}`);
  assert.equal(defined.disks[0]!.readOnly, false);
  assert.ok(existsSync(disk) && existsSync(data), 'the images on A stay');
  g = new ServiceShell(b, 'nomad');
  const after1 = Number((await g.run('cat /run/t/count')).trim());
  assert.ok(after1 > counted, `the counter went on (${counted} -> ${after1})`);
  assert.equal((await g.run('md5sum /run/t/data | cut -d" " -f1')).trim(), sum, 'tmpfs survived');
  await g.run('while [ ! -s /root/live.sum ]; do sleep 0.2; done; echo 3 > /proc/sys/vm/drop_caches', 120_000);
  assert.match(await g.run('md5sum -c /root/live.sum'), /OK/, 'the write in flight is on the new disk');
  assert.equal((await g.run('dd if=/dev/vdb bs=64k count=64 2>/dev/null | md5sum | cut -d" " -f1')).trim(), vdb, 'the data disk came whole');

  // A cancelled shared-nothing migration (a slow link, so there is a middle): no image is left on the destination.
  const imagesC = join(work, 'images-c');
  mkdirSync(imagesC);
  const c = await serve('sn-c', imagesC);
  const cancelling = on(b, 'vm', 'migrate', 'nomad', '--to-data-dir', c.dir, '--with-disks', '--bandwidth', '2M');
  for (let i = 0; i < 100 && readdirSync(imagesC).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(readdirSync(imagesC).length, 1, 'the destination made a folder for the disks');
  await new Promise((r) => setTimeout(r, 1000));
  ok(await on(b, 'vm', 'migrate', 'nomad', '--cancel'), 'cancel');
  assert.equal((await cancelling).code, 1);
  for (let i = 0; i < 50 && readdirSync(imagesC).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(readdirSync(imagesC), [], 'and removed it');
  assert.equal((await vmOn(b, 'nomad'))?.state, 'running');

  // Quick, back to A, with its disks and a write going on: into new images there.
  g.write('dd if=/dev/urandom of=/root/back bs=64k count=32 2>/dev/null && sync && md5sum /root/back > /root/back.sum\n');
  await new Promise((r) => setTimeout(r, 300));
  ok(await on(b, 'vm', 'migrate', 'nomad', '--to', a.url, '--to-token', a.token, '--quick', '--with-disks'), 'migrate --quick --with-disks');
  g.close();
  const home = JSON.parse(ok(await on(a, 'vm', 'show', 'nomad', '--json'), 'show').stdout) as { root: string; state: string };
  assert.equal(home.state, 'running');
  assert.ok(home.root.startsWith(rootsA + '/') && home.root !== disk, `new images on A: ${home.root}`);
  g = new ServiceShell(a, 'nomad');
  await g.run('while [ ! -s /root/back.sum ]; do sleep 0.2; done; echo 3 > /proc/sys/vm/drop_caches', 120_000);
  assert.match(await g.run('md5sum -c /root/back.sum /root/live.sum'), /back: OK[\s\S]*live: OK/);
  assert.ok(Number((await g.run('cat /run/t/count')).trim()) > after1, 'the counter still counts');
  g.write('poweroff -f\n');
  g.close();
  for (let i = 0; i < 100 && (await vmOn(a, 'nomad'))?.state !== 'off'; i++) await new Promise((r) => setTimeout(r, 100));
  // The images the migrations made are sound qcow2 (qemu-img check) and of the right size.
  const r = spawnSync('qemu-img', ['check', home.root], { encoding: 'utf8' });
  if (r.error === undefined) assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(statSync(join(home.root, '../vdb.raw')).size, 16 << 20);
});
