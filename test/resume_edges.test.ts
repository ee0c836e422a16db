/**
 * Edges of "nothing is lost" the main resume tests (resume.test.ts, classify_ensemble.test.ts) do not reach: a kill -9
 * between the first epoch's best-model save and its checkpoint, and the model files of a resumed seed ensemble (the
 * weights were equal, but a member's layer names and its settings' key order depended on the process that trained it).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, pseudoText, reviews, runCli, spellings, TINY_TEXT_MODEL } from './cli_helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'recur-resume-edges-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('recur train: kill -9 after the first best model, before the first checkpoint', () => {
  const flags = [
    ...TINY_TEXT_MODEL,
    '--steps-per-epoch',
    '4',
    '--epochs',
    '2',
    '--validation-split',
    '0',
    '--seed',
    '3',
  ];

  it('--resume names the way to start afresh that works (--overwrite), and that way gives the uninterrupted run', () => {
    const text = join(dir, 'book.txt');
    writeFileSync(text, pseudoText(3000, 1));
    const reference = join(dir, 'reference');
    assert.equal(runCli(['train', text, '--out', reference, ...flags]).code, 0);
    const out = join(dir, 'killed');
    // Writes 1–2 are the best model (weights, model.json); 3 is the first checkpoint's weights.
    const killed = runCli(['train', text, '--out', out, ...flags], {
      env: { RECUR_TEST_KILL_IN_WRITE: '3' },
    });
    assert.equal(killed.signal, 'SIGKILL');
    const resumed = runCli(['train', text, '--out', out, ...flags, '--resume']);
    assert.equal(resumed.code, 2, resumed.stderr);
    assert.match(resumed.stderr, /holds no checkpoint to resume .* with --overwrite instead of --resume/);
    // What the old message advised (the same command without --resume) is refused: the directory holds a model.
    assert.equal(runCli(['train', text, '--out', out, ...flags]).code, 2);
    const again = runCli(['train', text, '--out', out, ...flags, '--overwrite']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      readFileSync(join(out, 'log.csv'), 'utf8'),
      readFileSync(join(reference, 'log.csv'), 'utf8'),
    );
  });
});

describe('Ctrl-C in the setup of a --resume with nothing left to train', () => {
  // It said "training stops after its first batch and saves a checkpoint", which a finished run never trains, and went
  // on: train to "Done" (exit 0), classify train to its test scores (the Ctrl-C never handled), seq2seq train to a
  // "Saved … at the end of epoch 1. Continue with: … --resume" that trains nothing. It stops as a Ctrl-C after
  // training does: the model in place, no test scores, exit 130.
  const cases: { name: string; args: (out: string) => string[]; scores: boolean }[] = [
    {
      name: 'train',
      args: (out) => [
        ...['train', join(dir, 'finished.txt'), '--out', out, ...TINY_TEXT_MODEL.filter((a) => a !== '-q')],
        ...['--epochs', '1'],
      ],
      scores: false,
    },
    {
      name: 'classify train',
      args: (out) => [
        ...['classify', 'train', join(dir, 'finished.csv'), '--out', out, '--units', '6', '--embedding-dim'],
        ...['6', '--batch-size', '16', '--epochs', '1', '--threads', '1'],
      ],
      scores: true,
    },
    {
      name: 'seq2seq train',
      args: (out) => [
        ...['seq2seq', 'train', join(dir, 'finished.tsv'), '--out', out, '--source-tokens', 'chars'],
        ...['--target-tokens', 'words', '--units', '6', '--embedding-dim', '4', '--batch-size', '32'],
        ...['--epochs', '1', '--threads', '1'],
      ],
      scores: true,
    },
  ];
  before(() => {
    writeFileSync(join(dir, 'finished.txt'), pseudoText(2000, 2));
    writeFileSync(join(dir, 'finished.csv'), reviews(120, 2));
    writeFileSync(join(dir, 'finished.tsv'), spellings(60, 2));
  });
  for (const c of cases)
    it(`${c.name}: stops before the test scores, saying so, exit 130`, () => {
      const out = join(dir, `finished-${c.name.replace(/\W+/g, '-')}`);
      const first = runCli([...c.args(out), '-q']);
      assert.equal(first.code, 0, first.stderr);
      const checkpoint = readFileSync(join(out, 'checkpoint', 'model.json'), 'utf8');
      // A real SIGINT as the lock is taken.
      const r = runCli([...c.args(out), '--resume'], { env: { RECUR_TEST_INTERRUPT_AT_START: '1' } });
      assert.equal(r.code, 130, r.stderr);
      assert.doesNotMatch(r.stderr, /first batch|Continue with/);
      assert.match(
        r.stderr,
        c.scores
          ? /Interrupted after training: the model in \S+ is saved; stopped before the test scores/
          : /Interrupted after training: the model in \S+ is saved\n/,
      );
      assert.doesNotMatch(r.stderr, /^Test|^Done/m);
      assert.equal(r.stdout, '', 'no test scores');
      assert.equal(readFileSync(join(out, 'checkpoint', 'model.json'), 'utf8'), checkpoint);
      assert.ok(!existsSync(join(out, 'recur.lock')), 'the lock is released');
      // Still the finished run: a --resume trains nothing and ends as one.
      const again = runCli([...c.args(out), '--resume', '-q']);
      assert.equal(again.code, 0, again.stderr);
    });
});

describe('a kill inside the first save', () => {
  it("leaves weights without a model.json that a new start takes as the killed run's, not the user's", () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'recur-killed-save-'));
    try {
      const text = join(dir2, 'book.txt');
      writeFileSync(text, pseudoText(3000, 1));
      const args = ['train', text, '--units', '8', '--maxlen', '10', '--threads', '1', '--no-samples', '-q'];
      const more = ['--steps-per-epoch', '4', '--epochs', '2', '--validation-split', '0', '--seed', '3'];
      const reference = join(dir2, 'reference');
      assert.equal(runCli([...args, ...more, '--out', reference]).code, 0);
      const out = join(dir2, 'killed');
      // Write 1 is the best model's weights, write 2 its model.json: killed before that one's rename.
      const killed = runCli([...args, ...more, '--out', out], { env: { RECUR_TEST_KILL_IN_WRITE: '2' } });
      assert.equal(killed.signal, 'SIGKILL');
      assert.ok(readdirSync(out).some((n) => /^weights-[0-9a-f]+\.bin$/.test(n)));
      assert.ok(!readdirSync(out).includes('model.json'));
      const resumed = runCli([...args, ...more, '--out', out, '--resume']);
      assert.equal(resumed.code, 2);
      assert.match(resumed.stderr, /run the same command without --resume to start afresh/);
      const again = runCli([...args, ...more, '--out', out]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(
        readFileSync(join(out, 'log.csv'), 'utf8'),
        readFileSync(join(reference, 'log.csv'), 'utf8'),
      );
      assert.equal(
        readdirSync(out).filter((n) => n.startsWith('weights-')).length,
        1,
        'the orphan weights went',
      );
      // Without a killed save's temp file beside it, a weights file in a directory with no model is the user's.
      const users = join(dir2, 'users');
      mkdirSync(users);
      writeFileSync(join(users, 'weights-00ff.bin'), 'mine');
      assert.equal(runCli([...args, ...more, '--out', users]).code, 2);
      assert.equal(readFileSync(join(users, 'weights-00ff.bin'), 'utf8'), 'mine');
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});

describe('a kill inside the first checkpoint save (Ctrl-C in epoch 1, then kill -9 during the save)', () => {
  const text = (): string => join(dir, 'first-save.txt');
  const recipes = {
    keras: [...TINY_TEXT_MODEL, '--validation-split', '0'],
    'char-rnn': [
      '--recipe',
      'char-rnn',
      '--units',
      '8',
      '--layers',
      '1',
      '--batch-size',
      '4',
      '--seq-length',
      '8',
      '--validation-split',
      '0',
      '--threads',
      '1',
      '--no-samples',
      '-q',
    ],
  };
  const more = ['--steps-per-epoch', '6', '--epochs', '2', '--seed', '5'];
  before(() => writeFileSync(text(), pseudoText(3000, 4)));

  // A checkpoint save writes the char-rnn streams' states (write 1 of the save), the weights, then model.json; the keras
  // recipe's has no states. `write` is the save's write the kill comes in.
  for (const [recipe, write] of [
    ['keras', 2],
    ['char-rnn', 2],
    ['char-rnn', 3],
  ] as const) {
    it(`${recipe}, killed in write ${write} of the save: a start goes ahead, and so does one after it is killed too`, () => {
      const args = ['train', text(), ...recipes[recipe], ...more];
      const reference = join(dir, `first-save-${recipe}-${write}-reference`);
      assert.equal(runCli([...args, '--out', reference]).code, 0);
      const out = join(dir, `first-save-${recipe}-${write}`);
      const killed = runCli([...args, '--out', out], {
        env: { RECUR_TEST_INTERRUPT_AFTER: '2', RECUR_TEST_KILL_IN_WRITE: String(write) },
      });
      assert.equal(killed.signal, 'SIGKILL');
      assert.ok(!existsSync(join(out, 'checkpoint', 'model.json')));
      // The run that takes the killed save's files over is killed before its own first save.
      const again = runCli([...args, '--out', out], { env: { RECUR_TEST_KILL_AFTER: '2' } });
      assert.equal(again.signal, 'SIGKILL', again.stderr);
      assert.deepEqual(readdirSync(join(out, 'checkpoint')), [], "the killed save's files went with it");
      const last = runCli([...args, '--out', out]);
      assert.equal(last.code, 0, last.stderr);
      assert.equal(
        readFileSync(join(out, 'log.csv'), 'utf8'),
        readFileSync(join(reference, 'log.csv'), 'utf8'),
      );
    });
  }

  it("a states file beside no killed save's temp file is the user's: refused, and kept", () => {
    const out = join(dir, 'first-save-users-states');
    mkdirSync(join(out, 'checkpoint'), { recursive: true });
    writeFileSync(join(out, 'checkpoint', 'states-00ff.bin'), 'mine');
    const r = runCli(['train', text(), ...recipes['char-rnn'], ...more, '--out', out]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /states-00ff\.bin is not part of a recur model here/);
    assert.equal(readFileSync(join(out, 'checkpoint', 'states-00ff.bin'), 'utf8'), 'mine');
    // Nor is a file of a name no save gives, beside a killed save's temp file (of a pid no process can have).
    const old = join(dir, 'first-save-users-weights');
    mkdirSync(old);
    writeFileSync(join(old, `.model.json.${2 ** 22 + 1}.1.tmp`), '{}');
    writeFileSync(join(old, 'weights.bin'), 'mine');
    const o = runCli(['train', text(), ...recipes.keras, ...more, '--out', old]);
    assert.equal(o.code, 2);
    assert.match(o.stderr, /weights\.bin is not part of a recur model here/);
    assert.equal(readFileSync(join(old, 'weights.bin'), 'utf8'), 'mine');
  });
});

describe('recur convert stopped inside its write (kill -9; Ctrl-C alike)', () => {
  it("leaves a temp file the next write of the same file removes, and no one else's", () => {
    const model = join(dir, 'convert-source');
    const text = join(dir, 'convert.txt');
    writeFileSync(text, pseudoText(2000, 5));
    const trained = runCli([
      'train',
      text,
      '--out',
      model,
      ...TINY_TEXT_MODEL,
      '--epochs',
      '1',
      '--steps-per-epoch',
      '2',
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    const where = join(dir, 'converted');
    mkdirSync(where);
    const temps = (d: string): string[] => readdirSync(d).filter((n) => n.endsWith('.tmp'));
    // A Keras file (one write), and a model directory killed in its model.json (its second write).
    for (const [target, write, at] of [
      [join(where, 'book.h5'), '1', where],
      [join(where, 'book-dir'), '2', join(where, 'book-dir')],
    ] as const) {
      const killed = runCli(['convert', model, target], { env: { RECUR_TEST_KILL_IN_WRITE: write } });
      assert.equal(killed.signal, 'SIGKILL');
      assert.equal(temps(at).length, 1, 'the killed write left its temp file');
      const again = runCli(['convert', model, target, '--overwrite']);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(temps(at), [], `${target}: the killed write's temp file went`);
    }
    // Names like a temp file's, of another target or of a running process (this one): not garbage of this write.
    const others = [`.other.h5.${2 ** 22 + 1}.1.tmp`, `.book.h5.${process.pid}.1.tmp`];
    for (const n of others) writeFileSync(join(where, n), 'mine');
    assert.equal(runCli(['convert', model, join(where, 'book.h5'), '--overwrite']).code, 0);
    assert.deepEqual(temps(where).sort(), others.sort());
  });
});

/** Every file of a run directory, by path, weights files under one name (their names are random per save). */
function filesOf(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const path = join(rel, e.name);
      if (e.isDirectory()) walk(path);
      else
        files.set(
          path.replace(/weights-[0-9a-f]+\.bin/, 'weights.bin'),
          readFileSync(join(root, path), 'latin1')
            .replace(/weights-[0-9a-f]+\.bin/g, 'weights.bin')
            .replace(/"weightsManifest": "[0-9a-f]{64}"/, '"weightsManifest": "H"')
            // A checkpoint's history keeps each epoch's timing, which no two runs share.
            .replace(/"(seconds|[a-z_]+_per_sec)": [-+.e0-9]+/g, '"$1": 0'),
        );
    }
  };
  walk('');
  return files;
}

