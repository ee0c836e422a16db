/**
 * Nothing lost, and resume exact (issue #10, items 1–4 and the training half of 7): `--overwrite` deletes only recur's
 * own files; a run stopped by Ctrl-C or killed with SIGKILL at any batch — the first, a middle or the last of an
 * epoch, at an epoch boundary, during a file write — and resumed ends with the same weights, log.csv and best model
 * as an uninterrupted run; leftover temp files go; a non-finite loss ends the run with exit 1 and saves nothing.
 * The library half: fit / fitDataset continue an epoch exactly from `interruptedAt`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { Tensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import { LambdaCallback, ReduceLROnPlateau, type Logs } from '../src/models/callbacks.js';
import { Sequential, type BatchDataset, type EpochProgress } from '../src/models/sequential.js';
import { ModelCheckpoint } from '../src/node/callbacks.js';
import { loadModel } from '../src/node/model_io.js';
import { installWorkerPool, shutdownWorkerPool } from '../src/node/pool.js';
import { TextCorpus } from '../src/text/corpus.js';
import { buildTextModel, compileTextModel, textDatasets, textSettings } from '../src/text/recipes.js';
import { pseudoText, runCli, TINY_TEXT_MODEL, type CliResult } from './cli_helpers.js';

/** 6 batches an epoch, 3 epochs; no validation split, so ReduceLROnPlateau and the best model follow the train loss. */
const STEPS = 6;
const EPOCHS = 3;
const SMALL = [
  ...TINY_TEXT_MODEL,
  '--steps-per-epoch',
  String(STEPS),
  '--validation-split',
  '0',
  '--dropout',
  '0.1',
  '--lr',
  '0.05',
  '--seed',
  '5',
];

/** What a resumed run repeats: the settings come from the checkpoint, the run-time flags from the command line. */
const RESUME = ['--resume', '--threads', '1', '--no-samples', '-q', '--steps-per-epoch', String(STEPS)];

const run = (args: string[], env: Record<string, string> = {}, cwd?: string): CliResult =>
  runCli(args, { env, cwd });

const WHALE_WORDS = ['the', 'whale', 'sea', 'ship', 'and', 'of', 'a', 'captain', 'white', 'deep', 'storm'];
const makeText = (chars: number, seed: number): string => pseudoText(chars, seed, WHALE_WORDS);

/** Everything a run leaves that must match an uninterrupted run: weights of both models, the log, the best model. */
function outcome(dir: string): { log: string; best: string; bestWeights: string; ckptWeights: string } {
  const weightsOf = (d: string): string =>
    loadModel(d)
      .model.getWeights()
      .map((w) =>
        createHash('sha256')
          .update(Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength))
          .digest('hex'),
      )
      .join('|');
  // The weights file's name is random per save (and so is the manifest's hash, which covers it); everything else in
  // model.json must match.
  const bestJson = readFileSync(join(dir, 'model.json'), 'utf8')
    .replace(/weights-[0-9a-f]+\.bin/g, 'W')
    .replace(/"weightsManifest": "[0-9a-f]{64}"/, '"weightsManifest": "H"');
  return {
    log: readFileSync(join(dir, 'log.csv'), 'utf8'),
    best: bestJson,
    bestWeights: weightsOf(dir),
    ckptWeights: weightsOf(join(dir, 'checkpoint')),
  };
}

function tempFiles(dir: string): string[] {
  const all: string[] = [];
  for (const d of [dir, join(dir, 'checkpoint')])
    if (existsSync(d)) for (const f of readdirSync(d)) if (f.endsWith('.tmp')) all.push(join(d, f));
  return all;
}

/** One stop of a run: Ctrl-C (the test hook) or a real SIGKILL after that many of its own batches, or inside a write. */
interface Piece {
  after: number;
  kill?: 'batch' | 'write';
  /** Also SIGKILL inside this atomic write of the run (e.g. the save that Ctrl-C starts). */
  killInWrite?: number;
}

/**
 * Trains in pieces into `out`: each entry stops the run (see Piece), and the next piece resumes from the checkpoint
 * when there is one (else starts afresh); the last piece runs to the end.
 */
