/** Test helpers for multi-input layers: a finite-difference check of forwardMany/backwardMany. */
import assert from 'node:assert/strict';
import { Random } from '../src/core/random.js';
import { Tensor } from '../src/core/tensor.js';
import type { Layer, SequenceMask } from '../src/layers/layer.js';
import { randomTensor } from './helpers.js';

/**
 * Central-difference check of a layer node for L = Σ_k Σ y_k ⊙ R_k (R_k fixed and random): every weight entry and
 * every entry of every input, with the inputs' masks when given. Float32 forward passes: eps 1e-2, as
 * test/helpers.ts's gradCheckLayer. Returns the input gradients.
 */
export function gradCheckMany(
  layer: Layer,
  xs: Tensor[],
  opts: { tol?: number; atol?: number; masks?: (SequenceMask | null)[]; training?: boolean } = {},
): (Tensor | null)[] {
  const tol = opts.tol ?? 1e-3;
  const atol = opts.atol ?? 3e-4;
  if (!layer.built)
    layer.buildMany(
      xs.map((x) => x.shape.slice(1)),
      new Random(1),
    );
  const run = (): Tensor[] =>
    layer.forwardMany(xs, { training: opts.training ?? true, seed: 7, masks: opts.masks });
  const y0 = run();
  const R = y0.map((y, k) => randomTensor([...y.shape], new Random(99 + k)));
  const loss = (): number => {
    let s = 0;
    run().forEach((y, k) => {
      for (let i = 0; i < y.size; i++) s += y.data[i] * R[k].data[i];
    });
    return s;
  };
  run();
  layer.zeroGrads();
  const dxs = layer.backwardMany(R);
  const analytic = layer.weights.map((w) => w.grad.slice());
  const eps = 1e-2;
  const numeric = (arr: Float32Array, i: number): number => {
    const old = arr[i];
    arr[i] = old + eps;
    const lp = loss();
    arr[i] = old - eps;
    const lm = loss();
    arr[i] = old;
    return (lp - lm) / (2 * eps);
  };
  layer.weights.forEach((w, wi) => {
    for (let i = 0; i < w.value.length; i++) {
      const num = numeric(w.value, i);
      assert.ok(
        Math.abs(num - analytic[wi][i]) <= atol + tol * Math.abs(num),
        `${layer.name}/${w.name}[${i}]: numeric ${num} vs analytic ${analytic[wi][i]}`,
      );
    }
  });
  assert.equal(dxs.length, xs.length, 'one gradient per input');
  xs.forEach((x, k) => {
    const dx = dxs[k];
    assert.ok(dx, `input ${k} must get a gradient`);
    assert.deepEqual([...dx.shape], [...x.shape], `input ${k} gradient shape`);
    for (let i = 0; i < x.size; i++) {
      const num = numeric(x.data, i);
      assert.ok(
        Math.abs(num - dx.data[i]) <= atol + tol * Math.abs(num),
        `${layer.name} d(input ${k})[${i}]: numeric ${num} vs analytic ${dx.data[i]}`,
      );
    }
  });
  return dxs;
}
