/**
 * The worker pool on browser Web Workers — the same pool as on Node (src/parallel/pool.ts), over `new Worker()`.
 * Needs what the wasm kernels need anyway: a cross-origin-isolated page (SharedArrayBuffer, shared wasm memory).
 */
import { kernels } from '../core/backend.js';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import { setParallelRunner } from '../models/pool_model.js';
import { createParallelRunner, type ThreadPort } from '../parallel/pool.js';
import type { PoolReply } from '../parallel/protocol.js';
import { webWorkerError } from './worker_error.js';

let installed: { shutdown: () => Promise<void> } | null = null;

/**
 * Lets `fit({threads})` split batches across Web Workers. Returns false (and changes nothing: training stays on this
 * thread) when the page is not cross-origin isolated, has no Worker, or runs the reference kernels.
 * @param workerUrl where the bundled or served `recur/web/worker.js` is (default: next to this module).
 */
export function installWebWorkerPool(
  workerUrl: URL | string = new URL('./worker.js', import.meta.url),
): boolean {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  if (!isolated || typeof Worker === 'undefined' || !(kernels() instanceof WasmKernels)) return false;
  const spawn = (): ThreadPort => {
    const worker = new Worker(workerUrl, { type: 'module' });
    return {
      postMessage: (msg) => worker.postMessage(msg),
      onMessage: (fn) => worker.addEventListener('message', (e: MessageEvent<PoolReply>) => fn(e.data)),
      onError: (fn) => worker.addEventListener('error', (e) => fn(webWorkerError(e, workerUrl))),
      hold: () => {},
      terminate: async () => worker.terminate(),
    };
  };
  const { runner, shutdown } = createParallelRunner(spawn);
  setParallelRunner(runner);
  installed = { shutdown };
  return true;
}

/** The default thread count in a browser: the logical cores the browser reports. */
export function defaultThreads(): number {
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
}

/** Terminates the pool's workers and returns training to this thread. */
export async function shutdownWebWorkerPool(): Promise<void> {
  await installed?.shutdown();
  installed = null;
  setParallelRunner(null);
}
