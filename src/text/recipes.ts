/**
 * The character-model recipes as library code: the recipes' settings, the model for a recipe, its compilation, and
 * the datasets it trains on. `recur train` runs exactly these; a library user can run the same recipe without the
 * CLI (README, "Library").
 */
import { InvalidInputError, describeValue } from '../core/errors.js';
import { Random } from '../core/random.js';
import { Dense, Dropout } from '../layers/index.js';
import { CELL_TYPES, recurrentLayer } from '../layers/recurrent_factory.js';
import { createOptimizer } from '../models/optimizers.js';
import { Sequential, type BatchDataset } from '../models/sequential.js';
import type { TextCorpus } from './corpus.js';
import type { TextGenerator } from './generator.js';
import type { CellType, InitScheme, Recipe, TextSettings } from './metadata.js';

export const KERAS_RECIPE = {
  recipe: 'keras',
  cell: 'lstm',
  maxlen: 40,
  step: 3,
  seqLength: 50,
  batchSize: 128,
  units: 128,
  layers: 1,
  dropout: 0,
  optimizer: 'rmsprop',
  learningRate: 0.01,
  clipnorm: null,
  validationSplit: 0,
  lowercase: true,
  init: 'uniform',
  rmspropEpsilon: 'outside',
  gruResetAfter: true,
} as const;

/** char-rnn style: two LSTM(256), dropout 0.2, Adam 4e-3, global-norm clipping 5, batch 32 × 50 chars, stateful. */
export const CHAR_RNN_RECIPE = {
  recipe: 'char-rnn',
  cell: 'lstm',
  maxlen: 50,
  step: 3,
  seqLength: 50,
  batchSize: 32,
  units: 256,
  layers: 2,
  dropout: 0.2,
  optimizer: 'adam',
  learningRate: 0.004,
  clipnorm: 5,
  validationSplit: 0.1,
  lowercase: true,
  init: 'uniform',
  rmspropEpsilon: 'outside',
  gruResetAfter: true,
} as const;

/** What may differ from a recipe's defaults (each field absent: the recipe's value). */
export type TextSettingsOverrides = Partial<
  Omit<TextSettings, 'recipe' | 'source' | 'cell' | 'init' | 'rmspropEpsilon'>
> & {
  cell?: string;
  init?: string;
  rmspropEpsilon?: string;
};

function oneOf<T extends string>(field: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    const listed = `${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]}`;
    throw new InvalidInputError(`${field} must be ${listed}, got '${value}'`);
  }
  return value as T;
}

/**
 * A recipe's settings with `overrides` applied; `source` names the text in the metadata. Without a seed, one is drawn
 * at random. A cell, init or ε placement that does not exist is an InvalidInputError.
 */
export function textSettings(
  recipe: Recipe,
  overrides: TextSettingsOverrides = {},
  source = '',
): TextSettings {
  if (recipe !== 'keras' && recipe !== 'char-rnn')
    throw new InvalidInputError(`recipe must be keras or char-rnn, got '${String(recipe)}'`);
  const base = recipe === 'char-rnn' ? CHAR_RNN_RECIPE : KERAS_RECIPE;
  const o = overrides;
  checkOverrides(o);
  return {
    recipe,
    cell: oneOf<CellType>('cell', o.cell ?? base.cell, CELL_TYPES),
    maxlen: o.maxlen ?? base.maxlen,
    step: o.step ?? base.step,
    seqLength: o.seqLength ?? base.seqLength,
    batchSize: o.batchSize ?? base.batchSize,
    units: o.units ?? base.units,
    layers: o.layers ?? base.layers,
    dropout: o.dropout ?? base.dropout,
    optimizer: o.optimizer ?? base.optimizer,
    learningRate: o.learningRate ?? base.learningRate,
    clipnorm: o.clipnorm ?? base.clipnorm,
    validationSplit: o.validationSplit ?? base.validationSplit,
    lowercase: o.lowercase ?? base.lowercase,
    init: oneOf<InitScheme>('init', o.init ?? base.init, ['keras', 'uniform']),
    rmspropEpsilon: oneOf<'inside' | 'outside'>('rmspropEpsilon', o.rmspropEpsilon ?? base.rmspropEpsilon, [
      'inside',
      'outside',
    ]),
    ...((o.cell ?? base.cell) === 'gru' ? { gruResetAfter: o.gruResetAfter ?? base.gruResetAfter } : {}),
    seed: o.seed ?? (Math.random() * 2 ** 31) >>> 0,
    source,
  };
}

