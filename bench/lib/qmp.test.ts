// Qmp against a scripted fake QEMU on a unix socket: the handshake, events skipped,
// errors as QmpError, and what is not QMP refused with what came.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Qmp, QmpError } from './qmp.js';

const dir = mkdtempSync(join(tmpdir(), 'tshv-qmp-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let sockets = 0;

const GREETING = { QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } };

/**
 * A fake QEMU: sends `greeting`, then answers each command line with answer(command, id)
 * (lines written as they are, so a test can send what QEMU never would).
 */
async function fakeQemu(answer: (command: string, id: unknown) => string[], greeting = JSON.stringify(GREETING)): Promise<{ path: string; server: Server; seen: string[] }> {
  const path = join(dir, `q${sockets++}.sock`);
  const seen: string[] = [];
  const server = createServer((s: Socket) => {
    s.write(`${greeting}\r\n`);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const cmd = JSON.parse(buf.slice(0, nl)) as { execute: string; id: unknown };
        buf = buf.slice(nl + 1);
        seen.push(cmd.execute);
        for (const line of answer(cmd.execute, cmd.id)) s.write(`${line}\r\n`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, server, seen };
}

const ok = (value: unknown, id: unknown) => JSON.stringify({ return: value, id });

test('Qmp: handshake, a command\'s return value, events in between skipped', async () => {
  const q = await fakeQemu((cmd, id) => cmd === 'query-status'
    ? [JSON.stringify({ event: 'RESUME', timestamp: { seconds: 1, microseconds: 2 } }), ok({ status: 'inmigrate', running: false }, id)]
    : [ok({}, id)]);
  const qmp = await Qmp.connect(q.path, 2000);
  try {
    assert.deepEqual(await qmp.execute('query-status'), { status: 'inmigrate', running: false });
    assert.deepEqual(q.seen, ['qmp_capabilities', 'query-status']);
  } finally {
    qmp.close();
    q.server.close();
  }
});

test('Qmp: an error reply is a QmpError with its class and description', async () => {
  const q = await fakeQemu((cmd, id) => cmd === 'migrate'
    ? [JSON.stringify({ error: { class: 'GenericError', desc: 'Failed to connect' }, id })]
    : [ok({}, id)]);
  const qmp = await Qmp.connect(q.path, 2000);
  try {
    await assert.rejects(qmp.execute('migrate', { uri: 'tcp:127.0.0.1:1' }), (e: unknown) =>
      e instanceof QmpError && e.errorClass === 'GenericError' && e.desc === 'Failed to connect');
  } finally {
    qmp.close();
    q.server.close();
  }
});

test('Qmp: what is not QMP is refused, quoting it', async () => {
  const notQmp = await fakeQemu(() => [], JSON.stringify({ hello: 1 }));
  await assert.rejects(Qmp.connect(notQmp.path, 2000), /not a QMP greeting: \{"hello":1\}/);
  notQmp.server.close();

  const garbage = await fakeQemu((cmd, id) => (cmd === 'query-migrate' ? ['(qemu) oops'] : [ok({}, id)]));
  const qmp = await Qmp.connect(garbage.path, 2000);
  await assert.rejects(qmp.execute('query-migrate'), /not JSON: \(qemu\) oops/);
  qmp.close();
  garbage.server.close();

  const neither = await fakeQemu((cmd, id) => (cmd === 'query-migrate' ? [JSON.stringify({ id, status: 'completed' })] : [ok({}, id)]));
  const qmp2 = await Qmp.connect(neither.path, 2000);
  await assert.rejects(qmp2.execute('query-migrate'), /neither a return nor an error/);
  qmp2.close();
  neither.server.close();
});

test('Qmp: waits for a socket QEMU has not made yet, and gives up after the time allowed', async () => {
  await assert.rejects(Qmp.connect(join(dir, 'never.sock'), 300), /cannot connect to QMP/);
});
