// Non-finite numbers stop a run loudly: at the first non-finite loss, weight or validation value, naming it, with
// nothing of the ruined epoch recorded, compared (plateaus, best models) or saved — in the library's fit (Sequential
// and functional), the forecasting networks and every training command.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Tensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import type { SymbolicTensor } from '../src/layers/symbolic.js';
import { EarlyStopping, LambdaCallback, ReduceLROnPlateau, TerminateOnNaN } from '../src/models/callbacks.js';
import { input, model as functionalModel } from '../src/models/functional.js';
import { SGD } from '../src/models/optimizers.js';
import { Sequential } from '../src/models/sequential.js';
import { RNNForecaster } from '../src/forecast/network.js';
import { saveModel } from '../src/node/model_io.js';
import { FORECAST_DEFAULTS } from '../src/forecast/defaults.js';
import { metrics } from '../src/forecast/metrics.js';
import { pseudoText, runCli, TINY_TEXT_MODEL } from './cli_helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'recur-nonfinite-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const X = new Tensor(
  Float32Array.from({ length: 24 }, (_, i) => (i % 5) / 5),
  [8, 3],
);
const Y = new Tensor(
  Float32Array.from({ length: 16 }, (_, i) => (i % 3) / 3),
  [8, 2],
);

function sequential(): Sequential {
  const m = new Sequential({ seed: 1, layers: [new L.Dense({ units: 2, inputShape: [3] })] });
  m.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'meanSquaredError' });
  return m;
}

/** Validation inputs at float32's limit, and a kernel of ones: the validation outputs overflow to Infinity. */
const VAL_X = new Tensor(new Float32Array(24).fill(3e38), [8, 3]);
function overflowingOnValidation(): Sequential {
  const m = sequential();
  m.build();
  m.setWeights([new Tensor(new Float32Array(6).fill(1), [3, 2]), new Tensor(new Float32Array(2), [2])]);
  return m;
}

function functional(): ReturnType<typeof functionalModel> {
  const inp = input({ shape: [3] });
  const m = functionalModel({ inputs: inp, outputs: new L.Dense({ units: 2 }).apply(inp) as SymbolicTensor });
  m.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'meanSquaredError' });
  return m;
}

describe('TerminateOnNaN in fit', () => {
  for (const [kind, make] of [
    ['Sequential', sequential],
    ['functional', functional],
  ] as const) {
    it(`${kind}: a ruined weight stops the run at the next batch's loss, and records no epoch`, async () => {
      const m = make();
      // An overflowing update: the batch's loss (computed before it) is finite, the weights after it are not.
      const overflow = new LambdaCallback({
        onBatchEnd: (batch) => {
          if (batch === 0) m.namedWeights()[0].weight.value[0] = Infinity;
        },
      });
      const guard = new TerminateOnNaN({ warn: () => undefined });
      const h = await m.fit(X, Y, { epochs: 3, batchSize: 4, callbacks: [overflow, guard] });
      assert.equal(guard.terminatedAt, 1);
      assert.match(guard.reason ?? '', /^the loss became (NaN|Infinity) at batch 2 of the epoch/);
      assert.deepEqual(h.epoch, [], 'the ruined epoch is not recorded');
      assert.equal(m.interruptedAt, null, 'ruined weights are nothing to resume');
    });
  }

  it("an exponential activation overflowing float32 stops the run at its first loss (exp's ∞ is not clamped)", async () => {
    const m = new Sequential({
      seed: 1,
      layers: [new L.Dense({ units: 2, activation: 'exponential', inputShape: [3] })],
    });
    m.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'meanSquaredError' });
    m.build();
    // Pre-activations of 90 and more: exp overflows float32 (its largest finite value is e^88.7).
    m.setWeights([
      new Tensor(new Float32Array(6).fill(40), [3, 2]),
      new Tensor(Float32Array.of(90, 90), [2]),
    ]);
    const guard = new TerminateOnNaN({ warn: () => undefined });
    const h = await m.fit(X, Y, { epochs: 2, batchSize: 4, callbacks: [guard] });
    assert.match(guard.reason ?? '', /^the loss became (NaN|Infinity) at batch 1 of the epoch/);
    assert.deepEqual(h.epoch, []);
  });

  it('a non-finite val_loss stops the run at that epoch, is no plateau and resets no patience', async () => {
    const m = overflowingOnValidation();
    const reduce = new ReduceLROnPlateau({ patience: 1, factor: 0.5 });
    const stop = new EarlyStopping({ patience: 1 });
    const guard = new TerminateOnNaN({ warn: () => undefined });
    const h = await m.fit(X, Y, {
      epochs: 3,
      batchSize: 4,
      validationData: [VAL_X, Y],
      callbacks: [guard, reduce, stop],
    });
    assert.match(guard.reason ?? '', /^val_loss became (Infinity|NaN) at the end of the epoch/);
    assert.equal(guard.epoch, 0);
    assert.deepEqual(h.epoch, []);
    assert.equal(m.optimizer!.learningRate, 0.01);
  });

  it('without TerminateOnNaN, a non-finite val_loss neither cuts the learning rate nor counts towards patience', async () => {
    const m = overflowingOnValidation();
    const reduce = new ReduceLROnPlateau({ patience: 1, factor: 0.5 });
    const stop = new EarlyStopping({ patience: 1 });
    const warn = console.warn;
    console.warn = () => undefined;
    try {
      const h = await m.fit(X, Y, {
        epochs: 3,
        batchSize: 4,
        validationData: [VAL_X, Y],
        callbacks: [reduce, stop],
      });
      assert.equal(h.epoch.length, 3, 'EarlyStopping did not stop on NaN "plateaus"');
    } finally {
      console.warn = warn;
    }
    assert.equal(m.optimizer!.learningRate, 0.01);
  });
});

