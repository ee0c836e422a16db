/** Entry of the Node worker thread of a step helper (src/node/step_helper.ts): runs the helper loop until stopped. */
import './runtime_hooks.js';
import { parentPort, workerData } from 'node:worker_threads';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import { runStepHelper } from '../parallel/step_helper.js';

interface StepHelperInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  variant: 'simd' | 'relaxed';
  control: Int32Array;
}

const init = workerData as StepHelperInit;
runStepHelper(init.control, new WasmKernels(init.module, init.memory, init.variant, false));
parentPort?.close();
