// Image locks: one writer or any number of readers per image, across VMs in this process
// (each VM runs in its own worker thread, so locks belong to an open, not to a process)
// and across processes. Node has no flock/fcntl, so a lock is a file of its own:
//
//   <root>/<sha256 of the image's real path>/<w|r>-<pid>-<uuid>
//
// created with O_EXCL and kept open by its holder until release. To acquire, an open first
// creates its entry and only then looks for conflicting live entries (any other entry for a
// writer, a writer's entry for a reader); if it finds one it removes its own entry again.
// Two openers that race therefore cannot both succeed (each sees the other's entry); they
// may both fail, so an opener that saw only young entries backs off and tries again.
//
// An entry is stale, and is removed by whoever finds it, when its holder is gone: its pid
// is dead (kill(pid, 0) gives ESRCH) or, where /proc shows it, no file descriptor of that
// process has the entry open (a VM worker that was terminated, or a pid reused after a
// SIGKILL). So a killed host never leaves an image locked for good.
import { createHash, randomUUID } from 'node:crypto';
import { chmod, mkdir, open, readdir, readlink, realpath, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DiskError } from './block-device.js';

export type LockMode = 'shared' | 'exclusive';

export interface ImageLock {
  readonly mode: LockMode;
  /** The lock's own entry file. */
  readonly entry: string;
  /** Removes the entry; calling it again does nothing. */
  release(): Promise<void>;
}

/** Where lock directories live: $TSHV_LOCK_DIR, else <tmpdir>/tshv-locks. */
export function lockRoot(): string {
  return process.env.TSHV_LOCK_DIR || join(tmpdir(), 'tshv-locks');
}

/** The directory holding the lock entries of the image at realPath. */
export function lockDirFor(realPath: string, root = lockRoot()): string {
  return join(root, createHash('sha256').update(realPath).digest('hex'));
}

const ENTRY = /^([rw])-(\d+)-[0-9a-f-]{36}$/;
const RETRIES = 4;
/** Times an opener makes the lock directory again when it was removed under it. */
const REMAKES = 100;
/** An entry younger than this may belong to an opener still deciding: worth a retry. */
const YOUNG_MS = 200;

/** Takes a lock on the image at realPath (resolve symlinks first), or fails with 'locked'. */
export async function lockImage(realPath: string, mode: LockMode, root = lockRoot()): Promise<ImageLock> {
  if (!swept.has(root)) {
    swept.add(root);
    await sweep(root);
  }
  const dir = await lockDirectory(realPath, root);
  const name = `${mode === 'exclusive' ? 'w' : 'r'}-${process.pid}-${randomUUID()}`;
  const entry = join(dir, name);
  for (let attempt = 0, remade = 0; ; attempt++) {
    let fh: FileHandle;
    try {
      fh = await open(entry, 'wx', 0o644);
    } catch (e) {
      // A releasing holder, or another process's sweep, may have removed the (then empty)
      // directory under us: make it again. That is no contention for the lock itself, so it
      // does not use up the retries (but it is bounded all the same).
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && remade++ < REMAKES) {
        await lockDirectory(realPath, root);
        attempt--;
        continue;
      }
      throw new DiskError(`${realPath}: cannot create lock file ${entry}: ${(e as Error).message}`, 'io');
    }
    await fh.writeFile(`${JSON.stringify({ pid: process.pid, mode, image: realPath, since: new Date().toISOString() })}\n`);
    const conflicts = await liveConflicts(dir, name, mode);
    if (conflicts.length === 0) return new EntryLock(mode, entry, dir, fh);
    await fh.close();
    await unlink(entry).catch(() => undefined);
    if (attempt >= RETRIES || !conflicts.some((c) => c.young)) throw lockedError(realPath, mode, conflicts);
    await new Promise((r) => setTimeout(r, 2 + Math.random() * 8 * (attempt + 1)));
  }
}

const swept = new Set<string>();

/**
 * Removes the entries of dead processes for every image, once per thread and lock root,
 * so that the locks of images nobody opens again do not pile up.
 */
