// `tshv disk create|info`: images made by tshv that qemu-img accepts, and clear errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, TSHV } from './lib/guest-shell.js';
import { createQcow2 } from '../src/parent/drivers/disk/qcow2-create.js';

const dir = mkdtempSync(join(tmpdir(), 'tshv-cli-disk-'));
const tshv = (...args: string[]) => spawnSync(process.execPath, [TSHV, 'disk', ...args], { encoding: 'utf8' });
const hasQemuImg = spawnSync('qemu-img', ['--version']).status === 0;

test('disk create: an overlay on the root filesystem, an empty qcow2 and a raw file; qemu-img agrees', { skip: !hasQemuImg && 'qemu-img is not installed' }, () => {
  const overlay = join(dir, 'overlay.qcow2');
  const r = tshv('create', overlay, '--backing', join(ROOT, 'guest/images/rootfs.qcow2'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /qcow2, 32M, backed by .*rootfs\.qcow2 \(qcow2\)/);
  const info = JSON.parse(spawnSync('qemu-img', ['info', '--output=json', overlay], { encoding: 'utf8' }).stdout) as Record<string, unknown>;
  assert.equal(info['virtual-size'], 32 << 20);
  assert.match(String(info['backing-filename']), /rootfs\.qcow2$/);
  assert.equal(spawnSync('qemu-img', ['check', overlay]).status, 0);

  const empty = join(dir, 'empty.qcow2');
  assert.equal(tshv('create', empty, '--size', '2G', '--cluster-size', '4K').status, 0);
  const e = JSON.parse(spawnSync('qemu-img', ['info', '--output=json', empty], { encoding: 'utf8' }).stdout) as Record<string, unknown>;
  assert.equal(e['virtual-size'], 2 ** 31);
  assert.equal(e['cluster-size'], 4096);

  const raw = join(dir, 'scratch.raw');
  assert.equal(tshv('create', raw, '--format', 'raw', '--size', '10M').status, 0);
  assert.equal(statSync(raw).size, 10 << 20);

  const shown = tshv('info', overlay, '--json');
  assert.equal(shown.status, 0);
  const chain = JSON.parse(shown.stdout) as { format: string; backing: { format: string }[] };
  assert.equal(chain.format, 'qcow2');
  assert.equal(chain.backing[0].format, 'qcow2');
});

test('disk create/info: usage errors exit 2 with the reason', () => {
  const exists = join(dir, 'exists.raw');
  assert.equal(tshv('create', exists, '--format', 'raw', '--size', '1M').status, 0);
  const again = tshv('create', exists, '--format', 'raw', '--size', '1M');
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already exists/);
  assert.match(tshv('create', join(dir, 'nosize.qcow2')).stderr, /give --size/);
  assert.equal(tshv('create', join(dir, 'bad.qcow2'), '--size', '1M', '--cluster-size', '3K').status, 2);
  assert.equal(tshv('create', join(dir, 'raw-backed.raw'), '--format', 'raw', '--backing', exists).status, 2);
  const missing = tshv('info', join(dir, 'nope.qcow2'));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no such file/);
});

test('disk info/create: a FIFO or a device, as the image or as a backing file, is refused at once', { timeout: 60_000 }, async () => {
  const fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  const overlay = join(dir, 'on-a-pipe.qcow2');
  await createQcow2(overlay, { size: 1 << 20, backing: fifo });
  // Opening a FIFO used to wait for a writer: forever. 8 s is ample for a refusal.
  const quick = (...args: string[]) => spawnSync(process.execPath, [TSHV, 'disk', ...args], { encoding: 'utf8', timeout: 8000 });
  const refused = (r: ReturnType<typeof quick>, message: RegExp) => {
    assert.equal(r.signal, null, `still running after 8 s: ${r.stderr}`);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
  };
  refused(quick('info', fifo), new RegExp(`tshv disk info: ${fifo}: is a FIFO, not a disk image`));
  refused(quick('info', overlay), new RegExp(`${overlay}: cannot open its backing file: ${fifo}: is a FIFO`));
  refused(quick('info', '/dev/zero'), /\/dev\/zero: is a character device/);
  refused(quick('info', dir), /is a directory/);
  for (const size of [[], ['--size', '1M']]) {
    const made = join(dir, `over-pipe-${size.length}.qcow2`);
    refused(quick('create', made, '--backing', fifo, ...size), new RegExp(`tshv disk create: ${fifo}: is a FIFO`));
    assert.equal(existsSync(made), false, 'nothing is made on a FIFO');
  }
});

test('disk create: a size beyond what the format can hold is a usage error naming the limit; no file is left', () => {
  const cases: [string[], RegExp][] = [
    [['--format', 'raw', '--size', '999999999T'], /--size 999999999T is more than a raw image can be \(at most 8192T\)/],
    [['--format', 'raw', '--size', '9000000G'], /more than a raw image can be/],
    [['--size', '999999999T'], /--size 999999999T is more than a qcow2 image with 64K clusters can hold \(at most 2048T; larger clusters hold more/],
    [['--size', '3000T'], /at most 2048T/],
    [['--size', '200G', '--cluster-size', '512'], /512B clusters can hold \(at most 128G;/],
  ];
  for (const [i, [args, message]] of cases.entries()) {
    const file = join(dir, `absurd-${i}.img`);
    const r = tshv('create', file, ...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /The value of|ERR_|^\s+at /m, 'no Node-internal error');
    assert.equal(existsSync(file), false, `${args.join(' ')} left ${file} behind`);
  }
  // 2 PiB is exactly what 64K clusters hold (only metadata is written: a few MiB).
  const big = join(dir, 'big.qcow2');
  const ok = tshv('create', big, '--size', '2048T');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /qcow2, 2048T/);
});

test('disk create: an image the file system refuses (a file size limit) fails with a message and leaves no file', () => {
  // ulimit -f counts blocks of 512 or 1024 bytes: either way far below these images.
  const limited = (...args: string[]) => spawnSync('sh', ['-c', 'ulimit -f 64 && exec "$0" "$@"', process.execPath, TSHV, 'disk', ...args], { encoding: 'utf8' });
  const raw = join(dir, 'limited.raw');
  const r = limited('create', raw, '--format', 'raw', '--size', '10M');
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /does not allow a file of 10M/);
  assert.equal(existsSync(raw), false, 'the empty raw file is removed');
  const qcow2 = join(dir, 'limited.qcow2');
  const q = limited('create', qcow2, '--size', '100G', '--cluster-size', '4K'); // a 400 KiB L1 table
  assert.equal(q.status, 1, q.stderr);
  assert.match(q.stderr, /EFBIG|too large/);
  assert.equal(existsSync(qcow2), false, 'the partial qcow2 file is removed');
});
