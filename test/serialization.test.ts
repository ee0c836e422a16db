/** getConfig round trips for every layer, model files on disk, exact resume, and corrupt-file errors. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import { KERAS_ACTIVATIONS } from '../src/layers/activations.js';
import * as L from '../src/layers/index.js';
import type { Layer } from '../src/layers/layer.js';
import { layerFromKeras, layerToKeras } from '../src/models/serialization.js';
import { Sequential } from '../src/models/sequential.js';
import { loadModel, saveModel } from '../src/node/model_io.js';
import { randomIndices, randomTensor } from './helpers.js';

const LAYERS: [string, () => Layer][] = [
  [
    'dense',
    () =>
      new L.Dense({
        units: 3,
        activation: 'relu',
        useBias: false,
        kernelInitializer: 'heNormal',
        inputShape: [4],
      }),
  ],
  ['activation', () => new L.Activation({ activation: 'hardSigmoid' })],
  ['dropout', () => new L.Dropout({ rate: 0.25 })],
  ['embedding', () => new L.Embedding({ inputDim: 10, outputDim: 4, inputShape: [7] })],
  [
    'simpleRNN',
    () =>
      new L.SimpleRNN({
        units: 3,
        activation: 'relu',
        returnSequences: true,
        goBackwards: true,
        dropout: 0.1,
      }),
  ],
  [
    'lstm',
    () =>
      new L.LSTM({
        units: 3,
        recurrentActivation: 'hardSigmoid',
        unitForgetBias: false,
        recurrentDropout: 0.2,
        stateful: true,
        batchInputShape: [2, 5, 4],
      }),
  ],
  [
    'gru',
    () =>
      new L.GRU({
        units: 3,
        resetAfter: false,
        recurrentInitializer: { className: 'RandomUniform', config: { minval: -0.1, maxval: 0.1 } },
      }),
  ],
];

describe('layer config round trips', () => {
  for (const [name, make] of LAYERS) {
    it(`${name}: getConfig → constructor and → Keras JSON → layer`, () => {
      const layer = make();
      const config = layer.getConfig();
      const Ctor = layer.constructor as new (c: Record<string, unknown>) => Layer;
      assert.deepEqual(new Ctor(config).getConfig(), config);
      const json = layerToKeras(layer);
      assert.equal(json.class_name, layer.className);
      assert.deepEqual(layerFromKeras(JSON.parse(JSON.stringify(json)), 'test').getConfig(), config);
    });
  }
  it('Keras JSON writes activations and initialisers explicitly, in Keras spelling', () => {
    const json = layerToKeras(new L.LSTM({ units: 2 }));
    assert.equal(json.config.recurrent_activation, 'sigmoid');
    assert.equal(json.config.unit_forget_bias, true);
    assert.deepEqual(json.config.kernel_initializer, { class_name: 'GlorotUniform', config: { seed: null } });
    assert.deepEqual(json.config.recurrent_initializer, {
      class_name: 'Orthogonal',
      config: { gain: 1, seed: null },
    });
  });
  it('an unknown activation lists the Keras names users type, naming the option', () => {
    // Not recur's internal names (hardSigmoidKeras3 comes only from a Keras 3 file's version).
    const keras =
      /one of 'linear', 'relu', 'tanh', 'sigmoid', 'hard_sigmoid', 'softmax', 'elu', .*'squareplus' \(or null: linear\)$/;
    const message = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    const dense = message(() => new L.Dense({ units: 1, activation: 'rleu' as never }));
    assert.match(dense, /unknown activation "rleu"; expected one of/);
    assert.match(dense, keras);
    assert.doesNotMatch(dense, /hardSigmoidKeras3/);
    assert.match(
      message(() => new L.LSTM({ units: 1, recurrentActivation: 'sigmod' as never })),
      /lstm 'lstm\w*': unknown recurrentActivation "sigmod"; expected one of 'linear'/,
    );
    assert.match(
      message(() => new L.GRU({ units: 1, activation: 'sparsemax' as never })),
      keras,
    );
    // Every name the message lists is accepted.
    for (const a of [...KERAS_ACTIVATIONS, null]) new L.Dense({ units: 1, activation: a });
    // Bad input, as a bad dtype is (the CLI's exit 2, no stack trace): unknown, unimplemented or not for a cell.
    for (const [what, make] of [
      ['unknown', () => new L.Dense({ units: 1, activation: 'rleu' as never })],
      ['unknown to an Activation layer', () => new L.Activation({ activation: 7 as never })],
      ['unimplemented', () => new L.LSTM({ units: 1, activation: 'crelu' as never })],
      ['not elementwise', () => new L.GRU({ units: 1, recurrentActivation: 'softmax' })],
      ['derivative from its input', () => new L.SimpleRNN({ units: 1, activation: 'gelu' })],
    ] as const)
      assert.throws(make, InvalidInputError, what);
  });
  it("Keras 3's activations round-trip by name through getConfig and Keras JSON, each spelling kept", () => {
    for (const spelling of KERAS_ACTIVATIONS) {
      for (const layer of [
        new L.Dense({ units: 2, activation: spelling }),
        new L.Activation({ activation: spelling }),
      ]) {
        const json = layerToKeras(layer);
        assert.equal(json.config.activation, spelling, `${layer.className} writes '${spelling}'`);
        const again = layerFromKeras(JSON.parse(JSON.stringify(json)), 'test');
        assert.deepEqual(again.getConfig(), layer.getConfig(), spelling);
      }
    }
    // camelCase names (tfjs's and recur's) are the same activations.
    assert.equal(new L.Dense({ units: 1, activation: 'leakyRelu' }).activation, 'leakyRelu');
    assert.equal(new L.Dense({ units: 1, activation: 'leaky_relu' }).activation, 'leakyRelu');
    assert.equal(new L.Dense({ units: 1, activation: 'gelu_new' }).activation, 'geluNew');
  });
  it('recurrent layers take the activations whose derivative their output gives, and name the others', () => {
    const fromOutput = [
      ...['elu', 'selu', 'softplus', 'softsign', 'relu6', 'exponential', 'leaky_relu', 'celu', 'hard_tanh'],
      ...['sparse_sigmoid', 'soft_shrink', 'hard_shrink', 'log_sigmoid', 'sparse_plus', 'squareplus'],
    ] as const;
    for (const activation of fromOutput) {
      new L.LSTM({ units: 2, activation, recurrentActivation: activation });
      new L.GRU({ units: 2, activation, recurrentActivation: activation });
      new L.SimpleRNN({ units: 2, activation });
    }
    const fromInput = [
      'gelu',
      'gelu_new',
      'swish',
      'silu',
      'mish',
      'hard_silu',
      'hard_swish',
      'tanh_shrink',
    ] as const;
    for (const activation of fromInput) {
      assert.throws(
        () => new L.LSTM({ units: 2, activation }),
        new RegExp(
          `lstm 'lstm\\w*': activation '${activation}' is not supported in recurrent layers.*Dense or Activation`,
        ),
      );
      assert.throws(
        () => new L.GRU({ units: 2, recurrentActivation: activation }),
        new RegExp(`recurrentActivation '${activation}' is not supported in recurrent layers`),
      );
    }
    assert.throws(
      () => new L.LSTM({ units: 2, recurrentActivation: 'softmax' }),
      /recurrentActivation 'softmax' is not elementwise/,
    );
    assert.throws(
      () => new L.SimpleRNN({ units: 2, activation: 'log_softmax' }),
      /'log_softmax' is not elementwise/,
    );
  });
  it('unknown options and classes are errors, not silently ignored', () => {
    assert.throws(() => new L.LSTM({ units: 3, unit: 4 } as never), /lstm: unknown option 'unit'/);
    assert.throws(() => new L.Dense({ units: 0 }), /'units' must be a positive integer, got 0/);
    assert.throws(
      () => new L.LSTM({ units: 2, activation: 'crelu' as never }),
      /activation 'crelu' is a Keras activation recur does not implement/,
    );
    assert.throws(
      () => layerFromKeras({ class_name: 'Conv2D', config: { name: 'c' } }, 'f.json'),
      /f.json: layer 'c' has class 'Conv2D'/,
    );
    // A regularizer acts only in training: the layer is read without it (the model loaders say so in a note).
    const d = layerFromKeras(
      { class_name: 'Dense', config: { name: 'd', units: 2, kernel_regularizer: { class_name: 'L2' } } },
      'f.json',
    );
    assert.equal(d.className, 'Dense');
  });
});

describe('model directories', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-io-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const build = (): Sequential =>
    new Sequential({
      seed: 3,
      layers: [
        new L.LSTM({ units: 6, inputShape: [5, 4], dropout: 0.1 }),
        new L.Dense({ units: 4, activation: 'softmax' }),
      ],
    });

  it('save → load gives the same predictions, and resumes training exactly (optimizer slots and RNG)', () => {
    const x = randomIndices([8, 5], 4, new Random(1));
    const y = randomIndices([8], 4, new Random(2));
    const a = build();
    a.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    a.trainOnBatch(x, y);
    saveModel(a, join(dir, 'm'), { metadata: { recur: { trainRng: a.trainRng.getState() }, note: 'hi' } });
    const { model: b, metadata } = loadModel(join(dir, 'm'));
    assert.equal(metadata.note, 'hi');
    b.trainRng.setState((metadata.recur as { trainRng: number[] }).trainRng);
    assert.deepEqual(b.predict(x).data, a.predict(x).data);
    a.trainOnBatch(x, y);
    b.trainOnBatch(x, y);
    assert.deepEqual(
      b.getWeights().map((w) => Array.from(w.data)),
      a.getWeights().map((w) => Array.from(w.data)),
    );
    assert.equal(b.optimizer!.iterations, 2);
  });

  it('re-saving replaces the weights file atomically and leaves exactly one', () => {
    const m = build();
    saveModel(m, join(dir, 'r'));
    saveModel(m, join(dir, 'r'));
    const files = readdirSync(join(dir, 'r')).sort();
    assert.equal(files.length, 2);
    assert.equal(files[0], 'model.json');
    assert.match(files[1], /^weights-[0-9a-f]+\.bin$/);
  });

  it('truncated weights, missing files and broken JSON give errors that name the file', () => {
    const m = build();
    const d = join(dir, 'bad');
    saveModel(m, d);
    const weights = readdirSync(d).find((f) => f.endsWith('.bin'))!;
    truncateSync(join(d, weights), 100);
    assert.throws(
      () => loadModel(d),
      /model\.json: weightsManifest\[0\]: the weights manifest needs \d+ bytes but the weight files hold 100 \(truncated\?\)/,
    );
    rmSync(join(d, weights));
    assert.throws(() => loadModel(d), new RegExp(`names '${weights}', which does not exist`));
    writeFileSync(join(d, 'model.json'), '{"modelTopology": ');
    assert.throws(() => loadModel(d), /model\.json: not valid JSON/);
    assert.throws(
      () => loadModel(join(dir, 'nope')),
      /no such file or directory; expected a model directory/,
    );
    const json = JSON.parse(readFileSync(join(dir, 'r', 'model.json'), 'utf8'));
    json.weightsManifest[0].weights[0].shape = [4, 4];
    writeFileSync(join(dir, 'r', 'model.json'), JSON.stringify(json));
    assert.throws(() => loadModel(join(dir, 'r')), /manifest needs|should have shape/);
  });
});

describe('bad input is rejected with the layer, expected and actual', () => {
  it('incompatible stacks', () => {
    const m = new Sequential({ layers: [new L.Dense({ units: 3, inputShape: [4] })] });
    assert.throws(
      () => m.add(new L.LSTM({ units: 2, name: 'l' })),
      /LSTM 'l' expects inputs \[batch, time, features\].*output of 'dense/,
    );
  });
  it('wrong input shapes, out-of-range indices, NaN inputs', async () => {
    const m = new Sequential({
      layers: [new L.LSTM({ units: 2, inputShape: [3, 4], name: 'enc' }), new L.Dense({ units: 2 })],
    });
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    assert.throws(
      () => m.predict(randomTensor([2, 3, 5], new Random(1))),
      /layer 'enc' \(LSTM\) expected input shape \[null, 3, 4\] but got \[2, 3, 5\]/,
    );
    assert.throws(
      () => m.predict(randomIndices([2, 3], 9, new Random(1))),
      /layer 'enc': input index \d+ .* outside \[0, 4\)/,
    );
    const x = randomTensor([2, 3, 4], new Random(2));
    x.data[5] = NaN;
    await assert.rejects(
      m.fit(x, randomTensor([2, 2], new Random(3))),
      /inputs contains NaN at index \[0, 1, 1\]/,
    );
    const y = randomTensor([2, 2], new Random(3));
    y.data[3] = Infinity;
    assert.throws(
      () => m.trainOnBatch(randomTensor([2, 3, 4], new Random(2)), y),
      /trainOnBatch: targets contains Infinity/,
    );
    assert.throws(
      () => m.evaluate(randomTensor([2, 3, 4], new Random(2)), y),
      /targets contains Infinity at index \[1, 1\]/,
    );
  });
  it('unknown optimizers, losses and metrics', async () => {
    const m = new Sequential({ layers: [new L.Dense({ units: 2, inputShape: [2] })] });
    assert.throws(() => m.compile({ optimizer: 'adamw', loss: 'mse' }), /unknown optimizer 'adamw'/);
    assert.throws(() => m.compile({ optimizer: 'sgd', loss: 'hinge' }), /unknown loss "hinge"/);
    assert.throws(() => m.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['f1'] }), /unknown metric 'f1'/);
    await assert.rejects(
      m.fit(randomTensor([1, 2], new Random(1)), randomTensor([1, 2], new Random(1))),
      /fit: compile the model first/,
    );
  });
});

describe('building a model whose weights follow (a file being loaded)', () => {
  it('leaves drawn weights at zero; loading gives the saved weights', () => {
    const make = (weightsFollow: boolean): Sequential =>
      new Sequential({
        seed: 3,
        weightsFollow,
        layers: [new L.LSTM({ units: 8, inputShape: [5, 4] }), new L.Dense({ units: 3 })],
      });
    const loaded = make(true);
    loaded.build();
    // Drawn initialisers give zeros (a constant one, like the LSTM's unit forget bias, still applies).
    const kernels = loaded.namedWeights().filter(({ name }) => name.endsWith('kernel'));
    assert.equal(kernels.length, 3);
    for (const { name, weight } of kernels)
      assert.ok(
        weight.value.every((v) => v === 0),
        `${name} should be zero`,
      );
    const drawn = make(false);
    drawn.build();
    assert.ok(drawn.namedWeights().some(({ weight }) => weight.value.some((v) => v !== 0)));
    // Saved and loaded: every weight comes from the file, none from the (skipped) initialisation.
    const dir = mkdtempSync(join(tmpdir(), 'recur-follow-'));
    try {
      saveModel(drawn, dir);
      const back = loadModel(dir).model;
      const want = drawn.namedWeights();
      back.namedWeights().forEach(({ name, weight }, i) => {
        assert.equal(name, want[i].name);
        assert.deepEqual(weight.value, want[i].weight.value);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
