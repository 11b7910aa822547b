import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageRoots } from './storage.js';
import { ApiError } from './errors.js';

const base = realpathSync(mkdtempSync(join(tmpdir(), 'tshv-storage-')));
const root = join(base, 'vm');
const sibling = join(base, 'vm-other'); // shares the root's name as a prefix
mkdirSync(root);
mkdirSync(sibling);
writeFileSync(join(root, 'a.raw'), '');
writeFileSync(join(sibling, 'b.raw'), '');
symlinkSync(join(sibling, 'b.raw'), join(root, 'out-link'));
symlinkSync(join(sibling, 'nothing-yet'), join(root, 'dangling'));
symlinkSync(root, join(base, 'root-link'));

function refused(f: () => unknown, message: RegExp): void {
  assert.throws(f, (e) => e instanceof ApiError && e.status === 400 && e.extra.field === 'disks[0].path' && message.test(e.message));
}

test('inside a root by real path only: prefixes, "..", links out, a root given as a link', () => {
  const roots = StorageRoots.open({ given: [join(base, 'root-link')], dataDir: join(base, 'data'), packageImages: '/nonexistent' });
  assert.deepEqual(roots.roots, [root]);
  assert.equal(roots.check('disks[0].path', join(base, 'root-link', 'a.raw')), join(root, 'a.raw'));
  assert.equal(roots.check('disks[0].path', join(root, 'missing.raw')), join(root, 'missing.raw'), 'judged by where it would be');
  refused(() => roots.check('disks[0].path', join(sibling, 'b.raw')), /outside the service's storage roots .*--storage-root DIR/);
  refused(() => roots.check('disks[0].path', join(root, '..', 'vm-other', 'b.raw')), /outside/);
  refused(() => roots.check('disks[0].path', join(root, 'out-link')), /out-link \(really .*vm-other\/b\.raw\) is outside/);
  // A dangling link is judged by itself; once its target exists, by the target.
  assert.equal(roots.check('disks[0].path', join(root, 'dangling')), join(root, 'dangling'));
  writeFileSync(join(sibling, 'nothing-yet'), '');
  refused(() => roots.check('disks[0].path', join(root, 'dangling')), /outside/);
});

test('defaults: the data directory\'s images/ (made 0700) and the package images; its other files are never images', () => {
  const data = join(base, 'data2');
  const roots = StorageRoots.open({ given: [], dataDir: data, packageImages: root });
  assert.deepEqual(roots.roots, [join(data, 'images'), root]);
  assert.equal(statSync(join(data, 'images')).mode & 0o777, 0o700);
  const wide = StorageRoots.open({ given: ['/'], dataDir: data, packageImages: root });
  refused(() => wide.check('disks[0].path', join(data, 'tshv.db')), /one of the service's own files/);
  assert.equal(wide.check('disks[0].path', join(data, 'images', 'x.raw')), join(data, 'images', 'x.raw'));
  assert.throws(() => StorageRoots.open({ given: [join(base, 'nope')], dataDir: data, packageImages: root }), /--storage-root .*nope: no such directory/);
  assert.throws(() => StorageRoots.open({ given: [join(root, 'a.raw')], dataDir: data, packageImages: root }), /not a directory/);
});
