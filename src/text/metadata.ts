/**
 * What a character model carries besides its weights — the vocabulary, the recipe's settings, the default prime and
 * (in a checkpoint) the training state — and the zod schema that checks it when a model is loaded.
 */
import { z } from 'zod';
import { RandomStateSchema } from '../models/model_file.js';
import { InvalidInputError } from '../core/errors.js';
import { RNN } from '../layers/recurrent.js';
import { cellTypeOf, type CellType } from '../layers/recurrent_factory.js';
import { OPTIMIZER_NAMES } from '../models/optimizers.js';
import type { Sequential } from '../models/sequential.js';
import { otherTaskMessage } from '../core/tasks.js';
import { Vocabulary } from './vocabulary.js';

export type Recipe = 'keras' | 'char-rnn';
export type { CellType };
/**
 * Weight initialisation. 'keras': Keras's defaults (glorot-uniform input kernel, orthogonal recurrent kernel, zero
 * bias with unit forget bias). 'uniform': every weight and bias U(±1/√units), as Torch's char-rnn and PyTorch
 * initialise an LSTM; it learns faster in the first epoch of these recipes (BENCHMARKS.md).
 */
export type InitScheme = 'keras' | 'uniform';

export interface TextSettings {
  recipe: Recipe;
  cell: CellType;
  maxlen: number;
  step: number;
  seqLength: number;
  batchSize: number;
  units: number;
  layers: number;
  dropout: number;
  optimizer: string;
  learningRate: number;
  clipnorm: number | null;
  validationSplit: number;
  lowercase: boolean;
  /** Absent in models saved before the option existed: those were 'keras'. */
  init?: InitScheme;
  /** Where RMSprop adds ε (see RMSpropArgs.epsilonOutside). Absent in older models: those were 'inside'. */
  rmspropEpsilon?: 'inside' | 'outside';
  /**
   * GRU only: reset gate after the recurrent product (Keras's TF2 default; tfjs 4.x cannot read it). Absent in models
   * saved before the option existed: those were true.
   */
  gruResetAfter?: boolean;
  seed: number;
  source: string;
  /**
   * sha256 of the training text as the model reads it (its characters' ids), recorded by `recur train`: a resumed run
   * on another text is refused. Absent in older models.
   */
  textSha256?: string;
}

/** Everything needed to continue a run exactly. */
export interface TrainingState {
  /** Next epoch to run (0-based). */
  epoch: number;
  /** Batches of `epoch` already done (mid-epoch interruption). */
  batch: number;
  trainRng: number[];
  reduceLr: { wait: number; cooldownCounter: number; best: number | null };
  bestMonitored: number | null;
  /** The checkpoint's tie-break value at the best epoch (seq2seq: val_ter); absent before a best epoch or a tie-break. */
  bestTieBreak?: number | null;
  history: Record<string, number>[];
  /** The run's --steps-per-epoch cap (null: none), which a resumed run keeps; absent before recur recorded it. */
  stepsPerEpoch?: number | null;
  /** The run's epochs and threads, which a resumed run keeps unless given; absent before recur recorded them. */
  epochs?: number;
  threads?: number;
  /** The samples printed after each epoch (recur train), kept the same way; absent before recur recorded them. */
  sampling?: { length: number; temperatures: number[]; enabled: boolean };
}

export interface TextMetadata {
  task: 'text';
  vocabulary: string[];
  settings: TextSettings;
  defaultPrime: string;
  state?: TrainingState;
}

const positiveInt = z.number().int().positive();
const count = z.number().int().min(0);
/**
 * A checkpoint's TrainingState (text and seq2seq runs), checked before --resume uses it: a damaged one was a TypeError
 * deep in the run. Loose, as a run adds its own fields (epochProgress, checked by the command that reads it).
 */
