/**
 * Keras's advanced-activation layers (ReLU, LeakyReLU, ThresholdedReLU, ELU, Softmax, PReLU): TensorFlow.js on identical
 * weights with files both ways, Keras's own formula where tfjs lacks the option, steps equal to the sequence forward,
 * option errors, and the notes saving gives where tfjs or Keras cannot load what recur writes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../src/core/random.js';
import { IndexTensor, Tensor, type AnyTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import type { Layer } from '../src/layers/layer.js';
import { loadKerasModel } from '../src/keras/load.js';
import { saveKerasArchive, saveKerasH5 } from '../src/keras/save.js';
import { validateModelJson } from '../src/models/model_file.js';
import { deserializeModel, serializeModel, type ModelJson } from '../src/models/serialization.js';
import { Sequential } from '../src/models/sequential.js';
import { Stepper } from '../src/models/stepper.js';
import { tfjsCompatibilityNotes } from '../src/models/tfjs_compat.js';
import { TextGenerator } from '../src/text/generator.js';
import { Vocabulary } from '../src/text/vocabulary.js';
import { assertClose, randomIndices, randomTensor } from './helpers.js';

const T = 3;
const D = 4;

function toTfjs(x: AnyTensor): tf.Tensor {
  return tf.tensor(Array.from(x.data), [...x.shape], 'float32');
}

async function tfjsArtifacts(m: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let art: tf.io.ModelArtifacts | null = null;
  await m.save({
    save: async (a: tf.io.ModelArtifacts) => {
      art = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
  return art!;
}

async function tfjsFromRecur(model: Sequential): Promise<tf.LayersModel> {
  const art = serializeModel(model, { includeOptimizer: false });
  const buf = art.weightData.buffer.slice(
    art.weightData.byteOffset,
    art.weightData.byteOffset + art.weightData.byteLength,
  );
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: art.json.modelTopology as unknown as tf.io.ModelJSON['modelTopology'],
      weightSpecs: art.weightSpecs,
      weightData: buf as ArrayBuffer,
    }),
  );
}

/** Dense(linear) → the layer → Dense(linear): the layer sees values of both signs beyond ±1. */
function around(layer: Layer, seed: number): Sequential {
  const m = new Sequential({
    seed,
    layers: [new L.Dense({ units: D, inputShape: [T, D] }), layer, new L.Dense({ units: 2 })],
  });
  m.build();
  const rng = new Random(seed);
  for (const l of m.layers)
    for (const w of l.weights) w.value.forEach((_, i, a) => (a[i] = rng.uniform(-1.5, 1.5)));
  return m;
}

/** The same layers in tfjs (options as tfjs names them). */
const TFJS_TWINS: [string, () => Layer, () => tf.layers.Layer][] = [
  ['LeakyReLU', () => new L.LeakyReLU(), () => tf.layers.leakyReLU()],
  [
    'LeakyReLU alpha 0.05',
    () => new L.LeakyReLU({ alpha: 0.05 }),
    () => tf.layers.leakyReLU({ alpha: 0.05 }),
  ],
  ['ELU', () => new L.ELU(), () => tf.layers.elu()],
  ['ReLU', () => new L.ReLU(), () => tf.layers.reLU()],
  ['ReLU maxValue 0.5', () => new L.ReLU({ maxValue: 0.5 }), () => tf.layers.reLU({ maxValue: 0.5 })],
  ['ThresholdedReLU', () => new L.ThresholdedReLU(), () => tf.layers.thresholdedReLU()],
  [
    'ThresholdedReLU theta 0.3',
    () => new L.ThresholdedReLU({ theta: 0.3 }),
    () => tf.layers.thresholdedReLU({ theta: 0.3 }),
  ],
  ['Softmax', () => new L.Softmax(), () => tf.layers.softmax({ axis: -1 })],
  ['PReLU', () => new L.PReLU(), () => tf.layers.prelu()],
  [
    'PReLU sharedAxes [1]',
    () => new L.PReLU({ sharedAxes: [1] }),
    () => tf.layers.prelu({ sharedAxes: [1] }),
  ],
];

