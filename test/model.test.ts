/**
 * Whole-model behaviour: gradient checks through stacks and the fused softmax loss, index ≡ one-hot, seeded
 * reproducibility, fit / evaluate / predict / callbacks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { IndexTensor, Tensor, indexTensor, type AnyTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import {
  EarlyStopping,
  LambdaCallback,
  LearningRateScheduler,
  ReduceLROnPlateau,
  StepLearningRateScheduler,
  TerminateOnNaN,
  cosineDecay,
} from '../src/models/callbacks.js';
import { computeLoss } from '../src/models/losses.js';
import { SGD } from '../src/models/optimizers.js';
import { Sequential, type BatchDataset } from '../src/models/sequential.js';
import { input, model, type Functional } from '../src/models/functional.js';
import type { SymbolicTensor } from '../src/layers/symbolic.js';
import type { Logs } from '../src/models/callbacks.js';
import { assertClose, oneHot, randomIndices, randomTensor } from './helpers.js';

const T = 4;
const V = 5;

/** Loss gradient of every weight by finite differences on a whole model (SGD step with lr 1 reveals the gradient). */
function modelGradCheck(model: Sequential, x: AnyTensor, y: AnyTensor): void {
  model.compile({ optimizer: new SGD({ learningRate: 1 }), loss: 'sparseCategoricalCrossentropy' });
  model.build();
  const before = model.getWeights();
  model.trainOnBatch(x, y); // w ← w − 1·g
  const grads = model.getWeights().map((w, i) => w.data.map((v, j) => before[i].data[j] - v));
  model.setWeights(before);
  const lossAt = (): number => computeLoss('sparseCategoricalCrossentropy', model.predict(x), y, null, false);
  const eps = 1e-2;
  model.namedWeights().forEach(({ name, weight }, wi) => {
    for (let i = 0; i < weight.value.length; i += 3) {
      const old = weight.value[i];
      weight.value[i] = old + eps;
      const lp = lossAt();
      weight.value[i] = old - eps;
      const lm = lossAt();
      weight.value[i] = old;
      const num = (lp - lm) / (2 * eps);
      assert.ok(
        Math.abs(num - grads[wi][i]) <= 3e-4 + 2e-3 * Math.abs(num),
        `${name}[${i}]: ${num} vs ${grads[wi][i]}`,
      );
    }
  });
}

describe('model gradients', () => {
  it('stacked LSTM → GRU → SimpleRNN → Dense(softmax), fused loss', () => {
    const model = new Sequential({
      seed: 1,
      layers: [
        new L.LSTM({ units: 4, returnSequences: true, inputShape: [T, V] }),
        new L.GRU({ units: 3, returnSequences: true }),
        new L.SimpleRNN({ units: 3 }),
        new L.Dense({ units: V, activation: 'softmax' }),
      ],
    });
    modelGradCheck(model, randomTensor([3, T, V], new Random(2)), randomIndices([3], V, new Random(3)));
  });
  it('embedding → LSTM(returnSequences) → time-distributed Dense(softmax) with per-step targets', () => {
    const model = new Sequential({
      seed: 2,
      layers: [
        new L.Embedding({ inputDim: 7, outputDim: 3, inputShape: [T] }),
        new L.LSTM({ units: 4, returnSequences: true }),
        new L.Dense({ units: V, activation: 'softmax' }),
      ],
    });
    modelGradCheck(model, randomIndices([3, T], 7, new Random(4)), randomIndices([3, T], V, new Random(5)));
  });
  it('softmax as a separate Activation layer is fused too', () => {
    const model = new Sequential({
      seed: 3,
      layers: [
        new L.GRU({ units: 4, inputShape: [T, V] }),
        new L.Dense({ units: V }),
        new L.Activation({ activation: 'softmax' }),
      ],
    });
    modelGradCheck(model, randomTensor([3, T, V], new Random(6)), randomIndices([3], V, new Random(7)));
  });
});

