/**
 * Keras model files in the browser (and anywhere): load from bytes, a File or a Blob — a Keras .h5/.hdf5, a Keras 3
 * .keras archive, or a recur/tfjs model.json with its weights — and write .keras and .h5 as bytes.
 */
import { InvalidInputError } from '../core/errors.js';
import type { Functional } from '../models/functional.js';
import { deserializeFunctional, parseFunctionalModelJson } from '../models/functional_serialization.js';
import { parseModelJson } from '../models/model_file.js';
import { deserializeModel } from '../models/serialization.js';
import type { Sequential } from '../models/sequential.js';
import { loadKerasModel } from './load.js';
import { parseJsonText } from '../core/json_text.js';

export {
  loadKerasModel,
  loadKerasWeights,
  type KerasModel,
  type LoadedKerasModel,
  type WeightsReport,
} from './load.js';
export { saveKerasArchive, saveKerasH5, type SavedKeras } from './save.js';
export {
  predictJson,
  inputsFromJson,
  modelInputs,
  outputNames,
  type ModelInputInfo,
} from './predict_json.js';
export { chainAsSequential } from './chain.js';
export { kerasCharacterModel, corpusWindow, type KerasCharacterModel } from './text_model.js';
export { kerasCompileConfig, type KerasCompile } from './training_config.js';
export { tutorialVocabulary, vocabularyFromChars, type TutorialVocabulary } from './vocabulary.js';

/** A recur/tfjs model as its two files: model.json (text or parsed) and the weights (all files concatenated). */
export interface ModelFiles {
  modelJson: string | object;
  weights: Uint8Array;
}

export interface LoadedAny {
  model: Sequential | Functional;
  format: 'recur' | 'keras-h5' | 'keras';
  metadata: Record<string, unknown>;
  notes: string[];
  /** Keras files: the training_config / compile_config they record (see kerasCompileConfig), else null. */
  trainingConfig: unknown;
  /** Keras files: the keras_version they record. */
  kerasVersion?: string;
}

async function bytesOf(source: Uint8Array | ArrayBuffer | Blob): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  return new Uint8Array(await source.arrayBuffer());
}

/**
 * A model from any format recur reads, in the browser as in Node: the bytes (or a File/Blob) of a Keras .h5/.hdf5
 * or .keras file, or a recur/tfjs model's files. `name` names the source in errors (a File's name by default).
 */
export async function loadModel(
  source: Uint8Array | ArrayBuffer | Blob | ModelFiles,
  name?: string,
): Promise<LoadedAny> {
  if (!(source instanceof Uint8Array) && !(source instanceof ArrayBuffer) && !isBlob(source)) {
    const where = name ?? 'model.json';
    const text = typeof source.modelJson === 'string' ? source.modelJson : JSON.stringify(source.modelJson);
    const cls = (parseJsonText(text, where) as { modelTopology?: { class_name?: string } }).modelTopology
      ?.class_name;
    if (cls === 'Functional' || cls === 'Model') {
      const json = parseFunctionalModelJson(text, where);
      const r = deserializeFunctional(json, source.weights, where);
      return { model: r.model, format: 'recur', metadata: r.metadata, notes: r.notes, trainingConfig: null };
    }
    const json = parseModelJson(text, where);
    const r = deserializeModel(json, source.weights, where);
    return { model: r.model, format: 'recur', metadata: r.metadata, notes: r.notes, trainingConfig: null };
  }
  const where =
    name ?? (isBlob(source) && 'name' in source ? String((source as { name: unknown }).name) : 'model');
  const bytes = await bytesOf(source);
  if (bytes.length === 0) throw new InvalidInputError(`${where}: empty`);
  const r = await loadKerasModel(bytes, where);
  return {
    model: r.model,
    format: r.format,
    metadata: r.metadata,
    notes: r.notes,
    trainingConfig: r.trainingConfig,
    kerasVersion: r.kerasVersion,
  };
}

function isBlob(v: unknown): v is Blob {
  return typeof Blob !== 'undefined' && v instanceof Blob;
}
