/**
 * Reading Keras model files into recur models, from bytes (browser-safe; src/node reads the files):
 *
 * - legacy HDF5 with a `model_config` attribute (Keras 2's `model.save('m.h5')`, tf.keras 2.x, Keras 3's `.h5`):
 *   Sequential → recur Sequential, Model/Functional → recur Functional; weights from /model_weights;
 * - Keras 3 `.keras` archives (config.json + model.weights.h5);
 * - weights-only HDF5 (`save_weights`, ModelCheckpoint(save_weights_only=True)): applied to a recur model of the
 *   same architecture by layer name (`loadKerasWeights`), with every mismatch reported at once.
 *
 * The model comes uncompiled: compile it to fine-tune (the file's training_config is in `trainingConfig`;
 * kerasCompileConfig translates it to recur's optimizer and loss).
 */
import { InvalidInputError } from '../core/errors.js';
import { parseJsonText } from '../core/json_text.js';
import type { Layer } from '../layers/layer.js';
import { Functional } from '../models/functional.js';
import { functionalFromConfig } from '../models/functional_serialization.js';
import { Sequential } from '../models/sequential.js';
import {
  layerFromKeras,
  rawLayerConfigs,
  trainingOnlyNote,
  weightValuesAtLeast,
} from '../models/serialization.js';
import { isZip, readKerasArchive } from './archive.js';
import {
  Keras1Error,
  checkSizes,
  isObject,
  kerasMajor,
  translateModelConfig,
  type Json,
  type KerasModelConfig,
} from './config.js';
import { HALF_FLOAT, isHdf5, readH5, type H5Group, type H5Node } from './h5.js';
import { KERAS_MASKED_MAX_POOLING, kerasNodeOrder } from './save.js';
import {
  assignLayerWeights,
  isCudnnLayout,
  keras3LayerWeights,
  legacyLayerNames,
  legacyLayerWeights,
  weightsPaths,
  type FileWeight,
} from './weights.js';

export type KerasModel = Sequential | Functional;

export interface LoadedKerasModel {
  model: KerasModel;
  /** 'keras-h5' (legacy HDF5) or 'keras' (Keras 3 archive). */
  format: 'keras-h5' | 'keras';
  /** keras_version recorded in the file ('unknown' when absent). */
  kerasVersion: string;
  /** The file's training_config / compile_config: kerasCompileConfig translates it (recur train --from uses it). */
  trainingConfig: unknown;
  /** What a user should know: converted CuDNN weights, hard_sigmoid's definition, ignored optimizer state. */
  notes: string[];
  /**
   * The userDefinedMetadata recur kept in the file when it wrote it from a recur model (a text model's vocabulary and
   * settings: metadata.json of a .keras, the root attribute `userDefinedMetadata` of an .h5); {} in Keras's own files.
   */
  metadata: Record<string, unknown>;
}

/**
 * An error about a Keras file: bad input (the CLI exits 2). A TypeError or ReferenceError is recur's own bug, not
 * the file's, and goes on as it is (the fuzz tests look for them).
 */
function fileError(e: unknown): Error {
  if (e instanceof InvalidInputError) return e;
  if (e instanceof TypeError || e instanceof ReferenceError) return e;
  return new InvalidInputError(e instanceof Error ? e.message : String(e));
}

/** The message of an error thrown with `where` prepended, without it (the caller puts it first again). */
function messageWithout(e: unknown, where: string): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.startsWith(`${where}: `) ? m.slice(where.length + 2) : m;
}

function parseJsonAttr(v: unknown, where: string, name: string): Json {
  if (typeof v !== 'string') throw new Error(`${where}: attribute '${name}' should be a JSON string`);
  return parseJsonText(v, `${where}: attribute '${name}'`) as Json;
}

/**
 * The recur model a translated config describes, its weights left at zero rather than drawn: applyWeights sets every
 * one from the file (a layer the file gives no weights is an error there).
 */
