/**
 * Data parallelism on worker threads. Each batch is split into contiguous shards, one per thread (this thread takes
 * the first); every thread runs whole sequences of its shard through its replica of the model — forward, loss,
 * backward — and the main thread then sums the shards' gradients in a fixed order (one reduction per batch) before the
 * optimizer step. Weights are shared, not copied: replicas read the main model's weights in the shared wasm memory.
 * Dropout masks are drawn per sample, so results do not depend on the split; with a fixed seed and thread count
 * they are bit-identical run to run.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { kernels } from '../core/backend.js';
import type { AnyTensor } from '../core/tensor.js';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import { layerToKeras } from '../models/serialization.js';
import { setParallelRunner, type ParallelRunner, type Sequential } from '../models/sequential.js';
import type { PoolReply, PoolRequest, WireTensor } from './pool_protocol.js';

interface PoolWorker {
  worker: Worker;
  pending: { resolve: (r: PoolReply) => void; reject: (e: Error) => void } | null;
  /** Reset messages sent whose acknowledgements have not arrived (they precede any later reply). */
  resets: number;
  /** Model id → byte offsets of this worker's gradient buffers. */
  grads: Map<number, number[]>;
}

const modelIds = new WeakMap<Sequential, number>();
let nextModelId = 1;

function modelId(model: Sequential): number {
  let id = modelIds.get(model);
  if (id === undefined) {
    id = nextModelId++;
    modelIds.set(model, id);
  }
  return id;
}

function toWire(t: AnyTensor): WireTensor {
  return { dtype: t.dtype, data: t.data.slice(), shape: [...t.shape] };
}

export class WorkerPool {
  private readonly workers: PoolWorker[] = [];

  constructor(private readonly k: WasmKernels) {}

  get size(): number {
    return this.workers.length;
  }

  /** Ensures at least n workers. */
  grow(n: number): void {
    while (this.workers.length < n) {
      const worker = new Worker(new URL('./worker.js', import.meta.url), {
        workerData: { module: this.k.module, memory: this.k.memory, variant: this.k.variant },
      });
      const pw: PoolWorker = { worker, pending: null, grads: new Map(), resets: 0 };
      worker.on('message', (r: PoolReply) => {
        if (r.type === 'reset') {
          pw.resets--;
          return;
        }
        const p = pw.pending;
        pw.pending = null;
        if (!p) return;
        if (r.type === 'error') p.reject(new Error(`worker thread failed: ${r.message}`));
        else p.resolve(r);
      });
      worker.on('error', (e) => {
        pw.pending?.reject(e);
        pw.pending = null;
      });
      worker.unref();
      this.workers.push(pw);
    }
  }

  private request(pw: PoolWorker, msg: PoolRequest): Promise<PoolReply> {
    if (pw.pending) throw new Error('worker busy');
    return new Promise((resolve, reject) => {
      pw.worker.ref();
      pw.pending = {
        resolve: (r) => {
          pw.worker.unref();
          resolve(r);
        },
        reject: (e) => {
          pw.worker.unref();
          reject(e);
        },
      };
      pw.worker.postMessage(msg);
    });
  }

  /** Gradients of a batch over this thread and `threads − 1` workers; see ParallelRunner. */
  async gradients(
    model: Sequential,
    x: AnyTensor,
    y: AnyTensor,
    seed: number,
    threads: number,
  ): Promise<{ lossSum: number; accSum: number }> {
    const N = x.shape[0];
    const P = Math.min(threads, N);
    this.grow(P - 1);
    const id = modelId(model);
    const named = model.namedWeights();
    // Shard boundaries: as equal as possible, contiguous.
    const bounds = Array.from({ length: P + 1 }, (_, i) => Math.round((i * N) / P));
    const jobs: Promise<PoolReply>[] = [];
    for (let w = 1; w < P; w++) {
      const pw = this.workers[w - 1];
      if (!pw.grads.has(id)) {
        const ready = await this.request(pw, {
          type: 'model',
          modelId: id,
          layers: model.layers.map(layerToKeras),
          inputShape: model.layers[0].inputShape!,
          loss: model.loss!,
          metrics: model.metrics,
          fromLogits: model.fromLogits,
          weights: named.map(({ weight }) => weight.value.byteOffset),
        });
        if (ready.type !== 'ready') throw new Error('worker did not load the model');
        pw.grads.clear();
        pw.grads.set(id, ready.grads);
      }
      const [a, b] = [bounds[w], bounds[w + 1]];
      jobs.push(
        this.request(pw, {
          type: 'step',
          modelId: id,
          x: toWire(x.sliceRows(a, b)),
          y: toWire(y.sliceRows(a, b)),
          seed,
          rowOffset: a,
          totalRows: N,
        }),
      );
    }
    const k = this.k;
    const mark = k.beginScope();
    let lossSum = 0;
    let accSum = 0;
    try {
      const r0 = model.shardGradients(x.sliceRows(0, bounds[1]), y.sliceRows(0, bounds[1]), seed, 0, N);
      lossSum = r0.lossSum;
      accSum = r0.accSum;
    } finally {
      k.endScope(mark);
    }
    const replies = await Promise.all(jobs);
    const buffer = k.memory.buffer;
    replies.forEach((r, i) => {
      if (r.type !== 'done') throw new Error('unexpected worker reply');
      lossSum += r.lossSum;
      accSum += r.accSum;
      const ptrs = this.workers[i].grads.get(id)!;
      named.forEach(({ weight }, j) =>
        k.addInPlace(
          weight.grad,
          0,
          new Float32Array(buffer, ptrs[j], weight.grad.length),
          0,
          weight.grad.length,
        ),
      );
    });
    return { lossSum, accSum };
  }

  /** Clears the carried states of this model's replicas; the next step waits for it (messages are ordered). */
  resetStates(model: Sequential): void {
    const id = modelIds.get(model);
    if (id === undefined) return;
    for (const pw of this.workers) {
      if (!pw.grads.has(id)) continue;
      pw.worker.postMessage({ type: 'reset', modelId: id } satisfies PoolRequest);
      pw.resets++;
    }
  }

  async terminate(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }
}

let pool: WorkerPool | null = null;

/** The default thread count: the cores this process may use. */
export function defaultThreads(): number {
  return availableParallelism();
}

const runner: ParallelRunner = {
  supported(model: Sequential): boolean {
    const k = kernels();
    if (!(k instanceof WasmKernels)) return false;
    // Stateful models work too: each shard always holds the same rows, so each replica carries its rows' state.
    return model
      .namedWeights()
      .every(({ weight }) => k.isResident(weight.value) && k.isResident(weight.grad));
  },
  resetStates(model) {
    pool?.resetStates(model);
  },
  gradients(model, x, y, seed, threads) {
    const k = kernels() as WasmKernels;
    pool ??= new WorkerPool(k);
    return pool.gradients(model, x, y, seed, threads);
  },
};

/** Enables worker threads for `fit({threads})` (done when recur/node is imported). */
export function installWorkerPool(): void {
  setParallelRunner(runner);
}

/** Stops the pool's threads (they also stop with the process). */
export async function shutdownWorkerPool(): Promise<void> {
  await pool?.terminate();
  pool = null;
}
