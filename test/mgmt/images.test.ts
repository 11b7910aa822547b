// The service reads kernel and initrd files on its API thread: what a VM definition names
// must not stall it (a FIFO, a file larger than the VM's RAM, a gzip bomb). Against a real
// `tshv serve`; every request has a deadline, so a blocked service fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Service } from './service.js';

const files = mkdtempSync(join(tmpdir(), 'tshv-images-'));
let s: Service;

before(async () => { s = await Service.start(undefined, []); });
after(async () => { await s?.kill('SIGKILL'); });

/** POST /api/vms, which must answer within 10 s. */
async function create(body: object): Promise<{ status: number; body: any }> {
  const res = await fetch(`${s.url}/api/vms`, {
    method: 'POST', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body), signal: AbortSignal.timeout(10_000),
  }).catch((e: Error) => assert.fail(`the service did not answer within 10 s (${e.message}): it is blocked`));
  return { status: res.status, body: await res.json() };
}

test('a FIFO as kernel or initrd is a 400 at once, and the service keeps answering', async () => {
  const fifo = join(files, 'a-fifo');
  execFileSync('mkfifo', [fifo]);
  for (const field of ['kernel', 'initrd']) {
    const r = await create({ name: `fifo-${field}`, [field]: fifo });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.field, field);
    assert.match(r.body.error, /a-fifo is (a named pipe \(FIFO\), )?not a (regular )?file/);
  }
  assert.equal((await s.api('GET', '/api/host')).status, 200);
});

test('an initrd larger than the VM\'s RAM, or a kernel that inflates beyond it, is a 400 naming the limit', async () => {
  const initrd = join(files, 'huge.cpio');
  const fd = openSync(initrd, 'w');
  ftruncateSync(fd, 2 ** 30);
  closeSync(fd);
  const big = await create({ name: 'big-initrd', memoryMiB: 64, initrd });
  assert.equal(big.status, 400, JSON.stringify(big.body));
  assert.equal(big.body.field, 'initrd');
  assert.match(big.body.error, /is 1024 MiB, more than the VM's 64 MiB RAM/);

  const image = Buffer.alloc(96 << 20);
  image.write('RSC\x05', 0x38, 'latin1');
  const bomb = join(files, 'bomb-Image.gz');
  writeFileSync(bomb, gzipSync(image, { level: 1 }));
  const r = await create({ name: 'bomb', memoryMiB: 64, kernel: bomb });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.field, 'kernel');
  assert.match(r.body.error, /the kernel decompresses to more than the VM's 64 MiB RAM/);
  // The same kernel fits a VM with enough RAM.
  assert.equal((await create({ name: 'roomy', memoryMiB: 128, kernel: bomb })).status, 201);
});
