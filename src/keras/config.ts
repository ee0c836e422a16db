/**
 * Keras model configs (Keras 2's `model_config` attribute, Keras 3's config.json) → the tfjs/Keras-2 layout recur's
 * model readers take (src/models/serialization.ts and functional_serialization.ts), and the layer classes recur
 * reads. What differs between Keras versions is settled here, once:
 *
 * - Sequential `config` is a list of layers before Keras 2.2.3, a dict with `layers` after.
 * - Keras 3 wraps values in `{module, class_name, config, registered_name}` (dtype policies, activations), writes
 *   `batch_shape` for `batch_input_shape`, and inbound nodes as `{args, kwargs}` with `__keras_tensor__` entries
 *   (initial states under `kwargs.initial_state`); Keras 2 writes `[[layer, node, tensor, kwargs], …]`.
 * - `hard_sigmoid` is clip(0.2x + 0.5, 0, 1) up to Keras 2 and clip(x/6 + 0.5, 0, 1) in Keras 3.
 * - LeakyReLU's slope is `alpha` up to Keras 2 (and in tfjs), `negative_slope` in Keras 3.
 * - CuDNNLSTM / CuDNNGRU (Keras 2, GPU only) become LSTM / GRU(reset_after) with sigmoid gates; their weights are
 *   converted by weights.ts.
 *
 * Every error names the file and the place in the config (`model_config.config.layers[2]`).
 */
import { describeValue } from '../core/errors.js';
import { layerRegistration, registeredLayers } from '../layers/registry.js';
import { TRAINING_ONLY_KEY } from '../models/serialization.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** A layer of the translated config, with where it came from. */
export interface KerasLayer {
  /** Class recur builds (LSTM for CuDNNLSTM). */
  className: string;
  /** Class as the file names it. */
  fileClassName: string;
  name: string;
  /** Keras-2 style config (snake_case), translated. */
  config: JsonObject;
  /** tfjs-style inbound tensors of the layer's single node: [layer, node, tensor]. Empty for inputs and Sequential. */
  inbound: [string, number, number][];
  /** Place of the layer in the file, for errors. */
  field: string;
}

export interface KerasModelConfig {
  kind: 'sequential' | 'functional';
  /** The model class as the file names it (Sequential, Model, Functional). */
  className: string;
  name: string;
  layers: KerasLayer[];
  inputs: [string, number, number][];
  outputs: [string, number, number][];
  /** Major version of Keras that wrote the file (1, 2 or 3). */
  kerasMajor: number;
}

/** A Keras-2-or-later file written by Keras 1 (or a Keras 1 config): refused with this message. */
export class Keras1Error extends Error {}

export function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Major version from a keras_version string ('2.2.4-tf' → 2, '3.9.2' → 3); `fallback` when absent. */
export function kerasMajor(version: unknown, fallback: number): number {
  if (typeof version !== 'string') return fallback;
  const m = /^(\d+)\./.exec(version);
  return m ? Number(m[1]) : fallback;
}

const MODEL_CLASSES = ['Sequential', 'Model', 'Functional'];
/** Keras 3 keys that change nothing at inference or that recur derives itself. */
const DROPPED_KEYS = new Set([
  'module',
  'registered_name',
  'build_config',
  'compile_config',
  'shared_object_id',
  'zero_output_for_mask',
  'lora_rank',
  'lora_alpha',
  'quantization_config',
  'input_length',
  'optional',
]);
/** Keras 1 option names that Keras 2 renamed: a config holding them is a Keras 1 file. */
const KERAS1_KEYS = [
  'output_dim_',
  'init',
  'inner_init',
  'inner_activation',
  'W_regularizer',
  'U_regularizer',
];

/** An activation as Keras 2 spells it ('tanh') from a Keras 2 string or a Keras 3 serialized function. */
function activationOf(v: Json, major: number, where: string): Json {
  let name: Json = v;
  if (isObject(v)) {
    // Keras 3: {module: 'keras.activations', class_name: 'function', config: 'tanh', registered_name: 'tanh'}
    name =
      typeof v.config === 'string' ? v.config : isObject(v.config) ? (v.config.name ?? null) : v.class_name;
  }
  if (typeof name !== 'string' && name !== null) throw new Error(`${where}: expected an activation name`);
  if (name === 'hard_sigmoid' && major >= 3) return 'hard_sigmoid_keras3';
  return name;
}

/** Keras 3 `{module, class_name, config, registered_name}` → Keras 2 `{class_name, config}` (initializers). */
function plainObject(v: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) if (!DROPPED_KEYS.has(k)) out[k] = x;
  return out;
}

