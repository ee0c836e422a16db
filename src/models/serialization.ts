/**
 * Model files in the TensorFlow.js LayersModel format: a `model.json` with a Keras-style `modelTopology` and a
 * `weightsManifest`, and the weights as little-endian float32 in a binary file. recur writes every activation and
 * initialiser explicitly (tfjs's defaults differ from Keras's), adds its own data under
 * `userDefinedMetadata.recur`, and stores optimizer slots as weights of group "optimizer" (which tfjs reads too).
 * This module is pure (no file system); `src/node/model_io.ts` reads and writes directories.
 *
 * Integrity: recur refuses to write non-finite weights, and records in `userDefinedMetadata.recur.sha256` the sha256
 * of each weights file and of the topology and manifest it wrote. Loading checks every value against the schema
 * (model_file.ts), every weight's dtype, shape and byte length, that every weight is used exactly once, that no
 * value is NaN or infinite, and the recorded hashes; a file without them (saved by tfjs or Keras) loads with a note.
 */
import { InvalidInputError } from '../core/errors.js';
import { sha256Hex, sha256HexOfText } from '../core/sha256.js';
import { Tensor, shapeToString } from '../core/tensor.js';
import { RECUR_VERSION } from '../core/version.js';
import { activationName, activationToKeras } from '../layers/activations.js';
// Through the index, so every layer module has registered itself.
import {
  deserializeLayer,
  isLayerSpec,
  layerRegistration,
  type FileWriter,
  type LayerRegistration,
  type LayerSpec,
} from '../layers/index.js';
import type { InitializerSpec } from '../layers/initializers.js';
import { snakeCase, type Layer } from '../layers/layer.js';
import { createOptimizer, type NamedWeight, type Optimizer, type SlotValue } from './optimizers.js';
import { defaultInputName, Sequential } from './sequential.js';

export const FORMAT_VERSION = 1;
export const GENERATED_BY = `recur ${RECUR_VERSION}`;

export interface WeightSpec {
  name: string;
  shape: number[];
  /** int32 only for an optimizer's step count, as tfjs saves it ('iter'); recur writes float32. */
  dtype: 'float32' | 'int32';
  group?: 'model' | 'optimizer';
  /**
   * How tfjs's converter stored a float32 weight smaller (`--quantize_float16`, `--quantize_uint8`/`uint16`):
   * half floats, or integers q standing for q·scale + min. recur reads them as tfjs does and writes float32.
   */
  quantization?: { dtype: 'float16' | 'uint8' | 'uint16'; scale?: number; min?: number };
}

/** model.json, as tfjs writes it (and as `validateModelJson` in model_file.ts guarantees it on reading). */
export interface ModelJson {
  format?: 'layers-model';
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: {
    class_name: string;
    config: { name: string; layers: KerasLayerJson[] };
    keras_version?: string;
    backend?: string;
  };
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
  userDefinedMetadata?: Record<string, unknown>;
}

export interface KerasLayerJson {
  class_name: string;
  config: Record<string, unknown>;
}

/** What recur keeps in `userDefinedMetadata.recur`. */
export interface RecurMetadata {
  formatVersion: number;
  seed: number;
  compile?: {
    loss: string;
    metrics: string[];
    fromLogits: boolean;
    optimizer: { className: string; config: Record<string, unknown> };
  };
  /** sha256 (hex) of each weights file by its manifest path, and of the topology and manifest (canonical JSON). */
  sha256?: RecordedHashes;
  /**
   * Sequential.inputName, when the model has one: tfjs's Sequential topology has no place for an input's name (its
   * first layer carries the input shape), so it travels here. tfjs ignores it.
   */
  inputName?: string;
  [key: string]: unknown;
}

export interface RecordedHashes {
  weights: Record<string, string>;
  modelTopology: string;
  weightsManifest: string;
}

/**
 * A model file that cannot be loaded: names the file and the field (a JSON path such as
 * `modelTopology.config.layers[1].config.units`, or a weight) and says what was expected.
 */
export class ModelFileError extends InvalidInputError {
  // A damaged or foreign model file is bad input wherever it is read (the CLI exits 2), a resumed checkpoint included.
  override readonly name: string = 'ModelFileError';
  constructor(
    readonly file: string,
    readonly field: string,
    readonly detail: string,
    message = `${file}: ${field}: ${detail}`,
  ) {
    super(message);
  }
}

