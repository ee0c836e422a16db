/**
 * Functional models: graph construction and its errors, forward against the layers run by hand, end-to-end gradient
 * checks (an encoder–decoder with attention), training an lstm_seq2seq on a reversal task, several outputs with
 * per-output losses, and the tfjs functional format both ways (memory and files) on identical weights.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../src/core/random.js';
import { IndexTensor, Tensor, type AnyTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import { Functional, input, model, type SymbolicTensor } from '../src/models/functional.js';
import {
  deserializeFunctional,
  parseFunctionalModelJson,
  serializeFunctional,
} from '../src/models/functional_serialization.js';
import { Adam, SGD } from '../src/models/optimizers.js';
import type { ModelJson } from '../src/models/serialization.js';
import { loadFunctionalModel, loadModel, readModelFiles, saveModel } from '../src/node/model_io.js';
import { gradCheckMany } from './graph_helpers.js';
import { assertClose, maxAbsDiff, randomTensor } from './helpers.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'recur-functional-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const toTf = (x: AnyTensor): tf.Tensor => tf.tensor(Array.from(x.data), [...x.shape], 'float32');

/** Keras's lstm_seq2seq: encoder LSTM → (h, c) → decoder LSTM initial state → Dense softmax. */
function seq2seq(V: number, H: number, Te: number, Td: number, seed: number, attention = false): Functional {
  const encIn = input({ shape: [Te, V], name: 'encoder_input' });
  const [encSeq, h, c] = new L.LSTM({
    units: H,
    returnState: true,
    returnSequences: attention,
    name: 'encoder',
  }).applyMany(encIn);
  const decIn = input({ shape: [Td, V], name: 'decoder_input' });
  const dec = new L.LSTM({ units: H, returnSequences: true, name: 'decoder' }).apply(decIn, {
    initialState: [h, c],
  }) as SymbolicTensor;
  let features = dec;
  if (attention) {
    const ctx = new L.Attention({ useScale: true, name: 'attention' }).apply([dec, encSeq]) as SymbolicTensor;
    features = new L.Concatenate({ name: 'concat' }).apply([ctx, dec]) as SymbolicTensor;
  }
  const out = new L.Dense({ units: V, activation: 'softmax', name: 'out' }).apply(features) as SymbolicTensor;
  return model({ inputs: [encIn, decIn], outputs: out, seed, name: 'seq2seq' });
}

/** Reversal task: target = reversed source; decoder input = start symbol (0) then the target shifted right. */
function reversalData(
  n: number,
  T: number,
  V: number,
  rng: Random,
): { enc: Tensor; dec: Tensor; y: IndexTensor } {
  const enc = new Float32Array(n * T * V);
  const dec = new Float32Array(n * T * V);
  const y = new Int32Array(n * T);
  for (let i = 0; i < n; i++) {
    const seq = Array.from({ length: T }, () => 1 + rng.int(V - 1));
    const rev = [...seq].reverse();
    for (let t = 0; t < T; t++) {
      enc[(i * T + t) * V + seq[t]] = 1;
      dec[(i * T + t) * V + (t === 0 ? 0 : rev[t - 1])] = 1;
      y[i * T + t] = rev[t];
    }
  }
  return { enc: new Tensor(enc, [n, T, V]), dec: new Tensor(dec, [n, T, V]), y: new IndexTensor(y, [n, T]) };
}