describe('advanced activations: TensorFlow.js on identical weights, files both ways', () => {
  for (const [label, ours, theirs] of TFJS_TWINS) {
    it(`${label}: recur → tfjs, and tfjs's own model → recur`, async () => {
      const model = around(ours(), 3);
      const x = randomTensor([5, T, D], new Random(4), 2);
      const want = model.predict(x).data;
      // recur's file in tfjs.
      const inTfjs = await tfjsFromRecur(model);
      assertClose((inTfjs.predict(toTfjs(x)) as tf.Tensor).dataSync(), want, 1e-5, `${label} in tfjs`);
      assert.deepEqual(
        tfjsCompatibilityNotes(serializeModel(model).json.modelTopology),
        [],
        'nothing to note',
      );
      // tfjs's model built with its API (its config spelling and defaults), read by recur.
      const m = tf.sequential();
      m.add(tf.layers.dense({ units: D, inputShape: [T, D] }));
      m.add(theirs());
      m.add(tf.layers.dense({ units: 2 }));
      m.setWeights(model.getWeights().map((w) => tf.tensor(Array.from(w.data), [...w.shape])));
      const art = await tfjsArtifacts(m);
      const json = {
        modelTopology: art.modelTopology,
        format: 'layers-model',
        generatedBy: 'tfjs',
        convertedBy: null,
        weightsManifest: [{ paths: [], weights: art.weightSpecs }],
      };
      const loaded = deserializeModel(
        validateModelJson(json, 'model.json') as ModelJson,
        new Uint8Array(art.weightData as ArrayBuffer),
        'model.json',
      ).model;
      assert.equal(loaded.layers[1].className, label.split(' ')[0]);
      // Every option as recur's own layer has it (tfjs adds a batch_input_shape to each layer).
      const got = loaded.layers[1].getConfig();
      for (const [k, v] of Object.entries(ours().getConfig()))
        if (k !== 'name') assert.deepEqual(got[k], v, k);
      const tfjsY = (m.predict(toTfjs(x)) as tf.Tensor).dataSync();
      assertClose(loaded.predict(x).data, tfjsY, 1e-5, `${label}: tfjs's file in recur`);
    });
  }
});

/** keras.activations.relu (keras/src/activations/activations.py, Keras 3.9) step by step, in float32. */
function kerasRelu(x: number, negativeSlope: number, maxValue: number | null, threshold: number): number {
  const f = Math.fround;
  // The options become float32 tensors.
  const t = f(threshold);
  let negativePart = 0;
  if (negativeSlope !== 0) negativePart = t !== 0 ? Math.max(f(-x + t), 0) : Math.max(-x, 0);
  let y = t !== 0 ? (x > t ? x : 0) : Math.max(x, 0);
  if (maxValue !== null) y = Math.min(Math.max(y, 0), f(maxValue));
  if (negativeSlope !== 0) y = f(y - f(f(negativeSlope) * negativePart));
  return y;
}

describe("advanced activations: Keras's formulas where tfjs lacks the option", () => {
  const x = new Tensor(
    Float32Array.from({ length: 40 }, (_, i) => Math.fround(-2 + i * 0.1 + 0.013)),
    [2, 20],
  );
  for (const [negativeSlope, maxValue, threshold] of [
    [0.1, null, 0.5],
    [0.2, 1.2, -0.4],
    [0.3, 0.8, 0],
    [0, 1, 0.25],
  ] as const) {
    it(`ReLU negativeSlope ${negativeSlope}, maxValue ${maxValue}, threshold ${threshold}`, () => {
      const layer = new L.ReLU({ negativeSlope, maxValue, threshold, inputShape: [20] });
      layer.build([20], new Random(1));
      const y = layer.forward(x, { training: false, seed: 0 }).data;
      const want = Array.from(x.data, (v) => kerasRelu(v, negativeSlope, maxValue, threshold));
      assert.deepEqual(Array.from(y), want);
    });
  }
  it('ELU alpha 0.5: x above 0, 0.5·(exp(x) − 1) below (tfjs takes only alpha 1)', () => {
    const layer = new L.ELU({ alpha: 0.5, inputShape: [20] });
    layer.build([20], new Random(1));
    const y = layer.forward(x, { training: false, seed: 0 }).data;
    x.data.forEach((v, i) => assert.ok(Math.abs(y[i] - (v > 0 ? v : 0.5 * Math.expm1(v))) < 1e-6, `at ${v}`));
  });
});