/** What textSettings takes, each with its check (a message starting with the name, so the CLI can name its flag). */
const OVERRIDE_CHECKS: Record<string, (v: unknown) => string | null> = {
  ...Object.fromEntries(
    ['maxlen', 'step', 'seqLength', 'batchSize', 'units', 'layers'].map((k) => [
      k,
      (v: unknown) => (Number.isInteger(v) && (v as number) >= 1 ? null : 'a positive integer'),
    ]),
  ),
  dropout: (v) => (typeof v === 'number' && v >= 0 && v < 1 ? null : 'in [0, 1)'),
  validationSplit: (v) => (typeof v === 'number' && v >= 0 && v < 1 ? null : 'in [0, 1)'),
  learningRate: (v) => (typeof v === 'number' && v > 0 && Number.isFinite(v) ? null : 'a positive number'),
  clipnorm: (v) =>
    v === null || (typeof v === 'number' && v > 0 && Number.isFinite(v)) ? null : 'a positive number or null',
  seed: (v) => (Number.isInteger(v) && (v as number) >= 0 ? null : 'an integer ≥ 0'),
  lowercase: (v) => (typeof v === 'boolean' ? null : 'true or false'),
  gruResetAfter: (v) => (typeof v === 'boolean' ? null : 'true or false'),
  optimizer: (v) => (typeof v === 'string' ? null : 'an optimizer name'),
  // Checked where they are read (oneOf), or recorded by the CLI.
  cell: () => null,
  init: () => null,
  rmspropEpsilon: () => null,
  textSha256: () => null,
};

/** A misspelt or out-of-range override would build another model without a word: refused, naming it. */
function checkOverrides(o: object): void {
  for (const [k, v] of Object.entries(o)) {
    const check = OVERRIDE_CHECKS[k];
    if (!check)
      throw new InvalidInputError(
        `${k}: not a text recipe setting (they are ${Object.keys(OVERRIDE_CHECKS).join(', ')})`,
      );
    const expected = v === undefined ? null : check(v);
    if (expected !== null) throw new InvalidInputError(`${k} must be ${expected}, got ${describeValue(v)}`);
  }
}

/** The model for a recipe: recurrent layers over one-hot (index) inputs, then Dense(vocab, softmax). */
export function buildTextModel(s: TextSettings, vocab: number): Sequential {
  const model = new Sequential({ seed: s.seed, name: 'char_model' });
  const stateful = s.recipe === 'char-rnn';
  const bound = 1 / Math.sqrt(s.units);
  const uniform = { className: 'RandomUniform', config: { minval: -bound, maxval: bound, seed: null } };
  const init =
    s.init === 'uniform'
      ? {
          recurrent: {
            kernelInitializer: uniform,
            recurrentInitializer: uniform,
            biasInitializer: uniform,
          },
          dense: { kernelInitializer: uniform, biasInitializer: uniform },
        }
      : { recurrent: {}, dense: {} };
  const T = stateful ? s.seqLength : s.maxlen;
  for (let i = 0; i < s.layers; i++) {
    const last = i === s.layers - 1;
    const args = {
      units: s.units,
      returnSequences: stateful || !last,
      stateful,
      ...init.recurrent,
      // Only the LSTM has a forget gate, only the GRU a reset gate; the other cells refuse the option.
      ...(s.cell === 'lstm' && s.init === 'uniform' ? { unitForgetBias: false } : {}),
      ...(s.cell === 'gru' && s.gruResetAfter === false ? { resetAfter: false } : {}),
      ...(i === 0
        ? stateful
          ? { batchInputShape: [s.batchSize, T, vocab] }
          : { inputShape: [T, vocab] }
        : {}),
    };
    model.add(recurrentLayer(s.cell, args));
    if (s.dropout > 0) model.add(new Dropout({ rate: s.dropout }));
  }
  model.add(new Dense({ units: vocab, activation: 'softmax', ...init.dense }));
  return model;
}

/** Compiles a text model with its recipe's optimizer, clipping and loss. */
export function compileTextModel(model: Sequential, s: TextSettings): void {
  const clip = s.clipnorm !== null ? { globalClipnorm: s.clipnorm } : {};
  model.compile({
    optimizer: createOptimizer(s.optimizer, {
      learningRate: s.learningRate,
      ...clip,
      ...(s.optimizer === 'rmsprop' && s.rmspropEpsilon === 'outside' ? { epsilonOutside: true } : {}),
    }),
    loss: 'categoricalCrossentropy',
  });
}

/** A validation split as the share of the text it holds out: 0.1 → '10%', 0.001 → '0.1%' (not '0%'). */
export function validationShare(split: number): string {
  return `${Number((split * 100).toPrecision(3))}%`;
}

/**
 * What a recipe trains on, named in errors: with a validation split, not the whole text the file holds. `splitSetting`
 * names the setting that holds the rest out: the CLI's flag, or what the page calls its box.
 */
export function trainingPartName(s: TextSettings, splitSetting = '--validation-split'): string {
  return s.validationSplit > 0
    ? `the training part of the text (all but its last ${validationShare(s.validationSplit)}, ${splitSetting})`
    : 'the training text';
}

