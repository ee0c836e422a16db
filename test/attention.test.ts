/**
 * Attention (Luong dot) and AdditiveAttention (Bahdanau): outputs against a naive float64 implementation written from
 * Keras's documented equations (tfjs 4.x has neither layer), finite-difference gradient checks for every option,
 * config round trips and shape errors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import type { Tensor } from '../src/core/tensor.js';
import { AdditiveAttention, Attention } from '../src/layers/index.js';
import { gradCheckMany } from './graph_helpers.js';
import { assertClose, randomTensor } from './helpers.js';

/**
 * Keras: scores = query·keyᵀ (× scale) for Attention, Σ scale·tanh(q + k) for AdditiveAttention; causal mask keeps
 * j ≤ i by subtracting 1e9; weights = softmax(scores); output = weights·value.
 */
function naive(
  kind: 'dot' | 'additive',
  q: Tensor,
  v: Tensor,
  k: Tensor,
  scale: number[] | null,
  causal: boolean,
): number[] {
  const [N, Tq, D] = q.shape;
  const [, Tv, Dv] = v.shape;
  const out: number[] = [];
  for (let b = 0; b < N; b++)
    for (let i = 0; i < Tq; i++) {
      const s: number[] = [];
      for (let j = 0; j < Tv; j++) {
        let x = 0;
        for (let d = 0; d < D; d++) {
          const qi = q.data[(b * Tq + i) * D + d];
          const kj = k.data[(b * Tv + j) * D + d];
          x += kind === 'dot' ? qi * kj : (scale ? scale[d] : 1) * Math.tanh(qi + kj);
        }
        if (kind === 'dot' && scale) x *= scale[0];
        if (causal && j > i) x -= 1e9;
        s.push(x);
      }
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, c) => a + c, 0);
      for (let d = 0; d < Dv; d++) {
        let o = 0;
        for (let j = 0; j < Tv; j++) o += (e[j] / z) * v.data[(b * Tv + j) * Dv + d];
        out.push(o);
      }
    }
  return out;
}

const N = 2;
const Tq = 3;
const Tv = 4;
const D = 3;
const Dv = 2;

describe('Attention (dot)', () => {
  for (const useScale of [false, true])
    for (const withKey of [false, true])
      for (const causal of [false, true]) {
        const name = `useScale=${useScale} key=${withKey} causal=${causal}`;
        it(`${name}: matches the Keras equations and passes the gradient check`, () => {
          const T2 = causal ? Tq : Tv;
          const q = randomTensor([N, Tq, D], new Random(1));
          const v = randomTensor([N, T2, withKey ? Dv : D], new Random(2));
          const k = withKey ? randomTensor([N, T2, D], new Random(3)) : v;
          const xs = withKey ? [q, v, k] : [q, v];
          const layer = new Attention({ useScale, useCausalMask: causal });
          layer.buildMany(
            xs.map((x) => x.shape.slice(1)),
            new Random(0),
          );
          if (useScale) layer.weights[0].value[0] = 0.7;
          const [y] = layer.forwardMany(xs, { training: false, seed: 0 });
          assert.deepEqual([...y.shape], [N, Tq, v.shape[2]]);
          assertClose(y.data, naive('dot', q, v, k, useScale ? [0.7] : null, causal), 1e-6, name);
          gradCheckMany(layer, xs);
        });
      }
  it('config round trip; rejects concat scores, dropout and mismatched shapes', () => {
    const a = new Attention({ useScale: true, useCausalMask: true, name: 'att' });
    const again = Attention.fromConfig(a.getConfig());
    assert.deepEqual(again.getConfig(), a.getConfig());
    assert.equal(again.useScale, true);
    assert.equal(again.useCausalMask, true);
    assert.throws(
      () => new Attention({ scoreMode: 'concat' as never }),
      /score_mode 'concat' is not supported/,
    );
    assert.throws(() => new Attention({ dropout: 0.1 }), /attention dropout is not supported/);
    assert.throws(
      () =>
        a.computeOutputShapes([
          [3, 4],
          [5, 2],
        ]),
      /Attention 'att': query and key must have one known feature size/,
    );
    assert.throws(
      () => a.computeOutputShapes([[3, 4]]),
      /takes inputs \[query, value\] or \[query, value, key\]/,
    );
    assert.throws(
      () =>
        a.computeOutputShapes([
          [3, 4],
          [5, 4],
        ]),
      /causal mask needs as many query steps/,
    );
  });
});

describe('AdditiveAttention (Bahdanau)', () => {
  for (const useScale of [true, false])
    for (const withKey of [false, true])
      for (const causal of [false, true]) {
        const name = `useScale=${useScale} key=${withKey} causal=${causal}`;
        it(`${name}: matches the Keras equations and passes the gradient check`, () => {
          const T2 = causal ? Tq : Tv;
          const q = randomTensor([N, Tq, D], new Random(4));
          const v = randomTensor([N, T2, withKey ? Dv : D], new Random(5));
          const k = withKey ? randomTensor([N, T2, D], new Random(6)) : v;
          const xs = withKey ? [q, v, k] : [q, v];
          const layer = new AdditiveAttention({ useScale, useCausalMask: causal });
          layer.buildMany(
            xs.map((x) => x.shape.slice(1)),
            new Random(0),
          );
          assert.equal(layer.weights.length, useScale ? 1 : 0);
          const scale = useScale ? Array.from(layer.weights[0].value) : null;
          if (scale) assert.deepEqual(layer.weights[0].shape, [D]);
          const [y] = layer.forwardMany(xs, { training: false, seed: 0 });
          assertClose(y.data, naive('additive', q, v, k, scale, causal), 1e-6, name);
          gradCheckMany(layer, xs);
        });
      }
  it('config round trip (Keras default use_scale true)', () => {
    const a = new AdditiveAttention({ name: 'bahdanau' });
    assert.equal(a.useScale, true);
    const again = AdditiveAttention.fromConfig(a.getConfig());
    assert.deepEqual(again.getConfig(), a.getConfig());
  });
});