/** A JSON path as errors show it: `a.b[3].c`, and `["odd key"]` for keys that are not identifiers. */
export function fieldPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(p)) out += out === '' ? p : `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

/** JSON with object keys sorted at every level: the same text for the same content, whatever the key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export interface SaveOptions {
  /** Store optimizer slots so training can resume exactly (default true when compiled). */
  includeOptimizer?: boolean;
  /** Extra entries for userDefinedMetadata (your own keys, and recur's under `recur`). */
  metadata?: Record<string, unknown>;
}

export interface ModelArtifacts {
  json: Omit<ModelJson, 'weightsManifest'>;
  weightSpecs: WeightSpec[];
  weightData: Uint8Array;
}

function toKerasValue(key: string, v: unknown): unknown {
  if (isLayerSpec(v)) return specToKeras(v); // a wrapper's inner layer
  if (key.endsWith('Initializer') && v && typeof v === 'object') {
    const spec = v as InitializerSpec;
    return { class_name: spec.className, config: spec.config };
  }
  if ((key === 'activation' || key === 'recurrentActivation') && typeof v === 'string') {
    return activationToKeras(activationName(v, key));
  }
  return v;
}

export function layerToKeras(layer: Layer): KerasLayerJson {
  return specToKeras({ className: layer.className, config: layer.getConfig() });
}

/** A layer spec (camelCase config) in Keras spelling, nested layers included. */
function specToKeras(spec: LayerSpec): KerasLayerJson {
  const config: Record<string, unknown> = { dtype: 'float32' };
  for (const [k, v] of Object.entries(spec.config)) config[snakeCase(k)] = toKerasValue(k, v);
  if (config.batch_input_shape === undefined) delete config.batch_input_shape;
  return { class_name: spec.className, config };
}

/** Layer options that change only training (regularizers, constraints), not what the layer computes. */
export const TRAINING_ONLY_KEY = /_(regularizer|constraint)$/;

type JsonRecord = Record<string, unknown>;
const isRecord = (v: unknown): v is JsonRecord => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Every layer config of a Keras/tfjs model config (`{class_name, config: {layers}}`, or Keras 2.0's list), wrapped
 * layers included (layers only, not every value: a config can nest deep).
 */
export function rawLayerConfigs(raw: unknown): { className: string; config: JsonRecord }[] {
  const out: { className: string; config: JsonRecord }[] = [];
  const visit = (layer: unknown): void => {
    if (!isRecord(layer) || !isRecord(layer.config)) return;
    out.push({
      className: typeof layer.class_name === 'string' ? layer.class_name : '?',
      config: layer.config,
    });
    visit(layer.config.layer);
    visit(layer.config.backward_layer);
  };
  const cfg = isRecord(raw) ? raw.config : null;
  const layers = Array.isArray(cfg) ? cfg : isRecord(cfg) && Array.isArray(cfg.layers) ? cfg.layers : [];
  layers.forEach(visit);
  return out;
}

/**
 * Regularizers and constraints change only training, so recur reads a model without them and says which: its
 * predictions are unchanged, but fine-tuning does not apply them and a file recur writes does not carry them.
 */
export function trainingOnlyNote(raw: unknown, where: string): string | null {
  const found: string[] = [];
  for (const { config } of rawLayerConfigs(raw)) {
    const keys = Object.keys(config).filter(
      (k) => TRAINING_ONLY_KEY.test(k) && config[k] !== null && config[k] !== undefined,
    );
    if (keys.length > 0)
      found.push(`'${typeof config.name === 'string' ? config.name : '?'}' (${keys.join(', ')})`);
  }
  if (found.length === 0) return null;
  return (
    `${where}: ${found.join(', ')}: regularizers and constraints act only in training; recur reads the layers ` +
    'without them (predictions are unchanged), does not apply them when fine-tuning and does not write them back'
  );
}

/**
 * The defaults a model.json's reader took for options its layers leave out where TensorFlow.js's and Keras's differ
 * (the registry's tfjsFileDefaults: LSTM's and GRU's recurrent_activation), in one line naming the layers, the option
 * and both defaults, and which writer the file was read as, and why when it does not name one. Null when no layer
 * leaves such an option out, or when the file names Keras (or recur) as its writer, whose defaults are recur's.
 */
export function writerDefaultsNote(
  json: { format?: unknown; generatedBy?: unknown; modelTopology?: unknown },
  where: string,
): string | null {
  const writer = modelJsonWriter(json);
  const topology = json.modelTopology as { keras_version?: unknown } | null | undefined;
  const named = typeof json.generatedBy === 'string' || typeof topology?.keras_version === 'string';
  if (writer === 'keras' && named) return null;
  const filled: string[] = [];
  for (const { className, config } of rawLayerConfigs(json.modelTopology)) {
    let registration: LayerRegistration;
    try {
      registration = layerRegistration(className);
    } catch {
      continue; // an unknown class: the loader names it
    }
    for (const [option, tfjsValue] of Object.entries(registration.tfjsFileDefaults)) {
      const key = snakeCase(option);
      if (config[key] !== undefined) continue;
      const kerasValue = layerFromKeras({ class_name: className, config }, where, 'keras').getConfig()[
        option
      ];
      const [taken, other] = writer === 'tfjs' ? [tfjsValue, kerasValue] : [kerasValue, tfjsValue];
      const name = typeof config.name === 'string' ? config.name : '?';
      filled.push(
        `'${name}' (${className}) ${key} ${String(taken)} (${writer === 'tfjs' ? "Keras's" : "TensorFlow.js's"}: ${String(other)})`,
      );
    }
  }
  if (filled.length === 0) return null;
  const who = writer === 'tfjs' ? 'TensorFlow.js' : 'Keras';
  const why = named
    ? `written by ${who}`
    : `no writer named (no generatedBy or keras_version)${json.format === 'layers-model' ? ", its format TensorFlow.js's" : ''}: read as ${who}'s`;
  return `${where}: ${why}, so options its layers leave out take ${who}'s defaults: ${filled.join(', ')}`;
}

