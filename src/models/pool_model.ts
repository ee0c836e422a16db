/**
 * What the data-parallel worker pool (src/parallel) needs of a model, whatever its kind: Sequential and Functional
 * both implement PoolModel, so the pool and its replica server never ask which kind of model they train.
 *
 * A batch is split by rows. Each thread runs its shard in two phases so that every loss is normalised over the whole
 * batch, not per shard: `shardForward` runs the forward pass and returns, per output, how many loss positions the
 * shard holds (its rows, or the real — unmasked — steps of a masked sequence output); the pool adds them up over the
 * shards, and `shardFinish` then scales the shard's losses and output gradients by (its count / the batch's count) and
 * runs backward. The shards' gradients and logs summed in a fixed order are then those of the whole batch (up to
 * float summation order), and a fixed seed and thread count gives bit-identical runs.
 */
import type { AnyTensor, Tensor } from '../core/tensor.js';
import type { Layer } from '../layers/layer.js';
import type { Logs } from './callbacks.js';
import type { NamedWeight } from './optimizers.js';

/** The rows of one batch a thread works on: every input and every target, in model order. */
export interface ShardBatch {
  xs: AnyTensor[];
  ys: AnyTensor[];
}

/**
 * Everything a worker needs to build a replica of a model (plain JSON, posted to the worker once): the Keras/tfjs
 * topology the model's own serialization writes, its compile settings, and its weight names to check the replica
 * against.
 */
export interface ReplicaDescription {
  /** The Keras model class (`Sequential`, `Functional`). */
  className: string;
  /** The model's Keras config (a Sequential's layers and input shape; a Functional's layers and their wiring). */
  config: Record<string, unknown>;
  /** Per-output loss names, metrics and fromLogits, as compile() takes them. */
  compile: { losses: string[]; metrics: string[]; fromLogits: boolean; labelSmoothing?: number };
  /** Names of the weights (`layer/weight`) in namedWeights() order: the replica must list the same. */
  weightNames: string[];
}

/** Options of a shard's forward pass. */
export interface ShardForwardOptions {
  training: boolean;
  /** The batch's dropout seed (one per training step). */
  seed: number;
  /** The shard's first row in the batch: per-sample random draws (dropout masks) are keyed by the batch row. */
  rowOffset: number;
}

/** A model the pool can split batches of; see the module comment for the two phases. */
export interface PoolModel {
  readonly name: string;
  /** Every layer, in a fixed order (carried states travel per layer in this order). */
  readonly layers: readonly Layer[];
  /** The thread count fit and evaluation use. */
  threads: number;
  namedWeights(): NamedWeight[];
  replicaDescription(): ReplicaDescription;
  /**
   * Forward pass on a shard (in the caller's allocation scope, which must stay open until shardFinish); when
   * training, zeroes the gradients first. Returns per output the shard's loss positions.
   */
  shardForward(batch: ShardBatch, opts: ShardForwardOptions): number[];
  /**
   * Per output, the loss positions shardForward will report for this shard, when they are known without running it
   * (a loss averaged over samples: the shard's rows); null when only the forward pass can tell (e.g. the real steps of
   * a masked sequence output). When every shard's are known, the pool runs each worker's shard in one request.
   */
  shardCounts(batch: ShardBatch): number[] | null;
  /**
   * Finishes the shard given the whole batch's positions per output: returns the shard's share of the batch's logs
   * (loss, per-output losses, metrics: summed over the shards they are the batch's) and, when `backward`, leaves the
   * shard's share of ∂(batch loss)/∂w in the gradient buffers.
   */
  shardFinish(totals: readonly number[], backward: boolean): Logs;
  resetStates(): void;
}

/**
 * The states a model's layers carry from batch to batch, in layer order: per layer null (it carries none) or one
 * [rows, size] tensor per state of the layer (see Layer.getStates), one row per stream.
 */
export type CarriedStates = (Tensor[] | null)[];

/** Data-parallel execution of training steps, registered by `recur/node` (worker threads) or `recur/web`. */
export interface ParallelRunner {
  /** Whether this model can run on the pool (fast kernels, weights in the shared memory). */
  supported(model: PoolModel): boolean;
  /**
   * Splits the batch across `threads` (this thread included), and leaves the batch's total gradient in the model's
   * gradient buffers; resolves to the batch's logs.
   */
  gradients(model: PoolModel, batch: ShardBatch, seed: number, threads: number): Promise<Logs>;
  /** Splits the batch across `threads` like `gradients`, forward only (inference mode): resolves to its logs. */
  losses(model: PoolModel, batch: ShardBatch, threads: number): Promise<Logs>;
  /** Clears the carried state of the model's replicas (stateful models). */
  resetStates(model: PoolModel): void;
  /**
   * The model's carried states joined from this thread's shard (its own layers) and the replicas' shards, row by row;
   * null when the model has not run on the pool since its states were last cleared (then its layers hold them all).
   */
  getStates(model: PoolModel): Promise<CarriedStates | null>;
  /**
   * Spreads carried states (one row per stream) over this thread's layers and the replicas as a batch of that many
   * rows will be split across `threads`, so the next batch continues every stream.
   */
  setStates(model: PoolModel, states: CarriedStates, threads: number): Promise<void>;
}