describe('advanced activations: steps, options, errors', () => {
  it('stepping a model with each layer gives its sequence forward, step by step', () => {
    // A PReLU with a slope per time step cannot step (below).
    for (const [label, make] of TFJS_TWINS.filter(([label]) => label !== 'PReLU')) {
      const model = around(make(), 5);
      const x = randomTensor([2, T, D], new Random(6), 2);
      const whole = model.predict(x).data;
      const states = model.layers.map((l) => l.createStepState(2));
      for (let t = 0; t < T; t++) {
        let h: Float32Array = new Float32Array(2 * D);
        for (let n = 0; n < 2; n++) h.set(x.data.subarray((n * T + t) * D, (n * T + t + 1) * D), n * D);
        model.layers.forEach((l, i) => (h = l.step(h, states[i])));
        for (let n = 0; n < 2; n++)
          for (let j = 0; j < 2; j++)
            assert.ok(Math.abs(h[n * 2 + j] - whole[(n * T + t) * 2 + j]) < 1e-6, `${label} step ${t}`);
      }
    }
  });
  it('a PReLU with a slope per time step refuses to step, saying why', () => {
    const m = around(new L.PReLU({ name: 'p' }), 5);
    assert.throws(
      () => m.layers[1].createStepState(2),
      /PReLU 'p' has a slope per time step \(sharedAxes lacks 1\)/,
    );
  });
  it('a PReLU slope per position of an axis without a fixed size is refused when built, naming the axis', () => {
    assert.throws(
      () => new Sequential({ layers: [new L.PReLU({ name: 'p', inputShape: [null, D] })] }).build(),
      /PReLU 'p': input axis 1 has no fixed size, so it needs a slope per position; share it \(sharedAxes\)/,
    );
    // Shared over time, any length: one slope per feature.
    const m = new Sequential({ seed: 1, layers: [new L.PReLU({ sharedAxes: 1, inputShape: [null, D] })] });
    m.build();
    assert.deepEqual(m.layers[0].weights[0].shape, [1, D]);
    assert.deepEqual(m.predict(randomTensor([2, 5, D], new Random(3))).shape, [2, 5, D]);
  });
  it('bad options are errors naming the layer and the option', () => {
    assert.throws(
      () => new L.LeakyReLU({ name: 'lr', alpha: -1 }),
      /LeakyReLU 'lr': 'alpha' must be a finite number ≥ 0, got -1/,
    );
    assert.throws(
      () => new L.ReLU({ name: 'r', maxValue: -2 }),
      /ReLU 'r': 'maxValue' must be a finite number ≥ 0/,
    );
    assert.throws(
      () => new L.ELU({ name: 'e', alpha: Number.NaN }),
      /ELU 'e': 'alpha' must be a finite number/,
    );
    assert.throws(
      () => new L.ThresholdedReLU({ theta: 'big' as unknown as number }),
      /'theta' must be a finite number/,
    );
    assert.throws(() => new L.Softmax({ name: 's', axis: 0.5 }), /Softmax 's': 'axis' must be an integer/);
    assert.throws(
      () => new L.PReLU({ name: 'p', sharedAxes: [0] }),
      /PReLU 'p': 'sharedAxes' must be null or axes ≥ 1/,
    );
    assert.throws(
      () => new L.LeakyReLU({ negativeSlope: 0.2 } as L.LeakyReLUArgs),
      /unknown option 'negativeSlope'/,
    );
  });
  it("Softmax over another axis than the last is refused when built, naming the axis (it is not recur's)", () => {
    assert.throws(
      () => new Sequential({ layers: [new L.Softmax({ name: 's', axis: 1, inputShape: [T, D] })] }),
      /Softmax 's': axis 1 of a 3-D input is not the last axis/,
    );
    // The last axis by its number is the default's.
    const last = new Sequential({ seed: 1, layers: [new L.Softmax({ axis: 2, inputShape: [T, D] })] });
    const x = randomTensor([2, T, D], new Random(7));
    const y = last.predict(x).data;
    for (let r = 0; r < 2 * T; r++) {
      const sum = y.subarray(r * D, (r + 1) * D).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-6);
    }
  });
  it("Softmax applies an incoming mask as Keras's does: masked entries get zero probability", () => {
    const softmax = (v: number[]) =>
      v.map((a) => Math.exp(a - Math.max(...v))).map((e, _, es) => e / es.reduce((p, q) => p + q));
    const opts = (data: number[], shape: [number, number]) => ({
      training: false,
      seed: 0,
      mask: { data: Uint8Array.from(data), shape },
    });
    const built = (shape: number[]) => {
      const layer = new L.Softmax({ name: 's' });
      layer.build(shape, new Random(1));
      return layer;
    };
    // [N, T] input: the mask picks entries; a wholly masked row is zeros, not uniform.
    const x2 = randomTensor([2, 4], new Random(8), 3);
    const y2 = built([4]).forward(x2, opts([1, 0, 1, 1, 0, 0, 0, 0], [2, 4])).data;
    const kept = softmax([x2.data[0], x2.data[2], x2.data[3]]);
    assertClose(y2, Float32Array.from([kept[0], 0, kept[1], kept[2], 0, 0, 0, 0]), 1e-6, '[N, T]');
    // Asked for logits (a last layer whose softmax the loss applies): masked entries stay at the large negative number,
    // of probability 0 in the loss's softmax, and get no gradient.
    const asLogits = built([4]);
    const z2 = asLogits.forward(x2, { ...opts([1, 0, 1, 1, 0, 0, 0, 0], [2, 4]), logits: true }).data;
    const [a, , b, c] = x2.data;
    assertClose(z2, Float32Array.from([a, -1e9, b, c, -1e9, -1e9, -1e9, -1e9]), 1e-6, '[N, T] logits');
    const dz = asLogits.backward(new Tensor(new Float32Array(8).fill(1), [2, 4])).data;
    assert.deepEqual(Array.from(dz), [1, 0, 1, 1, 0, 0, 0, 0]);
    // [N, T, D] input: masked steps' rows are zeros, the others the unmasked softmax.
    const x3 = randomTensor([2, T, D], new Random(9), 3);
    const y3 = built([T, D]).forward(x3, opts([1, 0, 1, 0, 0, 1], [2, T])).data;
    for (let r = 0; r < 2 * T; r++) {
      const row = softmax(Array.from(x3.data.subarray(r * D, (r + 1) * D)));
      assertClose(
        y3.subarray(r * D, (r + 1) * D),
        Float32Array.from(r === 0 || r === 2 || r === 5 ? row : [0, 0, 0, 0]),
        1e-6,
        `row ${r}`,
      );
    }
    assert.throws(
      () => built([T, D]).forward(x3, opts([1, 1], [2, 1])),
      /Softmax 's': the mask's shape \[2, 1\] is not the input's first two axes \[2, 3\]/,
    );
  });
});

