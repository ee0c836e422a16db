/**
 * Loss values against hand computations, and finite-difference checks of every loss gradient (both forms); label
 * smoothing against TensorFlow.js's softmaxCrossEntropy (Keras's label_smoothing semantics) and finite differences.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../src/core/random.js';
import { Tensor, indexTensor, tensor, type AnyTensor } from '../src/core/tensor.js';
import {
  accuracy,
  checkLabelSmoothing,
  computeLoss,
  computeMaskedLoss,
  lossName,
  type LossName,
} from '../src/models/losses.js';
import { randomIndices, randomTensor } from './helpers.js';

function softmaxRows(t: Tensor): Tensor {
  const V = t.shape[t.shape.length - 1];
  const out = t.data.slice();
  for (let r = 0; r < t.size / V; r++) {
    let s = 0;
    for (let j = 0; j < V; j++) s += out[r * V + j] = Math.exp(out[r * V + j]);
    for (let j = 0; j < V; j++) out[r * V + j] /= s;
  }
  return new Tensor(out, t.shape);
}

function checkGrad(
  loss: LossName,
  pred: Tensor,
  target: AnyTensor,
  fromLogits: boolean,
  labelSmoothing = 0,
): void {
  const grad = new Float32Array(pred.size);
  computeLoss(loss, pred, target, grad, fromLogits, labelSmoothing);
  const eps = 1e-3;
  for (let i = 0; i < pred.size; i++) {
    const old = pred.data[i];
    pred.data[i] = old + eps;
    const lp = computeLoss(loss, pred, target, null, fromLogits, labelSmoothing);
    pred.data[i] = old - eps;
    const lm = computeLoss(loss, pred, target, null, fromLogits, labelSmoothing);
    pred.data[i] = old;
    const num = (lp - lm) / (2 * eps);
    assert.ok(
      Math.abs(num - grad[i]) <= 3e-4 + 1e-3 * Math.abs(num),
      `${loss}${fromLogits ? ' (logits)' : ''}[${i}]: ${num} vs ${grad[i]}`,
    );
  }
}

describe('losses', () => {
  const rng = new Random(1);
  const logits = randomTensor([4, 3, 5], rng, 2);
  // Moderate probabilities keep the finite-difference truncation error of −y/p small.
  const probs = softmaxRows(
    new Tensor(
      logits.data.map((v) => v / 4),
      logits.shape,
    ),
  );
  const labels = randomIndices([4, 3], 5, rng);
  const dense = softmaxRows(randomTensor([4, 3, 5], rng, 3)); // soft labels

  it('categorical cross-entropy: value matches −log p of the true class', () => {
    const p = tensor([[0.7, 0.2, 0.1]]);
    assert.ok(
      Math.abs(computeLoss('categoricalCrossentropy', p, indexTensor([0]), null, false) + Math.log(0.7)) <
        1e-6,
    );
    assert.ok(
      Math.abs(computeLoss('categoricalCrossentropy', p, tensor([[0, 1, 0]]), null, false) + Math.log(0.2)) <
        1e-6,
    );
  });
  it('logits and probability forms agree', () => {
    for (const t of [labels, dense]) {
      const a = computeLoss(
        'categoricalCrossentropy',
        new Tensor(
          logits.data.map((v) => v / 4),
          logits.shape,
        ),
        t,
        null,
        true,
      );
      const b = computeLoss('categoricalCrossentropy', probs, t, null, false);
      assert.ok(Math.abs(a - b) < 1e-5, `${a} vs ${b}`);
    }
  });
  it('fused log-space form stays finite for huge logits', () => {
    const big = tensor([[1000, -1000, 0]]);
    const g = new Float32Array(3);
    const v = computeLoss('sparseCategoricalCrossentropy', big, indexTensor([1]), g, true);
    assert.ok(Math.abs(v - 2000) < 1e-3);
    assert.ok(g.every(Number.isFinite));
  });
  it('gradients: categorical / sparse categorical, both forms, index and dense targets', () => {
    checkGrad('categoricalCrossentropy', logits.clone(), labels, true);
    checkGrad('categoricalCrossentropy', logits.clone(), dense, true);
    checkGrad('categoricalCrossentropy', probs.clone(), dense, false);
    checkGrad('sparseCategoricalCrossentropy', logits.clone(), labels, true);
    checkGrad(
      'sparseCategoricalCrossentropy',
      probs.clone(),
      new Tensor(Float32Array.from(labels.data), labels.shape),
      false,
    );
  });
  it('gradients: binary cross-entropy, mse, mae', () => {
    const z = randomTensor([6, 2], new Random(2), 2);
    const p = new Tensor(
      z.data.map((v) => 1 / (1 + Math.exp(-v))),
      z.shape,
    );
    const y = new Tensor(
      Float32Array.from({ length: 12 }, (_, i) => i % 2),
      [6, 2],
    );
    checkGrad('binaryCrossentropy', z, y, true);
    checkGrad('binaryCrossentropy', p, y, false);
    checkGrad('meanSquaredError', z, randomTensor([6, 2], new Random(3)), false);
    checkGrad('meanAbsoluteError', z, randomTensor([6, 2], new Random(4)), false);
  });
  it('accuracy', () => {
    assert.equal(
      accuracy(
        'categoricalCrossentropy',
        tensor([
          [0.1, 0.9],
          [0.8, 0.2],
        ]),
        indexTensor([1, 1]),
      ),
      0.5,
    );
    assert.equal(accuracy('binaryCrossentropy', tensor([[0.7], [0.2]]), tensor([[1], [0]])), 1);
  });
  it('rejects unknown losses and mismatched targets, naming them', () => {
    assert.throws(() => lossName('crossEntropy'), /unknown loss "crossEntropy"/);
    assert.throws(
      () => computeLoss('meanSquaredError', tensor([[1, 2]]), tensor([[1, 2, 3]]), null, false),
      /targets of shape \[1, 3\] do not match predictions \[1, 2\]/,
    );
    assert.throws(
      () => computeLoss('sparseCategoricalCrossentropy', tensor([[0.5, 0.5]]), indexTensor([2]), null, false),
      /targets: class 2 of sample 0 is not an integer in \[0, 2\)/,
    );
  });
});

describe('label smoothing', () => {
  const rng = new Random(5);
  const logits = randomTensor([6, 7], rng, 2);
  const labels = randomIndices([6], 7, rng);
  const probs = softmaxRows(logits);
  const oneHot = (ids: AnyTensor, V: number): number[][] =>
    Array.from(ids.data, (c) => Array.from({ length: V }, (_, j) => (j === c ? 1 : 0)));

  it("equals TensorFlow.js's softmaxCrossEntropy with labelSmoothing (Keras's label_smoothing), both forms", () => {
    for (const eps of [0.1, 0.3]) {
      const theirs = tf.losses
        .softmaxCrossEntropy(
          tf.tensor2d(oneHot(labels, 7)),
          tf.tensor2d(Array.from(logits.data), [6, 7]),
          undefined,
          eps,
          tf.Reduction.MEAN,
        )
        .dataSync()[0];
      for (const loss of ['sparseCategoricalCrossentropy', 'categoricalCrossentropy'] as const) {
        const fromLogits = computeLoss(loss, logits, labels, null, true, eps);
        const fromProbs = computeLoss(loss, probs, labels, null, false, eps);
        assert.ok(
          Math.abs(fromLogits - theirs) < 1e-5,
          `${loss} ε=${eps} logits: ${fromLogits} vs tfjs ${theirs}`,
        );
        assert.ok(
          Math.abs(fromProbs - theirs) < 1e-5,
          `${loss} ε=${eps} probabilities: ${fromProbs} vs tfjs ${theirs}`,
        );
      }
      // One-hot dense targets smooth exactly as class indices.
      const dense = tensor(oneHot(labels, 7));
      assert.ok(
        Math.abs(computeLoss('categoricalCrossentropy', logits, dense, null, true, eps) - theirs) < 1e-5,
      );
    }
  });

  it('is the plain cross-entropy at 0 and moves the loss otherwise', () => {
    const plain = computeLoss('sparseCategoricalCrossentropy', logits, labels, null, true);
    assert.equal(computeLoss('sparseCategoricalCrossentropy', logits, labels, null, true, 0), plain);
    assert.notEqual(computeLoss('sparseCategoricalCrossentropy', logits, labels, null, true, 0.1), plain);
  });

  it('gradients match finite differences: logits and probabilities, index and soft targets', () => {
    const soft = softmaxRows(randomTensor([6, 7], new Random(6), 3));
    for (const eps of [0.1, 0.4]) {
      checkGrad('sparseCategoricalCrossentropy', logits.clone(), labels, true, eps);
      checkGrad('categoricalCrossentropy', logits.clone(), soft, true, eps);
      // Moderate probabilities (logits / 3) keep the finite-difference truncation error of −y/p small.
      const moderate = softmaxRows(
        new Tensor(
          logits.data.map((v) => v / 3),
          logits.shape,
        ),
      );
      checkGrad('categoricalCrossentropy', moderate.clone(), soft, false, eps);
      checkGrad(
        'sparseCategoricalCrossentropy',
        moderate.clone(),
        new Tensor(Float32Array.from(labels.data), labels.shape),
        false,
        eps,
      );
    }
  });

  it('under a mask: the mean over the real rows only, with no gradient on padding rows', () => {
    const mask = Uint8Array.from([1, 0, 1, 1, 0, 1]);
    const real = [0, 2, 3, 5];
    const grad = new Float32Array(logits.size);
    const masked = computeMaskedLoss('sparseCategoricalCrossentropy', logits, labels, grad, true, mask, 0.2);
    const sub = new Tensor(
      Float32Array.from(real.flatMap((r) => Array.from(logits.data.subarray(r * 7, r * 7 + 7)))),
      [4, 7],
    );
    const subLabels = indexTensor(real.map((r) => labels.data[r]));
    const subGrad = new Float32Array(sub.size);
    const want = computeLoss('sparseCategoricalCrossentropy', sub, subLabels, subGrad, true, 0.2);
    assert.ok(Math.abs(masked - want) < 1e-7, `${masked} vs ${want}`);
    real.forEach((r, i) =>
      assert.deepEqual(
        Array.from(grad.subarray(r * 7, r * 7 + 7)),
        Array.from(subGrad.subarray(i * 7, i * 7 + 7)),
      ),
    );
    for (const r of [1, 4]) assert.ok(grad.subarray(r * 7, r * 7 + 7).every((g) => g === 0));
  });

  it('accepts factors in [0, 1) only, naming the field', () => {
    assert.equal(checkLabelSmoothing(0.1, 'compile'), 0.1);
    for (const bad of [-0.1, 1, 2, Number.NaN, '0.1'])
      assert.throws(
        () => checkLabelSmoothing(bad, 'compile'),
        /compile: labelSmoothing must be a number in \[0, 1\)/,
      );
  });
});
