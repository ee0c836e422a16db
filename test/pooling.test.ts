/**
 * GlobalMaxPooling1D and GlobalAveragePooling1D: values by hand with and without a mask (padding never counts),
 * gradients against finite differences, TensorFlow.js on identical inputs (a masked row equals tfjs pooling that
 * row's real steps alone), whole models through tfjs files both ways, Keras configs, and errors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import '../src/node/index.js';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../src/core/random.js';
import { IndexTensor, Tensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import type { SequenceMask } from '../src/layers/layer.js';
import {
  deserializeModel,
  layerFromKeras,
  serializeModel,
  type ModelJson,
} from '../src/models/serialization.js';
import { Sequential } from '../src/models/sequential.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { assertClose, gradCheckLayer, maxAbsDiff, randomIndices, randomTensor } from './helpers.js';

const N = 3;
const T = 5;
const D = 4;

/** Row n keeps its first T − n steps (row 0 unpadded), like a length-bucketed batch. */
function tailPadding(rows: number, steps: number): SequenceMask {
  return {
    data: Uint8Array.from({ length: rows * steps }, (_, i) =>
      i % steps < steps - Math.floor(i / steps) ? 1 : 0,
    ),
    shape: [rows, steps],
  };
}

type Pool = L.GlobalMaxPooling1D | L.GlobalAveragePooling1D;
const KINDS: [string, () => Pool, () => tf.layers.Layer][] = [
  ['GlobalMaxPooling1D', () => new L.GlobalMaxPooling1D(), () => tf.layers.globalMaxPooling1d({})],
  [
    'GlobalAveragePooling1D',
    () => new L.GlobalAveragePooling1D(),
    () => tf.layers.globalAveragePooling1d({}),
  ],
];

function built(make: () => Pool, width = D): Pool {
  const layer = make();
  layer.build([null, width], new Random(1));
  return layer;
}

