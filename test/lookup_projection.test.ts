/**
 * An Embedding folded into the recurrent layer after it, at inference (layers/lookup_projection.ts): Sequential and
 * Functional prediction give bit for bit what the unfolded layers give, for every cell, with and without bias,
 * backwards, bidirectional and masked; each id is projected once per withFrozenWeights scope; nothing projected in one
 * scope survives into the next (weights trained in between are seen); and a table too large to keep falls back to
 * projecting each batch's distinct ids.
 */
import '../src/node/index.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernels, scoped } from '../src/core/backend.js';
import { Random } from '../src/core/random.js';
import { IndexTensor, Tensor } from '../src/core/tensor.js';
import { FrozenWeights, frozenEpoch, withFrozenWeights } from '../src/layers/frozen_weights.js';
import * as L from '../src/layers/index.js';
import type { Layer } from '../src/layers/layer.js';
import { CACHED_PROJECTION_FLOATS, LookupProjection } from '../src/layers/lookup_projection.js';
import { input, model } from '../src/models/functional.js';
import { SGD } from '../src/models/optimizers.js';
import { Sequential } from '../src/models/sequential.js';
import { layerByLayer } from './helpers.js';

const V = 23;
const T = 7;

/** `n` rows of ids in 1…V−1, right-padded with 0 to T (lengths 1…T); rows after the first few use new ids. */
function idRows(n: number, seed: number): IndexTensor {
  const rng = new Random(seed);
  const data = new Int32Array(n * T);
  for (let r = 0; r < n; r++) {
    const len = 1 + rng.int(T);
    // The first rows draw from the low half of the vocabulary, later ones from all of it: later batches meet ids
    // earlier batches did not project.
    const top = r < 4 ? Math.floor(V / 2) : V - 1;
    for (let t = 0; t < len; t++) data[r * T + t] = 1 + rng.int(top);
  }
  return new IndexTensor(data, [n, T]);
}

const READERS: [string, () => Layer][] = [
  ['SimpleRNN', () => new L.SimpleRNN({ units: 6, returnSequences: true })],
  ['LSTM', () => new L.LSTM({ units: 5 })],
  ['LSTM without bias, backwards', () => new L.LSTM({ units: 5, useBias: false, goBackwards: true })],
  ['GRU resetAfter', () => new L.GRU({ units: 4, resetAfter: true, returnSequences: true })],
  ['GRU resetBefore', () => new L.GRU({ units: 4, resetAfter: false })],
  ['Bidirectional(LSTM)', () => new L.Bidirectional({ layer: new L.LSTM({ units: 4 }) })],
];

function stack(reader: Layer, seed: number, vocabulary = V): Sequential {
  const m = new Sequential({
    seed,
    layers: [
      new L.Embedding({ inputDim: vocabulary, outputDim: 5, maskZero: true, inputShape: [T] }),
      reader,
      new L.Dense({ units: 3, activation: 'softmax' }),
    ],
  });
  m.build();
  return m;
}

/** model.predict in batches of 4, against the unfolded layers on the same batches. */
function assertPredictsUnfolded(m: Sequential, x: IndexTensor): Float32Array {
  const folded = m.predict(x, { batchSize: 4 }).data;
  const width = folded.length / x.shape[0];
  for (let i = 0; i < x.shape[0]; i += 4) {
    const end = Math.min(x.shape[0], i + 4);
    const plain = layerByLayer(m.layers, x.sliceRows(i, end));
    assert.deepEqual(folded.subarray(i * width, end * width), plain, `rows ${i}…${end - 1}`);
  }
  return Float32Array.from(folded);
}

