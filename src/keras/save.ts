/**
 * Writing recur models as Keras files (bytes; src/node writes them atomically):
 *
 * - `.keras` in Keras 3's layout (keras/src/saving/saving_lib.py): config.json with `module`/`class_name`/`config`/
 *   `registered_name` and each layer's `build_config`, Keras 3 inbound nodes (`{args, kwargs}`, initial states under
 *   `kwargs.initial_state`), metadata.json, and model.weights.h5 with `layers/<snake_case class>[_n]/vars/<i>` (a
 *   recurrent layer's under `cell/vars`, Bidirectional's under `forward_layer/cell` and `backward_layer/cell`,
 *   TimeDistributed's under `layer`), every object's `vars` group named by a `name` attribute, as Keras writes it.
 * - `.h5` in Keras 2's legacy full-model layout (what `model.save('m.h5')` writes in tf.keras 2.x): root attributes
 *   keras_version, backend, model_config; /model_weights with `layer_names`, one group per layer with
 *   `weight_names` and its datasets at `<layer>/<layer>/<weight>:0`.
 *
 * The two hard sigmoids decide what can be written: Keras 3's `hard_sigmoid` is recur's hardSigmoidKeras3, Keras 2's
 * is recur's hardSigmoid; a model using the other one is refused, naming the layer (Keras would compute differently).
 */
import { InvalidInputError } from '../core/errors.js';
import type { Layer } from '../layers/layer.js';
import { Functional, InputLayer } from '../models/functional.js';
import { serializeFunctional } from '../models/functional_serialization.js';
import { defaultInputName, Sequential } from '../models/sequential.js';
import { layerToKeras, serializeModel, type KerasLayerJson } from '../models/serialization.js';
import { layersOfClasses, maskedPoolingClasses } from '../models/tfjs_compat.js';
import { writeKerasArchive } from './archive.js';
import { isObject, kerasSnakeCase, type Json, type JsonObject } from './config.js';
import { dataset, group, writeH5, type H5Group } from './h5.js';

/** The Keras 3 version recur's .keras files declare (the newest whose layout recur follows). */
export const KERAS3_VERSION = '3.9.2';
/** The Keras version recur's .h5 files declare (tf.keras 2.x's legacy HDF5 layout). */
export const KERAS2_VERSION = '2.15.0';

export interface SavedKeras {
  bytes: Uint8Array;
  notes: string[];
}

type Model = Sequential | Functional;

const DTYPE_POLICY: JsonObject = {
  module: 'keras',
  class_name: 'DTypePolicy',
  config: { name: 'float32' },
  registered_name: null,
};

/** Layer config keys Keras 3 does not take in the constructor. */
const NOT_KERAS3 = new Set(['batch_input_shape', 'use_causal_mask']);

function activationsOf(layer: Layer): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  const walk = (v: unknown, owner: string): void => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, owner));
    else if (isObject(v as Json)) {
      const o = v as JsonObject;
      const name = typeof o.name === 'string' ? o.name : owner;
      for (const [k, x] of Object.entries(o)) {
        if ((k === 'activation' || k === 'recurrent_activation') && typeof x === 'string')
          out.push({ name, value: x });
        else walk(x, name);
      }
    }
  };
  walk(layerToKeras(layer).config, layer.name);
  return out;
}

/**
 * Refuses the hard sigmoid the target Keras version does not have, and tfjs's gelu_new (Keras's
 * gelu(approximate=True), which no Keras file can name), naming the layer.
 */
function checkHardSigmoid(model: Model, major: 2 | 3): void {
  const bad = major === 3 ? 'hard_sigmoid' : 'hard_sigmoid_keras3';
  for (const l of model.layers) {
    const gelu = activationsOf(l).find((a) => a.value === 'gelu_new');
    if (gelu)
      throw new InvalidInputError(
        `layer '${gelu.name}' uses gelu_new, the tanh approximation of gelu (Keras's gelu(approximate=True)), which a Keras file cannot name (its 'gelu' is the exact form); save it as a recur model directory`,
      );
    const hit = activationsOf(l).find((a) => a.value === bad);
    if (hit) {
      throw new InvalidInputError(
        major === 3
          ? `layer '${hit.name}' uses Keras 2's hard_sigmoid, clip(0.2x + 0.5, 0, 1); Keras 3's hard_sigmoid is clip(x/6 + 0.5, 0, 1), so a .keras file would compute differently. Save it as .h5 (Keras 2 layout) or a recur model directory`
          : `layer '${hit.name}' uses Keras 3's hard_sigmoid, clip(x/6 + 0.5, 0, 1), which Keras 2's .h5 layout cannot express; save it as .keras`,
      );
    }
  }
}