export function buildModel(
  cfg: KerasModelConfig,
  where: string,
  availableWeightValues = Infinity,
): KerasModel {
  if (cfg.kind === 'functional') {
    return functionalFromConfig(
      {
        name: cfg.name,
        layers: cfg.layers.map((l) => ({
          class_name: l.className,
          config: l.config as Record<string, unknown>,
          name: l.name,
          inbound_nodes:
            l.inbound.length === 0
              ? []
              : [l.inbound.map((r) => [...r, {}] as [string, number, number, unknown])],
        })),
        input_layers: cfg.inputs,
        output_layers: cfg.outputs,
      },
      where,
      0,
      true,
      availableWeightValues,
    );
  }
  // Keras 3 names a Sequential model's input by its InputLayer (`input_layer_1`); keep it for inputs passed by name.
  const head = cfg.layers[0];
  const inputName =
    head?.className === 'InputLayer' && typeof head.config.name === 'string' && head.config.name !== ''
      ? head.config.name
      : undefined;
  const model = new Sequential({
    name: cfg.name,
    seed: 0,
    weightsFollow: true,
    ...(inputName !== undefined ? { inputName } : {}),
  });
  let pendingShape: Json | undefined;
  const fields: string[] = [];
  for (const l of cfg.layers) {
    if (l.className === 'InputLayer') {
      pendingShape = l.config.batch_input_shape;
      continue;
    }
    const config = { ...l.config };
    if (pendingShape !== undefined && config.batch_input_shape === undefined)
      config.batch_input_shape = pendingShape;
    pendingShape = undefined;
    try {
      model.add(layerFromKeras({ class_name: l.className, config }, where));
    } catch (e) {
      throw new Error(`${where}: ${l.field}: ${messageWithout(e, where)}`);
    }
    fields.push(l.field);
  }
  if (model.layers.length === 0) throw new Error(`${where}: the model has no layers`);
  if (!model.inputShape())
    throw new Error(
      `${where}: ${cfg.layers[0].field}: the first layer has no input shape (batch_input_shape)`,
    );
  // Refuse layers bigger than the file's weights could fill before building allocates them.
  const input = model.inputShape()!;
  const shapes = model.outputShapes(input);
  let needed = 0;
  model.layers.forEach((layer, i) => {
    needed += weightValuesAtLeast(layer, i === 0 ? input : shapes[i - 1]);
    if (needed > availableWeightValues)
      throw new Error(
        `${where}: ${fields[i]}: layer '${layer.name}' (${layer.className}) needs at least ${needed} weight values ` +
          `up to here, but the file holds ${availableWeightValues}`,
      );
  });
  model.build();
  return model;
}

/** Recur layers of a model by name. */
function layersByName(model: KerasModel): Map<string, Layer> {
  return new Map(model.layers.map((l) => [l.name, l]));
}

function applyWeights(
  model: KerasModel,
  cfg: KerasModelConfig,
  source: (l: KerasModelConfig['layers'][number]) => FileWeight[],
  where: string,
  notes: string[],
): void {
  const byName = layersByName(model);
  for (const kl of cfg.layers) {
    const layer = byName.get(kl.name);
    if (!layer) continue; // InputLayer of a Sequential
    const ws = source(kl);
    if (layer.weights.length === 0 && ws.length === 0) continue;
    const cudnn = kl.fileClassName.startsWith('CuDNN') || isCudnnLayout(layer, ws);
    if (cudnn)
      notes.push(
        `${where}: layer '${kl.name}' holds CuDNN${layer.className} weights; converted to ${layer.className} (sigmoid gates), as Keras does`,
      );
    assignLayerWeights(layer, ws, where, cudnn);
  }
}

function hardSigmoidNote(cfg: KerasModelConfig, where: string): string | null {
  const text = JSON.stringify(cfg.layers.map((l) => l.config));
  if (text.includes('"hard_sigmoid_keras3"'))
    return `${where}: hard_sigmoid read as Keras 3's clip(x/6 + 0.5, 0, 1) (the file is from Keras ${cfg.kerasMajor})`;
  if (text.includes('"hard_sigmoid"'))
    return `${where}: hard_sigmoid read as Keras ${cfg.kerasMajor}'s clip(0.2x + 0.5, 0, 1)`;
  return null;
}

/**
 * Keras zeroes a recurrent layer's outputs at masked steps when its config says zero_output_for_mask (Bidirectional
 * sets it whenever it returns sequences); recur, like tfjs, repeats the previous step's output there. Only a model
 * with a mask (Embedding mask_zero, Masking) can tell the two apart, and only at padded steps: a note says so.
 */
