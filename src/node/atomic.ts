/** Crash-safe file writes: write a temp file in the same directory, fsync it, then rename over the target. */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * `mkdir -p`: makes `dir` and its missing parents. Not `mkdirSync(dir, { recursive: true })`, which spins forever
 * where mkdir keeps answering ENOENT (any new name under /proc); here that is an ENOENT error naming the path.
 */
export function makeDirectories(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      // Made meanwhile by another process (a parallel ensemble member): what was asked for is there.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !existsSync(d)) throw e;
    }
  }
}

/** The temp name a write of `target` (a bare file name) uses: `.<target>.<pid>.<ms>.tmp`, beside the target. */
export function atomicTempName(target: string, pid = process.pid, ms = Date.now()): string {
  return `.${target}.${pid}.${ms}.tmp`;
}

const TEMP_RE = /^\.(.+)\.(\d+)\.(\d+)\.tmp$/;

/** For a name made by `atomicTempName`: the target's name and the writer's pid; null for any other name. */
export function parseAtomicTempName(name: string): { target: string; pid: number } | null {
  const m = TEMP_RE.exec(name);
  return m ? { target: m[1], pid: Number(m[2]) } : null;
}

/** Whether a process of this pid runs on this host (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, owned by someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Test hook: with RECUR_TEST_KILL_IN_WRITE=N the process kills itself with SIGKILL during its N-th atomic write, after
 * the temp file is written and before the rename — a real kill -9 at the worst moment, for the crash tests.
 */
let writesBeforeKill = Number(process.env.RECUR_TEST_KILL_IN_WRITE ?? 0);
/**
 * Test hook: with RECUR_TEST_KILL_AFTER_WRITE=N the process kills itself with SIGKILL right after its N-th atomic
 * write (the file in place): between two steps of a save, or between a checkpoint and the log row after it.
 */
let writesBeforeKillAfter = Number(process.env.RECUR_TEST_KILL_AFTER_WRITE ?? 0);

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  prepareAtomicWrite(path, data).commit();
}

/** A write of a file whose bytes are in its temp file: `commit` renames it over the target, `abandon` deletes it. */
export interface PreparedWrite {
  commit(): void;
  abandon(): void;
}

/**
 * The first half of writeFileAtomic: writes and syncs the temp file. Two files that go together (a model's weights and
 * its model.json) are both prepared before either is committed, so that a kill between the two renames leaves the
 * second's temp file: the mark of a killed save, which tells the next start the first file is the killed run's.
 */
export function prepareAtomicWrite(path: string, data: Uint8Array | string): PreparedWrite {
  const tmp = join(dirname(path), atomicTempName(basename(path)));
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    // The user named `path`, not the temp file: a missing directory or a denied write is about theirs.
    const err = e as NodeJS.ErrnoException;
    if (err.path === tmp) err.path = path;
    throw err;
  }
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw e;
  }
  closeSync(fd);
  return {
    commit: () => {
      if (writesBeforeKill > 0 && --writesBeforeKill === 0) process.kill(process.pid, 'SIGKILL');
      renameSync(tmp, path);
      removeDeadWritersTemps(path);
      if (writesBeforeKillAfter > 0 && --writesBeforeKillAfter === 0) process.kill(process.pid, 'SIGKILL');
    },
    abandon: () => {
      try {
        unlinkSync(tmp);
      } catch {
        // already gone
      }
    },
  };
}

/**
 * Removes the temp files that writes of `path` by processes no longer running (kill -9, Ctrl-C) left beside it: the
 * write that replaced it makes them garbage, as large as the file (`recur convert` to a Keras file stopped mid-write
 * left one for good).
 */
function removeDeadWritersTemps(path: string): void {
  const dir = dirname(path);
  for (const n of readdirSync(dir)) {
    const t = parseAtomicTempName(n);
    if (t === null || t.target !== basename(path) || processAlive(t.pid)) continue;
    try {
      unlinkSync(join(dir, n));
    } catch {
      // gone meanwhile
    }
  }
}
