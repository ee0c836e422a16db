/**
 * Small batches on the worker pool (issue #18): a batch whose work is below the split threshold runs on this thread
 * alone (exactly the one-thread results), larger ones are split, a stateful model is always split, and a model that
 * knows its shards' loss positions up front (Sequential) runs each worker's shard in one request with bit-identically
 * the results of the two-phase protocol.
 */
import '../src/node/index.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { IndexTensor, Tensor, type AnyTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import { input, model as functionalModel, type SymbolicTensor } from '../src/models/functional.js';
import {
  MIN_SPLIT_WORK,
  getMinSplitWork,
  setMinSplitWork,
  splitWork,
  usePool,
} from '../src/models/pool_model.js';
import { Sequential } from '../src/models/sequential.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { setPoolTimings } from '../src/parallel/pool.js';
import { maxAbsDiff } from './helpers.js';

const VOCAB = 12;

/** Padded token batches of 3–8 ids (0 = padding) with a label that follows one of them. */
function batches(count: number, rows: number, seed: number): { xs: IndexTensor; ys: Tensor }[] {
  const rng = new Random(seed);
  return Array.from({ length: count }, () => {
    const T = 3 + rng.int(6);
    const ids = new Int32Array(rows * T);
    const labels = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const len = 1 + rng.int(T);
      for (let t = 0; t < len; t++) ids[r * T + t] = 1 + rng.int(VOCAB - 1);
      labels[r] = ids[r * T] % 2;
    }
    return { xs: new IndexTensor(ids, [rows, T]), ys: new Tensor(labels, [rows, 1]) };
  });
}

/** The classify recipe's model in small: Embedding(maskZero) → BiLSTM → max over time → Dropout → sigmoid. */
function classifier(threads: number): Sequential {
  const model = new Sequential({
    seed: 3,
    layers: [
      new L.Embedding({ inputDim: VOCAB, outputDim: 8, maskZero: true, inputShape: [null] }),
      new L.Bidirectional({ layer: new L.LSTM({ units: 8, returnSequences: true }) }),
      new L.GlobalMaxPooling1D(),
      new L.Dropout({ rate: 0.2 }),
      new L.Dense({ units: 1, activation: 'sigmoid' }),
    ],
  });
  model.build();
  model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  model.threads = threads;
  return model;
}

/** Trains a fresh classifier on 6 batches of 32; its weights, and how many batches the pool ran. */
async function train(
  threads: number,
  twoPhase = false,
): Promise<{ weights: Float32Array[]; pooled: number }> {
  const model = classifier(threads);
  // Without shardCounts the pool must ask the workers for their loss positions first: the two-phase protocol.
  if (twoPhase) model.shardCounts = () => null as unknown as number[];
  const data = batches(6, 32, 9);
  const timings = setPoolTimings(true)!;
  await model.fitDataset({ batches: () => data }, { epochs: 1 });
  setPoolTimings(false);
  return { weights: model.getWeights().map((w) => w.data), pooled: timings.batches };
}