/**
 * Keras 3 loads Keras 2's .h5 files too, but reads `hard_sigmoid` as its own, clip(x/6 + 0.5, 0, 1): a .h5 with Keras
 * 2's hard sigmoid predicts as recur does in Keras 2 and tf.keras only. The note names those layers; null for none.
 */
export function keras3HardSigmoidNote(model: Model): string | null {
  const names = [
    ...new Set(
      model.layers.flatMap((l) =>
        activationsOf(l)
          .filter((a) => a.value === 'hard_sigmoid')
          .map((a) => `'${a.name}'`),
      ),
    ),
  ];
  if (names.length === 0) return null;
  return (
    `${names.length > 1 ? 'layers' : 'layer'} ${names.join(', ')} ${names.length > 1 ? 'use' : 'uses'} Keras 2's ` +
    'hard_sigmoid, clip(0.2x + 0.5, 0, 1), as Keras 2 and tf.keras read this file; Keras 3 loads .h5 files too but ' +
    "computes its hard_sigmoid as clip(x/6 + 0.5, 0, 1), so its predictions differ from recur's"
  );
}

/** A Keras 2 (tfjs-style) layer config → Keras 3's. */
function keras3Value(key: string, v: Json): Json {
  if ((key === 'activation' || key === 'recurrent_activation') && v === 'hard_sigmoid_keras3')
    return 'hard_sigmoid';
  if (key.endsWith('_initializer') && isObject(v))
    return {
      module: 'keras.initializers',
      class_name: v.class_name,
      config: v.config ?? {},
      registered_name: null,
    };
  if ((key === 'layer' || key === 'backward_layer') && isObject(v)) return keras3Layer(v);
  return v;
}

function keras3Layer(lj: JsonObject): JsonObject {
  const src = lj.config as JsonObject;
  const config: JsonObject = { name: src.name, trainable: src.trainable ?? true, dtype: DTYPE_POLICY };
  for (const [k, v] of Object.entries(src)) {
    if (k === 'name' || k === 'trainable' || k === 'dtype' || NOT_KERAS3.has(k)) continue;
    // Keras 3's LeakyReLU takes Keras 2's `alpha` only with a deprecation warning.
    config[lj.class_name === 'LeakyReLU' && k === 'alpha' ? 'negative_slope' : k] = keras3Value(k, v);
  }
  if (lj.class_name === 'Bidirectional' && isObject(config.layer)) {
    // Keras 3 writes both directions: the forward layer and its go_backwards copy.
    const fwd = config.layer as JsonObject;
    const fc = fwd.config as JsonObject;
    fwd.config = { ...fc, name: `forward_${String(fc.name)}` };
    config.backward_layer = {
      ...fwd,
      config: { ...fc, name: `backward_${String(fc.name)}`, go_backwards: !fc.go_backwards },
    };
  }
  return { module: 'keras.layers', class_name: lj.class_name, config, registered_name: null };
}

function nullableShape(shape: readonly (number | null)[]): Json {
  return [...shape] as Json;
}

/**
 * The batch size a model's inputs declare (a stateful model's), or null. Keras builds every layer with it, so its
 * build_config and tensor shapes carry it; Keras 3 refuses to build a stateful RNN from a shape without one.
 */
function declaredBatch(model: Model): number | null {
  const sizes =
    model instanceof Functional
      ? model.inputs.map((x) => (x.node.layer as InputLayer).declaredBatchSize)
      : [model.layers[0].declaredBatchSize];
  return sizes.every((b) => b !== null && b === sizes[0]) ? sizes[0] : null;
}

/** A shape with its batch axis (the first) set to the model's declared batch size. */
function batchedShape(shape: readonly (number | null)[], batch: number | null): Json {
  return nullableShape([batch, ...shape.slice(1)]);
}

function keras3Tensor(shape: Json, dtype: string, history: [string, number, number]): JsonObject {
  return {
    class_name: '__keras_tensor__',
    config: { shape, dtype, keras_history: history },
  };
}

