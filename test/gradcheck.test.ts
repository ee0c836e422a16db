/** Finite-difference checks of every layer's backward pass, for every option that changes the math. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { Tensor } from '../src/core/tensor.js';
import {
  Activation,
  AttentionWeightedAverage,
  Dense,
  Dropout,
  ELU,
  Embedding,
  GRU,
  LeakyReLU,
  LSTM,
  PReLU,
  ReLU,
  Softmax,
  ThresholdedReLU,
  SimpleRNN,
  SpatialDropout1D,
} from '../src/layers/index.js';
import { KERAS_ACTIVATIONS } from '../src/layers/activations.js';
import type { Layer } from '../src/layers/layer.js';
import type { RNN } from '../src/layers/recurrent.js';
import { gradCheckLayer, randomIndices, randomTensor } from './helpers.js';

const N = 2;
const T = 3;
const D = 4;
const H = 3;

/** Keras 3's activations beyond Keras 2's, as Keras spells them. */
const KERAS3_ACTIVATIONS = KERAS_ACTIVATIONS.filter(
  (a) => !['linear', 'relu', 'tanh', 'sigmoid', 'hard_sigmoid', 'softmax'].includes(a),
);
/** Activations with kinks in f or f′ (where a wide finite difference straddles a corner). */
const KINKED = new Set<string>([
  'relu',
  'elu',
  'softsign',
  'hardSigmoid',
  'hardSigmoidKeras3',
  'selu',
  'relu6',
  'leaky_relu',
  'hard_silu',
  'hard_swish',
  'celu',
  'hard_tanh',
  'sparse_sigmoid',
  'soft_shrink',
  'hard_shrink',
  'sparse_plus',
]);

