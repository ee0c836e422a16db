/**
 * Data parallelism on workers, for any worker API (Node worker threads, browser Web Workers) and any PoolModel
 * (Sequential, Functional: the pool never asks which). Each batch — every input and target — is split by rows into
 * contiguous shards, one per thread (this thread takes the first); every thread runs whole sequences of its shard
 * through its replica of the model in two phases: forward (each shard reports its loss positions per output), then,
 * given the whole batch's positions, loss and backward with every loss normalised over the whole batch (a masked
 * token mean is the batch's, not the shard's); when the model knows every shard's positions up front
 * (PoolModel.shardCounts), both phases go to a worker in one request. The main thread then sums the shards' gradients
 * in a fixed order (one reduction per batch) before the optimizer step. Whether a batch is split at all is the
 * model's call (usePool in src/models/pool_model.ts: batches too small to pay for it run on the main thread alone). Weights are shared, not copied: replicas read the main model's
 * weights in the shared wasm memory. Dropout masks are drawn per sample, so results do not depend on the split; with
 * a fixed seed and thread count they are bit-identical run to run.
 */
import { kernels } from '../core/backend.js';
import { Tensor } from '../core/tensor.js';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import type { Logs } from '../models/callbacks.js';
import {
  addLogs,
  type CarriedStates,
  type ParallelRunner,
  type PoolModel,
  type ShardBatch,
} from '../models/pool_model.js';
import { floatFromWire, toWire, type PoolReply, type PoolRequest } from './protocol.js';

/**
 * Where the main thread's time goes in pooled batches, in milliseconds summed over batches: for benchmarks
 * (bench/pool_small_batches.ts). Off (null) unless set with setPoolTimings; then every batch adds to it.
 */
export interface PoolTimings {
  batches: number;
  /** Slicing the batch into shards and posting the forward requests. */
  split: number;
  /** This thread's own shard: forward pass. */
  ownForward: number;
  /** Waiting for the workers' forward passes after finishing its own (two-phase batches only). */
  forwardWait: number;
  /** This thread's own shard: loss and backward. */
  ownFinish: number;
  /** Waiting for the workers' backward passes (whole shards, in one-request batches) after finishing its own. */
  finishWait: number;
  /** Summing the workers' gradients into the model's. */
  reduce: number;
  /** The first worker's time on its shard (both phases), as it measured it: the rest of the waits is messaging. */
  workerBusy: number;
}

let timings: PoolTimings | null = null;

/** Starts (a fresh PoolTimings, returned) or stops (null) timing the pool's phases. */
export function setPoolTimings(on: boolean): PoolTimings | null {
  timings = on
    ? {
        batches: 0,
        split: 0,
        ownForward: 0,
        forwardWait: 0,
        ownFinish: 0,
        finishWait: 0,
        reduce: 0,
        workerBusy: 0,
      }
    : null;
  return timings;
}

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

const modelIds = new WeakMap<PoolModel, number>();
let nextModelId = 1;