function layerJson(l: Layer): JsonObject {
  return layerToKeras(l) as unknown as JsonObject;
}

/**
 * A functional model's nodes in the order Keras 3 lists its layers (keras/src/ops/function.py map_graph): by depth
 * from the outputs, deepest first, ties in the order a depth-first walk from the outputs first reaches them. Keras
 * names weights-file paths in this order, so recur writes (and Keras reads) them consistently.
 */
export function kerasNodeOrder(model: Functional): Functional['nodes'] {
  type Node = Functional['nodes'][number];
  const index = new Map<Node, number>();
  const finished: Node[] = [];
  const done = new Set<Node>();
  const visit = (node: Node): void => {
    if (done.has(node)) return;
    if (!index.has(node)) index.set(node, index.size);
    for (const x of node.inputs) visit(x.node);
    done.add(node);
    finished.push(node);
  };
  for (const y of model.outputs) visit(y.node);
  const depth = new Map<Node, number>();
  for (const node of [...finished].reverse()) {
    const d = depth.get(node) ?? 0;
    depth.set(node, d);
    for (const x of node.inputs) depth.set(x.node, Math.max(d + 1, depth.get(x.node) ?? 0));
  }
  for (const node of model.nodes) {
    if (depth.has(node)) continue;
    depth.set(node, 0); // an input no output depends on
    index.set(node, -1);
  }
  return [...model.nodes].sort((a, b) => depth.get(b)! - depth.get(a)! || index.get(a)! - index.get(b)!);
}

/** config.json of a .keras file. */
function keras3Config(model: Model): JsonObject {
  const batch = declaredBatch(model);
  if (model instanceof Functional) {
    const layers: JsonObject[] = kerasNodeOrder(model).map((node) => {
      const l = node.layer;
      if (l instanceof InputLayer) {
        return {
          module: 'keras.layers',
          class_name: 'InputLayer',
          config: {
            batch_shape: [l.declaredBatchSize, ...l.inputShape!],
            dtype: l.dtype,
            sparse: false,
            name: l.name,
          },
          registered_name: null,
          name: l.name,
          inbound_nodes: [],
        };
      }
      const base = keras3Layer(layerJson(l));
      const refs = node.inputs.map((x) =>
        keras3Tensor(batchedShape(x.shape, batch), x.dtype, [x.node.layer.name, 0, x.outputIndex]),
      );
      const recurrent = (l as { stateCount?: number }).stateCount !== undefined && refs.length > 1;
      const kwargs: JsonObject = {};
      const causal = (layerJson(l).config as JsonObject).use_causal_mask;
      if (causal === true) kwargs.use_causal_mask = true;
      let args: Json[];
      let buildConfig: JsonObject;
      if (recurrent) {
        args = [refs[0]];
        kwargs.initial_state = refs.slice(1);
        kwargs.training = false;
        buildConfig = {
          shapes_dict: {
            sequences_shape: batchedShape(node.inputs[0].shape, batch),
            initial_state_shape: node.inputs.slice(1).map((x) => batchedShape(x.shape, batch)),
          },
        };
      } else {
        args = refs.length === 1 ? [refs[0]] : [refs];
        buildConfig = {
          input_shape:
            refs.length === 1
              ? batchedShape(node.inputs[0].shape, batch)
              : node.inputs.map((x) => batchedShape(x.shape, batch)),
        };
      }
      const entry: JsonObject = {
        ...base,
        build_config: buildConfig,
        name: l.name,
        inbound_nodes: [{ args, kwargs }],
      };
      return entry;
    });
    return {
      module: 'keras.src.models.functional',
      class_name: 'Functional',
      config: {
        name: model.name,
        trainable: true,
        layers,
        input_layers: model.inputs.map((x) => [x.node.layer.name, 0, 0]),
        output_layers: model.outputs.map((y) => [y.node.layer.name, 0, y.outputIndex]),
      },
      registered_name: 'Functional',
      build_config: { input_shape: null },
    };
  }
  const input = model.inputShape();
  if (!input) throw new InvalidInputError(`model '${model.name}': the first layer has no input shape`);
  const shapes = model.outputShapes(input);
  const batchShape = [batch, ...input];
  const first = model.layers[0];
  const inputDtype = first.className === 'Embedding' ? 'int32' : 'float32';
  const layers: JsonObject[] = [
    {
      module: 'keras.layers',
      class_name: 'InputLayer',
      config: {
        batch_shape: nullableShape(batchShape),
        dtype: inputDtype,
        sparse: false,
        name: model.inputName ?? defaultInputName(model),
      },
      registered_name: null,
    },
    ...model.layers.map((l, i) => ({
      ...keras3Layer(layerJson(l)),
      build_config: { input_shape: nullableShape([batch, ...(i === 0 ? input : shapes[i - 1])]) },
    })),
  ];
  return {
    module: 'keras',
    class_name: 'Sequential',
    config: {
      name: model.name,
      trainable: true,
      dtype: DTYPE_POLICY,
      layers,
      build_input_shape: nullableShape(batchShape),
    },
    registered_name: null,
    build_config: { input_shape: nullableShape(batchShape) },
  };
}

