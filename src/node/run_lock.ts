/**
 * One training run per run directory. Two `recur train` processes on the same --out would overwrite each other's
 * checkpoints (seen in practice: an interrupted run's checkpoint landed in a fresh run's directory), so a run holds
 * `<dir>/recur.lock` — its pid, host and start time, created exclusively — for as long as it lives.
 *
 * A lock whose process is gone (kill -9, power loss) is stale and taken over, so `--resume` after a crash just works.
 * A lock of a live process, or of another host (whose processes we cannot see), refuses the second run with a message
 * naming the holder. The lock is removed when the process exits, however it exits short of SIGKILL.
 */
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { InvalidInputError } from '../core/errors.js';
import { processAlive } from './atomic.js';
import { makeDirectories } from './atomic.js';

/** The lock file's name in a run directory. */
export const LOCK_FILE = 'recur.lock';

/** A lock file so new that its writer may still be writing it: unreadable content is not yet stale. */
const FRESH_MS = 10_000;

interface LockContent {
  pid: number;
  host: string;
  started: string;
  command: string;
}

export interface RunLock {
  /** Removes the lock (and the directory, when the lock created it and nothing else was put there). Idempotent. */
  release(): void;
}

/** What a lock must hold to name its holder; started and command are only shown. */
const LOCK_SCHEMA = z.looseObject({
  // A pid of 0 or below names no process (process.kill(0, 0) tests this process's group): damaged, not held.
  pid: z.number().int().positive(),
  host: z.string(),
  started: z.unknown(),
  command: z.unknown(),
});

function readLock(path: string): LockContent | null {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null; // unreadable or half-written: judged by its age below
  }
  const v = LOCK_SCHEMA.safeParse(raw);
  return v.success
    ? { pid: v.data.pid, host: v.data.host, started: String(v.data.started), command: String(v.data.command) }
    : null;
}

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Why the existing lock at `path` still holds, or null when it is stale and may be taken over. */
function holder(path: string): string | null {
  if (!existsSync(path)) return null;
  const lock = readLock(path);
  if (lock === null) {
    const age = Date.now() - statSync(path).mtimeMs;
    return age < FRESH_MS ? 'a recur run that is starting right now' : null;
  }
  if (lock.host !== hostname())
    return `a recur run on host ${lock.host} (pid ${lock.pid}, started ${lock.started})`;
  if (lock.pid === process.pid || !processAlive(lock.pid)) return null;
  return `recur run pid ${lock.pid} (${lock.command}, started ${lock.started})`;
}

/**
 * The releases of the locks this process holds, in the order taken. At exit they run newest first, so a lock taken
 * inside another's directory (an ensemble member's, in DIR/members/K) lets go of its directories before the outer one
 * looks whether its own is empty.
 */
const heldLocks: (() => void)[] = [];
let exitHandlerInstalled = false;
function releaseAllAtExit(): void {
  while (heldLocks.length > 0) heldLocks[heldLocks.length - 1]();
}

/** Why recur cannot write into `dir` (bad input, exit 2), from the error of a write there; other errors as they are. */
function unwritable(dir: string, e: unknown): unknown {
  const why: Record<string, string> = {
    EROFS: 'it is on a read-only file system',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOENT: 'a directory cannot be created there',
    ENOTDIR: 'a part of its path is a file',
  };
  const reason = why[(e as NodeJS.ErrnoException).code ?? ''];
  return reason === undefined
    ? e
    : new InvalidInputError(`${dir}: recur cannot write there (${reason}); give a directory it can write to`);
}

/**
 * Takes `dir`'s lock for this process (creating `dir`, and its missing parents, if needed), or throws
 * InvalidInputError naming the run that holds it. `command` is recorded for that message. `advice`: what that
 * message tells the user to do — wait, or give another --out to a command that takes one. Releasing it removes the lock
 * file and then each directory it created that is still empty, innermost first.
 */
export function acquireRunLock(
  dir: string,
  command: string,
  advice = 'wait for it to finish or give another --out',
): RunLock {
  const created: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) created.push(d);
  try {
    makeDirectories(dir);
  } catch (e) {
    throw unwritable(dir, e);
  }
  const path = join(dir, LOCK_FILE);
  const content: LockContent = {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    command,
  };
  // Two attempts: the second after removing a stale lock (if another process took it over meanwhile, we lose).
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, JSON.stringify(content) + '\n');
      } finally {
        closeSync(fd);
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritable(dir, e);
      const by = holder(path);
      if (by !== null || attempt > 0)
        throw new InvalidInputError(
          `${dir} is in use by ${by ?? 'another recur run'}; ${advice} ` +
            `(if no recur run is using it, delete ${path})`,
        );
      unlinkIfPresent(path);
    }
  }
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    heldLocks.splice(heldLocks.indexOf(release), 1);
    const lock = existsSync(path) ? readLock(path) : null;
    if (lock?.pid === process.pid && lock.host === content.host) unlinkSync(path);
    for (const d of created) {
      if (!existsSync(d) || readdirSync(d).length > 0) break;
      rmdirSync(d);
    }
  };
  heldLocks.push(release);
  if (!exitHandlerInstalled) {
    process.on('exit', releaseAllAtExit);
    exitHandlerInstalled = true;
  }
  return { release };
}
