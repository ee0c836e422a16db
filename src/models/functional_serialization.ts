/**
 * Functional models in the TensorFlow.js LayersModel format: `modelTopology.class_name` "Functional" (what tfjs 4.x
 * and Keras write; "Model" is read too) with
 *   config: {name, layers: [{class_name, config, name, inbound_nodes: [[[layer, node_index, tensor_index, {}], …]]}],
 *            input_layers: [[name, 0, 0], …], output_layers: [[name, 0, tensor_index], …]}
 * InputLayer entries have no inbound nodes. A recurrent layer's initial states are extra inbound tensors after x, as
 * tfjs writes them. Layers are (de)serialized by src/models/serialization.ts's helpers, through the layer registry,
 * as for Sequential.
 * Weights and optimizer slots are stored as for Sequential. Pure (no file system).
 */
import { z } from 'zod';
import { InvalidInputError } from '../core/errors.js';
import { Tensor, shapeToString, sizeOf } from '../core/tensor.js';
import type { FileWriter } from '../layers/registry.js';
import { SymbolicTensor } from '../layers/symbolic.js';
import { Functional, InputLayer, input } from './functional.js';
import { createOptimizer, type SlotValue } from './optimizers.js';
import {
  FORMAT_VERSION,
  GENERATED_BY,
  layerFromKeras,
  layerToKeras,
  modelJsonWriter,
  packWeights,
  ignoredOptimizerNote,
  readManifestWeights,
  trainingOnlyNote,
  tfjsMaskedPoolingNote,
  writerDefaultsNote,
  type ModelArtifacts,
  type ModelJson,
  type SaveOptions,
  type WeightFile,
  weightValuesAtLeast,
  manifestEntriesFor,
} from './serialization.js';
import { parseJsonText } from '../core/json_text.js';
import { validateWeightsManifest } from './model_file.js';

export const FUNCTIONAL_CLASS_NAMES = ['Functional', 'Model'] as const;

/** Metadata recur keeps for a functional model (userDefinedMetadata.recur). */
interface FunctionalRecurMetadata {
  formatVersion: number;
  seed: number;
  compile?: {
    losses: string[];
    metrics: string[];
    fromLogits: boolean;
    /** Written only when not 0 (files from before label smoothing have none). */
    labelSmoothing?: number;
    optimizer: { className: string; config: Record<string, unknown> };
  };
}

type InboundEntry = [string, number, number, Record<string, unknown>];

/**
 * The model's Keras config (`modelTopology.config`): its layers with their inbound nodes, its inputs and outputs.
 * Also what the worker pool sends a thread to build a replica from.
 */
export function functionalTopology(model: Functional): Record<string, unknown> {
  model.build();
  const layers = model.nodes.map((node) => {
    const l = node.layer;
    const base = l instanceof InputLayer ? inputLayerJson(l) : layerToKeras(l);
    const inbound: InboundEntry[][] =
      node.inputs.length === 0 ? [] : [node.inputs.map((x) => [x.node.layer.name, 0, x.outputIndex, {}])];
    return { ...base, name: l.name, inbound_nodes: inbound };
  });
  return {
    name: model.name,
    layers,
    input_layers: model.inputs.map((x) => [x.node.layer.name, 0, 0]),
    output_layers: model.outputs.map((y) => [y.node.layer.name, 0, y.outputIndex]),
  };
}

export function serializeFunctional(model: Functional, opts: SaveOptions = {}): ModelArtifacts {
  const config = functionalTopology(model);
  const recur: FunctionalRecurMetadata = { formatVersion: FORMAT_VERSION, seed: model.seed };
  if (model.optimizer && model.losses) {
    recur.compile = {
      losses: model.losses,
      metrics: model.metrics,
      fromLogits: model.fromLogits,
      ...(model.labelSmoothing > 0 && { labelSmoothing: model.labelSmoothing }),
      optimizer: { className: model.optimizer.className, config: model.optimizer.getConfig() },
    };
  }
  const { weightSpecs, weightData } = packWeights(
    model.namedWeights(),
    model.losses ? model.optimizer : null,
    opts,
  );
  const extra = opts.metadata ?? {};
  return {
    json: {
      format: 'layers-model',
      generatedBy: GENERATED_BY,
      convertedBy: null,
      modelTopology: {
        class_name: 'Functional',
        config: config as unknown as ModelJson['modelTopology']['config'],
        keras_version: 'tfjs-layers 4.22.0',
        backend: 'tensor_flow.js',
      },
      userDefinedMetadata: { ...extra, recur: { ...recur, ...((extra.recur as object) ?? {}) } },
    },
    weightSpecs,
    weightData,
  };
}

