/**
 * Seeded fuzzing of a run directory's lock file (recur.lock, src/node/run_lock.ts), which every training command reads
 * before it writes: damaged bytes and damaged fields (pid, host, times of other types or out of range). Each either
 * gives the lock to this process (a stale or unreadable old lock is taken over) or refuses with an InvalidInputError
 * naming the lock file — never a raw error. A lock naming no process (pid 0, -1, 1.5) is damaged, judged by its age: process.kill(0, 0)
 * tests this process's own group, so a lock with pid 0 held the directory forever.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import { LOCK_FILE, acquireRunLock } from '../src/node/run_lock.js';
import { mutateBytes } from './fuzz_helpers.js';

const SEED = 20261206;
const MUTATIONS = 200;
const root = mkdtempSync(join(tmpdir(), 'recur-lock-fuzz-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A lock as a finished run (a process that is gone) left it. */
const STALE = {
  pid: 2 ** 22 + 12345,
  host: hostname(),
  started: '2026-01-01T00:00:00.000Z',
  command: 'recur train',
};
const ODD: unknown[] = [
  undefined,
  null,
  0,
  -1,
  1.5,
  1e308,
  '',
  'x',
  '123',
  [],
  {},
  true,
  hostname(),
  'other-host',
];

describe('recur.lock (seeded fuzz)', () => {
  it(`${MUTATIONS} damaged lock files: taken over, or refused naming the lock file`, () => {
    const rng = new Random(SEED);
    for (let c = 0; c < MUTATIONS; c++) {
      const dir = join(root, `run-${c}`);
      mkdirSync(dir);
      const path = join(dir, LOCK_FILE);
      let what: string;
      if (rng.next() < 0.5) {
        const m = mutateBytes(new TextEncoder().encode(JSON.stringify(STALE) + '\n'), rng);
        writeFileSync(path, m.bytes);
        what = m.name;
      } else {
        const lock: Record<string, unknown> = { ...STALE };
        const key = ['pid', 'host', 'started', 'command'][rng.int(4)];
        lock[key] = ODD[rng.int(ODD.length)];
        writeFileSync(path, JSON.stringify(lock));
        what = `${key} = ${JSON.stringify(lock[key])}`;
      }
      // Half of them written just now (a run that may be starting), half long ago.
      const fresh = rng.next() < 0.5;
      if (!fresh) utimesSync(path, new Date(0), new Date(0));
      const where = `seed ${SEED} case ${c} (${what}, ${fresh ? 'fresh' : 'old'})`;
      try {
        const lock = acquireRunLock(dir, 'fuzz');
        assert.equal((JSON.parse(readFileSync(path, 'utf8')) as { pid: number }).pid, process.pid, where);
        lock.release();
        assert.ok(!existsSync(path), where);
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assert.ok(e instanceof InvalidInputError, `${where}: ${(e as Error).stack}`);
        assert.ok(e.message.includes(path), `${where}: ${e.message}`);
      }
    }
  });

  it('regression: a lock whose pid names no process (0, -1, 1.5) is stale, not a run holding the directory', () => {
    for (const pid of [0, -1, 1.5]) {
      const dir = join(root, `pid-${pid}`);
      mkdirSync(dir);
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ ...STALE, pid }));
      // Judged as an unreadable lock is, by its age: one written long ago is no run's.
      utimesSync(join(dir, LOCK_FILE), new Date(0), new Date(0));
      acquireRunLock(dir, 'fuzz').release();
    }
  });
});
