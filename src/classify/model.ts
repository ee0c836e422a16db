/**
 * The classifier as library code: its settings (the default recipe and overrides), the model — Embedding(maskZero)
 * → stacked (Bidirectional) LSTM/GRU with dropout → Dense with softmax (several classes) or one sigmoid unit (two) —,
 * its compilation, and prediction over length-bucketed batches. `recur classify train` runs exactly these.
 */
import { scoped } from '../core/backend.js';
import { InvalidInputError, describeValue, nameList } from '../core/errors.js';
import {
  Bidirectional,
  Dense,
  Dropout,
  Embedding,
  GlobalAveragePooling1D,
  GlobalMaxPooling1D,
  SpatialDropout1D,
} from '../layers/index.js';
import { recurrentLayer } from '../layers/recurrent_factory.js';
import { withFrozenWeights } from '../layers/frozen_weights.js';
import { createOptimizer } from '../models/optimizers.js';
import { Sequential } from '../models/sequential.js';
import { bucketedBatches } from './dataset.js';
import { checkTokenizerOptions, type TokenizerOptions, type Truncating } from './tokenizer.js';
import { CLASSIFIER_DEFAULTS } from './defaults.js';

export type ClassifierCell = 'lstm' | 'gru';
export type ClassifierOutput = 'softmax' | 'sigmoid';
/**
 * How the last recurrent layer's states become one vector per text: its final state ('last'), or the largest /
 * mean value of each feature over the text's real steps ('max' / 'mean': GlobalMax/AveragePooling1D, mask-aware).
 */
export type ClassifierPooling = 'last' | 'max' | 'mean';
/**
 * Per-class loss weights for imbalanced data: 'balanced' (Keras/scikit-learn: N / (classes · count of the class),
 * from the training split) or a weight per class name; null = every sample weighs 1.
 */
export type ClassWeightSpec = 'balanced' | Record<string, number> | null;
/** What early stopping and the kept best model watch. */
export type ClassifierMonitor = 'val_macro_f1' | 'val_micro_f1' | 'val_loss';

export interface ClassifierSettings {
  tokenizer: TokenizerOptions;
  /** Tokens kept per text. */
  maxLength: number;
  /** Which end of a longer text is cut. */
  truncating: Truncating;
  embeddingDim: number;
  cell: ClassifierCell;
  units: number;
  layers: number;
  bidirectional: boolean;
  /** Dropout after the embedding and after each recurrent layer (after the pooling, for the last one). */
  dropout: number;
  /**
   * Dropout of whole embedding channels (SpatialDropout1D: the same channels of a text dropped at every step) in place
   * of `dropout`'s element-wise dropout after the embedding; null = `dropout` there, 0 = none there.
   */
  embeddingDropout: number | null;
  pooling: ClassifierPooling;
  classWeight: ClassWeightSpec;
  /** 'sigmoid' only for two classes (one unit, binary cross-entropy), or for multi-label (one unit per label). */
  output: ClassifierOutput;
  /**
   * Multi-label: any number of the classes (labels) apply to a text; one sigmoid unit per label, binary cross-entropy
   * averaged over the labels. Early stopping then watches val_micro_f1 by default.
   */
  multiLabel: boolean;
  optimizer: string;
  learningRate: number;
  /** Per-epoch learning-rate decay: epoch e (0-based) trains at learningRate · lrDecay^e; 1 = a constant rate. */
  lrDecay: number;
  clipnorm: number | null;
  batchSize: number;
  epochs: number;
  /** Epochs without improvement of `monitor` before stopping; 0 = never stop early. */
  patience: number;
  monitor: ClassifierMonitor;
  validationSplit: number;
  testSplit: number;
  seed: number;
}

export { CLASSIFIER_DEFAULTS };

export type ClassifierOverrides = Partial<Omit<ClassifierSettings, 'tokenizer'>> & {
  tokenizer?: Partial<TokenizerOptions>;
};

function check(ok: boolean, field: string, expected: string, value: unknown): void {
  if (!ok) throw new InvalidInputError(`${field} must be ${expected}, got ${describeValue(value)}`);
}

/**
 * The default recipe with `overrides` for a task with `classes` classes; without a seed, one is drawn. The output is
 * a sigmoid unit for two classes and a softmax otherwise, unless overridden. Bad values are InvalidInputErrors
 * naming the field.
 */