/**
 * A model file TensorFlow.js made (no recur metadata) whose global pooling sees a mask: tfjs pools the padded steps in
 * (it ignores masks there), recur skips them, so on padded inputs recur's predictions differ from the ones the file's
 * author saw. Found among the layers only (a file's config can nest any value deep). Null for recur's own files, whose
 * predictions are recur's, and for a model without a mask.
 */
export function tfjsMaskedPoolingNote(
  raw: unknown,
  metadata: Record<string, unknown>,
  where: string,
): string | null {
  if (metadata.recur !== undefined) return null;
  const layers = rawLayerConfigs(raw);
  const masked = layers.some((l) => l.className === 'Masking' || l.config.mask_zero === true);
  const pooled = [
    ...new Set(
      layers
        .map((l) => l.className)
        .filter((c) => c === 'GlobalAveragePooling1D' || c === 'GlobalMaxPooling1D'),
    ),
  ];
  if (!masked || pooled.length === 0) return null;
  return (
    `${where}: ${pooled.join(' and ')} over masked steps: TensorFlow.js, which made this file, pools the padded ` +
    "steps in (it ignores the mask there); recur skips them, so on padded inputs recur's predictions differ from tfjs's"
  );
}

/** Keys Keras/tfjs write that change nothing here when null/false/default (time_major only when false). */
const IGNORED_KEYS = new Set([
  'dtype',
  'implementation',
  'unroll',
  'time_major',
  'seed',
  'noise_shape',
  'input_length_',
  'sparse',
  'ragged',
]);

function camelCase(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * A layer from its Keras JSON, through the layer registry; `where` names the file for error messages. `writer` says
 * whose defaults the options the file leaves out take (modelJsonWriter).
 */
export function layerFromKeras(json: KerasLayerJson, where: string, writer: FileWriter = 'keras'): Layer {
  return deserializeLayer(kerasToSpec(json, where, writer), where);
}

/**
 * Who wrote a model.json, from the file's own marks: TensorFlow.js's model.save writes `generatedBy: "TensorFlow.js
 * tfjs-layers v…"` and `keras_version: "tfjs-layers …"`; tensorflowjs_converter keeps Keras's (`generatedBy: "keras
 * v2…"`, keras_version "2…"); recur writes `generatedBy: "recur …"` and every option. A LayersModel file with no
 * other mark (`format: "layers-model"`) is tfjs's format, read as tfjs reads it; a file with no mark at all, as Keras's.
 */
export function modelJsonWriter(json: {
  format?: unknown;
  generatedBy?: unknown;
  modelTopology?: unknown;
}): FileWriter {
  const by = typeof json.generatedBy === 'string' ? json.generatedBy : '';
  const topology = json.modelTopology as { keras_version?: unknown } | null | undefined;
  const version = typeof topology?.keras_version === 'string' ? topology.keras_version : '';
  if (/^(keras|recur)\b/i.test(by) || /^\d/.test(version)) return 'keras';
  if (/^(TensorFlow\.js|tfjs)/i.test(by) || /^tfjs/i.test(version)) return 'tfjs';
  return json.format === 'layers-model' ? 'tfjs' : 'keras';
}

/** Keras JSON (snake_case) → a layer spec (camelCase options), nested layers (`{class_name, config}`) included. */
function kerasToSpec(json: KerasLayerJson, where: string, writer: FileWriter): LayerSpec {
  const layerName = typeof json.config?.name === 'string' ? json.config.name : '?';
  // Unknown classes fail here, naming the known ones, before their options are read.
  const registration = layerRegistration(json.class_name, where, layerName);
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json.config ?? {})) {
    // time_major: true feeds [time, batch, features]: ignoring it would read every input transposed.
    if (k === 'time_major' && v === true)
      throw new Error(
        `${where}: layer '${layerName}' uses time_major: true (inputs as [time, batch, features]), which recur does not support`,
      );
    if (IGNORED_KEYS.has(k)) continue;
    // Training only: the loaders say which a file sets (trainingOnlyNote).
    if (TRAINING_ONLY_KEY.test(k)) continue;
    if (k === 'batch_shape') {
      args.batchInputShape = v;
      continue;
    }
    if (k === 'unit_forget_bias' && v === null) continue;
    if (k === 'reset_after' && v === null) continue;
    if (k.endsWith('_initializer') && v && typeof v === 'object') {
      const o = v as { class_name?: string; config?: Record<string, unknown>; module?: string };
      args[camelCase(k)] = { className: o.class_name, config: o.config ?? {} };
      continue;
    }
    if (isKerasLayer(v)) {
      args[camelCase(k)] = kerasToSpec(v, where, writer); // a wrapper's inner layer
      continue;
    }
    args[camelCase(k)] = v;
  }
  // Files written by tfjs/Keras without these keys used their own defaults.
  for (const [k, v] of Object.entries(registration.fileDefaults)) if (args[k] === undefined) args[k] = v;
  if (writer === 'tfjs')
    for (const [k, v] of Object.entries(registration.tfjsFileDefaults))
      if (args[k] === undefined) args[k] = v;
  return { className: json.class_name, config: args };
}