const TrainingStateSchema = z.looseObject({
  epoch: count,
  batch: count,
  trainRng: RandomStateSchema,
  reduceLr: z.object({ wait: count, cooldownCounter: count, best: z.number().nullable() }),
  bestMonitored: z.number().nullable(),
  bestTieBreak: z.number().nullable().optional(),
  stepsPerEpoch: positiveInt.nullable().optional(),
  epochs: positiveInt.optional(),
  threads: positiveInt.optional(),
  sampling: z
    .object({ length: count, temperatures: z.array(z.number().min(0)), enabled: z.boolean() })
    .optional(),
  // One row per epoch done, numbered from 1 (log.csv is rewritten from them). A speed of null: an epoch an older recur
  // timed at 0 s (its Infinity, which JSON writes as null).
  history: z.array(
    z
      .record(z.string(), z.number().nullable())
      .refine((row) => Number.isInteger(row.epoch) && row.epoch! >= 1, 'expected an epoch number ≥ 1'),
  ),
});

/**
 * Checks a model's metadata.state (when there is one) against TrainingStateSchema: an InvalidInputError naming the
 * file and field otherwise. Checked apart from the rest of the metadata so that the state keeps its own fields.
 */
export function checkTrainingState(state: unknown, where: string): void {
  if (state === undefined) return;
  const r = TrainingStateSchema.safeParse(state);
  if (r.success) return;
  const issue = r.error.issues[0];
  throw new InvalidInputError(
    `${where}: model.json: userDefinedMetadata.state${issue.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('')}: ${issue.message}`,
  );
}
/** What a text model directory keeps under userDefinedMetadata (checked on load: a damaged file is bad input). */
const TEXT_METADATA = z
  .looseObject({
    task: z.literal('text'),
    vocabulary: z
      .array(z.string().refine((c) => Array.from(c).length === 1, 'expected one character'))
      .min(1)
      .refine((v) => new Set(v).size === v.length, 'characters must be distinct'),
    settings: z.looseObject({
      recipe: z.enum(['keras', 'char-rnn']),
      cell: z.enum(['lstm', 'gru', 'simple-rnn']),
      maxlen: positiveInt,
      step: positiveInt,
      seqLength: positiveInt,
      batchSize: positiveInt,
      units: positiveInt,
      layers: positiveInt,
      dropout: z.number().min(0).lt(1),
      optimizer: z.enum(OPTIMIZER_NAMES),
      learningRate: z.number().positive(),
      clipnorm: z.number().positive().nullable(),
      validationSplit: z.number().min(0).lt(1),
      lowercase: z.boolean(),
      init: z.enum(['keras', 'uniform']).optional(),
      rmspropEpsilon: z.enum(['inside', 'outside']).optional(),
      gruResetAfter: z.boolean().optional(),
      seed: z.number().int().min(0),
      source: z.string(),
      textSha256: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .optional(),
    }),
    defaultPrime: z.string(),
    state: z.unknown().optional(),
  })
  .superRefine((m, ctx) => {
    // Generation starts from the default prime when none is given: a prime the vocabulary cannot encode was refused
    // later as if the user had given it (--prime), or failed a resumed run's samples (exit 1).
    const prime = Array.from(m.settings.lowercase ? m.defaultPrime.toLowerCase() : m.defaultPrime);
    const known = new Set(m.vocabulary);
    const unknown = prime.filter((c) => !known.has(c));
    if (prime.length === 0 || unknown.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['defaultPrime'],
        message:
          prime.length === 0
            ? 'expected at least one character'
            : `characters outside the vocabulary: ${[...new Set(unknown)].map((c) => JSON.stringify(c)).join(', ')}`,
      });
  });

/**
 * A text model's metadata (a model's userDefinedMetadata), checked; `where` names the model in errors. Anything else
 * is an InvalidInputError naming the field.
 */