describe('an Embedding folded into the recurrent layer after it', () => {
  for (const [name, make] of READERS) {
    it(`Sequential.predict gives the unfolded layers' outputs bit for bit (${name})`, () => {
      const reader = make();
      const m = stack(reader, 3);
      // The reader is handed the lookup (the fold is on) at inference, and not when training.
      const seen: boolean[] = [];
      const forward = reader.forward.bind(reader);
      reader.forward = (x, opts) => {
        seen.push(opts.inputLookup !== undefined);
        return forward(x, opts);
      };
      assertPredictsUnfolded(m, idRows(10, 5));
      assert.deepEqual(seen.slice(0, 3), [true, true, true]);
      seen.length = 0;
      m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
      const perStep = m.outputShape().length === 2; // [T, 3]: a class per step
      const y = new IndexTensor(
        Int32Array.from({ length: perStep ? 4 * T : 4 }, (_, i) => i % 3),
        perStep ? [4, T] : [4],
      );
      m.trainOnBatch(idRows(4, 6), y);
      assert.deepEqual(seen, [false]);
    });
  }

  it('gives the same outputs for one short text of a large vocabulary (its distinct ids kept in a map)', () => {
    const m = stack(new L.GRU({ units: 4 }), 5, 5000);
    const x = new IndexTensor(Int32Array.from([4321, 17, 4999, 17, 2, 0, 0]), [1, T]);
    assert.deepEqual(m.predict(x).data, layerByLayer(m.layers, x));
    // One text per call, as a server answers, in a frozen scope of a few one-row batches.
    const three = new IndexTensor(Int32Array.from([...x.data, 1, 2, 3, 4999, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9]), [
      3,
      T,
    ]);
    const folded = m.predict(three, { batchSize: 1 }).data;
    for (let r = 0; r < 3; r++)
      assert.deepEqual(folded.subarray(r * 3, r * 3 + 3), layerByLayer(m.layers, three.sliceRows(r, r + 1)));
  });

  it('sees weights trained between two predictions (nothing kept from one scope to the next)', () => {
    const m = stack(new L.LSTM({ units: 5 }), 4);
    m.compile({
      optimizer: new SGD({ learningRate: 0.5 }),
      loss: 'sparseCategoricalCrossentropy',
    });
    const x = idRows(9, 7);
    const before = assertPredictsUnfolded(m, x);
    for (let i = 0; i < 3; i++)
      m.trainOnBatch(
        x,
        new IndexTensor(
          Int32Array.from(x.data.subarray(0, 9), (v) => v % 3),
          [9],
        ),
      );
    const after = assertPredictsUnfolded(m, x);
    assert.ok(
      before.some((v, i) => v !== after[i]),
      'training changed the predictions',
    );
  });

  it('folds in a functional model too, with the same outputs', () => {
    const ids = input({ shape: [T], dtype: 'int32' });
    const emb = new L.Embedding({ inputDim: V, outputDim: 5, maskZero: true });
    const gru = new L.GRU({ units: 4 });
    const dense = new L.Dense({ units: 2, activation: 'softmax' });
    const m = model({ inputs: ids, outputs: dense.apply(gru.apply(emb.apply(ids))) });
    const x = idRows(11, 8);
    const folded = (m.predict(x, { batchSize: 4 }) as Tensor).data;
    for (let i = 0; i < 11; i += 4) {
      const end = Math.min(11, i + 4);
      assert.deepEqual(folded.subarray(i * 2, end * 2), layerByLayer([emb, gru, dense], x.sliceRows(i, end)));
    }
  });
});