async function sweep(root: string): Promise<void> {
  const dirs = await readdir(root).catch(() => [] as string[]);
  for (const d of dirs) {
    const dir = join(root, d);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const m = ENTRY.exec(name);
      if (m && !pidAlive(Number(m[2]))) await unlink(join(dir, name)).catch(() => undefined);
    }
    await rmdir(dir).catch(() => undefined); // fails unless it is now empty
  }
}

class EntryLock implements ImageLock {
  private fh: FileHandle | null;
  constructor(readonly mode: LockMode, readonly entry: string, private readonly dir: string, fh: FileHandle) {
    this.fh = fh;
  }

  async release(): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    this.fh = null;
    await unlink(this.entry).catch(() => undefined);
    await fh.close().catch(() => undefined);
    await rmdir(this.dir).catch(() => undefined); // only succeeds once no entry is left
  }
}

/**
 * Makes the image's lock directory; returns its path with the root resolved (/proc/<pid>/fd
 * shows resolved paths). Only the root is resolved: the directory itself may be removed
 * again at any moment (an empty one is, by sweeps and releases), the root never is.
 */
async function lockDirectory(realPath: string, root: string): Promise<string> {
  const dir = lockDirFor(realPath, root);
  // World-writable and sticky like /tmp, so that users sharing an image share its locks.
  const make = async (d: string) => {
    await mkdir(d, { recursive: true, mode: 0o1777 });
    await chmod(d, 0o1777).catch(() => undefined);
  };
  await make(root);
  const resolved = join(await realpath(root), basename(dir));
  await make(dir); // last: the caller creates its entry in it at once
  return resolved;
}

interface Conflict { writer: boolean; pid: number; entry: string; young: boolean }

/** Live entries other than ours that conflict with mode; stale ones are removed on the way. */
async function liveConflicts(dir: string, own: string, mode: LockMode): Promise<Conflict[]> {
  const found: Conflict[] = [];
  for (const name of await readdir(dir)) {
    const m = ENTRY.exec(name);
    if (!m || name === own) continue;
    const writer = m[1] === 'w';
    if (mode === 'shared' && !writer) continue;
    const entry = join(dir, name);
    const pid = Number(m[2]);
    if (!(await holderAlive(pid, entry))) {
      await unlink(entry).catch(() => undefined);
      continue;
    }
    const mtime = await stat(entry).then((s) => s.mtimeMs, () => 0);
    if (mtime === 0) continue; // released while we looked
    found.push({ writer, pid, entry, young: Date.now() - mtime < YOUNG_MS });
  }
  return found;
}

async function holderAlive(pid: number, entry: string): Promise<boolean> {
  if (!pidAlive(pid)) return false;
  return (await holdsOpen(pid === process.pid ? 'self' : String(pid), entry)) ?? true;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: alive, another user's
  }
}

/** Whether the process has the file open, or undefined where /proc cannot tell. */
async function holdsOpen(proc: string, path: string): Promise<boolean | undefined> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${proc}/fd`);
  } catch {
    return undefined;
  }
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${proc}/fd/${fd}`).catch(() => '')));
  return targets.includes(path);
}

function lockedError(image: string, mode: LockMode, conflicts: Conflict[]): DiskError {
  const writer = conflicts.find((c) => c.writer);
  const who = (c: Conflict) => (c.pid === process.pid ? `this process (pid ${c.pid})` : `process ${c.pid}`);
  const held = writer
    ? `open writable by another VM in ${who(writer)}`
    : `open read-only by ${conflicts.length} other VM${conflicts.length > 1 ? 's' : ''} (${[...new Set(conflicts.map(who))].join(', ')})`;
  const want = mode === 'exclusive' ? 'writable' : 'read-only';
  return new DiskError(
    `${image}: cannot open ${want}: the image is ${held}; ` +
      `if no VM uses it, remove the lock file ${(writer ?? conflicts[0]!).entry}`,
    'locked',
  );
}