/** The fewest training characters a recipe can make one batch (char-rnn) or one window (keras) from. */
export function minTrainingChars(s: TextSettings): number {
  return (s.recipe === 'char-rnn' ? s.seqLength * s.batchSize : s.maxlen) + 1;
}

/**
 * Why `source`'s training part of `chars` characters is too short for the recipe, or null when it is not: the CLI's
 * and the page's words (`splitSetting` as for trainingPartName).
 */
export function trainingTooShort(
  source: string,
  s: TextSettings,
  chars: number,
  splitSetting?: string,
): string | null {
  const need = minTrainingChars(s);
  if (chars >= need) return null;
  return (
    `${source}: ${trainingPartName(s, splitSetting)} has ${chars.toLocaleString('en-US')} characters; ` +
    `this recipe needs at least ${need.toLocaleString('en-US')}`
  );
}

/** The default prime: one window of the training text chosen by the seed (what samples start from). */
export function defaultPrimeOf(s: TextSettings, train: TextCorpus): string {
  const seedWindow = new Random(s.seed).int(Math.max(1, train.windowCount(s.maxlen, s.step)));
  return train.windowText(seedWindow, s.maxlen, s.step);
}

/** Wraps a stateful dataset so every pass starts from zero state (char-rnn recipe). */
export function resettingDataset(model: Sequential, inner: BatchDataset): BatchDataset {
  return {
    batchesPerEpoch: inner.batchesPerEpoch,
    samplesPerEpoch: inner.samplesPerEpoch,
    async *batches(epoch: number) {
      model.resetStates();
      yield* inner.batches(epoch);
      model.resetStates();
    },
  };
}

export interface TextDatasetOptions {
  /** Cap training batches per epoch (quick runs). */
  maxBatches?: number;
  /** Batches of the first epoch to skip (resuming a checkpoint from a recur that saved no epoch progress). */
  skipBatches?: number;
  /** What errors call the setting of the validation split (trainingPartName); the CLI's flag by default. */
  splitSetting?: string;
}

/**
 * What a recipe trains and validates on: shuffled windows (keras), or `batchSize` contiguous streams carried across
 * batches and reset each pass (char-rnn).
 */
export function textDatasets(
  model: Sequential,
  s: TextSettings,
  train: TextCorpus,
  validation: TextCorpus | null,
  opts: TextDatasetOptions = {},
): { train: BatchDataset; validation: BatchDataset | undefined } {
  // A part too short for the recipe is named: with a validation split, "the text has 4 characters" could be either.
  const part = <T>(name: string, make: () => T): T => {
    if (!validation) return make();
    try {
      return make();
    } catch (e) {
      if (e instanceof InvalidInputError) throw new InvalidInputError(`${name}: ${e.message}`);
      throw e;
    }
  };
  const splitSetting = opts.splitSetting ?? '--validation-split';
  const trainPart = trainingPartName(s, splitSetting);
  const validationPart = `the validation part of the text (its last ${validationShare(s.validationSplit)}, ${splitSetting})`;
  if (s.recipe === 'char-rnn') {
    const streams = { seqLength: s.seqLength, batchSize: s.batchSize };
    return {
      train: part(trainPart, () =>
        resettingDataset(model, train.streams({ ...streams, maxBatches: opts.maxBatches })),
      ),
      validation: validation
        ? part(validationPart, () => resettingDataset(model, validation.streams(streams)))
        : undefined,
    };
  }
  return {
    train: part(trainPart, () =>
      train.windows({
        maxlen: s.maxlen,
        step: s.step,
        batchSize: s.batchSize,
        seed: s.seed,
        skipBatches: opts.skipBatches ?? 0,
        maxBatches: opts.maxBatches,
      }),
    ),
    validation: validation
      ? // Alike windows together: validation steps each distinct beginning once (src/models/prefix_steps.ts).
        part(validationPart, () =>
          validation.windows({
            maxlen: s.maxlen,
            step: s.step,
            batchSize: 512,
            shuffle: false,
            alikeTogether: true,
          }),
        )
      : undefined,
  };
}

/**
 * Samples after an epoch, one per temperature, all from `prime` with a seed that depends on the epoch (so each
 * epoch's samples are reproducible). The keras recipe's model starts from zero state; the char-rnn recipe's carries
 * its state, as it did during training.
 */
export function epochSampleTexts(
  generator: TextGenerator,
  s: TextSettings,
  epoch: number,
  opts: { prime: string; length: number; temperatures: number[] },
): string[] {
  if (s.recipe !== 'char-rnn') generator.model.resetStates();
  if (opts.length <= 0) return [];
  return generator.generateMany(opts.temperatures, {
    prime: opts.prime,
    length: opts.length,
    // Wrapped to 32 bits as Random wraps it (the same samples as ever): --seed 4294967295 plus an epoch is no seed
    // checkSeed takes.
    seed: (s.seed + epoch) >>> 0,
  });
}
