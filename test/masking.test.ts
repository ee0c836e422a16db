/**
 * Keras masking: Embedding maskZero and Masking make a [batch, time] mask, per-step layers carry it, recurrent layers
 * keep the previous state (and repeat the previous output) at masked steps. Finite-difference gradient checks with
 * masks, cross-checks against @tensorflow/tfjs on identical weights, padding invariance, model files both ways,
 * the functional graph and worker threads.
 */
import '../src/node/index.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../src/core/random.js';
import { IndexTensor, Tensor, type AnyTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import type { SequenceMask } from '../src/layers/layer.js';
import type { RNN } from '../src/layers/recurrent.js';
import { deserializeLayer, serializeLayer } from '../src/layers/registry.js';
import { input, model, type SymbolicTensor } from '../src/models/functional.js';
import { deserializeModel, serializeModel, type ModelJson } from '../src/models/serialization.js';
import { Sequential } from '../src/models/sequential.js';
import { loadModel, readModelFiles, saveModel } from '../src/node/model_io.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { assertClose, gradCheckLayer, maxAbsDiff, randomTensor } from './helpers.js';

const N = 3;
const T = 5;
const D = 4;
const H = 3;

/** Row 0 right-padded, row 1 left-padded, row 2 with holes. */
const MASK_ROWS = [
  [1, 1, 1, 0, 0],
  [0, 0, 1, 1, 1],
  [1, 0, 1, 1, 0],
];
const MASK: SequenceMask = { data: Uint8Array.from(MASK_ROWS.flat()), shape: [N, T] };

/** The shared finite-difference check with the layer run under `mask`; then: a masked step's input reaches nothing. */
function gradCheckMasked(layer: RNN, x: Tensor, mask: SequenceMask, training: boolean): void {
  layer.build(x.shape.slice(1), new Random(1));
  gradCheckLayer(layer, x, { training, mask });
  const y = layer.forward(x, { training, seed: 7, mask });
  layer.zeroGrads();
  const dx = layer.backward(randomTensor([...y.shape], new Random(99)))!;
  for (let n = 0; n < N; n++)
    for (let t = 0; t < T; t++)
      if (!MASK_ROWS[n][t])
        for (let d = 0; d < D; d++)
          assert.equal(dx.data[(n * T + t) * D + d], 0, `dx at masked step ${n},${t}`);
}

const CELLS: [string, (o: Record<string, unknown>) => RNN][] = [
  ['simpleRNN', (o) => new L.SimpleRNN({ units: H, ...o })],
  ['lstm', (o) => new L.LSTM({ units: H, ...o })],
  ['gru resetAfter', (o) => new L.GRU({ units: H, resetAfter: true, ...o })],
  ['gru resetBefore', (o) => new L.GRU({ units: H, resetAfter: false, ...o })],
];
const VARIANTS: [string, Record<string, unknown>, boolean][] = [
  ['last output', {}, false],
  ['returnSequences', { returnSequences: true }, false],
  ['goBackwards', { goBackwards: true }, false],
  ['goBackwards + returnSequences', { goBackwards: true, returnSequences: true }, false],
  ['recurrentDropout (training)', { recurrentDropout: 0.3, returnSequences: true }, true],
];

for (const [cell, make] of CELLS) {
  describe(`masked gradient check: ${cell}`, () => {
    for (const [variant, o, training] of VARIANTS) {
      it(variant, () => gradCheckMasked(make(o), randomTensor([N, T, D], new Random(3)), MASK, training));
    }
  });
}

describe('masked recurrent semantics', () => {
  for (const [cell, make] of CELLS) {
    it(`${cell}: a masked step keeps the state and repeats the previous output`, () => {
      const layer = make({ returnSequences: true });
      layer.build([T, D], new Random(2));
      const x = randomTensor([N, T, D], new Random(4));
      const y = layer.forward(x, { training: false, seed: 0, mask: MASK });
      for (let n = 0; n < N; n++) {
        for (let t = 0; t < T; t++) {
          if (MASK_ROWS[n][t]) continue;
          const at = (s: number): number[] =>
            Array.from(y.data.subarray((n * T + s) * H, (n * T + s + 1) * H));
          assert.deepEqual(at(t), t === 0 ? [0, 0, 0] : at(t - 1), `row ${n} step ${t}`);
        }
      }
      // An all-ones mask is the unmasked path.
      const ones: SequenceMask = { data: new Uint8Array(N * T).fill(1), shape: [N, T] };
      const unmasked = Array.from(layer.forward(x, { training: false, seed: 0 }).data);
      assert.deepEqual(Array.from(layer.forward(x, { training: false, seed: 0, mask: ones }).data), unmasked);
    });
  }

  it('call() with a mask and initial states: leading masked steps output the given h and keep h and c', () => {
    const layer = new L.LSTM({ units: H, returnSequences: true, returnState: true });
    layer.build([T, D], new Random(2));
    const x = randomTensor([N, T, D], new Random(5));
    const h0 = randomTensor([N, H], new Random(6));
    const c0 = randomTensor([N, H], new Random(7));
    const [y, , c] = layer.call(x, { initialState: [h0, c0], mask: MASK }) as Tensor[];
    const row = (a: Float32Array, at: number): number[] => Array.from(a.subarray(at * H, (at + 1) * H));
    // row 1 is left-padded by two steps
    assert.deepEqual(row(y.data, 1 * T + 0), row(h0.data, 1));
    assert.deepEqual(row(y.data, 1 * T + 1), row(h0.data, 1));
    assert.notDeepEqual(row(y.data, 1 * T + 2), row(h0.data, 1));
    // an all-masked row keeps its initial states to the end
    const none: SequenceMask = {
      data: Uint8Array.from([...MASK.data.subarray(0, 2 * T), 0, 0, 0, 0, 0]),
      shape: [N, T],
    };
    const [, h2, c2] = layer.call(x, { initialState: [h0, c0], mask: none }) as Tensor[];
    assert.deepEqual(row(h2.data, 2), row(h0.data, 2));
    assert.deepEqual(row(c2.data, 2), row(c0.data, 2));
    assert.notDeepEqual(row(c.data, 2), row(c0.data, 2));
  });

  it('a mask of the wrong shape is refused, naming the layer', () => {
    const layer = new L.LSTM({ units: H, name: 'enc' });
    layer.build([T, D], new Random(2));
    assert.throws(
      () =>
        layer.forward(randomTensor([N, T, D], new Random(1)), {
          training: false,
          seed: 0,
          mask: { data: new Uint8Array(N * (T - 1)), shape: [N, T - 1] },
        }),
      /LSTM 'enc': the input mask has shape \[3, 4\], expected \[3, 5\]/,
    );
  });
});

const V = 7;
const TT = 6;

/** Ids in 1…V−1, each row `len[n]` long, padded with 0 on the left or right to TT. */
function padded(lens: number[], side: 'left' | 'right', rng: Random): { ids: IndexTensor; rows: number[][] } {
  const rows = lens.map((len) => Array.from({ length: len }, () => 1 + rng.int(V - 1)));
  const data = new Int32Array(lens.length * TT);
  rows.forEach((r, n) => data.set(r, n * TT + (side === 'left' ? TT - r.length : 0)));
  return { ids: new IndexTensor(data, [lens.length, TT]), rows };
}

function toTfjs(x: AnyTensor): tf.Tensor {
  return tf.tensor(Array.from(x.data), [...x.shape], 'float32');
}

async function tfjsFromRecur(m: Sequential): Promise<tf.LayersModel> {
  const art = serializeModel(m, { includeOptimizer: false });
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

async function recurFromTfjs(m: tf.LayersModel): Promise<Sequential> {
  let art: tf.io.ModelArtifacts | null = null;
  await m.save({
    save: async (a: tf.io.ModelArtifacts) => {
      art = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
  const a = art! as tf.io.ModelArtifacts;
  const json = {
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: [], weights: a.weightSpecs }],
    format: 'layers-model',
    generatedBy: 'tfjs',
    convertedBy: null,
  } as unknown as ModelJson;
  return deserializeModel(json, new Uint8Array(a.weightData as ArrayBuffer), 'memory').model;
}

type Stack = (seed: number) => Sequential;
const STACKS: [string, Stack][] = [
  [
    'Embedding(maskZero) → LSTM(seq) → LSTM → Dense',
    (seed) =>
      new Sequential({
        seed,
        layers: [
          new L.Embedding({ inputDim: V, outputDim: 5, maskZero: true, inputShape: [TT] }),
          new L.LSTM({ units: 6, returnSequences: true }),
          new L.LSTM({ units: 4 }),
          new L.Dense({ units: 3, activation: 'softmax' }),
        ],
      }),
  ],
  [
    'Embedding(maskZero) → GRU(seq, resetBefore) → LSTM(goBackwards) → Dense',
    (seed) =>
      new Sequential({
        seed,
        layers: [
          new L.Embedding({ inputDim: V, outputDim: 5, maskZero: true, inputShape: [TT] }),
          new L.GRU({ units: 6, returnSequences: true, resetAfter: false }),
          new L.LSTM({ units: 4, goBackwards: true }),
          new L.Dense({ units: 3, activation: 'softmax' }),
        ],
      }),
  ],
  [
    'Embedding(maskZero) → SimpleRNN(seq, goBackwards) → Dropout → GRU(seq) → Dense per step',
    (seed) =>
      new Sequential({
        seed,
        layers: [
          new L.Embedding({ inputDim: V, outputDim: 5, maskZero: true, inputShape: [TT] }),
          new L.SimpleRNN({ units: 6, returnSequences: true, goBackwards: true }),
          new L.Dropout({ rate: 0.3 }),
          new L.GRU({ units: 4, returnSequences: true, resetAfter: false }),
          new L.Dense({ units: 3, activation: 'softmax' }),
        ],
      }),
  ],
];

describe('masking against tfjs', () => {
  const lens = [6, 1, 3, 5, 2];
  for (const [name, make] of STACKS) {
    for (const side of ['left', 'right'] as const) {
      it(`${name}, ${side}-padded: recur and tfjs predict the same`, async () => {
        const m = make(11);
        m.build();
        const { ids } = padded(lens, side, new Random(5));
        const theirs = await tfjsFromRecur(m);
        const ref = (theirs.predict(toTfjs(ids)) as tf.Tensor).dataSync();
        assertClose(m.predict(ids).data, ref, 1e-5, 'predictions');
      });
    }
  }

  it('a tfjs model with mask_zero and Masking-free stack loads in recur and predicts the same', async () => {
    const t = tf.sequential();
    t.add(tf.layers.embedding({ inputDim: V, outputDim: 5, maskZero: true, inputLength: TT }));
    t.add(tf.layers.lstm({ units: 6, returnSequences: true }));
    t.add(tf.layers.gru({ units: 4 }));
    t.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
    const ours = await recurFromTfjs(t);
    assert.equal((ours.layers[0] as L.Embedding).maskZero, true);
    const { ids } = padded(lens, 'left', new Random(6));
    const ref = (t.predict(toTfjs(ids)) as tf.Tensor).dataSync();
    assertClose(ours.predict(ids).data, ref, 1e-5, 'predictions');
    // and back: recur's file says mask_zero, and tfjs reading it masks the same way
    const json = serializeModel(ours, { includeOptimizer: false }).json as unknown as {
      modelTopology: { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
    };
    const emb = json.modelTopology.config.layers.find((l) => l.class_name === 'Embedding')!;
    assert.equal(emb.config.mask_zero, true);
    const back = await tfjsFromRecur(ours);
    assertClose((back.predict(toTfjs(ids)) as tf.Tensor).dataSync(), ref, 1e-6, 'tfjs from recur');
  });

  it('a trained masked model through files: saveModel → tfjs and back → loadModel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-mask-'));
    try {
      const m = STACKS[1][1](29);
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      const { ids } = padded(lens, 'right', new Random(30));
      m.trainOnBatch(ids, new IndexTensor(Int32Array.from([0, 1, 2, 0, 1]), [5]));
      saveModel(m, join(dir, 'ours'));
      const { json, weightData } = readModelFiles(join(dir, 'ours'));
      const theirs = await tf.loadLayersModel({
        load: async () => ({
          modelTopology: json.modelTopology as unknown as tf.io.ModelJSON['modelTopology'],
          weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
          weightData: weightData.buffer.slice(
            weightData.byteOffset,
            weightData.byteOffset + weightData.byteLength,
          ) as ArrayBuffer,
        }),
      });
      const ours = Array.from(m.predict(ids).data);
      assertClose((theirs.predict(toTfjs(ids)) as tf.Tensor).dataSync(), ours, 1e-5, 'tfjs from the file');
      assert.deepEqual(Array.from(loadModel(join(dir, 'ours')).model.predict(ids).data), ours);
      const back = await recurFromTfjs(theirs);
      assertClose(back.predict(ids).data, ours, 1e-6, 'recur from tfjs');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Masking on float inputs: recur and tfjs agree both ways', async () => {
    const m = new Sequential({
      seed: 3,
      layers: [
        new L.Masking({ maskValue: -1, inputShape: [TT, D] }),
        new L.LSTM({ units: 5, returnSequences: true }),
        new L.SimpleRNN({ units: 4 }),
        new L.Dense({ units: 2 }),
      ],
    });
    m.build();
    const x = randomTensor([4, TT, D], new Random(8));
    // padded steps (all features −1), one step with a single −1 feature that stays unmasked
    for (const [n, t] of [
      [0, 5],
      [0, 4],
      [1, 0],
      [2, 2],
      [3, 0],
      [3, 1],
    ])
      x.data.fill(-1, (n * TT + t) * D, (n * TT + t + 1) * D);
    x.data[(1 * TT + 3) * D] = -1;
    const theirs = await tfjsFromRecur(m);
    const ref = (theirs.predict(toTfjs(x)) as tf.Tensor).dataSync();
    assertClose(m.predict(x).data, ref, 1e-5, 'predictions');
    const back = await recurFromTfjs(theirs);
    assert.equal((back.layers[0] as L.Masking).maskValue, -1);
    assertClose(back.predict(x).data, ref, 1e-5, 'recur from tfjs');
  });
});

describe('padding invariance', () => {
  for (const [name, make] of STACKS.slice(0, 2)) {
    it(`${name}: a padded sequence gives exactly the unpadded sequence's output`, () => {
      const m = make(13);
      m.build();
      const { ids, rows } = padded([4], 'right', new Random(9));
      const left = new Int32Array(TT);
      left.set(rows[0], TT - 4);
      const bare = new IndexTensor(Int32Array.from(rows[0]), [1, 4]);
      // The unpadded sequence runs through a same-weights model built for 4 steps.
      const short = make(13);
      short.layers[0] = new L.Embedding({ inputDim: V, outputDim: 5, maskZero: true, inputShape: [4] });
      short.build();
      short.setWeights(m.getWeights());
      const want = Array.from(short.predict(bare).data);
      // goBackwards: right padding is processed first, masked, and keeps the zero initial state.
      assert.deepEqual(Array.from(m.predict(ids).data), want, 'right-padded');
      assert.deepEqual(Array.from(m.predict(new IndexTensor(left, [1, TT])).data), want, 'left-padded');
    });
  }
});

describe('masks in models', () => {
  it('layer configs round-trip: Masking and Embedding maskZero', () => {
    const mk = new L.Masking({ maskValue: 0.5, name: 'mk' });
    const back = deserializeLayer(serializeLayer(mk)) as L.Masking;
    assert.equal(back.className, 'Masking');
    assert.equal(back.maskValue, 0.5);
    const e = deserializeLayer(
      serializeLayer(new L.Embedding({ inputDim: 4, outputDim: 2, maskZero: true })),
    ) as L.Embedding;
    assert.equal(e.maskZero, true);
    assert.throws(
      () => new L.Embedding({ inputDim: 4, outputDim: 2, maskZero: 1 as unknown as boolean }),
      /maskZero/,
    );
    assert.throws(() => new L.Masking({ maskValue: 'x' as unknown as number }), /maskValue/);
  });

  it('without a mask-making layer no mask flows (maskZero false pads are real steps)', () => {
    const a = STACKS[0][1](17);
    const b = new Sequential({
      seed: 17,
      layers: [
        new L.Embedding({ inputDim: V, outputDim: 5, inputShape: [TT] }),
        new L.LSTM({ units: 6, returnSequences: true }),
        new L.LSTM({ units: 4 }),
        new L.Dense({ units: 3, activation: 'softmax' }),
      ],
    });
    a.build();
    b.build();
    b.setWeights(a.getWeights());
    const { ids } = padded([2, 6], 'right', new Random(3));
    const pa = a.predict(ids).data;
    const pb = b.predict(ids).data;
    assert.ok(maxAbsDiff(pa.subarray(0, 3), pb.subarray(0, 3)) > 1e-4, 'padding changes the unmasked model');
    assert.deepEqual(Array.from(pa.subarray(3)), Array.from(pb.subarray(3)), 'the full-length row agrees');
  });

  it('the functional graph carries masks like Sequential', () => {
    const seqModel = STACKS[1][1](19);
    seqModel.build();
    const ids = input({ shape: [TT], dtype: 'int32', name: 'ids' });
    let h = new L.Embedding({ inputDim: V, outputDim: 5, maskZero: true }).apply(ids);
    h = new L.GRU({ units: 6, returnSequences: true, resetAfter: false }).apply(h);
    h = new L.LSTM({ units: 4, goBackwards: true }).apply(h);
    h = new L.Dense({ units: 3, activation: 'softmax' }).apply(h);
    const f = model({ inputs: ids, outputs: h as never, seed: 19 });
    f.setWeights(seqModel.getWeights());
    const { ids: x } = padded([6, 1, 3, 5, 2], 'left', new Random(21));
    assert.deepEqual(Array.from((f.predict(x) as Tensor).data), Array.from(seqModel.predict(x).data));
  });
});

describe('masks on worker threads', () => {
  after(() => shutdownWorkerPool());

  /** Embedding(maskZero) → LSTM(returnSequences) → TimeDistributed(Dense): a tagger scored at every step. */
  const tagger = (seed: number, asFunctional: boolean) => {
    const layers = () => [
      L.embedding({ inputDim: V, outputDim: 4, maskZero: true }),
      L.lstm({ units: 5, returnSequences: true }),
      L.timeDistributed({ layer: L.dense({ units: 3, activation: 'softmax' }) }),
    ];
    if (asFunctional) {
      const x = input({ shape: [TT], dtype: 'int32' });
      const out = layers().reduce((h, l) => l.apply(h) as SymbolicTensor, x);
      return model({ inputs: x, outputs: out, seed });
    }
    const m = new Sequential({ seed });
    // Sequential's first layer declares the input length; the rest are the same layers.
    const [, ...rest] = layers();
    m.add(L.embedding({ inputDim: V, outputDim: 4, maskZero: true, inputLength: TT }));
    rest.forEach((l) => m.add(l));
    return m;
  };

  it('a Sequential tagger leaves padded steps out of its loss and accuracy, as Keras and functional models', async () => {
    const rng = new Random(41);
    const lens = Array.from({ length: 48 }, () => 1 + rng.int(TT));
    const { ids } = padded(lens, 'right', rng);
    const tags = Int32Array.from({ length: 48 * TT }, () => rng.int(3));
    // The tags at padded steps changed: a masked loss cannot see it.
    const otherTags = Int32Array.from(tags, (t, i) => (ids.data[i] === 0 ? (t + 1) % 3 : t));
    const seq = tagger(5, false) as Sequential;
    const fun = tagger(5, true);
    fun.setWeights(seq.getWeights());
    for (const m of [seq, fun])
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const a = seq.evaluate(ids, new IndexTensor(tags, [48, TT]));
    const b = seq.evaluate(ids, new IndexTensor(otherTags, [48, TT]));
    assert.deepEqual(a, b);
    const f = fun.evaluate(ids, new IndexTensor(tags, [48, TT]));
    assert.ok(
      Math.abs(a.loss - f.loss) < 1e-6 && Math.abs(a.accuracy - f.accuracy) < 1e-9,
      `${JSON.stringify([a, f])}`,
    );
    // Training on either tag set: the same weights (padding never trains the model), on 1 and 2 threads.
    const train = async (t: Int32Array, threads: number): Promise<Float32Array[]> => {
      const m = tagger(6, false) as Sequential;
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      await m.fit(ids, new IndexTensor(t, [48, TT]), { epochs: 2, batchSize: 16, threads, verbose: 0 });
      return m.getWeights().map((w) => Float32Array.from(w.data));
    };
    const base = await train(tags, 1);
    const other = await train(otherTags, 1);
    const two = await train(tags, 2);
    base.forEach((w, i) => {
      assert.deepEqual(w, other[i], `weight ${i}`);
      assert.ok(maxAbsDiff(w, two[i]) < 1e-4, `weight ${i} on 2 threads: ${maxAbsDiff(w, two[i])}`);
    });
  });

  it('2 threads train a masked model like 1 thread', async () => {
    const rng = new Random(31);
    const lens = Array.from({ length: 64 }, () => 1 + rng.int(TT));
    const { ids } = padded(lens, 'left', rng);
    const y = new IndexTensor(
      Int32Array.from(lens, (l) => l % 3),
      [64],
    );
    const train = async (threads: number): Promise<{ weights: Float32Array[]; loss: number[] }> => {
      const m = STACKS[0][1](23);
      m.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy' });
      const h = await m.fit(ids, y, { epochs: 2, batchSize: 32, threads });
      return { weights: m.getWeights().map((w) => w.data), loss: h.history.loss };
    };
    const one = await train(1);
    const two = await train(2);
    one.weights.forEach((w, i) =>
      assert.ok(maxAbsDiff(w, two.weights[i]) < 1e-4, `weight ${i}: ${maxAbsDiff(w, two.weights[i])}`),
    );
    assert.ok(Math.abs(one.loss[1] - two.loss[1]) < 1e-5);
  });
});
