/**
 * Data parallelism on workers, for any worker API (Node worker threads, browser Web Workers). Each batch is split
 * into contiguous shards, one per thread (this thread takes the first); every thread runs whole sequences of its
 * shard through its replica of the model — forward, loss, backward — and the main thread then sums the shards'
 * gradients in a fixed order (one reduction per batch) before the optimizer step. Weights are shared, not copied:
 * replicas read the main model's weights in the shared wasm memory. Dropout masks are drawn per sample, so results do
 * not depend on the split; with a fixed seed and thread count they are bit-identical run to run.
 */
import { kernels } from '../core/backend.js';
import type { AnyTensor } from '../core/tensor.js';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import { layerToKeras } from '../models/serialization.js';
import type { ParallelRunner, Sequential } from '../models/sequential.js';
import type { PoolReply, PoolRequest, WireTensor } from './protocol.js';

/** One worker as the pool sees it; src/node/pool.ts and src/web/pool.ts adapt their worker APIs to this. */
export interface ThreadPort {
  postMessage(msg: PoolRequest): void;
  onMessage(handler: (reply: PoolReply) => void): void;
  onError(handler: (e: Error) => void): void;
  /** Whether the worker should keep the process alive (Node: ref/unref while a request is pending). */
  hold(busy: boolean): void;
  terminate(): Promise<unknown>;
}

interface PoolWorker {
  port: ThreadPort;
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

  constructor(
    private readonly k: WasmKernels,
    private readonly spawn: () => ThreadPort,
  ) {}

  get size(): number {
    return this.workers.length;
  }

  /** Ensures at least n workers. */
  grow(n: number): void {
    while (this.workers.length < n) {
      const port = this.spawn();
      const pw: PoolWorker = { port, pending: null, grads: new Map(), resets: 0 };
      port.onMessage((r) => {
        // Acknowledgements of resets come before the reply to any request sent after them.
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
      port.onError((e) => {
        pw.pending?.reject(e);
        pw.pending = null;
      });
      port.hold(false);
      port.postMessage({
        type: 'init',
        module: this.k.module,
        memory: this.k.memory,
        variant: this.k.variant,
      });
      this.workers.push(pw);
    }
  }

  private request(pw: PoolWorker, msg: PoolRequest): Promise<PoolReply> {
    if (pw.pending) throw new Error('worker busy');
    return new Promise((resolve, reject) => {
      pw.port.hold(true);
      pw.pending = {
        resolve: (r) => {
          pw.port.hold(false);
          resolve(r);
        },
        reject: (e) => {
          pw.port.hold(false);
          reject(e);
        },
      };
      pw.port.postMessage(msg);
    });
  }

  /** Sends the model to a worker unless it already holds a replica of it. */
  private async ensureReplica(pw: PoolWorker, model: Sequential, id: number): Promise<void> {
    if (pw.grads.has(id)) return;
    const ready = await this.request(pw, {
      type: 'model',
      modelId: id,
      layers: model.layers.map(layerToKeras),
      inputShape: model.layers[0].inputShape!,
      loss: model.loss!,
      metrics: model.metrics,
      fromLogits: model.fromLogits,
      weights: model.namedWeights().map(({ weight }) => weight.value.byteOffset),
    });
    if (ready.type !== 'ready') throw new Error('worker did not load the model');
    pw.grads.clear();
    pw.grads.set(id, ready.grads);
  }

  /**
   * Runs a batch over this thread and `threads − 1` workers: `request(a, b)` is sent to each worker for its rows
   * [a, b), and `own(b)` computes this thread's rows [0, b) in an allocation scope. Resolves to the workers' replies.
   */
  private async sharded(
    model: Sequential,
    rows: number,
    threads: number,
    request: (id: number, a: number, b: number) => PoolRequest,
    own: (b: number) => void,
  ): Promise<{ lossSum: number; accSum: number }[]> {
    const P = Math.min(threads, rows);
    this.grow(P - 1);
    const id = modelId(model);
    // Shard boundaries: as equal as possible, contiguous.
    const bounds = Array.from({ length: P + 1 }, (_, i) => Math.round((i * rows) / P));
    const jobs: Promise<PoolReply>[] = [];
    for (let w = 1; w < P; w++) {
      const pw = this.workers[w - 1];
      await this.ensureReplica(pw, model, id);
      jobs.push(this.request(pw, request(id, bounds[w], bounds[w + 1])));
    }
    const mark = this.k.beginScope();
    try {
      own(bounds[1]);
    } finally {
      this.k.endScope(mark);
    }
    const replies = await Promise.all(jobs);
    return replies.map((r) => {
      if (r.type !== 'done') throw new Error('unexpected worker reply');
      return r;
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
    const named = model.namedWeights();
    let lossSum = 0;
    let accSum = 0;
    const replies = await this.sharded(
      model,
      N,
      threads,
      (modelId, a, b) => ({
        type: 'step',
        modelId,
        x: toWire(x.sliceRows(a, b)),
        y: toWire(y.sliceRows(a, b)),
        seed,
        rowOffset: a,
        totalRows: N,
      }),
      (b) => {
        const r0 = model.shardGradients(x.sliceRows(0, b), y.sliceRows(0, b), seed, 0, N);
        lossSum = r0.lossSum;
        accSum = r0.accSum;
      },
    );
    const k = this.k;
    const buffer = k.memory.buffer;
    const id = modelId(model);
    replies.forEach((r, i) => {
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

  /** Summed loss and accuracy of a batch in inference mode over this thread and `threads − 1` workers. */
  async losses(
    model: Sequential,
    x: AnyTensor,
    y: AnyTensor,
    threads: number,
  ): Promise<{ lossSum: number; accSum: number }> {
    let lossSum = 0;
    let accSum = 0;
    const replies = await this.sharded(
      model,
      x.shape[0],
      threads,
      (modelId, a, b) => ({
        type: 'evaluate',
        modelId,
        x: toWire(x.sliceRows(a, b)),
        y: toWire(y.sliceRows(a, b)),
      }),
      (b) => {
        const r0 = model.shardLosses(x.sliceRows(0, b), y.sliceRows(0, b));
        lossSum = r0.lossSum;
        accSum = r0.accSum;
      },
    );
    for (const r of replies) {
      lossSum += r.lossSum;
      accSum += r.accSum;
    }
    return { lossSum, accSum };
  }

  /** Clears the carried states of this model's replicas; the next step waits for it (messages are ordered). */
  resetStates(model: Sequential): void {
    const id = modelIds.get(model);
    if (id === undefined) return;
    for (const pw of this.workers) {
      if (!pw.grads.has(id)) continue;
      pw.port.postMessage({ type: 'reset', modelId: id });
      pw.resets++;
    }
  }

  async terminate(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.port.terminate()));
    this.workers.length = 0;
  }
}

/** A ParallelRunner over a lazily created pool of `spawn()`ed workers, and a way to stop them. */
export function createParallelRunner(spawn: () => ThreadPort): {
  runner: ParallelRunner;
  shutdown: () => Promise<void>;
} {
  let pool: WorkerPool | null = null;
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
      pool ??= new WorkerPool(kernels() as WasmKernels, spawn);
      return pool.gradients(model, x, y, seed, threads);
    },
    losses(model, x, y, threads) {
      pool ??= new WorkerPool(kernels() as WasmKernels, spawn);
      return pool.losses(model, x, y, threads);
    },
  };
  return {
    runner,
    async shutdown() {
      await pool?.terminate();
      pool = null;
    },
  };
}
