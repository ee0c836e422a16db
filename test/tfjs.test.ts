/**
 * Cross-check against TensorFlow.js (cpu backend) on identical weights: predictions, one SGD and one RMSprop step,
 * and model files in both directions (memory and file IO handlers).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../src/core/random.js';
import { IndexTensor, Tensor, type AnyTensor } from '../src/core/tensor.js';
import { tfjsCompatibilityNotes } from '../src/models/tfjs_compat.js';
import { RMSprop, SGD } from '../src/models/optimizers.js';
import * as L from '../src/layers/index.js';
import { deserializeFunctional, parseFunctionalModelJson } from '../src/models/functional_serialization.js';
import { parseModelJson, validateModelJson } from '../src/models/model_file.js';
import {
  deserializeModel,
  modelJsonFor,
  serializeModel,
  type ModelJson,
} from '../src/models/serialization.js';
import { Sequential } from '../src/models/sequential.js';
import { loadAnyModel } from '../src/node/keras_io.js';
import { loadModel, readModelFiles, saveModel } from '../src/node/model_io.js';
import { assertClose, maxAbsDiff, oneHot, randomIndices, randomTensor } from './helpers.js';

function toTfjs(x: AnyTensor): tf.Tensor {
  return tf.tensor(Array.from(x.data), [...x.shape], 'float32');
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

/** recur's Dense(gelu_new) → Dense(softmax) built with tfjs's API, on the same weights. */
function tfjsGeluNew(model: Sequential): tf.LayersModel {
  const [first, second] = model.layers as L.Dense[];
  const m = tf.sequential();
  m.add(tf.layers.dense({ units: first.units, activation: 'gelu_new', inputShape: [D] }));
  m.add(tf.layers.dense({ units: second.units, activation: 'softmax' }));
  m.setWeights(model.getWeights().map((w) => tf.tensor(Array.from(w.data), [...w.shape])));
  return m;
}

async function tfjsArtifacts(m: tf.LayersModel, config?: tf.io.SaveConfig): Promise<tf.io.ModelArtifacts> {
  let art: tf.io.ModelArtifacts | null = null;
  await m.save(
    {
      save: async (a: tf.io.ModelArtifacts) => {
        art = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      },
    },
    config,
  );
  return art!;
}

/** model.json as tfjs's file handler writes it for `art`, its weights in `paths`. */
function tfjsModelJson(
  art: tf.io.ModelArtifacts,
  paths: string[] = ['weights.bin'],
): Record<string, unknown> {
  return {
    modelTopology: art.modelTopology,
    format: 'layers-model',
    generatedBy: 'tfjs',
    convertedBy: null,
    weightsManifest: [{ paths, weights: art.weightSpecs }],
  };
}

/** A model directory as tfjs's file handler writes it: model.json and weights.bin. */
function writeTfjsDir(art: tf.io.ModelArtifacts, target: string): void {
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target);
  writeFileSync(join(target, 'weights.bin'), new Uint8Array(art.weightData as ArrayBuffer));
  writeFileSync(join(target, 'model.json'), JSON.stringify(tfjsModelJson(art)));
}

const T = 6;
const D = 5;
const V = 4;

const BUILDERS: [string, () => Sequential][] = [
  [
    'dense',
    () =>
      new Sequential({
        seed: 1,
        layers: [
          new L.Dense({ units: 8, activation: 'tanh', inputShape: [D] }),
          new L.Dense({ units: V, activation: 'softmax' }),
        ],
      }),
  ],
  [
    'simpleRNN',
    () =>
      new Sequential({
        seed: 2,
        layers: [
          new L.SimpleRNN({ units: 7, inputShape: [T, D] }),
          new L.Dense({ units: V, activation: 'softmax' }),
        ],
      }),
  ],
  [
    'lstm (stacked)',
    () =>
      new Sequential({
        seed: 3,
        layers: [
          new L.LSTM({ units: 7, returnSequences: true, inputShape: [T, D] }),
          new L.LSTM({ units: 6 }),
          new L.Dense({ units: V, activation: 'softmax' }),
        ],
      }),
  ],
  [
    'gru (resetAfter false)',
    () =>
      new Sequential({
        seed: 4,
        layers: [
          new L.GRU({ units: 7, resetAfter: false, inputShape: [T, D] }),
          new L.Dense({ units: V, activation: 'softmax' }),
        ],
      }),
  ],
  [
    'embedding + lstm',
    () =>
      new Sequential({
        seed: 5,
        layers: [
          new L.Embedding({ inputDim: 9, outputDim: 5, inputShape: [T] }),
          new L.LSTM({ units: 6 }),
          new L.Dense({ units: V, activation: 'softmax' }),
        ],
      }),
  ],
];