/** A nested `{class_name, config}` (other than an initializer, read before): a wrapper's inner layer. */
function isKerasLayer(v: unknown): v is KerasLayerJson {
  const o = v as Partial<KerasLayerJson> | null;
  return (
    !!o &&
    typeof o === 'object' &&
    typeof o.class_name === 'string' &&
    !!o.config &&
    typeof o.config === 'object'
  );
}

export function serializeModel(model: Sequential, opts: SaveOptions = {}): ModelArtifacts {
  if (!model.isBuilt) model.build();
  const layers = model.layers.map(layerToKeras);
  const recur: RecurMetadata = { formatVersion: FORMAT_VERSION, seed: model.seed };
  // Only a name of its own: the default is what every reader calls the input anyway.
  if (model.inputName !== null && model.inputName !== defaultInputName(model))
    recur.inputName = model.inputName;
  if (model.optimizer && model.loss) {
    recur.compile = {
      loss: model.loss,
      metrics: model.metrics,
      fromLogits: model.fromLogits,
      optimizer: { className: model.optimizer.className, config: model.optimizer.getConfig() },
    };
  }
  const { weightSpecs, weightData } = packWeights(
    model.namedWeights(),
    model.loss ? model.optimizer : null,
    opts,
  );
  const extra = opts.metadata ?? {};
  const userDefinedMetadata: Record<string, unknown> = {
    ...extra,
    recur: { ...recur, ...((extra.recur as object) ?? {}) },
  };
  return {
    json: {
      format: 'layers-model',
      generatedBy: GENERATED_BY,
      convertedBy: null,
      modelTopology: {
        class_name: 'Sequential',
        config: { name: model.name, layers },
        keras_version: 'tfjs-layers 4.22.0',
        backend: 'tensor_flow.js',
      },
      userDefinedMetadata,
    },
    weightSpecs,
    weightData,
  };
}

/**
 * A Sequential model's input name: the one recur recorded, else an InputLayer's at the head of the layers (a file of
 * another writer that keeps it there, as Keras 3 does).
 */
function sequentialInputName(
  recur: Partial<RecurMetadata>,
  layers: readonly { class_name: string; config: Record<string, unknown> }[],
): string | undefined {
  if (typeof recur.inputName === 'string' && recur.inputName !== '') return recur.inputName;
  const name = layers[0]?.class_name === 'InputLayer' ? layers[0].config.name : undefined;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** Index of the first NaN or ±Infinity in `values`, or -1. */
function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    // x − x is 0 for every finite x and NaN for NaN and ±Infinity: one test per value.
    if (values[i] - values[i] !== 0) return i;
  }
  return -1;
}

/** `[2, 1]` for flat index 5 of shape [3, 2]. */
function indexIn(shape: readonly number[], flat: number): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(flat % Math.max(1, shape[d]));
    flat = Math.floor(flat / Math.max(1, shape[d]));
  }
  return `[${idx.join(', ')}]`;
}

/** Non-finite weights would save a model that predicts NaN everywhere; refuse them, naming the weight. */
function refuseNonFinite(name: string, shape: readonly number[], values: Float32Array): void {
  const i = firstNonFinite(values);
  if (i >= 0) {
    throw new Error(
      `weight '${name}' holds ${values[i]} at ${indexIn(shape, i)}; recur does not save non-finite weights ` +
        '(the training diverged: lower the learning rate or clip gradients)',
    );
  }
}

/**
 * The model.json recur writes for artifacts stored in one weights file named `weightsPath` (relative to model.json),
 * with the sha256 of that file, of the topology and of the manifest recorded in `userDefinedMetadata.recur.sha256`.
 */
export function modelJsonFor(art: ModelArtifacts, weightsPath: string): ModelJson {
  const weightsManifest = [{ paths: [weightsPath], weights: art.weightSpecs }];
  const meta = art.json.userDefinedMetadata ?? {};
  const sha256: RecordedHashes = {
    weights: { [weightsPath]: sha256Hex(art.weightData) },
    modelTopology: sha256HexOfText(canonicalJson(art.json.modelTopology)),
    weightsManifest: sha256HexOfText(canonicalJson(weightsManifest)),
  };
  return {
    ...art.json,
    weightsManifest,
    userDefinedMetadata: { ...meta, recur: { ...(meta.recur as object), sha256 } },
  };
}

/**
 * The weights (and, when compiled and asked for, the optimizer slots as group "optimizer") in file order, as specs
 * and little-endian float32 bytes. Refuses NaN or infinite values, naming the weight: such a model is never saved.
 */
