/**
 * model.json as recur reads it: the zod schema of a TensorFlow.js LayersModel file (Keras `modelTopology`,
 * `weightsManifest`, `userDefinedMetadata`), every layer config value included, and the one clear error a bad file
 * gets: `runs/x/model.json: modelTopology.config.layers[1].config.units: expected a positive integer, got "a"`.
 *
 * The schema checks each value on its own; what needs the whole file (weights against layers, byte counts, sha256)
 * is checked by `deserializeModel` in serialization.ts. This module is the only one of the model code that imports
 * zod, and serialization.ts takes only its types, so the worker pool (which imports serialization.ts for layer
 * configs) stays free of it.
 */
import { z } from 'zod';
import { JsonSyntaxError, parseJsonText } from '../core/json_text.js';
import { ACTIVATION_SPELLINGS } from '../layers/activations.js';
import {
  FORMAT_VERSION,
  MAX_WEIGHT_VALUES,
  ModelFileError,
  fieldPath,
  type ModelJson,
} from './serialization.js';

/**
 * A Random's saved state (a checkpoint's trainRng): xoshiro128's four 32-bit words, not all zero — from zeros it draws
 * only zeros, so a damaged state would train on silently with no shuffling and no dropout.
 */
export const RandomStateSchema = z
  .array(z.number().int().min(0).max(0xffffffff))
  .length(4)
  .refine((w) => w.some((x) => x !== 0), 'expected a random generator state, not all zeros');

/** Largest size of any one axis or unit count: far above any real model, small enough that products stay exact. */
export const MAX_DIM = 2 ** 24;

const INITIALIZER_CLASSES = [
  'Zeros',
  'Ones',
  'Constant',
  'GlorotUniform',
  'GlorotNormal',
  'HeUniform',
  'HeNormal',
  'LeCunUniform',
  'LeCunNormal',
  'LecunUniform',
  'LecunNormal',
  'VarianceScaling',
  'Orthogonal',
  'Identity',
  'RandomUniform',
  'RandomNormal',
  'TruncatedNormal',
] as const;
const INITIALIZER_NAMES = [
  'zeros',
  'ones',
  'glorotUniform',
  'glorotNormal',
  'heUniform',
  'heNormal',
  'lecunUniform',
  'lecunNormal',
  'orthogonal',
  'randomUniform',
  'randomNormal',
] as const;

const positiveInt = z
  .number({ error: 'expected a positive integer' })
  .int({ error: 'expected a positive integer' })
  .min(1, { error: 'expected a positive integer' })
  .max(MAX_DIM, { error: `expected a positive integer ≤ ${MAX_DIM}` });
const finite = z.number({ error: 'expected a finite number' });
const bool = z.boolean({ error: 'expected true or false' });
const rate = z
  .number({ error: 'expected a number in [0, 1)' })
  .min(0, { error: 'expected a number in [0, 1)' })
  .lt(1, { error: 'expected a number in [0, 1)' });
const seed = z.number({ error: 'expected an integer seed or null' }).int().nullable();
const activation = z
  .enum(ACTIVATION_SPELLINGS, { error: `expected an activation: ${ACTIVATION_SPELLINGS.join(', ')}` })
  .nullable();

const initializerObject = z.looseObject({
  class_name: z.enum(INITIALIZER_CLASSES, {
    error: `expected an initializer class: ${INITIALIZER_CLASSES.join(', ')}`,
  }),
  config: z
    .looseObject({
      seed: seed.optional(),
      minval: finite.optional(),
      maxval: finite.optional(),
      mean: finite.optional(),
      stddev: finite.optional(),
      gain: finite.optional(),
      value: finite.optional(),
      scale: finite.optional(),
      mode: z
        .enum(['fan_in', 'fan_out', 'fan_avg'], { error: 'expected fan_in, fan_out or fan_avg' })
        .optional(),
      distribution: z
        .enum(['uniform', 'normal', 'truncated_normal', 'untruncated_normal'], {
          error: 'expected uniform, normal, truncated_normal or untruncated_normal',
        })
        .optional(),
    })
    .nullable()
    .optional(),
});
const initializer = z.union([z.enum(INITIALIZER_NAMES), initializerObject], {
  error: 'expected an initializer: {"class_name": …, "config": {…}}',
});

