/**
 * Losses with Keras semantics, reduced to the mean over samples (and timesteps). Each returns the loss and writes
 * its gradient next to it. Cross-entropies come in two forms: on probabilities (clipped to [1e−7, 1−1e−7] as Keras)
 * and on logits; when the last layer is softmax/sigmoid, the model fuses it into the loss and uses the logits form,
 * which is exact in log space and gives the gradient p − y directly.
 * Targets for the categorical losses may be class indices (an IndexTensor, or floats holding integers for the sparse
 * loss) — no one-hot tensor is needed.
 */
import { InvalidInputError, describeValue } from '../core/errors.js';
import { kernels } from '../core/backend.js';
import { IndexTensor, Tensor, shapeToString, type AnyTensor } from '../core/tensor.js';

export type LossName =
  | 'categoricalCrossentropy'
  | 'sparseCategoricalCrossentropy'
  | 'binaryCrossentropy'
  | 'meanSquaredError'
  | 'meanAbsoluteError';

/**
 * Every name Keras or tfjs gives these losses: tfjs's camelCase function names, Keras's snake_case function names,
 * its class names (`loss='MeanSquaredError'` makes an instance of the class) and its short aliases.
 */
const ALIASES: Record<string, LossName> = {
  categoricalCrossentropy: 'categoricalCrossentropy',
  categorical_crossentropy: 'categoricalCrossentropy',
  CategoricalCrossentropy: 'categoricalCrossentropy',
  sparseCategoricalCrossentropy: 'sparseCategoricalCrossentropy',
  sparse_categorical_crossentropy: 'sparseCategoricalCrossentropy',
  SparseCategoricalCrossentropy: 'sparseCategoricalCrossentropy',
  binaryCrossentropy: 'binaryCrossentropy',
  binary_crossentropy: 'binaryCrossentropy',
  BinaryCrossentropy: 'binaryCrossentropy',
  bce: 'binaryCrossentropy',
  BCE: 'binaryCrossentropy',
  meanSquaredError: 'meanSquaredError',
  mean_squared_error: 'meanSquaredError',
  MeanSquaredError: 'meanSquaredError',
  mse: 'meanSquaredError',
  MSE: 'meanSquaredError',
  meanAbsoluteError: 'meanAbsoluteError',
  mean_absolute_error: 'meanAbsoluteError',
  MeanAbsoluteError: 'meanAbsoluteError',
  mae: 'meanAbsoluteError',
  MAE: 'meanAbsoluteError',
};

export const EPSILON = 1e-7;

export function lossName(id: unknown): LossName {
  if (typeof id === 'string' && Object.hasOwn(ALIASES, id)) return ALIASES[id];
  throw new Error(
    `unknown loss ${JSON.stringify(id)}; expected one of categoricalCrossentropy, sparseCategoricalCrossentropy, ` +
      'binaryCrossentropy, meanSquaredError, meanAbsoluteError (or their Keras names: ' +
      'sparse_categorical_crossentropy, SparseCategoricalCrossentropy, mse…)',
  );
}

/** The output activation a loss can absorb (computing from logits), if any. */
export function fusableActivation(loss: LossName): string | null {
  if (loss === 'categoricalCrossentropy' || loss === 'sparseCategoricalCrossentropy') return 'softmax';
  if (loss === 'binaryCrossentropy') return 'sigmoid';
  return null;
}

/**
 * Class labels for the categorical losses: an IndexTensor shaped like pred without its last axis, or null when the
 * target is dense (one-hot or soft labels, same shape as pred).
 */