export function packWeights(
  named: NamedWeight[],
  optimizer: Optimizer | null,
  opts: SaveOptions,
): { weightSpecs: WeightSpec[]; weightData: Uint8Array } {
  const weightSpecs: WeightSpec[] = [];
  const chunks: Float32Array[] = [];
  for (const { name, weight } of named) {
    refuseNonFinite(name, weight.shape, weight.value);
    weightSpecs.push({ name, shape: [...weight.shape], dtype: 'float32' });
    chunks.push(weight.value);
  }
  if (optimizer && (opts.includeOptimizer ?? true)) {
    for (const slot of optimizer.getWeights()) {
      refuseNonFinite(`optimizer/${slot.name}`, slot.shape, slot.value);
      weightSpecs.push({
        name: `optimizer/${slot.name}`,
        shape: slot.shape,
        dtype: 'float32',
        group: 'optimizer',
      });
      chunks.push(slot.value);
    }
  }
  const all = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return { weightSpecs, weightData: littleEndianBytes(all) };
}

function littleEndianBytes(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) view.setFloat32(i * 4, a[i], true);
  return out;
}

/** Bytes a weight's value takes in the file: 4, or its quantized size. */
function bytesPerValue(spec: WeightSpec): number {
  return spec.quantization ? (spec.quantization.dtype === 'uint8' ? 1 : 2) : 4;
}

/** An IEEE 754 half float (its 16 bits) as a number. */
export function halfFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * A weight's n values at a byte offset, little-endian: float32; int32 (tfjs's optimizer step count) as floats; or
 * dequantized as tfjs's decodeWeight does (float16, or q·scale + min for uint8/uint16).
 */
function readFloats(bytes: Uint8Array, offset: number, n: number, spec: WeightSpec): Float32Array {
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, n * bytesPerValue(spec));
  const q = spec.quantization;
  if (q) {
    const { scale = 1, min = 0 } = q;
    for (let i = 0; i < n; i++)
      out[i] =
        q.dtype === 'float16'
          ? halfFloat(view.getUint16(i * 2, true))
          : (q.dtype === 'uint8' ? view.getUint8(i) : view.getUint16(i * 2, true)) * scale + min;
  } else
    for (let i = 0; i < n; i++)
      out[i] = spec.dtype === 'int32' ? view.getInt32(i * 4, true) : view.getFloat32(i * 4, true);
  return out;
}

export interface LoadedModel {
  model: Sequential;
  /** `userDefinedMetadata` of the file. */
  metadata: Record<string, unknown>;
  /** One line each: what the loader could not check (e.g. a file saved by tfjs has no sha256). For the user, not errors. */
  notes: string[];
}

/** One weights file: its path as the manifest writes it, its bytes, and how errors name it (default: the path). */
export interface WeightFile {
  path: string;
  data: Uint8Array;
  location?: string;
}

/** A manifest entry with its place in model.json, for error messages. */
/**
 * The manifest entry of each of a model's weights (`modelEntries`: the manifest's model weights, optimizer slots left
 * out): by name when every name is there; else by order, when the counts agree (files converted from Keras name
 * their weights their own way, e.g. `lstm/lstm_cell/kernel`). Matching by order is said in a note, not silent: a
 * manifest whose names were edited or mislabelled then loads only if every shape fits, which the caller checks.
 * Undefined where a weight has no entry.
 */
export function manifestEntriesFor<E extends { field: string; spec: { name: string } }>(
  named: readonly { name: string }[],
  modelEntries: readonly E[],
  where: string,
  notes: string[],
): (E | undefined)[] {
  const byName = new Map(modelEntries.map((e) => [e.spec.name, e]));
  if (named.every((nw) => byName.has(nw.name)) || modelEntries.length !== named.length)
    return named.map((nw) => byName.get(nw.name));
  const i = named.findIndex((nw, j) => modelEntries[j].spec.name !== nw.name);
  notes.push(
    `${where}: the weights manifest names its weights differently from the model (${modelEntries[i].field} is ` +
      `'${modelEntries[i].spec.name}', the model's is '${named[i].name}'); they were matched in order, shapes checked`,
  );
  return [...modelEntries];
}

interface ManifestEntry {
  spec: WeightSpec;
  group: number;
  field: string;
  size: number;
  /** Byte offset in the concatenated weight data. */
  offset: number;
}

/** Largest weight, in values, recur reads (2 GB of float32). */
export const MAX_WEIGHT_VALUES = 2 ** 29;

/**
 * A lower bound of the values a layer's weights will hold for an input shape (without batch), known before the
 * layer is built: a config asking for a huge layer is refused before anything is allocated or initialised.
 * Classes not listed count 0 (they are checked after building, like every weight).
 */