/** [batch, …axes]: positive sizes or null (any). */
const batchShape = z
  .array(positiveInt.nullable(), { error: 'expected a shape: an array of positive integers or null' })
  .min(1, { error: 'expected a shape with at least one axis' })
  .max(8, { error: 'expected a shape with at most 8 axes' });
const dtype = z.union(
  [
    z.literal('float32'),
    z.null(),
    // Keras 3 writes a DTypePolicy object.
    z.looseObject({ config: z.looseObject({ name: z.literal('float32') }) }),
  ],
  { error: 'expected "float32" (recur computes in float32)' },
);

const layerCommon = {
  name: z
    .string({ error: 'expected a layer name' })
    .min(1, { error: 'expected a non-empty layer name' })
    .optional(),
  trainable: bool.optional(),
  dtype: dtype.optional(),
  batch_input_shape: batchShape.nullable().optional(),
  batch_shape: batchShape.nullable().optional(),
  batch_size: positiveInt.nullable().optional(),
};

const recurrentConfig = {
  ...layerCommon,
  units: positiveInt,
  activation: activation.optional(),
  use_bias: bool.optional(),
  kernel_initializer: initializer.optional(),
  recurrent_initializer: initializer.optional(),
  bias_initializer: initializer.optional(),
  dropout: rate.optional(),
  recurrent_dropout: rate.optional(),
  return_sequences: bool.optional(),
  return_state: bool.optional(),
  go_backwards: bool.optional(),
  stateful: bool.optional(),
  unroll: bool.optional(),
  time_major: bool.optional(),
  // tfjs 4.x writes null here for LSTM and GRU.
  implementation: z.number().int().min(0).max(2).nullable().optional(),
};

/** Config schemas of the layer classes recur reads, in the files' snake_case. Others are left to layerFromKeras. */
const LAYER_CONFIGS: Record<string, z.ZodType> = {
  InputLayer: z.looseObject({ ...layerCommon, sparse: bool.optional(), ragged: bool.optional() }),
  Dense: z.looseObject({
    ...layerCommon,
    units: positiveInt,
    activation: activation.optional(),
    use_bias: bool.optional(),
    kernel_initializer: initializer.optional(),
    bias_initializer: initializer.optional(),
  }),
  Activation: z.looseObject({ ...layerCommon, activation }),
  Dropout: z.looseObject({ ...layerCommon, rate, seed: seed.optional() }),
  Embedding: z.looseObject({
    ...layerCommon,
    input_dim: positiveInt,
    output_dim: positiveInt,
    embeddings_initializer: initializer.optional(),
    input_length: positiveInt.nullable().optional(),
    // tfjs writes null for an Embedding made without maskZero (its default, false).
    mask_zero: bool.nullable().optional(),
  }),
  SimpleRNN: z.looseObject(recurrentConfig),
  LSTM: z.looseObject({
    ...recurrentConfig,
    recurrent_activation: activation.optional(),
    unit_forget_bias: bool.nullable().optional(),
  }),
  GRU: z.looseObject({
    ...recurrentConfig,
    recurrent_activation: activation.optional(),
    reset_after: bool.nullable().optional(),
  }),
};

const layer = z
  .looseObject({
    class_name: z.string({ error: 'expected a layer class name' }),
    config: z.looseObject({}, { error: 'expected the layer config object' }),
  })
  .superRefine((l, ctx) => {
    const schema = LAYER_CONFIGS[l.class_name];
    if (!schema) return;
    const r = schema.safeParse(l.config, { reportInput: true });
    if (!r.success)
      for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: ['config', ...issue.path] });
  });

const topology = z.looseObject({
  class_name: z.literal('Sequential', {
    error: 'expected "Sequential" (a functional model loads with loadFunctionalModel)',
  }),
  config: z.looseObject({
    name: z.string({ error: 'expected the model name' }).optional(),
    layers: z
      .array(layer, { error: 'expected the array of layers' })
      .min(1, { error: 'expected at least one layer' }),
  }),
  keras_version: z.string().optional(),
  backend: z.string().optional(),
});

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected a sha256: 64 lowercase hex digits' });

