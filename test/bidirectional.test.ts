/**
 * Bidirectional: gradient checks of every merge mode with LSTM and GRU (sequences and last step, initial states and
 * returnState through the graph hooks); predictions equal to tfjs's on identical weights with files both ways
 * (tfjs loads recur's Sequential and functional models; recur loads tfjs's), tfjs's weight names and config nesting;
 * the backward direction reversed in time; clear errors for several outputs in a Sequential model and for steps.
 */
import '../src/node/index.js';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../src/core/random.js';
import { Tensor, indexTensor, type AnyTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import type { SymbolicTensor } from '../src/layers/symbolic.js';
import { input, model } from '../src/models/functional.js';
import { deserializeFunctional, serializeFunctional } from '../src/models/functional_serialization.js';
import { Sequential } from '../src/models/sequential.js';
import {
  deserializeModel,
  modelJsonFor,
  serializeModel,
  type ModelArtifacts,
  type ModelJson,
} from '../src/models/serialization.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { gradCheckMany } from './graph_helpers.js';
import { gradCheckLayer, maxAbsDiff, randomIndices, randomTensor } from './helpers.js';

const N = 2;
const T = 3;
const D = 3;
const H = 2;
const MODES = ['concat', 'sum', 'mul', 'ave'] as const;

const cells = {
  LSTM: (o: Record<string, unknown>) => new L.LSTM({ units: H, ...o }),
  GRU: (o: Record<string, unknown>) => new L.GRU({ units: H, ...o }),
};

function toTfjs(x: AnyTensor): tf.Tensor {
  return tf.tensor(Array.from(x.data), [...x.shape], 'float32');
}

function buffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

async function tfjsFrom(art: ModelArtifacts): Promise<tf.LayersModel> {
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: art.json.modelTopology as unknown as tf.io.ModelJSON['modelTopology'],
      weightSpecs: art.weightSpecs.filter((w) => w.group !== 'optimizer'),
      weightData: buffer(art.weightData),
    }),
  );
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

function jsonOf(art: tf.io.ModelArtifacts): ModelJson {
  return {
    format: 'layers-model',
    generatedBy: 'tfjs',
    convertedBy: null,
    modelTopology: art.modelTopology as ModelJson['modelTopology'],
    weightsManifest: [{ paths: [], weights: art.weightSpecs as ModelJson['weightsManifest'][0]['weights'] }],
  };
}

describe('bidirectional: gradient checks', () => {
  for (const [cell, make] of Object.entries(cells)) {
    for (const mergeMode of MODES) {
      for (const returnSequences of [true, false]) {
        it(`${cell} ${mergeMode}${returnSequences ? ', returnSequences' : ''}`, () => {
          const layer = new L.Bidirectional({
            layer: make({ returnSequences }),
            mergeMode,
            inputShape: [T, D],
          });
          gradCheckLayer(layer, randomTensor([N, T, D], new Random(3)), { training: false });
        });
      }
    }
    it(`${cell} merge mode null with returnState and initial states (graph hooks)`, () => {
      const layer = new L.Bidirectional({
        layer: make({ returnSequences: true, returnState: true, dropout: 0.2 }),
        mergeMode: null,
      });
      const k = layer.forwardLayer.stateCount;
      const xs = [randomTensor([N, T, D], new Random(4))];
      for (let i = 0; i < 2 * k; i++) xs.push(randomTensor([N, H], new Random(10 + i), 0.5));
      gradCheckMany(layer, xs);
      const outs = layer.forwardMany(xs, { training: false, seed: 0 });
      assert.equal(outs.length, 2 + 2 * k, 'y_f, y_b, forward states, backward states');
    });
  }
  it('concat with returnState: the gradients of used final states flow', () => {
    const layer = new L.Bidirectional({
      layer: new L.LSTM({ units: H, returnState: true }),
      mergeMode: 'concat',
    });
    gradCheckMany(layer, [randomTensor([N, T, D], new Random(5))]);
  });
});

