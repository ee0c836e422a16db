/**
 * Data parallelism on workers, for any worker API (Node worker threads, browser Web Workers). Each batch is split
 * into contiguous shards, one per thread (this thread takes the first); every thread runs whole sequences of its
 * shard through its replica of the model — forward, loss, backward — and the main thread then sums the shards'
 * gradients in a fixed order (one reduction per batch) before the optimizer step. Weights are shared, not copied:
 * replicas read the main model's weights in the shared wasm memory. Dropout masks are drawn per sample, so results do
 * not depend on the split; with a fixed seed and thread count they are bit-identical run to run.
 */
import { kernels } from '../core/backend.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import { layerToKeras } from '../models/serialization.js';
import type { CarriedStates, ParallelRunner, Sequential } from '../models/sequential.js';
import { floatFromWire, toWire, type PoolReply, type PoolRequest } from './protocol.js';

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

/** Shard boundaries of `rows` over P threads: as equal as possible, contiguous; thread w takes [b[w], b[w + 1]). */
function shardBounds(rows: number, P: number): number[] {
  return Array.from({ length: P + 1 }, (_, i) => Math.round((i * rows) / P));
}

/** One layer's carried states from every shard (in shard order) joined row by row; null when no shard has any. */
function joinShards(layer: string, parts: (Tensor[] | null)[]): Tensor[] | null {
  if (parts.every((p) => p === null)) return null;
  const first = parts.find((p) => p !== null)!;
  if (parts.some((p) => p === null || p.length !== first.length))
    throw new Error(`layer '${layer}': the threads' carried states disagree (some shards carry none)`);
  return first.map((_, j) => {
    const pieces = parts.map((p) => p![j]);
    const rows = pieces.reduce((n, t) => n + t.shape[0], 0);
    const data = new Float32Array(rows * first[j].shape[1]);
    let off = 0;
    for (const t of pieces) {
      data.set(t.data, off);
      off += t.data.length;
    }
    return new Tensor(data, [rows, first[j].shape[1]]);
  });
}

export class WorkerPool {
  private readonly workers: PoolWorker[] = [];
  /**
   * Model id → shard boundaries of its last batch since its states were cleared: where each stream's carried state
   * lives (this thread's layers hold rows [b[0], b[1]), worker w − 1 rows [b[w], b[w + 1])).
   */
  private readonly shards = new Map<number, number[]>();

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
    const bounds = shardBounds(rows, P);
    this.shards.set(id, bounds);
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
    this.shards.delete(id);
    for (const pw of this.workers) {
      if (!pw.grads.has(id)) continue;
      pw.port.postMessage({ type: 'reset', modelId: id });
      pw.resets++;
    }
  }

  /** The model's carried states, this thread's shard and the replicas' joined row by row; see ParallelRunner. */
  async getStates(model: Sequential): Promise<CarriedStates | null> {
    const id = modelIds.get(model);
    const bounds = id === undefined ? undefined : this.shards.get(id);
    if (id === undefined || bounds === undefined) return null;
    const own: CarriedStates = model.layers.map((l) => l.getStates());
    const replies = await Promise.all(
      this.workers
        .slice(0, bounds.length - 2)
        .map((pw) => this.request(pw, { type: 'getStates', modelId: id })),
    );
    const shards = [
      own,
      ...replies.map((r) => {
        if (r.type !== 'states') throw new Error('unexpected worker reply');
        return r.layers.map((l) => l?.map(floatFromWire) ?? null);
      }),
    ];
    return model.layers.map((l, i) =>
      joinShards(
        l.name,
        shards.map((s) => s[i]),
      ),
    );
  }

  /** Spreads carried states over this thread and the replicas as the next batch will be sharded; see ParallelRunner. */
  async setStates(model: Sequential, states: CarriedStates, threads: number): Promise<void> {
    const rows = states.find((l) => l !== null && l.length > 0)?.[0].shape[0];
    this.resetStates(model);
    if (rows === undefined) {
      for (const l of model.layers) l.resetStates();
      return;
    }
    const P = Math.min(threads, rows);
    this.grow(P - 1);
    const id = modelId(model);
    const bounds = shardBounds(rows, P);
    const rowsOf = (a: number, b: number): CarriedStates =>
      states.map((l) => l?.map((t) => t.sliceRows(a, b)) ?? null);
    const own = rowsOf(0, bounds[1]);
    model.layers.forEach((l, i) => l.resetStates(own[i] ?? undefined));
    for (let w = 1; w < P; w++) {
      const pw = this.workers[w - 1];
      await this.ensureReplica(pw, model, id);
      const r = await this.request(pw, {
        type: 'setStates',
        modelId: id,
        layers: rowsOf(bounds[w], bounds[w + 1]).map((l) => l?.map(toWire) ?? null),
      });
      if (r.type !== 'statesSet') throw new Error('unexpected worker reply');
    }
    this.shards.set(id, bounds);
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
    getStates(model) {
      return pool ? pool.getStates(model) : Promise.resolve(null);
    },
    setStates(model, states, threads) {
      pool ??= new WorkerPool(kernels() as WasmKernels, spawn);
      return pool.setStates(model, states, threads);
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