function inputLayerJson(l: InputLayer): { class_name: string; config: Record<string, unknown> } {
  return {
    class_name: 'InputLayer',
    config: {
      batch_input_shape: [l.declaredBatchSize, ...l.inputShape!],
      dtype: l.dtype,
      sparse: false,
      name: l.name,
    },
  };
}

const inboundTensor = z.tuple([z.string(), z.number().int(), z.number().int()]).rest(z.unknown());
const layerRef = z.tuple([z.string(), z.number().int(), z.number().int()]);
const functionalConfig = z.object({
  name: z.string().optional(),
  layers: z.array(
    z.object({
      class_name: z.string(),
      config: z.record(z.string(), z.unknown()),
      name: z.string(),
      inbound_nodes: z.array(z.array(inboundTensor)),
    }),
  ),
  input_layers: z.array(layerRef).min(1),
  output_layers: z.array(layerRef).min(1),
});

function zodIssue(e: z.ZodError): string {
  const i = e.issues[0];
  return `field 'modelTopology.config${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}': ${i.message}`;
}

/** Validates model.json as a functional model, naming the file and the field that is wrong. */
export function parseFunctionalModelJson(text: string, where: string): ModelJson {
  const j = parseJsonText(text, where) as Partial<ModelJson>;
  if (!j || typeof j !== 'object' || !j.modelTopology || typeof j.modelTopology !== 'object')
    throw new InvalidInputError(`${where}: missing 'modelTopology'; not a TensorFlow.js LayersModel file`);
  const topo = ((j.modelTopology as { model_config?: unknown }).model_config ??
    j.modelTopology) as ModelJson['modelTopology'];
  if (!(FUNCTIONAL_CLASS_NAMES as readonly string[]).includes(topo.class_name))
    throw new InvalidInputError(
      `${where}: modelTopology is a '${String(topo.class_name)}', not a functional model (Functional/Model)`,
    );
  const parsed = functionalConfig.safeParse(topo.config);
  if (!parsed.success) throw new InvalidInputError(`${where}: ${zodIssue(parsed.error)}`);
  // The manifest as a Sequential model's is checked: a path that is not a file name was a TypeError in path.join.
  validateWeightsManifest(j.weightsManifest, where);
  return { ...(j as ModelJson), modelTopology: topo };
}

export interface LoadedFunctional {
  model: Functional;
  metadata: Record<string, unknown>;
  /** What the loader could not check (e.g. a file saved by tfjs has no sha256). For the user, not errors. */
  notes: string[];
}

/**
 * A functional model from its (parsed) model.json and its weight files in manifest order (or their bytes
 * concatenated), checked as a Sequential model's are: byte counts, the recorded sha256, finite values.
 */
