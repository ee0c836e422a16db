/**
 * Model files in the TensorFlow.js LayersModel format: a `model.json` with a Keras-style `modelTopology` and a
 * `weightsManifest`, and the weights as little-endian float32 in a binary file. recur writes every activation and
 * initialiser explicitly (tfjs's defaults differ from Keras's), adds its own data under
 * `userDefinedMetadata.recur`, and stores optimizer slots as weights of group "optimizer" (which tfjs reads too).
 * This module is pure (no file system); `src/node/model_io.ts` reads and writes directories.
 */
import { Tensor, shapeToString, sizeOf } from '../core/tensor.js';
import { activationName, activationToKeras } from '../layers/activations.js';
// Through the index, so every layer module has registered itself.
import { deserializeLayer, isLayerSpec, layerRegistration, type LayerSpec } from '../layers/index.js';
import type { InitializerSpec } from '../layers/initializers.js';
import { snakeCase, type Layer } from '../layers/layer.js';
import { createOptimizer, type SlotValue } from './optimizers.js';
import { Sequential } from './sequential.js';

export const FORMAT_VERSION = 1;
export const GENERATED_BY = 'recur 0.1.0';

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
  group?: 'model' | 'optimizer';
}

/** model.json, as tfjs writes it. */
export interface ModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: string | null;
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
  [key: string]: unknown;
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

/** Keys Keras/tfjs write that change nothing here when null/false/default. */
const IGNORED_KEYS = new Set([
  'dtype',
  'implementation',
  'unroll',
  'time_major',
  'seed',
  'noise_shape',
  'input_length_',
  'mask_zero',
  'sparse',
  'ragged',
]);

function camelCase(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** A layer from its Keras JSON, through the layer registry; `where` names the file for error messages. */
export function layerFromKeras(json: KerasLayerJson, where: string): Layer {
  return deserializeLayer(kerasToSpec(json, where), where);
}

/** Keras JSON (snake_case) → a layer spec (camelCase options), nested layers (`{class_name, config}`) included. */
function kerasToSpec(json: KerasLayerJson, where: string): LayerSpec {
  const layerName = typeof json.config?.name === 'string' ? json.config.name : '?';
  // Unknown classes fail here, naming the known ones, before their options are read.
  const registration = layerRegistration(json.class_name, where, layerName);
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json.config ?? {})) {
    if (IGNORED_KEYS.has(k)) {
      if (k === 'mask_zero' && v === true)
        throw new Error(`${where}: layer '${layerName}' uses mask_zero, which recur does not support`);
      continue;
    }
    if (/(_regularizer|_constraint)$/.test(k)) {
      if (v !== null && v !== undefined)
        throw new Error(`${where}: layer '${layerName}' uses ${k}, which recur does not support`);
      continue;
    }
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
      args[camelCase(k)] = kerasToSpec(v, where); // a wrapper's inner layer
      continue;
    }
    args[camelCase(k)] = v;
  }
  // Files written by tfjs/Keras without these keys used their own defaults.
  for (const [k, v] of Object.entries(registration.fileDefaults)) if (args[k] === undefined) args[k] = v;
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
  const weightSpecs: WeightSpec[] = [];
  const chunks: Float32Array[] = [];
  for (const { name, weight } of model.namedWeights()) {
    weightSpecs.push({ name, shape: [...weight.shape], dtype: 'float32' });
    chunks.push(weight.value);
  }
  const recur: RecurMetadata = { formatVersion: FORMAT_VERSION, seed: model.seed };
  if (model.optimizer && model.loss) {
    recur.compile = {
      loss: model.loss,
      metrics: model.metrics,
      fromLogits: model.fromLogits,
      optimizer: { className: model.optimizer.className, config: model.optimizer.getConfig() },
    };
    if (opts.includeOptimizer ?? true) {
      for (const slot of model.optimizer.getWeights()) {
        weightSpecs.push({
          name: `optimizer/${slot.name}`,
          shape: slot.shape,
          dtype: 'float32',
          group: 'optimizer',
        });
        chunks.push(slot.value);
      }
    }
  }
  const extra = opts.metadata ?? {};
  const userDefinedMetadata: Record<string, unknown> = {
    ...extra,
    recur: { ...recur, ...((extra.recur as object) ?? {}) },
  };
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const all = new Float32Array(total);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  const weightData = littleEndianBytes(all);
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

function littleEndianBytes(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) view.setFloat32(i * 4, a[i], true);
  return out;
}

function readFloats(bytes: Uint8Array, offset: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, n * 4);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

export interface LoadedModel {
  model: Sequential;
  /** `userDefinedMetadata` of the file. */
  metadata: Record<string, unknown>;
}