function zeroOutputNote(raw: Json, where: string): string | null {
  const layers = rawLayerConfigs(raw);
  const masked = layers.some((l) => l.className === 'Masking' || l.config.mask_zero === true);
  const zeroing = layers
    .filter((l) => l.config.zero_output_for_mask === true)
    .map((l) => (typeof l.config.name === 'string' ? l.config.name : '?'));
  if (!masked || zeroing.length === 0) return null;
  return (
    `${where}: ${zeroing.map((n) => `'${n}'`).join(', ')} output zeros at masked steps in Keras ` +
    '(zero_output_for_mask, which Bidirectional sets when it returns sequences); recur repeats the previous ' +
    "step's output there, as tfjs does, so outputs at padded steps (and a GlobalMaxPooling1D over them) can differ"
  );
}

/**
 * A file's masked GlobalMaxPooling1D, which Keras computes otherwise, found among its layers only (as zeroOutputNote:
 * a file's config can nest any value deep).
 */
function maskedMaxPoolingNote(raw: Json, where: string): string | null {
  const layers = rawLayerConfigs(raw);
  const masked = layers.some((l) => l.className === 'Masking' || l.config.mask_zero === true);
  if (!masked || !layers.some((l) => l.className === 'GlobalMaxPooling1D')) return null;
  return `${where}: ${KERAS_MASKED_MAX_POOLING}`;
}

/** Dtype policies that set a layer's precision (Keras's mixed precision, float64); recur computes in float32. */
const OTHER_PRECISION = /^(mixed_)?b?float16$|^float64$/;

/**
 * Layers whose dtype policy (a string in Keras 2, a DTypePolicy or Policy object in Keras 3 and tf.keras) computes in
 * another precision than float32: recur reads their weights and computes in float32, so its outputs differ slightly
 * from Keras's. An InputLayer's dtype is its input's, not a policy.
 */
function precisionNote(raw: Json, where: string): string | null {
  const byPolicy = new Map<string, string[]>();
  for (const { className, config } of rawLayerConfigs(raw)) {
    const d = config.dtype;
    const policy = isObject(d) && isObject(d.config) ? d.config.name : d;
    if (className === 'InputLayer' || typeof policy !== 'string' || !OTHER_PRECISION.test(policy)) continue;
    const names = byPolicy.get(policy) ?? [];
    names.push(`'${typeof config.name === 'string' ? config.name : '?'}'`);
    byPolicy.set(policy, names);
  }
  if (byPolicy.size === 0) return null;
  const found = [...byPolicy].map(([policy, names]) => `${names.join(', ')} (${policy})`).join('; ');
  return (
    `${where}: ${found}: Keras computes these layers in their dtype policy's precision; recur computes in ` +
    "float32, so its outputs differ slightly from Keras's"
  );
}

/** The weights a loader read: their tree, the name its notes give the file, the tree's path in the file ('' the root). */
interface WeightsRead {
  tree: H5Group;
  where: string;
  base: string;
}

/**
 * A loaded model's notes, in this order: the weights' conversions (`converted`, from applyWeights), the note on
 * float16 weights (float16Note), then the configuration's (`rawConfig`, translated to `cfg`). Both model loaders
 * assemble their notes here, so neither can leave one out.
 */
function modelNotes(
  converted: readonly string[],
  weights: WeightsRead,
  cfg: KerasModelConfig,
  rawConfig: Json,
  where: string,
): string[] {
  const notes = [
    float16Note(weights),
    hardSigmoidNote(cfg, where),
    zeroOutputNote(rawConfig, where),
    maskedMaxPoolingNote(rawConfig, where),
    trainingOnlyNote(rawConfig, where),
    precisionNote(rawConfig, where),
  ];
  return [...converted, ...notes.filter((n): n is string => n !== null)];
}

/**
 * Weights stored as float16 (a model saved with dtype='float16'): recur reads them into float32, exactly (every half
 * is a float32), and says so once, naming one of the datasets. Made only by modelNotes and assignPlan, which every
 * loader's notes come from.
 */