describe("a last Softmax layer is the model's output softmax, as Dense(activation: 'softmax') is", () => {
  /** Two models of the same weights: body → Dense → Softmax(), and body → Dense(activation: 'softmax'). */
  function twins(body: () => Layer[], V: number): [Sequential, Sequential] {
    const layer = new Sequential({
      seed: 3,
      layers: [...body(), new L.Dense({ units: V }), new L.Softmax()],
    });
    const dense = new Sequential({
      seed: 3,
      layers: [...body(), new L.Dense({ units: V, activation: 'softmax' })],
    });
    layer.build();
    dense.build();
    const rng = new Random(4);
    layer.setWeights(
      layer.getWeights().map(
        (w) =>
          new Tensor(
            w.data.map(() => rng.uniform(-1, 1)),
            w.shape,
          ),
      ),
    );
    dense.setWeights(layer.getWeights());
    return [layer, dense];
  }
  const vocabulary = Vocabulary.fromText('the cat sat on a mat');
  const V = vocabulary.size;

  it('steps logits and generates the same text (the Stepper samples from logits)', () => {
    const [layer, dense] = twins(() => [new L.LSTM({ units: 8, inputShape: [10, V] })], V);
    assert.equal(layer.layers[2].outputActivation(), 'softmax');
    const ids = Int32Array.from([1, 4]);
    assertClose(new Stepper(layer, 2).step(ids), new Stepper(dense, 2).step(ids), 1e-6, 'logits');
    const opts = { prime: 'the cat', length: 60, seed: 5 };
    assert.deepEqual(
      new TextGenerator(layer, vocabulary).generateMany([0.5, 1], opts),
      new TextGenerator(dense, vocabulary).generateMany([0.5, 1], opts),
    );
  });

  it('the loss absorbs it (softmax + cross-entropy from logits), unclipped where the logits are far apart', () => {
    const [layer, dense] = twins(() => [new L.LSTM({ units: 8, inputShape: [10, V] })], V);
    for (const m of [layer, dense]) {
      // Logits 80 apart: the probability of class 1 underflows, which the probability form clips to 1e-7 (16.1).
      const bias = m.layers[1].weights[1].value;
      bias.fill(-40);
      bias[0] = 40;
      m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    }
    const rng = new Random(6);
    const x = randomTensor([4, 10, V], rng);
    const y = new IndexTensor(Int32Array.from([1, 1, 0, 1]), [4]);
    const lossOf = (m: Sequential) => m.evaluate(x, y).loss;
    assert.ok(lossOf(dense) > 40, `fused loss ${lossOf(dense)}`);
    assertClose([lossOf(layer)], [lossOf(dense)], 1e-4, 'loss');
    layer.trainOnBatch(x, y);
    dense.trainOnBatch(x, y);
    layer
      .getWeights()
      .forEach((w, i) => assertClose(w.data, dense.getWeights()[i].data, 1e-5, `weight ${i}`));
  });

  it('under a mask (Embedding maskZero), trains as the Dense twin: masked steps are out of the loss', () => {
    const body = () => [
      new L.Embedding({ inputDim: V, outputDim: 4, maskZero: true, inputShape: [6] }),
      new L.LSTM({ units: 5, returnSequences: true }),
    ];
    const [layer, dense] = twins(body, V);
    for (const m of [layer, dense]) m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const rng = new Random(7);
    const x = randomIndices([3, 6], V, rng);
    x.data.fill(0, 3, 6); // the first row's last three steps are padding
    const y = randomIndices([3, 6], V, rng);
    const a = layer.trainOnBatch(x, y);
    const b = dense.trainOnBatch(x, y);
    assertClose([a.loss], [b.loss], 1e-5, 'loss');
    layer
      .getWeights()
      .forEach((w, i) => assertClose(w.data, dense.getWeights()[i].data, 1e-5, `weight ${i}`));
  });
});

