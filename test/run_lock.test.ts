/**
 * One run per run directory: a live run's lock refuses a second run (library and CLI), a dead run's lock (kill -9) is
 * taken over, another host's lock is respected, and the lock leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { makeDirectories } from '../src/node/atomic.js';
import { LOCK_FILE, acquireRunLock } from '../src/node/run_lock.js';
import { CLI, pseudoText, reviews, runCli } from './cli_helpers.js';

const root = mkdtempSync(join(tmpdir(), 'recur-lock-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A process that lives until killed (a stand-in for another run). */
function sleeper(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
}

function writeLock(dir: string, content: object | string): void {
  writeFileSync(join(dir, LOCK_FILE), typeof content === 'string' ? content : JSON.stringify(content));
}

async function waitFor(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the lock creates the directory, records this process, and release leaves nothing behind', () => {
  const dir = join(root, 'fresh', 'run');
  const lock = acquireRunLock(dir, 'recur train x');
  const content = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as Record<string, unknown>;
  assert.equal(content.pid, process.pid);
  assert.equal(content.command, 'recur train x');
  lock.release();
  assert.equal(existsSync(dir), false, 'a directory the lock created and nobody used is removed');
  lock.release(); // idempotent
});

test('release removes the missing parents it created too, innermost first, and only while they are empty', () => {
  const base = join(root, 'nested');
  const outer = acquireRunLock(join(base, 'a', 'b'), 'outer');
  const inner = acquireRunLock(join(base, 'a', 'b', 'members', '1'), 'inner');
  inner.release();
  assert.deepEqual(
    readdirSync(join(base, 'a', 'b')),
    [LOCK_FILE],
    'members/1 and members/ go with the inner lock',
  );
  outer.release();
  assert.equal(existsSync(base), false, 'every directory the outer lock made goes too');
  // A parent that holds something else stays.
  const lock = acquireRunLock(join(base, 'c', 'd'), 'x');
  writeFileSync(join(base, 'c', 'notes.txt'), 'mine');
  lock.release();
  assert.deepEqual(readdirSync(join(base, 'c')), ['notes.txt']);
});

test('at exit the locks still held are released newest first: nested run directories leave nothing behind', () => {
  const dir = join(root, 'at-exit');
  const script =
    `import { acquireRunLock } from ${JSON.stringify(new URL('../src/node/run_lock.js', import.meta.url).href)};\n` +
    `acquireRunLock(${JSON.stringify(join(dir, 'run'))}, 'outer');\n` +
    `acquireRunLock(${JSON.stringify(join(dir, 'run', 'members', '1'))}, 'inner');\n`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(existsSync(dir), false, 'the outer directory, emptied by the inner release, is removed');
});

test('release keeps a directory that existed before, and whatever was put in it', () => {
  const dir = join(root, 'kept');
  mkdirSync(dir);
  acquireRunLock(dir, 'a').release();
  assert.ok(existsSync(dir), 'an existing directory stays, even empty');
  const lock = acquireRunLock(dir, 'b');
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  lock.release();
  assert.deepEqual(readdirSync(dir), ['notes.txt']);
});

test('a live process holding the lock refuses the second run; once it is gone, the lock is taken over', async () => {
  const dir = join(root, 'live');
  const other = sleeper();
  try {
    await waitFor(() => other.pid !== undefined, 'the other process');
    mkdirSync(dir);
    writeLock(dir, { pid: other.pid, host: hostname(), started: 'then', command: 'recur train a' });
    assert.throws(
      () => acquireRunLock(dir, 'mine'),
      (e: Error) =>
        e instanceof InvalidInputError &&
        e.message.includes(`pid ${other.pid}`) &&
        e.message.includes('recur train a') &&
        e.message.includes('another --out'),
    );
  } finally {
    other.kill('SIGKILL');
  }
  await new Promise((r) => other.once('exit', r));
  const lock = acquireRunLock(dir, 'mine');
  assert.equal((JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number }).pid, process.pid);
  lock.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
});

