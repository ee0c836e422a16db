/**
 * Keras 3's activations (beyond Keras 2's) through the Activation layer on the installed kernels, against their
 * formulas at the awkward points: large |x|, 0, relu6's and hard_silu's corners, softplus's and exp's overflow, and
 * gelu's lower tail (Φ from tables, not from the code under test). Gradients: test/gradcheck.test.ts; the wasm
 * kernels against the reference: test/kernels.test.ts; tfjs parity: test/tfjs.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { Tensor } from '../src/core/tensor.js';
import { Activation, type ActivationIdentifier } from '../src/layers/index.js';

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
/** Φ(x), the standard normal CDF, at the points used (tabulated values). */
const PHI: Record<number, number> = {
  [-10]: 7.619853024160527e-24,
  [-3]: 0.0013498980316300946,
  [-1]: 0.15865525393145707,
  0: 0.5,
  1: 0.8413447460685429,
  2: 0.9772498680518208,
};
const geluTanh = (x: number): number =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

const CASES: [ActivationIdentifier, [number, number][]][] = [
  [
    'elu',
    [
      [-100, -1],
      [-1e-4, Math.expm1(-1e-4)],
      [0, 0],
      [-1, Math.expm1(-1)],
      [3, 3],
      [1e30, 1e30],
    ],
  ],
  [
    'selu',
    [
      [-100, -SELU_SCALE * SELU_ALPHA],
      [-1, SELU_SCALE * SELU_ALPHA * Math.expm1(-1)],
      [0, 0],
      [2, 2 * SELU_SCALE],
    ],
  ],
  [
    'softplus',
    [
      [-100, Math.exp(-100)],
      [-20, Math.log1p(Math.exp(-20))],
      [0, Math.LN2],
      [20, 20 + Math.log1p(Math.exp(-20))],
      [100, 100],
      [1e30, 1e30],
    ],
  ],
  [
    'softsign',
    [
      [-3, -0.75],
      [0, 0],
      [1, 0.5],
      [1e30, 1],
    ],
  ],
  [
    'relu6',
    [
      [-1, 0],
      [0, 0],
      [5.5, 5.5],
      [6, 6],
      [6.5, 6],
      [1e30, 6],
    ],
  ],
  [
    'exponential',
    [
      [-200, 0],
      [0, 1],
      [1, Math.E],
      [88, Math.exp(88)],
      [89, Infinity],
    ],
  ],
  [
    'leaky_relu',
    [
      [-1, -0.2],
      [0, 0],
      [2, 2],
      [-1e30, -2e29],
    ],
  ],
  ['gelu', [-10, -3, -1, 0, 1, 2].map((x) => [x, x * PHI[x]] as [number, number]).concat([[1e30, 1e30]])],
  [
    'gelu_new',
    [
      [-10, geluTanh(-10)],
      [-1, geluTanh(-1)],
      [0, 0],
      [1, geluTanh(1)],
      [10, 10],
    ],
  ],
  [
    'swish',
    [
      [-100, -100 * sigmoid(-100)],
      [-1, -sigmoid(-1)],
      [0, 0],
      [1, sigmoid(1)],
      [100, 100],
    ],
  ],
  [
    'silu',
    [
      [-1, -sigmoid(-1)],
      [2, 2 * sigmoid(2)],
    ],
  ],
  [
    'mish',
    [
      [-100, -100 * Math.tanh(Math.exp(-100))],
      [-1, -Math.tanh(Math.log1p(Math.exp(-1)))],
      [0, 0],
      [1, Math.tanh(Math.log1p(Math.E))],
      [100, 100],
    ],
  ],
  [
    'hard_silu',
    [
      [-4, 0],
      [-3, 0],
      [-1.5, -0.375],
      [0, 0],
      [1, 4 / 6],
      [3, 3],
      [10, 10],
    ],
  ],
  [
    'hard_swish',
    [
      [-1.5, -0.375],
      [1, 4 / 6],
    ],
  ],
  [
    'celu',
    [
      [-1, Math.expm1(-1)],
      [2, 2],
    ],
  ],
  [
    'hard_tanh',
    [
      [-5, -1],
      [-1, -1],
      [0.25, 0.25],
      [1, 1],
      [1e30, 1],
    ],
  ],
  [
    'sparse_sigmoid',
    [
      [-2, 0],
      [-1, 0],
      [0, 0.5],
      [0.5, 0.75],
      [1, 1],
      [3, 1],
    ],
  ],
  [
    'soft_shrink',
    [
      [-2, -1.5],
      [-0.5, 0],
      [0.25, 0],
      [0.5, 0],
      [0.75, 0.25],
    ],
  ],
  [
    'hard_shrink',
    [
      [-2, -2],
      [-0.5, 0],
      [0.25, 0],
      [0.5, 0],
      [0.75, 0.75],
    ],
  ],
  [
    'log_sigmoid',
    [
      [-100, -100],
      [-1, -Math.log1p(Math.E)],
      [0, -Math.LN2],
      [1, -Math.log1p(Math.exp(-1))],
      [100, -Math.exp(-100)],
    ],
  ],
  [
    'tanh_shrink',
    [
      [-3, -3 - Math.tanh(-3)],
      [0, 0],
      [1, 1 - Math.tanh(1)],
      [1e30, 1e30],
    ],
  ],
  [
    'sparse_plus',
    [
      [-2, 0],
      [-1, 0],
      [0, 0.25],
      [0.5, 0.5625],
      [1, 1],
      [3, 3],
    ],
  ],
  [
    'squareplus',
    [
      [-1e30, 1e-30],
      [-1e4, 2 / (Math.sqrt(1e8 + 4) + 1e4)],
      [-1, (Math.sqrt(5) - 1) / 2],
      [0, 1],
      [2, 1 + Math.SQRT2],
      [1e30, 1e30],
    ],
  ],
];

/** The layer's outputs for one row of inputs. */
function activate(activation: ActivationIdentifier, xs: number[]): Float32Array {
  const layer = new Activation({ activation, inputShape: [xs.length] });
  layer.build([xs.length], new Random(1));
  return layer.forward(new Tensor(Float32Array.from(xs), [1, xs.length]), { training: false, seed: 0 }).data;
}

describe("Keras 3's activations: values against their formulas", () => {
  for (const [activation, points] of CASES) {
    it(activation ?? 'linear', () => {
      const got = activate(
        activation,
        points.map(([x]) => x),
      );
      points.forEach(([x, want], i) => {
        const ok =
          Object.is(got[i], Math.fround(want)) ||
          Math.abs(got[i] - want) <= 2e-6 * Math.max(1, Math.abs(want));
        assert.ok(ok, `${activation}(${x}) = ${got[i]}, expected ${want}`);
      });
    });
  }

  it('log_softmax per row: x − log Σ exp(x), without overflow at large logits', () => {
    const layer = new Activation({ activation: 'log_softmax', inputShape: [3] });
    layer.build([3], new Random(1));
    const got = Array.from(
      layer.forward(new Tensor(Float32Array.of(1, 2, 3, 1000, 0, -1000), [2, 3]), {
        training: false,
        seed: 0,
      }).data,
    );
    const lse = Math.log(Math.E + Math.E ** 2 + Math.E ** 3);
    [1 - lse, 2 - lse, 3 - lse, 0, -1000, -2000].forEach((want, i) =>
      assert.ok(Math.abs(got[i] - want) <= 2e-6 * Math.max(1, Math.abs(want)), `[${i}] ${got[i]} vs ${want}`),
    );
  });
});