/** Validates model.json's structure, naming the file and the field that is wrong. */
export function parseModelJson(text: string, where: string): ModelJson {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
  }
  const j = json as Partial<ModelJson>;
  if (!j || typeof j !== 'object' || !j.modelTopology || typeof j.modelTopology !== 'object') {
    throw new Error(`${where}: missing 'modelTopology'; not a TensorFlow.js LayersModel file`);
  }
  const topo = ((j.modelTopology as { model_config?: unknown }).model_config ??
    j.modelTopology) as ModelJson['modelTopology'];
  if (topo.class_name !== 'Sequential') {
    throw new Error(
      `${where}: modelTopology is a '${String(topo.class_name)}'; recur loads Sequential models`,
    );
  }
  if (!Array.isArray(topo.config?.layers))
    throw new Error(`${where}: modelTopology.config.layers is missing`);
  if (!Array.isArray(j.weightsManifest)) throw new Error(`${where}: missing 'weightsManifest'`);
  return { ...(j as ModelJson), modelTopology: topo };
}

/**
 * A model from model.json and the concatenated weight files. Weights are matched by name, or by order when the names
 * differ (files converted from Keras), with every shape checked.
 */
export function deserializeModel(json: ModelJson, weightData: Uint8Array, where: string): LoadedModel {
  const metadata = (json.userDefinedMetadata ?? {}) as Record<string, unknown>;
  const recur = (metadata.recur ?? {}) as Partial<RecurMetadata>;
  const topo = json.modelTopology;
  const model = new Sequential({
    name: topo.config.name,
    seed: typeof recur.seed === 'number' ? recur.seed : 0,
  });
  let pendingShape: unknown = null;
  for (const lj of topo.config.layers) {
    if (lj.class_name === 'InputLayer') {
      pendingShape = lj.config.batch_input_shape ?? lj.config.batch_shape;
      continue;
    }
    if (pendingShape && lj.config.batch_input_shape === undefined) {
      lj.config = { ...lj.config, batch_input_shape: pendingShape };
      pendingShape = null;
    }
    model.add(layerFromKeras(lj, where));
  }
  model.build();
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const expectedBytes = specs.reduce((s, w) => s + sizeOf(w.shape) * 4, 0);
  for (const s of specs) {
    if (s.dtype !== 'float32')
      throw new Error(`${where}: weight '${s.name}' has dtype ${s.dtype}; recur reads float32 weights`);
  }
  if (weightData.length !== expectedBytes) {
    throw new Error(
      `${where}: the weights manifest needs ${expectedBytes} bytes but the weight files hold ${weightData.length}` +
        (weightData.length < expectedBytes ? ' (truncated?)' : ''),
    );
  }
  const values = new Map<string, { spec: WeightSpec; value: Float32Array }>();
  const modelSpecs: WeightSpec[] = [];
  let off = 0;
  for (const s of specs) {
    const n = sizeOf(s.shape);
    values.set(s.name, { spec: s, value: readFloats(weightData, off, n) });
    if (s.group !== 'optimizer') modelSpecs.push(s);
    off += n * 4;
  }
  const named = model.namedWeights();
  const byName = named.every((nw) => values.has(nw.name));
  if (!byName && modelSpecs.length !== named.length) {
    const missing = named.find((nw) => !values.has(nw.name))!;
    throw new Error(
      `${where}: weight '${missing.name}' is not in the weights manifest (it lists ${modelSpecs.length} model weights, the model has ${named.length})`,
    );
  }
  named.forEach((nw, i) => {
    const entry = byName ? values.get(nw.name)! : values.get(modelSpecs[i].name)!;
    const shape = entry.spec.shape;
    if (shape.length !== nw.weight.shape.length || shape.some((d, j) => d !== nw.weight.shape[j])) {
      throw new Error(
        `${where}: weight '${nw.name}' should have shape ${shapeToString(nw.weight.shape)} but the file has ${shapeToString(shape)}`,
      );
    }
    nw.weight.value.set(entry.value);
  });
  if (recur.compile) {
    const c = recur.compile;
    model.compile({
      optimizer: createOptimizer(c.optimizer.className, c.optimizer.config),
      loss: c.loss,
      metrics: c.metrics,
      fromLogits: c.fromLogits,
    });
    const slots: SlotValue[] = [];
    for (const { spec, value } of values.values()) {
      if (spec.group === 'optimizer')
        slots.push({ name: spec.name.replace(/^optimizer\//, ''), shape: spec.shape, value });
    }
    if (slots.length > 0) model.optimizer!.setWeights(slots);
  }
  return { model, metadata };
}

/** Weights of a model as tensors by file name (for inspection). */
export function weightsByName(model: Sequential): Map<string, Tensor> {
  return new Map(
    model.namedWeights().map(({ name, weight }) => [name, new Tensor(weight.value.slice(), weight.shape)]),
  );
}
