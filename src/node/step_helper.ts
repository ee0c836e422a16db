/**
 * A step helper (src/parallel/step_helper.ts) on a Node worker thread: a second core for one-stream generation.
 * Needs the wasm kernels (the reference kernels' memory is not shared) and a second core; otherwise null, and the
 * stepper computes everything on its own thread, to the same result.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { kernels } from '../core/backend.js';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import { newStepHelper, type StepHelper } from '../parallel/step_helper.js';

/** A started helper, or null when the kernels are not wasm or `threads` (default: the cores) is below 2. */
export function startStepHelper(threads = availableParallelism()): StepHelper | null {
  const k = kernels();
  if (!(k instanceof WasmKernels) || threads < 2) return null;
  const { init, helper } = newStepHelper(k);
  const worker = new Worker(new URL('./step_helper_worker.js', import.meta.url), { workerData: init });
  // The helper never keeps the process alive; close() stops its loop, and the thread ends with it.
  worker.unref();
  // A helper that fails to start never becomes ready, so the stepper computes alone (the same text); one that dies
  // holding a product is reported by the waiting step. Neither may crash the process with an unhandled 'error'.
  worker.on('error', () => {});
  return helper;
}
