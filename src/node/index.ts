/** Node-only parts of recur: model files on disk, worker threads, checkpoints, logging callbacks. */
import './wasm_flags.js';
import { installWorkerPool } from './pool.js';

installWorkerPool();

export { saveModel, loadModel, readModelFiles, isModelDir } from './model_io.js';
export { writeFileAtomic } from './atomic.js';
export { WorkerPool, defaultThreads, shutdownWorkerPool } from './pool.js';
