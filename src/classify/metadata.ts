/**
 * What a classifier's model directory carries besides its weights — the classes, the tokenizer, the settings and
 * where the data came from (so `eval` can rebuild the same split and baselines) and, in a checkpoint, the training
 * state — and the zod schema that checks it on load.
 */
import { z } from 'zod';
import { RandomStateSchema } from '../models/model_file.js';
import { InvalidInputError } from '../core/errors.js';
import { Embedding } from '../layers/embedding.js';
import type { Sequential } from '../models/sequential.js';
import { outputUnits, type ClassifierSettings } from './model.js';
import { Tokenizer, type TokenizerJSON } from './tokenizer.js';

/** Where the training data came from, and how it was split. */
export interface ClassifierData {
  /** A path (absolute), or the name of the package of the default corpus. */
  source: string;
  /** The CSV / JSON Lines column or field names used, when the source had them. */
  textColumn: string | null;
  labelColumn: string | null;
  /**
   * A CSV / TSV column's 1-based number, recorded when another column has its name (it was given by number; its name
   * would pick the other one or be refused); absent otherwise and in models from before it was recorded.
   */
  textColumnNumber?: number;
  labelColumnNumber?: number;
  /** Multi-label data: the separator of the label lists in the label column (null: single-label data). */
  labelSeparator?: string | null;
  /** A separate test set given with --test (absolute path), or null: the test split of `source`. */
  testSource: string | null;
  /**
   * The columns (or fields) the --test file was read with, which need not be the training file's (each file's are
   * guessed on its own); absent in models from before they were recorded.
   */
  testTextColumn?: string | null;
  testLabelColumn?: string | null;
  /** As textColumnNumber / labelColumnNumber, for the --test file. */
  testTextColumnNumber?: number;
  testLabelColumnNumber?: number;
  /** sha256 of the labelled records, to tell whether `source` still holds what the model was trained on. */
  fingerprint: string;
  records: number;
}

/** Everything needed to continue a run exactly. */
export interface ClassifierTrainingState {
  /** Next epoch (0-based) and batches of it already done. */
  epoch: number;
  batch: number;
  trainRng: number[];
  bestMonitored: number | null;
  earlyStopping: { wait: number; best: number | null };
  history: Record<string, number>[];
  /** The run's --steps-per-epoch cap (null: none), which a resumed run keeps; absent before recur recorded it. */
  stepsPerEpoch?: number | null;
  /** The threads the run trains on, which a resumed run keeps unless given; absent before recur recorded them. */
  threads?: number;
  /** Present for a mid-epoch checkpoint: the epoch's running sums (see EpochProgress). */
  epochProgress?: { sums: Record<string, number>; seen: number; epochRng: number[] };
}

export interface ClassifierMetadata {
  task: 'classify';
  classes: string[];
  tokenizer: TokenizerJSON;
  settings: ClassifierSettings;
  data: ClassifierData;
  state?: ClassifierTrainingState;
}

const positiveInt = z.number().int().positive();
const CLASSIFIER_METADATA = z.looseObject({
  task: z.literal('classify'),
  classes: z
    .array(z.string())
    .min(2)
    .refine((c) => new Set(c).size === c.length, 'classes must be distinct'),
  tokenizer: z.object({
    options: z.object({
      level: z.enum(['word', 'char']),
      lowercase: z.boolean(),
      punctuation: z.enum(['split', 'strip', 'keep']),
      maxVocab: z.number().int().min(3).nullable(),
      minCount: positiveInt,
      // Absent in tokenizers saved before it: text read as it is.
      normalization: z.enum(['none', 'NFC']).default('none'),
    }),
    tokens: z.array(z.string()).min(2),
  }),
  settings: z.looseObject({
    maxLength: positiveInt,
    truncating: z.enum(['pre', 'post']),
    embeddingDim: positiveInt,
    cell: z.enum(['lstm', 'gru']),
    units: positiveInt,
    layers: positiveInt,
    bidirectional: z.boolean(),
    dropout: z.number().min(0).lt(1),
    // Absent in models trained before these options: `dropout` after the embedding, a constant learning rate.
    embeddingDropout: z.number().min(0).lt(1).nullable().default(null),
    lrDecay: z.number().gt(0).max(1).default(1),
    // Absent in models trained before these options: the final state (the default then), unweighted.
    pooling: z.enum(['last', 'max', 'mean']).default('last'),
    classWeight: z
      .union([z.literal('balanced'), z.record(z.string(), z.number().positive()), z.null()])
      .default(null),
    output: z.enum(['softmax', 'sigmoid']),
    // Absent in models trained before multi-label support: single-label.
    multiLabel: z.boolean().default(false),
    optimizer: z.string(),
    learningRate: z.number().positive(),
    clipnorm: z.number().positive().nullable(),
    batchSize: positiveInt,
    epochs: positiveInt,
    patience: z.number().int().min(0),
    monitor: z.enum(['val_macro_f1', 'val_micro_f1', 'val_loss']),
    validationSplit: z.number().gt(0).lt(0.5),
    testSplit: z.number().min(0).lt(0.5),
    seed: z.number().int().min(0),
  }),
  data: z.object({
    source: z.string(),
    textColumn: z.string().nullable(),
    labelColumn: z.string().nullable(),
    textColumnNumber: positiveInt.optional(),
    labelColumnNumber: positiveInt.optional(),
    labelSeparator: z.string().min(1).nullable().default(null),
    testSource: z.string().nullable(),
    testTextColumn: z.string().nullable().optional(),
    testLabelColumn: z.string().nullable().optional(),
    testTextColumnNumber: positiveInt.optional(),
    testLabelColumnNumber: positiveInt.optional(),
    fingerprint: z.string(),
    records: z.number().int().min(0),
  }),
  state: z
    .object({
      epoch: z.number().int().min(0),
      batch: z.number().int().min(0),
      trainRng: RandomStateSchema,
      bestMonitored: z.number().nullable(),
      earlyStopping: z.object({ wait: z.number().int().min(0), best: z.number().nullable() }),
      // A speed of null: an epoch an older recur timed at 0 s (its Infinity, which JSON writes as null).
      history: z.array(
        z
          .record(z.string(), z.number().nullable())
          .transform((row) =>
            Object.fromEntries(Object.entries(row).filter((e): e is [string, number] => e[1] !== null)),
          ),
      ),
      stepsPerEpoch: z.number().int().positive().nullable().optional(),
      threads: z.number().int().positive().optional(),
      epochProgress: z
        .object({
          sums: z.record(z.string(), z.number()),
          seen: z.number().nonnegative(),
          epochRng: RandomStateSchema,
        })
        .optional(),
    })
    .optional(),
});