describe('index inputs ≡ one-hot inputs', () => {
  for (const make of [
    () => new L.LSTM({ units: 5, inputShape: [T, V], dropout: 0.3, recurrentDropout: 0.2 }),
    () => new L.GRU({ units: 5, inputShape: [T, V], dropout: 0.3 }),
    () => new L.SimpleRNN({ units: 5, inputShape: [T, V], dropout: 0.3 }),
  ]) {
    it(`${make().className}: same outputs, same weight gradients (with dropout)`, () => {
      const idx = randomIndices([3, T], V, new Random(8));
      const hot = oneHot(idx, V);
      const run = (x: AnyTensor): { y: Float32Array; grads: Float32Array[] } => {
        const model = new Sequential({
          seed: 9,
          layers: [make(), new L.Dense({ units: V, activation: 'softmax' })],
        });
        model.compile({ optimizer: new SGD({ learningRate: 1 }), loss: 'sparseCategoricalCrossentropy' });
        model.build();
        const before = model.getWeights();
        model.trainOnBatch(x, randomIndices([3], V, new Random(10)));
        return {
          y: model.predict(x).data,
          grads: model.getWeights().map((w, i) => w.data.map((v, j) => before[i].data[j] - v)),
        };
      };
      const a = run(idx);
      const b = run(hot);
      assertClose(a.y, b.y, 1e-6, 'outputs');
      a.grads.forEach((g, i) => assertClose(g, b.grads[i], 1e-6, `gradient ${i}`));
    });
  }
});

function toyData(n: number, seed: number): { x: IndexTensor; y: IndexTensor } {
  // Target: the first token of the sequence — needs memory across all steps.
  const x = randomIndices([n, T], V, new Random(seed));
  const y = indexTensor(Array.from({ length: n }, (_, i) => x.data[i * T]));
  return { x, y };
}

function toyModel(seed: number, units = 12): Sequential {
  return new Sequential({
    seed,
    layers: [new L.LSTM({ units, inputShape: [T, V] }), new L.Dense({ units: V, activation: 'softmax' })],
  });
}