/** Puts `node` at a slash-separated path under `root`, making the groups on the way. */
function put(root: H5Group, path: string, node: H5Group | ReturnType<typeof dataset>): void {
  const parts = path.split('/');
  let g = root;
  for (const p of parts.slice(0, -1)) {
    let next = g.children.get(p);
    if (!next) {
      next = group();
      g.children.set(p, next);
    }
    if (next.kind !== 'group') throw new Error(`${path}: '${p}' is a dataset`);
    g = next;
  }
  g.children.set(parts[parts.length - 1], node);
}

/** A `vars` group named `name` holding `values` as 0, 1, …. */
function varsGroup(name: string, weights: { shape: readonly number[]; value: Float32Array }[]): H5Group {
  return group(
    { name },
    weights.map((w, i) => [String(i), dataset(w.shape, w.value.slice())]),
  );
}

const CELL_NAMES: Record<string, string> = {
  LSTM: 'lstm_cell',
  GRU: 'gru_cell',
  SimpleRNN: 'simple_rnn_cell',
};

/** One layer's objects in a Keras 3 weights file, under `path`. */
function keras3LayerGroups(root: H5Group, path: string, layer: Layer): void {
  const cell = CELL_NAMES[layer.className];
  if (cell) {
    put(root, `${path}/vars`, varsGroup(layer.name, []));
    put(root, `${path}/cell/vars`, varsGroup(cell, layer.weights));
    return;
  }
  if (layer.className === 'Bidirectional') {
    const half = layer.weights.length / 2;
    const inner = layer as unknown as { forwardLayer?: Layer; backwardLayer?: Layer };
    const innerClass = inner.forwardLayer?.className ?? 'LSTM';
    put(root, `${path}/vars`, varsGroup(layer.name, []));
    for (const [dir, ws] of [
      ['forward_layer', layer.weights.slice(0, half)],
      ['backward_layer', layer.weights.slice(half)],
    ] as const) {
      const dirLayer = dir === 'forward_layer' ? inner.forwardLayer : inner.backwardLayer;
      put(root, `${path}/${dir}/vars`, varsGroup(dirLayer?.name ?? dir, []));
      put(root, `${path}/${dir}/cell/vars`, varsGroup(CELL_NAMES[innerClass] ?? 'cell', ws));
    }
    return;
  }
  if (layer.className === 'TimeDistributed') {
    const inner = (layer as unknown as { layer: Layer }).layer;
    put(root, `${path}/vars`, varsGroup(layer.name, []));
    keras3LayerGroups(root, `${path}/layer`, inner);
    return;
  }
  put(root, `${path}/vars`, varsGroup(layer.name, layer.weights));
}

/** model.weights.h5 of a .keras file. */
async function keras3Weights(model: Model): Promise<Uint8Array> {
  const root = group();
  const used = new Map<string, number>();
  const layers = model instanceof Functional ? kerasNodeOrder(model).map((n) => n.layer) : model.layers;
  for (const l of layers) {
    const base = kerasSnakeCase(l.className);
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    keras3LayerGroups(root, `layers/${n === undefined ? base : `${base}_${n + 1}`}`, l);
  }
  put(root, 'vars', varsGroup(model.name, []));
  return writeH5(root);
}

/**
 * JSON as pure ASCII (every other character as a \u escape): HDF5 readers take Keras's fixed-length string
 * attributes as bytes, and ASCII reads back the same in h5py, h5wasm and recur whatever they assume of the encoding.
 */
