/**
 * The Keras-style API as a Keras user writes it: names Keras accepts, what `summary` shows, what metrics report.
 * Each case is a place recur once differed from Keras without saying so.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tensor, indexTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import type { Layer } from '../src/layers/layer.js';
import type { SymbolicTensor } from '../src/layers/symbolic.js';
import { EarlyStopping, LambdaCallback, ReduceLROnPlateau } from '../src/models/callbacks.js';
import { input, model } from '../src/models/functional.js';
import { SGD } from '../src/models/optimizers.js';
import { lossName } from '../src/models/losses.js';
import { Sequential } from '../src/models/sequential.js';

function summaryLines(m: { summary(print: (line: string) => void): void }): string[] {
  const lines: string[] = [];
  m.summary((l) => lines.push(l));
  return lines;
}

describe('summary', () => {
  it("shows a Sequential model's declared batch size on the batch axis, as Keras does", () => {
    const m = new Sequential({ seed: 1 });
    m.add(L.lstm({ units: 4, batchInputShape: [8, 5, 3], stateful: true }));
    m.add(L.dense({ units: 2 }));
    const rows = summaryLines(m).slice(4, 6);
    assert.match(rows[0], /\[8, 4\]/);
    assert.match(rows[1], /\[8, 2\]/);
    const sized = new Sequential({ layers: [L.dense({ units: 2, inputShape: [3], batchSize: 16 })] });
    assert.match(summaryLines(sized)[4], /\[16, 2\]/);
    const unsized = new Sequential({ layers: [L.dense({ units: 2, inputShape: [3] })] });
    assert.match(summaryLines(unsized)[4], /\[null, 2\]/);
  });

  it('an unbuilt Sequential: the counts it will have for a declared input shape, else "0 (unbuilt)" as Keras 3', () => {
    const declared = new Sequential({ seed: 1 });
    declared.add(L.lstm({ units: 4, inputShape: [5, 3] }));
    declared.add(L.dense({ units: 2 }));
    const lines = summaryLines(declared);
    // LSTM: 4·4·(3 + 4 + 1) = 128; Dense: 4·2 + 2 = 10.
    assert.match(lines[4], /\[null, 4\]\s+128$/);
    assert.match(lines[5], /\[null, 2\]\s+10$/);
    assert.equal(lines[7], 'Total params: 138');
    // The model stays unbuilt: a layer can still be added, and building gives the counts the summary showed.
    assert.equal(declared.isBuilt, false);
    declared.add(L.dense({ units: 1 }));
    declared.build();
    assert.equal(declared.countParams(), 141);
    const open = new Sequential({ layers: [L.lstm({ units: 4 }), L.dense({ units: 2 })] });
    const rows = summaryLines(open);
    assert.match(rows[4], /\?\s+0 \(unbuilt\)$/);
    assert.match(rows[5], /\?\s+0 \(unbuilt\)$/);
    assert.equal(rows[7], 'Total params: 0');
  });

  it("shows a functional model's declared batch size on every tensor", () => {
    const x = input({ shape: [5, 3], batchSize: 4, name: 'x' });
    const h = L.lstm({ units: 2 }).apply(x) as SymbolicTensor;
    const m = model({ inputs: x, outputs: L.dense({ units: 1 }).apply(h) as SymbolicTensor });
    const rows = summaryLines(m).slice(4, 7);
    assert.match(rows[0], /\[4, 5, 3\]/);
    assert.match(rows[1], /\[4, 2\]/);
    assert.match(rows[2], /\[4, 1\]/);
  });
});

describe('loss names', () => {
  it("takes Keras's class names and short aliases as well as the function names", () => {
    const expected: Record<string, string> = {
      MeanSquaredError: 'meanSquaredError',
      MSE: 'meanSquaredError',
      MeanAbsoluteError: 'meanAbsoluteError',
      MAE: 'meanAbsoluteError',
      CategoricalCrossentropy: 'categoricalCrossentropy',
      SparseCategoricalCrossentropy: 'sparseCategoricalCrossentropy',
      BinaryCrossentropy: 'binaryCrossentropy',
      bce: 'binaryCrossentropy',
      BCE: 'binaryCrossentropy',
    };
    for (const [name, loss] of Object.entries(expected)) assert.equal(lossName(name), loss, name);
    const m = new Sequential({ layers: [L.dense({ units: 3, inputShape: [2], activation: 'softmax' })] });
    m.compile({ optimizer: 'Adam', loss: 'SparseCategoricalCrossentropy', metrics: ['accuracy'] });
    assert.equal(m.loss, 'sparseCategoricalCrossentropy');
  });

  it("refuses names of an object's prototype (`'constructor'` is no loss)", () => {
    assert.throws(() => lossName('constructor'), /unknown loss "constructor"/);
    assert.throws(() => lossName('toString'), /unknown loss "toString"/);
  });
});

describe('metric names', () => {
  it("takes the accuracies Keras names by their loss, logged under Keras's names", () => {
    const x = new Tensor(
      Float32Array.from({ length: 12 }, (_, i) => Math.sin(i)),
      [6, 2],
    );
    const labels = new Tensor(Float32Array.from([0, 1, 2, 0, 1, 2]), [6]);
    const m = new Sequential({
      seed: 1,
      layers: [L.dense({ units: 3, inputShape: [2], activation: 'softmax' })],
    });
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const accuracy = m.evaluate(x, labels).accuracy;
    m.compile({
      optimizer: 'adam',
      loss: 'SparseCategoricalCrossentropy',
      metrics: ['sparse_categorical_accuracy', 'CategoricalAccuracy', 'sparseCategoricalAccuracy'],
    });
    assert.deepEqual(m.evaluate(x, labels), {
      loss: m.evaluate(x, labels).loss,
      sparse_categorical_accuracy: accuracy,
      categorical_accuracy: accuracy,
      sparseCategoricalAccuracy: accuracy,
    });
    const b = new Sequential({ layers: [L.dense({ units: 1, inputShape: [2], activation: 'sigmoid' })] });
    b.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['BinaryAccuracy'] });
    assert.deepEqual(b.metrics, ['binary_accuracy']);
    assert.throws(
      () => b.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['categorical_accuracy'] }),
      /the metric 'categorical_accuracy' goes with categoricalCrossentropy or sparseCategoricalCrossentropy, not binaryCrossentropy/,
    );
    assert.throws(
      () => b.compile({ optimizer: 'adam', loss: 'mse', metrics: ['binary_accuracy'] }),
      /the metric 'binary_accuracy' goes with binaryCrossentropy, not meanSquaredError/,
    );
    assert.throws(
      () => b.compile({ optimizer: 'adam', loss: 'mse', metrics: ['constructor'] }),
      /unknown metric/,
    );
  });
});

describe('binary accuracy', () => {
  it("of a sigmoid output counts probabilities above 0.5, as predict's outputs give it", async () => {
    // The loss absorbs the sigmoid (it computes from logits); the metric must still threshold the probability.
    const m = new Sequential({
      seed: 1,
      layers: [L.dense({ units: 1, inputShape: [2], activation: 'sigmoid' })],
    });
    m.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
    const N = 64;
    const x = new Float32Array(N * 2);
    const y = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      x[2 * i] = Math.sin(i);
      x[2 * i + 1] = Math.cos(i * 1.3);
      y[i] = x[2 * i] + x[2 * i + 1] > 0 ? 1 : 0;
    }
    const X = new Tensor(x, [N, 2]);
    const Y = new Tensor(y, [N, 1]);
    const p = m.predict(X).data;
    let right = 0;
    let between = 0; // probabilities in (0.5, sigmoid(0.5)]: where a 0.5 threshold on logits disagrees
    for (let i = 0; i < N; i++) {
      if (p[i] > 0.5 === y[i] > 0.5) right++;
      if (p[i] > 0.5 && p[i] <= 1 / (1 + Math.exp(-0.5))) between++;
    }
    assert.ok(between > 0, 'the data must have outputs the two thresholds disagree on');
    assert.equal(m.evaluate(X, Y).accuracy, right / N);
    const history = await m.fit(X, Y, { epochs: 1, batchSize: N, shuffle: false });
    assert.equal(history.history.accuracy[0], right / N);

    const a = input({ shape: [2] });
    const f = model({
      inputs: a,
      outputs: L.dense({ units: 1, activation: 'sigmoid' }).apply(a) as SymbolicTensor,
      seed: 1,
    });
    f.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
    const fp = (f.predict(X) as Tensor).data;
    let fRight = 0;
    for (let i = 0; i < N; i++) if (fp[i] > 0.5 === y[i] > 0.5) fRight++;
    assert.equal(f.evaluate(X, Y).accuracy, fRight / N);
  });
});

/** A small regression model and data; `scores` is logged as `score` at each epoch's end, for callbacks to watch. */
function scoredRun(scores: readonly number[]): {
  m: Sequential;
  x: Tensor;
  y: Tensor;
  scorer: LambdaCallback;
  weightsAt: Float32Array[];
} {
  const m = new Sequential({ seed: 3, layers: [L.dense({ units: 1, inputShape: [2] })] });
  m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'mse' });
  const N = 8;
  const x = new Tensor(
    Float32Array.from({ length: N * 2 }, (_, i) => Math.sin(i)),
    [N, 2],
  );
  const y = new Tensor(
    Float32Array.from({ length: N }, (_, i) => Math.cos(i)),
    [N, 1],
  );
  const weightsAt: Float32Array[] = [];
  const scorer = new LambdaCallback({
    onEpochEnd: (epoch, logs) => {
      logs.score = scores[epoch];
      weightsAt.push(m.getWeights()[0].data.slice());
    },
  });
  return { m, x, y, scorer, weightsAt };
}