describe('recur classify train --ensemble: a resumed run writes the files of an uninterrupted one', () => {
  const flags = [
    '--ensemble',
    '2',
    '--epochs',
    '2',
    '--units',
    '8',
    '--embedding-dim',
    '8',
    '--batch-size',
    '16',
    '--threads',
    '1',
    '--seed',
    '3',
    '-q',
  ];

  it('byte for byte, model.json included, after kill -9 in member 1 or member 2', () => {
    const csv = join(dir, 'reviews.csv');
    writeFileSync(csv, reviews(160, 1));
    const reference = join(dir, 'ensemble');
    assert.equal(runCli(['classify', 'train', csv, '--out', reference, ...flags]).code, 0);
    const expected = filesOf(reference);
    // Killed in its first write, ensemble.json: nothing to resume, and the message says how to start.
    const first = join(dir, 'killed-1');
    assert.equal(
      runCli(['classify', 'train', csv, '--out', first, ...flags], { env: { RECUR_TEST_KILL_IN_WRITE: '1' } })
        .signal,
      'SIGKILL',
    );
    const nothing = runCli(['classify', 'train', csv, '--out', first, ...flags, '--resume']);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /holds no seed ensemble .*; .* run the same command without --resume$/m);
    assert.equal(runCli(['classify', 'train', csv, '--out', first, ...flags]).code, 0);
    // Write 1 is ensemble.json; then 4 a member epoch (best model, checkpoint: weights and model.json each).
    for (const write of [7, 12]) {
      const out = join(dir, `killed-${write}`);
      const killed = runCli(['classify', 'train', csv, '--out', out, ...flags], {
        env: { RECUR_TEST_KILL_IN_WRITE: String(write) },
      });
      assert.equal(killed.signal, 'SIGKILL');
      const resumed = runCli(['classify', 'train', '--out', out, '--resume', '--threads', '1', '-q']);
      assert.equal(resumed.code, 0, resumed.stderr);
      const got = filesOf(out);
      assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort());
      // Layer names and the settings' key order were the differences: member 2 of one process was "embedding_1".
      for (const [path, content] of expected)
        assert.ok(got.get(path) === content, `kill in write ${write}: ${path} differs`);
    }
  });
});