describe('bidirectional: semantics', () => {
  it('the backward direction is the inner layer on the reversed sequence, reversed back (returnSequences)', () => {
    const bi = new L.Bidirectional({
      layer: new L.GRU({ units: H, returnSequences: true }),
      mergeMode: null,
      inputShape: [T, D],
    });
    bi.build([T, D], new Random(1));
    const x = randomTensor([N, T, D], new Random(6));
    const [yf, yb] = bi.forwardMany([x], { training: false, seed: 0 });
    // A plain GRU with the backward weights, run forwards on x reversed in time.
    const plain = new L.GRU({ units: H, returnSequences: true });
    plain.build([T, D], new Random(2));
    plain.weights.forEach((w, i) => w.value.set(bi.backwardLayer.weights[i].value));
    const xr = new Float32Array(x.size);
    for (let n = 0; n < N; n++)
      for (let t = 0; t < T; t++)
        xr.set(x.data.subarray((n * T + t) * D, (n * T + t + 1) * D), (n * T + T - 1 - t) * D);
    const yr = plain.forward(new Tensor(xr, [N, T, D]), { training: false, seed: 0 });
    for (let n = 0; n < N; n++)
      for (let t = 0; t < T; t++)
        for (let h = 0; h < H; h++)
          assert.ok(
            Math.abs(yb.data[(n * T + t) * H + h] - yr.data[(n * T + T - 1 - t) * H + h]) < 1e-6,
            'backward output at t reads x from the end down to t',
          );
    assert.notDeepEqual(yf.data, yb.data);
    // The forward direction is a plain forward GRU with its weights.
    plain.weights.forEach((w, i) => w.value.set(bi.forwardLayer.weights[i].value));
    assert.deepEqual(plain.forward(x, { training: false, seed: 0 }).data, yf.data);
  });
  it('weights are named as tfjs names them; the config nests the inner layer', () => {
    const m = new Sequential({
      layers: [
        new L.Bidirectional({
          name: 'bi',
          layer: new L.LSTM({ name: 'enc', units: H }),
          inputShape: [T, D],
        }),
      ],
    });
    m.build();
    assert.deepEqual(
      m.namedWeights().map((w) => w.name),
      ['kernel', 'recurrent_kernel', 'bias']
        .flatMap((w) => `bi/forward_enc/${w}`)
        .concat(['kernel', 'recurrent_kernel', 'bias'].map((w) => `bi/backward_enc/${w}`)),
    );
    const json = JSON.parse(JSON.stringify(serializeModel(m).json.modelTopology)).config.layers[0];
    assert.equal(json.class_name, 'Bidirectional');
    assert.equal(json.config.merge_mode, 'concat');
    assert.equal(json.config.layer.class_name, 'LSTM');
    assert.equal(json.config.layer.config.name, 'enc');
    assert.equal(json.config.layer.config.go_backwards, false);
    assert.equal(json.config.layer.config.batch_input_shape, undefined);
    assert.deepEqual(json.config.batch_input_shape, [null, T, D]);
  });
  it('several outputs in a Sequential model, steps, bad options: clear errors', () => {
    assert.throws(
      () =>
        new Sequential({
          layers: [
            new L.Bidirectional({ layer: new L.GRU({ units: 2 }), mergeMode: null, inputShape: [T, D] }),
          ],
        }),
      /bidirectional '.*' gives several outputs \(mergeMode null\); use it in a functional model/,
    );
    assert.throws(
      () =>
        new Sequential({
          layers: [
            new L.Bidirectional({ layer: new L.GRU({ units: 2, returnState: true }), inputShape: [T, D] }),
          ],
        }),
      /gives several outputs \(returnState\)/,
    );
    const bi = new L.Bidirectional({ layer: new L.SimpleRNN({ units: 2 }), inputShape: [T, D] });
    bi.build([T, D], new Random(1));
    assert.throws(() => bi.createStepState(1), /cannot be run step by step: its backward direction reads/);
    assert.throws(
      () => new L.Bidirectional({ layer: new L.Dense({ units: 2 }) }),
      /'layer' must be a recurrent layer \(SimpleRNN, LSTM or GRU\), got a Dense/,
    );
    assert.throws(
      () => new L.Bidirectional({ layer: new L.LSTM({ units: 2 }), mergeMode: 'max' as 'sum' }),
      /'mergeMode' must be one of 'concat', 'sum', 'mul', 'ave', null, got "max"/,
    );
    assert.equal(new L.Bidirectional({ layer: new L.LSTM({ units: 2 }), mergeMode: 'none' }).mergeMode, null);
  });
});

