/**
 * Scoring a classifier: its report on a labelled set next to the two baselines trained on the same training split,
 * and the callback that scores the validation set after every epoch (val_loss, val_acc, val_macro_f1), which early
 * stopping and the kept best model watch.
 */
import { Callback, type Logs } from '../models/callbacks.js';
import type { Sequential } from '../models/sequential.js';
import { NaiveBayes, majorityClass } from './baselines.js';
import {
  accuracyOf,
  argmaxRows,
  classificationReport,
  macroF1,
  type ClassificationReport,
} from './metrics.js';
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

/** The network's report on `sequences` (encoded texts) with `labels`. */
export function networkReport(
  model: Sequential,
  classes: readonly string[],
  sequences: readonly Int32Array[],
  labels: Int32Array,
  batchSize?: number,
): ClassificationReport {
  const p = predictProbabilities(model, sequences, classes.length, batchSize);
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