/**
 * One layer's `{class_name, config}` in the Keras 2 spelling recur reads (wrappers' inner layers too). Unknown
 * classes are refused here, naming the class and `field`.
 */
export function translateLayer(
  raw: Json,
  major: number,
  where: string,
  field: string,
): { className: string; fileClassName: string; config: JsonObject } {
  if (!isObject(raw) || typeof raw.class_name !== 'string' || !isObject(raw.config))
    throw new Error(`${where}: ${field}: expected a layer {class_name, config}`);
  const fileClassName = raw.class_name;
  const cfg = raw.config;
  const layerName = typeof cfg.name === 'string' ? cfg.name : '?';
  if (KERAS1_KEYS.some((k) => k in cfg))
    throw new Keras1Error(
      `${where}: ${field}: layer '${layerName}' has Keras 1 options (${KERAS1_KEYS.filter((k) => k in cfg).join(', ')}); Keras 1 files are not supported (load the model in Keras 2 and save it again)`,
    );
  let className = fileClassName;
  const config: JsonObject = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (DROPPED_KEYS.has(k)) continue;
    // Regularizers and constraints act only in training: the model computes the same without them (trainingOnlyNote
    // names the ones a file sets).
    if (TRAINING_ONLY_KEY.test(k)) continue;
    if (k === 'dtype') {
      // float32 everywhere (Keras 3 writes a DTypePolicy object); a quantized layer's weights are another thing.
      const policy = isObject(v) && isObject(v.config) ? v.config.name : v;
      if (typeof policy === 'string' && /^(int8|int4|float8)/.test(policy))
        throw new Error(
          `${where}: ${field}.config.dtype: layer '${layerName}' is quantized ('${policy}'), which recur does not support (save the model before quantizing it)`,
        );
      continue;
    }
    if (k === 'activation' || k === 'recurrent_activation')
      config[k] = activationOf(v, major, `${where}: ${field}.config.${k}`);
    else if (k === 'batch_shape') config.batch_input_shape = v;
    else if (k === 'layer' || k === 'backward_layer') {
      const inner = translateLayer(v, major, where, `${field}.config.${k}`);
      config[k] = { class_name: inner.className, config: inner.config };
    } else if (isObject(v) && typeof v.class_name === 'string') config[k] = plainObject(v);
    else config[k] = v;
  }
  if (fileClassName === 'CuDNNLSTM') {
    className = 'LSTM';
    Object.assign(config, { activation: 'tanh', recurrent_activation: 'sigmoid', use_bias: true });
  } else if (fileClassName === 'CuDNNGRU') {
    className = 'GRU';
    Object.assign(config, {
      activation: 'tanh',
      recurrent_activation: 'sigmoid',
      use_bias: true,
      reset_after: true,
    });
  }
  // Keras 3's LeakyReLU names its slope negative_slope, Keras 2's and tfjs's alpha (recur's option).
  if (className === 'LeakyReLU' && 'negative_slope' in config) {
    config.alpha = config.negative_slope;
    delete config.negative_slope;
  }
  if (className === 'InputLayer') return { className, fileClassName, config };
  // Bidirectional's backward_layer is its inner layer run backwards: recur makes it from `layer`, so one that
  // computes anything else (another class, units or activation) is refused rather than replaced.
  if (className === 'Bidirectional') {
    const backward = config.backward_layer;
    const forward = config.layer;
    if (isObject(backward) && isObject(forward)) {
      const difference = backwardLayerDifference(forward, backward);
      if (difference)
        throw new Error(
          `${where}: ${field}.config.backward_layer: layer '${layerName}' has a backward layer that differs from its ` +
            `forward layer in ${difference}; recur runs the forward layer's copy backwards (a backward_layer of its own is not supported)`,
        );
    }
    delete config.backward_layer;
  }
  if (!registeredLayers().includes(className)) {
    throw new Error(
      `${where}: ${field}: layer '${layerName}' has class '${fileClassName}', which recur cannot read ` +
        `(recur reads ${[...registeredLayers(), 'CuDNNLSTM', 'CuDNNGRU', 'InputLayer'].sort().join(', ')})`,
    );
  }
  layerRegistration(className);
  return { className, fileClassName, config };
}

/** Keys of a recurrent layer's config that change nothing it computes, or that differ between its two directions. */
const DIRECTION_KEYS = new Set(['name', 'go_backwards', 'trainable', 'seed']);

/**
 * What a Bidirectional's translated backward layer computes differently from its forward layer ('class' or the
 * first differing option), or null. Initializers are left out: the weights come from the file.
 */