test("another host's lock is respected; an unreadable lock is stale only once it is old", () => {
  const dir = join(root, 'host');
  mkdirSync(dir);
  writeFileSync(join(dir, 'keep'), '');
  writeLock(dir, { pid: 1, host: 'elsewhere.example', started: 'then', command: 'recur train' });
  assert.throws(() => acquireRunLock(dir, 'x'), /host elsewhere\.example/);
  writeLock(dir, '{"pid": 12');
  assert.throws(() => acquireRunLock(dir, 'x'), /starting right now/);
  const old = new Date(Date.now() - 60_000);
  utimesSync(join(dir, LOCK_FILE), old, old);
  acquireRunLock(dir, 'x').release();
  assert.deepEqual(readdirSync(dir), ['keep']);
});

test('recur train: a second run on a busy --out exits 2 naming the first; after kill -9 the directory is usable', async () => {
  const corpus = join(root, 'corpus.txt');
  writeFileSync(corpus, pseudoText(20_000, 3));
  const out = join(root, 'cli-run');
  const first = spawn(
    process.execPath,
    [
      CLI,
      'train',
      corpus,
      '--out',
      out,
      '--epochs',
      '1000',
      '--units',
      '8',
      '--threads',
      '1',
      '-q',
      '--no-samples',
    ],
    { stdio: 'ignore' },
  );
  try {
    await waitFor(() => existsSync(join(out, LOCK_FILE)), 'the first run to take the lock');
    const second = runCli(['train', corpus, '--out', out, '--epochs', '1', '-q']);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`in use by recur run pid ${first.pid}`));
    assert.doesNotMatch(second.stderr, /at .*\.js:\d+/, 'no stack trace');
    assert.ok(existsSync(join(out, LOCK_FILE)), "the refused run leaves the first run's lock alone");
  } finally {
    first.kill('SIGKILL');
  }
  await new Promise((r) => first.once('exit', r));
  assert.ok(existsSync(join(out, LOCK_FILE)), 'kill -9 leaves a stale lock');
  const third = runCli([
    'train',
    corpus,
    '--out',
    out,
    '--overwrite',
    '--epochs',
    '1',
    '--steps-per-epoch',
    '2',
    '--units',
    '8',
    '--threads',
    '1',
    '-q',
    '--no-samples',
  ]);
  assert.equal(third.code, 0, third.stderr);
  assert.equal(existsSync(join(out, LOCK_FILE)), false, 'a finished run removes its lock');
  assert.ok(existsSync(join(out, 'model.json')));
});

test('an --out no directory can be made in fails at once, exit 2 naming it (Node’s recursive mkdir spins under /proc)', () => {
  const text = join(root, 'proc-corpus.txt');
  writeFileSync(text, pseudoText(4_000, 5));
  const labelled = join(root, 'proc-reviews.csv');
  writeFileSync(labelled, reviews(40, 5));
  const pairs = join(root, 'proc-pairs.tsv');
  writeFileSync(pairs, Array.from({ length: 40 }, (_, i) => `w${i}\tW${i}`).join('\n') + '\n');
  const series = join(root, 'proc-series.csv');
  writeFileSync(
    series,
    ['value', ...Array.from({ length: 60 }, (_, i) => String(10 + (i % 12)))].join('\n') + '\n',
  );
  const missing = `/proc/recur-test-${process.pid}`;
  const runs: string[][] = [
    ['train', text, '--epochs', '1', '--steps-per-epoch', '1', '--units', '8'],
    ['classify', 'train', labelled, '--epochs', '1', '--units', '8'],
    ['seq2seq', 'train', pairs, '--epochs', '1', '--units', '8'],
    ['forecast', series, '--method', 'theta', '--season', '12'],
  ];
  for (const args of runs) {
    const r = runCli([...args, '--out', `${missing}/run`, '--threads', '1', '-q'], { timeout: 30_000 });
    assert.equal(r.signal, null, `${args[0]}: not killed by the timeout`);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(
      r.stderr,
      `recur: ${missing}/run: recur cannot write there (a directory cannot be created there); give a directory it can write to\n`,
      args.join(' '),
    );
  }
});

test('makeDirectories makes missing parents, accepts an existing directory, refuses a file in the way', () => {
  const deep = join(root, 'a', 'b', 'c');
  makeDirectories(deep);
  assert.ok(existsSync(deep));
  makeDirectories(deep);
  makeDirectories(join(root, 'a', '.', 'b', '..', 'b'));
  writeFileSync(join(root, 'a', 'file'), 'x');
  assert.throws(() => makeDirectories(join(root, 'a', 'file', 'd')), { code: 'ENOTDIR' });
});
