// Live and quick migration of real guests between two VMs of this process, over a TCP
// connection on loopback (docs/migration.md): the guest's processes keep running, what it
// wrote while its memory was being copied is intact, its console answers from the
// destination, and the source's VM stops as 'migrated'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { migrateOut, type MigrationStatus, type OutgoingOptions } from '../src/parent/migration/source.js';
import { migrateIn, type IncomingVm } from '../src/parent/migration/destination.js';
import { VmShell } from './lib/vm-shell.js';
import { Duplex } from 'node:stream';
import { frames, migrationStream, SMALL_CONFIG } from '../src/parent/migration/test-support.js';

const TEST_MS = 240_000;

/** Moves `source`'s VM to a new one over loopback; returns the status and the destination's shell. */
async function migrate(source: VmShell, options: Partial<OutgoingOptions> = {}): Promise<{ status: MigrationStatus; dest?: VmShell; incoming?: IncomingVm }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const arriving = new Promise<IncomingVm | Error>((resolve) => {
    server.once('connection', (s: Socket) => { migrateIn(s, { accept: () => ({}) }).then(resolve, resolve); });
  });
  const conn = connect(port, '127.0.0.1');
  await once(conn, 'connect');
  const status = await migrateOut(source.vm, conn, { identity: { name: 'test' }, to: `127.0.0.1:${port}`, ...options });
  const incoming = await arriving;
  server.close();
  if (incoming instanceof Error) return { status };
  return { status, incoming, dest: new VmShell(incoming.vm) };
}

const counter = '(i=0; while true; do i=$((i+1)); echo $i > /run/t/next; mv /run/t/next /run/t/count; sleep 0.02; done) >/dev/null 2>&1 & true';
// Files written (and checksummed) in a loop while memory is copied: a page the dirty log
// missed would leave a file that fails its sum, or a kernel that falls over.
// It stops between two files when told to (/run/t/stop), so every file has its sum.
const writer = '(n=0; while [ ! -f /run/t/stop ]; do n=$((n+1)); dd if=/dev/urandom of=/run/t/f$((n%8)) bs=64k count=8 2>/dev/null; md5sum /run/t/f$((n%8)) > /run/t/s$((n%8)); done; touch /run/t/stopped) >/dev/null 2>&1 & true';

async function prepare(g: VmShell): Promise<number> {
  await g.waitForPrompt(120_000);
  await g.run('mkdir -p /run/t && mount -t tmpfs none /run/t');
  await g.run(counter);
  await g.run(writer);
  await new Promise((r) => setTimeout(r, 700));
  return Number((await g.run('cat /run/t/count')).trim());
}

async function checkDestination(dest: VmShell, before: number): Promise<void> {
  const after = Number((await dest.run('cat /run/t/count')).trim());
  assert.ok(after > before, `the counter went on from ${before} (now ${after})`);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(Number((await dest.run('cat /run/t/count')).trim()) > after, 'the counter still counts on the destination');
  // Stop the writer, then every file must match the sum written after it.
  await dest.run('touch /run/t/stop; while [ ! -f /run/t/stopped ]; do sleep 0.1; done; cd /run/t && for i in 0 1 2 3 4 5 6 7; do [ -f s$i ] && md5sum -c s$i; done; cd /');
  assert.doesNotMatch(dest.log, /FAILED/, 'a file written during the migration lost data');
  assert.match(await dest.run('echo $((6*7))ok'), /42ok/);
}

test('live migration: a busy 1-VP guest moves with its processes and data, in several passes, with a short downtime', { timeout: TEST_MS }, async (t) => {
  const source = new VmShell({ memoryBytes: 256 << 20 });
  let dest: VmShell | undefined;
  try {
    const before = await prepare(source);
    const r = await migrate(source);
    dest = r.dest;
    t.diagnostic(JSON.stringify(r.status));
    assert.equal(r.status.phase, 'completed', JSON.stringify(r.status));
    assert.equal((await source.done).kind, 'migrated');
    assert.ok(r.status.pass >= 1, `pre-copy passes: ${r.status.pass}`);
    assert.ok(r.status.downtimeMs! < 1000, `downtime ${r.status.downtimeMs} ms`);
    assert.ok(r.status.zeroPages > 0 && r.status.pagesSent < (256 << 20) / 4096, 'zero pages are not sent');
    await checkDestination(dest!, before);
  } finally {
    source.vm.stop();
    dest?.vm.stop();
  }
});