describe('functional graph', () => {
  it('runs two inputs through dense, concatenate and add exactly as the layers run by hand', () => {
    const a = input({ shape: [3], name: 'a' });
    const b = input({ shape: [2], name: 'b' });
    const da = new L.Dense({ units: 4, activation: 'tanh', name: 'da' });
    const db = new L.Dense({ units: 4, name: 'db' });
    const pa = da.apply(a) as SymbolicTensor;
    const pb = db.apply(b) as SymbolicTensor;
    const sum = new L.Add({ name: 'sum' }).apply([pa, pb]) as SymbolicTensor;
    const joined = new L.Concatenate({ name: 'cat' }).apply([sum, pa]) as SymbolicTensor;
    assert.deepEqual(joined.shape, [null, 8]);
    const head = new L.Dense({ units: 2, name: 'head' });
    const m = model({ inputs: [a, b], outputs: head.apply(joined) as SymbolicTensor, seed: 3 });
    assert.deepEqual(
      m.layers.map((l) => l.name),
      ['a', 'b', 'da', 'db', 'sum', 'cat', 'head'],
    );
    const xa = randomTensor([5, 3], new Random(1));
    const xb = randomTensor([5, 2], new Random(2));
    const y = m.predict([xa, xb]) as Tensor;
    const opts = { training: false, seed: 0 };
    const ya = da.forward(xa, opts).clone();
    const yb = db.forward(xb, opts).clone();
    const s = ya.data.map((v, i) => v + yb.data[i]);
    const cat = new Float32Array(5 * 8);
    for (let r = 0; r < 5; r++) {
      cat.set(s.subarray(r * 4, r * 4 + 4), r * 8);
      cat.set(ya.data.subarray(r * 4, r * 4 + 4), r * 8 + 4);
    }
    const expected = head.forward(new Tensor(cat, [5, 8]), opts);
    assertClose(y.data, expected.data, 1e-6, 'graph vs by hand');
    // A dict keyed by input name gives the same.
    assertClose((m.predict({ b: xb, a: xa }) as Tensor).data, y.data, 0, 'dict inputs');
  });

  it('returnState gives [y, h, c] with their shapes', () => {
    const x = input({ shape: [null, 4] });
    const outs = new L.LSTM({ units: 3, returnState: true, returnSequences: true }).apply(x);
    assert.ok(Array.isArray(outs));
    assert.deepEqual(
      outs.map((t) => t.shape),
      [
        [null, null, 3],
        [null, 3],
        [null, 3],
      ],
    );
    const g = input({ shape: [5, 4] });
    assert.equal(new L.GRU({ units: 2, returnState: true }).applyMany(g).length, 2);
  });

  it('rejects shared layers, wrong shapes, bad initial states, foreign inputs and bad data, with clear errors', () => {
    const x = input({ shape: [4], name: 'x' });
    const d = new L.Dense({ units: 3, name: 'shared' });
    d.apply(x);
    assert.throws(
      () => d.apply(x),
      /layer 'shared' is already applied; recur does not support shared layers/,
    );
    const seq = input({ shape: [5, 4] });
    assert.throws(
      () => new L.Concatenate({ name: 'c' }).apply([x, seq]),
      /cannot apply layer 'c' \(Concatenate\) to \[null, 4\], \[null, 5, 4\]/,
    );
    const h = input({ shape: [7] });
    assert.throws(
      () => new L.LSTM({ units: 3, name: 'l' }).apply(seq, { initialState: [h, h] }),
      /an initial state must be \[batch, 3\]/,
    );
    assert.throws(() => new L.LSTM({ units: 3 }).apply(seq, { initialState: [h] }), /takes 2 initial state/);
    const other = input({ shape: [4], name: 'other' });
    const y = new L.Add().apply([x, other]) as SymbolicTensor;
    assert.throws(
      () => model({ inputs: x, outputs: y }),
      /depends on input 'other', which is not among the model's inputs/,
    );
    const m = model({ inputs: [x, other], outputs: y });
    assert.throws(
      () => m.predict([randomTensor([2, 4], new Random(1))]),
      /predict: inputs: expected 2 tensor\(s\) \(x, other\), got 1/,
    );
    assert.throws(
      () => m.predict([randomTensor([2, 4], new Random(1)), randomTensor([2, 5], new Random(1))]),
      /input 'other' expects shape \[null, 4\], got \[2, 5\]/,
    );
    assert.throws(
      () => m.predict({ x: randomTensor([2, 4], new Random(1)), y: randomTensor([2, 4], new Random(1)) }),
      /'y' is not one of x, other/,
    );
    assert.throws(() => m.compile({ optimizer: 'sgd', loss: ['mse', 'mse'] }), /2 losses for 1 outputs/);
    assert.throws(
      () => m.compile({ optimizer: 'sgd', loss: { nope: 'mse' } }),
      /loss for 'nope', which is not an output/,
    );
  });
});