describe('forecasting networks', () => {
  it('a diverging network stops at its first non-finite loss with an error naming it', async () => {
    const f = new RNNForecaster({
      ...FORECAST_DEFAULTS,
      method: 'network',
      log: false,
      differencing: 'none',
      season: 1,
      scaling: 'standard',
      cell: 'lstm',
      units: 4,
      layers: 1,
      dropout: 0,
      lookback: 4,
      horizon: 2,
      strategy: 'direct',
      epochs: 5,
      batchSize: 4,
      learningRate: 1e30,
      seeds: [1],
    });
    const series = Array.from({ length: 40 }, (_, i) => Math.sin(i / 3) * 10 + i);
    await assert.rejects(
      f.fit(series),
      /the network's training stopped at epoch 1: (the loss|weight '[^']+') became (NaN|-?Infinity)/,
    );
  });
});

describe('training commands', () => {
  const text = join(tmp, 'book.txt');
  writeFileSync(text, pseudoText(6000, 3));
  const pairs = join(tmp, 'pairs.tsv');
  writeFileSync(
    pairs,
    Array.from({ length: 60 }, (_, i) => {
      const w = 'abcde'[i % 5] + 'abcde'[Math.floor(i / 5) % 5] + 'abcde'[Math.floor(i / 25) % 5];
      return `${w}\t${[...w].reverse().join('')}`;
    }).join('\n') + '\n',
  );
  const small = ['--threads', '1', '--seed', '1', '--quiet'];
  /** A tiny `recur train` of 3 epochs of 2 batches into `out`. */
  const trainArgs = (out: string): string[] => [
    'train',
    text,
    '--out',
    out,
    '--epochs',
    '3',
    '--steps-per-epoch',
    '2',
    ...TINY_TEXT_MODEL,
    '--seed',
    '1',
  ];

  // RECUR_TEST_POISON_AFTER=N ruins the weights after the N-th batch: here the last of epoch 1, so that epoch's
  // training loss is finite and only its end (validation, weights) can tell.
  it('recur train: weights ruined in the last batch of an epoch stop the run at its end, one line, no checkpoint', () => {
    const out = join(tmp, 'train');
    const r = runCli([...trainArgs(out), '--validation-split', '0.2'], {
      env: { RECUR_TEST_POISON_AFTER: '2' },
    });
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      /^recur: training stopped at epoch 1: val_loss became NaN at the end of the epoch; /,
    );
    assert.match(
      lines[0],
      /Try a lower --lr or a --clipnorm in a new run \(--resume keeps this run's settings\)$/,
    );
    assert.ok(!existsSync(join(out, 'model.json')), 'no best model');
    assert.ok(!existsSync(join(out, 'checkpoint', 'model.json')), 'no checkpoint');
    // No epoch finished, so no log.csv was started (its first epoch's row starts it).
    assert.ok(!existsSync(join(out, 'log.csv')), 'no NaN row in log.csv');
  });

  it('recur train without validation: weights ruined in an epoch`s last batch are caught at its end', () => {
    const out = join(tmp, 'train-noval');
    const r = runCli(trainArgs(out), { env: { RECUR_TEST_POISON_AFTER: '4' } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^recur: training stopped at epoch 2: weight 'lstm\/kernel' became NaN by the end of the epoch; nothing from that epoch was saved \(.*checkpoint still holds the state after epoch 1\)/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  it('seq2seq train stops on ruined weights with exit 1 and one line, its best model intact', () => {
    const out = join(tmp, 's2s');
    const r = runCli(
      [
        'seq2seq',
        'train',
        pairs,
        '--out',
        out,
        '--epochs',
        '3',
        '--units',
        '4',
        '--embedding-dim',
        '4',
        ...small,
      ],
      { env: { RECUR_TEST_POISON_AFTER: '2' } },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^recur: training stopped at epoch 2: /);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(existsSync(join(out, 'model.json')), "epoch 1's best model stays");
  });
});

describe('forecast metrics of huge values', () => {
  it('an RMSE whose squared errors overflow is still finite', () => {
    const m = metrics([1e300, 2e300], [0, 0], [1, 2, 3, 4], 1);
    assert.ok(Math.abs(m.rmse / (Math.sqrt(2.5) * 1e300) - 1) < 1e-12, String(m.rmse));
    assert.equal(metrics([0, 2], [0, 1], [0, 1, 3, 0], 1).rmse, Math.sqrt(0.5));
  });
});

describe('recur predict', () => {
  it('refuses outputs that overflowed float32, saying so (not "inputs and targets must be finite")', () => {
    const m = sequential();
    m.build();
    m.setWeights([new Tensor(new Float32Array(6).fill(1), [3, 2]), new Tensor(new Float32Array(2), [2])]);
    const dir = join(tmp, 'dense');
    saveModel(m, dir);
    const r = runCli(['predict', dir, '--json'], { input: '[[3e38, 3e38, 3e38]]' });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^recur: output 'dense\w*' contains Infinity at index \[0, 0\]; the model overflowed float32/,
    );
  });
});