test('quick migration: the VM is frozen, sent whole and resumed on the destination', { timeout: TEST_MS }, async (t) => {
  const source = new VmShell({ memoryBytes: 128 << 20 });
  let dest: VmShell | undefined;
  try {
    const before = await prepare(source);
    const r = await migrate(source, { quick: true });
    dest = r.dest;
    t.diagnostic(JSON.stringify(r.status));
    assert.equal(r.status.phase, 'completed', JSON.stringify(r.status));
    assert.equal(r.status.pass, 0);
    await checkDestination(dest!, before);
  } finally {
    source.vm.stop();
    dest?.vm.stop();
  }
});

test('a slow link: pages are deflated and those written again unchanged are left out, and the guest still arrives whole', { timeout: TEST_MS }, async (t) => {
  const source = new VmShell({ memoryBytes: 128 << 20 });
  let dest: VmShell | undefined;
  try {
    const before = await prepare(source);
    const r = await migrate(source, { bandwidth: 16 << 20 });
    dest = r.dest;
    t.diagnostic(JSON.stringify(r.status));
    assert.equal(r.status.phase, 'completed', JSON.stringify(r.status));
    assert.ok(r.status.deflatedBytes > 1 << 20, `deflating saved ${r.status.deflatedBytes} bytes`);
    assert.ok(r.status.bytes < r.status.pagesSent * 4096, 'the stream is smaller than the pages it carries');
    await checkDestination(dest!, before);
  } finally {
    source.vm.stop();
    dest?.vm.stop();
  }
});

test('a refused or cancelled migration leaves the VM running on the source, untouched', { timeout: TEST_MS }, async () => {
  const source = new VmShell({ memoryBytes: 128 << 20 });
  try {
    const before = await prepare(source);
    // The destination refuses the VM.
    const server = createServer((s) => { migrateIn(s, { accept: () => { throw new Error('no room here'); } }).catch(() => undefined); });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const conn = connect((server.address() as { port: number }).port, '127.0.0.1');
    const refused = await migrateOut(source.vm, conn, { identity: {}, to: 'nowhere' });
    server.close();
    assert.equal(refused.phase, 'failed');
    assert.match(refused.error!, /no room here/);
    // A cancel in the middle of the copy.
    const abort = new AbortController();
    const r = await migrate(source, { signal: abort.signal, bandwidth: 8 << 20, onProgress: (s) => { if (s.bytes > 2 << 20) abort.abort(); } });
    assert.equal(r.status.phase, 'cancelled');
    assert.equal(source.stopped, undefined);
    const after = Number((await source.run('cat /run/t/count')).trim());
    assert.ok(after > before, 'the source VM still counts');
    await checkDestination(source, 0);
  } finally {
    source.vm.stop();
  }
});

test('a source that sends SYNCs and never reads the answers is cut off, not buffered for', { timeout: TEST_MS }, async () => {
  // A connection whose far end reads nothing: every answer stays in its write buffer.
  const stream = migrationStream([frames.helo({}), frames.conf(SMALL_CONFIG), frames.dsks(), ...Array.from({ length: 4000 }, (_, i) => frames.sync(i))]);
  let fed = false;
  const conn = new Duplex({
    read() { if (!fed) { fed = true; this.push(Buffer.from(stream)); this.push(null); } },
    write(_chunk, _enc, _done) { /* never done: the source does not read */ },
  });
  let vm: { stop(): void } | undefined;
  await assert.rejects(migrateIn(conn, { accept: () => ({}), created: (v) => { vm = v; } }), /does not read the answers to its SYNC frames/);
  assert.ok(conn.writableLength <= (64 << 10) + 100, `answers held: ${conn.writableLength} bytes`);
  vm?.stop();
});