describe('recur forecast --out: one run per directory', () => {
  it('a second run saving into the directory of a running one is refused (exit 2), not left to replace its forecaster', async () => {
    const csv = join(dir, 'monthly.csv');
    const rows = ['month,value'];
    for (let i = 0; i < 72; i++)
      rows.push(
        `${1970 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')},${100 + i + 10 * Math.sin(i / 2)}`,
      );
    writeFileSync(csv, rows.join('\n') + '\n');
    const out = join(dir, 'forecaster');
    const network = [
      'forecast',
      csv,
      '--method',
      'network',
      '--seeds',
      '2',
      '--epochs',
      '400',
      '--holdout',
      '0',
    ];
    const first = spawn(
      process.execPath,
      [CLI, ...network, '--folds', '2', '--threads', '1', '-q', '--out', out],
      {
        stdio: 'ignore',
      },
    );
    const firstExit = new Promise<number | null>((done) => first.on('exit', (code) => done(code)));
    // The first run holds the directory's lock from its start (at most 10 s to start on a busy machine).
    for (let t = 0; t < 500 && !existsSync(join(out, 'recur.lock')); t++)
      await new Promise((r) => setTimeout(r, 20));
    // Without the lock, this quick run saved its theta forecaster first and the network run then replaced it.
    const second = runCli(['forecast', csv, '--method', 'theta', '--holdout', '0', '-q', '--out', out]);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, /is in use by recur run pid \d+/);
    assert.equal(await firstExit, 0);
    assert.match(readFileSync(join(out, 'forecaster.json'), 'utf8'), /"method": "network"/);
    assert.ok(!existsSync(join(out, 'recur.lock')), 'the lock goes with its run');
  });
});