export function asciiJson(v: unknown): string {
  return JSON.stringify(v).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Keras's GlobalMaxPooling1D takes no mask (keras/src/layers/pooling/global_max_pooling1d.py: ops.max over all
 * steps), where recur's skips masked steps: a model (config, as saved or read) with both computes otherwise in Keras
 * on padded inputs. The note says so; null when the model has no such pooling.
 */
export function kerasMaskedMaxPoolingNote(config: unknown): string | null {
  return maskedPoolingClasses(config, ['GlobalMaxPooling1D']).length === 0 ? null : KERAS_MASKED_MAX_POOLING;
}

/** What kerasMaskedMaxPoolingNote says (the loader finds the same layers in a file's config its own way). */
export const KERAS_MASKED_MAX_POOLING =
  "Keras's GlobalMaxPooling1D ignores the mask (it pools padded steps too) where recur's skips them, so on " +
  "padded inputs Keras's predictions differ from recur's";

/**
 * Keras's Bidirectional sets zero_output_for_mask on its RNNs whenever it returns sequences, whatever their config says
 * (keras/src/layers/rnn/bidirectional.py, as tf.keras 2's wrappers.py): Keras outputs zeros at masked steps, where
 * recur's layers, like tfjs's, repeat the previous step's output. recur keeps its computation (the same model must
 * compute alike whichever file it came from, and tfjs files ask the other way); a model (config, as saved) with a mask
 * and such a Bidirectional gets this note naming the layers; null otherwise.
 */
export function kerasMaskedBidirectionalNote(config: unknown): string | null {
  if (maskedPoolingClasses(config, ['Bidirectional']).length === 0) return null;
  const names = layersOfClasses(config, ['Bidirectional'])
    .filter((l) => isObject(l.config.layer) && isObject(l.config.layer.config))
    .filter((l) => ((l.config.layer as JsonObject).config as JsonObject).return_sequences === true)
    .map((l) => `'${l.name}'`);
  if (names.length === 0) return null;
  return (
    `Keras's Bidirectional outputs zeros at masked steps when it returns sequences (it sets zero_output_for_mask), ` +
    `where recur's repeats the previous step's output: on padded inputs the outputs of ${names.join(', ')} at ` +
    "padded steps, and what reads them there, differ from recur's"
  );
}

/**
 * Layer classes recur reads and writes that Keras cannot load, and why: recur's own, other projects' custom layers,
 * and those a Keras version dropped (ThresholdedReLU: Keras 2 only).
 */
const KERAS_CANNOT_LOAD: Record<string, { why: string; majors: readonly number[] }> = {
  AttentionDecoder: { why: "recur's own layer", majors: [2, 3] },
  AttentionWeightedAverage: {
    why: "textgenrnn's custom layer, which Keras loads only given textgenrnn's class as a custom object",
    majors: [2, 3],
  },
  ThresholdedReLU: { why: 'a Keras 2 layer that Keras 3 dropped', majors: [3] },
};

/**
 * The note a Keras file of `major`'s layout needs when its config (as saved) has a layer Keras cannot load: the
 * file is written (recur reads it back), and the note names each such layer and why. Null when Keras loads it all.
 */
export function kerasCannotLoadNote(config: unknown, major: 2 | 3): string | null {
  const classes = Object.keys(KERAS_CANNOT_LOAD).filter((c) => KERAS_CANNOT_LOAD[c].majors.includes(major));
  const found = layersOfClasses(config, classes);
  if (found.length === 0) return null;
  const named = found.map((l) => `'${l.name}' (${l.className}: ${KERAS_CANNOT_LOAD[l.className].why})`);
  return `Keras ${major} cannot load this file: it has no class for layer ${named.join(', ')}; recur reads it`;
}

/**
 * A .keras file (Keras 3 layout) of a model. `date` is recorded as date_saved (default now). `metadata` (a recur
 * model's userDefinedMetadata: a text model's vocabulary and settings) goes into metadata.json, which Keras writes
 * and never reads back, as `userDefinedMetadata`; loadKerasModel restores it.
 */
