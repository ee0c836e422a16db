/**
 * Entry of the browser Web Worker of a step helper (src/web/step_helper.ts): its first message is the helper's init
 * (kernel module, shared memory, control block); it then runs the helper loop until stopped.
 */
import { runStepHelper, type StepHelperInit } from '../parallel/step_helper.js';

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
    runStepHelper(e.data);
    scope.close();
  },
  { once: true },
);