function trainPieces(
  out: string,
  common: string[],
  fresh: string[],
  resume: string[],
  pieces: Piece[],
): string {
  let started = false;
  for (const p of [...pieces, null]) {
    const env: Record<string, string> = {};
    if (p?.kill === 'batch') env.RECUR_TEST_KILL_AFTER = String(p.after);
    else if (p?.kill === 'write') env.RECUR_TEST_KILL_IN_WRITE = String(p.after);
    else if (p) env.RECUR_TEST_INTERRUPT_AFTER = String(p.after);
    if (p?.killInWrite) env.RECUR_TEST_KILL_IN_WRITE = String(p.killInWrite);
    const resuming = started && existsSync(join(out, 'checkpoint', 'model.json'));
    const r = run(['train', ...common, '--out', out, ...(resuming ? resume : fresh)], env);
    const what = `${out}: piece ${JSON.stringify(p)}`;
    if (!p) assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    else if (p.kill || p.killInWrite) assert.equal(r.signal, 'SIGKILL', `${what}: killed: ${r.stderr}`);
    else assert.equal(r.code, 130, `${what}: interrupted: ${r.stderr}`);
    started = true;
  }
  return out;
}

describe('recur train: exact resume after Ctrl-C and kill -9', () => {
  let dir = '';
  let book = '';
  let reference: ReturnType<typeof outcome>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-resume-'));
    book = join(dir, 'book.txt');
    writeFileSync(book, makeText(4000, 3));
    const r = run(['train', book, '--out', join(dir, 'straight'), '--epochs', String(EPOCHS), ...SMALL]);
    assert.equal(r.code, 0, r.stderr);
    reference = outcome(join(dir, 'straight'));
    assert.equal(reference.log.trim().split('\n').length, EPOCHS + 1);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const trainInPieces = (name: string, pieces: Piece[]): string =>
    trainPieces(join(dir, name), [book, '--epochs', String(EPOCHS)], SMALL, RESUME, pieces);

  it('Ctrl-C at the first, a middle and the last batch of an epoch (a resumed one too) and at epoch boundaries', () => {
    // Cumulative batches 1 (first of epoch 1), 3 (middle), 6 (last batch of the resumed epoch 1: an epoch
    // boundary), 12 (last of a fresh epoch 2), 13 (first of epoch 3), 17 (second to last).
    const out = trainInPieces('sigint', [
      { after: 1 },
      { after: 2 },
      { after: 3 },
      { after: 6 },
      { after: 1 },
      { after: 4 },
    ]);
    const got = outcome(out);
    assert.equal(got.log, reference.log, 'log.csv');
    assert.equal(got.best, reference.best, 'best model.json');
    assert.equal(got.bestWeights, reference.bestWeights, 'best model weights');
    assert.equal(got.ckptWeights, reference.ckptWeights, 'checkpoint weights');
  });

  it('on 2 threads too: Ctrl-C at the first, a middle and the last batch, and kill -9 mid-epoch', () => {
    const two = (args: string[]): string[] => args.map((a, i) => (args[i - 1] === '--threads' ? '2' : a));
    const common = [book, '--epochs', String(EPOCHS)];
    const straight = join(dir, 'straight-2');
    const r = run(['train', ...common, '--out', straight, ...two(SMALL)]);
    assert.equal(r.code, 0, r.stderr);
    const out = trainPieces(join(dir, 'pieces-2'), common, two(SMALL), two(RESUME), [
      { after: 1 },
      { after: 2 },
      { after: 3 },
      { after: 4, kill: 'batch' },
      { after: 7 },
    ]);
    assert.deepEqual(outcome(out), outcome(straight));
  });

  it('a bare --resume prints the samples the run was started with (--sample-length, --temperatures, --no-samples)', () => {
    // The samples are part of the run's log (its --json lines): a resumed run that fell back to the flags' defaults
    // printed 400 characters at four temperatures where the run printed 12 at two, or none.
    const withSamples = (args: string[]): string[] => [
      ...args.filter((a) => a !== '--no-samples' && a !== '-q'),
      '--json',
    ];
    const samplesOf = (stdout: string): string[] =>
      stdout
        .split('\n')
        .filter((l) => l.includes('"temperature"'))
        .map((l) => {
          const { epoch, temperature, text } = JSON.parse(l) as Record<string, unknown>;
          return JSON.stringify({ epoch, temperature, text });
        });
    const common = [book, '--epochs', String(EPOCHS)];
    const chosen = ['--sample-length', '12', '--temperatures', '0.5,1'];
    const straight = run([
      'train',
      ...common,
      '--out',
      join(dir, 'samples-straight'),
      ...withSamples(SMALL),
      ...chosen,
    ]);
    assert.equal(straight.code, 0, straight.stderr);
    const expected = samplesOf(straight.stdout);
    assert.equal(expected.length, 2 * EPOCHS);
    for (const [name, flags] of [
      ['samples', chosen],
      ['no-samples', ['--no-samples']],
    ] as const) {
      const out = join(dir, `samples-${name}`);
      const first = run(['train', ...common, '--out', out, ...withSamples(SMALL), ...flags], {
        RECUR_TEST_INTERRUPT_AFTER: String(STEPS + 2),
      });
      assert.equal(first.code, 130, first.stderr);
      const resumed = run(['train', book, '--out', out, '--resume', '--json']);
      assert.equal(resumed.code, 0, resumed.stderr);
      const got = [...samplesOf(first.stdout), ...samplesOf(resumed.stdout)];
      assert.deepEqual(got, name === 'samples' ? expected : [], name);
    }
  });

  it('every mid-epoch checkpoint carries the running sums and resumes', () => {
    const out = join(dir, 'sums');
    const r = run(['train', book, '--out', out, '--epochs', String(EPOCHS), ...SMALL], {
      RECUR_TEST_INTERRUPT_AFTER: String(STEPS + 2),
    });
    assert.equal(r.code, 130, r.stderr);
    const state = (loadModel(join(out, 'checkpoint')).metadata as { state: Record<string, unknown> }).state;
    assert.equal(state.epoch, 1);
    assert.equal(state.batch, 2);
    const p = state.epochProgress as { sums: Logs; seen: number; epochRng: number[] };
    assert.equal(p.seen, 2 * 16);
    assert.ok(Number.isFinite(p.sums.loss) && p.sums.loss > 0);
    assert.equal(p.epochRng.length, 4);
  });

  it('kill -9 mid-epoch, before any checkpoint, and during a file write: same result, no temp files left', () => {
    // Killed at batch 4 (no checkpoint yet: the next start trains afresh), then at batch 9 (mid epoch 2: resumes from
    // the epoch-1 checkpoint), then inside the 6th atomic write of the run (a temp file written, not yet renamed).
    const out = join(dir, 'kill');
    let r = run(['train', book, '--out', out, '--epochs', String(EPOCHS), ...SMALL], {
      RECUR_TEST_KILL_AFTER: '4',
    });
    assert.equal(r.signal, 'SIGKILL');
    r = run(['train', book, '--out', out, '--epochs', String(EPOCHS), ...SMALL], {
      RECUR_TEST_KILL_AFTER: '9',
    });
    assert.equal(r.signal, 'SIGKILL');
    r = run(['train', book, '--out', out, '--epochs', String(EPOCHS), ...RESUME], {
      RECUR_TEST_KILL_IN_WRITE: '3',
    });
    assert.equal(r.signal, 'SIGKILL');
    const left = tempFiles(out);
    assert.ok(left.length > 0, 'the kill inside a write leaves its temp file');
    // A user's files that merely look like temp files stay.
    writeFileSync(join(out, 'draft.tmp'), 'mine');
    writeFileSync(join(out, '.notes.txt.1.2.tmp'), 'mine');
    r = run(['train', book, '--out', out, '--epochs', String(EPOCHS), ...RESUME]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(tempFiles(out).sort(), [join(out, '.notes.txt.1.2.tmp'), join(out, 'draft.tmp')]);
    for (const f of left) assert.ok(!existsSync(f), `${f} removed`);
    const got = outcome(out);
    assert.equal(got.log, reference.log, 'log.csv');
    assert.equal(got.best, reference.best, 'best model.json');
    assert.equal(got.bestWeights, reference.bestWeights, 'best model weights');
    assert.equal(got.ckptWeights, reference.ckptWeights, 'checkpoint weights');
  });

  it('kill -9 right after an epoch-end checkpoint, before log.csv has its row', () => {
    // Epoch 1's writes: the best model (2 files), then the checkpoint (2 files); the kill comes in the 4th: the
    // checkpoint's model.json is written but not renamed, and log.csv has no row yet.
    const out = join(dir, 'kill-epoch-end');
    let r = run(['train', book, '--out', out, '--epochs', String(EPOCHS), ...SMALL], {
      RECUR_TEST_KILL_AFTER: '8',
    });
    assert.equal(r.signal, 'SIGKILL');
    r = run(['train', book, '--out', out, '--epochs', String(EPOCHS), ...RESUME], {
      RECUR_TEST_KILL_IN_WRITE: '4',
    });
    assert.equal(r.signal, 'SIGKILL');
    r = run(['train', book, '--out', out, '--epochs', String(EPOCHS), ...RESUME]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(tempFiles(out), []);
    assert.deepEqual(outcome(out), reference);
  });
});

/**
 * The char-rnn recipe: its stateful layers carry each stream's state from batch to batch — in the model's layers on one
 * thread, in the worker replicas' layers on several — so a mid-epoch checkpoint must hold those states for a resumed
 * run to be exact. 4 streams × 8 characters of a 250-character text (20% held out): 6 batches an epoch, 3 epochs.
 */
const CHAR_RNN_EPOCHS = 3;
function charRnnArgs(threads: number): { fresh: string[]; resume: string[] } {
  const runTime = ['--threads', String(threads), '--no-samples', '-q'];
  return {
    fresh: [
      '--recipe',
      'char-rnn',
      '--units',
      '8',
      '--layers',
      '2',
      '--batch-size',
      '4',
      '--seq-length',
      '8',
      '--validation-split',
      '0.2',
      '--dropout',
      '0.1',
      '--lr',
      '0.02',
      '--seed',
      '7',
      ...runTime,
    ],
    resume: ['--resume', ...runTime],
  };
}

for (const threads of [1, 2]) {
  describe(`recur train --recipe char-rnn --threads ${threads}: exact resume with the streams' carried states`, () => {
    let dir = '';
    let book = '';
    let reference: ReturnType<typeof outcome>;
    const { fresh, resume } = charRnnArgs(threads);
    const pieces = (name: string, list: Piece[]): string =>
      trainPieces(join(dir, name), [book, '--epochs', String(CHAR_RNN_EPOCHS)], fresh, resume, list);
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'recur-resume-charrnn-'));
      book = join(dir, 'book.txt');
      writeFileSync(book, makeText(250, 8).slice(0, 250));
      const out = join(dir, 'straight');
      const r = run(['train', book, '--out', out, '--epochs', String(CHAR_RNN_EPOCHS), ...fresh]);
      assert.equal(r.code, 0, r.stderr);
      reference = outcome(out);
      assert.equal(reference.log.trim().split('\n').length, CHAR_RNN_EPOCHS + 1);
      assert.match(reference.log.split('\n')[0], /val_loss/);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('Ctrl-C at the first, a middle and the last batch of an epoch (a resumed one too) and at epoch boundaries', () => {
      // Cumulative batches 1 (first of epoch 1), 3 (middle), 6 (last batch of the resumed epoch 1: an epoch
      // boundary), 12 (last of a fresh epoch 2), 13 (first of epoch 3), 17 (second to last).
      const out = pieces('sigint', [
        { after: 1 },
        { after: 2 },
        { after: 3 },
        { after: 6 },
        { after: 1 },
        { after: 4 },
      ]);
      assert.deepEqual(outcome(out), reference);
      assert.deepEqual(tempFiles(out), []);
    });

    it('kill -9 after a mid-epoch checkpoint, and inside each write of a Ctrl-C save', () => {
      // Ctrl-C after batch 2 (a checkpoint with states); killed after 3 more batches (the next run resumes at batch 2
      // again); Ctrl-C after 1 and killed inside the save's first write (the states file), then inside its last
      // (model.json: the new states and weights files are written, but the checkpoint still names the old ones);
      // killed after 4 (mid epoch 2: back to the epoch-1 checkpoint); then to the end.
      const out = pieces('kill', [
        { after: 2 },
        { after: 3, kill: 'batch' },
        { after: 1, killInWrite: 1 },
        { after: 1, killInWrite: 3 },
        { after: 4 },
        { after: 4, kill: 'batch' },
      ]);
      assert.deepEqual(outcome(out), reference);
      assert.deepEqual(tempFiles(out), []);
    });
  });
}