export function weightValuesAtLeast(layer: Layer, input: readonly (number | null)[]): number {
  const d = input[input.length - 1] ?? 0;
  const l = layer as unknown as {
    units?: number;
    inputDim?: number;
    outputDim?: number;
    forwardLayer?: Layer;
    layer?: Layer;
  };
  switch (layer.className) {
    case 'Bidirectional':
      return l.forwardLayer ? 2 * weightValuesAtLeast(l.forwardLayer, input) : 0;
    case 'TimeDistributed':
      return l.layer ? weightValuesAtLeast(l.layer, input) : 0;
    case 'Dense':
      return d * (l.units ?? 0);
    case 'Embedding':
      return (l.inputDim ?? 0) * (l.outputDim ?? 0);
    case 'SimpleRNN':
    case 'LSTM':
    case 'GRU':
      return (d + (l.units ?? 0)) * (l.units ?? 0);
    default:
      return 0;
  }
}

/** The message of an error thrown with `where` prepended, without it (its field is named separately). */
function messageWithout(e: unknown, where: string): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.startsWith(`${where}: `) ? m.slice(where.length + 2) : m;
}

/** The manifest's weights in order, with their fields and byte offsets; duplicate names and sizes checked. */
function manifestEntries(json: ModelJson, where: string): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  const seen = new Map<string, string>();
  let offset = 0;
  json.weightsManifest.forEach((g, gi) =>
    g.weights.forEach((spec, k) => {
      const field = `weightsManifest[${gi}].weights[${k}]`;
      const earlier = seen.get(spec.name);
      if (earlier !== undefined)
        throw new ModelFileError(
          where,
          `${field}.name`,
          `weight '${spec.name}' is listed twice (also ${earlier})`,
        );
      seen.set(spec.name, field);
      const size = spec.shape.reduce((p, d) => p * d, 1);
      if (size > MAX_WEIGHT_VALUES)
        throw new ModelFileError(
          where,
          `${field}.shape`,
          `${shapeToString(spec.shape)} holds ${size} values; recur reads weights of at most ${MAX_WEIGHT_VALUES}`,
        );
      entries.push({ spec, group: gi, field, size, offset });
      offset += size * bytesPerValue(spec);
    }),
  );
  return entries;
}

/** Checks that each group's files hold exactly its weights' bytes; returns all the bytes, concatenated. */
function weightBytes(
  json: ModelJson,
  entries: ManifestEntry[],
  weights: Uint8Array | readonly WeightFile[],
  where: string,
): Uint8Array {
  const need = (g: number): number =>
    entries.filter((e) => g < 0 || e.group === g).reduce((s, e) => s + e.size * bytesPerValue(e.spec), 0);
  const describe = (needed: number, held: number): string =>
    `the weights manifest needs ${needed} bytes but the weight files hold ${held}` +
    (held < needed ? ' (truncated?)' : '');
  if (weights instanceof Uint8Array) {
    if (weights.length !== need(-1))
      throw new ModelFileError(where, 'weightsManifest', describe(need(-1), weights.length));
    return weights;
  }
  let i = 0;
  json.weightsManifest.forEach((g, gi) => {
    const held = weights.slice(i, i + g.paths.length).reduce((s, f) => s + f.data.length, 0);
    i += g.paths.length;
    if (held !== need(gi))
      throw new ModelFileError(
        where,
        `weightsManifest[${gi}]`,
        `${describe(need(gi), held)}: ${g.paths.join(', ')}`,
      );
  });
  const all = new Uint8Array(need(-1));
  let off = 0;
  for (const f of weights) {
    all.set(f.data, off);
    off += f.data.length;
  }
  return all;
}

/**
 * Verifies the sha256 recur recorded at save: of each weights file, of the topology and of the manifest. Returns a
 * note when there is nothing to verify against (a file saved by tfjs, Keras or an older recur).
 */
function verifyHashes(
  json: ModelJson,
  recorded: RecordedHashes | undefined,
  weights: Uint8Array | readonly WeightFile[],
  where: string,
): string | null {
  if (!recorded)
    return `${where}: no sha256 recorded (not saved by recur); the weights were loaded unverified`;
  const paths = json.weightsManifest.flatMap((g) => g.paths);
  const names = Object.keys(recorded.weights);
  if (paths.length !== names.length || paths.some((p) => !(p in recorded.weights))) {
    // Re-saved by another program under other file names: the record describes files that are not here.
    return `${where}: the sha256 recorded by recur are for ${names.join(', ') || 'no files'}, not ${paths.join(', ') || 'these weights'}; loaded unverified`;
  }
  const edited = (field: 'modelTopology' | 'weightsManifest'): ModelFileError =>
    new ModelFileError(
      where,
      field,
      `changed since recur saved the file: its sha256 differs from userDefinedMetadata.recur.sha256.${field} ` +
        '(delete userDefinedMetadata.recur.sha256 to load an edited file anyway)',
    );
  if (sha256HexOfText(canonicalJson(json.modelTopology)) !== recorded.modelTopology)
    throw edited('modelTopology');
  if (sha256HexOfText(canonicalJson(json.weightsManifest)) !== recorded.weightsManifest)
    throw edited('weightsManifest');
  const files: WeightFile[] =
    weights instanceof Uint8Array
      ? paths.length === 1
        ? [{ path: paths[0], data: weights }]
        : []
      : [...weights];
  if (files.length !== paths.length)
    return `${where}: the weights come as one buffer for ${paths.length} files; loaded unverified`;
  for (const f of files) {
    const got = sha256Hex(f.data);
    const want = recorded.weights[f.path];
    if (got !== want) {
      throw new ModelFileError(
        f.location ?? f.path,
        'sha256',
        `${got} differs from the ${want} recorded in ${where} (userDefinedMetadata.recur.sha256.weights${fieldPath([f.path])}): ` +
          'the file was changed or damaged after recur saved it',
      );
    }
  }
  return null;
}