describe('EarlyStopping', () => {
  it('restores the best weights when training ends without stopping early, as Keras', async () => {
    const { m, x, y, scorer, weightsAt } = scoredRun([3, 1, 2, 2.5]);
    const es = new EarlyStopping({ monitor: 'score', mode: 'min', patience: 5, restoreBestWeights: true });
    const h = await m.fit(x, y, { epochs: 4, batchSize: 4, callbacks: [scorer, es] });
    assert.equal(h.history.loss.length, 4, 'no early stop');
    assert.notDeepEqual(weightsAt[3], weightsAt[1]);
    assert.deepEqual(m.getWeights()[0].data, weightsAt[1]);
  });

  it('keeps the weights of a fit interrupted mid-epoch, which resumes from them', async () => {
    const { m, x, y, scorer, weightsAt } = scoredRun([1, 2, 3, 4]);
    const es = new EarlyStopping({ monitor: 'score', mode: 'min', patience: 5, restoreBestWeights: true });
    const stop = new LambdaCallback({
      onBatchEnd: () => {
        if (weightsAt.length === 2) m.stopTraining = true;
      },
    });
    await m.fit(x, y, { epochs: 4, batchSize: 4, callbacks: [scorer, es, stop] });
    assert.ok(m.interruptedAt !== null);
    assert.notDeepEqual(m.getWeights()[0].data, weightsAt[0]);
  });

  it('watches only from startFromEpoch on', async () => {
    const rising = [1, 2, 3, 4, 5, 6];
    const { m, x, y, scorer } = scoredRun(rising);
    const plain = new EarlyStopping({ monitor: 'score', mode: 'min' });
    assert.equal((await m.fit(x, y, { epochs: 6, callbacks: [scorer, plain] })).history.loss.length, 2);
    const late = new EarlyStopping({ monitor: 'score', mode: 'min', startFromEpoch: 2 });
    const again = scoredRun(rising);
    const h = await again.m.fit(again.x, again.y, { epochs: 6, callbacks: [again.scorer, late] });
    assert.equal(h.history.loss.length, 4);
    assert.throws(() => new EarlyStopping({ startFromEpoch: -1 }), /startFromEpoch must be an integer ≥ 0/);
  });

  it("mode 'auto' refuses a metric whose direction its name does not tell, as Keras 3 does, instead of minimising it", async () => {
    // A rising F1 minimised: every epoch was "no improvement", and training stopped after `patience` epochs.
    for (const monitor of ['val_f1', 'score', 'val_macro_f1'])
      assert.throws(
        () => new EarlyStopping({ monitor, patience: 1 }),
        new RegExp(
          `mode 'auto' cannot tell whether '${monitor}' should fall or rise.*give mode 'min' or 'max'`,
        ),
      );
    for (const monitor of [
      'loss',
      'val_loss',
      'out_loss',
      'val_acc',
      'accuracy',
      'val_out_accuracy',
      'val_auc',
    ])
      assert.doesNotThrow(() => new EarlyStopping({ monitor }));
    // With a mode given, any metric.
    const rising = [0.1, 0.2, 0.3, 0.4, 0.5];
    const { m, x, y, scorer } = scoredRun(rising);
    const f1 = new EarlyStopping({ monitor: 'score', mode: 'max', patience: 1 });
    assert.equal((await m.fit(x, y, { epochs: 5, callbacks: [scorer, f1] })).history.loss.length, 5);
  });
});