/** recur's model from the artifacts tfjs saved, and the model.json a file of them would hold. */
function deserializeTfjsArtifacts(art: tf.io.ModelArtifacts): {
  json: ModelJson;
  model: ReturnType<typeof deserializeFunctional>['model'];
} {
  const json: ModelJson = {
    format: 'layers-model',
    generatedBy: 'tfjs',
    convertedBy: null,
    modelTopology: art.modelTopology as ModelJson['modelTopology'],
    weightsManifest: [{ paths: [], weights: art.weightSpecs as ModelJson['weightsManifest'][0]['weights'] }],
  };
  const { model } = deserializeFunctional(json, new Uint8Array(art.weightData as ArrayBuffer), 'memory');
  return { json, model };
}

/** ∂(loss)/∂w from one SGD step with learning rate 1 (w_new = w − grad), without touching the model's state. */
function analyticGradients(m: Functional, x: AnyTensor[], y: AnyTensor): Float32Array[] {
  const before = m.getWeights();
  m.compile({ optimizer: new SGD({ learningRate: 1 }), loss: 'sparseCategoricalCrossentropy' });
  m.trainOnBatch(x, y);
  const after = m.getWeights();
  m.setWeights(before);
  return before.map((w, i) => w.data.map((v, j) => v - after[i].data[j]));
}

describe('recurrent layers as graph nodes: [x, ...initialStates] → [y, ...finalStates]', () => {
  const makers: [string, (o: Record<string, unknown>) => L.RNN][] = [
    ['SimpleRNN', (o) => new L.SimpleRNN({ units: 3, ...o })],
    ['LSTM', (o) => new L.LSTM({ units: 3, ...o })],
    ['GRU resetAfter', (o) => new L.GRU({ units: 3, resetAfter: true, ...o })],
    ['GRU resetBefore', (o) => new L.GRU({ units: 3, resetAfter: false, ...o })],
  ];
  for (const [name, make] of makers)
    for (const returnSequences of [false, true]) {
      it(`${name} returnSequences=${returnSequences}: gradients reach x and the initial states, from y and the final states`, () => {
        const layer = make({ returnState: true, returnSequences });
        const rng = new Random(31);
        const x = randomTensor([2, 4, 3], rng);
        const states = Array.from({ length: layer.stateCount }, () => randomTensor([2, 3], rng));
        gradCheckMany(layer, [x, ...states]);
        // Without initial states the node has one input and one gradient.
        const plain = make({ returnState: true, returnSequences });
        plain.buildMany([[4, 3]], new Random(1));
        const outs = plain.forwardMany([x], { training: false, seed: 0 });
        assert.equal(outs.length, 1 + plain.stateCount);
        assert.equal(
          plain.backwardMany(outs.map(() => null).map((_, i) => (i === 1 ? outs[1] : null))).length,
          1,
        );
      });
    }
});