describe('LookupProjection', () => {
  const D = 3;
  const GH = 8;
  const rng = new Random(9);
  const fill = (n: number): Float32Array =>
    kernels()
      .allocPersistent(n)
      .map(() => rng.uniform(-0.5, 0.5));
  const table = fill(V * D);
  const W = fill(D * GH);
  const b = fill(GH);
  const lookup = { table, ids: V };

  /** E[id]·W + b the long way, in float64 then rounded: compared within float32 rounding. */
  const expected = (ids: Int32Array): Float32Array => {
    const out = new Float32Array(ids.length * GH);
    ids.forEach((id, r) => {
      for (let j = 0; j < GH; j++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += table[id * D + d] * W[d * GH + j];
        out[r * GH + j] = s + b[j];
      }
    });
    return out;
  };
  const project = (p: LookupProjection, ids: number[]): Float32Array =>
    scoped(() => {
      const idx = kernels().allocInt32(ids.length);
      idx.set(ids);
      const out = kernels().alloc(ids.length * GH);
      p.project({ lookup, kernel: W, bias: b, inputWidth: D, width: GH }, idx, ids.length, out);
      const want = expected(idx);
      out.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `[${i}] ${v} vs ${want[i]}`));
      return Float32Array.from(out);
    });

  /** The row counts of every GEMM `fn` runs. */
  const gemmRows = (fn: () => void): number[] => {
    const k = kernels();
    const gemm = k.gemm;
    const rows: number[] = [];
    k.gemm = (...args) => {
      rows.push(args[2]);
      gemm.apply(k, args);
    };
    try {
      fn();
    } finally {
      k.gemm = gemm;
    }
    return rows;
  };

  it('projects each distinct id of a batch once', () => {
    const p = new LookupProjection();
    assert.deepEqual(
      gemmRows(() => project(p, [4, 4, 9, 0, 9, 4, 22])),
      [4],
    );
  });

  it('inside withFrozenWeights, from the second batch on projects each id once for the scope, and again in the next', () => {
    const p = new LookupProjection();
    const first = gemmRows(() =>
      withFrozenWeights(() => {
        project(p, [1, 2, 2, 3]); // the first batch: projected alone, no table (a one-batch call never makes one)
        project(p, [3, 2, 1, 1]); // the table is made: 1, 2, 3 projected into it
        project(p, [5, 1, 6, 5]); // only 5 and 6 are new
        project(p, [6, 2, 3, 5]); // nothing new: no GEMM
      }),
    );
    assert.deepEqual(first, [3, 3, 2]);
    assert.deepEqual(
      gemmRows(() => withFrozenWeights(() => project(p, [1, 2]))),
      [2],
    );
  });

  it('in a FrozenWeights held open, keeps projected rows from run to run until it is closed', () => {
    const p = new LookupProjection();
    const held = new FrozenWeights();
    assert.deepEqual(
      gemmRows(() => {
        held.run(() => project(p, [7, 8, 8]));
        held.run(() => project(p, [8, 7, 9]));
        held.run(() => project(p, [9, 9, 7]));
      }),
      [2, 3],
    );
    held.close();
    assert.deepEqual(
      gemmRows(() => withFrozenWeights(() => project(p, [7, 8]))),
      [2],
    );
  });

  it('does not keep a table larger than CACHED_PROJECTION_FLOATS; projects per batch instead', () => {
    const p = new LookupProjection();
    const wide = { table, ids: V };
    const big = Math.floor(CACHED_PROJECTION_FLOATS / GH) + 1;
    const rows = gemmRows(() =>
      withFrozenWeights(() =>
        scoped(() => {
          const idx = kernels().allocInt32(4);
          idx.set([1, 2, 2, 3]);
          const out = kernels().alloc(4 * GH);
          // A vocabulary `big` ids large (the rows used are all < V, so the small table serves the gathers).
          p.project(
            { lookup: { ...wide, ids: big }, kernel: W, bias: b, inputWidth: D, width: GH },
            idx,
            4,
            out,
          );
          p.project(
            { lookup: { ...wide, ids: big }, kernel: W, bias: b, inputWidth: D, width: GH },
            idx,
            4,
            out,
          );
          const want = expected(idx);
          out.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6));
        }),
      ),
    );
    assert.deepEqual(rows, [3, 3]);
  });
});

describe('FrozenWeights held open', () => {
  it('keeps one epoch over many runs, runs inside an open scope in that one, and cannot be entered once closed', () => {
    const held = new FrozenWeights();
    const a = held.run(() => frozenEpoch());
    assert.equal(
      held.run(() => frozenEpoch()),
      a,
    );
    assert.equal(frozenEpoch(), null);
    const outer = withFrozenWeights(() => [frozenEpoch(), held.run(() => frozenEpoch())]);
    assert.equal(outer[1], outer[0]);
    assert.notEqual(outer[0], a);
    held.close();
    assert.throws(() => held.run(() => 1), /closed/);
  });
});

describe('withFrozenWeights', () => {
  it('has an epoch inside, shared by nested scopes, new for every outermost scope, none outside', () => {
    assert.equal(frozenEpoch(), null);
    const [outer, inner] = withFrozenWeights(() => [frozenEpoch(), withFrozenWeights(() => frozenEpoch())]);
    assert.equal(typeof outer, 'number');
    assert.equal(inner, outer);
    assert.notEqual(
      withFrozenWeights(() => frozenEpoch()),
      outer,
    );
    assert.equal(frozenEpoch(), null);
  });

  it('closes on an error, and refuses asynchronous work', async () => {
    assert.throws(
      () =>
        withFrozenWeights(() => {
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.equal(frozenEpoch(), null);
    assert.throws(() => withFrozenWeights(async () => 1), /synchronous work only/);
    assert.equal(frozenEpoch(), null);
  });
});
