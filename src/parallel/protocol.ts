/** Messages between the main thread and the pool's workers (Node worker threads or browser Web Workers). */
import type { LayerShape } from '../layers/layer.js';
import type { KerasLayerJson } from '../models/serialization.js';

export interface WireTensor {
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
  shape: number[];
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
      layers: KerasLayerJson[];
      inputShape: LayerShape;
      loss: string;
      metrics: string[];
      fromLogits: boolean;
      /** Byte offsets of the main model's weights in the shared memory. */
      weights: number[];
    }
  | {
      type: 'step';
      modelId: number;
      x: WireTensor;
      y: WireTensor;
      seed: number;
      rowOffset: number;
      totalRows: number;
    }
  | { type: 'evaluate'; modelId: number; x: WireTensor; y: WireTensor }
  | { type: 'reset'; modelId: number };

export type PoolReply =
  | { type: 'ready'; grads: number[] }
  | { type: 'reset' }
  | { type: 'done'; lossSum: number; accSum: number }
  | { type: 'error'; message: string };