describe('small batches on the worker pool', () => {
  const suiteSetting = getMinSplitWork();
  afterEach(() => setMinSplitWork(suiteSetting));
  after(() => shutdownWorkerPool());

  it('splitWork counts time steps × the weights used at every step (not the embedding)', () => {
    const model = classifier(1);
    // LSTM(8) on 8 features, twice: 4·8·(8 + 8) + 4·8 = 544 each; Dense(16 → 1): 17.
    const perStep = 2 * 544 + 17;
    assert.equal(splitWork(model, [new IndexTensor(new Int32Array(32 * 5), [32, 5])]), 32 * 5 * perStep);
    const dense = new Sequential({ seed: 1, layers: [new L.Dense({ units: 3, inputShape: [4] })] });
    dense.build();
    // A float [N, F] input is one step per row; [N, T, F] is T steps.
    assert.equal(splitWork(dense, [new Tensor(new Float32Array(40), [10, 4])]), 10 * 15);
    const inputs: AnyTensor[] = [new Tensor(new Float32Array(10 * 7 * 4), [10, 7, 4])];
    assert.equal(splitWork(dense, inputs), 10 * 7 * 15);
  });

  it('below the threshold a batch runs on this thread: 2 threads give exactly the 1-thread weights', async () => {
    setMinSplitWork(MIN_SPLIT_WORK);
    const one = await train(1);
    const two = await train(2);
    assert.equal(two.pooled, 0);
    one.weights.forEach((w, i) => assert.deepEqual(two.weights[i], w, `weight ${i}`));
  });

  it('at or above the threshold every batch is split, and agrees with one thread within float tolerance', async () => {
    const one = await train(1);
    // 32 rows × 3–8 steps × 1,105 weights: 106 k–283 k per batch; those of 6 steps or more are split.
    setMinSplitWork(200_000);
    const two = await train(2);
    assert.ok(two.pooled > 0 && two.pooled < 6, `${two.pooled} of 6 batches split`);
    setMinSplitWork(0);
    const all = await train(2);
    assert.equal(all.pooled, 6);
    one.weights.forEach((w, i) => {
      assert.ok(maxAbsDiff(w, all.weights[i]) < 1e-4, `weight ${i}: ${maxAbsDiff(w, all.weights[i])}`);
      assert.ok(maxAbsDiff(w, two.weights[i]) < 1e-4, `weight ${i}: ${maxAbsDiff(w, two.weights[i])}`);
    });
  });

  it('one request per shard gives bit-identically the weights of the two-phase protocol', async () => {
    setMinSplitWork(0);
    const single = await train(2);
    const twoPhase = await train(2, true);
    assert.equal(single.pooled, 6);
    assert.equal(twoPhase.pooled, 6);
    single.weights.forEach((w, i) => assert.deepEqual(twoPhase.weights[i], w, `weight ${i}`));
    // ... and it is bit-identical run to run.
    const again = await train(2);
    single.weights.forEach((w, i) => assert.deepEqual(again.weights[i], w, `weight ${i}`));
  });

  it('a functional model without sequence outputs also runs one request per shard, bit-identically', async () => {
    setMinSplitWork(0);
    const N = 40;
    const T = 6;
    const rng = new Random(21);
    const ids = new Int32Array(N * T);
    for (let r = 0; r < N; r++)
      for (let t = 0; t < 1 + rng.int(T); t++) ids[r * T + t] = 1 + rng.int(VOCAB - 1);
    const side = new Tensor(
      Float32Array.from({ length: N * 3 }, () => rng.next()),
      [N, 3],
    );
    const label = new Tensor(
      Float32Array.from({ length: N }, (_, i) => ids[i * T] % 2),
      [N, 1],
    );
    const classes = new IndexTensor(
      Int32Array.from({ length: N }, (_, i) => ids[i * T] % 3),
      [N],
    );
    const run = async (twoPhase: boolean): Promise<{ weights: Float32Array[]; pooled: number }> => {
      const tokens = input({ shape: [T], dtype: 'int32', name: 'tokens' });
      const extra = input({ shape: [3], name: 'extra' });
      const e = new L.Embedding({ inputDim: VOCAB, outputDim: 4, maskZero: true }).apply(
        tokens,
      ) as SymbolicTensor;
      const h = new L.GRU({ units: 6 }).apply(e) as SymbolicTensor;
      const joined = new L.Concatenate().apply([h, extra]) as SymbolicTensor;
      const p = new L.Dense({ units: 1, activation: 'sigmoid', name: 'p' }).apply(joined) as SymbolicTensor;
      const k = new L.Dense({ units: 3, activation: 'softmax', name: 'k' }).apply(h) as SymbolicTensor;
      const m = functionalModel({ inputs: [tokens, extra], outputs: [p, k], seed: 4 });
      m.compile({ optimizer: 'adam', loss: ['binaryCrossentropy', 'sparseCategoricalCrossentropy'] });
      assert.deepEqual(
        m.shardCounts({ xs: [new IndexTensor(ids.slice(0, 3 * T), [3, T]), side], ys: [] }),
        [3, 3],
      );
      if (twoPhase) m.shardCounts = () => null;
      const timings = setPoolTimings(true)!;
      await m.fit([new IndexTensor(ids, [N, T]), side], [label, classes], {
        epochs: 2,
        batchSize: 16,
        threads: 2,
      });
      setPoolTimings(false);
      return { weights: m.getWeights().map((w) => w.data), pooled: timings.batches };
    };
    const single = await run(false);
    const twoPhase = await run(true);
    assert.equal(single.pooled, 6);
    single.weights.forEach((w, i) => assert.deepEqual(twoPhase.weights[i], w, `weight ${i}`));
  });

  it('a functional model with a sequence output leaves its loss positions to the forward pass', () => {
    const tokens = input({ shape: [4], dtype: 'int32' });
    const e = new L.Embedding({ inputDim: VOCAB, outputDim: 3, maskZero: true }).apply(
      tokens,
    ) as SymbolicTensor;
    const seq = new L.LSTM({ units: 2, returnSequences: true }).apply(e) as SymbolicTensor;
    const m = functionalModel({ inputs: [tokens], outputs: [seq], seed: 1 });
    assert.equal(m.shardCounts({ xs: [new IndexTensor(new Int32Array(8), [2, 4])], ys: [] }), null);
  });

  it('a stateful model is split however small its batches (each replica carries its rows)', () => {
    setMinSplitWork(MIN_SPLIT_WORK);
    const model = new Sequential({
      seed: 1,
      layers: [
        new L.LSTM({ units: 4, stateful: true, batchInputShape: [8, 3, 5] }),
        new L.Dense({ units: 2 }),
      ],
    });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    model.threads = 2;
    const x = [new Tensor(new Float32Array(8 * 3 * 5), [8, 3, 5])];
    assert.ok(splitWork(model, x) < MIN_SPLIT_WORK);
    assert.equal(usePool(model, 8, x), true);
    const stateless = classifier(2);
    assert.equal(usePool(stateless, 8, [new IndexTensor(new Int32Array(8 * 3), [8, 3])]), false);
    // Without the inputs (e.g. spreading carried states) the size alone decides, as before.
    assert.equal(usePool(stateless, 8), true);
  });

  it('the threshold must be a number ≥ 0, in the API and in RECUR_MIN_SPLIT_WORK', () => {
    assert.throws(() => setMinSplitWork(-1), /must be a number ≥ 0, got -1/);
    assert.throws(() => setMinSplitWork(Number.NaN), /got NaN/);
    const index = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'node', 'index.js');
    const run = (value: string): ReturnType<typeof spawnSync> =>
      spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(index)});`], {
        encoding: 'utf8',
        env: { ...process.env, RECUR_MIN_SPLIT_WORK: value },
      });
    const bad = run('lots');
    assert.notEqual(bad.status, 0);
    assert.match(
      String(bad.stderr),
      /RECUR_MIN_SPLIT_WORK must be a number ≥ 0 \(0 splits every batch\), got 'lots'/,
    );
    assert.equal(run('1e6').status, 0);
  });
});
