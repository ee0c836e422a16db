/**
 * The global network's members trained on worker threads. Each member is an independent single-threaded fit, so the
 * members of the backtest and the final model can train side by side, `threads` at a time, and every one comes back
 * bit-identical to the same member trained in the calling thread (test/forecast_global_pool.test.ts): the thread
 * count changes the wall time of a panel run, never its forecasts.
 */
import { Worker } from 'node:worker_threads';
import { globalMemberModel, type GlobalMemberJob, type GlobalMemberTrainer } from '../forecast/global.js';
import { Tensor } from '../core/tensor.js';
import type { GlobalWorkerMessage } from './global_worker.js';

interface Pending {
  job: GlobalMemberJob;
  onEpoch: (epoch: number, loss: number) => void;
  resolve: (weights: Float32Array[]) => void;
  reject: (e: Error) => void;
}

export interface GlobalMemberPool {
  /** Trains a member on the first free worker (a new one while fewer than `threads` run). */
  train: GlobalMemberTrainer;
  /** Ends the workers; members not finished reject. */
  close(): Promise<void>;
}

export function globalMemberPool(threads: number, signal?: AbortSignal): GlobalMemberPool {
  if (!(Number.isInteger(threads) && threads >= 1))
    throw new Error(`globalMemberPool: threads must be an integer ≥ 1, got ${threads}`);
  const queue: Pending[] = [];
  const idle: Worker[] = [];
  const busy = new Map<Worker, Pending>();
  let closed = false;

  const fail = (p: Pending, why: string): void => p.reject(new Error(why));
  // The members of a model train on the same windows: each array is in shared memory (GlobalForecaster.fit puts it
  // there, or it is copied there once) and every worker reads it (posting a plain array would clone it per member:
  // ≈ 40 MB each on the M3 panel).
  const sharedCopies = new WeakMap<Float32Array, Float32Array>();
  const shared = (a: Float32Array): Float32Array => {
    if (a.buffer instanceof SharedArrayBuffer) return a;
    let c = sharedCopies.get(a);
    if (!c) {
      c = new Float32Array(new SharedArrayBuffer(a.byteLength));
      c.set(a);
      sharedCopies.set(a, c);
    }
    return c;
  };
  const dispatch = (): void => {
    while (!closed && queue.length > 0) {
      let w = idle.pop();
      if (!w && busy.size < threads) w = spawn();
      if (!w) return;
      const p = queue.shift()!;
      busy.set(w, p);
      w.postMessage(p.job);
    }
  };
  const spawn = (): Worker => {
    const w = new Worker(new URL('./global_worker.js', import.meta.url));
    w.on('message', (m: GlobalWorkerMessage) => {
      const p = busy.get(w);
      if (!p) return;
      if (m.kind === 'epoch') return p.onEpoch(m.epoch, m.loss);
      busy.delete(w);
      idle.push(w);
      if (m.kind === 'done') p.resolve(m.weights);
      else fail(p, m.message);
      dispatch();
    });
    // A worker that dies fails its member only; the next member gets a fresh worker.
    const died = (why: string): void => {
      const p = busy.get(w);
      busy.delete(w);
      const at = idle.indexOf(w);
      if (at >= 0) idle.splice(at, 1);
      if (p) fail(p, `the global network's worker stopped: ${why}`);
      dispatch();
    };
    w.on('error', (e) => died(e.message));
    w.on('exit', (code) => died(`exit code ${code}`));
    return w;
  };
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    signal?.removeEventListener('abort', onAbort);
    for (const p of queue.splice(0)) fail(p, 'stopped');
    const all = [...idle.splice(0), ...busy.keys()];
    for (const [, p] of busy) fail(p, 'stopped');
    busy.clear();
    await Promise.all(all.map((w) => w.terminate()));
  };
  const onAbort = (): void => void close();
  signal?.addEventListener('abort', onAbort);

  const train: GlobalMemberTrainer = async (job, onEpoch) => {
    if (closed) throw new Error('stopped');
    const weights = await new Promise<Float32Array[]>((resolve, reject) => {
      queue.push({ job: { ...job, x: shared(job.x), y: shared(job.y) }, onEpoch, resolve, reject });
      dispatch();
    });
    const model = globalMemberModel(job.options, job.seed, true);
    model.build();
    const shapes = model.getWeights().map((w) => w.shape);
    model.setWeights(weights.map((w, i) => new Tensor(w, shapes[i] ?? [w.length])));
    return model;
  };
  return { train, close };
}
