/** Browser-only parts of recur: the Web Worker pool for multi-threaded training. */
export { installWebWorkerPool, defaultThreads, shutdownWebWorkerPool } from './pool.js';
