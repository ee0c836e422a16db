/**
 * Character-model recipes and the metadata a text model directory carries (vocabulary, settings, training state),
 * shared by `recur train`, `generate` and `evaluate`.
 */
import { GRU, LSTM, SimpleRNN, Dense, Dropout } from '../layers/index.js';
import type { RNN } from '../layers/recurrent.js';
import { Sequential } from '../models/sequential.js';
import { loadModel } from '../node/model_io.js';
import { Vocabulary } from '../text/vocabulary.js';
import { UsageError } from './output.js';
import { z } from 'zod';

export type Recipe = 'keras' | 'char-rnn';
export type CellType = 'lstm' | 'gru' | 'simple-rnn';
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
  seed: number;
  source: string;
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
  history: Record<string, number>[];
}

export interface TextMetadata {
  task: 'text';
  vocabulary: string[];
  settings: TextSettings;
  defaultPrime: string;
  state?: TrainingState;
}

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
} as const;

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
      // Only the LSTM has a forget gate; GRU and SimpleRNN refuse the option.
      ...(s.cell === 'lstm' && s.init === 'uniform' ? { unitForgetBias: false } : {}),
      ...(i === 0
        ? stateful
          ? { batchInputShape: [s.batchSize, T, vocab] }
          : { inputShape: [T, vocab] }
        : {}),
    };
    const layer: RNN =
      s.cell === 'gru' ? new GRU(args) : s.cell === 'simple-rnn' ? new SimpleRNN(args) : new LSTM(args);
    model.add(layer);
    if (s.dropout > 0) model.add(new Dropout({ rate: s.dropout }));
  }
  model.add(new Dense({ units: vocab, activation: 'softmax', ...init.dense }));
  return model;
}

const positiveInt = z.number().int().positive();
/** What a text model directory keeps under userDefinedMetadata (checked on load: a damaged file is bad input). */
const TEXT_METADATA = z.looseObject({
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
    optimizer: z.string(),
    learningRate: z.number().positive(),
    clipnorm: z.number().positive().nullable(),
    validationSplit: z.number().min(0).lt(1),
    lowercase: z.boolean(),
    init: z.enum(['keras', 'uniform']).optional(),
    rmspropEpsilon: z.enum(['inside', 'outside']).optional(),
    seed: z.number().int().min(0),
    source: z.string(),
  }),
  defaultPrime: z.string(),
  state: z.unknown().optional(),
});

export function parseTextMetadata(meta: Record<string, unknown>, where: string): TextMetadata {
  if (meta.task !== 'text' || !('vocabulary' in meta)) {
    throw new UsageError(
      `${where} is not a recur text model (no vocabulary in its metadata); train one with 'recur train'`,
    );
  }
  const r = TEXT_METADATA.safeParse(meta);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UsageError(
      `${where}: model.json: userDefinedMetadata.${issue.path.join('.')}: ${issue.message}` +
        (r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more problems)` : ''),
    );
  }
  return r.data as unknown as TextMetadata;
}

/** A text model and its metadata from a model directory; a directory that does not hold one is bad input (exit 2). */
export function loadTextModel(dir: string): { model: Sequential; meta: TextMetadata; notes: string[] } {
  let loaded: ReturnType<typeof loadModel>;
  try {
    loaded = loadModel(dir);
  } catch (e) {
    if (e instanceof Error && !(e instanceof UsageError) && !(e as NodeJS.ErrnoException).code)
      throw new UsageError(e.message);
    throw e;
  }
  return { model: loaded.model, meta: parseTextMetadata(loaded.metadata, dir), notes: loaded.notes };
}

export function vocabularyOf(meta: TextMetadata): Vocabulary {
  return Vocabulary.fromJSON(meta.vocabulary);
}
