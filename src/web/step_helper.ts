/**
 * A step helper (src/parallel/step_helper.ts) on a browser Web Worker: a second core for one-stream generation, as
 * src/node/step_helper.ts gives one on Node. Needs what the worker pool needs: a cross-origin-isolated page and the
 * wasm kernels; otherwise null, and generation runs on the calling thread alone, to the same text.
 */
import { kernels } from '../core/backend.js';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import { newStepHelper, type StepHelper } from '../parallel/step_helper.js';

/**
 * A started helper, or null (no isolation, no Worker, the reference kernels, or fewer than 2 `threads`).
 * @param workerUrl where the bundled or served `recur/web/step_helper_worker.js` is (default: next to this module).
 */
export function startWebStepHelper(
  threads: number,
  workerUrl: URL | string = new URL('./step_helper_worker.js', import.meta.url),
): StepHelper | null {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const k = kernels();
  if (!isolated || typeof Worker === 'undefined' || !(k instanceof WasmKernels) || threads < 2) return null;
  const worker = new Worker(workerUrl, { type: 'module' });
  const { init, helper } = newStepHelper(k, () => worker.terminate());
  worker.postMessage(init);
  return helper;
}
