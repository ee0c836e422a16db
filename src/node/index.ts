/** Node-only parts of recur: model files on disk, worker threads, checkpoints, logging callbacks. */
import './wasm_flags.js';
import { installWorkerPool } from './pool.js';

installWorkerPool();

export { saveModel, loadModel, loadFunctionalModel, readModelFiles, isModelDir } from './model_io.js';
export { ModelFileError, type LoadedModel } from '../models/serialization.js';
export { writeFileAtomic } from './atomic.js';
export {
  loadAnyModel,
  saveAnyModel,
  loadKerasWeightsFile,
  modelFormatOf,
  type LoadedAnyModel,
  type ModelFormat,
} from './keras_io.js';
export { WorkerPool, defaultThreads, shutdownWorkerPool } from './pool.js';
export { InferencePool, createInferencePool, readModelPayload, withInferencePool } from './inference_pool.js';
export { ModelCheckpoint, CSVLogger, ProgressBar, type ModelCheckpointArgs } from './callbacks.js';
export { readTextFile, mobyDick, usBirthsMonthly } from './text_file.js';
export { saveForecaster, loadForecaster } from './forecaster_io.js';
/** Time-series forecasting (its baselines load @bsull/augurs' wasm from node_modules, so it lives here). */
export * as forecast from './forecast.js';
/** Labelled texts for classification: CSV/TSV, JSON Lines, class folders, and the SpamAssassin corpus. */
export {
  spamAssassin,
  loadLabelledTexts,
  loadTable,
  loadJsonLines,
  loadDirectory,
  loadTextColumn,
  type LoadedTexts,
  type ColumnChoice,
} from './classify_data.js';
