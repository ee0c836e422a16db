/**
 * Metrics are logged under the name compile was given, as Keras logs them: 'accuracy' → `accuracy`, `val_accuracy`
 * (`out_accuracy` per output); 'acc' → `acc`, `val_acc`. Callbacks watch those keys in 'auto' mode as a maximum, a
 * model file keeps the name, and an epoch interrupted when recur logged every accuracy as `acc` resumes under the new
 * name.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { Tensor, indexTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import type { SymbolicTensor } from '../src/layers/symbolic.js';
import { EarlyStopping, ReduceLROnPlateau } from '../src/models/callbacks.js';
import type { EpochProgress } from '../src/models/fit_loop.js';
import { input, model } from '../src/models/functional.js';
import { Sequential } from '../src/models/sequential.js';
import { ModelCheckpoint } from '../src/node/callbacks.js';
import { loadModel, saveModel } from '../src/node/model_io.js';

const T = 3;
const N = 16;
const rng = new Random(5);
const x = new Tensor(
  Float32Array.from({ length: N * T }, () => rng.next()),
  [N, T, 1],
);
const y = indexTensor(
  Int32Array.from({ length: N }, (_, i) => i % 2),
  [N],
);

function classifier(metric: string): Sequential {
  const m = new Sequential({ seed: 2 });
  m.add(new L.LSTM({ units: 4, inputShape: [T, 1] }));
  m.add(new L.Dense({ units: 2, activation: 'softmax' }));
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: [metric] });
  return m;
}

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('metric names follow compile, as Keras', () => {
  for (const [metric, other] of [
    ['accuracy', 'acc'],
    ['acc', 'accuracy'],
  ]) {
    it(`'${metric}': fit, evaluate and trainOnBatch log '${metric}' and 'val_${metric}', not '${other}'`, async () => {
      const m = classifier(metric);
      const h = await m.fit(x, y, { epochs: 2, batchSize: 8, validationSplit: 0.25, verbose: 0 });
      assert.deepEqual(
        Object.keys(h.history).sort(),
        ['loss', 'lr', metric, 'val_loss', `val_${metric}`].sort(),
      );
      assert.deepEqual(Object.keys(m.evaluate(x, y)).sort(), ['loss', metric].sort());
      assert.deepEqual(Object.keys(m.trainOnBatch(x, y)).sort(), ['loss', metric].sort());
      assert.deepEqual(m.metrics, [metric]);
      assert.equal(m.evaluate(x, y)[other], undefined);
    });
  }

  it('functional models with several outputs log out_accuracy per output', async () => {
    const a = input({ shape: [T, 1], name: 'a' });
    const h = new L.LSTM({ units: 4 }).apply(a) as SymbolicTensor;
    const first = new L.Dense({ units: 2, activation: 'softmax', name: 'first' }).apply(h) as SymbolicTensor;
    const second = new L.Dense({ units: 2, activation: 'softmax', name: 'second' }).apply(
      h,
    ) as SymbolicTensor;
    const f = model({ inputs: a, outputs: [first, second], seed: 1 });
    f.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const logs = f.evaluate(x, [y, y]);
    assert.deepEqual(
      Object.keys(logs).sort(),
      ['first_accuracy', 'first_loss', 'loss', 'second_accuracy', 'second_loss'].sort(),
    );
  });

  it("callbacks watch 'val_accuracy' as a maximum in 'auto' mode; ModelCheckpoint saves on it", async () => {
    const m = classifier('accuracy');
    const dir = mkdtempSync(join(tmpdir(), 'recur-metric-'));
    dirs.push(dir);
    const warnings: string[] = [];
    const saved: number[] = [];
    const checkpoint = new ModelCheckpoint({
      filepath: join(dir, 'best'),
      monitor: 'val_accuracy',
      saveBestOnly: true,
      onSave: (_path, epoch) => void saved.push(epoch),
    });
    const stop = new EarlyStopping({ monitor: 'val_accuracy', patience: 100 });
    const plateau = new ReduceLROnPlateau({ monitor: 'val_accuracy', patience: 100 });
    let history: Awaited<ReturnType<Sequential['fit']>> | null = null;
    const origWarn = console.warn;
    console.warn = (msg: string) => void warnings.push(msg);
    try {
      history = await m.fit(x, y, {
        epochs: 6,
        batchSize: 8,
        validationSplit: 0.25,
        verbose: 0,
        callbacks: [checkpoint, stop, plateau],
      });
    } finally {
      console.warn = origWarn;
    }
    assert.deepEqual(warnings, [], 'every callback found val_accuracy');
    // A maximum: the first epoch is an improvement over −∞ and is saved.
    const { model: best } = await loadModel(join(dir, 'best'));
    assert.deepEqual(best.metrics, ['accuracy'], 'the model file keeps the metric name');
    assert.ok(Number.isFinite(stop.getState().best ?? NaN));
    // Saved exactly when val_accuracy rose above its best so far.
    const accuracies = history!.history.val_accuracy;
    const rises = accuracies.flatMap((v, e) =>
      v > Math.max(-Infinity, ...accuracies.slice(0, e)) ? [e] : [],
    );
    assert.deepEqual(saved, rises);
  });

  it('a model saved with metrics accuracy loads and logs accuracy', async () => {
    const m = classifier('accuracy');
    const dir = mkdtempSync(join(tmpdir(), 'recur-metric-'));
    dirs.push(dir);
    await saveModel(m, join(dir, 'm'));
    const { model: back } = await loadModel(join(dir, 'm'));
    assert.ok('accuracy' in (back as Sequential).evaluate(x, y));
  });

  it('an epoch interrupted with the old `acc` sums resumes under `accuracy`', async () => {
    const run = async (legacy: boolean): Promise<Record<string, number[]>> => {
      const m = classifier('accuracy');
      const stopAt = 1;
      await m.fit(x, y, {
        batchSize: 4,
        shuffle: false,
        verbose: 0,
        callbacks: {
          onBatchEnd: async (b) => {
            if (b === stopAt) m.stopTraining = true;
          },
        },
      });
      const progress = JSON.parse(JSON.stringify(m.interruptedAt)) as EpochProgress;
      assert.ok('accuracy' in progress.sums);
      if (legacy) {
        progress.sums.acc = progress.sums.accuracy;
        delete progress.sums.accuracy;
      }
      const h = await m.fit(x, y, { batchSize: 4, shuffle: false, verbose: 0, resumeFrom: progress });
      return h.history;
    };
    const now = await run(false);
    const old = await run(true);
    assert.deepEqual(Object.keys(old).sort(), ['accuracy', 'loss', 'lr']);
    assert.deepEqual(old, now);
  });

  it('unknown metrics are refused naming what is supported', () => {
    assert.throws(() => classifier('f1'), /unknown metric 'f1'; supported: 'accuracy' \(or 'acc'\)/);
  });
});