export function deserializeFunctional(
  json: ModelJson,
  weights: Uint8Array | readonly WeightFile[],
  where: string,
): LoadedFunctional {
  const parsed = functionalConfig.safeParse(json.modelTopology.config);
  if (!parsed.success) throw new InvalidInputError(`${where}: ${zodIssue(parsed.error)}`);
  const cfg = parsed.data;
  const metadata = (json.userDefinedMetadata ?? {}) as Record<string, unknown>;
  const recur = (metadata.recur ?? {}) as Partial<FunctionalRecurMetadata>;
  const available = json.weightsManifest
    .flatMap((g) => g.weights)
    .reduce((n, w) => n + (w.group === 'optimizer' ? 0 : sizeOf(w.shape)), 0);
  const model = functionalFromConfig(
    cfg,
    where,
    typeof recur.seed === 'number' ? recur.seed : 0,
    true,
    available,
    modelJsonWriter(json),
  );
  model.build();
  const { values, notes } = readWeights(json, weights, where);
  const trainingOnly = trainingOnlyNote(json.modelTopology, where);
  if (trainingOnly) notes.push(trainingOnly);
  const pooling = tfjsMaskedPoolingNote(
    json.modelTopology,
    (json.userDefinedMetadata ?? {}) as Record<string, unknown>,
    where,
  );
  if (pooling) notes.push(pooling);
  const defaults = writerDefaultsNote(json, where);
  if (defaults) notes.push(defaults);
  const named = model.namedWeights();
  const modelEntries = [...values.values()].filter((e) => e.spec.group !== 'optimizer');
  const matched = manifestEntriesFor(named, modelEntries, where, notes);
  for (const [k, nw] of named.entries()) {
    const entry = matched[k];
    if (!entry) throw new InvalidInputError(`${where}: weight '${nw.name}' is not in the weights manifest`);
    const shape = entry.spec.shape;
    if (shape.length !== nw.weight.shape.length || shape.some((d, j) => d !== nw.weight.shape[j]))
      throw new InvalidInputError(
        `${where}: weight '${nw.name}' should have shape ${shapeToString(nw.weight.shape)} but the file has ${shapeToString(shape)}`,
      );
    nw.weight.value.set(entry.value);
  }
  if (recur.compile) {
    const c = recur.compile;
    try {
      model.compile({
        optimizer: createOptimizer(c.optimizer.className, c.optimizer.config),
        loss: c.losses,
        metrics: c.metrics,
        fromLogits: c.fromLogits,
        ...(c.labelSmoothing !== undefined && { labelSmoothing: c.labelSmoothing }),
      });
    } catch (e) {
      throw new InvalidInputError(`${where}: userDefinedMetadata.recur.compile: ${(e as Error).message}`);
    }
    const slots: SlotValue[] = [];
    for (const { spec, value } of values.values())
      if (spec.group === 'optimizer')
        slots.push({ name: spec.name.replace(/^optimizer\//, ''), shape: spec.shape, value });
    if (slots.length > 0) model.optimizer!.setWeights(slots);
  } else {
    const ignored = [...values.values()].filter((e) => e.spec.group === 'optimizer').length;
    if (ignored > 0) notes.push(ignoredOptimizerNote(ignored, where));
  }
  return { model, metadata, notes };
}

/** A functional config as `functionalConfig` checks it (tfjs/Keras 2 layout). */
export type FunctionalConfig = z.infer<typeof functionalConfig>;

/**
 * The model a functional config describes, built with freshly initialised weights (from `seed`): layers through the
 * registry, connected by their inbound nodes (a recurrent layer's extra inbound tensors are its initial states).
 * Shared by the tfjs reader here and the Keras reader (src/keras), which first translates Keras 3's layout.
 */
export function functionalFromConfig(
  cfg: FunctionalConfig,
  where: string,
  seed: number,
  weightsFollow = false,
  availableWeightValues = Infinity,
  writer: FileWriter = 'keras',
): Functional {
  const tensors = new Map<string, SymbolicTensor[]>();
  // A lower bound of the weight values the layers placed so far need: a config asking for layers bigger than the
  // file's weights could fill is refused before building allocates them.
  let needed = 0;
  const pending = [...cfg.layers];
  // Keras lists layers in topological order; loop anyway until no entry can be placed.
  while (pending.length > 0) {
    const i = pending.findIndex((lj) =>
      (lj.inbound_nodes[0] ?? []).every((t) => tensors.has(t[0] as string)),
    );
    if (i < 0) {
      const lj = pending[0];
      const missing = (lj.inbound_nodes[0] ?? []).find((t) => !tensors.has(t[0] as string));
      throw new InvalidInputError(
        `${where}: layer '${lj.name}' reads '${String(missing?.[0])}', which is not a layer of the model (or the graph has a cycle)`,
      );
    }
    const lj = pending.splice(i, 1)[0];
    if (lj.class_name === 'InputLayer') {
      const shape = (lj.config.batch_input_shape ?? lj.config.batch_shape) as unknown;
      if (!Array.isArray(shape) || shape.length < 2)
        throw new InvalidInputError(`${where}: InputLayer '${lj.name}' has no batch_input_shape`);
      // tfjs and Keras feed token ids to an Embedding through a float32 input (Embedding casts them); recur types
      // them int32, as the Keras loader does (src/keras/config.ts), or the model would run on no tensor.
      const readers = cfg.layers.filter((l) => (l.inbound_nodes[0] ?? []).some((t) => t[0] === lj.name));
      const ids = readers.length > 0 && readers.every((l) => l.class_name === 'Embedding');
      const dtype = ids || lj.config.dtype === 'int32' ? 'int32' : 'float32';
      tensors.set(lj.name, [input({ batchInputShape: shape as (number | null)[], name: lj.name, dtype })]);
      continue;
    }
    if (lj.inbound_nodes.length !== 1) {
      throw new InvalidInputError(
        `${where}: layer '${lj.name}' is applied ${lj.inbound_nodes.length} times; recur supports layers applied once (no shared layers)`,
      );
    }
    let layer;
    try {
      layer = layerFromKeras(
        { class_name: lj.class_name, config: { ...lj.config, name: lj.name } },
        where,
        writer,
      );
    } catch (e) {
      // A layer's config the registry refuses is the file's problem (as deserializeModel reports it): bad input.
      if (e instanceof InvalidInputError) throw e;
      const message = (e as Error).message;
      throw new InvalidInputError(message.startsWith(`${where}: `) ? message : `${where}: ${message}`);
    }
    const ins = lj.inbound_nodes[0].map((t) => {
      const [name, nodeIndex, tensorIndex] = t as [string, number, number];
      const outs = tensors.get(name)!;
      if (nodeIndex !== 0 || tensorIndex < 0 || tensorIndex >= outs.length)
        throw new InvalidInputError(
          `${where}: layer '${lj.name}' reads output [${nodeIndex}, ${tensorIndex}] of '${name}', which does not exist`,
        );
      return outs[tensorIndex];
    });
    needed += weightValuesAtLeast(layer, ins[0]?.shape.slice(1) ?? []);
    if (needed > availableWeightValues)
      throw new InvalidInputError(
        `${where}: layer '${lj.name}' (${lj.class_name}) needs at least ${needed} weight values up to here, ` +
          `but the file holds ${availableWeightValues}`,
      );
    try {
      tensors.set(lj.name, layer.applyMany(ins));
    } catch (e) {
      throw new InvalidInputError(`${where}: ${(e as Error).message}`);
    }
  }
  const pick = (ref: [string, number, number], what: string): SymbolicTensor => {
    const outs = tensors.get(ref[0]);
    if (!outs || ref[1] !== 0 || !outs[ref[2]])
      throw new InvalidInputError(`${where}: ${what} [${ref.join(', ')}] names no layer output of the model`);
    return outs[ref[2]];
  };
  const model = new Functional({
    name: cfg.name,
    inputs: cfg.input_layers.map((r) => pick(r, 'input_layers entry')),
    outputs: cfg.output_layers.map((r) => pick(r, 'output_layers entry')),
    seed,
    weightsFollow,
  });
  model.build();
  return model;
}

function readWeights(
  json: ModelJson,
  weights: Uint8Array | readonly WeightFile[],
  where: string,
): ReturnType<typeof readManifestWeights> {
  // Only tfjs's optimizer step count ('iter') may be int32, as validateWeightsManifest checks a file's.
  for (const s of json.weightsManifest.flatMap((g) => g.weights))
    if (s.dtype !== 'float32' && !(s.dtype === 'int32' && s.group === 'optimizer'))
      throw new InvalidInputError(
        `${where}: weight '${s.name}' has dtype ${String(s.dtype)}; recur reads float32 weights`,
      );
  return readManifestWeights(json, weights, where);
}

/** Weights of a functional model as tensors by file name (for inspection). */
export function functionalWeightsByName(model: Functional): Map<string, Tensor> {
  return new Map(
    model.namedWeights().map(({ name, weight }) => [name, new Tensor(weight.value.slice(), weight.shape)]),
  );
}
