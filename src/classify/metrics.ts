/**
 * Classification metrics: accuracy, per-class precision / recall / F1, macro-F1, the confusion matrix, and ROC-AUC
 * for binary tasks (the Mann–Whitney statistic, ties counted half). Classes are indices into `labels`.
 */

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** True examples of the class. */
  support: number;
}

export interface ClassificationReport {
  accuracy: number;
  macro_f1: number;
  per_class: Record<string, ClassMetrics>;
  /** confusion[true][predicted], rows and columns in label order. */
  confusion: number[][];
  /** ROC-AUC of the second class's score, for two classes with both present; otherwise null. */
  auc: number | null;
  count: number;
}

/** The confusion matrix of true and predicted class indices. */
export function confusionMatrix(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: number,
): number[][] {
  if (truth.length !== predicted.length)
    throw new Error(`confusionMatrix: ${truth.length} true labels but ${predicted.length} predictions`);
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]][predicted[i]]++;
  return m;
}

/** Accuracy of predictions (0 for no examples). */
export function accuracyOf(truth: ArrayLike<number>, predicted: ArrayLike<number>): number {
  let right = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === predicted[i]) right++;
  return truth.length === 0 ? 0 : right / truth.length;
}

/**
 * Per-class precision, recall and F1 from a confusion matrix. A class never predicted has precision 0, one never
 * present recall 0 (scikit-learn's zero_division=0).
 */
export function perClassMetrics(confusion: number[][]): ClassMetrics[] {
  const K = confusion.length;
  return confusion.map((row, k) => {
    const tp = row[k];
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let j = 0; j < K; j++) predicted += confusion[j][k];
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { precision, recall, f1, support };
  });
}

/**
 * The mean F1 over the classes that occur among the true labels or the predictions (scikit-learn's f1_score
 * average='macro' default). A class with neither has no precision or recall to speak of: counting it as F1 0 would
 * score a perfect model 0.67 on a file holding two of its three classes.
 */
function macroOfConfusion(confusion: number[][], per: ClassMetrics[]): number {
  let sum = 0;
  let present = 0;
  per.forEach((c, k) => {
    const predicted = confusion.reduce((s, row) => s + row[k], 0);
    if (c.support === 0 && predicted === 0) return;
    sum += c.f1;
    present++;
  });
  return present === 0 ? 0 : sum / present;
}

export function macroF1(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): number {
  const confusion = confusionMatrix(truth, predicted, classes);
  return macroOfConfusion(confusion, perClassMetrics(confusion));
}

/**
 * ROC-AUC: the probability that a random positive scores above a random negative (ties count half). Null when one
 * of the two classes is absent.
 */
export function rocAuc(positive: ArrayLike<boolean>, scores: ArrayLike<number>): number | null {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  // Average ranks (1-based) over tied scores.
  const rank = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) rank[order[k]] = r;
    i = j + 1;
  }
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; i++)
    if (positive[i]) {
      pos++;
      rankSum += rank[i];
    }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return null;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * Every metric at once. `probabilities` ([N × classes], row-major) gives the AUC for a binary task; predictions
 * are their argmax unless `predicted` is given.
 */
export function classificationReport(
  labels: readonly string[],
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  probabilities?: Float32Array | Float64Array,
): ClassificationReport {
  const K = labels.length;
  const confusion = confusionMatrix(truth, predicted, K);
  const per = perClassMetrics(confusion);
  const per_class: Record<string, ClassMetrics> = {};
  labels.forEach((l, k) => (per_class[l] = per[k]));
  let auc: number | null = null;
  if (K === 2 && probabilities) {
    const scores = Array.from({ length: truth.length }, (_, i) => probabilities[i * 2 + 1]);
    auc = rocAuc(
      Array.from(truth, (t) => t === 1),
      scores,
    );
  }
  return {
    accuracy: accuracyOf(truth, predicted),
    macro_f1: macroOfConfusion(confusion, per),
    per_class,
    confusion,
    auc,
    count: truth.length,
  };
}

/** Index of the largest value of each row of a [N × K] array (the first on ties). */
export function argmaxRows(p: ArrayLike<number>, K: number): Int32Array {
  const N = p.length / K;
  const out = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (p[i * K + k] > p[i * K + best]) best = k;
    out[i] = best;
  }
  return out;
}

/**
 * Multi-label metrics over [N × labels] 0/1 matrices: each label scored as its own binary task (precision, recall,
 * F1, support = texts carrying it), macro-F1 (their mean), micro-F1 (from the true / false positives and false
 * negatives pooled over every label), subset accuracy (the whole label set right) and Hamming loss (the fraction of
 * text × label decisions that are wrong). The zero-division convention is perClassMetrics's: 0.
 */
export interface MultiLabelScores {
  subset_accuracy: number;
  hamming_loss: number;
  micro_f1: number;
  macro_f1: number;
  per_label: Record<string, ClassMetrics>;
  count: number;
}

function f1Of(tp: number, fp: number, fn: number): { precision: number; recall: number; f1: number } {
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

/** Multi-label scores of predicted against true label matrices ([N × labels.length], row-major, 0/1). */
export function multiLabelScores(
  labels: readonly string[],
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
): MultiLabelScores {
  const L = labels.length;
  if (truth.length !== predicted.length || truth.length % L !== 0)
    throw new Error(
      `multiLabelScores: ${truth.length} true and ${predicted.length} predicted entries for ${L} labels`,
    );
  const N = truth.length / L;
  const tp = new Float64Array(L);
  const fp = new Float64Array(L);
  const fn = new Float64Array(L);
  let exact = 0;
  let wrong = 0;
  for (let i = 0; i < N; i++) {
    let rowWrong = 0;
    for (let k = 0; k < L; k++) {
      const t = truth[i * L + k] > 0;
      const p = predicted[i * L + k] > 0;
      if (t && p) tp[k]++;
      else if (p) fp[k]++;
      else if (t) fn[k]++;
      if (t !== p) rowWrong++;
    }
    wrong += rowWrong;
    if (rowWrong === 0) exact++;
  }
  const per_label: Record<string, ClassMetrics> = {};
  let macro = 0;
  labels.forEach((l, k) => {
    const m = { ...f1Of(tp[k], fp[k], fn[k]), support: tp[k] + fn[k] };
    per_label[l] = m;
    macro += m.f1 / L;
  });
  const sum = (a: Float64Array): number => a.reduce((s, v) => s + v, 0);
  return {
    subset_accuracy: N === 0 ? 0 : exact / N,
    hamming_loss: N === 0 ? 0 : wrong / (N * L),
    micro_f1: f1Of(sum(tp), sum(fp), sum(fn)).f1,
    macro_f1: macro,
    per_label,
    count: N,
  };
}

/** 1 where a probability reaches `threshold`, else 0 (the labels predicted for each text). */
export function thresholded(probabilities: ArrayLike<number>, threshold: number): Uint8Array {
  return Uint8Array.from(probabilities as ArrayLike<number>, (p) => (p >= threshold ? 1 : 0));
}

/** Mean binary cross-entropy over every text × label (probabilities clipped at 1e-7, as Keras does). */
export function binaryCrossEntropy(probabilities: ArrayLike<number>, truth: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < truth.length; i++) {
    const q = Math.min(Math.max(probabilities[i], 1e-7), 1 - 1e-7);
    s -= truth[i] > 0 ? Math.log(q) : Math.log(1 - q);
  }
  return s / Math.max(1, truth.length);
}