export function labelsFor(loss: LossName, pred: Tensor, target: AnyTensor): Int32Array | null {
  const V = pred.shape[pred.shape.length - 1];
  const rows = pred.size / V;
  const sameShape =
    target.shape.length === pred.shape.length && target.shape.every((d, i) => d === pred.shape[i]);
  const labelShape =
    target.size === rows &&
    (target.shape.length === pred.shape.length - 1 ||
      (target.shape.length === pred.shape.length && target.shape[target.shape.length - 1] === 1));
  if (
    target instanceof IndexTensor ||
    (loss === 'sparseCategoricalCrossentropy' && !(V === 1 && sameShape))
  ) {
    if (!labelShape) {
      throw new Error(
        `${loss}: class-index targets must have shape ${shapeToString(pred.shape.slice(0, -1))} ` +
          `for predictions ${shapeToString(pred.shape)}, got ${shapeToString(target.shape)}`,
      );
    }
    checkClassIndices(target.data, target.shape[0], V, `${loss}: this batch's targets`);
    return Int32Array.from(target.data);
  }
  if (!sameShape) {
    throw new Error(
      `${loss}: targets of shape ${shapeToString(target.shape)} do not match predictions ${shapeToString(pred.shape)}`,
    );
  }
  return null;
}

/**
 * Throws naming the first class index outside [0, classes): its sample (row of `data`) and, for sequence targets, its
 * step — the sample the caller passed, where a batch's own check could only name a row of a shuffled batch.
 */
export function checkClassIndices(
  data: ArrayLike<number>,
  rows: number,
  classes: number,
  what: string,
): void {
  const perRow = rows > 0 ? data.length / rows : 1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Number.isInteger(v) && v >= 0 && v < classes) continue;
    const row = Math.floor(i / perRow);
    const step = perRow > 1 ? `, step ${i - row * perRow}` : '';
    throw new InvalidInputError(
      `${what}: class ${describeValue(v)} of sample ${row}${step} is not an integer in [0, ${classes}) ` +
        `(the model's output has ${classes} classes)`,
    );
  }
}

/**
 * Class-index targets of a whole fit/evaluate checked once against the output's classes before any batch (see
 * checkClassIndices); targets that are not class indices (one-hot, soft labels, regression values) are left to the loss.
 */
export function checkClassTargets(
  loss: LossName,
  outputShape: readonly (number | null)[],
  target: AnyTensor,
  what: string,
): void {
  if (loss !== 'categoricalCrossentropy' && loss !== 'sparseCategoricalCrossentropy') return;
  const V = outputShape[outputShape.length - 1];
  if (typeof V !== 'number') return;
  // As labelsFor decides per batch; outputShape has no batch axis, the target has one.
  const last = target.shape[target.shape.length - 1];
  const sameShape = target.shape.length === outputShape.length + 1 && last === V;
  const labels =
    target instanceof IndexTensor || (loss === 'sparseCategoricalCrossentropy' && !(V === 1 && sameShape));
  const labelShaped =
    target.shape.length === outputShape.length ||
    (target.shape.length === outputShape.length + 1 && last === 1);
  if (labels && labelShaped) checkClassIndices(target.data, target.shape[0], V, what);
}

/**
 * Mean loss of pred against target. When grad is given, writes ∂(mean loss)/∂pred — or ∂/∂logits when fromLogits —
 * into it. pred holds logits when fromLogits, else the model's outputs.
 */