describe('training', () => {
  it('fit learns a memory task; evaluate and predict agree with it', async () => {
    const { x, y } = toyData(256, 1);
    const model = toyModel(2, 16);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const h = await model.fit(x, y, { epochs: 40, batchSize: 32, validationSplit: 0.25 });
    assert.ok(
      h.history.loss[39] < 0.5 * h.history.loss[0],
      `loss ${h.history.loss[0]} → ${h.history.loss[39]}`,
    );
    assert.ok(h.history.val_accuracy[39] > 0.8, `val accuracy ${h.history.val_accuracy[39]}`);
    const ev = model.evaluate(x, y, { batchSize: 50 });
    assert.ok(
      Math.abs(
        ev.loss -
          computeLoss('sparseCategoricalCrossentropy', model.predict(x, { batchSize: 7 }), y, null, false),
      ) < 1e-5,
    );
  });

  it('the same seed gives bit-identical weights after training (shuffle + dropout)', async () => {
    const train = async (): Promise<Float32Array[]> => {
      const { x, y } = toyData(64, 3);
      const model = new Sequential({
        seed: 42,
        layers: [
          new L.GRU({ units: 6, inputShape: [T, V], dropout: 0.2, recurrentDropout: 0.2 }),
          new L.Dropout({ rate: 0.3 }),
          new L.Dense({ units: V, activation: 'softmax' }),
        ],
      });
      model.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy' });
      await model.fit(x, y, { epochs: 2, batchSize: 16 });
      return model.getWeights().map((w) => w.data);
    };
    const a = await train();
    const b = await train();
    a.forEach((w, i) => assert.deepEqual(w, b[i]));
    const m1 = toyModel(43);
    const m2 = toyModel(44);
    m1.build();
    m2.build();
    assert.notDeepEqual(m1.getWeights()[0].data, m2.getWeights()[0].data);
  });

  it('fitDataset streams batches; callbacks see every hook; stopTraining stops', async () => {
    const { x, y } = toyData(64, 4);
    const data: BatchDataset = {
      batchesPerEpoch: 4,
      *batches() {
        for (let i = 0; i < 64; i += 16) yield { xs: x.sliceRows(i, i + 16), ys: y.sliceRows(i, i + 16) };
      },
    };
    const model = toyModel(5);
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const seen: string[] = [];
    const h = await model.fitDataset(data, {
      epochs: 5,
      callbacks: [
        new LambdaCallback({
          onTrainBegin: () => void seen.push('trainBegin'),
          onEpochBegin: (e) => void seen.push(`epochBegin${e}`),
          onBatchEnd: (b, logs) => void seen.push(`batch${b}:${logs.size}`),
          onEpochEnd: (e, logs) => {
            seen.push(`epochEnd${e}`);
            if (e === 1) model.stopTraining = true;
            assert.ok(logs.lr === 0.01 && Number.isFinite(logs.loss));
          },
          onTrainEnd: () => void seen.push('trainEnd'),
        }),
      ],
    });
    assert.deepEqual(h.epoch, [0, 1]);
    assert.deepEqual(seen.slice(0, 7), [
      'trainBegin',
      'epochBegin0',
      'batch0:16',
      'batch1:16',
      'batch2:16',
      'batch3:16',
      'epochEnd0',
    ]);
    assert.equal(seen.at(-1), 'trainEnd');
  });

  it('ReduceLROnPlateau cuts the rate after `patience` flat epochs, never below minLr', async () => {
    const model = toyModel(6);
    model.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    const cb = new ReduceLROnPlateau({ monitor: 'loss', factor: 0.2, patience: 1, minLr: 0.001 });
    cb.setModel(model);
    const losses = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98];
    const lrs: number[] = [];
    for (const [e, loss] of losses.entries()) {
      await cb.onEpochEnd(e, { loss });
      lrs.push(model.optimizer!.learningRate);
    }
    assertClose(lrs, [0.01, 0.01, 0.002, 0.001, 0.001, 0.001], 1e-12, 'learning rates');
  });

  it("LearningRateScheduler sets each epoch's rate from the schedule in fit, and refuses a rate that is not finite", async () => {
    const model = toyModel(6);
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const { x, y } = toyData(4, 3);
    const seen: number[] = [];
    await model.fit(x, y, {
      epochs: 3,
      batchSize: 2,
      callbacks: [
        new LearningRateScheduler((epoch) => 0.1 * 0.5 ** epoch),
        new LambdaCallback({ onBatchBegin: () => void seen.push(model.optimizer!.learningRate) }),
      ],
    });
    assertClose(seen, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025], 1e-12, 'rates per batch');
    const bad = new LearningRateScheduler(() => NaN);
    bad.setModel(model);
    await assert.rejects(bad.onEpochBegin(0), /schedule gave NaN for epoch 1/);
  });

  it('cosineDecay: the warm-up line, the half cosine and the floor, at hand-computed steps', () => {
    const c = { initialLearningRate: 0.1, decaySteps: 8 };
    // lr0 · ½(1 + cos(π·step/8)) at the quarter points, then held at the end (min 0).
    assertClose(
      [0, 2, 4, 6, 8, 9, 100].map((s) => cosineDecay(s, c)),
      [0.1, 0.1 * (0.5 + Math.SQRT1_2 / 2), 0.05, 0.1 * (0.5 - Math.SQRT1_2 / 2), 0, 0, 0],
      1e-12,
      'cosine',
    );
    // Monotone non-increasing after the warm-up.
    for (let s = 1; s <= 10; s++) assert.ok(cosineDecay(s, c) <= cosineDecay(s - 1, c));
    const w = { initialLearningRate: 0.1, decaySteps: 4, warmupSteps: 4, minLearningRate: 0.02 };
    assertClose(
      [0, 1, 3, 4, 6, 8, 20].map((s) => cosineDecay(s, w)),
      [0.025, 0.05, 0.1, 0.1, 0.06, 0.02, 0.02],
      1e-12,
      'warm-up then cosine to the floor',
    );
    assert.throws(() => cosineDecay(-1, c), /step must be an integer ≥ 0/);
    assert.throws(() => cosineDecay(1.5, c), /step must be an integer ≥ 0/);
    assert.throws(() => cosineDecay(0, { ...c, decaySteps: 0 }), /decaySteps must be an integer ≥ 1/);
    assert.throws(
      () => cosineDecay(0, { ...c, minLearningRate: 0.2 }),
      /minLearningRate ≤ initialLearningRate/,
    );
  });

  it("StepLearningRateScheduler sets every batch's rate from the optimizer's step count, across fits", async () => {
    const model = toyModel(6);
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const { x, y } = toyData(4, 3);
    const seen: number[] = [];
    const schedule = (step: number): number => cosineDecay(step, { initialLearningRate: 0.1, decaySteps: 5 });
    const callbacks = [
      new StepLearningRateScheduler(schedule),
      new LambdaCallback({ onBatchBegin: () => void seen.push(model.optimizer!.learningRate) }),
    ];
    await model.fit(x, y, { epochs: 2, batchSize: 2, callbacks });
    // A second fit (as a resumed run) continues from the optimizer's iterations, not from step 0.
    await model.fit(x, y, { epochs: 1, batchSize: 2, callbacks });
    assert.equal(model.optimizer!.iterations, 6);
    assertClose(
      seen,
      [0, 1, 2, 3, 4, 5].map((s) => schedule(s)),
      1e-12,
      'rates per batch',
    );
    assert.ok(seen[0] === 0.1 && seen[5] === 0);
    const bad = new StepLearningRateScheduler(() => -1);
    bad.setModel(model);
    await assert.rejects(bad.onBatchBegin(), /schedule gave -1 for step 7/);
  });

  it('EarlyStopping stops and restores the best weights; a missing val_loss warns once', async () => {
    const model = toyModel(7);
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    model.build();
    const es = new EarlyStopping({ monitor: 'loss', patience: 1, restoreBestWeights: true });
    es.setModel(model);
    await es.onTrainBegin();
    await es.onEpochEnd(0, { loss: 1 });
    const best = model.getWeights();
    model.setWeights(
      best.map(
        (w) =>
          new Tensor(
            w.data.map((v) => v + 1),
            w.shape,
          ),
      ),
    );
    await es.onEpochEnd(1, { loss: 2 });
    assert.equal(model.stopTraining, true);
    await es.onTrainEnd(); // as Keras, the best weights come back when training ends
    assert.deepEqual(model.getWeights()[0].data, best[0].data);

    const warnings: string[] = [];
    const orig = console.warn;
    console.warn = (m: string) => void warnings.push(m);
    try {
      const es2 = new EarlyStopping();
      es2.setModel(model);
      await es2.onEpochEnd(0, { loss: 1 });
      await es2.onEpochEnd(1, { loss: 1 });
    } finally {
      console.warn = orig;
    }
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /'val_loss' is not available/);
  });

  it('TerminateOnNaN stops on a non-finite loss', async () => {
    const model = toyModel(8);
    const cb = new TerminateOnNaN();
    cb.setModel(model);
    const orig = console.warn;
    console.warn = () => undefined;
    await cb.onBatchEnd(3, { loss: NaN });
    console.warn = orig;
    assert.equal(model.stopTraining, true);
  });

  it('initialEpoch continues the epoch count', async () => {
    const { x, y } = toyData(32, 9);
    const model = toyModel(9);
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const h = await model.fit(x, y, { epochs: 4, initialEpoch: 2, batchSize: 16 });
    assert.deepEqual(h.epoch, [2, 3]);
  });

  it('fit and fitDataset refuse a misspelt option and epochs that are not a count, on both kinds of model', async () => {
    const rng = new Random(5);
    const x = randomTensor([8, 3, 2], rng);
    const y = randomTensor([8, 4], rng);
    const seq = new Sequential({ layers: [new L.LSTM({ units: 4, inputShape: [3, 2] })], seed: 1 });
    seq.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'mse' });
    const inp = input({ shape: [3, 2] });
    const fn = model({ inputs: inp, outputs: new L.LSTM({ units: 4 }).apply(inp) as SymbolicTensor });
    fn.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'mse' });
    const data = { batches: () => [{ xs: x, ys: y }] };
    const fnData = { batches: () => [{ xs: [x], ys: [y] }] };
    for (const [what, fit] of [
      ['fit', (a: object) => seq.fit(x, y, a)],
      ['fit', (a: object) => fn.fit(x, y, a)],
      ['fitDataset', (a: object) => seq.fitDataset(data, a)],
      ['fitDataset', (a: object) => fn.fitDataset(fnData, a)],
    ] as const) {
      await assert.rejects(
        fit({ batchsize: 2 }),
        new RegExp(`^InvalidInputError: ${what}: unknown option 'batchsize'`),
      );
      for (const epochs of [Number.NaN, -1, 2.5, '2'])
        await assert.rejects(
          fit({ epochs }),
          new RegExp(`${what}: epochs must be an integer ≥ 0`),
          String(epochs),
        );
    }
    // Plain arrays are not tensors: named, with how to make one.
    await assert.rejects(seq.fit([[[1, 2]]] as never, y), /fit: inputs must be a Tensor .*got a plain array/);
    await assert.rejects(
      fn.fit(x, [[1, 2]] as never),
      /fit: targets: '\w+' must be a Tensor .*got a plain array/,
    );
    // fit's own options pass to the loop as fitDataset's, and epochs 0 trains nothing.
    assert.deepEqual((await seq.fit(x, y, { epochs: 1, shuffle: false, validationSplit: 0.25 })).epoch, [0]);
    assert.deepEqual((await seq.fit(x, y, { epochs: 0 })).epoch, []);
  });

  it('stateful model keeps state across predict batches until resetStates', () => {
    const model = new Sequential({
      seed: 10,
      layers: [
        new L.LSTM({ units: 4, stateful: true, batchInputShape: [2, T, V] }),
        new L.Dense({ units: 2 }),
      ],
    });
    const x = randomTensor([2, T, V], new Random(11));
    const a = model.predict(x);
    const b = model.predict(x);
    assert.notDeepEqual(a.data, b.data);
    model.resetStates();
    assert.deepEqual(model.predict(x).data, a.data);
  });
});

