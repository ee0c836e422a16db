/**
 * Entry of the browser Web Worker of a step helper (src/web/step_helper.ts): its first message carries the kernel
 * module, the shared memory and the control block; it then runs the helper loop until stopped.
 */
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import { runStepHelper } from '../parallel/step_helper.js';

interface StepHelperInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  variant: 'simd' | 'relaxed';
  control: Int32Array;
}

const scope = globalThis as unknown as {
  addEventListener(
    type: 'message',
    fn: (e: MessageEvent<StepHelperInit>) => void,
    opts: { once: true },
  ): void;
  close(): void;
};
scope.addEventListener(
  'message',
  (e) => {
    const init = e.data;
    runStepHelper(init.control, new WasmKernels(init.module, init.memory, init.variant, false));
    scope.close();
  },
  { once: true },
);