describe('gradient check: dense, activation, dropout, embedding', () => {
  for (const activation of [
    'linear',
    'tanh',
    'sigmoid',
    'softmax',
    'relu',
    'hardSigmoid',
    'hardSigmoidKeras3',
    ...KERAS3_ACTIVATIONS,
  ] as const) {
    const kinks = KINKED.has(activation);
    it(`dense ${activation} on [N, D] and [N, T, D]`, () => {
      gradCheckLayer(
        new Dense({ units: 3, activation, inputShape: [D] }),
        randomTensor([N, D], new Random(1)),
        { kinks },
      );
      gradCheckLayer(
        new Dense({ units: 3, activation, inputShape: [T, D] }),
        randomTensor([N, T, D], new Random(2)),
        { kinks },
      );
    });
    it(`activation ${activation}`, () => {
      gradCheckLayer(
        new Activation({ activation, inputShape: [T, D] }),
        randomTensor([N, T, D], new Random(3)),
        { kinks },
      );
    });
  }
  for (const activation of KERAS3_ACTIVATIONS) {
    // Inputs in ±8 reach relu6's top, hard_silu's ±3 and the saturated tails (exponential stays below overflow).
    it(`activation ${activation} on inputs in ±8`, () => {
      gradCheckLayer(
        new Activation({ activation, inputShape: [T, D] }),
        randomTensor([N, T, D], new Random(5), activation === 'exponential' ? 3 : 8),
        { kinks: KINKED.has(activation) },
      );
    });
  }
  // Keras's advanced-activation layers, every option that changes the math; inputs in ±3 reach the clips.
  const advanced: [string, () => Layer][] = [
    ['ReLU', () => new ReLU({ inputShape: [T, D] })],
    ['ReLU maxValue 1', () => new ReLU({ maxValue: 1, inputShape: [T, D] })],
    [
      'ReLU negativeSlope 0.2, threshold 0.5',
      () => new ReLU({ negativeSlope: 0.2, threshold: 0.5, inputShape: [T, D] }),
    ],
    [
      'ReLU all options',
      () => new ReLU({ maxValue: 2, negativeSlope: 0.1, threshold: -0.5, inputShape: [T, D] }),
    ],
    ['LeakyReLU', () => new LeakyReLU({ inputShape: [T, D] })],
    ['LeakyReLU alpha 0.05', () => new LeakyReLU({ alpha: 0.05, inputShape: [T, D] })],
    ['ThresholdedReLU theta 0.4', () => new ThresholdedReLU({ theta: 0.4, inputShape: [T, D] })],
    ['ELU', () => new ELU({ inputShape: [T, D] })],
    ['ELU alpha 0.5', () => new ELU({ alpha: 0.5, inputShape: [T, D] })],
    ['Softmax', () => new Softmax({ inputShape: [T, D] })],
    // PReLU's slopes are weights: random ones, per position or shared over time (one per feature).
    ['PReLU', () => new PReLU({ alphaInitializer: 'glorotUniform', inputShape: [T, D] })],
    [
      'PReLU sharedAxes [1]',
      () => new PReLU({ alphaInitializer: 'glorotUniform', sharedAxes: [1], inputShape: [T, D] }),
    ],
    [
      'PReLU sharedAxes [1, 2]',
      () => new PReLU({ alphaInitializer: 'ones', sharedAxes: [1, 2], inputShape: [T, D] }),
    ],
  ];
  for (const [label, make] of advanced) {
    it(`${label} layer`, () => {
      gradCheckLayer(make(), randomTensor([N, T, D], new Random(11), 3), { kinks: label !== 'Softmax' });
    });
  }
  it('Softmax layer with a mask (masked entries of [N, T], and whole masked steps of [N, T, D])', () => {
    const mask = {
      data: Uint8Array.from({ length: N * T }, (_, i) => (i % T === 1 || i >= T ? 1 : 0)),
      shape: [N, T] as [number, number],
    };
    gradCheckLayer(new Softmax({ inputShape: [T] }), randomTensor([N, T], new Random(14), 3), {
      mask,
      kinks: false,
    });
    gradCheckLayer(new Softmax({ inputShape: [T, D] }), randomTensor([N, T, D], new Random(15), 3), {
      mask,
      kinks: false,
    });
  });
  it('dense without bias, dense on index inputs', () => {
    gradCheckLayer(
      new Dense({ units: 3, useBias: false, inputShape: [D] }),
      randomTensor([N, D], new Random(4)),
    );
    gradCheckLayer(
      new Dense({ units: 3, activation: 'tanh', inputShape: [T, D] }),
      randomIndices([N, T], D, new Random(5)),
    );
  });
  it('dropout (training) and embedding', () => {
    gradCheckLayer(new Dropout({ rate: 0.4, inputShape: [T, D] }), randomTensor([N, T, D], new Random(6)));
    gradCheckLayer(
      new Embedding({ inputDim: 5, outputDim: 3, inputShape: [T] }),
      randomIndices([N, T], 5, new Random(7)),
    );
  });
  it('spatialDropout1D (training): whole channels, the same at every step', () => {
    const layer = new SpatialDropout1D({ rate: 0.5, inputShape: [T, D] });
    gradCheckLayer(layer, randomTensor([N, T, D], new Random(8)));
    const x = new Tensor(new Float32Array(N * T * D).fill(1), [N, T, D]);
    const y = layer.forward(x, { training: true, seed: 3 });
    for (let n = 0; n < N; n++)
      for (let d = 0; d < D; d++)
        for (let t = 1; t < T; t++) assert.equal(y.data[(n * T + t) * D + d], y.data[n * T * D + d]);
    assert.ok(
      y.data.some((v) => v === 0) && y.data.some((v) => v === 2),
      'some channels dropped, the rest scaled',
    );
  });
  it('attentionWeightedAverage (textgenrnn), with and without a mask', () => {
    const layer = new AttentionWeightedAverage({ inputShape: [T, D] });
    gradCheckLayer(layer, randomTensor([N, T, D], new Random(9)));
    const mask = {
      data: Uint8Array.from({ length: N * T }, (_, i) => (i % T < T - 1 ? 1 : 0)),
      shape: [N, T] as [number, number],
    };
    gradCheckLayer(
      new AttentionWeightedAverage({ inputShape: [T, D] }),
      randomTensor([N, T, D], new Random(10)),
      { mask },
    );
  });
  it("attentionWeightedAverage's forward is Keras's formula, computed here in plain loops (masked maxima too)", () => {
    const [n, t, d] = [3, 5, 6];
    const layer = new AttentionWeightedAverage({ inputShape: [t, d] });
    layer.build([t, d], new Random(12));
    const w = layer.weights[0].value;
    const x = randomTensor([n, t, d], new Random(13), 2);
    // Row 0 unmasked; row 1's masked first step holds its largest logit (ε then matters); row 2 all masked.
    x.data.subarray(t * d, t * d + d).set(Array.from(w, (v) => 40 * Math.sign(v)));
    const mask = {
      data: Uint8Array.from({ length: n * t }, (_, i) => (i < t ? 1 : i < 2 * t ? (i % t > 0 ? 1 : 0) : 0)),
      shape: [n, t] as [number, number],
    };
    const y = layer.forward(x, { training: false, seed: 0, mask });
    for (let r = 0; r < n; r++) {
      const l = Array.from({ length: t }, (_, s) => {
        let v = 0;
        for (let k = 0; k < d; k++) v += x.data[(r * t + s) * d + k] * w[k];
        return v;
      });
      const e = l.map((v, s) => Math.exp(v - Math.max(...l)) * mask.data[r * t + s]);
      const a = e.map((v) => v / (e.reduce((p, q) => p + q, 0) + 1e-7));
      for (let k = 0; k < d; k++) {
        const expected = a.reduce((p, v, s) => p + v * x.data[(r * t + s) * d + k], 0);
        assert.ok(
          Math.abs(y.data[r * d + k] - expected) <= 1e-5 * (1 + Math.abs(expected)),
          `row ${r} feature ${k}`,
        );
      }
    }
  });
});