/** One weight of a checked manifest: its spec, its place in model.json and its values (finite). */
export interface ManifestWeight {
  spec: WeightSpec;
  field: string;
  value: Float32Array;
}

/**
 * The weights a model.json lists, read from its weight files (or their bytes concatenated) with the checks every
 * recur model loader makes: duplicate names, sizes, byte counts, the sha256 recur recorded and finite values. By
 * name, in manifest order; `notes` says what could not be verified (a file saved by tfjs has no sha256).
 */
export function readManifestWeights(
  json: ModelJson,
  weights: Uint8Array | readonly WeightFile[],
  where: string,
): { values: Map<string, ManifestWeight>; notes: string[] } {
  const entries = manifestEntries(json, where);
  const weightData = weightBytes(json, entries, weights, where);
  const recur = ((json.userDefinedMetadata ?? {}) as { recur?: Partial<RecurMetadata> }).recur ?? {};
  const note = verifyHashes(json, recur.sha256, weights, where);
  const values = new Map<string, ManifestWeight>();
  for (const e of entries) {
    const value = readFloats(weightData, e.offset, e.size, e.spec);
    refuseNonFiniteIn(value, e, where);
    values.set(e.spec.name, { spec: e.spec, field: e.field, value });
  }
  return { values, notes: note ? [note] : [] };
}

/**
 * A copy of `model` with its weights as they are now and no optimizer, made through the model file format as a save
 * and a load would: what a generation that yields while the model trains steps, so that its text comes from one set
 * of weights however many batches run meanwhile.
 */
export function snapshotModel(model: Sequential): Sequential {
  const art = serializeModel(model, { includeOptimizer: false });
  const json: ModelJson = {
    ...art.json,
    weightsManifest: [{ paths: ['weights.bin'], weights: art.weightSpecs }],
  };
  return deserializeModel(json, art.weightData, `${model.name} (snapshot)`).model;
}

/**
 * A model from model.json and its weights: the weight files in manifest order (each checked against its recorded
 * sha256), or all their bytes concatenated. `json` is what `parseModelJson`/`validateModelJson` (model_file.ts)
 * returned. Weights are matched by name, or by order when none of the names match (files converted from Keras), with
 * every shape checked; a manifest weight no layer uses, a weight listed twice, a missing weight and a NaN or infinite
 * value are errors naming the weight. `where` names model.json in errors.
 */
