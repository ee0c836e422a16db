/**
 * The script of test/browser/page.html, bundled by check.ts the way a user's bundler would take `recur` and
 * `recur/web`: trains the same small LSTM with 1 and 2 threads (the second on the Web Worker pool) and publishes the
 * results as `window.result`.
 */
import { Sequential, layers, indexTensor, Random, kernels, RMSprop } from '../../src/index.js';
import { installWebWorkerPool, shutdownWebWorkerPool } from '../../src/web/index.js';
import { setMinSplitWork } from '../../src/models/pool_model.js';

export interface Run {
  loss: number[];
  weights: number[][];
  ms: number;
}

export interface PageResult {
  error?: string;
  crossOriginIsolated: boolean;
  kernels: string;
  installed: boolean;
  cores: number;
  one: Run;
  two: Run;
}

async function train(threads: number): Promise<Run> {
  const rng = new Random(1);
  const [N, T, V] = [64, 12, 11];
  const x = Int32Array.from({ length: N * T }, () => rng.int(V));
  const y = Int32Array.from({ length: N }, (_, n) => x[n * T + 3]);
  const model = new Sequential({
    seed: 3,
    layers: [
      new layers.LSTM({ units: 16, inputShape: [T, V], dropout: 0.1 }),
      new layers.Dense({ units: V, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: new RMSprop({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
  const t0 = performance.now();
  const h = await model.fit(indexTensor(x, [N, T]), indexTensor(y, [N]), {
    epochs: 3,
    batchSize: 32,
    threads,
  });
  return {
    loss: h.history.loss,
    weights: model.getWeights().map((w) => Array.from(w.data)),
    ms: performance.now() - t0,
  };
}

const page = window as unknown as { result?: PageResult | { error: string } };
try {
  // The pool's worker is the page build's bundle (dist/web), as an application would ship its own.
  const installed = installWebWorkerPool('/dist/web/pool-worker.js');
  // This model's batches are far below the work worth splitting on their own; split every one, to test the pool.
  setMinSplitWork(0);
  const one = await train(1);
  const two = await train(2);
  await shutdownWebWorkerPool();
  page.result = {
    crossOriginIsolated: self.crossOriginIsolated,
    kernels: kernels().name,
    installed,
    cores: navigator.hardwareConcurrency,
    one,
    two,
  };
} catch (e) {
  page.result = { error: String(e instanceof Error && e.stack ? e.stack : e) };
}
