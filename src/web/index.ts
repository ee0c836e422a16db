/** Browser-only parts of recur: the Web Worker pool for multi-threaded training, the inference pool, the step helper. */
export { installWebWorkerPool, defaultThreads, shutdownWebWorkerPool } from './pool.js';
export { createWebInferencePool } from './inference_pool.js';
export { startWebStepHelper } from './step_helper.js';
export { InferencePool, type PooledModel } from '../inference/pool.js';
export type { ModelPayload, InferenceKind } from '../inference/protocol.js';
export type { WeightFile } from '../models/serialization.js';