/**
 * The settings with their keys in the schema's order, then any others by name. A resumed run's settings come back
 * from the schema in its order, a new run's in the recipe's: written in one order, a resumed run's model.json is the
 * uninterrupted run's byte for byte.
 */
function inSchemaOrder(settings: ClassifierSettings): ClassifierSettings {
  const known = Object.keys(CLASSIFIER_METADATA.shape.settings.shape);
  const others = Object.keys(settings)
    .filter((k) => !known.includes(k))
    .sort();
  const entries = Object.entries(settings) as [string, unknown][];
  const value = new Map(entries);
  return Object.fromEntries(
    [...known, ...others].filter((k) => value.has(k)).map((k) => [k, value.get(k)]),
  ) as unknown as ClassifierSettings;
}

/** A classifier's metadata, checked; `where` names the model in errors (InvalidInputError naming the field). */
export function parseClassifierMetadata(meta: Record<string, unknown>, where: string): ClassifierMetadata {
  if (meta.task !== 'classify')
    throw new InvalidInputError(
      `${where} is not a recur text classifier (its metadata has no task 'classify'); train one with 'recur classify train'`,
    );
  const r = CLASSIFIER_METADATA.safeParse(meta);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InvalidInputError(
      `${where}: model.json: userDefinedMetadata.${issue.path.join('.')}: ${issue.message}` +
        (r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more problems)` : ''),
    );
  }
  const parsed = r.data as unknown as ClassifierMetadata;
  if (parsed.settings.multiLabel && (parsed.settings.output !== 'sigmoid' || !parsed.data.labelSeparator))
    throw new InvalidInputError(
      `${where}: model.json: userDefinedMetadata: a multi-label classifier needs settings.output 'sigmoid' and a data.labelSeparator`,
    );
  try {
    Tokenizer.fromJSON(parsed.tokenizer); // checks the reserved entries too
  } catch (e) {
    throw new InvalidInputError(
      `${where}: model.json: userDefinedMetadata.tokenizer: ${(e as Error).message}`,
    );
  }
  return parsed;
}

/**
 * Checks that `model` is the network `meta` describes — its Embedding reads the tokenizer's ids, its output has a unit
 * per class (one for a two-class sigmoid) — as a metadata list edited or damaged on its own would index outside the
 * embedding (a crash) or read the probabilities with the wrong stride (wrong labels, silently).
 */
export function checkClassifierFits(model: Sequential, meta: ClassifierMetadata, where: string): void {
  const embedding = model.layers.find((l): l is Embedding => l instanceof Embedding);
  const tokens = meta.tokenizer.tokens.length;
  if (embedding && embedding.inputDim !== tokens)
    throw new InvalidInputError(
      `${where}: model.json: userDefinedMetadata.tokenizer.tokens: ${tokens} tokens, but the model's embedding reads ${embedding.inputDim}`,
    );
  // One sigmoid unit scores the second class against the first: any other number of classes is read wrongly.
  if (meta.settings.output === 'sigmoid' && !meta.settings.multiLabel && meta.classes.length !== 2)
    throw new InvalidInputError(
      `${where}: model.json: userDefinedMetadata.classes: a single-label sigmoid classifier has 2 classes, not ${meta.classes.length}`,
    );
  const units = model.outputShape().at(-1);
  const expected = outputUnits(meta.settings, meta.classes.length);
  if (units !== expected)
    throw new InvalidInputError(
      `${where}: model.json: userDefinedMetadata.classes: ${meta.classes.length} classes need ${expected} output units, but the model has ${units}`,
    );
}

export function classifierMetadata(
  classes: readonly string[],
  tokenizer: Tokenizer,
  settings: ClassifierSettings,
  data: ClassifierData,
  state?: ClassifierTrainingState,
): ClassifierMetadata {
  return {
    task: 'classify',
    classes: [...classes],
    tokenizer: tokenizer.toJSON(),
    settings: inSchemaOrder(settings),
    data: { ...data, labelSeparator: data.labelSeparator ?? null },
    ...(state ? { state } : {}),
  };
}
