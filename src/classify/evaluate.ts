/**
 * Scoring a classifier: its report on a labelled set next to the two baselines trained on the same training split,
 * and the callback that scores the validation set after every epoch (val_loss, val_acc, val_macro_f1), which early
 * stopping and the kept best model watch.
 */
import { Callback, type Logs } from '../models/callbacks.js';
import type { Sequential } from '../models/sequential.js';
import { NaiveBayes, frequentLabels, majorityClass, naiveBayesOneVsRest } from './baselines.js';
import {
  accuracyOf,
  argmaxRows,
  binaryCrossEntropy,
  classificationReport,
  macroF1,
  multiLabelScores,
  thresholded,
  type ClassificationReport,
  type MultiLabelScores,
} from './metrics.js';
import { ensembleProbabilities, type ClassifierModels } from './ensemble.js';
import { crossEntropy, predictProbabilities } from './model.js';

export interface BaselineScores {
  accuracy: number;
  macro_f1: number;
}

export interface EvaluationReport extends ClassificationReport {
  /** Null when the training split was not available to fit them on. */
  baselines: { majority: BaselineScores; naive_bayes: BaselineScores } | null;
}

/** The majority class and naive Bayes, fitted on the training texts, scored on the evaluation texts. */
export function baselineScores(
  trainTexts: readonly string[],
  trainLabels: Int32Array,
  evalTexts: readonly string[],
  evalLabels: Int32Array,
  classes: number,
): { majority: BaselineScores; naive_bayes: BaselineScores } {
  const major = new Int32Array(evalLabels.length).fill(majorityClass(trainLabels, classes));
  const nb = NaiveBayes.fit(trainTexts, trainLabels, classes).predict(evalTexts);
  const score = (p: Int32Array): BaselineScores => ({
    accuracy: accuracyOf(evalLabels, p),
    macro_f1: macroF1(evalLabels, p, classes),
  });
  return { majority: score(major), naive_bayes: score(nb) };
}

/** The network's report on `sequences` (encoded texts) with `labels` (an ensemble: its averaged probabilities). */
export function networkReport(
  model: ClassifierModels,
  classes: readonly string[],
  sequences: readonly Int32Array[],
  labels: Int32Array,
  batchSize?: number,
): ClassificationReport {
  return probabilityReport(
    classes,
    labels,
    ensembleProbabilities(model, sequences, classes.length, batchSize),
  );
}

/** networkReport from the network's class probabilities p [N × classes], however they were computed (a pool's). */
export function probabilityReport(
  classes: readonly string[],
  labels: Int32Array,
  p: Float32Array,
): ClassificationReport {
  return classificationReport(classes, labels, argmaxRows(p, classes.length), p);
}

/**
 * After every epoch, scores the validation set and adds val_loss, val_acc and val_macro_f1 to the epoch's logs.
 * Put it before the callbacks that read them (early stopping, checkpoints, the progress bar's summary).
 */
export class ValidationMetrics extends Callback {
  constructor(
    private readonly sequences: readonly Int32Array[],
    private readonly labels: Int32Array,
    private readonly classes: number,
    private readonly batchSize = 128,
  ) {
    super();
  }
  override async onEpochEnd(_epoch: number, logs: Logs): Promise<void> {
    const model = this.model as unknown as Sequential;
    const p = predictProbabilities(model, this.sequences, this.classes, this.batchSize);
    const predicted = argmaxRows(p, this.classes);
    logs.val_loss = crossEntropy(p, this.labels, this.classes);
    logs.val_acc = accuracyOf(this.labels, predicted);
    logs.val_macro_f1 = macroF1(this.labels, predicted, this.classes);
  }
}

/** A baseline's headline multi-label figures. */
export interface MultiLabelBaselineScores {
  subset_accuracy: number;
  hamming_loss: number;
  micro_f1: number;
  macro_f1: number;
}

export interface MultiLabelEvaluationReport extends MultiLabelScores {
  /** The probability at or above which a label is predicted. */
  threshold: number;
  /** Null when the training split was not available to fit them on. */
  baselines: { frequent_labels: MultiLabelBaselineScores; naive_bayes: MultiLabelBaselineScores } | null;
}

function headline(s: MultiLabelScores): MultiLabelBaselineScores {
  return {
    subset_accuracy: s.subset_accuracy,
    hamming_loss: s.hamming_loss,
    micro_f1: s.micro_f1,
    macro_f1: s.macro_f1,
  };
}

/**
 * The multi-label baselines, fitted on the training texts and scored on the evaluation texts: "frequent labels" (each
 * label iff on more than half the training texts) and naive Bayes one-vs-rest.
 */
export function multiLabelBaselineScores(
  labels: readonly string[],
  trainTexts: readonly string[],
  trainTargets: Uint8Array,
  evalTexts: readonly string[],
  evalTargets: Uint8Array,
): { frequent_labels: MultiLabelBaselineScores; naive_bayes: MultiLabelBaselineScores } {
  const L = labels.length;
  const frequent = frequentLabels(trainTargets, L, evalTexts.length);
  const nb = naiveBayesOneVsRest(trainTexts, trainTargets, L, evalTexts);
  return {
    frequent_labels: headline(multiLabelScores(labels, evalTargets, frequent)),
    naive_bayes: headline(multiLabelScores(labels, evalTargets, nb)),
  };
}

/** The network's multi-label scores on `sequences` with targets [N × labels], labels predicted at `threshold`. */
export function multiLabelNetworkReport(
  model: ClassifierModels,
  labels: readonly string[],
  sequences: readonly Int32Array[],
  targets: Uint8Array,
  threshold = 0.5,
  batchSize?: number,
): MultiLabelScores & { threshold: number } {
  const p = ensembleProbabilities(model, sequences, labels.length, batchSize);
  return multiLabelProbabilityReport(labels, targets, p, threshold);
}

/** multiLabelNetworkReport from the network's label probabilities p [N × labels], however they were computed. */
export function multiLabelProbabilityReport(
  labels: readonly string[],
  targets: Uint8Array,
  p: Float32Array,
  threshold = 0.5,
): MultiLabelScores & { threshold: number } {
  return { ...multiLabelScores(labels, targets, thresholded(p, threshold)), threshold };
}

/**
 * The multi-label counterpart of ValidationMetrics: val_loss (binary cross-entropy), val_micro_f1, val_macro_f1 and
 * val_subset_accuracy at `threshold`, which early stopping and the kept best model watch.
 */
export class MultiLabelValidationMetrics extends Callback {
  constructor(
    private readonly sequences: readonly Int32Array[],
    private readonly targets: Uint8Array,
    private readonly labels: number,
    private readonly threshold = 0.5,
    private readonly batchSize = 128,
  ) {
    super();
  }
  override async onEpochEnd(_epoch: number, logs: Logs): Promise<void> {
    const model = this.model as unknown as Sequential;
    const p = predictProbabilities(model, this.sequences, this.labels, this.batchSize);
    const names = Array.from({ length: this.labels }, (_, k) => String(k));
    const s = multiLabelScores(names, this.targets, thresholded(p, this.threshold));
    logs.val_loss = binaryCrossEntropy(p, this.targets);
    logs.val_micro_f1 = s.micro_f1;
    logs.val_macro_f1 = s.macro_f1;
    logs.val_subset_accuracy = s.subset_accuracy;
  }
}