function float16Note({ tree, where, base }: WeightsRead): string | null {
  const found: string[] = [];
  const walk = (n: H5Node, p: string): void => {
    if (n.kind === 'dataset') {
      if (HALF_FLOAT.test(n.dtype)) found.push(p);
    } else for (const [k, c] of n.children) walk(c, `${p}/${k}`);
  };
  walk(tree, base);
  if (found.length === 0) return null;
  return (
    `${where}: the weights are stored as float16 (${found.length} dataset${found.length === 1 ? '' : 's'}, e.g. ` +
    `'${found[0]}'); recur read them exactly into float32, the precision it computes in`
  );
}

/** Number of values in every dataset under a node. */
function valuesIn(node: H5Node | undefined): number {
  if (!node) return 0;
  if (node.kind === 'dataset') return node.values?.length ?? 0;
  let n = 0;
  for (const c of node.children.values()) n += valuesIn(c);
  return n;
}

/** A model from a legacy HDF5 file's tree. */
function fromLegacyH5(root: H5Group, where: string): LoadedKerasModel {
  const version = typeof root.attrs.keras_version === 'string' ? root.attrs.keras_version : 'unknown';
  if (root.attrs.model_config === undefined) {
    throw new InvalidInputError(
      // Read by the commands too, where a library call alone would leave a command-line user without a way on.
      `${where}: a weights-only Keras file (save_weights; no 'model_config' attribute), so it holds no model to ` +
        "build: save the whole model in Keras (model.save('m.h5') or 'm.keras'), or build the model with recur's " +
        'library and apply these weights with loadKerasWeights(model, bytes), matched by layer name',
    );
  }
  const major = kerasMajor(version, 2);
  const rawConfig = parseJsonAttr(root.attrs.model_config, where, 'model_config');
  const cfg = translateModelConfig(rawConfig, major, where, 'model_config');
  const mw = root.children.get('model_weights');
  if (!mw || mw.kind !== 'group')
    throw new Error(`${where}: /model_weights: missing (the file has a model_config but no weights)`);
  const available = valuesIn(mw);
  checkSizes(cfg, available, where);
  const model = buildModel(cfg, where, available);
  const names = new Set(legacyLayerNames(mw, where, 'model_weights'));
  const notes: string[] = [];
  applyWeights(
    model,
    cfg,
    (kl) => (names.has(kl.name) ? legacyLayerWeights(mw, kl.name, where, 'model_weights') : []),
    where,
    notes,
  );
  const tc = root.attrs.training_config;
  return {
    model,
    format: 'keras-h5',
    kerasVersion: version,
    trainingConfig: typeof tc === 'string' ? safeJson(tc) : null,
    notes: modelNotes(notes, { tree: mw, where, base: '/model_weights' }, cfg, rawConfig, where),
    metadata: recurMetadataOf(root.attrs.userDefinedMetadata, where, "attribute 'userDefinedMetadata'"),
  };
}

/** recur's metadata as the file keeps it (`raw`, at `field`): a JSON object, else an error naming the field. */
function recurMetadataOf(raw: unknown, where: string, field: string): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  const v = typeof raw === 'string' ? parseJsonText(raw, `${where}: ${field}`) : raw;
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new Error(`${where}: ${field}: expected a JSON object (recur's metadata of the model)`);
  return v as Record<string, unknown>;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

async function fromArchive(bytes: Uint8Array, where: string): Promise<LoadedKerasModel> {
  const ar = readKerasArchive(bytes, where);
  const version = typeof ar.metadata.keras_version === 'string' ? ar.metadata.keras_version : 'unknown';
  const major = kerasMajor(version, 3);
  const cfg = translateModelConfig(ar.config as Json, major, where, 'config.json');
  const root = await readH5(ar.weights, `${where}: model.weights.h5`, { skip: (p) => p === 'optimizer' });
  const available = valuesIn(root);
  checkSizes(cfg, available, where);
  const model = buildModel(cfg, where, available);
  const paths = weightsPaths(cfg.layers, cfg.kind === 'sequential');
  const notes: string[] = [];
  applyWeights(
    model,
    cfg,
    (kl) =>
      paths.has(kl)
        ? keras3LayerWeights(root, paths.get(kl)!, where, { name: kl.name, className: kl.fileClassName })
        : [],
    where,
    notes,
  );
  return {
    model,
    format: 'keras',
    kerasVersion: version,
    trainingConfig: ar.config.compile_config ?? null,
    notes: modelNotes(
      notes,
      { tree: root, where: `${where}: model.weights.h5`, base: '' },
      cfg,
      ar.config as Json,
      where,
    ),
    metadata: recurMetadataOf(ar.metadata.userDefinedMetadata, where, 'metadata.json: userDefinedMetadata'),
  };
}

