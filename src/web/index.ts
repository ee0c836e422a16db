/** Browser-only parts of recur: the Web Worker pool for multi-threaded training, and the inference pool. */
export { installWebWorkerPool, defaultThreads, shutdownWebWorkerPool } from './pool.js';
export { createWebInferencePool } from './inference_pool.js';
export { InferencePool, type PooledModel } from '../inference/pool.js';
export type { ModelPayload } from '../inference/protocol.js';