export async function saveKerasArchive(
  model: Model,
  date = new Date(),
  metadata: Record<string, unknown> = {},
): Promise<SavedKeras> {
  checkHardSigmoid(model, 3);
  // As the tfjs and .h5 writers do: a Sequential model with an input shape has weights before its first fit.
  if (model instanceof Sequential && !model.isBuilt) model.build();
  const config = keras3Config(model);
  const weights = await keras3Weights(model);
  const notes = [
    kerasCannotLoadNote(config, 3),
    kerasMaskedMaxPoolingNote(config),
    kerasMaskedBidirectionalNote(config),
  ].filter((n) => n !== null);
  return { bytes: writeKerasArchive(config, weights, KERAS3_VERSION, date, metadata), notes };
}

/**
 * An .h5 file (Keras 2 legacy full-model layout) of a model. `metadata` (as for saveKerasArchive) goes into a root
 * attribute `userDefinedMetadata` (JSON), beside keras_version and model_config; Keras's loader reads only its own.
 */
/**
 * A Sequential model's Keras 2 config: tfjs's, plus, when the input has a name of its own (Sequential.inputName), an
 * InputLayer carrying it at the head of the layers, as tf.keras 2 writes a Sequential model built on an Input.
 */
function keras2SequentialConfig(
  model: Sequential,
  config: { name: string; layers: { class_name: string; config: Record<string, unknown> }[] },
): typeof config {
  if (model.inputName === null || model.inputName === defaultInputName(model)) return config;
  const [first, ...rest] = config.layers;
  const { batch_input_shape: batchInputShape, ...firstConfig } = first.config;
  const inputLayer = {
    class_name: 'InputLayer',
    config: {
      batch_input_shape: batchInputShape,
      dtype: model.layers[0].className === 'Embedding' ? 'int32' : 'float32',
      sparse: false,
      ragged: false,
      name: model.inputName,
    },
  };
  return { ...config, layers: [inputLayer, { ...first, config: firstConfig }, ...rest] };
}

/** A functional topology's layer entries in the order of `layers` (matched by their config's name). */
function inKerasOrder(entries: readonly KerasLayerJson[], layers: readonly Layer[]): KerasLayerJson[] {
  const byName = new Map(entries.map((e) => [e.config.name, e]));
  return layers.map((l) => byName.get(l.name)!);
}

export async function saveKerasH5(model: Model, metadata: Record<string, unknown> = {}): Promise<SavedKeras> {
  checkHardSigmoid(model, 2);
  const art =
    model instanceof Functional
      ? serializeFunctional(model, { includeOptimizer: false })
      : serializeModel(model, { includeOptimizer: false });
  const topo = art.json.modelTopology;
  // Keras loads a full model's .h5 weights by position (load_weights_from_hdf5_group): `layer_names` in the order
  // of the model's layers as Keras rebuilds them, the graph's (kerasNodeOrder), not recur's node order. The config
  // lists them the same way, as Keras writes it.
  const layers = model instanceof Functional ? kerasNodeOrder(model).map((n) => n.layer) : model.layers;
  const modelConfig = {
    class_name: topo.class_name,
    config:
      model instanceof Functional
        ? { ...topo.config, layers: inKerasOrder(topo.config.layers, layers) }
        : keras2SequentialConfig(model, topo.config),
    keras_version: KERAS2_VERSION,
    backend: 'tensorflow',
  };
  const root = group({
    keras_version: KERAS2_VERSION,
    backend: 'tensorflow',
    model_config: JSON.stringify(modelConfig),
    ...(Object.keys(metadata).length > 0 && { userDefinedMetadata: asciiJson(metadata) }),
  });
  const mw = group({
    keras_version: KERAS2_VERSION,
    backend: 'tensorflow',
    layer_names: layers.map((l) => l.name),
  });
  for (const l of layers) {
    const names = l.weights.map((w) => `${l.name}/${w.name}:0`);
    const lg = group({ weight_names: names });
    l.weights.forEach((w, i) => put(lg, names[i], dataset(w.shape, w.value.slice())));
    mw.children.set(l.name, lg);
  }
  root.children.set('model_weights', mw);
  const notes = [
    kerasCannotLoadNote(modelConfig, 2),
    kerasMaskedMaxPoolingNote(modelConfig),
    kerasMaskedBidirectionalNote(modelConfig),
    keras3HardSigmoidNote(model),
  ].filter((n) => n !== null);
  return { bytes: await writeH5(root), notes };
}