export function computeLoss(
  loss: LossName,
  pred: Tensor,
  target: AnyTensor,
  grad: Float32Array | null,
  fromLogits: boolean,
  labelSmoothing = 0,
): number {
  const V = pred.shape[pred.shape.length - 1];
  const rows = pred.size / V;
  const p = pred.data;
  switch (loss) {
    case 'categoricalCrossentropy':
    case 'sparseCategoricalCrossentropy': {
      let labels = labelsFor(loss, pred, target);
      let dense = labels ? null : (target as Tensor).data;
      if (labelSmoothing > 0) {
        dense = smoothedTargets(labels, dense!, rows, V, labelSmoothing);
        labels = null;
      }
      if (fromLogits) return kernels().softmaxCrossEntropy(p, rows, V, labels, dense, grad, 1 / rows) / rows;
      let total = 0;
      for (let r = 0; r < rows; r++) {
        const o = r * V;
        let sum = 0;
        for (let j = 0; j < V; j++) sum += p[o + j];
        let tsum = 0;
        for (let j = 0; j < V; j++) {
          const y = labels ? (labels[r] === j ? 1 : 0) : dense![o + j];
          if (grad) grad[o + j] = 0;
          if (y === 0) continue;
          tsum += y;
          const q = p[o + j] / sum;
          const qc = Math.min(Math.max(q, EPSILON), 1 - EPSILON);
          total -= y * Math.log(qc);
          if (grad && q === qc) grad[o + j] = -y / (q * sum) / rows;
        }
        if (grad) for (let j = 0; j < V; j++) grad[o + j] += tsum / sum / rows;
      }
      return total / rows;
    }
    case 'binaryCrossentropy': {
      const t = checkDense(loss, pred, target);
      const n = pred.size;
      let total = 0;
      for (let i = 0; i < n; i++) {
        const y = t[i];
        if (fromLogits) {
          const z = p[i];
          total += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
          if (grad) grad[i] = (1 / (1 + Math.exp(-z)) - y) / n;
        } else {
          const q = Math.min(Math.max(p[i], EPSILON), 1 - EPSILON);
          total -= y * Math.log(q) + (1 - y) * Math.log(1 - q);
          if (grad) grad[i] = q === p[i] ? (q - y) / (q * (1 - q)) / n : 0;
        }
      }
      return total / n;
    }
    case 'meanSquaredError': {
      const t = checkDense(loss, pred, target);
      const n = pred.size;
      let total = 0;
      for (let i = 0; i < n; i++) {
        const d = p[i] - t[i];
        total += d * d;
        if (grad) grad[i] = (2 * d) / n;
      }
      return total / n;
    }
    case 'meanAbsoluteError': {
      const t = checkDense(loss, pred, target);
      const n = pred.size;
      let total = 0;
      for (let i = 0; i < n; i++) {
        const d = p[i] - t[i];
        total += Math.abs(d);
        if (grad) grad[i] = Math.sign(d) / n;
      }
      return total / n;
    }
  }
}

/**
 * Keras's label smoothing (CategoricalCrossentropy's `label_smoothing`): the target row t becomes
 * (1 − ε)·t + ε/V, for class-index targets too (t their one-hot row). The loss is then the cross-entropy against these
 * soft targets, whose gradient from logits is q·Σt − t' = q − t' (Σt' = Σt = 1).
 */
function smoothedTargets(
  labels: Int32Array | null,
  dense: ArrayLike<number>,
  rows: number,
  V: number,
  eps: number,
): Float32Array {
  const out = new Float32Array(rows * V);
  const keep = 1 - eps;
  const spread = eps / V;
  if (labels) {
    out.fill(spread);
    for (let r = 0; r < rows; r++) out[r * V + labels[r]] += keep;
  } else for (let i = 0; i < rows * V; i++) out[i] = keep * dense[i] + spread;
  return out;
}

/** A label-smoothing factor: a number in [0, 1). */
export function checkLabelSmoothing(x: unknown, where: string): number {
  if (typeof x !== 'number' || !(x >= 0 && x < 1))
    throw new Error(`${where}: labelSmoothing must be a number in [0, 1), got ${describeValue(x)}`);
  return x;
}

function checkDense(loss: LossName, pred: Tensor, target: AnyTensor): ArrayLike<number> {
  const same =
    target.size === pred.size &&
    (target.shape.length === pred.shape.length
      ? target.shape.every((d, i) => d === pred.shape[i])
      : target.shape.length === pred.shape.length - 1 && pred.shape[pred.shape.length - 1] === 1);
  if (!same) {
    throw new Error(
      `${loss}: targets of shape ${shapeToString(target.shape)} do not match predictions ${shapeToString(pred.shape)}`,
    );
  }
  return target.data;
}

/**
 * Fraction of correct predictions: argmax for categorical losses, threshold 0.5 for binary. `fusedSigmoid`: pred
 * holds the logits of a sigmoid the loss absorbed (the fused path), whose probability 0.5 is the logit 0.
 */