function modelId(model: PoolModel): number {
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

/** Per-output counts of every shard summed in shard order. */
function sumCounts(counts: readonly number[][]): number[] {
  const totals = [...counts[0]];
  for (const c of counts.slice(1)) {
    if (c.length !== totals.length) throw new Error('shards disagree on the number of outputs');
    c.forEach((n, k) => (totals[k] += n));
  }
  return totals;
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
        // A failed worker (its script did not load, or it threw) answers nothing more: it leaves the pool, so that the
        // next batch starts a new one rather than wait on it forever. Its shard of carried states is gone with it.
        const i = this.workers.indexOf(pw);
        if (i < 0) return;
        this.workers.splice(i, 1);
        this.shards.clear();
        void port.terminate();
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
  private async ensureReplica(pw: PoolWorker, model: PoolModel, id: number): Promise<void> {
    if (pw.grads.has(id)) return;
    const ready = await this.request(pw, {
      type: 'model',
      modelId: id,
      replica: model.replicaDescription(),
      weights: model.namedWeights().map(({ weight }) => weight.value.byteOffset),
    });
    if (ready.type !== 'ready') throw new Error('worker did not load the model');
    pw.grads.clear();
    pw.grads.set(id, ready.grads);
  }

  /**
   * Runs a batch over this thread and `threads − 1` workers, each on its rows, in the two phases of PoolModel: all
   * shards' forward passes, the batch's loss positions summed in shard order, then all shards' losses (and backward
   * when training) — both phases in one request per worker when the model knows the positions up front. Resolves to the batch's logs (the shards' shares summed in shard order); when training, each
   * worker's gradients are left in its gradient buffers.
   */
  private async sharded(
    model: PoolModel,
    batch: ShardBatch,
    threads: number,
    training: boolean,
    seed: number,
  ): Promise<{ logs: Logs; workers: PoolWorker[] }> {
    const t = timings;
    let t0 = t ? performance.now() : 0;
    const lap = (phase: Exclude<keyof PoolTimings, 'batches'>): void => {
      if (!t) return;
      const t1 = performance.now();
      t[phase] += t1 - t0;
      t0 = t1;
    };
    const rows = batch.xs[0].shape[0];
    const P = Math.min(threads, rows);
    this.grow(P - 1);
    const id = modelId(model);
    const bounds = shardBounds(rows, P);
    this.shards.set(id, bounds);
    const workers = this.workers.slice(0, P - 1);
    for (const pw of workers) await this.ensureReplica(pw, model, id);
    const rowsOf = (a: number, b: number): ShardBatch => ({
      xs: batch.xs.map((t) => t.sliceRows(a, b)),
      ys: batch.ys.map((t) => t.sliceRows(a, b)),
    });
    const parts = Array.from({ length: P }, (_, w) => rowsOf(bounds[w], bounds[w + 1]));
    // When every shard's loss positions are known before its forward pass (e.g. its rows), each worker runs its whole
    // shard — forward, loss, backward — in one request: one message round trip and one join per batch, not two. The
    // totals are the same numbers the two phases would sum, so the results are bit-identical either way.
    const known = parts.map((p) => model.shardCounts(p));
    const upFront = known.every((c) => c !== null) ? sumCounts(known as number[][]) : null;
    const requests = workers.map((pw, i) => {
      const part = parts[i + 1];
      const shard = {
        modelId: id,
        xs: part.xs.map(toWire),
        ys: part.ys.map(toWire),
        training,
        seed,
        rowOffset: bounds[i + 1],
      };
      return this.request(
        pw,
        upFront ? { type: 'step', ...shard, totals: upFront } : { type: 'forward', ...shard },
      );
    });
    const mark = this.k.beginScope();
    try {
      lap('split');
      const own = model.shardForward(parts[0], { training, seed, rowOffset: 0 });
      lap('ownForward');
      let totals: number[];
      let finishes: Promise<PoolReply>[];
      if (upFront) {
        if (own.length !== upFront.length || own.some((c, k) => c !== known[0]![k]))
          throw new Error(`model '${model.name}': shardCounts disagrees with shardForward`);
        totals = upFront;
        finishes = requests;
      } else {
        totals = [...own];
        const counted = await Promise.all(requests);
        for (const r of counted) {
          if (r.type !== 'counts' || r.counts.length !== totals.length)
            throw new Error('unexpected worker reply');
          r.counts.forEach((c, k) => (totals[k] += c));
        }
        if (t && counted[0]?.type === 'counts') t.workerBusy += counted[0].busyMs;
        finishes = workers.map((pw) =>
          this.request(pw, { type: 'finish', modelId: id, totals, backward: training }),
        );
        lap('forwardWait');
      }
      const logs = model.shardFinish(totals, training);
      lap('ownFinish');
      const done = await Promise.all(finishes);
      for (const r of done) {
        if (r.type !== 'done') throw new Error('unexpected worker reply');
        addLogs(logs, r.logs);
      }
      if (t && done[0]?.type === 'done') t.workerBusy += done[0].busyMs;
      lap('finishWait');
      if (t) t.batches++;
      return { logs, workers };
    } finally {
      this.k.endScope(mark);
    }
  }

  /** Gradients of a batch over this thread and `threads − 1` workers; see ParallelRunner. */
  async gradients(model: PoolModel, batch: ShardBatch, seed: number, threads: number): Promise<Logs> {
    const { logs, workers } = await this.sharded(model, batch, threads, true, seed);
    const k = this.k;
    const buffer = k.memory.buffer;
    const id = modelId(model);
    const named = model.namedWeights();
    const t0 = timings ? performance.now() : 0;
    for (const pw of workers) {
      const ptrs = pw.grads.get(id)!;
      named.forEach(({ weight }, j) =>
        k.addInPlace(
          weight.grad,
          0,
          new Float32Array(buffer, ptrs[j], weight.grad.length),
          0,
          weight.grad.length,
        ),
      );
    }
    if (timings) timings.reduce += performance.now() - t0;
    return logs;
  }

  /** Logs of a batch in inference mode over this thread and `threads − 1` workers; see ParallelRunner. */
  async losses(model: PoolModel, batch: ShardBatch, threads: number): Promise<Logs> {
    return (await this.sharded(model, batch, threads, false, 0)).logs;
  }

  /** Clears the carried states of this model's replicas; the next step waits for it (messages are ordered). */
  resetStates(model: PoolModel): void {
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
  async getStates(model: PoolModel): Promise<CarriedStates | null> {
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
  async setStates(model: PoolModel, states: CarriedStates, threads: number): Promise<void> {
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
    supported(model: PoolModel): boolean {
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
    gradients(model, batch, seed, threads) {
      pool ??= new WorkerPool(kernels() as WasmKernels, spawn);
      return pool.gradients(model, batch, seed, threads);
    },
    losses(model, batch, threads) {
      pool ??= new WorkerPool(kernels() as WasmKernels, spawn);
      return pool.losses(model, batch, threads);
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
