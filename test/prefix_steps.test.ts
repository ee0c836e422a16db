/**
 * The shared-prefix forward (src/models/prefix_steps.ts): windows of token ids stepped once per distinct prefix give
 * the sequence forward's outputs bit for bit — every cell, stacks, an Embedding folded or not, rows in any order,
 * repeated rows, row counts off the GEMM's row block — and stacks it cannot serve fall back to the sequence forward.
 */
import '../src/node/index.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scoped } from '../src/core/backend.js';
import { Random } from '../src/core/random.js';
import { IndexTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import type { Layer } from '../src/layers/layer.js';
import { forwardByPrefixes, prefixStepRows, prefixStepTop } from '../src/models/prefix_steps.js';
import { Sequential } from '../src/models/sequential.js';
import { layerByLayer } from './helpers.js';

const V = 5;
const T = 9;

/**
 * `n` windows of T ids cut every `step` ids from one random sequence over a small vocabulary (so that many begin
 * alike), shuffled, with the first `repeats` rows repeated at the end.
 */
function windows(n: number, step: number, seed: number, repeats = 3): IndexTensor {
  const rng = new Random(seed);
  const text = Int32Array.from({ length: n * step + T }, () => rng.int(V));
  const rows: Int32Array[] = [];
  for (let i = 0; i < n; i++) rows.push(text.subarray(i * step, i * step + T));
  for (let i = rows.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [rows[i], rows[j]] = [rows[j], rows[i]];
  }
  for (let i = 0; i < repeats; i++) rows.push(rows[i]);
  const data = new Int32Array(rows.length * T);
  rows.forEach((r, i) => data.set(r, i * T));
  return new IndexTensor(data, [rows.length, T]);
}

/** Token ids in: [T] for a stack starting with an Embedding, else [T, V] (ids read one-hot). */
function inputShapeOf(layers: readonly Layer[]): number[] {
  return layers[0] instanceof L.Embedding ? [T] : [T, V];
}

function built(layers: Layer[], seed: number): Sequential {
  const m = new Sequential({ layers, seed });
  m.build(inputShapeOf(layers));
  return m;
}

const SERVED: [string, () => Layer[]][] = [
  [
    'LSTM → Dense softmax (the text recipe)',
    () => [new L.LSTM({ units: 8 }), new L.Dense({ units: V, activation: 'softmax' })],
  ],
  [
    'SimpleRNN → Dropout → LSTM → Dense → Activation',
    () => [
      new L.SimpleRNN({ units: 6, returnSequences: true }),
      new L.Dropout({ rate: 0.3 }),
      new L.LSTM({ units: 7 }),
      new L.Dense({ units: 3 }),
      new L.Activation({ activation: 'softmax' }),
    ],
  ],
  [
    'GRU resetAfter → Dense',
    () => [new L.GRU({ units: 6, resetAfter: true }), new L.Dense({ units: 2, activation: 'sigmoid' })],
  ],
  ['GRU resetBefore, no bias', () => [new L.GRU({ units: 5, resetAfter: false, useBias: false })]],
  [
    'Embedding folded → LSTM → LSTM → Dense',
    () => [
      new L.Embedding({ inputDim: V, outputDim: 4 }),
      new L.LSTM({ units: 6, returnSequences: true }),
      new L.LSTM({ units: 5 }),
      new L.Dense({ units: V }),
    ],
  ],
];

const FALLBACK: [string, () => Layer[]][] = [
  ['a sequence output', () => [new L.LSTM({ units: 4, returnSequences: true }), new L.Dense({ units: V })]],
  ['backwards in time', () => [new L.LSTM({ units: 4, goBackwards: true })]],
  ['Bidirectional', () => [new L.Bidirectional({ layer: new L.LSTM({ units: 3 }) })]],
  [
    'pooling over time',
    () => [new L.LSTM({ units: 4, returnSequences: true }), new L.GlobalAveragePooling1D({})],
  ],
  [
    'no recurrent layer',
    () => [new L.Embedding({ inputDim: V, outputDim: 3 }), new L.GlobalMaxPooling1D({})],
  ],
];

describe('shared-prefix forward', () => {
  for (const [name, make] of SERVED) {
    it(`${name}: the sequence forward's outputs bit for bit`, () => {
      for (const [n, seed] of [
        [40, 1],
        [37, 2],
        [5, 3],
      ]) {
        const m = built(make(), seed);
        const top = prefixStepTop(m.layers, m.outputShapes(inputShapeOf(m.layers)));
        assert.ok(top >= 0, 'the stack is served by prefixes');
        const x = windows(n, 2, seed);
        const want = layerByLayer(m.layers, x);
        assert.deepEqual(m.predict(x).data, want, `predict, ${x.shape[0]} rows`);
        // The prefix path alone, up to its top layer, against the sequence forward up to there.
        const mid = scoped(() => Float32Array.from(forwardByPrefixes(m.layers, top, x)!.data));
        assert.deepEqual(mid, layerByLayer(m.layers.slice(0, top + 1), x));
      }
    });
  }

  it('seeded random stacks and windows: the sequence forward bit for bit', () => {
    const cells = [
      (units: number, rs: boolean) => new L.LSTM({ units, returnSequences: rs }),
      (units: number, rs: boolean) => new L.GRU({ units, returnSequences: rs, resetAfter: true }),
      (units: number, rs: boolean) => new L.GRU({ units, returnSequences: rs, resetAfter: false }),
      (units: number, rs: boolean) => new L.SimpleRNN({ units, returnSequences: rs }),
    ];
    for (let seed = 0; seed < 24; seed++) {
      const rng = new Random(1000 + seed);
      const depth = 1 + rng.int(3);
      const layers: Layer[] = [];
      if (rng.int(2) === 0) layers.push(new L.Embedding({ inputDim: V, outputDim: 2 + rng.int(4) }));
      for (let d = 0; d < depth; d++)
        layers.push(cells[rng.int(cells.length)](2 + rng.int(9), d < depth - 1));
      if (rng.int(2) === 0) layers.push(new L.Dense({ units: 1 + rng.int(6), activation: 'tanh' }));
      const m = built(layers, seed);
      assert.ok(prefixStepTop(m.layers, m.outputShapes(inputShapeOf(m.layers))) >= 0);
      const x = windows(4 + rng.int(60), 1 + rng.int(3), seed, rng.int(4));
      assert.deepEqual(
        m.predict(x).data,
        layerByLayer(m.layers, x),
        `seed ${seed}: ${layers.map((l) => l.className).join(' → ')}`,
      );
    }
  });

  it('prefixStepRows counts the distinct prefixes of each step, in whole row blocks', () => {
    // Rows (T 3): a a b · a a c · a b a · b a a · a a b (a repeat) → step 0: {a, b} = 2 → 4; step 1: {aa, ab, ba} = 3
    // → 4; step 2: {aab, aac, aba, baa} = 4 → 4.
    const rows = ['aab', 'aac', 'aba', 'baa', 'aab'];
    const x = new IndexTensor(
      Int32Array.from(rows.join(''), (c) => c.charCodeAt(0) - 97),
      [5, 3],
    );
    assert.equal(prefixStepRows(x), 12);
    // Eight rows that share nothing: 8 a step; eight alike: one block of 4 a step.
    const distinct = new IndexTensor(
      Int32Array.from({ length: 8 * 3 }, (_, i) => Math.floor(i / 3)),
      [8, 3],
    );
    assert.equal(prefixStepRows(distinct), 24);
    assert.equal(prefixStepRows(new IndexTensor(new Int32Array(8 * 3), [8, 3])), 12);
  });

  it('rows that are all alike, and rows that share nothing', () => {
    const m = built([new L.LSTM({ units: 8 }), new L.Dense({ units: V })], 7);
    const same = new IndexTensor(new Int32Array(12 * T).fill(3), [12, T]);
    assert.deepEqual(m.predict(same).data, layerByLayer(m.layers, same));
    const distinct = new IndexTensor(
      Int32Array.from({ length: 5 * T }, (_, i) => Math.floor(i / T)),
      [5, T],
    );
    assert.deepEqual(m.predict(distinct).data, layerByLayer(m.layers, distinct));
  });

  for (const [name, make] of FALLBACK) {
    it(`${name}: not served, and predict is the sequence forward`, () => {
      const m = built(make(), 11);
      assert.equal(prefixStepTop(m.layers, m.outputShapes(inputShapeOf(m.layers))), -1);
      const x = windows(16, 1, 5);
      assert.deepEqual(m.predict(x).data, layerByLayer(m.layers, x));
    });
  }

  it('a stateful RNN is not served (it carries its state from batch to batch)', () => {
    const m = new Sequential({
      layers: [new L.LSTM({ units: 4, stateful: true, batchInputShape: [8, T, V] })],
      seed: 3,
    });
    m.build([T, V]);
    assert.equal(prefixStepTop(m.layers, m.outputShapes(inputShapeOf(m.layers))), -1);
  });

  it('a word vocabulary is left to the sequence forward (its token table would cost more than it saves)', () => {
    const words = 5_000;
    const layers = [new L.Embedding({ inputDim: words, outputDim: 4 }), new L.LSTM({ units: 3 })];
    const m = new Sequential({ layers, seed: 8 });
    m.build([T]);
    const top = prefixStepTop(m.layers, m.outputShapes([T]));
    assert.equal(top, 1);
    const rng = new Random(2);
    const x = new IndexTensor(
      Int32Array.from({ length: 8 * T }, () => rng.int(words)),
      [8, T],
    );
    assert.equal(forwardByPrefixes(m.layers, top, x), null, '8 rows: a table of 5,000 ids is not made');
    assert.deepEqual(m.predict(x).data, layerByLayer(m.layers, x));
  });

  it('a masked Embedding falls back to the sequence forward', () => {
    const m = built(
      [new L.Embedding({ inputDim: V, outputDim: 3, maskZero: true }), new L.LSTM({ units: 4 })],
      4,
    );
    const x = windows(20, 1, 9);
    assert.deepEqual(m.predict(x).data, layerByLayer(m.layers, x));
  });

  it('evaluate reads the same loss either way', () => {
    const m = built([new L.LSTM({ units: 8 }), new L.Dense({ units: V, activation: 'softmax' })], 21);
    m.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy' });
    const x = windows(64, 1, 13, 0);
    const y = new IndexTensor(
      Int32Array.from({ length: 64 }, (_, i) => i % V),
      [64],
    );
    const logs = m.evaluate(x, y, { batchSize: 32 });
    assert.ok(Number.isFinite(logs.loss));
    // The loss from the sequence forward's probabilities, by hand.
    const p = layerByLayer(m.layers, x);
    let sum = 0;
    for (let i = 0; i < 64; i++) sum -= Math.log(p[i * V + y.data[i]]);
    assert.ok(Math.abs(logs.loss - sum / 64) < 1e-5, `${logs.loss} against ${sum / 64}`);
  });
});