describe('bidirectional: tfjs on identical weights, files both ways', () => {
  const x = randomTensor([N, T, D], new Random(7));
  for (const [cell, make] of Object.entries(cells)) {
    MODES.forEach((mergeMode, i) => {
      const returnSequences = i % 2 === 0;
      it(`${cell} ${mergeMode}${returnSequences ? ', returnSequences' : ''}: recur → tfjs → recur`, async () => {
        // tfjs 4.x has only the GRU without reset_after.
        const inner = make({ returnSequences, ...(cell === 'GRU' ? { resetAfter: false } : {}) });
        const ours = new Sequential({
          seed: 5 + i,
          layers: [
            new L.Bidirectional({ layer: inner, mergeMode, inputShape: [T, D] }),
            new L.Dense({ units: 2, activation: 'tanh' }),
          ],
        });
        ours.build();
        const mine = ours.predict(x);
        const theirs = await tfjsFrom(serializeModel(ours, { includeOptimizer: false }));
        const got = (theirs.predict(toTfjs(x)) as tf.Tensor).dataSync();
        assert.deepEqual((theirs.predict(toTfjs(x)) as tf.Tensor).shape, [...mine.shape]);
        assert.ok(maxAbsDiff(mine.data, got) <= 1e-5, `recur vs tfjs: ${maxAbsDiff(mine.data, got)}`);
        // tfjs's own file (its names, its nesting, its defaults) loads in recur with the same predictions.
        const art = await tfjsArtifacts(theirs);
        const loaded = deserializeModel(
          jsonOf(art),
          new Uint8Array(art.weightData as ArrayBuffer),
          'tfjs.json',
        );
        assert.ok(loaded.model.layers[0] instanceof L.Bidirectional);
        assert.ok(maxAbsDiff(loaded.model.predict(x).data, got) <= 1e-5, 'tfjs file in recur');
        theirs.dispose();
      });
    });
  }
  it('a tfjs-built Bidirectional (tfjs names and defaults) loads in recur and predicts the same', async () => {
    const m = tf.sequential();
    m.add(
      tf.layers.bidirectional({
        layer: tf.layers.lstm({ units: H, returnSequences: true }) as tf.RNN,
        inputShape: [T, D],
        mergeMode: 'ave',
      }),
    );
    const expected = (m.predict(toTfjs(x)) as tf.Tensor).dataSync();
    const art = await tfjsArtifacts(m);
    assert.match(art.weightSpecs![0].name, /^bidirectional.*\/forward_lstm.*\/kernel$/);
    const ours = deserializeModel(
      jsonOf(art),
      new Uint8Array(art.weightData as ArrayBuffer),
      'tfjs.json',
    ).model;
    assert.ok(maxAbsDiff(ours.predict(x).data, expected) <= 1e-5);
    // And recur's file of it, with sha256, round-trips in recur exactly.
    const again = serializeModel(ours);
    const back = deserializeModel(
      JSON.parse(JSON.stringify(modelJsonFor(again, 'w.bin'))),
      [{ path: 'w.bin', data: again.weightData }],
      'm.json',
    ).model;
    assert.deepEqual(back.predict(x).data, ours.predict(x).data);
    m.dispose();
  });
  it('functional: merge mode null with returnState, recur → tfjs and tfjs → recur', async () => {
    const xin = input({ shape: [T, D], name: 'x' });
    const outs = new L.Bidirectional({
      name: 'bi',
      layer: new L.LSTM({ units: H, returnSequences: true, returnState: true }),
      mergeMode: null,
    }).applyMany(xin);
    assert.equal(outs.length, 6);
    const yf = new L.Dense({ units: 2, name: 'head' }).apply(outs[1]) as SymbolicTensor;
    const ours = model({ inputs: xin, outputs: [outs[0], yf, outs[3], outs[5]], seed: 3 });
    const mine = ours.predict(x) as Tensor[];
    const art = serializeFunctional(ours, { includeOptimizer: false });
    const theirs = await tfjsFrom(art);
    const got = theirs.predict(toTfjs(x)) as tf.Tensor[];
    assert.equal(got.length, 4);
    got.forEach((g, i) => assert.ok(maxAbsDiff(mine[i].data, g.dataSync()) <= 1e-5, `output ${i}`));
    const back = await tfjsArtifacts(theirs);
    const loaded = deserializeFunctional(
      jsonOf(back),
      new Uint8Array(back.weightData as ArrayBuffer),
      'tfjs.json',
    ).model;
    (loaded.predict(x) as Tensor[]).forEach((y, i) =>
      assert.ok(maxAbsDiff(y.data, got[i].dataSync()) <= 1e-5, `tfjs file, output ${i}`),
    );
    theirs.dispose();
  });
});

describe('bidirectional: training on worker threads', () => {
  after(() => shutdownWorkerPool());
  it('2 threads agree with 1 (replicas rebuild the wrapper from its config; dropout per sample)', async () => {
    const V = 5;
    const x = randomIndices([32, T], V, new Random(1));
    const y = indexTensor(Array.from({ length: 32 }, (_, i) => x.data[i * T]));
    const train = async (threads: number): Promise<Float32Array[]> => {
      const m = new Sequential({
        seed: 5,
        layers: [
          new L.Bidirectional({
            layer: new L.LSTM({ units: 4, returnSequences: true, dropout: 0.1, recurrentDropout: 0.1 }),
            inputShape: [T, V],
          }),
          new L.Bidirectional({ layer: new L.GRU({ units: 3 }), mergeMode: 'sum' }),
          new L.Dense({ units: V, activation: 'softmax' }),
        ],
      });
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      await m.fit(x, y, { epochs: 2, batchSize: 16, threads, shuffle: false });
      return m.getWeights().map((w) => w.data);
    };
    const one = await train(1);
    const two = await train(2);
    one.forEach((w, i) => assert.ok(maxAbsDiff(w, two[i]) < 1e-4, `weight ${i}: ${maxAbsDiff(w, two[i])}`));
  });
});