describe('ReduceLROnPlateau', () => {
  it('counts the epoch that ends the cooldown towards the next plateau, as Keras', async () => {
    const { m, x, y, scorer } = scoredRun([1, 1, 1, 1, 1]);
    m.compile({ optimizer: new SGD({ learningRate: 1e-3 }), loss: 'mse' });
    const rates: number[] = [];
    const plateau = new ReduceLROnPlateau({ monitor: 'score', factor: 0.5, patience: 1, cooldown: 1 });
    const record = new LambdaCallback({ onEpochEnd: () => void rates.push(m.optimizer!.learningRate) });
    await m.fit(x, y, { epochs: 5, callbacks: [scorer, plateau, record] });
    assert.deepEqual(rates, [1e-3, 5e-4, 2.5e-4, 1.25e-4, 6.25e-5]);
  });

  it('a new fit starts with no plateau behind it (Keras resets at on_train_begin); setState continues one', async () => {
    const { m, x, y, scorer } = scoredRun([1, 1, 1]);
    m.compile({ optimizer: new SGD({ learningRate: 1e-3 }), loss: 'mse' });
    const plateau = new ReduceLROnPlateau({ monitor: 'score', factor: 0.5, patience: 2 });
    // Each fit: a best epoch, then one flat epoch; two flat epochs in a row would cut the rate.
    await m.fit(x, y, { epochs: 2, callbacks: [scorer, plateau] });
    await m.fit(x, y, { epochs: 2, callbacks: [scorer, plateau] });
    assert.equal(m.optimizer!.learningRate, 1e-3, 'the second fit counted the first fit’s flat epoch');
    assert.deepEqual(plateau.getState(), { wait: 1, cooldownCounter: 0, best: 1 });
    // A run resumed from its checkpoint (what recur's --resume does) keeps the flat epoch: the next one cuts.
    const resumed = new ReduceLROnPlateau({ monitor: 'score', factor: 0.5, patience: 2 });
    resumed.setState(plateau.getState());
    await m.fit(x, y, { epochs: 1, callbacks: [scorer, resumed] });
    assert.equal(m.optimizer!.learningRate, 5e-4);
  });
});

