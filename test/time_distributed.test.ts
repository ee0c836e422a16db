/**
 * TimeDistributed: gradient checks (Dense, and an inner recurrent layer over a second time axis), the result equals
 * the inner layer applied to every step, predictions equal to tfjs's on identical weights with files both ways
 * (tfjs's weight names `time_distributed/kernel` and config nesting), the fused softmax loss path, and `step` as
 * the inner layer's step.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../src/core/random.js';
import { IndexTensor, Tensor, type AnyTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import { Sequential } from '../src/models/sequential.js';
import { Stepper } from '../src/models/stepper.js';
import { deserializeModel, serializeModel, type ModelJson } from '../src/models/serialization.js';
import { gradCheckLayer, maxAbsDiff, randomTensor } from './helpers.js';

const N = 2;
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

describe('timeDistributed', () => {
  it('gradient check: Dense (tanh, softmax) and an inner LSTM over a second time axis', () => {
    for (const activation of ['tanh', 'softmax'] as const)
      gradCheckLayer(
        new L.TimeDistributed({ layer: new L.Dense({ units: 3, activation }), inputShape: [T, D] }),
        randomTensor([N, T, D], new Random(1)),
      );
    gradCheckLayer(
      new L.TimeDistributed({ layer: new L.LSTM({ units: 2 }), inputShape: [T, 2, D] }),
      randomTensor([N, T, 2, D], new Random(2)),
    );
  });
  it('equals the inner layer applied to every step', () => {
    const td = new L.TimeDistributed({
      layer: new L.Dense({ units: 3, activation: 'relu' }),
      inputShape: [T, D],
    });
    td.build([T, D], new Random(3));
    const x = randomTensor([N, T, D], new Random(4));
    const y = td.forward(x, { training: false, seed: 0 });
    assert.deepEqual([...y.shape], [N, T, 3]);
    for (let n = 0; n < N; n++)
      for (let t = 0; t < T; t++) {
        const row = new Tensor(x.data.slice((n * T + t) * D, (n * T + t + 1) * D), [1, D]);
        const want = td.layer.forward(row, { training: false, seed: 0 }).data;
        assert.ok(maxAbsDiff(y.data.subarray((n * T + t) * 3, (n * T + t + 1) * 3), want) < 1e-6);
      }
  });
  it('recur → tfjs (same predictions) and tfjs → recur, with tfjs weight names and nesting', async () => {
    const ours = new Sequential({
      seed: 4,
      layers: [
        new L.LSTM({ units: 3, returnSequences: true, inputShape: [T, D] }),
        new L.TimeDistributed({ name: 'td', layer: new L.Dense({ units: 2, activation: 'softmax' }) }),
      ],
    });
    ours.build();
    assert.deepEqual(
      ours
        .namedWeights()
        .map((w) => w.name)
        .slice(3),
      ['td/kernel', 'td/bias'],
    );
    const art = serializeModel(ours, { includeOptimizer: false });
    const layerJson = JSON.parse(JSON.stringify(art.json.modelTopology)).config.layers[1];
    assert.equal(layerJson.class_name, 'TimeDistributed');
    assert.equal(layerJson.config.layer.class_name, 'Dense');
    assert.equal(layerJson.config.layer.config.activation, 'softmax');
    const x = randomTensor([N, T, D], new Random(5));
    const mine = ours.predict(x);
    const theirs = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: art.json.modelTopology as unknown as tf.io.ModelJSON['modelTopology'],
        weightSpecs: art.weightSpecs,
        weightData: art.weightData.buffer.slice(
          art.weightData.byteOffset,
          art.weightData.byteOffset + art.weightData.byteLength,
        ) as ArrayBuffer,
      }),
    );
    const got = (theirs.predict(toTfjs(x)) as tf.Tensor).dataSync();
    assert.ok(maxAbsDiff(mine.data, got) <= 1e-5);
    // tfjs's own file of the same model.
    const back = await tfjsArtifacts(theirs);
    assert.match(back.weightSpecs![3].name, /^td\/kernel$/);
    const json: ModelJson = {
      format: 'layers-model',
      generatedBy: 'tfjs',
      convertedBy: null,
      modelTopology: back.modelTopology as ModelJson['modelTopology'],
      weightsManifest: [
        { paths: [], weights: back.weightSpecs as ModelJson['weightsManifest'][0]['weights'] },
      ],
    };
    const loaded = deserializeModel(json, new Uint8Array(back.weightData as ArrayBuffer), 'tfjs.json').model;
    assert.ok(loaded.layers[1] instanceof L.TimeDistributed);
    assert.ok(maxAbsDiff(loaded.predict(x).data, got) <= 1e-5);
    theirs.dispose();
  });
  it('trains as the last layer with the fused softmax loss; steps as its inner layer', () => {
    const V = 5;
    const m = new Sequential({
      seed: 2,
      layers: [
        new L.GRU({ units: 4, returnSequences: true, inputShape: [T, V] }),
        new L.TimeDistributed({ layer: new L.Dense({ units: V, activation: 'softmax' }) }),
      ],
    });
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const x = new IndexTensor(
      Int32Array.from({ length: 8 * T }, (_, i) => (i * 7) % V),
      [8, T],
    );
    const y = new IndexTensor(
      Int32Array.from({ length: 8 * T }, (_, i) => (i * 7 + 1) % V),
      [8, T],
    );
    const before = m.evaluate(x, y).loss;
    for (let e = 0; e < 20; e++) m.trainOnBatch(x, y);
    assert.ok(m.evaluate(x, y).loss < before, 'loss falls');
    // Stepping the stack one token at a time gives the last step of the sequence output.
    const stepper = new Stepper(m, 1, false);
    let out: Float32Array = new Float32Array(0);
    for (let t = 0; t < T; t++) out = stepper.step(Int32Array.of(x.data[t]));
    const full = m.predict(new IndexTensor(x.data.slice(0, T), [1, T])).data.slice((T - 1) * V);
    assert.ok(maxAbsDiff(out, full) < 1e-5, `step vs sequence: ${maxAbsDiff(out, full)}`);
  });
  it('bad inputs: clear errors', () => {
    assert.throws(
      () =>
        new Sequential({
          layers: [new L.TimeDistributed({ layer: new L.Dense({ units: 2 }), inputShape: [D] })],
        }),
      /timeDistributed '.*' expects inputs \[batch, time, \.\.\.features\], got rank 2/,
    );
    assert.throws(
      () => new L.TimeDistributed({ layer: { className: 'Nope', config: {} } }),
      /has class 'Nope', which recur does not know/,
    );
  });
});
