/**
 * The worker pool on Node worker threads (see src/parallel/pool.ts for how batches are split and reduced). Installed
 * when `recur/node` is imported.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { setMinSplitWork, setParallelRunner } from '../models/pool_model.js';
import { createParallelRunner, type ThreadPort } from '../parallel/pool.js';
import type { PoolReply } from '../parallel/protocol.js';

export { WorkerPool } from '../parallel/pool.js';

function spawnThread(): ThreadPort {
  const worker = new Worker(new URL('./worker.js', import.meta.url));
  return {
    postMessage: (msg) => worker.postMessage(msg),
    onMessage: (fn) => worker.on('message', (r: PoolReply) => fn(r)),
    onError: (fn) => worker.on('error', fn),
    hold: (busy) => (busy ? worker.ref() : worker.unref()),
    terminate: () => worker.terminate(),
  };
}

const { runner, shutdown } = createParallelRunner(spawnThread);

/** The default thread count: the cores this process may use. */
export function defaultThreads(): number {
  return availableParallelism();
}

/**
 * Enables worker threads for `fit({threads})` (done when recur/node is imported), with the least work to split a
 * batch from RECUR_MIN_SPLIT_WORK when set (see setMinSplitWork; the test suite sets 0).
 */
export function installWorkerPool(): void {
  setParallelRunner(runner);
  const work = process.env.RECUR_MIN_SPLIT_WORK;
  if (work !== undefined && work !== '') {
    const n = Number(work);
    if (!(n >= 0))
      throw new Error(`RECUR_MIN_SPLIT_WORK must be a number ≥ 0 (0 splits every batch), got '${work}'`);
    setMinSplitWork(n);
  }
}

/** Stops the pool's threads (they also stop with the process). */
export async function shutdownWorkerPool(): Promise<void> {
  await shutdown();
}