describe('an --out recur cannot write to', () => {
  const commands = (text: string, out: string): string[][] => [
    ['train', text, '--units', '4', '--epochs', '1', '--no-samples', '--threads', '1', '-q', '--out', out],
    ['forecast', join(dir, 'monthly.csv'), '--method', 'theta', '--holdout', '0', '-q', '--out', out],
  ];

  it('is bad input (exit 2) naming the directory and why, checked before any work, for training and forecast', () => {
    const text = join(dir, 'small.txt');
    writeFileSync(text, pseudoText(2000, 2));
    writeFileSync(
      join(dir, 'monthly.csv'),
      'month,value\n' +
        Array.from(
          { length: 48 },
          (_, i) =>
            `${2000 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')},${100 + (i % 12) + i}`,
        ).join('\n') +
        '\n',
    );
    const targets: [string, RegExp][] = [];
    // A recursive mkdir under /proc never returned: the run hung before it started.
    if (existsSync('/proc/self')) targets.push(['/proc/recur-test-out', /cannot write there/]);
    // A read-only directory (a read-only bind mount, where this test may mount: root on Linux) was exit 1 with EROFS.
    const ro = join(dir, 'read-only');
    const source = join(dir, 'read-only-source');
    for (const d of [ro, source]) spawnSync('mkdir', ['-p', d]);
    const mounted =
      process.getuid?.() === 0 &&
      spawnSync('mount', ['--bind', source, ro]).status === 0 &&
      spawnSync('mount', ['-o', 'remount,bind,ro', ro]).status === 0;
    if (mounted) targets.push([ro, /read-only file system/], [join(ro, 'sub'), /read-only file system/]);
    try {
      for (const [out, why] of targets)
        for (const args of commands(text, out)) {
          const r = runCli(args, { timeout: 30_000 });
          assert.equal(r.code, 2, `${args[0]} --out ${out}: ${r.stderr}`);
          assert.match(r.stderr, new RegExp(`^recur: ${out}: recur cannot write there \\(`));
          assert.match(r.stderr, why);
        }
    } finally {
      if (mounted) spawnSync('umount', [ro]);
    }
  });
});