describe('options recur cannot honour are refused, not ignored', () => {
  it("a Dropout noiseShape that shares masks (Keras's noise_shape); SpatialDropout1D is named instead", () => {
    assert.throws(
      () => L.dropout({ rate: 0.5, noiseShape: [null, 1, 4] }),
      /noiseShape \[null,1,4\] is not supported .*use spatialDropout1D/,
    );
    assert.equal(L.dropout({ rate: 0.5, noiseShape: [null, null, null] }).rate, 0.5);
    assert.equal(L.dropout({ rate: 0.5, noiseShape: null }).rate, 0.5);
  });

  it('a dtype other than float32', () => {
    assert.throws(
      () => L.dense({ units: 2, dtype: 'float64' as 'float32' }),
      /dtype "float64" is not supported; recur computes in float32/,
    );
    assert.throws(
      () => L.lstm({ units: 2, dtype: 'mixed_float16' as 'float32' }),
      /recur computes in float32/,
    );
    assert.equal(L.dense({ units: 2, dtype: 'float32' }).className, 'Dense');
  });
});

describe('trainable', () => {
  const N = 8;
  const ids = indexTensor(
    Int32Array.from({ length: N * 3 }, (_, i) => (i * 7) % 5),
    [N, 3],
  );
  const target = new Tensor(
    Float32Array.from({ length: N }, (_, i) => i % 2),
    [N, 1],
  );
  const values = (l: Layer): number[][] => l.weights.map((w) => Array.from(w.value));

  it('a layer made with trainable: false keeps its weights through fit, as Keras; the others train', async () => {
    const frozen = L.embedding({ inputDim: 5, outputDim: 4, inputShape: [3], trainable: false });
    const rnn = L.bidirectional({ layer: L.gru({ units: 3 }), trainable: false });
    const head = L.dense({ units: 1 });
    const m = new Sequential({ seed: 4, layers: [frozen, rnn, head] });
    m.compile({ optimizer: 'adam', loss: 'mse' });
    m.build();
    const [e0, r0, h0] = [values(frozen), values(rnn), values(head)];
    await m.fit(ids, target, { epochs: 2, batchSize: 4 });
    assert.deepEqual(values(frozen), e0);
    assert.deepEqual(values(rnn), r0);
    assert.notDeepEqual(values(head), h0);
  });

  it('setting trainable after building freezes and thaws the weights', () => {
    const emb = L.embedding({ inputDim: 5, outputDim: 4, inputShape: [3] });
    const m = new Sequential({ seed: 4, layers: [emb, L.gru({ units: 2 }), L.dense({ units: 1 })] });
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    m.build();
    emb.trainable = false;
    const before = values(emb);
    m.trainOnBatch(ids, target);
    assert.deepEqual(values(emb), before);
    emb.trainable = true;
    m.trainOnBatch(ids, target);
    assert.notDeepEqual(values(emb), before);
  });

  it('a frozen attention keeps its scale', async () => {
    const q = input({ shape: [3, 2] });
    const v = input({ shape: [4, 2] });
    const att = L.attention({ useScale: true, trainable: false });
    const out = L.globalAveragePooling1d().apply(att.apply([q, v]) as SymbolicTensor) as SymbolicTensor;
    const m = model({ inputs: [q, v], outputs: L.dense({ units: 1 }).apply(out) as SymbolicTensor, seed: 2 });
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const qs = new Tensor(
      Float32Array.from({ length: N * 6 }, (_, i) => Math.sin(i)),
      [N, 3, 2],
    );
    const vs = new Tensor(
      Float32Array.from({ length: N * 8 }, (_, i) => Math.cos(i)),
      [N, 4, 2],
    );
    await m.fit([qs, vs], target, { epochs: 2, batchSize: 4 });
    assert.deepEqual(values(att), [[1]]);
  });
});