describe('functional gradients', () => {
  it('an encoder–decoder with attention over the encoder sequence: every weight against finite differences', () => {
    const V = 4;
    const m = seq2seq(V, 3, 4, 3, 11, true);
    const rng = new Random(5);
    const enc = randomTensor([2, 4, V], rng, 3);
    const dec = randomTensor([2, 3, V], rng, 3);
    // A larger scale makes the attention weights far from uniform, so every path carries a visible gradient.
    m.namedWeights().find((n) => n.name === 'attention/scale')!.weight.value[0] = 3;
    const y = new IndexTensor(Int32Array.from([1, 2, 3, 0, 3, 1]), [2, 3]);
    const grads = analyticGradients(m, [enc, dec], y);
    const named = m.namedWeights();
    assert.deepEqual(
      named.map((n) => n.name),
      [
        'encoder/kernel',
        'encoder/recurrent_kernel',
        'encoder/bias',
        'decoder/kernel',
        'decoder/recurrent_kernel',
        'decoder/bias',
        'attention/scale',
        'out/kernel',
        'out/bias',
      ],
    );
    const loss = (): number => m.evaluate([enc, dec], y).loss;
    const eps = 1e-2;
    named.forEach(({ name, weight }, wi) => {
      let norm = 0;
      for (let i = 0; i < weight.value.length; i++) {
        const old = weight.value[i];
        weight.value[i] = old + eps;
        const lp = loss();
        weight.value[i] = old - eps;
        const lm = loss();
        weight.value[i] = old;
        const num = (lp - lm) / (2 * eps);
        norm += Math.abs(num);
        assert.ok(
          Math.abs(num - grads[wi][i]) <= 3e-4 + 2e-3 * Math.abs(num),
          `${name}[${i}]: numeric ${num} vs analytic ${grads[wi][i]}`,
        );
      }
      // The encoder's gradient reaches it through the decoder's initial state and the attention.
      assert.ok(norm > 1e-4, `${name}: gradient is zero (${norm})`);
    });
  });

  it('a tensor feeding several layers sums their gradients (residual add)', () => {
    const x = input({ shape: [3], name: 'x' });
    const h = new L.Dense({ units: 3, activation: 'tanh', name: 'h' }).apply(x) as SymbolicTensor;
    const r = new L.Dense({ units: 3, activation: 'tanh', name: 'r' }).apply(h) as SymbolicTensor;
    const s = new L.Add({ name: 's' }).apply([h, r]) as SymbolicTensor;
    const o = new L.Dense({ units: 3, activation: 'softmax', name: 'o' }).apply(s) as SymbolicTensor;
    const m = model({ inputs: x, outputs: o, seed: 4 });
    const xs = [randomTensor([4, 3], new Random(8))];
    const y = new IndexTensor(Int32Array.from([0, 1, 2, 1]), [4]);
    const grads = analyticGradients(m, xs, y);
    const w = m.namedWeights()[0].weight; // h/kernel: gets gradient along both paths
    for (let i = 0; i < w.value.length; i++) {
      const old = w.value[i];
      w.value[i] = old + 1e-2;
      const lp = m.evaluate(xs, y).loss;
      w.value[i] = old - 1e-2;
      const lm = m.evaluate(xs, y).loss;
      w.value[i] = old;
      const num = (lp - lm) / 2e-2;
      assert.ok(
        Math.abs(num - grads[0][i]) <= 3e-4 + 2e-3 * Math.abs(num),
        `h/kernel[${i}]: ${num} vs ${grads[0][i]}`,
      );
    }
  });
});