export function parseTextMetadata(meta: Record<string, unknown>, where: string): TextMetadata {
  // A model of another of recur's tasks (a classifier dropped on the page) is named as what it is.
  const other = otherTaskMessage(where, meta.task, 'text');
  if (other) throw new InvalidInputError(other);
  if (meta.task !== 'text' || !('vocabulary' in meta)) {
    throw new InvalidInputError(
      `${where} is not a recur text model (no vocabulary in its metadata); train one with 'recur train'`,
    );
  }
  const r = TEXT_METADATA.safeParse(meta);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InvalidInputError(
      `${where}: model.json: userDefinedMetadata.${issue.path.join('.')}: ${issue.message}` +
        (r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more problems)` : ''),
    );
  }
  checkTrainingState(meta.state, where);
  return r.data as unknown as TextMetadata;
}

/**
 * A text model's metadata (parseTextMetadata's checks) that also fits the model it came with: the vocabulary is the
 * softmax's size, and the settings a run, a score or an export reads — recipe, window, stateful batch, cell, units,
 * layers — are the model's. A damaged model.json that disagrees is an InvalidInputError naming the field; without
 * this check a resumed run or `recur evaluate` failed deep in a layer (exit 1), and `recur serve` started and then
 * answered every request with an internal error.
 */
export function parseTextModelMetadata(
  model: Sequential,
  meta: Record<string, unknown>,
  where: string,
): TextMetadata {
  const parsed = parseTextMetadata(meta, where);
  const problem = textModelMismatch(model, parsed);
  if (problem) throw new InvalidInputError(`${where}: model.json: userDefinedMetadata.${problem}`);
  return parsed;
}

/** How `meta` disagrees with `model` ('field: what'), or null. See parseTextModelMetadata. */
function textModelMismatch(model: Sequential, meta: TextMetadata): string | null {
  const s = meta.settings;
  const output = model.layers.length > 0 && model.inputShape() ? model.outputShape() : null;
  const predicts = output?.[output.length - 1];
  if (predicts !== meta.vocabulary.length)
    return `vocabulary: ${meta.vocabulary.length} characters, but the model predicts ${predicts ?? 'none'} (a text model ends in a softmax over its characters)`;
  const sequence = output!.length === 2;
  if ((s.recipe === 'char-rnn') !== sequence)
    return `settings.recipe: '${s.recipe}', but the model predicts ${sequence ? 'a character at every step (the char-rnn recipe)' : 'one character per window (the keras recipe)'}`;
  const steps = model.inputShape()![0];
  const [field, window] = sequence ? ['seqLength', s.seqLength] : ['maxlen', s.maxlen];
  if (typeof steps === 'number' && steps !== window)
    return `settings.${field}: ${window}, but the model reads ${steps} characters at a time`;
  const rnns = model.layers.filter((l): l is RNN => l instanceof RNN);
  if (rnns.length > 0) {
    if (rnns.length !== s.layers)
      return `settings.layers: ${s.layers}, but the model has ${rnns.length} recurrent layer${rnns.length === 1 ? '' : 's'}`;
    if (cellTypeOf(rnns[0]) !== s.cell)
      return `settings.cell: '${s.cell}', but the model's recurrent layers are ${cellTypeOf(rnns[0])}`;
    if (rnns[0].units !== s.units)
      return `settings.units: ${s.units}, but the model's first recurrent layer has ${rnns[0].units}`;
    const batch = model.layers[0].declaredBatchSize;
    if (rnns.some((l) => l.stateful) && typeof batch === 'number' && batch !== s.batchSize)
      return `settings.batchSize: ${s.batchSize}, but the model's carried states are for ${batch} streams`;
  }
  return null;
}

/** The metadata to save with a text model (and, in a checkpoint, its training state). */
export function textMetadata(
  vocabulary: Vocabulary,
  settings: TextSettings,
  defaultPrime: string,
  state?: TrainingState,
): TextMetadata {
  return {
    task: 'text',
    vocabulary: vocabulary.toJSON(),
    settings,
    defaultPrime,
    ...(state ? { state } : {}),
  };
}

export function vocabularyOf(meta: TextMetadata): Vocabulary {
  return Vocabulary.fromJSON(meta.vocabulary);
}