type Make = (o: Record<string, unknown>) => RNN;
const RECURRENT: [string, Make][] = [
  ['simpleRNN', (o) => new SimpleRNN({ units: H, inputShape: [T, D], ...o })],
  ['lstm', (o) => new LSTM({ units: H, inputShape: [T, D], ...o })],
  ['gru resetAfter', (o) => new GRU({ units: H, inputShape: [T, D], resetAfter: true, ...o })],
  ['gru resetBefore', (o) => new GRU({ units: H, inputShape: [T, D], resetAfter: false, ...o })],
];

const VARIANTS: [string, Record<string, unknown>][] = [
  ['default', {}],
  ['returnSequences', { returnSequences: true }],
  ['goBackwards + returnSequences', { goBackwards: true, returnSequences: true }],
  ['no bias', { useBias: false }],
  ['dropout', { dropout: 0.3, returnSequences: true }],
  ['recurrentDropout', { recurrentDropout: 0.3, returnSequences: true }],
  ['relu activation', { activation: 'relu' }],
  ['sigmoid activation', { activation: 'sigmoid', returnSequences: true }],
  ['elu activation', { activation: 'elu', returnSequences: true }],
  ['softsign activation', { activation: 'softsign' }],
  ['relu6 activation', { activation: 'relu6' }],
];

for (const [name, make] of RECURRENT) {
  describe(`gradient check: ${name}`, () => {
    for (const [vname, opts] of VARIANTS) {
      it(`${vname}, float inputs`, () => {
        const layer = make(opts);
        layer.build([T, D], new Random(11));
        // Non-zero biases so every bias path is exercised.
        if (layer.useBias) layer.weights[2].value.forEach((_, i, b) => (b[i] = 0.1 * Math.sin(i + 1)));
        gradCheckLayer(layer, randomTensor([N, T, D], new Random(12)), {
          kinks: KINKED.has(vname.split(' ')[0]),
        });
      });
    }
    it('index inputs (one-hot gather) with dropout', () => {
      gradCheckLayer(make({ dropout: 0.3, returnSequences: true }), randomIndices([N, T], D, new Random(13)));
    });
    if (name !== 'simpleRNN') {
      for (const recurrentActivation of ['hardSigmoid', 'hardSigmoidKeras3'] as const) {
        it(`${recurrentActivation} recurrent activation`, () => {
          gradCheckLayer(
            make({ recurrentActivation, returnSequences: true }),
            randomTensor([N, T, D], new Random(14)),
            { kinks: true },
          );
        });
      }
    }
    it('gradient with respect to the initial state', () => {
      const layer = make({ returnSequences: true });
      layer.build([T, D], new Random(15));
      const x = randomTensor([N, T, D], new Random(16));
      const init = Array.from({ length: layer.stateCount }, (_, i) =>
        randomTensor([N, H], new Random(20 + i), 0.5),
      );
      const R = randomTensor([N, T, H], new Random(30));
      const loss = (): number => {
        const y = layer.call(x, { initialState: init }) as Tensor;
        return y.data.reduce((s, v, i) => s + v * R.data[i], 0);
      };
      loss();
      layer.zeroGrads();
      layer.backward(R);
      const grads = layer.initialStateGrads!;
      const eps = 1e-2;
      init.forEach((s, si) => {
        for (let i = 0; i < s.size; i++) {
          const old = s.data[i];
          s.data[i] = old + eps;
          const lp = loss();
          s.data[i] = old - eps;
          const lm = loss();
          s.data[i] = old;
          const num = (lp - lm) / (2 * eps);
          assert.ok(
            Math.abs(num - grads[si].data[i]) < 2e-3 * Math.max(1, Math.abs(num)),
            `state ${si}[${i}]: ${num} vs ${grads[si].data[i]}`,
          );
        }
      });
    });
    it('stateful: carries the final state into the next batch; gradients hold with a carried state', () => {
      const layer = make({ stateful: true, returnSequences: true });
      layer.build([T, D], new Random(17));
      const x1 = randomTensor([N, T, D], new Random(18));
      const x2 = randomTensor([N, T, D], new Random(19));
      layer.forward(x1, { training: false, seed: 0 });
      const carried = layer.getStates()!;
      const y2 = layer.forward(x2, { training: false, seed: 0 });
      // Same as a fresh non-stateful layer started from the carried state.
      const fresh = make({ returnSequences: true });
      fresh.build([T, D], new Random(17));
      const y2b = fresh.call(x2, { initialState: carried }) as Tensor;
      assert.deepEqual(Array.from(y2.data), Array.from(y2b.data));
      // Gradient check of batch 2 with the state of batch 1 held fixed (truncated BPTT).
      gradCheckLayer(layer, x2, { training: false, before: () => layer.resetStates(carried) });
      layer.resetStates();
      assert.equal(layer.getStates(), null);
    });
  });
}