/**
 * A Keras model from the bytes of a .h5/.hdf5 or .keras file (the format is told by the bytes). `where` names the
 * file in errors. Every problem in the file is an InvalidInputError naming the file and the place.
 */
export async function loadKerasModel(bytes: Uint8Array, where: string): Promise<LoadedKerasModel> {
  try {
    if (isZip(bytes)) return await fromArchive(bytes, where);
    if (isHdf5(bytes)) {
      const root = await readH5(bytes, where, { skip: (p) => p === 'optimizer_weights' });
      return fromLegacyH5(root, where);
    }
  } catch (e) {
    if (e instanceof Keras1Error) throw new InvalidInputError(e.message);
    throw fileError(e);
  }
  throw new InvalidInputError(
    `${where}: neither an HDF5 file (.h5) nor a zip archive (.keras); not a Keras model file`,
  );
}

/**
 * Weights in Keras 3's layout (a .keras archive's model.weights.h5, or save_weights's .weights.h5) applied to a recur
 * model: by the path Keras gives each layer (its snake_cased class, made unique in the order Keras lists the
 * layers), shapes checked, every mismatch listed at once and nothing changed unless all fit.
 */
function keras3Weights(model: KerasModel, root: H5Group, where: string): WeightsReport {
  const layers = model instanceof Functional ? kerasNodeOrder(model).map((n) => n.layer) : model.layers;
  const paths = weightsPaths(
    layers.map((layer) => ({ layer, fileClassName: layer.className })),
    !(model instanceof Functional),
  );
  const problems: string[] = [];
  const plan: { layer: Layer; ws: FileWeight[] }[] = [];
  for (const [{ layer }, path] of paths) {
    if (layer.weights.length === 0) continue;
    let ws: FileWeight[];
    try {
      ws = keras3LayerWeights(root, path, where, layer);
    } catch (e) {
      problems.push(`layer '${layer.name}' (${layer.className}): ${messageWithout(e, where)}`);
      continue;
    }
    const mismatch =
      ws.length !== layer.weights.length ||
      ws.some((w, i) => w.shape.join('×') !== layer.weights[i].shape.join('×'));
    if (mismatch)
      problems.push(
        `layer '${layer.name}' (${layer.className}) needs ${layer.weights.map((w) => w.shape.join('×')).join(', ')}; ` +
          `the file has ${ws.map((w) => `${w.path} ${w.shape.join('×')}`).join(', ') || 'none'}`,
      );
    else plan.push({ layer, ws });
  }
  if (problems.length > 0)
    throw new InvalidInputError(
      `${where}: the weights (Keras 3 layout) do not fit the model:\n  ${problems.join('\n  ')}`,
    );
  return assignPlan(plan, { tree: root, where, base: '' }, () => false);
}

export interface WeightsReport {
  /** Layers given weights. */
  loaded: string[];
  notes: string[];
}

/**
 * Builds a model not yet built, as Keras builds one that declares its input shape at once: an unbuilt model's layers
 * have no weights yet, so they would match nothing and the file would quietly load into no layer at all.
 */
function buildForWeights(model: KerasModel, where: string): void {
  if (model.isBuilt || model.layers.length === 0) return;
  if (model instanceof Sequential && !model.inputShape())
    throw new InvalidInputError(
      `${where}: model '${model.name}' has no weights yet to load these into: give its first layer an inputShape, ` +
        `call build(inputShape), or run predict or fit once`,
    );
  model.build();
}

/**
 * Applies a Keras weights file (weights-only or full-model HDF5, or a .keras archive's weights by layer name) to a
 * recur model of the same architecture, matching layers by name. Every mismatch — a layer with weights that the file
 * lacks, a file layer the model lacks, a shape — is listed in one error; nothing is changed unless all match.
 */
