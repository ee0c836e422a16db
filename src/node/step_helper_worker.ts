/** Entry of the Node worker thread of a step helper (src/node/step_helper.ts): runs the helper loop until stopped. */
import './runtime_hooks.js';
import { parentPort, workerData } from 'node:worker_threads';
import { runStepHelper, type StepHelperInit } from '../parallel/step_helper.js';

runStepHelper(workerData as StepHelperInit);
parentPort?.close();