function backwardLayerDifference(forward: JsonObject, backward: JsonObject): string | null {
  if (forward.class_name !== backward.class_name)
    return `class (${String(forward.class_name)} / ${String(backward.class_name)})`;
  const f = isObject(forward.config) ? forward.config : {};
  const b = isObject(backward.config) ? backward.config : {};
  for (const k of new Set([...Object.keys(f), ...Object.keys(b)])) {
    if (DIRECTION_KEYS.has(k) || k.endsWith('_initializer')) continue;
    if (JSON.stringify(f[k] ?? null) !== JSON.stringify(b[k] ?? null))
      return `${k} (${JSON.stringify(f[k] ?? null)} / ${JSON.stringify(b[k] ?? null)})`;
  }
  return null;
}

type Ref = [string, number, number];

/** Keras 3 `{args, kwargs}` inbound node → tfjs entries: the call's tensors, then its initial states. */
function keras3Inbound(node: JsonObject, where: string, field: string): Ref[] {
  const refs: Ref[] = [];
  const collect = (v: Json): void => {
    if (Array.isArray(v)) v.forEach(collect);
    else if (isObject(v)) {
      if (v.class_name === '__keras_tensor__' && isObject(v.config)) {
        const h = v.config.keras_history;
        if (
          !Array.isArray(h) ||
          typeof h[0] !== 'string' ||
          typeof h[1] !== 'number' ||
          typeof h[2] !== 'number'
        )
          throw new Error(`${where}: ${field}: a tensor without a valid keras_history`);
        refs.push([h[0], h[1], h[2]]);
      } else Object.values(v).forEach(collect);
    }
  };
  collect(node.args ?? []);
  const kwargs = isObject(node.kwargs) ? node.kwargs : {};
  for (const [k, v] of Object.entries(kwargs)) {
    if (k === 'initial_state') collect(v);
    else if (k === 'training' || (k === 'mask' && v === null)) continue;
    else {
      const before = refs.length;
      collect(v);
      if (refs.length !== before)
        throw new Error(
          `${where}: ${field}: the call passes a tensor as '${k}', which recur does not support`,
        );
    }
  }
  return refs;
}

function inboundOf(raw: JsonObject, where: string, field: string): Ref[] {
  const nodes = raw.inbound_nodes;
  if (nodes === undefined || (Array.isArray(nodes) && nodes.length === 0)) return [];
  if (!Array.isArray(nodes)) throw new Error(`${where}: ${field}.inbound_nodes: expected a list`);
  if (nodes.length > 1)
    throw new Error(
      `${where}: ${field}: layer '${String(raw.name)}' is applied ${nodes.length} times; recur supports layers applied once (no shared layers)`,
    );
  const node = nodes[0];
  if (isObject(node)) return keras3Inbound(node, where, `${field}.inbound_nodes[0]`);
  if (!Array.isArray(node))
    throw new Error(`${where}: ${field}.inbound_nodes[0]: expected a list of tensors`);
  return node.map((t, i) => {
    if (!Array.isArray(t) || typeof t[0] !== 'string' || typeof t[1] !== 'number' || typeof t[2] !== 'number')
      throw new Error(`${where}: ${field}.inbound_nodes[0][${i}]: expected [layer, node, tensor, kwargs]`);
    return [t[0], t[1], t[2]];
  });
}

function refList(v: Json | undefined, where: string, field: string): Ref[] {
  // Keras 3 writes a model's dict of inputs or outputs as a dict ({"enc": ["input_layer", 0, 0]}), in the order its
  // tree.flatten gives them: sorted by key.
  const entries: [string, Json][] = isObject(v)
    ? Object.keys(v)
        .sort()
        .map((k) => [`${field}.${k}`, v[k]])
    : Array.isArray(v)
      ? // Keras 3 writes a single input or output flat: ["dense", 0, 0].
        (typeof v[0] === 'string' ? [v] : v).map((r, i) => [`${field}[${i}]`, r])
      : [];
  if (entries.length === 0)
    throw new Error(`${where}: ${field}: expected a list (or Keras 3's dict) of [layer, node, tensor]`);
  return entries.map(([f, r]) => {
    if (!Array.isArray(r) || typeof r[0] !== 'string' || typeof r[1] !== 'number' || typeof r[2] !== 'number')
      throw new Error(`${where}: ${f}: expected [layer, node, tensor]`);
    return [r[0], r[1], r[2]];
  });
}

/**
 * A model config from a Keras file (`raw` is the parsed JSON), translated; `field` names where it sits
 * ('model_config' attribute, 'config.json'), `major` is the Keras major version of the file.
 */