describe('recur train --overwrite and files of the names recur gives its JSON run files', () => {
  it("keeps a user's ensemble.json and joint-ngram.json (and members/), refusing the run before deleting anything", () => {
    const text = join(dir, 'story.txt');
    writeFileSync(text, pseudoText(2000, 4));
    const out = join(dir, 'with-users-json');
    const flags = [
      '--units',
      '4',
      '--epochs',
      '1',
      '--no-samples',
      '--threads',
      '1',
      '-q',
      '--steps-per-epoch',
      '2',
    ];
    assert.equal(runCli(['train', text, '--out', out, ...flags]).code, 0);
    const model = readFileSync(join(out, 'model.json'), 'utf8');
    writeFileSync(join(out, 'ensemble.json'), '{"mine": 1}\n');
    writeFileSync(join(out, 'joint-ngram.json'), 'my n-gram notes\n');
    mkdirSync(join(out, 'members', '1'), { recursive: true });
    writeFileSync(join(out, 'members', '1', 'log.csv'), 'my log\n');
    // They were taken for a seed ensemble's files and deleted, with the members' "run files".
    const r = runCli(['train', text, '--out', out, ...flags, '--overwrite']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /ensemble\.json is not a file recur wrote/);
    assert.equal(readFileSync(join(out, 'ensemble.json'), 'utf8'), '{"mine": 1}\n');
    assert.equal(readFileSync(join(out, 'joint-ngram.json'), 'utf8'), 'my n-gram notes\n');
    assert.equal(readFileSync(join(out, 'members', '1', 'log.csv'), 'utf8'), 'my log\n');
    assert.equal(
      readFileSync(join(out, 'model.json'), 'utf8'),
      model,
      'nothing of recur deleted before the refusal',
    );
  });
});
