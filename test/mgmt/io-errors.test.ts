// A disk image that fails the guest's reads (a corrupt qcow2) is the host's news, not only
// the guest's: the service logs it and records an 'io-error' event naming the disk and the
// driver's message, once per burst however often the guest retries. A real guest, a real
// `tshv serve`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Service, type WsConsole } from './service.js';
import { createQcow2 } from '../../src/parent/drivers/disk/qcow2-create.js';
import { openDisk } from '../../src/parent/drivers/disk/open.js';
import { patchFile } from '../../src/parent/drivers/disk/test-support.js';

const BOOT_MS = 120_000;

/**
 * A qcow2 image (4 KiB clusters) whose first cluster is "compressed" data that does not
 * inflate: it opens fine, every read of guest bytes 0..4095 fails with a DiskError.
 * Layout: 0 header, 1 refcount table, 2 refcount block, 3 L1 table, 4 L2 table, 5 data.
 */
async function corruptImage(dir: string): Promise<string> {
  const path = join(dir, 'corrupt.qcow2');
  await createQcow2(path, { size: 1 << 20, clusterBits: 12 });
  const disk = await openDisk(path, {});
  await disk.write(0, new Uint8Array(4096).fill(0x11));
  await disk.close();
  assert.equal(readFileSync(path).readBigUInt64BE(4 * 4096), (1n << 63n) | (5n * 4096n), 'L2[0] -> cluster 5');
  const entry = Buffer.alloc(8);
  entry.writeBigUInt64BE((1n << 62n) | (5n * 4096n)); // compressed, at cluster 5: not deflate
  patchFile(path, 4 * 4096, entry);
  return path;
}

test('a corrupt image: the guest gets EIO, the host a log line and one io-error event per burst', { timeout: 300_000 }, async () => {
  const files = mkdtempSync(join(tmpdir(), 'tshv-io-errors-'));
  const image = await corruptImage(files);
  const s = await Service.start(undefined, ['--storage-root', files]);
  const stream = s.events();
  let c: WsConsole | undefined;
  try {
    await s.ok('POST', '/api/vms', { name: 'eio', memoryMiB: 128, disks: [{ path: image, readOnly: true }] }, 201);
    await s.ok('POST', '/api/vms/eio/start');
    c = await s.console('eio');
    await c.waitForPrompt(BOOT_MS);
    // The guest retries as fast as it can: every read fails.
    const out = await c.run('for i in 1 2 3 4 5 6 7 8; do dd if=/dev/vda of=/dev/null bs=512 count=1 2>&1 | head -1; done', 60_000);
    assert.match(out, /I\/O error|Input\/output error/i, 'the guest saw EIO');
    const first = await stream.waitFor((e) => e.type === 'io-error', 'an io-error event', 30_000);
    assert.match(first.message, /^vda: read at sector 0: .*corrupt\.qcow2: .*compressed cluster at 20480 does not inflate/);
    assert.match(s.output, /eio: vda: I\/O error: read at sector 0: .*does not inflate/, 'a line in the service log');
    // The disk's counters reach the service once a second.
    let errors = 0;
    for (const deadline = Date.now() + 10_000; errors < 8 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      errors = (await s.ok('GET', '/api/vms/eio/metrics')).io.disks[0]?.errors ?? 0;
    }
    assert.ok(errors >= 8, `the guest saw ${errors} errors; it printed:\n${out}`);
    // Those within one window are summed up in a single later event, not one each.
    const summary = await stream.waitFor((e) => e.type === 'io-error' && /more I\/O errors on vda/.test(e.message), 'the summary of the burst', 30_000);
    assert.match(summary.message, /^vda: \d+ more I\/O errors on vda \(reported at most once every 10 s\); the last: read at sector 0/);
    const events = (await s.ok('GET', '/api/vms/eio/events')).filter((e: any) => e.type === 'io-error');
    assert.ok(events.length <= 3 && events.length < errors, `${events.length} io-error events for ${errors} errors`);
    await s.ok('POST', '/api/vms/eio/stop');
  } finally {
    c?.close();
    stream.close();
    await s.kill('SIGKILL');
  }
});