describe('advanced activations: notes where other programs cannot load the file', () => {
  it('saving for tfjs notes an ELU alpha other than 1 (tfjs refuses it) and a ReLU slope or threshold (tfjs drops them)', () => {
    const model = new Sequential({
      seed: 1,
      layers: [
        new L.ELU({ name: 'e', alpha: 0.5, inputShape: [D] }),
        new L.ReLU({ name: 'r', threshold: 0.2 }),
        new L.ReLU({ name: 'r2', maxValue: 3 }),
        new L.ELU({ name: 'e2' }),
      ],
    });
    model.build();
    assert.deepEqual(tfjsCompatibilityNotes(serializeModel(model).json.modelTopology), [
      "TensorFlow.js 4.x's ELU takes only alpha 1 (ELU 'e' has alpha 0.5), so it cannot load this model; recur reads it",
      "TensorFlow.js 4.x's ReLU reads only max_value, so ReLU 'r' (negative_slope or threshold set) computes plain relu there and its predictions differ from recur's",
    ]);
  });
  it('a .keras file with ThresholdedReLU (Keras 2 only) says Keras 3 cannot load it; the .h5 does not; both read back', async () => {
    const model = new Sequential({
      seed: 1,
      layers: [new L.Dense({ units: 3, inputShape: [D] }), new L.ThresholdedReLU({ name: 'th', theta: 0.1 })],
    });
    model.build();
    const keras = await saveKerasArchive(model);
    assert.deepEqual(keras.notes, [
      "Keras 3 cannot load this file: it has no class for layer 'th' (ThresholdedReLU: a Keras 2 layer that Keras 3 dropped); recur reads it",
    ]);
    const h5 = await saveKerasH5(model);
    assert.deepEqual(h5.notes, []);
    const x = randomTensor([2, D], new Random(8));
    for (const [bytes, name] of [
      [keras.bytes, 'm.keras'],
      [h5.bytes, 'm.h5'],
    ] as const)
      assert.deepEqual(
        ((await loadKerasModel(bytes, name)).model as Sequential).predict(x).data,
        model.predict(x).data,
      );
  });
  it("a Keras 3 LeakyReLU is written with Keras 3's negative_slope (Keras 3 warns on alpha), a Keras 2 one with alpha", async () => {
    const model = new Sequential({
      seed: 1,
      layers: [new L.LeakyReLU({ name: 'lr', alpha: 0.15, inputShape: [D] })],
    });
    model.build();
    const config = (await import('../src/keras/archive.js')).readKerasArchive(
      (await saveKerasArchive(model)).bytes,
      'm.keras',
    ).config as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
    const layer = config.config.layers.find((l) => l.class_name === 'LeakyReLU')!;
    assert.equal(layer.config.negative_slope, 0.15);
    assert.equal('alpha' in layer.config, false);
    const back = await loadKerasModel((await saveKerasArchive(model)).bytes, 'm.keras');
    assert.equal((back.model.layers[0] as L.LeakyReLU).alpha, 0.15);
  });
});
