/**
 * Nothing lost, and resume exact (issue #10, items 1–4 and the training half of 7): `--overwrite` deletes only recur's
 * own files; a run stopped by Ctrl-C or killed with SIGKILL at any batch — the first, a middle or the last of an
 * epoch, at an epoch boundary, during a file write — and resumed ends with the same weights, log.csv and best model
 * as an uninterrupted run; leftover temp files go; a non-finite loss ends the run with exit 1 and saves nothing.
 * The library half: fit / fitDataset continue an epoch exactly from `interruptedAt`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { Tensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import { LambdaCallback, ReduceLROnPlateau, type Logs } from '../src/models/callbacks.js';
import { Sequential, type EpochProgress } from '../src/models/sequential.js';
import { ModelCheckpoint } from '../src/node/callbacks.js';
import { loadModel } from '../src/node/model_io.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
/** 6 batches an epoch, 3 epochs; no validation split, so ReduceLROnPlateau and the best model follow the train loss. */
const STEPS = 6;
const EPOCHS = 3;
const SMALL = [
  '--units',
  '8',
  '--batch-size',
  '16',
  '--maxlen',
  '10',
  '--threads',
  '1',
  '--no-samples',
  '-q',
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

function run(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): { code: number | null; signal: string | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
    cwd,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function makeText(chars: number, seed: number): string {
  const words = ['the', 'whale', 'sea', 'ship', 'and', 'of', 'a', 'captain', 'white', 'deep', 'storm'];
  const rng = new Random(seed);
  let s = '';
  while (s.length < chars) s += words[rng.int(words.length)] + (rng.next() < 0.1 ? '.\n' : ' ');
  return s;
}

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

  /**
   * Trains in pieces: each entry stops the run after that many of its own batches (Ctrl-C via the test hook, or a real
   * SIGKILL), and the next piece resumes; the last piece runs to the end.
   */
  function trainInPieces(name: string, pieces: { after: number; kill?: 'batch' | 'write' }[]): string {
    const out = join(dir, name);
    let started = false;
    for (const p of [...pieces, null]) {
      const env: Record<string, string> = {};
      if (p?.kill === 'batch') env.RECUR_TEST_KILL_AFTER = String(p.after);
      else if (p?.kill === 'write') env.RECUR_TEST_KILL_IN_WRITE = String(p.after);
      else if (p) env.RECUR_TEST_INTERRUPT_AFTER = String(p.after);
      const resume = started && existsSync(join(out, 'checkpoint', 'model.json'));
      const r = run(
        ['train', book, '--out', out, '--epochs', String(EPOCHS), ...(resume ? RESUME : SMALL)],
        env,
      );
      if (!p) assert.equal(r.code, 0, `${name}: the last piece: ${r.stderr}`);
      else if (p.kill) assert.equal(r.signal, 'SIGKILL', `${name}: killed: ${r.stderr}`);
      else assert.equal(r.code, 130, `${name}: interrupted after ${p.after}: ${r.stderr}`);
      started = true;
    }
    return out;
  }

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
        /recur: training stopped: the loss became non-finite at epoch 1, batch 2; nothing from that epoch was saved/,
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
      // The same model continues (the CLI tests cover the route through a checkpoint file).
      const again = model;
      const plateau2 = plateau;
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