const weightSpec = z
  .looseObject({
    name: z
      .string({ error: 'expected the weight name' })
      .min(1, { error: 'expected a non-empty weight name' }),
    shape: z.array(
      z
        .number({ error: 'expected a size: an integer ≥ 0' })
        .int({ error: 'expected a size: an integer ≥ 0' })
        .min(0, { error: 'expected a size: an integer ≥ 0' })
        .max(MAX_WEIGHT_VALUES, { error: `expected a size ≤ ${MAX_WEIGHT_VALUES}` }),
      { error: 'expected a shape: an array of sizes' },
    ),
    dtype: z.enum(['float32', 'int32'], { error: 'expected "float32" (recur reads float32 weights)' }),
    group: z.enum(['model', 'optimizer'], { error: 'expected "model" or "optimizer"' }).optional(),
    // tfjs's converter (--quantize_float16, --quantize_uint8/uint16): read and dequantized as tfjs reads them.
    quantization: z
      .looseObject(
        {
          dtype: z.enum(['float16', 'uint8', 'uint16'], { error: 'expected "float16", "uint8" or "uint16"' }),
          scale: finite.optional(),
          min: finite.optional(),
        },
        { error: 'expected the quantization: {dtype, scale, min}' },
      )
      .optional(),
  })
  // tfjs saves its optimizer's step count ('iter') as int32 (model.save with includeOptimizer); weights are float32.
  .superRefine((w, ctx) => {
    const q = w.quantization;
    if (q && q.dtype !== 'float16' && (q.scale === undefined || q.min === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['quantization'],
        input: q,
        message: `expected the scale and min of ${q.dtype} values`,
      });
    if (q && w.dtype !== 'float32')
      ctx.addIssue({
        code: 'custom',
        path: ['dtype'],
        input: w.dtype,
        message: 'expected "float32" (recur reads quantized float32 weights only)',
      });
    if (w.dtype !== 'float32' && w.group !== 'optimizer')
      ctx.addIssue({
        code: 'custom',
        path: ['dtype'],
        input: w.dtype,
        message: 'expected "float32" (recur reads float32 weights)',
      });
  });

const weightGroup = z.looseObject({
  paths: z.array(z.string({ error: 'expected a file name' }).min(1, { error: 'expected a file name' }), {
    error: 'expected an array of file names',
  }),
  weights: z.array(weightSpec, { error: 'expected an array of weight specs' }),
});

const weightsManifest = z.array(weightGroup, {
  error: 'expected the weights manifest: an array of weight groups',
});

const recurMetadata = z.looseObject({
  formatVersion: z
    .number({ error: 'expected the format version, an integer' })
    .int({ error: 'expected the format version, an integer' })
    .min(1, { error: 'expected a format version ≥ 1' })
    .max(FORMAT_VERSION, {
      error: `expected a format version ≤ ${FORMAT_VERSION}: the file was written by a newer recur`,
    })
    .optional(),
  seed: z
    .number({ error: 'expected a seed: an integer in [0, 2^32)' })
    .int({ error: 'expected a seed: an integer in [0, 2^32)' })
    .min(0, { error: 'expected a seed: an integer in [0, 2^32)' })
    .max(2 ** 32 - 1, { error: 'expected a seed: an integer in [0, 2^32)' })
    .optional(),
  compile: z
    .looseObject({
      loss: z.string({ error: 'expected the loss name' }),
      metrics: z.array(z.string({ error: 'expected a metric name' }), {
        error: 'expected an array of metrics',
      }),
      fromLogits: bool,
      optimizer: z.looseObject({
        className: z.string({ error: 'expected the optimizer class name' }),
        config: z.record(z.string(), z.unknown(), { error: 'expected the optimizer config object' }),
      }),
    })
    .optional(),
  sha256: z
    .looseObject({
      weights: z.record(z.string(), sha256, { error: 'expected {file name: sha256}' }),
      modelTopology: sha256,
      weightsManifest: sha256,
    })
    .optional(),
});

const modelJson = z.looseObject({
  format: z
    .literal('layers-model', { error: 'expected "layers-model" (recur loads LayersModel files)' })
    .optional(),
  generatedBy: z.string().optional(),
  convertedBy: z.string().nullable().optional(),
  modelTopology: topology,
  weightsManifest,
  userDefinedMetadata: z
    .looseObject({ recur: recurMetadata.optional() }, { error: 'expected an object' })
    .optional(),
});

/** model.json as the schema checks it. */
export type ParsedModelJson = z.infer<typeof modelJson>;
export type ParsedWeightSpec = z.infer<typeof weightSpec>;
export type ParsedLayerJson = z.infer<typeof layer>;
/** `userDefinedMetadata.recur` as the schema checks it. */
export type ParsedRecurMetadata = z.infer<typeof recurMetadata>;

