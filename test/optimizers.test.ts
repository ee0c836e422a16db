/**
 * Optimizer update rules against the formulas written out in float64, two steps each (so the slots carry over),
 * and config round trips. The tfjs cross-check (tfjs.test) covers the Keras 3 forms against another implementation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Weight } from '../src/layers/layer.js';
import { Adagrad, Adam, RMSprop, SGD, createOptimizer, type Optimizer } from '../src/models/optimizers.js';

const W0 = [0.5, -0.25, 1e-3];
const GRADS = [
  [0.1, -2, 1e-4],
  [-0.3, 0.5, 2e-4],
];

function run(opt: Optimizer): number[] {
  const w = new Weight('w', [3], Float32Array.from(W0), true);
  for (const g of GRADS) {
    w.grad.set(g);
    opt.applyGradients([{ name: 'w', weight: w }]);
  }
  return Array.from(w.value);
}

function close(actual: number[], expected: number[], what: string): void {
  actual.forEach((a, i) =>
    assert.ok(
      Math.abs(a - expected[i]) <= 1e-6 * Math.max(1, Math.abs(expected[i])),
      `${what}[${i}]: ${a} vs ${expected[i]}`,
    ),
  );
}

describe('optimizer rules', () => {
  for (const epsilonOutside of [false, true]) {
    it(`RMSprop, ε ${epsilonOutside ? 'outside' : 'inside'} the root`, () => {
      const [lr, rho, eps] = [0.01, 0.9, 1e-7];
      const expected = W0.map((w0, i) => {
        let w = w0;
        let v = 0;
        for (const g of GRADS) {
          v = rho * v + (1 - rho) * g[i] * g[i];
          w -= (lr * g[i]) / (epsilonOutside ? Math.sqrt(v) + eps : Math.sqrt(v + eps));
        }
        return w;
      });
      close(run(new RMSprop({ learningRate: lr, epsilonOutside })), expected, 'w');
    });
  }

  it('centered RMSprop with momentum, ε outside', () => {
    const [lr, rho, eps, mu] = [0.01, 0.9, 1e-7, 0.5];
    const expected = W0.map((w0, i) => {
      let [w, v, mg, m] = [w0, 0, 0, 0];
      for (const g of GRADS) {
        v = rho * v + (1 - rho) * g[i] * g[i];
        mg = rho * mg + (1 - rho) * g[i];
        m = mu * m + (lr * g[i]) / (Math.sqrt(v - mg * mg) + eps);
        w -= m;
      }
      return w;
    });
    const opt = new RMSprop({ learningRate: lr, centered: true, momentum: mu, epsilonOutside: true });
    close(run(opt), expected, 'w');
  });

  it('Adam (Keras 3)', () => {
    const [lr, b1, b2, eps] = [0.003, 0.9, 0.999, 1e-7];
    const expected = W0.map((w0, i) => {
      let [w, m, v] = [w0, 0, 0];
      GRADS.forEach((g, t) => {
        m = b1 * m + (1 - b1) * g[i];
        v = b2 * v + (1 - b2) * g[i] * g[i];
        const alpha = (lr * Math.sqrt(1 - b2 ** (t + 1))) / (1 - b1 ** (t + 1));
        w -= (alpha * m) / (Math.sqrt(v) + eps);
      });
      return w;
    });
    close(run(new Adam({ learningRate: lr })), expected, 'w');
  });

  for (const nesterov of [false, true]) {
    it(`SGD with momentum${nesterov ? ', Nesterov' : ''}`, () => {
      const [lr, mu] = [0.05, 0.9];
      const expected = W0.map((w0, i) => {
        let [w, m] = [w0, 0];
        for (const g of GRADS) {
          m = mu * m - lr * g[i];
          w += nesterov ? mu * m - lr * g[i] : m;
        }
        return w;
      });
      close(run(new SGD({ learningRate: lr, momentum: mu, nesterov })), expected, 'w');
    });
  }

  it('Adagrad (accumulator starts at 0.1)', () => {
    const [lr, eps] = [0.01, 1e-7];
    const expected = W0.map((w0, i) => {
      let [w, a] = [w0, 0.1];
      for (const g of GRADS) {
        a += g[i] * g[i];
        w -= (lr * g[i]) / Math.sqrt(a + eps);
      }
      return w;
    });
    close(run(new Adagrad({ learningRate: lr })), expected, 'w');
  });

  it('clipnorm (per weight) and globalClipnorm (all weights) rescale as the float64 formulas say', () => {
    const grads = [Float32Array.of(3, -4, 0.5), Float32Array.of(12, 0.25)];
    const step = (args: { clipnorm?: number; globalClipnorm?: number }): number[][] => {
      const weights = grads.map((g, i) => new Weight(`w${i}`, [g.length], new Float32Array(g.length), true));
      weights.forEach((w, i) => w.grad.set(grads[i]));
      new SGD({ learningRate: 1, ...args }).applyGradients(weights.map((w) => ({ name: w.name, weight: w })));
      return weights.map((w) => Array.from(w.value));
    };
    const norm = (xs: ArrayLike<number>): number => Math.sqrt(Array.from(xs).reduce((s, x) => s + x * x, 0));
    // SGD with learning rate 1 from w = 0: w = −(clipped g).
    const clipped = grads.map((g) => Array.from(g, (x) => (-x * Math.min(1, 2 / norm(g))) as number));
    step({ clipnorm: 2 }).forEach((w, i) => close(w, clipped[i], `clipnorm w${i}`));
    const total = Math.sqrt(grads.reduce((s, g) => s + norm(g) ** 2, 0));
    const global = grads.map((g) => Array.from(g, (x) => -x * (5 / total)));
    step({ globalClipnorm: 5 }).forEach((w, i) => close(w, global[i], `globalClipnorm w${i}`));
    // Under the norm nothing changes.
    step({ globalClipnorm: 100 }).forEach((w, i) =>
      close(
        w,
        Array.from(grads[i], (x) => -x),
        `unclipped w${i}`,
      ),
    );
  });

  it('configs round-trip; epsilonOutside is written only when set', () => {
    const plain = new RMSprop({ learningRate: 0.01 });
    assert.equal('epsilonOutside' in plain.getConfig(), false);
    const outside = new RMSprop({ learningRate: 0.01, epsilonOutside: true });
    const copy = createOptimizer('RMSprop', outside.getConfig()) as RMSprop;
    assert.equal(copy.epsilonOutside, true);
    assert.deepEqual(copy.getConfig(), outside.getConfig());
    assert.throws(() => new RMSprop({ epsilonOutsides: true } as never), /epsilonOutsides/);
  });
  it('a learning rate of 0 (where a cosine schedule ends) is a config that loads; a negative or NaN one is not', () => {
    const ended = new Adam({ learningRate: 0.01 });
    ended.learningRate = 0;
    assert.equal((createOptimizer('Adam', ended.getConfig()) as Adam).learningRate, 0);
    for (const bad of [-0.01, NaN, Infinity])
      assert.throws(() => new Adam({ learningRate: bad }), /'learningRate' must be a number ≥ 0/);
  });
  it('decay rates and momenta in [0, 1) ([0, 1] for momentum), epsilons ≥ 0; their edges are accepted', () => {
    for (const [make, pattern] of [
      [() => new Adam({ beta1: 2 }), /adam: 'beta1' must be in \[0, 1\), got 2/],
      [() => new Adam({ beta2: 1 }), /adam: 'beta2' must be in \[0, 1\), got 1/],
      [() => new Adam({ epsilon: -1 }), /adam: 'epsilon' must be a number ≥ 0, got -1/],
      [() => new SGD({ momentum: -1 }), /sgd: 'momentum' must be in \[0, 1\], got -1/],
      [() => new SGD({ momentum: NaN }), /sgd: 'momentum' must be in \[0, 1\], got NaN/],
      [() => new RMSprop({ rho: 5 }), /rmsprop: 'rho' must be in \[0, 1\), got 5/],
      [() => new RMSprop({ epsilon: -1e-7 }), /rmsprop: 'epsilon' must be a number ≥ 0/],
      [
        () => new Adagrad({ initialAccumulatorValue: -1 }),
        /adagrad: 'initialAccumulatorValue' must be a number ≥ 0/,
      ],
    ] as const)
      assert.throws(make, pattern);
    new Adam({ beta1: 0, beta2: 0.999, epsilon: 0 });
    new SGD({ momentum: 1 });
    new RMSprop({ rho: 0, momentum: 0 });
  });
  it('emaMomentum keeps the moving average of the weights (first update copies), swaps it in and out, and saves it', () => {
    const GR = [...GRADS, [0.2, 0.1, -3e-4], [0.05, -0.4, 1e-4]];
    const [lr, m] = [0.1, 0.75];
    // Plain SGD steps; the average in float64: a = w after the first step, then a ← m·a + (1 − m)·w.
    const path = W0.map((w0, i) => {
      let w = w0;
      let a = 0;
      GR.forEach((g, t) => {
        w -= lr * g[i];
        a = t === 0 ? w : m * a + (1 - m) * w;
      });
      return { w, a };
    });
    const opt = new SGD({ learningRate: lr, emaMomentum: m });
    const w = new Weight('w', [3], Float32Array.from(W0), true);
    const frozen = new Weight('f', [3], Float32Array.from([7, 8, 9]), false);
    const named = [
      { name: 'w', weight: w },
      { name: 'f', weight: frozen },
    ];
    assert.throws(() => opt.swapAverages(named), /no moving average of 'w' yet/);
    // Two steps, a save and a restore into a fresh optimizer (as a resumed run), then two more.
    for (const g of GR.slice(0, 2)) {
      w.grad.set(g);
      opt.applyGradients(named);
    }
    const resumed = createOptimizer('SGD', opt.getConfig());
    assert.equal(resumed.emaMomentum, m);
    resumed.setWeights(opt.getWeights());
    for (const g of GR.slice(2)) {
      w.grad.set(g);
      resumed.applyGradients(named);
    }
    close(
      Array.from(w.value),
      path.map((p) => p.w),
      'weights',
    );
    const raw = Array.from(w.value);
    resumed.swapAverages(named);
    close(
      Array.from(w.value),
      path.map((p) => p.a),
      'averaged weights',
    );
    assert.notDeepEqual(Array.from(w.value), raw);
    assert.deepEqual(Array.from(frozen.value), [7, 8, 9]); // not trainable: not averaged, not swapped
    resumed.swapAverages(named);
    assert.deepEqual(Array.from(w.value), raw);
    // The average is an optimizer slot ('w/ema'), and no average means no slot and no config key.
    assert.ok(resumed.getWeights().some((v) => v.name === 'w/ema'));
    const plain = new SGD({ learningRate: lr });
    assert.equal('emaMomentum' in plain.getConfig(), false);
    assert.throws(() => plain.swapAverages(named), /swapAverages needs an optimizer with emaMomentum/);
    assert.throws(() => plain.setWeights(resumed.getWeights()), /unknown optimizer slot 'w\/ema'/);
    for (const bad of [1, -0.1, NaN])
      assert.throws(() => new Adam({ emaMomentum: bad }), /'emaMomentum' must be a number in \[0, 1\)/);
  });
});