export function accuracy(loss: LossName, pred: Tensor, target: AnyTensor, fusedSigmoid = false): number {
  const V = pred.shape[pred.shape.length - 1];
  const rows = pred.size / V;
  const p = pred.data;
  if (loss === 'binaryCrossentropy') {
    const threshold = fusedSigmoid ? 0 : 0.5;
    let ok = 0;
    for (let i = 0; i < pred.size; i++) if (p[i] > threshold === target.data[i] > 0.5) ok++;
    return ok / pred.size;
  }
  if (loss !== 'categoricalCrossentropy' && loss !== 'sparseCategoricalCrossentropy') {
    throw new Error(`the accuracy metric needs a classification loss, not ${loss}`);
  }
  const labels = labelsFor(loss, pred, target);
  let ok = 0;
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < V; j++) if (p[r * V + j] > p[r * V + best]) best = j;
    let truth: number;
    if (labels) truth = labels[r];
    else {
      truth = 0;
      for (let j = 1; j < V; j++) if (target.data[r * V + j] > target.data[r * V + truth]) truth = j;
    }
    if (best === truth) ok++;
  }
  return ok / rows;
}

/**
 * The accuracies Keras and tfjs name explicitly, by the losses they go with. recur computes each as its `accuracy` for
 * the loss (the same numbers, for the targets these losses take); a class name is logged under its instance's name
 * (`CategoricalAccuracy` → `categorical_accuracy`), as Keras logs it.
 */
const NAMED_ACCURACIES: Record<string, { logged: string; losses: readonly LossName[] }> = {};
for (const [snake, camel, cls, losses] of [
  ['binary_accuracy', 'binaryAccuracy', 'BinaryAccuracy', ['binaryCrossentropy']],
  [
    'categorical_accuracy',
    'categoricalAccuracy',
    'CategoricalAccuracy',
    ['categoricalCrossentropy', 'sparseCategoricalCrossentropy'],
  ],
  [
    'sparse_categorical_accuracy',
    'sparseCategoricalAccuracy',
    'SparseCategoricalAccuracy',
    ['categoricalCrossentropy', 'sparseCategoricalCrossentropy'],
  ],
] as const) {
  for (const name of [snake, camel]) NAMED_ACCURACIES[name] = { logged: name, losses };
  NAMED_ACCURACIES[cls] = { logged: snake, losses };
}

/**
 * Compile's metric names: 'accuracy' or 'acc' (the same metric), each logged under the name the user gave
 * ('accuracy' → `accuracy`, `val_accuracy`; 'acc' → `acc`, `val_acc`), as Keras logs them (tfjs logs `acc` for
 * both), and the accuracies Keras names by their loss (NAMED_ACCURACIES). Anything else is an error listing what is
 * supported.
 */
export function metricNames(metrics: readonly string[] = [], losses: readonly LossName[] = []): string[] {
  if (!Array.isArray(metrics)) throw new Error(`compile: metrics must be a list of names, e.g. ['accuracy']`);
  const names: string[] = [];
  for (const m of metrics) {
    const named = typeof m === 'string' && Object.hasOwn(NAMED_ACCURACIES, m) ? NAMED_ACCURACIES[m] : null;
    if (m !== 'acc' && m !== 'accuracy' && !named)
      throw new Error(
        `compile: unknown metric '${String(m)}'; supported: 'accuracy' (or 'acc'), or by its loss ` +
          `'binary_accuracy', 'categorical_accuracy', 'sparse_categorical_accuracy' (tfjs's and Keras's class names too)`,
      );
    // Refused here, not at the first batch of fit (accuracy is computed for every output).
    const classification: readonly LossName[] = named?.losses ?? [
      'binaryCrossentropy',
      'categoricalCrossentropy',
      'sparseCategoricalCrossentropy',
    ];
    const other = losses.find((l) => !classification.includes(l));
    if (other)
      throw new Error(
        named
          ? `compile: the metric '${m}' goes with ${classification.join(' or ')}, not ${other}`
          : `compile: the accuracy metric needs a classification loss (binary, categorical or sparse categorical ` +
              `cross-entropy), not ${other}`,
      );
    const logged = named?.logged ?? m;
    if (!names.includes(logged)) names.push(logged);
  }
  return names;
}