/** A value as an error message shows it: JSON, cut short. */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

/** The most specific issue: inside a union, the branch that got furthest (the value had the right kind there). */
function innermost(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union' || !('errors' in issue) || issue.errors.length === 0) return issue;
  // A branch got further when it went inside the value, or rejected it for more than its kind or its value.
  const depth = (errs: z.core.$ZodIssue[]): number =>
    Math.max(
      ...errs.map((e) => e.path.length + (e.code === 'invalid_type' || e.code === 'invalid_value' ? 0 : 0.5)),
    );
  const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0];
  // Only the branch that matched the value's kind says more than the union's own message.
  if (best.length === 0 || depth(best) < 0.5) return issue;
  const inner = innermost(best[0]);
  return { ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  const hasInput = 'input' in issue && issue.input !== undefined;
  // zod's own messages start "Invalid input: expected …"; the schema's messages above start "expected …".
  let what = issue.message.replace(/^Invalid input: /, '').replace(/, received \w+$/, '');
  if (issue.code === 'unrecognized_keys') what = `unknown key(s) ${issue.keys.join(', ')}`;
  if (!hasInput) return issue.code === 'invalid_type' ? `missing (${what})` : what;
  return `${what}, got ${shown(issue.input)}`;
}

/**
 * Checks a parsed model.json against the schema and returns it (the same object: its hashes are taken over what the
 * file holds). Keras files that wrap the topology in `model_config` are unwrapped. Throws one ModelFileError naming
 * the file and the field path of the first problem.
 */
export function validateModelJson(raw: unknown, file: string): ModelJson {
  let json = raw;
  let prefix: (string | number)[] = [];
  let listConfig = false;
  const topo = (raw as { modelTopology?: unknown } | null)?.modelTopology;
  if (topo && typeof topo === 'object' && 'model_config' in topo) {
    // Keras's own files: {modelTopology: {model_config: {class_name, config}, training_config}}.
    json = { ...(raw as object), modelTopology: (topo as { model_config: unknown }).model_config };
    prefix = ['model_config'];
  }
  const sequential = (json as { modelTopology?: { class_name?: unknown; config?: unknown } } | null)
    ?.modelTopology;
  if (sequential?.class_name === 'Sequential' && Array.isArray(sequential.config)) {
    // Keras before 2.2.3 writes a Sequential config as the bare list of layers (tfjs reads it, and so does its
    // converter's model.json of such a model).
    json = { ...(json as object), modelTopology: { ...sequential, config: { layers: sequential.config } } };
    listConfig = true;
  }
  const r = modelJson.safeParse(json, { reportInput: true });
  if (!r.success) {
    const first = innermost(r.error.issues[0]);
    const path = first.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    // The file's list is the config itself: modelTopology.config[3], not modelTopology.config.layers[3].
    if (listConfig && path[0] === 'modelTopology' && path[1] === 'config' && path[2] === 'layers')
      path.splice(2, 1);
    if (prefix.length > 0 && path[0] === 'modelTopology') path.splice(1, 0, ...prefix);
    const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more problems)` : '';
    const field = path.length > 0 ? fieldPath(path) : '(the whole file)';
    throw new ModelFileError(file, field, issueMessage(first) + more);
  }
  return json as ModelJson;
}

/**
 * A model.json's weightsManifest checked as validateModelJson checks it, for a file whose topology has another schema
 * (a functional model's): one ModelFileError naming the file and the field.
 */
export function validateWeightsManifest(raw: unknown, file: string): ModelJson['weightsManifest'] {
  const r = weightsManifest.safeParse(raw, { reportInput: true });
  if (r.success) return raw as ModelJson['weightsManifest'];
  const first = innermost(r.error.issues[0]);
  const path = ['weightsManifest', ...first.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
  throw new ModelFileError(file, fieldPath(path), issueMessage(first));
}

/** model.json text → validated JSON, naming the file in every error. */
export function parseModelJson(text: string, file: string): ModelJson {
  let raw: unknown;
  try {
    raw = parseJsonText(text, file);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    throw new ModelFileError(file, e.where, `not valid JSON at ${e.where} (${e.problem})`, e.message);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ModelFileError(file, 'line 1', `expected a JSON object, got ${shown(raw)}`);
  if (!('modelTopology' in raw))
    throw new ModelFileError(file, 'modelTopology', 'missing: not a TensorFlow.js LayersModel file');
  return validateModelJson(raw, file);
}