describe('recur train --recipe char-rnn: the carried states file of a checkpoint', () => {
  let dir = '';
  let book = '';
  const { fresh, resume } = charRnnArgs(1);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-states-'));
    book = join(dir, 'book.txt');
    writeFileSync(book, makeText(250, 8).slice(0, 250));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A run stopped by Ctrl-C after 2 batches: its checkpoint dir, model.json and states file. */
  function interrupted(name: string): { ckpt: string; json: Record<string, unknown>; states: string } {
    const out = join(dir, name);
    const r = run(['train', book, '--out', out, '--epochs', '2', ...fresh], {
      RECUR_TEST_INTERRUPT_AFTER: '2',
    });
    assert.equal(r.code, 130, r.stderr);
    const ckpt = join(out, 'checkpoint');
    const files = readdirSync(ckpt).filter((f) => /^states-[0-9a-f]+\.bin$/.test(f));
    assert.equal(files.length, 1, `one states file: ${readdirSync(ckpt).join(', ')}`);
    const json = JSON.parse(readFileSync(join(ckpt, 'model.json'), 'utf8')) as Record<string, unknown>;
    return { ckpt, json, states: join(ckpt, files[0]) };
  }
  const resumeRun = (ckpt: string): ReturnType<typeof run> =>
    run(['train', book, '--out', dirname(ckpt), '--epochs', '2', ...resume]);

  it('is named, sized and hashed in the checkpoint, one [streams, units] array per state of each stateful layer', () => {
    const { json, states } = interrupted('listed');
    const meta = json.userDefinedMetadata as { state: { epochProgress: { carriedStates: unknown } } };
    const cs = meta.state.epochProgress.carriedStates as {
      file: string;
      sha256: string;
      layers: ({ shapes: number[][] } | null)[];
    };
    assert.equal(join(dirname(states), cs.file), states);
    assert.equal(cs.sha256, createHash('sha256').update(readFileSync(states)).digest('hex'));
    // LSTM, Dropout, LSTM, Dropout, Dense: the LSTMs carry h and c for 4 streams of 8 units.
    assert.deepEqual(
      cs.layers.map((l) => l?.shapes ?? null),
      [
        [
          [4, 8],
          [4, 8],
        ],
        null,
        [
          [4, 8],
          [4, 8],
        ],
        null,
        null,
      ],
    );
    assert.equal(readFileSync(states).length, 4 * 4 * 8 * 4);
  });

  it('a damaged, truncated or missing states file, or one that does not fit the model, is refused (exit 2)', () => {
    const cases: [string, (c: ReturnType<typeof interrupted>) => void, RegExp][] = [
      [
        'damaged',
        (c) => {
          const b = readFileSync(c.states);
          b[5] ^= 0x40;
          writeFileSync(c.states, b);
        },
        /states-[0-9a-f]+\.bin: its sha256 does not match .*carriedStates\.sha256/,
      ],
      [
        'truncated',
        (c) => writeFileSync(c.states, readFileSync(c.states).subarray(0, 100)),
        /states-[0-9a-f]+\.bin: holds 100 bytes; the carried states listed in .* need 512/,
      ],
      ['missing', (c) => rmSync(c.states), /states-[0-9a-f]+\.bin: no such file/],
      [
        'other shape',
        (c) => {
          const m = c.json.userDefinedMetadata as {
            state: { epochProgress: { carriedStates: { layers: ({ shapes: number[][] } | null)[] } } };
          };
          m.state.epochProgress.carriedStates.layers[0] = { shapes: [[4, 16]] };
          writeFileSync(join(c.ckpt, 'model.json'), JSON.stringify(c.json));
        },
        /carriedStates\.layers\[0\]: layer 'lstm\w*' carries 2 states \[h, c\] of 4×8 values, the file lists 1 of 4×16/,
      ],
    ];
    for (const [name, damage, message] of cases) {
      const c = interrupted(name.replace(' ', '-'));
      damage(c);
      const r = resumeRun(c.ckpt);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message, name);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('--steps-per-epoch caps the char-rnn epochs too (it was ignored)', () => {
    // 6 batches an epoch uncapped; capped at 2, the 3rd batch of the run is the first of epoch 2.
    const out = join(dir, 'capped');
    const r = run(['train', book, '--out', out, '--epochs', '2', '--steps-per-epoch', '2', ...fresh], {
      RECUR_TEST_INTERRUPT_AFTER: '3',
    });
    assert.equal(r.code, 130, r.stderr);
    const state = (loadModel(join(out, 'checkpoint')).metadata as { state: { epoch: number; batch: number } })
      .state;
    assert.deepEqual([state.epoch, state.batch], [1, 1]);
  });

  it('--overwrite removes it with the other checkpoint files; an epoch-end checkpoint has none', () => {
    const c = interrupted('overwrite');
    writeFileSync(join(c.ckpt, 'states-notes.txt'), 'mine');
    const r = run(['train', book, '--out', dirname(c.ckpt), '--overwrite', '--epochs', '1', ...fresh]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      readdirSync(c.ckpt)
        .filter((f) => !/^weights-[0-9a-f]+\.bin$/.test(f))
        .sort(),
      ['model.json', 'states-notes.txt'],
    );
  });
});

describe('recur train --overwrite touches only recur files', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-overwrite-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const quick = ['--epochs', '1', ...SMALL.slice(0, -2), '--steps-per-epoch', '1'];

  it("keeps the user's files (the corpus itself among them) and replaces recur's own", () => {
    const out = join(dir, 'run');
    mkdirSync(out);
    const book = join(out, 'book.txt');
    writeFileSync(book, makeText(3000, 4));
    const r1 = run(['train', book, '--out', out, ...quick]);
    assert.equal(r1.code, 0, r1.stderr);
    writeFileSync(join(out, 'notes.md'), 'my notes');
    mkdirSync(join(out, 'samples'));
    writeFileSync(join(out, 'samples', 'a.txt'), 'kept');
    writeFileSync(join(out, 'checkpoint', 'README'), 'mine too');
    const before = readdirSync(out).sort();
    const r2 = run(['train', book, '--out', out, '--overwrite', ...quick, '--seed', '9']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(readFileSync(join(out, 'notes.md'), 'utf8'), 'my notes');
    assert.equal(readFileSync(join(out, 'samples', 'a.txt'), 'utf8'), 'kept');
    assert.equal(readFileSync(join(out, 'checkpoint', 'README'), 'utf8'), 'mine too');
    assert.equal(readFileSync(book, 'utf8'), makeText(3000, 4));
    const names = (l: string[]): string[] => l.map((n) => n.replace(/^weights-[0-9a-f]+/, 'weights')).sort();
    assert.deepEqual(
      names(readdirSync(out)),
      names(before),
      'the same names: recur files replaced, others kept',
    );
    assert.equal((loadModel(out).metadata.settings as { seed: number }).seed, 9, 'the new model');
  });

  it('refuses the working directory, the home directory and the root (exit 2, nothing deleted)', () => {
    const cwd = join(dir, 'cwd');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'model.json'), '{}');
    writeFileSync(join(cwd, 'book.txt'), makeText(3000, 5));
    const cases: [string, NodeJS.ProcessEnv, RegExp][] = [
      ['.', {}, /--overwrite: \. is the current working directory itself/],
      [cwd, { HOME: cwd }, /is your home directory/],
      ['/', {}, /--overwrite: \/ is the root of the file system/],
    ];
    for (const [out, env, message] of cases) {
      const home = env.HOME ? {} : { HOME: join(dir, 'elsewhere') };
      const r = run(
        ['train', 'book.txt', '--out', out, '--overwrite', ...quick],
        { ...home, ...env } as Record<string, string>,
        cwd,
      );
      assert.equal(r.code, 2, `${out}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.deepEqual(readdirSync(cwd).sort(), ['book.txt', 'model.json']);
    assert.equal(readFileSync(join(cwd, 'model.json'), 'utf8'), '{}');
  });
});

describe('recur train: a non-finite loss', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-nan-'));
    writeFileSync(join(dir, 'book.txt'), makeText(3000, 6));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // The test hook RECUR_TEST_POISON_AFTER=1 turns the weights non-finite after batch 1, as an overflow would.
  for (const steps of [2, 4]) {
    it(`stops with exit 1 and a clear message, saving no model (NaN on ${steps === 2 ? 'the last' : 'a middle'} batch of the epoch)`, () => {
      const out = join(dir, `nan-${steps}`);
      const r = run(
        [
          'train',
          join(dir, 'book.txt'),
          '--out',
          out,
          '--epochs',
          '2',
          ...SMALL,
          '--steps-per-epoch',
          String(steps),
        ],
        { RECUR_TEST_POISON_AFTER: '1' },
      );
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /recur: training stopped at epoch 1: the loss became NaN at batch 2 of the epoch; nothing from that epoch was saved/,
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.ok(!existsSync(join(out, 'model.json')), 'no best model');
      assert.ok(!existsSync(join(out, 'checkpoint', 'model.json')), 'no checkpoint of ruined weights');
    });
  }
});

describe('ModelCheckpoint never saves non-finite weights or values', () => {
  it('skips NaN weights even when the monitored value improves, and a NaN monitored value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-ckpt-'));
    try {
      const model = new Sequential({ seed: 1, layers: [new L.Dense({ units: 2, inputShape: [3] })] });
      model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
      model.build();
      const skipped: string[] = [];
      const ckpt = new ModelCheckpoint({
        filepath: join(dir, 'best'),
        monitor: 'loss',
        saveBestOnly: true,
        onSkip: (_e, reason) => skipped.push(reason),
      });
      ckpt.setModel(model);
      await ckpt.onEpochEnd(0, { loss: NaN });
      assert.ok(!existsSync(join(dir, 'best')));
      const w = model.getWeights();
      w[0].data[0] = NaN;
      model.setWeights(w);
      await ckpt.onEpochEnd(1, { loss: 1 });
      assert.ok(!existsSync(join(dir, 'best')), 'NaN weights are not the best model');
      assert.equal(ckpt.best, Infinity, 'nor do they count as the best');
      assert.equal(skipped.length, 2);
      w[0].data[0] = 0.5;
      model.setWeights(w);
      await ckpt.onEpochEnd(2, { loss: 2 });
      assert.ok(existsSync(join(dir, 'best', 'model.json')));
      assert.equal(ckpt.best, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ModelCheckpoint with a tie-break', () => {
  it('saves a later epoch that ties the best on the monitor and is better on the tie-break, and only such', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-ckpt-'));
    try {
      const model = new Sequential({ seed: 1, layers: [new L.Dense({ units: 2, inputShape: [3] })] });
      model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
      model.build();
      const saved: number[] = [];
      const ckpt = new ModelCheckpoint({
        filepath: join(dir, 'best'),
        monitor: 'val_wer',
        mode: 'min',
        saveBestOnly: true,
        tieBreak: 'val_ter',
        onSave: (_p, epoch) => saved.push(epoch),
      });
      ckpt.setModel(model);
      const epochs = [
        { val_wer: 1, val_ter: 0.9 }, // first: saved
        { val_wer: 1, val_ter: 0.7 }, // a tie, better token error: saved
        { val_wer: 1, val_ter: 0.8 }, // a tie, worse token error: not saved
        { val_wer: 0.9, val_ter: 0.95 }, // better on the monitor, whatever the tie-break: saved
        { val_wer: 0.9, val_ter: 0.95 }, // equal on both: not saved (the first stays, as Keras keeps it)
        { val_wer: 0.95, val_ter: 0.1 }, // worse on the monitor: not saved
      ];
      for (const [e, logs] of epochs.entries()) await ckpt.onEpochEnd(e, logs);
      assert.deepEqual(saved, [0, 1, 3]);
      assert.equal(ckpt.best, 0.9);
      assert.equal(ckpt.bestTieBreak, 0.95);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Sequential: resumeFrom continues an interrupted epoch exactly', () => {
  function makeModel(): Sequential {
    const model = new Sequential({
      seed: 11,
      layers: [new L.LSTM({ units: 6, inputShape: [5, 3], dropout: 0.2 }), new L.Dense({ units: 2 })],
    });
    model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    return model;
  }
  const rng = new Random(2);
  const N = 40;
  const x = new Tensor(
    Float32Array.from({ length: N * 15 }, () => rng.next() * 2 - 1),
    [N, 5, 3],
  );
  const y = new Tensor(
    Float32Array.from({ length: N * 2 }, () => rng.next()),
    [N, 2],
  );
  const args = { epochs: 3, batchSize: 8, threads: 1 }; // 5 batches an epoch

  async function straight(): Promise<{ losses: number[]; lrs: number[]; weights: Float32Array[] }> {
    const model = makeModel();
    const plateau = new ReduceLROnPlateau({ monitor: 'loss', patience: 0, factor: 0.5, minDelta: 1 });
    const h = await model.fit(x, y, { ...args, callbacks: [plateau] });
    return { losses: h.history.loss, lrs: h.history.lr, weights: model.getWeights().map((w) => w.data) };
  }

  for (const stopAt of [1, 3, 5, 6, 10, 14]) {
    it(`stopped after batch ${stopAt} of 15, resumed from the JSON of interruptedAt`, async () => {
      const want = await straight();
      const model = makeModel();
      const plateau = new ReduceLROnPlateau({ monitor: 'loss', patience: 0, factor: 0.5, minDelta: 1 });
      let seen = 0;
      const stopper = new LambdaCallback({
        onBatchEnd: () => {
          if (++seen === stopAt) model.stopTraining = true;
        },
      });
      const h1 = await model.fit(x, y, { ...args, callbacks: [plateau, stopper] });
      const losses = [...(h1.history.loss ?? [])];
      const lrs = [...(h1.history.lr ?? [])];
      const interrupted = model.interruptedAt;
      let resumeFrom: EpochProgress | undefined;
      let initialEpoch = h1.epoch.length;
      if (stopAt % 5 !== 0) {
        assert.ok(interrupted, 'a mid-epoch stop');
        assert.equal(interrupted.batch, stopAt % 5);
        resumeFrom = JSON.parse(JSON.stringify(interrupted)) as EpochProgress;
        initialEpoch = resumeFrom.epoch;
      } else {
        assert.equal(interrupted, null, 'a stop on the last batch finishes the epoch');
      }
      // The same model continues (the CLI tests cover the route through a checkpoint file). A fit resuming an
      // interrupted epoch keeps its callbacks' state; a new fit from an epoch's end (initialEpoch) starts them afresh,
      // as Keras's, so the plateau's state goes over as a checkpoint carries it.
      const again = model;
      let plateau2 = plateau;
      if (!resumeFrom) {
        plateau2 = new ReduceLROnPlateau({ monitor: 'loss', patience: 0, factor: 0.5, minDelta: 1 });
        plateau2.setState(
          JSON.parse(JSON.stringify(plateau.getState())) as ReturnType<typeof plateau.getState>,
        );
      }
      const h2 = await again.fit(x, y, {
        ...args,
        callbacks: [plateau2],
        ...(resumeFrom ? { resumeFrom } : { initialEpoch }),
      });
      assert.deepEqual([...losses, ...h2.history.loss], want.losses, 'epoch losses');
      assert.deepEqual([...lrs, ...h2.history.lr], want.lrs, 'learning rates');
      again.getWeights().forEach((w, i) => assert.deepEqual(w.data, want.weights[i], `weight ${i}`));
    });
  }

  it('refuses a resumeFrom that cannot be real', async () => {
    const model = makeModel();
    const bad: EpochProgress = { epoch: 0, batch: 9, sums: { loss: 1 }, seen: 72, epochRng: [1, 2, 3, 4] };
    await assert.rejects(
      model.fit(x, y, { ...args, resumeFrom: bad }),
      /resuming epoch 0 after batch 9, but the dataset served only 5 batches/,
    );
    await assert.rejects(
      model.fit(x, y, { ...args, initialEpoch: 1, resumeFrom: { ...bad, batch: 1 } }),
      /resumeFrom\.epoch \(0\) contradicts initialEpoch \(1\)/,
    );
  });
});

describe('Sequential: a stateful model resumes mid-epoch with its carried states (the char-rnn recipe in the library)', () => {
  before(() => installWorkerPool());
  after(() => shutdownWorkerPool());
  const corpus = TextCorpus.fromText(makeText(400, 12));
  const settings = textSettings('char-rnn', {
    units: 6,
    layers: 2,
    batchSize: 4,
    seqLength: 5,
    dropout: 0.1,
    validationSplit: 0,
    seed: 3,
  });
  const V = corpus.vocabulary.size;
  function makeModel(): { model: Sequential; data: BatchDataset } {
    const model = buildTextModel(settings, V);
    model.build();
    compileTextModel(model, settings);
    return { model, data: textDatasets(model, settings, corpus, null).train };
  }
  const epochs = 2;
  const perEpoch = makeModel().data.batchesPerEpoch!;

  for (const threads of [1, 2]) {
    for (const stopAt of [1, 3, perEpoch, perEpoch + 2]) {
      it(`threads ${threads}: stopped after batch ${stopAt} of ${epochs * perEpoch}, resumed from interruptedAt`, async () => {
        const a = makeModel();
        const want = await a.model.fitDataset(a.data, { epochs, threads });
        const { model, data } = makeModel();
        let seen = 0;
        const stopper = new LambdaCallback({
          onBatchEnd: () => {
            if (++seen === stopAt) model.stopTraining = true;
          },
        });
        const h1 = await model.fitDataset(data, { epochs, threads, callbacks: [stopper] });
        const at = model.interruptedAt;
        if (stopAt % perEpoch === 0) {
          assert.equal(at, null, 'a stop on the last batch finishes the epoch');
        } else {
          assert.ok(at?.states, 'a mid-epoch stop of a stateful model keeps its carried states');
          // Per layer, in order: the LSTMs carry h and c for every stream (joined from the threads' shards).
          assert.deepEqual(
            at.states.map((l) => l?.map((t) => t.shape) ?? null),
            [
              [
                [4, 6],
                [4, 6],
              ],
              null,
              [
                [4, 6],
                [4, 6],
              ],
              null,
              null,
            ],
          );
        }
        // The epoch restarts its streams from zero (the dataset resets them): only resumeFrom brings the states back.
        model.resetStates();
        const h2 = await model.fitDataset(data, {
          epochs,
          threads,
          ...(at ? { resumeFrom: at } : { initialEpoch: h1.epoch.length }),
        });
        assert.deepEqual([...(h1.history.loss ?? []), ...h2.history.loss], want.history.loss, 'epoch losses');
        const got = model.getWeights();
        a.model.getWeights().forEach((w, i) => assert.deepEqual(got[i].data, w.data, `weight ${i}`));
      });
    }
  }

  it('refuses carried states that do not fit the model, naming the layer', async () => {
    const { model, data } = makeModel();
    const bad = (states: NonNullable<EpochProgress['states']>): Promise<unknown> =>
      model.fitDataset(data, {
        epochs: 1,
        resumeFrom: { epoch: 0, batch: 1, sums: { loss: 1 }, seen: 4, epochRng: [1, 2, 3, 4], states },
      });
    const h = (rows: number, units: number): Tensor =>
      new Tensor(new Float32Array(rows * units), [rows, units]);
    await assert.rejects(bad([null, null]), /resumeFrom\.states: 2 entries for a model of 5 layers/);
    await assert.rejects(
      bad([[h(4, 6)], null, [h(4, 6), h(4, 6)], null, null]),
      /layer 'lstm\w*' carries 2 states \[h, c\] of 4×6 values, got 1 of 4×6/,
    );
    await assert.rejects(
      bad([[h(4, 6), h(4, 6)], null, [h(4, 6), h(4, 6)], [h(4, 6)], null]),
      /layer 'dropout\w*' carries no state, got 1/,
    );
  });
});
