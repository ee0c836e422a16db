/**
 * recur/web's worker pools when their worker script does not load (not found, or importing a package the browser
 * cannot resolve without a bundler): the browser fires a plain Event, without an ErrorEvent's message, and the error
 * says which script did not load rather than "web worker: undefined"; the failed worker leaves the pool, so the next
 * fit fails the same way rather than wait on it forever. Node has no Web Workers: stand-ins fail as Chromium's do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kernels, setKernels } from '../src/core/backend.js';
import type { Kernels } from '../src/core/kernels.js';
import { createWasmKernels } from '../src/core/wasm/load.js';
import { indexTensor, layers, RMSprop, Sequential } from '../src/index.js';
import { getMinSplitWork, setMinSplitWork } from '../src/models/pool_model.js';
import { START_ATTEMPTS } from '../src/inference/pool.js';
import type { ModelPayload } from '../src/inference/protocol.js';
import { createWebInferencePool } from '../src/web/inference_pool.js';
import { installWebWorkerPool, shutdownWebWorkerPool } from '../src/web/pool.js';

/** A Web Worker whose module script did not load: its first request for work gets a plain 'error' Event. */
class UnloadedWorker extends EventTarget {
  postMessage(msg: { type: string }): void {
    if (msg.type !== 'init') setTimeout(() => this.dispatchEvent(new Event('error')));
  }
  terminate(): void {}
}

/** As Chromium fails a module worker whose script did not load: one 'error' Event soon after it starts, then silence. */
class FailedOnceWorker extends EventTarget {
  constructor() {
    super();
    setTimeout(() => this.dispatchEvent(new Event('error')), 20);
  }
  postMessage(): void {}
  terminate(): void {}
}

describe('recur/web worker pools whose worker script does not load', () => {
  const g = globalThis as { Worker?: unknown; crossOriginIsolated?: boolean };
  let saved: { worker: unknown; isolated: boolean | undefined; kernels: Kernels };
  before(() => {
    saved = { worker: g.Worker, isolated: g.crossOriginIsolated, kernels: kernels() };
    g.Worker = UnloadedWorker;
    g.crossOriginIsolated = true;
    // installWebWorkerPool needs the wasm kernels (a page's without isolation are the reference ones).
    setKernels(createWasmKernels()!);
  });
  after(() => {
    g.Worker = saved.worker;
    g.crossOriginIsolated = saved.isolated;
    setKernels(saved.kernels);
  });
  const unloaded =
    /^web worker https:\/\/example\.test\/\S+\.js did not load: the script, or a module it imports, could not be fetched or resolved/;

  /**
   * Installs the Web Worker pool on `worker` stand-ins and asserts that each of `fits` fits of a small LSTM on two
   * threads (every batch split) fails naming the script that did not load.
   */
  const fitsFail = async (worker: typeof EventTarget, fits: number): Promise<void> => {
    g.Worker = worker;
    assert.equal(installWebWorkerPool('https://example.test/worker.js'), true);
    const splitWork = getMinSplitWork();
    setMinSplitWork(0);
    try {
      const model = new Sequential({
        seed: 1,
        layers: [
          new layers.LSTM({ units: 4, inputShape: [3, 5] }),
          new layers.Dense({ units: 5, activation: 'softmax' }),
        ],
      });
      model.compile({ optimizer: new RMSprop(), loss: 'sparseCategoricalCrossentropy' });
      const x = indexTensor(
        Int32Array.from({ length: 8 * 3 }, (_, i) => i % 5),
        [8, 3],
      );
      const y = indexTensor(
        Int32Array.from({ length: 8 }, (_, i) => i % 5),
        [8],
      );
      for (let fit = 1; fit <= fits; fit++)
        await assert.rejects(model.fit(x, y, { epochs: 1, batchSize: 8, threads: 2 }), (e: Error) => {
          assert.match(e.message, unloaded, `fit ${fit}`);
          return true;
        });
    } finally {
      g.Worker = UnloadedWorker;
      setMinSplitWork(splitWork);
      await shutdownWebWorkerPool();
    }
  };

  it('training: fit({threads: 2}) names the script that did not load', () => fitsFail(UnloadedWorker, 1));

  it('training: a fit after a worker failed fails the same way, not waiting on the failed worker forever', () =>
    fitsFail(FailedOnceWorker, 2));

  it('inference: a load names the script that did not load', async () => {
    const pool = createWebInferencePool(1, 'https://example.test/inference_worker.js');
    try {
      const payload: ModelPayload = { kind: 'text', file: 'm/model.json', json: '{}', weights: [] };
      await assert.rejects(pool.load(payload), (e: Error) => {
        assert.match(
          e.message,
          /^inference worker 1 stopped \(web worker https:\/\/example\.test\/inference_worker\.js did not load: /,
        );
        return true;
      });
    } finally {
      await pool.terminate();
    }
  });

  it(`inference: a pool starts at most ${START_ATTEMPTS} workers a place, not a new one whenever one fails`, async () => {
    let started = 0;
    g.Worker = class extends FailedOnceWorker {
      constructor() {
        super();
        started++;
      }
    };
    const pool = createWebInferencePool(2, 'https://example.test/inference_worker.js');
    try {
      const payload: ModelPayload = { kind: 'text', file: 'm/model.json', json: '{}', weights: [] };
      // Each load fails as the workers die; once they are given up, with why they could not start.
      let loads = 0;
      for (let couldNotStart = false; !couldNotStart;) {
        assert.ok(++loads <= 2 * START_ATTEMPTS, `load ${loads} still met a new worker (${started} started)`);
        await assert.rejects(pool.load(payload), (e: Error) => {
          couldNotStart =
            /^inference worker 1 could not start: web worker https:\/\/example\.test\/inference_worker\.js did not load: /.test(
              e.message,
            );
          return true;
        });
      }
      assert.ok(started <= 2 * START_ATTEMPTS, `${started} workers started`);
    } finally {
      g.Worker = UnloadedWorker;
      await pool.terminate();
    }
  });
});