export function classifierSettings(classes: number, overrides: ClassifierOverrides = {}): ClassifierSettings {
  const multiLabel = overrides.multiLabel ?? false;
  const s: ClassifierSettings = {
    ...CLASSIFIER_DEFAULTS,
    ...overrides,
    tokenizer: { ...CLASSIFIER_DEFAULTS.tokenizer, ...overrides.tokenizer },
    multiLabel,
    output:
      overrides.output ??
      (multiLabel || (classes === 2 && (overrides.classWeight ?? null) === null) ? 'sigmoid' : 'softmax'),
    monitor: overrides.monitor ?? (multiLabel ? 'val_micro_f1' : CLASSIFIER_DEFAULTS.monitor),
    seed: overrides.seed ?? (Math.random() * 2 ** 31) >>> 0,
  };
  checkTokenizerOptions(s.tokenizer);
  const posInt = (v: number): boolean => Number.isInteger(v) && v >= 1;
  check(s.cell === 'lstm' || s.cell === 'gru', 'cell', 'lstm or gru', s.cell);
  check(s.truncating === 'pre' || s.truncating === 'post', 'truncating', 'pre or post', s.truncating);
  check(s.output === 'softmax' || s.output === 'sigmoid', 'output', 'softmax or sigmoid', s.output);
  check(
    s.output === 'softmax' || classes === 2 || s.multiLabel,
    'output',
    'softmax for more than two classes',
    s.output,
  );
  check(s.output === 'sigmoid' || !s.multiLabel, 'output', 'sigmoid for multi-label data', s.output);
  check(
    s.classWeight === null || !s.multiLabel,
    'classWeight',
    'absent for multi-label data (it weighs single classes)',
    s.classWeight,
  );
  check(
    s.monitor !== 'val_micro_f1' || s.multiLabel,
    'monitor',
    'val_macro_f1 or val_loss for single-label data (val_micro_f1 is for multi-label)',
    s.monitor,
  );
  check(['last', 'max', 'mean'].includes(s.pooling), 'pooling', 'last, max or mean', s.pooling);
  checkClassWeightSpec(s.classWeight);
  // Class weights scale each sample's one-hot target (see classWeightsFor), which is a weighted loss only for softmax.
  check(
    s.classWeight === null || s.output === 'softmax',
    'output',
    'softmax when class weights are given (two classes then get two softmax units)',
    s.output,
  );
  check(
    ['val_macro_f1', 'val_micro_f1', 'val_loss'].includes(s.monitor),
    'monitor',
    'val_macro_f1, val_micro_f1 or val_loss',
    s.monitor,
  );
  for (const f of ['maxLength', 'embeddingDim', 'units', 'layers', 'batchSize', 'epochs'] as const)
    check(posInt(s[f]), f, 'a positive integer', s[f]);
  check(Number.isInteger(s.patience) && s.patience >= 0, 'patience', 'an integer ≥ 0', s.patience);
  check(s.dropout >= 0 && s.dropout < 1, 'dropout', 'in [0, 1)', s.dropout);
  check(
    s.embeddingDropout === null || (s.embeddingDropout >= 0 && s.embeddingDropout < 1),
    'embeddingDropout',
    'in [0, 1) or null',
    s.embeddingDropout,
  );
  check(s.lrDecay > 0 && s.lrDecay <= 1, 'lrDecay', 'in (0, 1]', s.lrDecay);
  check(s.learningRate > 0, 'learningRate', 'positive', s.learningRate);
  check(s.clipnorm === null || s.clipnorm > 0, 'clipnorm', 'positive or null', s.clipnorm);
  check(
    s.validationSplit > 0 && s.validationSplit < 0.5,
    'validationSplit',
    'in (0, 0.5)',
    s.validationSplit,
  );
  check(s.testSplit >= 0 && s.testSplit < 0.5, 'testSplit', 'in [0, 0.5)', s.testSplit);
  return s;
}

function checkClassWeightSpec(w: unknown): void {
  if (w === null || w === 'balanced') return;
  const ok =
    typeof w === 'object' &&
    !Array.isArray(w) &&
    Object.keys(w).length > 0 &&
    Object.values(w).every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0);
  check(ok, 'classWeight', "'balanced' or positive finite weights by class name, e.g. {ham: 1, spam: 3}", w);
}

/**
 * The weight of each class (in `classes` order) for a spec, from the training labels (class indices) for
 * 'balanced'. Named weights must name known classes; classes left out weigh 1. Keras's class_weight: the loss of a
 * sample is multiplied by its class's weight and still averaged over the batch's samples.
 */
export function classWeightsFor(
  spec: ClassWeightSpec,
  classes: readonly string[],
  trainLabels: ArrayLike<number>,
): Float32Array | null {
  if (spec === null) return null;
  const weights = new Float32Array(classes.length).fill(1);
  if (spec === 'balanced') {
    const counts = new Float64Array(classes.length);
    for (let i = 0; i < trainLabels.length; i++) counts[trainLabels[i]]++;
    classes.forEach((c, k) => {
      if (counts[k] === 0) throw new InvalidInputError(`classWeight: class '${c}' has no training texts`);
      weights[k] = trainLabels.length / (classes.length * counts[k]);
    });
    return weights;
  }
  for (const [name, w] of Object.entries(spec)) {
    const k = classes.indexOf(name);
    if (k < 0)
      throw new InvalidInputError(
        `classWeight names class '${name}', which the data does not have (classes: ${nameList(classes)})`,
      );
    weights[k] = w;
  }
  return weights;
}

/** Units of the output layer: one sigmoid unit (two classes), or one unit per class (softmax, or multi-label). */
export function outputUnits(s: ClassifierSettings, classes: number): number {
  return s.output === 'sigmoid' && !s.multiLabel ? 1 : classes;
}

