/**
 * The inference pool (src/inference/pool.ts) on browser Web Workers: each worker holds its own copy of the models it
 * is given (as model.json's text and the weight bytes, e.g. from IndexedDB or dropped files) and runs generation,
 * classification and decoding off the page's thread. The workers use the page's kernels (wasm needs a
 * cross-origin-isolated page; otherwise the reference kernels, in every worker alike).
 */
import { InferencePool, type InferencePort } from '../inference/pool.js';
import type { InferenceReply } from '../inference/protocol.js';
import { webWorkerError } from './worker_error.js';

/**
 * An inference pool of `threads` Web Workers.
 * @param workerUrl where the bundled or served `recur/web/inference_worker.js` is (default: next to this module).
 */
export function createWebInferencePool(
  threads: number,
  workerUrl: URL | string = new URL('./inference_worker.js', import.meta.url),
): InferencePool {
  const spawn = (): InferencePort => {
    const worker = new Worker(workerUrl, { type: 'module' });
    let exit: (e: Error) => void = () => {};
    worker.addEventListener('error', (e) => exit(webWorkerError(e, workerUrl)));
    return {
      postMessage: (msg) => worker.postMessage(msg),
      onMessage: (fn) => worker.addEventListener('message', (e: MessageEvent<InferenceReply>) => fn(e.data)),
      onExit: (fn) => (exit = fn),
      hold: () => {},
      terminate: async () => worker.terminate(),
    };
  };
  return new InferencePool(spawn, threads);
}