/** tfjs's own save of a model, as recur reads model.json + weights. */
async function tfjsFile(m: tf.LayersModel): Promise<{ json: ModelJson; weights: Uint8Array }> {
  let art: tf.io.ModelArtifacts | null = null;
  await m.save({
    save: async (a: tf.io.ModelArtifacts) => {
      art = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
  const a = art! as tf.io.ModelArtifacts;
  return {
    json: {
      format: 'layers-model',
      generatedBy: 'tfjs',
      convertedBy: null,
      modelTopology: a.modelTopology as ModelJson['modelTopology'],
      weightsManifest: [{ paths: [], weights: a.weightSpecs as ModelJson['weightsManifest'][0]['weights'] }],
    },
    weights: new Uint8Array(a.weightData as ArrayBuffer),
  };
}

describe('global pooling over time', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });
  after(() => shutdownWorkerPool());

  it('values by hand: padding is excluded, a row with no real step gives 0', () => {
    // One row, 3 steps, 2 features; the last step is padding with values that would win the max and move the mean.
    const x = new Tensor(Float32Array.from([1, -4, 3, -2, 99, 99]), [1, 3, 2]);
    const mask: SequenceMask = { data: Uint8Array.from([1, 1, 0]), shape: [1, 3] };
    const max = built(() => new L.GlobalMaxPooling1D(), 2);
    const avg = built(() => new L.GlobalAveragePooling1D(), 2);
    assert.deepEqual([...max.forward(x, { training: false, seed: 0, mask }).data], [3, -2]);
    assert.deepEqual([...avg.forward(x, { training: false, seed: 0, mask }).data], [2, -3]);
    assert.deepEqual([...max.forward(x, { training: false, seed: 0 }).data], [99, 99]);
    assertClose(avg.forward(x, { training: false, seed: 0 }).data, [103 / 3, 31], 1e-5, 'unmasked mean');
    const none: SequenceMask = { data: new Uint8Array(3), shape: [1, 3] };
    for (const layer of [max, avg]) {
      assert.deepEqual([...layer.forward(x, { training: true, seed: 0, mask: none }).data], [0, 0]);
      assert.deepEqual(
        [...layer.backward(new Tensor(Float32Array.from([1, 1]), [1, 2])).data],
        [0, 0, 0, 0, 0, 0],
      );
      assert.equal(layer.computeMask(x, mask), null, 'the time axis and its mask are pooled away');
    }
    // Max backward routes each feature's gradient to its (real) argmax step only.
    max.forward(x, { training: true, seed: 0, mask });
    assert.deepEqual(
      [...max.backward(new Tensor(Float32Array.from([5, 7]), [1, 2])).data],
      [0, 0, 5, 7, 0, 0],
    );
    avg.forward(x, { training: true, seed: 0, mask });
    assert.deepEqual(
      [...avg.backward(new Tensor(Float32Array.from([4, 6]), [1, 2])).data],
      [2, 3, 2, 3, 0, 0],
    );
  });

  for (const [name, make] of KINDS) {
    it(`${name}: gradients match finite differences, with and without a mask`, () => {
      const kinks = name === 'GlobalMaxPooling1D';
      gradCheckLayer(make(), randomTensor([N, T, D], new Random(3)), { kinks });
      gradCheckLayer(make(), randomTensor([N, T, D], new Random(4)), { kinks, mask: tailPadding(N, T) });
    });
  }

  for (const [name, make, makeTf] of KINDS) {
    it(`${name}: equals tfjs on identical inputs; a masked row equals tfjs on its real steps`, () => {
      const x = randomTensor([N, T, D], new Random(5));
      const layer = built(make);
      const ref = makeTf().apply(tf.tensor(Array.from(x.data), [N, T, D])) as tf.Tensor;
      assertClose(layer.forward(x, { training: false, seed: 0 }).data, ref.dataSync(), 1e-6, 'unmasked');
      const mask = tailPadding(N, T);
      const ours = layer.forward(x, { training: false, seed: 0, mask }).data;
      for (let n = 0; n < N; n++) {
        const len = T - n;
        const row = x.data.slice(n * T * D, (n * T + len) * D);
        const theirs = (makeTf().apply(tf.tensor(Array.from(row), [1, len, D])) as tf.Tensor).dataSync();
        assertClose(ours.subarray(n * D, (n + 1) * D), theirs, 1e-6, `row ${n} (${len} real steps)`);
      }
    });
  }

  for (const [name, make] of KINDS) {
    it(`${name}: a model with it saves in tfjs format, loads in tfjs and in recur, and predicts the same`, async () => {
      const model = new Sequential({
        seed: 8,
        layers: [
          new L.Embedding({ inputDim: 9, outputDim: D, inputShape: [T] }),
          new L.LSTM({ units: 6, returnSequences: true }),
          make(),
          new L.Dense({ units: 3, activation: 'softmax' }),
        ],
      });
      model.build();
      const x = randomIndices([4, T], 9, new Random(9));
      const ours = model.predict(x).data;
      const art = serializeModel(model, { includeOptimizer: false });
      const buf = art.weightData.buffer.slice(
        art.weightData.byteOffset,
        art.weightData.byteOffset + art.weightData.byteLength,
      ) as ArrayBuffer;
      const theirs = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: art.json.modelTopology as unknown as tf.io.ModelJSON['modelTopology'],
          weightSpecs: art.weightSpecs,
          weightData: buf,
        }),
      );
      assert.equal(theirs.layers[2].getClassName(), name);
      const ref = (theirs.predict(tf.tensor(Array.from(x.data), [4, T], 'int32')) as tf.Tensor).dataSync();
      assertClose(ours, ref, 1e-5, 'tfjs predictions');
      // And back: tfjs's own file of that model loads in recur with the same predictions.
      const file = await tfjsFile(theirs);
      const again = deserializeModel(file.json, file.weights, 'tfjs.json').model;
      assert.equal(again.layers[2].className, name);
      assertClose(again.predict(x).data, ref, 1e-5, 'tfjs file in recur');
    });
  }

  it('a masked BiLSTM stack pools each text over its own words: padding a text does not change its output', () => {
    const model = new Sequential({
      seed: 10,
      layers: [
        new L.Embedding({ inputDim: 12, outputDim: 5, maskZero: true, inputShape: [null] }),
        new L.Bidirectional({ layer: new L.LSTM({ units: 4, returnSequences: true }) }),
        new L.GlobalMaxPooling1D(),
        new L.Dense({ units: 2, activation: 'softmax' }),
      ],
    });
    model.build();
    const ids = [3, 7, 1, 11];
    const short = model.predict(new IndexTensor(Int32Array.from(ids), [1, 4])).data;
    const padded = model.predict(new IndexTensor(Int32Array.from([...ids, 0, 0, 0]), [1, 7])).data;
    assertClose(padded, short, 1e-6, 'padded vs unpadded');
  });

  it('training on worker threads: 2 threads agree with 1 (masked, padded texts; both poolings)', async () => {
    // Texts of 2–8 ids padded with 0 to 8, so every batch has masked steps the pooling must skip on every replica.
    const rng = new Random(21);
    const rows = 64;
    const ids = new Int32Array(rows * 8);
    const labels = new Int32Array(rows);
    for (let n = 0; n < rows; n++) {
      const len = 2 + rng.int(7);
      for (let t = 0; t < len; t++) ids[n * 8 + t] = 1 + rng.int(11);
      labels[n] = ids[n * 8] % 2;
    }
    const train = async (threads: number, pooled: () => Pool): Promise<Float32Array[]> => {
      const model = new Sequential({
        seed: 12,
        layers: [
          new L.Embedding({ inputDim: 12, outputDim: 6, maskZero: true, inputShape: [8] }),
          new L.Bidirectional({ layer: new L.LSTM({ units: 5, returnSequences: true }) }),
          pooled(),
          new L.Dense({ units: 2, activation: 'softmax' }),
        ],
      });
      model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      await model.fit(new IndexTensor(ids, [rows, 8]), new IndexTensor(labels, [rows]), {
        epochs: 2,
        batchSize: 16,
        threads,
      });
      return model.getWeights().map((w) => w.data);
    };
    for (const [name, make] of KINDS) {
      const one = await train(1, make);
      const two = await train(2, make);
      one.forEach((w, i) =>
        assert.ok(maxAbsDiff(w, two[i]) < 1e-4, `${name}, weight ${i}: ${maxAbsDiff(w, two[i])}`),
      );
    }
  });

  it('reads Keras configs (data_format, keepdims) and refuses what it cannot do, naming the option', () => {
    for (const className of ['GlobalMaxPooling1D', 'GlobalAveragePooling1D']) {
      const layer = layerFromKeras(
        {
          class_name: className,
          config: {
            name: 'p',
            trainable: true,
            dtype: 'float32',
            data_format: 'channels_last',
            keepdims: false,
          },
        },
        'm.json',
      );
      assert.equal(layer.className, className);
      assert.throws(
        () => layerFromKeras({ class_name: className, config: { name: 'p', keepdims: true } }, 'm.json'),
        /m\.json: layer 'p': .*'keepdims' must be false, got true/,
      );
      assert.throws(
        () =>
          layerFromKeras(
            { class_name: className, config: { name: 'p', data_format: 'channels_first' } },
            'm.json',
          ),
        /m\.json: layer 'p': .*'dataFormat' must be 'channels_last'/,
      );
    }
    const layer = new L.GlobalMaxPooling1D();
    assert.throws(
      () => layer.build([D], new Random(1)),
      /expects inputs \[batch, time, features\], got rank 2/,
    );
    const p = built(() => new L.GlobalAveragePooling1D());
    assert.throws(
      () =>
        p.forward(randomTensor([2, 3, D], new Random(1)), {
          training: false,
          seed: 0,
          mask: tailPadding(2, 4),
        }),
      /mask \[2, 4\] does not fit an input of 2 rows × 3 steps/,
    );
  });
});
