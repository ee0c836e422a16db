/** Node-only parts of recur: model files on disk, worker threads, checkpoints, logging callbacks. */
// Worker threads for fit({threads}) and model.save(path) to files.
import './install.js';

/*
 * Model files: `loadModel(pathOrBytes)` reads every format (a recur/tfjs directory or its model.json, a Keras
 * .h5/.hdf5 or .keras file, or a Keras file's bytes) and `saveModel(model, path)` writes the format the path names
 * (.keras, .h5/.hdf5, else a recur directory) — both async, as the HDF5 library loads on first use. The synchronous
 * recur-directory functions stay under their own names (loadModelDir, saveModelDir, loadFunctionalModel).
 */
export {
  loadModel as loadModelDir,
  saveModel as saveModelDir,
  loadFunctionalModel,
  readModelFiles,
  isModelDir,
} from './model_io.js';
export { ModelFileError, type LoadedModel, type SaveOptions } from '../models/serialization.js';
export { writeFileAtomic } from './atomic.js';
export {
  loadAnyModel as loadModel,
  saveAnyModel as saveModel,
  loadAnyModel,
  saveAnyModel,
  loadKerasWeightsFile,
  modelFormatOf,
  type LoadedAnyModel,
  type ModelFormat,
} from './keras_io.js';
export { WorkerPool, defaultThreads, shutdownWorkerPool } from './pool.js';
export { startStepHelper } from './step_helper.js';
export {
  InferencePool,
  createInferencePool,
  readModelPayload,
  withInferencePool,
  type PoolWork,
} from './inference_pool.js';
export type { InferenceKind, ModelPayload } from '../inference/protocol.js';
export {
  ModelCheckpoint,
  CSVLogger,
  ProgressBar,
  type ModelCheckpointArgs,
  type CSVLogRow,
} from './callbacks.js';
export { readTextFile, mobyDick, usBirthsDaily, usBirthsMonthly } from './text_file.js';
export {
  saveForecaster,
  loadForecaster,
  loadForecasterDir,
  prepareForecasterDir,
  saveSeriesNetworks,
  writeForecasterManifest,
  type ForecasterManifest,
  type ForecasterLayout,
  type SavedGlobal,
  type SavedSeriesEntry,
  type LoadedForecasterDir,
} from './forecaster_io.js';
/** Time-series forecasting (its baselines load @bsull/augurs' wasm from node_modules, so it lives here). */
export * as forecast from './forecast.js';
/** A classifier directory, one model or a seed ensemble (members' class probabilities averaged), behind one loader. */
export {
  loadClassifierDir,
  classifierMemberDirs,
  isEnsembleDir,
  readEnsembleRecord,
  type LoadedClassifier,
} from './classifier_dir.js';
/** A seq2seq model directory, one model or a seed ensemble (members' next-token probabilities averaged). */
export { loadSeq2SeqDir, seq2seqMemberDirs, type LoadedSeq2Seq } from './seq2seq_dir.js';
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