describe('evaluateDataset', () => {
  it('reports each batch (its logs and rows) and stops at maxBatches; Sequential and functional alike', async () => {
    const rng = new Random(4);
    const xs = [0, 1, 2].map(() => randomTensor([5, 3, 2], rng));
    const ys = [0, 1, 2].map(() => randomTensor([5, 4], rng));
    const seq = new Sequential({ layers: [new L.LSTM({ units: 4, inputShape: [3, 2] })], seed: 1 });
    seq.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'mse' });
    const x = input({ shape: [3, 2] });
    const fun = model({ inputs: x, outputs: new L.LSTM({ units: 4 }).apply(x) as SymbolicTensor });
    fun.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'mse' });
    for (const m of [seq, fun]) {
      const seen: [number, number, number][] = [];
      const data = { batches: () => xs.map((b, i) => ({ xs: [b], ys: [ys[i]] })) };
      const flat = { batches: () => xs.map((b, i) => ({ xs: b, ys: ys[i] })) };
      const onBatchEnd = (batch: number, logs: Logs): void => void seen.push([batch, logs.size!, logs.loss]);
      const all =
        m instanceof Sequential
          ? await m.evaluateDataset(flat, { onBatchEnd })
          : await (m as Functional).evaluateDataset(data, { onBatchEnd });
      assert.deepEqual(
        seen.map(([b, n]) => [b, n]),
        [
          [0, 5],
          [1, 5],
          [2, 5],
        ],
      );
      assertClose([all.loss], [seen.reduce((s, [, , l]) => s + l, 0) / 3], 1e-12, 'mean of the batches');
      seen.length = 0;
      const two =
        m instanceof Sequential
          ? await m.evaluateDataset(flat, { onBatchEnd, maxBatches: 2 })
          : await (m as Functional).evaluateDataset(data, { onBatchEnd, maxBatches: 2 });
      assert.equal(seen.length, 2);
      assertClose([two.loss], [(seen[0][2] + seen[1][2]) / 2], 1e-12, 'the first two batches');
    }
  });
});
