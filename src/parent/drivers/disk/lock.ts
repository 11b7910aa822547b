// Image locks: one writer or any number of readers per image, across VMs in this process
// (each VM runs in its own worker thread, so locks belong to an open, not to a process)
// and across processes. Node has no flock/fcntl, so a lock is a file of its own, directly
// in the lock root:
//
//   <root>/<sha256 of the image's real path>.<w|r>-<pid>-<uuid>
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
//
// The root is hostile ground when others can write to it, and tshv may run as root: a
// planted symlink must never make it change, create or remove anything elsewhere. So the
// root is per user by default, it must be a real directory that nobody but its owner (this
// user or root) can rename things in, no other directory is ever made or removed below it,
// entries are created with O_CREAT|O_EXCL|O_NOFOLLOW, and the only other operations on them
// are unlink (which removes a link, never its target), lstat and readdir of the root itself.
// Nothing is ever chmodded.
import { createHash, randomUUID } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, realpath, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { DiskError } from './block-device.js';

export type LockMode = 'shared' | 'exclusive';

export interface ImageLock {
  readonly mode: LockMode;
  /** The lock's own entry file. */
  readonly entry: string;
  /** Removes the entry; calling it again does nothing. */
  release(): Promise<void>;
}

const euid: number | undefined = process.geteuid?.();

/** Where lock entries live: $TSHV_LOCK_DIR, else <tmpdir>/tshv-locks-<uid> (per user, 0700). */
export function lockRoot(): string {
  return process.env.TSHV_LOCK_DIR || join(tmpdir(), `tshv-locks-${euid ?? userInfo().username}`);
}

/** The name of a new lock entry of the image at realPath (tests plant such names). */
export function lockEntryName(realPath: string, mode: LockMode, pid = process.pid): string {
  return `${imageKey(realPath)}.${mode === 'exclusive' ? 'w' : 'r'}-${pid}-${randomUUID()}`;
}

/** The entries of the image at realPath in the lock root (tests check they are gone). */
export async function lockEntries(realPath: string, root = lockRoot()): Promise<string[]> {
  const key = imageKey(realPath);
  return (await readdir(root).catch(() => [] as string[])).filter((n) => ENTRY.exec(n)?.[1] === key);
}

const imageKey = (realPath: string): string => createHash('sha256').update(realPath).digest('hex');

const ENTRY = /^([0-9a-f]{64})\.([rw])-(\d+)-[0-9a-f-]{36}$/;
const RETRIES = 4;
/** An entry younger than this may belong to an opener still deciding: worth a retry. */
const YOUNG_MS = 200;

/** Takes a lock on the image at realPath (resolve symlinks first), or fails with 'locked'. */
export async function lockImage(realPath: string, mode: LockMode, root = lockRoot()): Promise<ImageLock> {
  const dir = await lockDirectory(root);
  const key = imageKey(realPath);
  for (let attempt = 0; ; attempt++) {
    const name = lockEntryName(realPath, mode);
    const entry = join(dir, name);
    let fh: FileHandle;
    try {
      // O_EXCL alone already refuses a symlink in the entry's place; O_NOFOLLOW says so.
      fh = await open(entry, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    } catch (e) {
      throw new DiskError(`${realPath}: cannot create lock file ${entry}: ${(e as Error).message}`, 'io');
    }
    await fh.writeFile(`${JSON.stringify({ pid: process.pid, mode, image: realPath, since: new Date().toISOString() })}\n`);
    const conflicts = await liveConflicts(dir, key, name, mode);
    if (conflicts.length === 0) return new EntryLock(mode, entry, fh);
    await fh.close();
    await unlink(entry).catch(() => undefined);
    if (attempt >= RETRIES || !conflicts.some((c) => c.young)) throw lockedError(realPath, mode, conflicts);
    await new Promise((r) => setTimeout(r, 2 + Math.random() * 8 * (attempt + 1)));
  }
}

class EntryLock implements ImageLock {
  private fh: FileHandle | null;
  constructor(readonly mode: LockMode, readonly entry: string, fh: FileHandle) {
    this.fh = fh;
  }

  async release(): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    this.fh = null;
    await unlink(this.entry).catch(() => undefined);
    await fh.close().catch(() => undefined);
  }
}

/**
 * Makes sure the lock root exists and is safe to use, and returns its real path (the one
 * /proc/<pid>/fd shows). Safe means: the root itself is a directory, not a symlink; it and
 * every directory above it (symlinks above it resolved) belong to this user or root; and
 * none of them lets others rename its entries (writable by group or others only with the
 * sticky bit, as /tmp). Then only this user or root can ever put something else in the
 * root's place, or in place of this user's entries in it.
 */
async function lockDirectory(root: string): Promise<string> {
  const given = resolve(root);
  const fail = (why: string) =>
    new DiskError(`unsafe image lock directory ${given}: ${why}; set TSHV_LOCK_DIR to a directory of your own (mode 0700)`, 'io');
  let parent: string;
  try {
    parent = await realpath(dirname(given));
  } catch (e) {
    throw fail(`cannot resolve ${dirname(given)}: ${(e as Error).message}`);
  }
  // The parent chain first: before anything is created in it.
  for (let d = parent; ; d = dirname(d)) {
    const why = await untrusted(d);
    if (why) throw fail(why);
    if (dirname(d) === d) break;
  }
  const dir = join(parent, basename(given));
  try {
    await mkdir(dir, { mode: 0o700 }); // not recursive: never through a link, never elsewhere
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fail(`cannot create it: ${(e as Error).message}`);
  }
  const why = await untrusted(dir);
  if (why) throw fail(why);
  return dir;
}

/** Why the directory at path (no symlinks above it) may not hold locks, or null if it may. */
async function untrusted(path: string): Promise<string | null> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (e) {
    return `cannot examine ${path}: ${(e as Error).message}`;
  }
  if (st.isSymbolicLink()) return `${path} is a symbolic link`;
  if (!st.isDirectory()) return `${path} is not a directory`;
  if (euid === undefined) return null; // no POSIX owners here (Windows)
  if (st.uid !== euid && st.uid !== 0) return `${path} is owned by uid ${st.uid}, not by you (uid ${euid}) or root`;
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    return `${path} is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)}) without the sticky bit`;
  }
  return null;
}

interface Conflict { writer: boolean; pid: number; entry: string; young: boolean }

/**
 * Live entries of the image (key) other than ours that conflict with mode. Stale entries
 * of the image are removed on the way, and so are dead processes' entries of other images,
 * so that the locks of images nobody opens again do not pile up.
 */
async function liveConflicts(dir: string, key: string, own: string, mode: LockMode): Promise<Conflict[]> {
  const found: Conflict[] = [];
  for (const name of await readdir(dir)) {
    const m = ENTRY.exec(name);
    if (!m || name === own) continue;
    const entry = join(dir, name);
    const pid = Number(m[3]);
    if (m[1] !== key) {
      if (!pidAlive(pid)) await unlink(entry).catch(() => undefined);
      continue;
    }
    const writer = m[2] === 'w';
    if (mode === 'shared' && !writer) continue;
    if (!(await holderAlive(pid, entry))) {
      await unlink(entry).catch(() => undefined); // EPERM for another user's, in a sticky root
      continue;
    }
    const st = await lstat(entry).catch(() => null);
    if (!st) continue; // released while we looked
    if (!st.isFile()) continue; // not made by tshv: a lock is a regular file
    found.push({ writer, pid, entry, young: Date.now() - st.mtimeMs < YOUNG_MS });
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