/**
 * Running sums of an epoch interrupted before recur logged metrics under the names users gave (every accuracy was
 * `acc`, `out_acc`), renamed to this model's: a resumed epoch then adds its batches to the same key.
 */
export function renameLegacyAccuracy(
  sums: Readonly<Record<string, number>>,
  metrics: readonly string[],
): Record<string, number> {
  if (!metrics.includes('accuracy') || metrics.includes('acc')) return { ...sums };
  const renamed: Record<string, number> = {};
  for (const [k, v] of Object.entries(sums)) {
    const legacy = k === 'acc' || k.endsWith('_acc');
    renamed[legacy ? `${k.slice(0, -3)}accuracy` : k] = v;
  }
  return renamed;
}

/**
 * `computeLoss` over the rows (positions of the output's last axis) where `mask` is set — Keras's masked loss: a
 * sequence output's padding steps count neither in the loss nor in its mean. The loss is the mean over the real rows;
 * grad (when given) is ∂/∂pred of that mean, 0 on padding rows. An all-padding batch has loss 0 and gradient 0.
 */
export function computeMaskedLoss(
  loss: LossName,
  pred: Tensor,
  target: AnyTensor,
  grad: Float32Array | null,
  fromLogits: boolean,
  mask: Uint8Array,
  labelSmoothing = 0,
): number {
  const V = pred.shape[pred.shape.length - 1];
  const rows = pred.size / V;
  if (mask.length !== rows)
    throw new Error(`${loss}: the output's mask covers ${mask.length} positions, the output has ${rows}`);
  const real = realRows(mask);
  if (real.length === rows) return computeLoss(loss, pred, target, grad, fromLogits, labelSmoothing);
  if (grad) grad.fill(0);
  if (real.length === 0) return 0;
  const [p, t] = compactRows(pred, target, real, rows);
  const g = grad ? new Float32Array(p.size) : null;
  const value = computeLoss(loss, p, t, g, fromLogits, labelSmoothing);
  if (grad) real.forEach((r, i) => grad.set(g!.subarray(i * V, (i + 1) * V), r * V));
  return value;
}

/** `accuracy` over the rows where mask is set (NaN-free: 0 for an all-padding batch). */
export function maskedAccuracy(
  loss: LossName,
  pred: Tensor,
  target: AnyTensor,
  mask: Uint8Array,
  fusedSigmoid = false,
): number {
  const V = pred.shape[pred.shape.length - 1];
  const rows = pred.size / V;
  const real = realRows(mask);
  if (real.length === rows) return accuracy(loss, pred, target, fusedSigmoid);
  if (real.length === 0) return 0;
  const [p, t] = compactRows(pred, target, real, rows);
  return accuracy(loss, p, t, fusedSigmoid);
}

function realRows(mask: Uint8Array): Int32Array {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  const out = new Int32Array(n);
  n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) out[n++] = i;
  return out;
}

/** The real rows of pred [rows, V] and of its target (per-row labels or dense rows), as [n, V] and [n] / [n, W]. */
function compactRows(pred: Tensor, target: AnyTensor, real: Int32Array, rows: number): [Tensor, AnyTensor] {
  const V = pred.shape[pred.shape.length - 1];
  const n = real.length;
  const p = new Float32Array(n * V);
  real.forEach((r, i) => p.set(pred.data.subarray(r * V, (r + 1) * V), i * V));
  if (target.size % rows !== 0)
    throw new Error(
      `targets of shape ${shapeToString(target.shape)} do not match predictions ${shapeToString(pred.shape)}`,
    );
  const W = target.size / rows;
  const shape = W === 1 && target.shape.length < pred.shape.length ? [n] : [n, W];
  if (target instanceof IndexTensor) {
    const t = new Int32Array(n * W);
    real.forEach((r, i) => t.set(target.data.subarray(r * W, (r + 1) * W), i * W));
    return [new Tensor(p, [n, V]), new IndexTensor(t, shape)];
  }
  const t = new Float32Array(n * W);
  real.forEach((r, i) => t.set(target.data.subarray(r * W, (r + 1) * W), i * W));
  return [new Tensor(p, [n, V]), new Tensor(t, shape)];
}
