/** Loss values against hand computations, and finite-difference checks of every loss gradient (both forms). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { Tensor, indexTensor, tensor, type AnyTensor } from '../src/core/tensor.js';
import { accuracy, computeLoss, lossName, type LossName } from '../src/models/losses.js';
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

function checkGrad(loss: LossName, pred: Tensor, target: AnyTensor, fromLogits: boolean): void {
  const grad = new Float32Array(pred.size);
  computeLoss(loss, pred, target, grad, fromLogits);
  const eps = 1e-3;
  for (let i = 0; i < pred.size; i++) {
    const old = pred.data[i];
    pred.data[i] = old + eps;
    const lp = computeLoss(loss, pred, target, null, fromLogits);
    pred.data[i] = old - eps;
    const lm = computeLoss(loss, pred, target, null, fromLogits);
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
      /target class 2 .* not an integer in \[0, 2\)/,
    );
  });
});
