/** Data-parallel training on worker threads: same results as one thread, bit-identical run to run. */
import '../src/node/index.js';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { indexTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import { Sequential } from '../src/models/sequential.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { maxAbsDiff, randomIndices } from './helpers.js';

const T = 6;
const V = 7;

async function train(threads: number): Promise<{ weights: Float32Array[]; loss: number[] }> {
  const x = randomIndices([96, T], V, new Random(1));
  const y = indexTensor(Array.from({ length: 96 }, (_, i) => x.data[i * T + 1]));
  const model = new Sequential({
    seed: 5,
    layers: [
      new L.LSTM({
        units: 16,
        returnSequences: true,
        inputShape: [T, V],
        dropout: 0.1,
        recurrentDropout: 0.1,
      }),
      new L.GRU({ units: 8 }),
      new L.Dropout({ rate: 0.2 }),
      new L.Dense({ units: V, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const h = await model.fit(x, y, { epochs: 2, batchSize: 32, threads });
  return { weights: model.getWeights().map((w) => w.data), loss: h.history.loss };
}

describe('worker threads', () => {
  after(() => shutdownWorkerPool());

  it('2 and 3 threads agree with 1 thread within float tolerance (dropout included)', async () => {
    const one = await train(1);
    for (const threads of [2, 3]) {
      const many = await train(threads);
      one.weights.forEach((w, i) =>
        assert.ok(
          maxAbsDiff(w, many.weights[i]) < 1e-4,
          `threads ${threads}, weight ${i}: ${maxAbsDiff(w, many.weights[i])}`,
        ),
      );
      assert.ok(Math.abs(one.loss[1] - many.loss[1]) < 1e-5);
    }
  });

  it('a fixed seed and thread count gives bit-identical weights', async () => {
    const a = await train(2);
    const b = await train(2);
    a.weights.forEach((w, i) => assert.deepEqual(w, b.weights[i]));
  });

  it('stateful models: each thread carries its rows; resetStates reaches the replicas', async () => {
    const run = async (threads: number): Promise<Float32Array[]> => {
      const x = randomIndices([8, T], V, new Random(4));
      const y = randomIndices([8, T], V, new Random(5));
      const model = new Sequential({
        seed: 9,
        layers: [
          new L.LSTM({ units: 12, stateful: true, returnSequences: true, batchInputShape: [8, T, V] }),
          new L.Dense({ units: V, activation: 'softmax' }),
        ],
      });
      model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      model.threads = threads;
      const data = {
        batchesPerEpoch: 3,
        *batches() {
          model.resetStates();
          for (let i = 0; i < 3; i++) yield { xs: x, ys: y };
        },
      };
      await model.fitDataset(data, { epochs: 2 });
      return model.getWeights().map((w) => w.data);
    };
    const one = await run(1);
    const two = await run(2);
    one.forEach((w, i) => assert.ok(maxAbsDiff(w, two[i]) < 1e-4, `weight ${i}: ${maxAbsDiff(w, two[i])}`));
  });

  it('rejects a bad thread count', async () => {
    const model = new Sequential({ layers: [new L.Dense({ units: 2, inputShape: [2] })] });
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    await assert.rejects(
      model.fit(indexTensor([[0, 1]]), indexTensor([[0, 1]]), { threads: 0 }),
      /threads must be a positive integer/,
    );
  });
});