/**
 * Gives a tfjs model weights drawn uniformly from ±1 by recur's seeded Random: tfjs's initializers are unseeded, so a
 * check that depends on the weights' values would pass or fail with the draw.
 */
function seedTfjsWeights(m: tf.LayersModel, seed: number): void {
  const random = new Random(seed);
  m.setWeights(
    m.getWeights().map((w) =>
      tf.tensor(
        Array.from({ length: w.size }, () => random.uniform(-1, 1)),
        w.shape,
      ),
    ),
  );
}

function inputFor(name: string, n: number, seed: number): AnyTensor {
  const rng = new Random(seed);
  if (name === 'dense') return randomTensor([n, D], rng);
  if (name.startsWith('embedding')) return randomIndices([n, T], 9, rng);
  return randomTensor([n, T, D], rng);
}

describe('cross-check with TensorFlow.js', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  for (const [name, build] of BUILDERS) {
    it(`${name}: recur's file loads in tfjs and predicts the same`, async () => {
      const model = build();
      model.build();
      const x = inputFor(name, 5, 10);
      const ours = model.predict(x);
      const theirs = await tfjsFromRecur(model);
      const ref = (theirs.predict(toTfjs(x)) as tf.Tensor).dataSync();
      assert.ok(maxAbsDiff(ours.data, ref) <= 1e-5, `max diff ${maxAbsDiff(ours.data, ref)}`);
    });

    for (const opt of ['sgd', 'rmsprop'] as const) {
      it(`${name}: one ${opt} step gives the same weights`, async () => {
        const model = build();
        model.build();
        const theirs = await tfjsFromRecur(model);
        const x = inputFor(name, 8, 11);
        const labels = randomIndices([8], V, new Random(12));
        const y = oneHot(labels, V);
        model.compile({
          optimizer: opt === 'sgd' ? new SGD({ learningRate: 0.1 }) : new RMSprop({ learningRate: 0.01 }),
          loss: 'categoricalCrossentropy',
        });
        theirs.compile({
          optimizer: opt === 'sgd' ? tf.train.sgd(0.1) : tf.train.rmsprop(0.01, 0.9, 0, 1e-7),
          loss: 'categoricalCrossentropy',
        });
        // Our loss takes class indices directly; tfjs needs the one-hot targets.
        model.trainOnBatch(x, labels);
        await theirs.trainOnBatch(toTfjs(x), toTfjs(y));
        const ws = model.getWeights();
        const ts = theirs.getWeights().map((w) => w.dataSync());
        assert.equal(ws.length, ts.length);
        ws.forEach((w, i) => assertClose(w.data, ts[i], 1e-5, `weight ${i}`));
      });
    }
  }

  it('index inputs to an LSTM match tfjs fed the one-hot tensor', async () => {
    const model = new Sequential({
      seed: 6,
      layers: [
        new L.LSTM({ units: 8, inputShape: [T, V] }),
        new L.Dense({ units: V, activation: 'softmax' }),
      ],
    });
    model.build();
    const idx = randomIndices([4, T], V, new Random(13));
    const theirs = await tfjsFromRecur(model);
    const ref = (theirs.predict(toTfjs(oneHot(idx, V))) as tf.Tensor).dataSync();
    assertClose(model.predict(idx).data, ref, 1e-5, 'predictions');
  });

  // tfjs's activations beyond Keras 2's (tfjs has no silu, exponential, leaky_relu, log_softmax or hard_silu).
  for (const activation of [
    'elu',
    'selu',
    'relu6',
    'softplus',
    'softsign',
    'swish',
    'mish',
    'gelu',
    'geluNew',
    'logSoftmax',
  ] as const) {
    it(`a Dense with ${activation}: tfjs reads recur's file, predicts the same and takes the same SGD step`, async () => {
      const model = new Sequential({
        seed: 21,
        layers: [
          new L.Dense({ units: 6, activation, inputShape: [D] }),
          new L.Dense({ units: V, activation: 'softmax' }),
        ],
      });
      model.build();
      // Pre-activations well past ±3: the tails, relu6's top, gelu's lower tail.
      const x = randomTensor([8, D], new Random(22), 4);
      // tfjs reads a file's 'gelu_new' as 'geluNew', which it does not know: that one is built in code.
      const theirs = activation === 'geluNew' ? tfjsGeluNew(model) : await tfjsFromRecur(model);
      assertClose(
        model.predict(x).data,
        (theirs.predict(toTfjs(x)) as tf.Tensor).dataSync(),
        1e-5,
        'predictions',
      );
      const labels = randomIndices([8], V, new Random(23));
      model.compile({ optimizer: new SGD({ learningRate: 0.5 }), loss: 'categoricalCrossentropy' });
      theirs.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
      model.trainOnBatch(x, labels);
      await theirs.trainOnBatch(toTfjs(x), toTfjs(oneHot(labels, V)));
      const ts = theirs.getWeights().map((w) => w.dataSync());
      model.getWeights().forEach((w, i) => assertClose(w.data, ts[i], 1e-5, `weight ${i}`));
    });
  }

  it('a tfjs-built model (tfjs defaults: hardSigmoid, glorotNormal) loads in recur and predicts the same', async () => {
    const m = tf.sequential();
    m.add(tf.layers.lstm({ units: 5, returnSequences: true, inputShape: [T, D] }));
    m.add(tf.layers.gru({ units: 4 }));
    m.add(tf.layers.dense({ units: 3, activation: 'sigmoid' }));
    const art = await tfjsArtifacts(m);
    const json = tfjsModelJson(art, []) as unknown as ModelJson;
    const { model } = deserializeModel(json, new Uint8Array(art.weightData as ArrayBuffer), 'memory');
    assert.equal((model.layers[0] as L.LSTM).recurrentActivation, 'hardSigmoid');
    const x = randomTensor([3, T, D], new Random(14));
    const ref = (m.predict(toTfjs(x)) as tf.Tensor).dataSync();
    assertClose(model.predict(x).data, ref, 1e-5, 'predictions');
  });

  it("a tfjs-made model pooling masked steps says on load that its predictions differ from tfjs's; recur's own does not", async () => {
    const load = async (pooling: 'max' | 'average', maskZero: boolean): Promise<string[]> => {
      const m = tf.sequential();
      m.add(tf.layers.embedding({ inputDim: 9, outputDim: 4, inputLength: T, maskZero }));
      m.add(tf.layers.lstm({ units: 5, returnSequences: true }));
      m.add(pooling === 'max' ? tf.layers.globalMaxPooling1d() : tf.layers.globalAveragePooling1d());
      const art = await tfjsArtifacts(m);
      const json = tfjsModelJson(art);
      const loaded = deserializeModel(
        validateModelJson(json, 'model.json'),
        new Uint8Array(art.weightData as ArrayBuffer),
        'model.json',
      );
      // Saved again by recur (its metadata says so) and read back: recur's predictions are the file's own.
      const again = serializeModel(loaded.model);
      const back = deserializeModel(
        validateModelJson(modelJsonFor(again, 'w.bin'), 'model.json'),
        again.weightData,
        'model.json',
      );
      const poolingNotes = (notes: string[]): string[] => notes.filter((n) => / over masked steps: /.test(n));
      assert.deepEqual(poolingNotes(back.notes), [], 'a recur file');
      return poolingNotes(loaded.notes);
    };
    const max = await load('max', true);
    assert.equal(max.length, 1);
    assert.match(
      max[0],
      /^model\.json: GlobalMaxPooling1D over masked steps: TensorFlow\.js, which made this file, pools the padded steps in/,
    );
    assert.match((await load('average', true))[0], /^model\.json: GlobalAveragePooling1D over masked steps/);
    assert.deepEqual(await load('max', false), [], 'no mask');
  });

  it('saving notes the activations tfjs cannot read (silu, leaky_relu, gelu_new, …), once each', () => {
    const model = (...activations: L.ActivationIdentifier[]): Sequential => {
      const m = new Sequential({
        seed: 4,
        layers: activations.map((activation, i) =>
          i === 0 ? new L.Dense({ units: 2, activation, inputShape: [3] }) : new L.Activation({ activation }),
        ),
      });
      m.build();
      return m;
    };
    const notes = (m: Sequential): string[] =>
      tfjsCompatibilityNotes(serializeModel(m).json.modelTopology).filter((n) => / activation, /.test(n));
    assert.deepEqual(notes(model('silu', 'leaky_relu', 'silu', 'hard_swish')), [
      "TensorFlow.js 4.x has no 'silu' or 'leaky_relu' or 'hard_swish' activation, so it cannot load this model; recur reads it",
    ]);
    assert.deepEqual(notes(model('swish', 'log_softmax', 'mish', 'relu6')), []);
    assert.equal(notes(model('gelu_new')).length, 1);
  });

  it('a tfjs Sequential Embedding model made without maskZero (tfjs writes mask_zero null) loads and predicts the same', async () => {
    const m = tf.sequential();
    m.add(tf.layers.embedding({ inputDim: 9, outputDim: 4, inputLength: T }));
    m.add(tf.layers.lstm({ units: 5 }));
    m.add(tf.layers.dense({ units: V, activation: 'softmax' }));
    const art = await tfjsArtifacts(m);
    const topology = art.modelTopology as { config: { layers: { config: Record<string, unknown> }[] } };
    assert.equal(topology.config.layers[0].config.mask_zero, null);
    const json = tfjsModelJson(art);
    const { model } = deserializeModel(
      validateModelJson(json, 'model.json'),
      new Uint8Array(art.weightData as ArrayBuffer),
      'model.json',
    );
    assert.equal((model.layers[0] as L.Embedding).maskZero, false);
    const ids = randomIndices([3, T], 9, new Random(15));
    const ref = (m.predict(toTfjs(ids)) as tf.Tensor).dataSync();
    assertClose(model.predict(ids).data, ref, 1e-5, 'predictions');
  });

  it('saving notes where tfjs would compute otherwise: masked global pooling, layers tfjs lacks', async () => {
    const pooled = (maskZero: boolean): Sequential => {
      const m = new Sequential({ seed: 4 });
      m.add(L.embedding({ inputDim: V, outputDim: 3, inputShape: [T], maskZero }));
      m.add(L.lstm({ units: 3, returnSequences: true }));
      m.add(L.globalAveragePooling1d());
      m.build();
      return m;
    };
    const masked = pooled(true);
    const art = serializeModel(masked, { includeOptimizer: false });
    const notes = tfjsCompatibilityNotes(art.json.modelTopology);
    assert.equal(notes.length, 1);
    assert.match(notes[0], /ignores the mask in GlobalAveragePooling1D/);
    // The note is true: on a padded batch tfjs averages the padding in.
    const ids = new IndexTensor(Int32Array.from([1, 2, 3, 0, 0, 0, 2, 2, 1, 3, 1, 0]), [2, T]);
    const theirs = (await tfjsFromRecur(masked)).predict(toTfjs(ids)) as tf.Tensor;
    assert.ok(maxAbsDiff(masked.predict(ids).data, theirs.dataSync()) > 1e-3);
    assert.deepEqual(tfjsCompatibilityNotes(serializeModel(pooled(false)).json.modelTopology), []);
    // Max pooling too: tfjs pools the outputs at padded steps (the LSTM's zero start state before the real steps)
    // in, recur skips them. With the LSTM's outputs all negative, tfjs's maximum is that 0.
    const maxPooled = new Sequential({ seed: 4 });
    maxPooled.add(L.embedding({ inputDim: V, outputDim: 3, inputShape: [T], maskZero: true }));
    maxPooled.add(L.lstm({ units: 3, returnSequences: true }));
    maxPooled.add(L.globalMaxPooling1d());
    maxPooled.build();
    const [embeddings, kernel, recurrent, bias] = maxPooled.getWeights();
    // Gates i, f, c, o: input and output gates open, the candidate −1, so h = o·tanh(c) < 0 at every real step.
    const gates = Float32Array.from({ length: 12 }, (_, k) => [5, 0, -5, 5][Math.floor(k / 3)]);
    maxPooled.setWeights([
      embeddings,
      new Tensor(new Float32Array(kernel.size), kernel.shape),
      new Tensor(new Float32Array(recurrent.size), recurrent.shape),
      new Tensor(gates, bias.shape),
    ]);
    const maxNotes = tfjsCompatibilityNotes(serializeModel(maxPooled).json.modelTopology);
    assert.equal(maxNotes.length, 1);
    assert.match(maxNotes[0], /ignores the mask in GlobalMaxPooling1D/);
    const leftPadded = new IndexTensor(Int32Array.from([0, 0, 0, 1, 2, 3, 0, 2, 2, 1, 3, 1]), [2, T]);
    const ours = maxPooled.predict(leftPadded).data;
    assert.ok(Math.max(...ours) < 0);
    const theirsMax = (await tfjsFromRecur(maxPooled)).predict(toTfjs(leftPadded)) as tf.Tensor;
    assert.ok(maxAbsDiff(ours, theirsMax.dataSync()) > 0.1);
    assert.match(
      tfjsCompatibilityNotes({
        class_name: 'Functional',
        config: { layers: [{ class_name: 'Attention', config: {} }] },
      })[0],
      /TensorFlow\.js 4\.x has no Attention layer/,
    );
  });

  describe('through files', () => {
    let dir = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'recur-tfjs-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('recur saveModel → tfjs file handler', async () => {
      const model = BUILDERS[2][1]();
      model.compile({ optimizer: 'rmsprop', loss: 'categoricalCrossentropy' });
      model.trainOnBatch(inputFor('lstm', 4, 1), randomIndices([4], V, new Random(2)));
      saveModel(model, join(dir, 'ours'));
      const { json, weightData } = readModelFiles(join(dir, 'ours'));
      const handler: tf.io.IOHandler = {
        load: async () => ({
          modelTopology: json.modelTopology as unknown as tf.io.ModelJSON['modelTopology'],
          weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
          weightData: weightData.buffer.slice(
            weightData.byteOffset,
            weightData.byteOffset + weightData.byteLength,
          ) as ArrayBuffer,
        }),
      };
      const theirs = await tf.loadLayersModel(handler);
      const x = inputFor('lstm', 3, 3);
      assertClose(
        model.predict(x).data,
        (theirs.predict(toTfjs(x)) as tf.Tensor).dataSync(),
        1e-5,
        'predictions',
      );
    });

    it('tfjs save (model.json + weights.bin) → recur loadModel', async () => {
      const m = tf.sequential();
      m.add(tf.layers.simpleRNN({ units: 4, inputShape: [T, D], returnSequences: true }));
      // tfjs writes `"implementation": null` in LSTM and GRU configs, which the schema must accept.
      m.add(tf.layers.lstm({ units: 3, returnSequences: true }));
      m.add(tf.layers.gru({ units: 3 }));
      m.add(tf.layers.dense({ units: 2 }));
      const target = join(dir, 'theirs');
      writeTfjsDir(await tfjsArtifacts(m), target);
      const { model } = loadModel(target);
      const x = randomTensor([2, T, D], new Random(5));
      assertClose(model.predict(x).data, (m.predict(toTfjs(x)) as tf.Tensor).dataSync(), 1e-5, 'predictions');
      assert.ok(readFileSync(join(target, 'model.json'), 'utf8').includes('SimpleRNN'));
    });

    it("LSTM and GRU without recurrent_activation take the default of the file's writer: tfjs's hard_sigmoid, Keras's sigmoid", async () => {
      const x = randomTensor([3, T, D], new Random(12));
      const sequentialModel = tf.sequential();
      sequentialModel.add(tf.layers.lstm({ units: 4, inputShape: [T, D], returnSequences: true }));
      sequentialModel.add(tf.layers.bidirectional({ layer: tf.layers.gru({ units: 3 }) as tf.RNN }));
      const input = tf.input({ shape: [T, D] });
      const gru = tf.layers
        .gru({ units: 3 })
        .apply(tf.layers.lstm({ units: 4, returnSequences: true }).apply(input));
      const functionalModel = tf.model({ inputs: input, outputs: gru as tf.SymbolicTensor });
      // Weights of a fixed draw: with tfjs's own (unseeded) ones the two gates' outputs once differed by < 1e-3.
      seedTfjsWeights(sequentialModel, 13);
      seedTfjsWeights(functionalModel, 14);
      for (const [name, m] of [
        ['sequential', sequentialModel],
        ['functional', functionalModel],
      ] as const) {
        const art = await tfjsArtifacts(m);
        // Every recurrent_activation key, in wrappers too, removed (or set): the file as a writer leaving it out.
        const withGates = (gate: string | null): tf.io.ModelArtifacts => {
          const topology = JSON.parse(JSON.stringify(art.modelTopology), (k: string, v: unknown) =>
            k === 'recurrent_activation' ? (gate ?? undefined) : v,
          ) as tf.io.ModelJSON['modelTopology'];
          assert.ok(!JSON.stringify(topology).includes('recurrent_activation') || gate !== null);
          return { ...art, modelTopology: topology };
        };
        const tfjsPredicts = async (a: tf.io.ModelArtifacts): Promise<Float32Array> => {
          const loaded = await tf.loadLayersModel(tf.io.fromMemory(a));
          return (loaded.predict(toTfjs(x)) as tf.Tensor).dataSync() as Float32Array;
        };
        const missing = withGates(null);
        const tfjsDefault = await tfjsPredicts(missing);
        const sigmoid = await tfjsPredicts(withGates('sigmoid'));
        assert.ok(maxAbsDiff(tfjsDefault, sigmoid) > 1e-3, `${name}: the two gates differ on this input`);
        const target = join(dir, `no-recurrent-activation-${name}`);
        writeTfjsDir(missing, target);
        const ours = async (): Promise<Float32Array> =>
          ((await loadAnyModel(target)).model.predict(x) as Tensor).data;
        assertClose(await ours(), tfjsDefault, 1e-5, `${name}: a tfjs file reads as tfjs reads it`);
        // One note says which default was taken, for every layer without the option (wrapped ones too): said by
        // the model.json reader itself, which the page's engine and serve's workers call on the files' contents, and
        // once (not twice) by the file loaders above it.
        const defaultsNotes = async (): Promise<string[]> => {
          const { json, weightFiles, file } = readModelFiles(
            target,
            name === 'functional' ? parseFunctionalModelJson : parseModelJson,
          );
          const read = (
            name === 'functional'
              ? deserializeFunctional(json, weightFiles, file)
              : deserializeModel(json, weightFiles, file)
          ).notes.filter((n) => n.includes('recurrent_activation'));
          const loaded = (await loadAnyModel(target)).notes.filter((n) => n.includes('recurrent_activation'));
          assert.deepEqual(loaded, read);
          return read;
        };
        const layers =
          "'[^']+' \\(LSTM\\) recurrent_activation hardSigmoid \\(Keras's: sigmoid\\), " +
          "'[^']+' \\(GRU\\) recurrent_activation hardSigmoid \\(Keras's: sigmoid\\)$";
        let notes = await defaultsNotes();
        assert.equal(notes.length, 1, notes.join('\n'));
        assert.match(
          notes[0],
          new RegExp(
            `model\\.json: written by TensorFlow\\.js, so options its layers leave out take TensorFlow\\.js's defaults: ${layers}`,
          ),
        );
        const json = JSON.parse(readFileSync(join(target, 'model.json'), 'utf8')) as Record<string, unknown>;
        // No writer named at all: read as Keras's, and the note says so.
        const unmarked: Record<string, unknown> = {
          ...json,
          modelTopology: { ...(json.modelTopology as object) },
        };
        delete unmarked.generatedBy;
        delete unmarked.format;
        delete (unmarked.modelTopology as Record<string, unknown>).keras_version;
        writeFileSync(join(target, 'model.json'), JSON.stringify(unmarked));
        assertClose(await ours(), sigmoid, 1e-5, `${name}: a file naming no writer reads as Keras's`);
        notes = await defaultsNotes();
        assert.equal(notes.length, 1, notes.join('\n'));
        assert.match(
          notes[0],
          /model\.json: no writer named \(no generatedBy or keras_version\): read as Keras's, so options its layers leave out take Keras's defaults: '[^']+' \(LSTM\) recurrent_activation sigmoid \(TensorFlow\.js's: hardSigmoid\)/,
        );
        // The same file as tensorflowjs_converter writes a Keras model: Keras's default, no note.
        writeFileSync(
          join(target, 'model.json'),
          JSON.stringify({
            ...json,
            generatedBy: 'keras v2.15.0',
            convertedBy: 'TensorFlow.js Converter v4.22.0',
            modelTopology: { ...(json.modelTopology as object), keras_version: '2.15.0' },
          }),
        );
        assertClose(await ours(), sigmoid, 1e-5, `${name}: a Keras file reads with Keras's sigmoid`);
        assert.deepEqual(await defaultsNotes(), []);
      }
    });

    it('a Sequential config that is the bare list of layers (Keras before 2.2.3; tfjs reads it) loads, its errors placed in the list', async () => {
      const m = tf.sequential();
      m.add(tf.layers.lstm({ units: 3, inputShape: [T, D] }));
      m.add(tf.layers.dense({ units: 2 }));
      const art = await tfjsArtifacts(m);
      const topology = art.modelTopology as { config: { layers: { config: Record<string, unknown> }[] } };
      const listed = { ...art, modelTopology: { ...topology, config: topology.config.layers } };
      const x = randomTensor([2, T, D], new Random(8));
      const want = (m.predict(toTfjs(x)) as tf.Tensor).dataSync();
      const theirs = await tf.loadLayersModel(
        tf.io.fromMemory({ ...listed, weightData: art.weightData as ArrayBuffer }),
      );
      assertClose((theirs.predict(toTfjs(x)) as tf.Tensor).dataSync(), want, 1e-6, 'tfjs reads the list');
      const target = join(dir, 'listed');
      writeTfjsDir(listed, target);
      assertClose(loadModel(target).model.predict(x).data, want, 1e-5, 'predictions');
      topology.config.layers[1].config.units = 0;
      writeTfjsDir({ ...art, modelTopology: { ...topology, config: topology.config.layers } }, target);
      assert.throws(
        () => loadModel(target),
        /model\.json: modelTopology\.config\[1\]\.config\.units: expected/,
      );
    });

    it("weights tfjs's converter quantized (float16, uint8, uint16) load as tfjs dequantizes them", async () => {
      const m = tf.sequential();
      m.add(tf.layers.lstm({ units: 4, inputShape: [T, D], returnSequences: true }));
      m.add(tf.layers.gru({ units: 3 }));
      m.add(tf.layers.dense({ units: 2 }));
      const art = await tfjsArtifacts(m);
      // Each weight stored as the converter would: random half floats of moderate size, or bytes with a scale.
      const rng = new Random(9);
      const kinds = ['float16', 'uint8', 'uint16'] as const;
      const chunks: Uint8Array[] = [];
      const weightSpecs = art.weightSpecs!.map((spec, k) => {
        const dtype = kinds[k % 3];
        const n = spec.shape.reduce((a, b) => a * b, 1);
        const bytes = new Uint8Array(n * (dtype === 'uint8' ? 1 : 2));
        const view = new DataView(bytes.buffer);
        for (let i = 0; i < n; i++) {
          if (dtype === 'float16')
            view.setUint16(2 * i, (rng.int(2) << 15) | ((9 + rng.int(6)) << 10) | rng.int(1024), true);
          else if (dtype === 'uint8') view.setUint8(i, rng.int(256));
          else view.setUint16(2 * i, rng.int(65536), true);
        }
        chunks.push(bytes);
        const scale = dtype === 'uint8' ? 0.004 : 0.00002;
        return { ...spec, quantization: dtype === 'float16' ? { dtype } : { dtype, scale, min: -0.6 } };
      });
      const weightData = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
      chunks.reduce((off, c) => (weightData.set(c, off), off + c.length), 0);
      const quantized = { ...art, weightSpecs, weightData: weightData.buffer };
      const theirs = await tf.loadLayersModel(tf.io.fromMemory(quantized));
      const target = join(dir, 'quantized');
      writeTfjsDir(quantized, target);
      const x = randomTensor([3, T, D], new Random(10));
      const want = (theirs.predict(toTfjs(x)) as tf.Tensor).dataSync();
      assertClose(loadModel(target).model.predict(x).data, want, 1e-5, 'predictions');
      const json = JSON.parse(readFileSync(join(target, 'model.json'), 'utf8')) as ModelJson;
      delete json.weightsManifest[0].weights[1].quantization!.scale;
      writeFileSync(join(target, 'model.json'), JSON.stringify(json));
      assert.throws(
        () => loadModel(target),
        /weightsManifest\[0\]\.weights\[1\]\.quantization: expected the scale and min of uint8 values/,
      );
    });

    it("tfjs save with includeOptimizer (its step count 'iter' is int32) → recur loads the model, the optimizer's weights noted as ignored", async () => {
      const sequentialModel = tf.sequential();
      sequentialModel.add(tf.layers.lstm({ units: 3, inputShape: [T, D] }));
      sequentialModel.add(tf.layers.dense({ units: 2, activation: 'softmax' }));
      const x = tf.input({ shape: [T, D] });
      const y = tf.layers
        .dense({ units: 2, activation: 'softmax' })
        .apply(tf.layers.gru({ units: 3 }).apply(x));
      const functionalModel = tf.model({ inputs: x, outputs: y as tf.SymbolicTensor });
      for (const [name, m] of [
        ['sequential', sequentialModel],
        ['functional', functionalModel],
      ] as const) {
        m.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
        await m.trainOnBatch(toTfjs(randomTensor([4, T, D], new Random(6))), tf.oneHot([0, 1, 1, 0], 2));
        const art = await tfjsArtifacts(m, { includeOptimizer: true });
        assert.ok(art.weightSpecs!.some((w) => w.group === 'optimizer' && w.dtype === 'int32'));
        const target = join(dir, `with-optimizer-${name}`);
        writeTfjsDir(art, target);
        const { model, notes } = await loadAnyModel(target);
        const input = randomTensor([2, T, D], new Random(7));
        const want = (m.predict(toTfjs(input)) as tf.Tensor).dataSync();
        assertClose((model.predict(input) as Tensor).data, want, 1e-5, `${name} predictions`);
        assert.ok(
          notes.some((n) => /optimizer weights ignored/.test(n)),
          notes.join('\n'),
        );
      }
    });
  });
});