/**
 * Embedding(maskZero) → [Dropout or SpatialDropout1D] → (Bidirectional) recurrent layers, each followed by Dropout,
 * the last one pooled over time when `pooling` says so → Dense.
 */
export function buildClassifier(s: ClassifierSettings, vocabSize: number, classes: number): Sequential {
  const model = new Sequential({ seed: s.seed, name: 'text_classifier' });
  // inputShape [null]: any length; each batch is padded only to its longest text and the mask hides the padding.
  model.add(
    new Embedding({ inputDim: vocabSize, outputDim: s.embeddingDim, maskZero: true, inputShape: [null] }),
  );
  if (s.embeddingDropout !== null) {
    if (s.embeddingDropout > 0) model.add(new SpatialDropout1D({ rate: s.embeddingDropout }));
  } else if (s.dropout > 0) model.add(new Dropout({ rate: s.dropout }));
  for (let i = 0; i < s.layers; i++) {
    const last = i === s.layers - 1;
    // Pooling reads every step of the last layer; without it, the last layer gives its final state only.
    const rnn = recurrentLayer(s.cell, { units: s.units, returnSequences: !last || s.pooling !== 'last' });
    model.add(s.bidirectional ? new Bidirectional({ layer: rnn }) : rnn);
    if (last && s.pooling === 'max') model.add(new GlobalMaxPooling1D());
    if (last && s.pooling === 'mean') model.add(new GlobalAveragePooling1D());
    if (s.dropout > 0) model.add(new Dropout({ rate: s.dropout }));
  }
  model.add(new Dense({ units: outputUnits(s, classes), activation: s.output }));
  model.build();
  return model;
}

/** The learning rate of epoch `epoch` (0-based) under the recipe's per-epoch decay. */
export function learningRateAt(
  s: Pick<ClassifierSettings, 'learningRate' | 'lrDecay'>,
  epoch: number,
): number {
  return s.learningRate * s.lrDecay ** epoch;
}

/**
 * The recipe's optimizer (global-norm clipping) and loss: binary or sparse categorical cross-entropy. For multi-label,
 * binaryCrossentropy on [N, labels] targets is the per-label binary cross-entropy averaged over labels and texts.
 */
export function compileClassifier(model: Sequential, s: ClassifierSettings): void {
  model.compile({
    optimizer: createOptimizer(s.optimizer, {
      learningRate: s.learningRate,
      ...(s.clipnorm !== null ? { globalClipnorm: s.clipnorm } : {}),
    }),
    // Class weights come as weighted one-hot targets (classifierDataset), which the dense categorical loss takes.
    loss:
      s.output === 'sigmoid'
        ? 'binaryCrossentropy'
        : s.classWeight !== null
          ? 'categoricalCrossentropy'
          : 'sparseCategoricalCrossentropy',
    // 'acc': the key the command's --json lines, log.csv and checkpoints' histories have always carried.
    metrics: ['acc'],
  });
}

/**
 * Class probabilities [N × classes] (row-major, in the order of `sequences`), computed over length-sorted batches.
 * A sigmoid model's one output p becomes [1 − p, p]; a multi-label model's rows are its per-label probabilities
 * (classes ≥ 2 there, so a one-wide output is always the binary case).
 */
export function predictProbabilities(
  model: Sequential,
  sequences: readonly Int32Array[],
  classes: number,
  batchSize = 128,
): Float32Array {
  const out = new Float32Array(sequences.length * classes);
  // The weights stay as they are for the whole call: an Embedding folded into the RNN after it projects each word
  // once, not once per batch (layers/lookup_projection.ts).
  withFrozenWeights(() => {
    for (const { rows, xs } of bucketedBatches(sequences, { batchSize, shuffle: false })) {
      // One allocation scope per batch: the forward pass's buffers (for a BiLSTM returning sequences of 400-token
      // emails, tens of MB a batch) are released at once instead of waiting for the garbage collector, which let kernel
      // memory pass 2 GB over a SpamAssassin run's validation passes. The probabilities are copied out inside it.
      scoped(() => {
        const p = model.predict(xs, { batchSize: rows.length }).data;
        const width = p.length / rows.length;
        rows.forEach((r, i) => {
          if (width === 1) {
            out[r * classes] = 1 - p[i];
            out[r * classes + 1] = p[i];
          } else out.set(p.subarray(i * width, (i + 1) * width), r * classes);
        });
      });
    }
  });
  for (const v of out)
    if (!Number.isFinite(v))
      throw new Error('the model predicted a non-finite probability; its weights are damaged');
  return out;
}

/** Mean cross-entropy −log p(true class) (probabilities clipped at 1e-7, as Keras does). */
export function crossEntropy(probabilities: Float32Array, truth: ArrayLike<number>, classes: number): number {
  let s = 0;
  for (let i = 0; i < truth.length; i++) s -= Math.log(Math.max(1e-7, probabilities[i * classes + truth[i]]));
  return s / Math.max(1, truth.length);
}