let runner: ParallelRunner | null = null;

/** Installs (or removes) the data-parallel runner used when `threads` > 1. */
export function setParallelRunner(r: ParallelRunner | null): void {
  runner = r;
}

/** The installed runner, if any. */
export function parallelRunner(): ParallelRunner | null {
  return runner;
}

/**
 * The least work (see splitWork) for which a batch of a model without carried state is split across threads. Below
 * it, the messages, the other thread's wake-up and the join cost more than halving the compute saves, so the batch
 * runs on this thread alone: bench/pool_small_batches.ts measured it on the idle machine (BENCHMARKS.md, "The split
 * threshold on the idle machine": 12 M broke even, 23 M gained 1.4×).
 */
export const MIN_SPLIT_WORK = 16e6;

let minSplitWork = MIN_SPLIT_WORK;

/**
 * Sets the least work for which batches are split (MIN_SPLIT_WORK by default; 0 splits every batch of two rows or
 * more, as recur did before the threshold — the test suite does, so that every test asking for threads runs the
 * pool). `recur/node` takes it from the environment variable RECUR_MIN_SPLIT_WORK when set.
 */
export function setMinSplitWork(work: number): void {
  if (!(typeof work === 'number' && work >= 0 && !Number.isNaN(work)))
    throw new Error(`the least work to split a batch must be a number ≥ 0, got ${String(work)}`);
  minSplitWork = work;
}

/** The least work for which batches are split (see setMinSplitWork). */
export function getMinSplitWork(): number {
  return minSplitWork;
}

/**
 * A batch's work for the pool's split: its time steps (rows × steps of every input: an int32 [N, T] or float
 * [N, T, F] input is a sequence, a float [N, F] one a single step) times the weights used at every step (all but the
 * embeddings', which a step only gathers from). A proxy for its multiply-adds, enough to tell a batch of 32 short
 * texts from 128 windows of 40 characters.
 */
export function splitWork(model: PoolModel, xs: readonly AnyTensor[]): number {
  let steps = 0;
  for (const x of xs) {
    const sequence = x.dtype === 'int32' ? x.shape.length >= 2 : x.shape.length >= 3;
    steps += x.shape[0] * (sequence ? x.shape[1] : 1);
  }
  let weights = 0;
  for (const l of model.layers) if (l.built && l.className !== 'Embedding') weights += l.countParams();
  return steps * weights;
}

/** Whether a layer carries state from batch to batch (a stateful recurrent layer): see Layer.carriedStatesMismatch. */
export function carriesState(l: Layer): boolean {
  return l.carriedStatesMismatch([]) !== null;
}

/**
 * Whether a batch of `rows` rows of this model will be split across threads. Given the batch's inputs (`xs`), a
 * batch of a model without carried state whose splitWork is below the threshold (MIN_SPLIT_WORK unless set with
 * setMinSplitWork) runs on this thread alone, so its
 * results are exactly the one-thread results whatever `threads` is. (A stateful model's batches are always split
 * while threads > 1: each replica carries its shard's streams from batch to batch.)
 */
export function usePool(model: PoolModel, rows: number, xs?: readonly AnyTensor[]): boolean {
  if (!(model.threads > 1 && runner !== null && rows >= 2 && runner.supported(model))) return false;
  if (xs === undefined || model.layers.some(carriesState)) return true;
  return splitWork(model, xs) >= minSplitWork;
}

/** Checks a thread count (fit's `threads`), naming `what`. */
export function checkThreads(threads: number, what: string): void {
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`${what}: threads must be a positive integer, got ${threads}`);
}

/**
 * A shard's share of the batch for one output: its positions over the batch's. A shard that is the whole batch gets
 * exactly 1, so one thread computes exactly what it always did.
 */
export function shardShare(count: number, total: number): number {
  if (count === total) return 1;
  return total > 0 ? count / total : 0;
}

/** Adds a shard's logs into running sums (in the caller's fixed shard order). */
export function addLogs(into: Logs, logs: Logs): void {
  for (const [k, v] of Object.entries(logs)) into[k] = (into[k] ?? 0) + v;
}
