/** Node-only parts of recur: model files on disk, checkpoints, logging callbacks. */
import './wasm_flags.js';
export { saveModel, loadModel, readModelFiles, isModelDir } from './model_io.js';
export { writeFileAtomic } from './atomic.js';