export function translateModelConfig(
  raw: Json,
  major: number,
  where: string,
  field: string,
): KerasModelConfig {
  if (major < 2)
    throw new Keras1Error(
      `${where}: a Keras ${major} file; Keras 1 files are not supported (load it in Keras 2 and save it again)`,
    );
  if (!isObject(raw) || typeof raw.class_name !== 'string')
    throw new Error(`${where}: ${field}: expected a model {class_name, config}`);
  const className = raw.class_name;
  if (!MODEL_CLASSES.includes(className))
    throw new Error(
      `${where}: ${field}.class_name: '${className}' is not a model class recur reads (${MODEL_CLASSES.join(', ')})`,
    );
  const cfg = raw.config;
  const layersRaw = Array.isArray(cfg) ? cfg : isObject(cfg) ? cfg.layers : undefined;
  const layersField = Array.isArray(cfg) ? `${field}.config` : `${field}.config.layers`;
  if (!Array.isArray(layersRaw)) throw new Error(`${where}: ${layersField}: expected a list of layers`);
  const name = isObject(cfg) && typeof cfg.name === 'string' ? cfg.name : className.toLowerCase();
  const layers: KerasLayer[] = layersRaw.map((l, i) => {
    const lf = `${layersField}[${i}]`;
    const t = translateLayer(l, major, where, lf);
    const lo = l as JsonObject;
    const cfgName = (lo.config as JsonObject).name;
    const layerName = typeof lo.name === 'string' ? lo.name : typeof cfgName === 'string' ? cfgName : '';
    if (layerName === '') throw new Error(`${where}: ${lf}.config.name: missing`);
    t.config.name = layerName;
    const inbound = className === 'Sequential' ? [] : inboundOf(lo, where, lf);
    return { ...t, name: layerName, inbound, field: lf };
  });
  if (className === 'Sequential')
    return { kind: 'sequential', className, name, layers, inputs: [], outputs: [], kerasMajor: major };
  // Keras feeds token ids to an Embedding through a float32 Input (Embedding casts them); recur types them int32.
  for (const l of layers) {
    if (l.className !== 'InputLayer') continue;
    const consumers = layers.filter((m) => m.inbound.some((r) => r[0] === l.name));
    const raw = (layersRaw[layers.indexOf(l)] as JsonObject).config as JsonObject;
    const ids = consumers.length > 0 && consumers.every((m) => m.className === 'Embedding');
    l.config.dtype = ids || raw.dtype === 'int32' ? 'int32' : 'float32';
  }
  const c = cfg as JsonObject;
  return {
    kind: 'functional',
    className,
    name,
    layers,
    inputs: refList(c.input_layers, where, `${field}.config.input_layers`),
    outputs: refList(c.output_layers, where, `${field}.config.output_layers`),
    kerasMajor: major,
  };
}

/** Keras 3's snake_case of a class name (keras/src/utils/naming.py to_snake_case): weights-file paths use it. */
export function kerasSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** Largest size of one axis or unit count recur reads (as model_file.ts's MAX_DIM). */
export const MAX_KERAS_DIM = 2 ** 24;
const SIZE_KEYS = ['units', 'input_dim', 'output_dim', 'n'];

/**
 * Refuses a config asking for layers bigger than the file's weights could fill (or absurd sizes) before anything is
 * allocated: a damaged `units: 1e9` is an error naming the place, not an out-of-memory crash. `available` is the
 * number of weight values in the file.
 */
export function checkSizes(cfg: KerasModelConfig, available: number, where: string): void {
  const walk = (config: JsonObject, field: string): void => {
    for (const [k, v] of Object.entries(config)) {
      if (SIZE_KEYS.includes(k) && v !== null && v !== undefined) {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_KERAS_DIM)
          throw new Error(
            `${where}: ${field}.config.${k}: expected a positive integer ≤ ${MAX_KERAS_DIM}, got ${describeValue(v)}`,
          );
        if (k !== 'n' && v > available)
          throw new Error(
            `${where}: ${field}.config.${k}: ${v} is more than the ${available} weight values the file holds`,
          );
      }
      if (k === 'batch_input_shape' && Array.isArray(v)) {
        // Each axis sizes a buffer (and the last one a kernel): an absurd one is refused here, before building.
        v.forEach((d, i) => {
          if (
            i > 0 &&
            d !== null &&
            (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > MAX_KERAS_DIM)
          )
            throw new Error(
              `${where}: ${field}.config.${k}[${i}]: expected null or a positive integer ≤ ${MAX_KERAS_DIM}, got ${describeValue(d)}`,
            );
        });
      }
      if ((k === 'layer' || k === 'backward_layer') && isObject(v) && isObject(v.config))
        walk(v.config, `${field}.config.${k}`);
    }
  };
  for (const l of cfg.layers) walk(l.config, l.field);
}
