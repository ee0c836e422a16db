/** Messages between the main thread and the pool's workers (Node worker threads or browser Web Workers). */
import { IndexTensor, Tensor, type AnyTensor } from '../core/tensor.js';
import type { Logs } from '../models/callbacks.js';
import type { ReplicaDescription } from '../models/pool_model.js';

export interface WireTensor {
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
  shape: number[];
}

/**
 * A replica's carried states, in layer order: per layer null (none) or one float32 tensor per state ([rows, size],
 * rows = the replica's shard of the streams).
 */
export type WireStates = (WireTensor[] | null)[];

/** A tensor as posted to another thread (the data is copied). */
export function toWire(t: AnyTensor): WireTensor {
  return { dtype: t.dtype, data: t.data.slice(), shape: [...t.shape] };
}

export function fromWire(t: WireTensor): AnyTensor {
  return t.dtype === 'int32'
    ? new IndexTensor(t.data as Int32Array, t.shape)
    : new Tensor(t.data as Float32Array, t.shape);
}

/** A float tensor from the wire (states are floats). */
export function floatFromWire(t: WireTensor): Tensor {
  if (t.dtype !== 'float32') throw new Error('expected a float32 tensor on the wire');
  return new Tensor(t.data as Float32Array, t.shape);
}

/** What a worker needs to run the kernels over the main thread's memory: sent first, once. */
export interface WorkerInit {
  type: 'init';
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  variant: 'simd' | 'relaxed';
}

export type PoolRequest =
  | WorkerInit
  | {
      type: 'model';
      modelId: number;
      /** How to build the replica (whatever kind of model it is): see PoolModel.replicaDescription. */
      replica: ReplicaDescription;
      /** Byte offsets of the main model's weights in the shared memory. */
      weights: number[];
    }
  /** Phase 1 of a shard (PoolModel.shardForward): answered with 'counts'; the replica keeps the pass for 'finish'. */
  | {
      type: 'forward';
      modelId: number;
      xs: WireTensor[];
      ys: WireTensor[];
      training: boolean;
      seed: number;
      rowOffset: number;
    }
  /**
   * Both phases at once, when the whole batch's loss positions are known before the forward pass
   * (PoolModel.shardCounts): answered with 'done'.
   */
  | {
      type: 'step';
      modelId: number;
      xs: WireTensor[];
      ys: WireTensor[];
      training: boolean;
      seed: number;
      rowOffset: number;
      totals: number[];
    }
  /** Phase 2 (PoolModel.shardFinish) with the whole batch's loss positions per output: answered with 'done'. */
  | { type: 'finish'; modelId: number; totals: number[]; backward: boolean }
  | { type: 'reset'; modelId: number }
  /** The replica's carried states (its shard's rows): answered with 'states'. */
  | { type: 'getStates'; modelId: number }
  /** Sets the replica's carried states (its shard's rows), e.g. to resume an epoch: answered with 'statesSet'. */
  | { type: 'setStates'; modelId: number; layers: WireStates };

export type PoolReply =
  | { type: 'ready'; grads: number[] }
  | { type: 'reset' }
  | { type: 'states'; layers: WireStates }
  | { type: 'statesSet' }
  /** `busyMs`: how long the worker spent on the request, message in to reply out (for PoolTimings). */
  | { type: 'counts'; counts: number[]; busyMs: number }
  | { type: 'done'; logs: Logs; busyMs: number }
  | { type: 'error'; message: string };