export function deserializeModel(
  json: ModelJson,
  weights: Uint8Array | readonly WeightFile[],
  where: string,
): LoadedModel {
  const metadata = (json.userDefinedMetadata ?? {}) as Record<string, unknown>;
  const recur = (metadata.recur ?? {}) as Partial<RecurMetadata>;
  const notes: string[] = [];
  const entries = manifestEntries(json, where);
  const weightData = weightBytes(json, entries, weights, where);
  const note = verifyHashes(json, recur.sha256, weights, where);
  if (note) notes.push(note);
  const trainingOnly = trainingOnlyNote(json.modelTopology, where);
  if (trainingOnly) notes.push(trainingOnly);
  const pooling = tfjsMaskedPoolingNote(json.modelTopology, metadata, where);
  if (pooling) notes.push(pooling);
  const defaults = writerDefaultsNote(json, where);
  if (defaults) notes.push(defaults);

  const topo = json.modelTopology;
  const writer = modelJsonWriter(json);
  const layersField = 'modelTopology.config.layers';
  const inputName = sequentialInputName(recur, topo.config.layers);
  const model = new Sequential({
    name: topo.config.name,
    ...(inputName !== undefined ? { inputName } : {}),
    seed: typeof recur.seed === 'number' ? recur.seed : 0,
    // Every weight is read from the file below (a missing one is an error).
    weightsFollow: true,
  });
  let pendingShape: unknown = null;
  const layerFields: string[] = [];
  topo.config.layers.forEach((lj, i) => {
    if (lj.class_name === 'InputLayer') {
      pendingShape = lj.config.batch_input_shape ?? lj.config.batch_shape;
      return;
    }
    if (pendingShape && lj.config.batch_input_shape === undefined) {
      lj = { ...lj, config: { ...lj.config, batch_input_shape: pendingShape } };
      pendingShape = null;
    }
    try {
      model.add(layerFromKeras(lj, where, writer));
    } catch (e) {
      throw new ModelFileError(where, `${layersField}[${i}]`, messageWithout(e, where));
    }
    layerFields.push(`${layersField}[${i}]`);
  });
  if (model.layers.length === 0) throw new ModelFileError(where, layersField, 'no layers but an InputLayer');
  const input = model.inputShape();
  if (!input) {
    throw new ModelFileError(
      where,
      `${layerFields[0]}.config.batch_input_shape`,
      'missing: the first layer needs its input shape',
    );
  }
  // Refuse absurd layer sizes before building allocates and initialises them.
  const available = entries.reduce((s, e) => s + (e.spec.group === 'optimizer' ? 0 : e.size), 0);
  const shapes = model.outputShapes(input);
  let needed = 0;
  model.layers.forEach((l, i) => {
    needed += weightValuesAtLeast(l, i === 0 ? input : shapes[i - 1]);
    if (needed > available) {
      throw new ModelFileError(
        where,
        layerFields[i],
        `layer '${l.name}' (${l.className}) needs at least ${needed} weight values up to here, ` +
          `but the weights manifest holds ${available}`,
      );
    }
  });
  try {
    model.build();
  } catch (e) {
    throw new ModelFileError(where, layersField, messageWithout(e, where));
  }

  const modelEntries = entries.filter((e) => e.spec.group !== 'optimizer');
  const named = model.namedWeights();
  const matched = manifestEntriesFor(named, modelEntries, where, notes);
  const used = new Set<ManifestEntry>();
  named.forEach((nw, i) => {
    const entry = matched[i];
    if (!entry) {
      throw new ModelFileError(
        where,
        'weightsManifest',
        `weight '${nw.name}' is missing (the manifest lists ${modelEntries.length} model weights, the model has ${named.length})`,
      );
    }
    const shape = entry.spec.shape;
    if (shape.length !== nw.weight.shape.length || shape.some((d, j) => d !== nw.weight.shape[j])) {
      throw new ModelFileError(
        where,
        `${entry.field}.shape`,
        `weight '${nw.name}' should have shape ${shapeToString(nw.weight.shape)} but the file has ${shapeToString(shape)}`,
      );
    }
    const value = readFloats(weightData, entry.offset, entry.size, entry.spec);
    refuseNonFiniteIn(value, entry, where);
    nw.weight.value.set(value);
    used.add(entry);
  });
  const unused = modelEntries.find((e) => !used.has(e));
  if (unused) {
    throw new ModelFileError(
      where,
      unused.field,
      `weight '${unused.spec.name}' is not used by any layer of the model (its weights are ${named.map((n) => n.name).join(', ')})`,
    );
  }

  const optimizerEntries = entries.filter((e) => e.spec.group === 'optimizer');
  if (recur.compile) {
    const c = recur.compile;
    try {
      model.compile({
        optimizer: createOptimizer(c.optimizer.className, c.optimizer.config),
        loss: c.loss,
        metrics: c.metrics,
        fromLogits: c.fromLogits,
      });
    } catch (e) {
      throw new ModelFileError(where, 'userDefinedMetadata.recur.compile', messageWithout(e, where));
    }
    const sizes = new Map(named.map((nw) => [nw.name, nw.weight.value.length]));
    const slots: SlotValue[] = [];
    for (const e of optimizerEntries) {
      const name = e.spec.name.replace(/^optimizer\//, '');
      const weightName = name.slice(0, name.lastIndexOf('/'));
      const expected = name === 'iter' ? 1 : sizes.get(weightName);
      if (expected === undefined || e.size !== expected) {
        throw new ModelFileError(
          where,
          e.field,
          expected === undefined
            ? `optimizer slot '${e.spec.name}' belongs to no weight of the model`
            : `optimizer slot '${e.spec.name}' holds ${e.size} values; its weight has ${expected}`,
        );
      }
      const value = readFloats(weightData, e.offset, e.size, e.spec);
      refuseNonFiniteIn(value, e, where);
      slots.push({ name, shape: e.spec.shape, value });
    }
    try {
      if (slots.length > 0) model.optimizer!.setWeights(slots);
    } catch (err) {
      throw new ModelFileError(where, 'weightsManifest', messageWithout(err, where));
    }
  } else if (optimizerEntries.length > 0) {
    notes.push(ignoredOptimizerNote(optimizerEntries.length, where));
  }
  return { model, metadata, notes };
}

/** The note on a file's optimizer weights when it records no recur optimizer (tfjs's includeOptimizer saves them). */
export function ignoredOptimizerNote(count: number, where: string): string {
  return `${where}: ${count} optimizer weights ignored (no optimizer recorded in userDefinedMetadata.recur.compile)`;
}

function refuseNonFiniteIn(values: Float32Array, entry: ManifestEntry, where: string): void {
  const i = firstNonFinite(values);
  if (i >= 0) {
    throw new ModelFileError(
      where,
      entry.field,
      `weight '${entry.spec.name}' holds ${values[i]} at ${indexIn(entry.spec.shape, i)}; recur refuses non-finite weights`,
    );
  }
}

/** Weights of a model as tensors by file name (for inspection). */
export function weightsByName(model: Sequential): Map<string, Tensor> {
  return new Map(
    model.namedWeights().map(({ name, weight }) => [name, new Tensor(weight.value.slice(), weight.shape)]),
  );
}