describe('getLayer and layer weights', () => {
  it("finds a model's layer by name or index and reads and sets its weights, as Keras", () => {
    const m = new Sequential({
      seed: 1,
      layers: [L.dense({ units: 3, inputShape: [2], name: 'hidden' }), L.dense({ units: 1, name: 'out' })],
    });
    m.build();
    const hidden = m.getLayer('hidden');
    assert.equal(m.getLayer(1).name, 'out');
    assert.deepEqual(
      hidden.getWeights().map((w) => w.shape),
      [[2, 3], [3]],
    );
    hidden.setWeights([
      new Tensor(new Float32Array(6).fill(0.5), [2, 3]),
      new Tensor(new Float32Array(3), [3]),
    ]);
    assert.deepEqual(Array.from(m.getWeights()[0].data), [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    assert.throws(
      () => hidden.setWeights([new Tensor(new Float32Array(3), [3])]),
      /layer 'hidden' has 2 weights, got 1/,
    );
    assert.throws(
      () =>
        hidden.setWeights([new Tensor(new Float32Array(6), [3, 2]), new Tensor(new Float32Array(3), [3])]),
      /weight 'kernel' has shape \[2, 3\], got \[3, 2\]/,
    );
    assert.throws(() => m.getLayer('hiden'), /no layer "hiden" \(its layers: hidden, out\)/);
    assert.throws(() => m.getLayer(2), /has 2 layers, so no layer 2/);

    const a = input({ shape: [2], name: 'a' });
    const f = model({ inputs: a, outputs: L.dense({ units: 1, name: 'head' }).apply(a) as SymbolicTensor });
    assert.equal(f.getLayer('head').getWeights().length, 2);
    assert.equal(f.getLayer(0).name, 'a');
  });
});

describe('predict and evaluate take verbose', () => {
  it("as Keras and tfjs code passes it (0, 1, 2, 'auto', a boolean), and refuse another value", () => {
    const m = new Sequential({ seed: 1, layers: [L.dense({ units: 2, inputShape: [3] })] });
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const i = input({ shape: [3] });
    const f = model({ inputs: i, outputs: L.dense({ units: 2 }).apply(i) as SymbolicTensor, seed: 1 });
    f.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = new Tensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
    const y = new Tensor(Float32Array.from([1, 0, 0, 1]), [2, 2]);
    for (const verbose of [0, 1, 2, 'auto', true, false] as const) {
      assert.deepEqual(m.predict(x, { verbose }).data, m.predict(x).data);
      assert.deepEqual(m.evaluate(x, y, { verbose }), m.evaluate(x, y));
      assert.deepEqual(
        (f.predict(x, { verbose, batchSize: 1 }) as Tensor).data,
        (f.predict(x) as Tensor).data,
      );
      assert.deepEqual(f.evaluate(x, y, { verbose }), f.evaluate(x, y));
    }
    assert.throws(
      () => m.predict(x, { verbose: 3 as 2 }),
      /predict: verbose must be 0, 1, 2, 'auto' or a boolean, got 3/,
    );
    assert.throws(() => f.evaluate(x, y, { verbose: 'yes' as 'auto' }), /evaluate: verbose must be/);
    assert.throws(() => m.predict(x, { steps: 1 } as object), /steps/);
  });
});