export async function loadKerasWeights(
  model: KerasModel,
  bytes: Uint8Array,
  where: string,
): Promise<WeightsReport> {
  buildForWeights(model, where);
  let root: H5Group;
  try {
    // A .keras archive's weights, or Keras 3's own weights file (save_weights → .weights.h5), are in Keras 3's layout.
    if (isZip(bytes))
      return keras3Weights(
        model,
        await readH5(readKerasArchive(bytes, where).weights, `${where}: model.weights.h5`),
        where,
      );
    root = await readH5(bytes, where, { skip: (p) => p === 'optimizer_weights' || p === 'optimizer' });
  } catch (e) {
    throw fileError(e);
  }
  if (root.attrs.layer_names === undefined && root.children.get('layers')?.kind === 'group')
    return keras3Weights(model, root, where);
  const mw = root.children.get('model_weights');
  const base = mw && mw.kind === 'group' ? 'model_weights' : '';
  const g = mw && mw.kind === 'group' ? mw : root;
  const problems: string[] = [];
  const plan: { layer: Layer; ws: FileWeight[] }[] = [];
  let fileNames: string[];
  try {
    fileNames = legacyLayerNames(g, where, base);
  } catch (e) {
    throw fileError(e);
  }
  const fileWithWeights = new Set<string>();
  for (const n of fileNames) {
    try {
      if (legacyLayerWeights(g, n, where, base).length > 0) fileWithWeights.add(n);
    } catch (e) {
      problems.push((e as Error).message.replace(`${where}: `, ''));
    }
  }
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    if (!fileWithWeights.has(layer.name)) {
      problems.push(`layer '${layer.name}' (${layer.className}) has weights but the file has none for it`);
      continue;
    }
    const ws = legacyLayerWeights(g, layer.name, where, base);
    const cudnn = isCudnnLayout(layer, ws);
    const conv = ws;
    const shapes = layer.weights.map((w) => w.shape.join('×')).join(', ');
    if (!cudnn) {
      const mismatch =
        ws.length !== layer.weights.length ||
        ws.some((w, i) => w.shape.join('×') !== layer.weights[i].shape.join('×'));
      if (mismatch) {
        problems.push(
          `layer '${layer.name}' (${layer.className}) needs ${shapes}; the file has ${ws.map((w) => `${w.path} ${w.shape.join('×')}`).join(', ')}`,
        );
        continue;
      }
    }
    plan.push({ layer, ws: conv });
  }
  const modelNames = new Set(model.layers.map((l) => l.name));
  for (const n of fileWithWeights)
    if (!modelNames.has(n))
      problems.push(`the file has weights for '${n}', which is not a layer of the model`);
  if (problems.length > 0)
    throw new InvalidInputError(`${where}: the weights do not fit the model:\n  ${problems.join('\n  ')}`);
  return assignPlan(plan, { tree: g, where, base: base === '' ? '' : `/${base}` }, isCudnnLayout);
}

/**
 * Gives each planned layer its weights (the plan checked whole first: nothing is changed unless all fit) and reports
 * them: the note on float16 weights read (float16Note), then each layer whose weights `cudnn` says are in CuDNN's
 * layout, converted as Keras does. Both weights loaders report here, so neither can leave a note out.
 */
function assignPlan(
  plan: readonly { layer: Layer; ws: FileWeight[] }[],
  weights: WeightsRead,
  cudnn: (layer: Layer, ws: FileWeight[]) => boolean,
): WeightsReport {
  const { where } = weights;
  const notes: string[] = [];
  const half = float16Note(weights);
  if (half) notes.push(half);
  for (const { layer, ws } of plan) {
    const converted = cudnn(layer, ws);
    if (converted)
      notes.push(
        `${where}: layer '${layer.name}' holds CuDNN${layer.className} weights; converted to ${layer.className}, as Keras does`,
      );
    try {
      assignLayerWeights(layer, ws, where, converted);
    } catch (e) {
      throw fileError(e);
    }
  }
  return { loaded: plan.map((p) => p.layer.name), notes };
}