describe('functional training', () => {
  it('lstm_seq2seq learns to reverse sequences (loss falls), with History and callbacks', async () => {
    const V = 5;
    const T = 4;
    const data = reversalData(96, T, V, new Random(3));
    const m = seq2seq(V, 16, T, T, 7);
    m.compile({
      optimizer: new Adam({ learningRate: 0.02 }),
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    });
    const before = m.evaluate([data.enc, data.dec], data.y);
    let batches = 0;
    const history = await m.fit([data.enc, data.dec], data.y, {
      epochs: 15,
      batchSize: 16,
      callbacks: { onBatchEnd: () => void batches++ },
      validationSplit: 0.25,
    });
    const after = m.evaluate([data.enc, data.dec], data.y);
    assert.equal(batches, 15 * Math.ceil(72 / 16));
    assert.equal(history.history.loss.length, 15);
    assert.ok(history.history.val_loss.length === 15 && history.history.accuracy.length === 15);
    assert.ok(after.loss < 0.5 * before.loss, `loss ${before.loss} → ${after.loss}`);
    assert.ok(after.accuracy > before.accuracy, `accuracy ${before.accuracy} → ${after.accuracy}`);
  });

  it('int32 index inputs feed an Embedding; threads > 1 without a worker pool trains on this thread, silently', async () => {
    const tokens = input({ shape: [5], dtype: 'int32', name: 'tokens' });
    const e = new L.Embedding({ inputDim: 7, outputDim: 4, name: 'emb' }).apply(tokens) as SymbolicTensor;
    const h = new L.SimpleRNN({ units: 6, name: 'rnn' }).apply(e) as SymbolicTensor;
    const o = new L.Dense({ units: 2, activation: 'softmax', name: 'o' }).apply(h) as SymbolicTensor;
    const m = model({ inputs: tokens, outputs: o, seed: 5 });
    m.compile({ optimizer: new Adam({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy' });
    const rng = new Random(4);
    const x = new IndexTensor(
      Int32Array.from({ length: 40 * 5 }, () => rng.int(7)),
      [40, 5],
    );
    // Label: whether token 3 occurs.
    const y = new IndexTensor(
      Int32Array.from({ length: 40 }, (_, i) =>
        Array.from(x.data.subarray(i * 5, i * 5 + 5)).includes(3) ? 1 : 0,
      ),
      [40],
    );
    assert.throws(
      () => m.predict(randomTensor([2, 5], new Random(1))),
      /input 'tokens' expects int32, got float32/,
    );
    // This file installs no worker pool (it does not import recur/node): threads is kept, batches stay here.
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (msg: string) => void warnings.push(msg);
    try {
      const h1 = await m.fit(x, y, { epochs: 10, batchSize: 10, threads: 2 });
      assert.ok(h1.history.loss[9] < h1.history.loss[0]);
    } finally {
      console.warn = warn;
    }
    assert.equal(m.threads, 2);
    assert.deepEqual(warnings, []);
    await assert.rejects(
      m.fit(x, y, { threads: 0 }),
      /fitDataset: threads must be a positive integer, got 0/,
    );
    // The training loop is Sequential's (src/models/fit_loop.ts): the same checks of a resumeFrom.
    const bad = { epoch: 0, batch: 9, sums: { loss: 1 }, seen: 90, epochRng: [1, 2, 3, 4] };
    await assert.rejects(
      m.fit(x, y, { batchSize: 10, resumeFrom: bad }),
      /fitDataset: resuming epoch 0 after batch 9, but the dataset served only 4 batches/,
    );
    await assert.rejects(
      m.fit(x, y, { initialEpoch: 1, resumeFrom: { ...bad, batch: 1 } }),
      /resumeFrom\.epoch \(0\) contradicts initialEpoch \(1\)/,
    );
    await assert.rejects(
      m.fit(x, y, { resumeFrom: { ...bad, seen: 0 } }),
      /resumeFrom\.seen \(0\) does not fit batch \(9\)/,
    );
  });

  it('several outputs: losses per output (list or dict), summed, and logged by output name', async () => {
    const x = input({ shape: [4], name: 'x' });
    const h = new L.Dense({ units: 6, activation: 'tanh', name: 'h' }).apply(x) as SymbolicTensor;
    const cls = new L.Dense({ units: 3, activation: 'softmax', name: 'cls' }).apply(h) as SymbolicTensor;
    const reg = new L.Dense({ units: 1, name: 'reg' }).apply(h) as SymbolicTensor;
    const m = model({ inputs: x, outputs: [cls, reg], seed: 2 });
    m.compile({ optimizer: 'adam', loss: { reg: 'mse', cls: 'sparseCategoricalCrossentropy' } });
    const xs = randomTensor([32, 4], new Random(1));
    const yc = new IndexTensor(
      Int32Array.from({ length: 32 }, (_, i) => i % 3),
      [32],
    );
    const yr = randomTensor([32, 1], new Random(2));
    const logs = m.evaluate(xs, { cls: yc, reg: yr });
    assert.deepEqual(Object.keys(logs).sort(), ['cls_loss', 'loss', 'reg_loss']);
    assert.ok(Math.abs(logs.loss - logs.cls_loss - logs.reg_loss) < 1e-6);
    m.compile({ optimizer: 'adam', loss: ['sparseCategoricalCrossentropy', 'mse'] });
    assert.ok(Math.abs(m.evaluate(xs, [yc, yr]).loss - logs.loss) < 1e-6, 'list and dict agree');
    const h1 = await m.fit(xs, [yc, yr], { epochs: 20, batchSize: 8 });
    const losses = h1.history.loss;
    assert.ok(losses[losses.length - 1] < losses[0]);
    assert.ok(h1.history.reg_loss.length === 20);
    const preds = m.predict(xs);
    assert.ok(Array.isArray(preds) && preds.length === 2);
    assert.deepEqual([...preds[0].shape], [32, 3]);
    assert.deepEqual([...preds[1].shape], [32, 1]);
  });
});

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

function tfjsSeq2seq(V: number, H: number, Te: number, Td: number): tf.LayersModel {
  const encIn = tf.input({ shape: [Te, V], name: 'enc_in' });
  const [, h, c] = tf.layers
    .lstm({ units: H, returnState: true, name: 'enc' })
    .apply(encIn) as tf.SymbolicTensor[];
  const decIn = tf.input({ shape: [Td, V], name: 'dec_in' });
  const dec = tf.layers
    .lstm({ units: H, returnSequences: true, name: 'dec' })
    .apply(decIn, { initialState: [h, c] }) as tf.SymbolicTensor;
  const ctx = tf.layers.repeatVector({ n: Td, name: 'rep' }).apply(h) as tf.SymbolicTensor;
  const joined = tf.layers.concatenate({ name: 'cat' }).apply([dec, ctx]) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: V, activation: 'softmax', name: 'out' })
    .apply(joined) as tf.SymbolicTensor;
  return tf.model({ inputs: [encIn, decIn], outputs: out });
}

describe('tfjs functional format', () => {
  it('a tfjs model that feeds token ids to an Embedding through a float32 input (the default) loads and runs', async () => {
    const ids = tf.input({ shape: [4], name: 'ids' }); // float32, as tf.input makes it
    const emb = tf.layers
      .embedding({ inputDim: 6, outputDim: 3, name: 'emb' })
      .apply(ids) as tf.SymbolicTensor;
    const h = tf.layers.lstm({ units: 2, name: 'rnn' }).apply(emb) as tf.SymbolicTensor;
    const theirs = tf.model({
      inputs: ids,
      outputs: tf.layers.dense({ units: 1, name: 'out' }).apply(h) as tf.SymbolicTensor,
    });
    const tokens = [1, 2, 3, 0, 5, 4, 3, 2];
    const expected = (theirs.predict(tf.tensor(tokens, [2, 4])) as tf.Tensor).dataSync();
    const art = await tfjsArtifacts(theirs);
    const { model: ours } = deserializeTfjsArtifacts(art);
    // The input is typed int32 (it only feeds an Embedding), so token ids run, as in tfjs.
    const got = ours.predict(new IndexTensor(Int32Array.from(tokens), [2, 4])) as Tensor;
    assert.ok(maxAbsDiff(got.data, expected) <= 1e-5);
  });

  it('building an Embedding on a float32 input is refused there, not at every predict', () => {
    const x = input({ shape: [4] });
    assert.throws(
      () => L.embedding({ inputDim: 6, outputDim: 3, name: 'emb' }).apply(x),
      /embedding 'emb' reads token ids, so its input must be int32 \(input\(\{shape, dtype: 'int32'\}\)/,
    );
    L.embedding({ inputDim: 6, outputDim: 3 }).apply(input({ shape: [4], dtype: 'int32' }));
  });

  const V = 4;
  const H = 5;
  const Te = 6;
  const Td = 3;
  const enc = randomTensor([3, Te, V], new Random(21));
  const dec = randomTensor([3, Td, V], new Random(22));

  it('an encoder–decoder built and saved by tfjs loads in recur with the same predictions (memory and files)', async () => {
    const theirs = tfjsSeq2seq(V, H, Te, Td);
    const expected = (theirs.predict([toTfjs(enc), toTfjs(dec)]) as tf.Tensor).dataSync();
    const art = await tfjsArtifacts(theirs);
    assert.equal((art.modelTopology as { class_name: string }).class_name, 'Model');
    const { json, model: ours } = deserializeTfjsArtifacts(art);
    assert.ok(maxAbsDiff((ours.predict([enc, dec]) as Tensor).data, expected) <= 1e-5);
    // The same as files, the way tfjs's file handler lays them out.
    const dir = tempDir();
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(art.weightData as ArrayBuffer));
    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({ ...json, weightsManifest: [{ paths: ['weights.bin'], weights: art.weightSpecs }] }),
    );
    const fromFiles = loadFunctionalModel(dir).model;
    assert.ok(maxAbsDiff((fromFiles.predict([enc, dec]) as Tensor).data, expected) <= 1e-5);
    assert.throws(
      () => loadModel(dir),
      /modelTopology\.class_name: expected "Sequential" \(a functional model loads with loadFunctionalModel\), got "Model"/,
    );
  });

  it("recur's functional model (saved to a directory) loads in tfjs with the same predictions", async () => {
    const encIn = input({ shape: [Te, V], name: 'enc_in' });
    const [, h, c] = new L.LSTM({ units: H, returnState: true, name: 'enc' }).applyMany(encIn);
    const decIn = input({ shape: [Td, V], name: 'dec_in' });
    const d = new L.GRU({ units: H, returnSequences: true, resetAfter: false, name: 'dec' }).apply(decIn, {
      initialState: [h],
    }) as SymbolicTensor;
    const rep = new L.RepeatVector({ n: Td, name: 'rep' }).apply(c) as SymbolicTensor;
    const sum = new L.Add({ name: 'sum' }).apply([d, rep]) as SymbolicTensor;
    const cat = new L.Concatenate({ name: 'cat' }).apply([sum, d]) as SymbolicTensor;
    const out = new L.Dense({ units: V, activation: 'softmax', name: 'out' }).apply(cat) as SymbolicTensor;
    const ours = model({ inputs: [encIn, decIn], outputs: [out, h], seed: 9, name: 'ours' });
    ours.compile({ optimizer: 'adam', loss: ['categoricalCrossentropy', 'mse'] });
    const dir = tempDir();
    saveModel(ours, dir);
    const text = readFileSync(join(dir, 'model.json'), 'utf8');
    assert.equal(JSON.parse(text).modelTopology.class_name, 'Functional');
    const { json, weightData } = readModelFiles(dir, parseFunctionalModelJson);
    const theirs = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology as unknown as tf.io.ModelJSON['modelTopology'],
        weightSpecs: json.weightsManifest.flatMap((g) => g.weights).filter((w) => w.group !== 'optimizer'),
        weightData: weightData.buffer.slice(
          weightData.byteOffset,
          weightData.byteOffset + ours.namedWeights().reduce((s, w) => s + w.weight.value.length * 4, 0),
        ) as ArrayBuffer,
      }),
    );
    const got = theirs.predict([toTfjs(enc), toTfjs(dec)]) as tf.Tensor[];
    const mine = ours.predict([enc, dec]) as Tensor[];
    assert.ok(maxAbsDiff(mine[0].data, got[0].dataSync()) <= 1e-5, 'output 0');
    assert.ok(maxAbsDiff(mine[1].data, got[1].dataSync()) <= 1e-5, 'output 1');
    // And back into recur, compiled, with the optimizer state.
    const again = loadFunctionalModel(dir).model;
    assert.deepEqual(again.losses, ['categoricalCrossentropy', 'meanSquaredError']);
    assert.equal(maxAbsDiff((again.predict([enc, dec]) as Tensor[])[0].data, mine[0].data), 0);
  });

  it('a model with attention round-trips through recur files (tfjs has no Attention layer)', () => {
    const m = seq2seq(V, H, Te, Td, 13, true);
    m.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy' });
    const y = new IndexTensor(
      Int32Array.from({ length: 3 * Td }, (_, i) => i % V),
      [3, Td],
    );
    m.trainOnBatch([enc, dec], y);
    const dir = tempDir();
    saveModel(m, dir);
    const loaded = loadFunctionalModel(dir).model;
    assert.equal(
      maxAbsDiff((loaded.predict([enc, dec]) as Tensor).data, (m.predict([enc, dec]) as Tensor).data),
      0,
    );
    // Exact resume: one more step on each gives the same weights.
    m.trainOnBatch([enc, dec], y);
    loaded.trainOnBatch([enc, dec], y);
    m.getWeights().forEach((w, i) => assert.equal(maxAbsDiff(w.data, loaded.getWeights()[i].data), 0));
  });

  it('a functional model with a NaN weight is refused on save, naming the weight, and nothing is written', () => {
    const m = seq2seq(V, H, Te, Td, 14, false);
    m.predict([enc, dec]);
    const { name, weight } = m.namedWeights()[0];
    weight.value[1] = NaN;
    const dir = join(tempDir(), 'nan-model');
    assert.throws(() => saveModel(m, dir), new RegExp(`weight '${name}' holds NaN at`));
    assert.throws(() => readFileSync(join(dir, 'model.json')), /ENOENT/);
  });

  it('a functional model directory is checked on load as a Sequential one: sha256, finite weights', () => {
    const m = seq2seq(V, H, Te, Td, 15, false);
    m.predict([enc, dec]);
    const dir = join(tempDir(), 'checked');
    saveModel(m, dir);
    assert.deepEqual(loadFunctionalModel(dir).notes, []);
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJson;
    const weightsFile = join(dir, json.weightsManifest[0].paths[0]);
    const saved = readFileSync(weightsFile);
    // A weight changed after saving: the recorded sha256 no longer matches.
    const damaged = Buffer.from(saved);
    damaged[0] ^= 0x40;
    writeFileSync(weightsFile, damaged);
    assert.throws(
      () => loadFunctionalModel(dir),
      /sha256: .* the file was changed or damaged after recur saved it/,
    );
    // An edited topology likewise.
    writeFileSync(weightsFile, saved);
    const edited = structuredClone(json);
    edited.modelTopology.config.name = 'renamed';
    writeFileSync(join(dir, 'model.json'), JSON.stringify(edited));
    assert.throws(() => loadFunctionalModel(dir), /modelTopology.*changed since recur saved the file/);
    // Without recur's hashes (as tfjs saves it): loads with a note, but a NaN weight is refused by name.
    const unhashed = structuredClone(json);
    delete (unhashed.userDefinedMetadata as { recur: { sha256?: unknown } }).recur.sha256;
    writeFileSync(join(dir, 'model.json'), JSON.stringify(unhashed));
    assert.match(loadFunctionalModel(dir).notes.join('\n'), /no sha256 recorded/);
    const nan = Buffer.from(saved);
    nan.writeFloatLE(NaN, 4);
    writeFileSync(weightsFile, nan);
    const first = json.weightsManifest[0].weights[0].name;
    assert.throws(() => loadFunctionalModel(dir), new RegExp(`weight '${first}' holds NaN at .*non-finite`));
  });

  it('a functional file whose manifest names weights its own way (Keras-converted) loads by order, as Sequential', () => {
    const m = seq2seq(V, H, Te, Td, 16, false);
    const want = (m.predict([enc, dec]) as Tensor).data;
    const dir = join(tempDir(), 'renamed');
    saveModel(m, dir);
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJson;
    delete (json.userDefinedMetadata as { recur: { sha256?: unknown } }).recur.sha256;
    // As tensorflowjs_converter names a tf.keras 2.x LSTM's weights: with the cell's scope.
    for (const w of json.weightsManifest[0].weights) w.name = w.name.replace('/', '/lstm_cell/');
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    const loaded = loadFunctionalModel(dir);
    assert.equal(maxAbsDiff((loaded.model.predict([enc, dec]) as Tensor).data, want), 0);
    assert.match(
      loaded.notes.join('\n'),
      /names its weights differently .* matched in order, shapes checked/,
    );
    // Out of order, a shape no longer fits: refused, naming the weight.
    const [a, b] = json.weightsManifest[0].weights;
    json.weightsManifest[0].weights.splice(0, 2, b, a);
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    assert.throws(() => loadFunctionalModel(dir), /should have shape/);
  });

  it('bad functional files name the field that is wrong', () => {
    const m = seq2seq(V, H, Te, Td, 1);
    const art = serializeFunctional(m);
    const json = JSON.parse(
      JSON.stringify({ ...art.json, weightsManifest: [{ paths: [], weights: art.weightSpecs }] }),
    );
    json.modelTopology.config.layers[3].inbound_nodes = [[['decoder_input', 0]]];
    assert.throws(
      () => parseFunctionalModelJson(JSON.stringify(json), 'x/model.json'),
      /x\/model\.json: field 'modelTopology\.config\.layers\[3\]\.inbound_nodes\[0\]\[0\]/,
    );
    json.modelTopology.config.layers[3].inbound_nodes = [[['nowhere', 0, 0, {}]]];
    assert.throws(
      () => deserializeFunctional(json, art.weightData, 'x/model.json'),
      /layer 'decoder' reads 'nowhere', which is not a layer of the model/,
    );
  });
});

function toTfjs(x: AnyTensor): tf.Tensor {
  return toTf(x);
}

describe('functional summary', () => {
  it('prints the Keras table, with the layers each one is connected to', () => {
    const a = input({ shape: [4, 3], name: 'source' });
    const h = L.lstm({ units: 2, name: 'encoder' }).apply(a) as SymbolicTensor;
    const m = model({ inputs: a, outputs: L.dense({ units: 1, name: 'head' }).apply(h) as SymbolicTensor });
    const lines: string[] = [];
    m.summary((l) => lines.push(l));
    assert.deepEqual(lines.slice(2, 7), [
      'Layer (type)         Output Shape  Param #  Connected to',
      '='.repeat(58),
      'source (InputLayer)  [null, 4, 3]  0',
      'encoder (LSTM)       [null, 2]     48       source',
      'head (Dense)         [null, 1]     3        encoder',
    ]);
    assert.equal(lines[8], 'Total params: 51');
  });
});
