/**
 * Functional models on the worker pool: an encoder–decoder with attention, dropout and padded (masked) targets trains
 * with threads 2 as with threads 1 (the masked token mean is the whole batch's, not each shard's), bit-identically run
 * to run, and resumes an interrupted epoch on threads exactly. With RECUR_KERNELS=reference the pool is not used
 * (fit falls back to this thread, as test/threads.test.ts), so the same checks hold trivially there.
 */
import '../src/node/index.js';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { Tensor, indexTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import { LambdaCallback } from '../src/models/callbacks.js';
import {
  input,
  model as functionalModel,
  type Functional,
  type SymbolicTensor,
} from '../src/models/functional.js';
import {
  parallelRunner,
  setMinSplitWork,
  setParallelRunner,
  type ParallelRunner,
} from '../src/models/pool_model.js';
import type { EpochProgress } from '../src/models/sequential.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { PairDataset, encodePairs } from '../src/seq2seq/data.js';
import { G2P_SETTINGS, buildSeq2SeqModel, type Seq2SeqSettings } from '../src/seq2seq/model.js';
import { Tokenizer } from '../src/seq2seq/tokenizer.js';
import { kernels } from '../src/core/backend.js';
import { maxAbsDiff } from './helpers.js';

// These tests count the batches the pool trains: split every batch, however small (as scripts/test.mjs does for all).
setMinSplitWork(0);

/** Pairs of random letter strings (2–7 letters) and their reversal with a letter shift: lengths vary per batch. */
function makeData(): { data: PairDataset; vocab: [number, number] } {
  const rng = new Random(7);
  const letters = 'abcdefgh';
  const pairs = Array.from({ length: 72 }, () => {
    const n = 2 + Math.floor(rng.next() * 6);
    const source = Array.from({ length: n }, () => letters[Math.floor(rng.next() * letters.length)]).join('');
    const target = [...source]
      .reverse()
      .map((c) => letters[(letters.indexOf(c) + 1) % letters.length])
      .join('');
    return { source, target };
  });
  const src = Tokenizer.fit(
    pairs.map((p) => p.source),
    'chars',
  );
  const tgt = Tokenizer.fit(
    pairs.map((p) => p.target),
    'chars',
  );
  // 5 batches an epoch, the last one short (72 = 4 × 16 + 8): odd shard sizes and a batch-size change.
  return {
    data: new PairDataset(encodePairs(pairs, src, tgt), { batchSize: 16, seed: 3, poolBatches: 2 }),
    vocab: [src.size, tgt.size],
  };
}

function makeModel(vocab: [number, number], extra: Partial<Seq2SeqSettings> = {}): Functional {
  return buildSeq2SeqModel(
    {
      ...G2P_SETTINGS,
      units: 12,
      embeddingDim: 8,
      encoderLayers: 2,
      dropout: 0.2,
      embeddingDropout: 0,
      encoderDropout: 0,
      recurrentDropout: 0,
      labelSmoothing: 0,
      attention: 'luong',
      bidirectional: true,
      seed: 5,
      ...extra,
    },
    vocab[0],
    vocab[1],
  );
}

interface Run {
  loss: number[];
  weights: Float32Array[];
}

async function train(threads: number, stopAfter = 0, extra: Partial<Seq2SeqSettings> = {}): Promise<Run> {
  const { data, vocab } = makeData();
  const m = makeModel(vocab, extra);
  let seen = 0;
  const stopper = new LambdaCallback({
    onBatchEnd: () => {
      if (stopAfter > 0 && ++seen === stopAfter) m.stopTraining = true;
    },
  });
  const h = await m.fitDataset(data, { epochs: 2, threads, callbacks: [stopper] });
  const loss = [...(h.history.loss ?? [])];
  if (stopAfter > 0) {
    assert.ok(m.interruptedAt, 'stopped mid-epoch');
    // Through JSON, as a checkpoint keeps it.
    const resumeFrom = JSON.parse(JSON.stringify(m.interruptedAt)) as EpochProgress;
    const h2 = await m.fitDataset(data, { epochs: 2, threads, resumeFrom });
    loss.push(...h2.history.loss);
  }
  return { loss, weights: m.getWeights().map((w) => w.data) };
}

/** Batches the pool trained, counted by wrapping the installed runner: proves threads 2 really ran on the pool. */
let pooledBatches = 0;
const installed = parallelRunner();
if (installed) {
  const counting: ParallelRunner = {
    ...installed,
    supported: (m) => installed.supported(m),
    gradients: (m, batch, seed, threads) => {
      pooledBatches++;
      return installed.gradients(m, batch, seed, threads);
    },
  };
  setParallelRunner(counting);
}
const wasm = kernels().name !== 'reference';

describe('functional models on the worker pool', () => {
  after(() => {
    setParallelRunner(installed);
    return shutdownWorkerPool();
  });

  it('the pool is used for a functional model when the kernels allow it', () => {
    const m = makeModel(makeData().vocab);
    assert.equal(parallelRunner()?.supported(m) ?? false, wasm);
  });

  it('an attention encoder–decoder with dropout and masks: threads 2 agrees with threads 1', async () => {
    const before = pooledBatches;
    const one = await train(1);
    assert.equal(pooledBatches, before, 'threads 1 stays on this thread');
    const two = await train(2);
    assert.equal(pooledBatches - before, wasm ? 10 : 0, 'threads 2 trains every batch on the pool');
    assert.equal(two.loss.length, 2);
    two.loss.forEach((l, e) =>
      assert.ok(Math.abs(l - one.loss[e]) < 1e-5, `epoch ${e}: ${l} vs ${one.loss[e]}`),
    );
    one.weights.forEach((w, i) => {
      const d = maxAbsDiff(w, two.weights[i]);
      assert.ok(d < 1e-5, `weight ${i}: ${d}`);
    });
  });

  it('with embedding, encoder-output and recurrent dropout and label smoothing: threads 2 agrees with threads 1', async () => {
    // The replicas must rebuild every dropout layer and compile with the label smoothing, or the losses part.
    const extra = { embeddingDropout: 0.2, encoderDropout: 0.2, recurrentDropout: 0.2, labelSmoothing: 0.1 };
    const before = pooledBatches;
    const one = await train(1, 0, extra);
    const two = await train(2, 0, extra);
    assert.equal(pooledBatches - before, wasm ? 10 : 0, 'threads 2 trains every batch on the pool');
    const plain = await train(1);
    assert.ok(
      one.weights.some((w, i) => maxAbsDiff(w, plain.weights[i]) > 1e-3),
      'the options change training',
    );
    two.loss.forEach((l, e) =>
      assert.ok(Math.abs(l - one.loss[e]) < 1e-5, `epoch ${e}: ${l} vs ${one.loss[e]}`),
    );
    one.weights.forEach((w, i) => {
      const d = maxAbsDiff(w, two.weights[i]);
      assert.ok(d < 1e-5, `weight ${i}: ${d}`);
    });
  });

  it('threads 2 twice gives bit-identical weights and losses', async () => {
    const a = await train(2);
    const b = await train(2);
    assert.deepEqual(a.loss, b.loss);
    a.weights.forEach((w, i) => assert.deepEqual(w, b.weights[i], `weight ${i}`));
  });

  for (const stopAfter of [2, 7]) {
    it(`threads 2 interrupted after batch ${stopAfter} of 10 resumes exactly (resumeFrom)`, async () => {
      const want = await train(2);
      const got = await train(2, stopAfter);
      assert.deepEqual(got.loss, want.loss, 'epoch losses');
      got.weights.forEach((w, i) => assert.deepEqual(w, want.weights[i], `weight ${i}`));
    });
  }

  it('several outputs, one masked: each loss is normalised over the whole batch (fit on tensors)', async () => {
    // Inputs [N, T] token ids with padding 0 (masked) and a dense side input; outputs: a per-step softmax (masked
    // loss) and a per-sample sigmoid (plain mean).
    const N = 22;
    const T = 5;
    const V = 6;
    const rng = new Random(12);
    const ids = new Int32Array(N * T);
    const next = new Int32Array(N * T);
    for (let r = 0; r < N; r++) {
      const len = 1 + Math.floor(rng.next() * T);
      for (let t = 0; t < len; t++) {
        ids[r * T + t] = 1 + Math.floor(rng.next() * (V - 1));
        next[r * T + t] = (ids[r * T + t] % (V - 1)) + 1;
      }
    }
    const side = new Tensor(
      Float32Array.from({ length: N * 3 }, () => rng.next()),
      [N, 3],
    );
    const score = new Tensor(
      Float32Array.from({ length: N }, (_, i) => (side.data[i * 3] > side.data[i * 3 + 1] ? 1 : 0)),
      [N, 1],
    );
    const run = async (threads: number): Promise<Run & { logs: Record<string, number[]> }> => {
      const tokens = input({ shape: [T], dtype: 'int32', name: 'tokens' });
      const extra = input({ shape: [3], name: 'extra' });
      const e = new L.Embedding({ inputDim: V, outputDim: 4, maskZero: true, name: 'emb' }).apply(
        tokens,
      ) as SymbolicTensor;
      const [seq, h] = new L.GRU({
        units: 6,
        returnSequences: true,
        returnState: true,
        name: 'gru',
      }).applyMany(e);
      const drop = new L.Dropout({ rate: 0.3, name: 'drop' }).apply(seq) as SymbolicTensor;
      const step = new L.Dense({ units: V, activation: 'softmax', name: 'step' }).apply(
        drop,
      ) as SymbolicTensor;
      const joined = new L.Concatenate({ name: 'join' }).apply([h, extra]) as SymbolicTensor;
      const reg = new L.Dense({ units: 1, activation: 'sigmoid', name: 'reg' }).apply(
        joined,
      ) as SymbolicTensor;
      const m = functionalModel({ inputs: [tokens, extra], outputs: [step, reg], seed: 4 });
      m.compile({
        optimizer: 'adam',
        loss: ['sparseCategoricalCrossentropy', 'binaryCrossentropy'],
        metrics: ['accuracy'],
      });
      const h2 = await m.fit(
        [indexTensor(Array.from(ids), [N, T]), side],
        [indexTensor(Array.from(next), [N, T]), score],
        {
          epochs: 2,
          batchSize: 11,
          threads,
        },
      );
      return {
        loss: h2.history.loss,
        logs: h2.history,
        weights: m.getWeights().map((w) => w.data),
      };
    };
    const one = await run(1);
    const two = await run(2);
    for (const k of ['loss', 'step_loss', 'reg_loss', 'step_accuracy', 'reg_accuracy'])
      one.logs[k].forEach((v, e) =>
        assert.ok(Math.abs(v - two.logs[k][e]) < 1e-5, `${k} epoch ${e}: ${v} vs ${two.logs[k][e]}`),
      );
    one.weights.forEach((w, i) => assert.ok(maxAbsDiff(w, two.weights[i]) < 1e-5, `weight ${i}`));
  });
});
