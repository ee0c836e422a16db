/**
 * The damped-trend candidate (issue #16 item 3): its Nelder–Mead, the exact initial state, recovery of known
 * parameters, Holt as φ → 1, no look-ahead in the backtest, and Box-Cox around it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import '../src/node/forecast.js'; // the Node loaders of the baselines' wasm
import {
  autoForecast,
  backtestCandidates,
  candidateFns,
  CANDIDATES,
  planFolds,
} from '../src/forecast/auto.js';
import { withTransform } from '../src/forecast/boxcox.js';
import {
  dampedForecast,
  dampedTrendAt,
  dampedTrendForecast,
  fitDampedTrend,
  nelderMead,
  PHI_RANGE,
} from '../src/forecast/damped.js';
import { FORECAST_DEFAULTS, type NetworkOptions } from '../src/forecast/network.js';

/** A series drawn from the damped-trend model itself (ℓ0 = 100, b0 = 2, noise sd 1). */
function dampedSeries(n: number, alpha: number, beta: number, phi: number, seed: number, sd = 1): number[] {
  const rng = new Random(seed);
  let l = 100;
  let b = 2;
  return Array.from({ length: n }, () => {
    const f = l + phi * b;
    const e = sd * rng.normal();
    [l, b] = [f + alpha * e, phi * b + beta * e];
    return f + e;
  });
}

const SEASON12 = [0.8, 0.85, 1.0, 1.1, 1.2, 1.25, 1.2, 1.1, 1.0, 0.9, 0.8, 0.8];
/** Exponential growth × a monthly pattern × (1 + 2% noise): a multiplicative series Box-Cox is for. */
function growing(n: number, seed: number): number[] {
  const rng = new Random(seed);
  return Array.from(
    { length: n },
    (_, t) => 50 * Math.exp(0.012 * t) * SEASON12[t % 12] * (1 + 0.02 * rng.normal()),
  );
}

const net: NetworkOptions = {
  ...FORECAST_DEFAULTS,
  method: 'network',
  season: 12,
  lookback: 24,
  horizon: 12,
  seeds: [1],
};

describe('damped trend: Nelder–Mead and the fit', () => {
  it('Nelder–Mead finds the minimum of the Rosenbrock function', () => {
    const r = nelderMead(([x, y]) => (1 - x) ** 2 + 100 * (y - x * x) ** 2, [-1.2, 1], {
      maxIter: 5000,
      tol: 1e-14,
    });
    assert.ok(Math.abs(r.x[0] - 1) < 1e-3 && Math.abs(r.x[1] - 1) < 1e-3, String(r.x));
    assert.ok(r.value < 1e-6, String(r.value));
  });

  it('the initial state is the exact least-squares one: a noise-free damped path is fitted with zero error', () => {
    // e_t = 0 everywhere: y_t = ℓ0 + (φ + … + φ^t) b0 whatever α and β are.
    const phi = 0.9;
    const y = Array.from({ length: 40 }, (_, t) => 50 + 3 * ((phi * (1 - phi ** (t + 1))) / (1 - phi)));
    const f = dampedTrendAt(y, 0.4, 0.1, phi);
    assert.ok(f.sse < 1e-12, String(f.sse));
    assert.ok(Math.abs(f.level0 - 50) < 1e-6 && Math.abs(f.trend0 - 3) < 1e-6, `${f.level0} ${f.trend0}`);
    // Its forecast continues the same path.
    const next = dampedTrendForecast(f, 3);
    next.forEach((v, i) => {
      const t = 40 + i;
      assert.ok(Math.abs(v - (50 + 3 * ((phi * (1 - phi ** (t + 1))) / (1 - phi)))) < 1e-6, `${i}: ${v}`);
    });
  });

  it('recovers known α, β, φ from 1,000 points drawn from the model, and is no worse than them in SSE', () => {
    for (const [alpha, beta, phi, seed] of [
      [0.3, 0.1, 0.9, 1],
      [0.6, 0.2, 0.85, 2],
      [0.2, 0.05, 0.95, 3],
    ]) {
      const y = dampedSeries(1000, alpha, beta, phi, seed);
      const f = fitDampedTrend(y);
      const at = `true ${alpha}/${beta}/${phi}, fitted ${f.alpha.toFixed(3)}/${f.beta.toFixed(3)}/${f.phi.toFixed(3)}`;
      assert.ok(Math.abs(f.alpha - alpha) < 0.05, at);
      assert.ok(Math.abs(f.beta - beta) < 0.05, at);
      assert.ok(Math.abs(f.phi - phi) < 0.06, at);
      assert.ok(f.beta > 0 && f.beta < f.alpha, at);
      assert.ok(f.phi >= PHI_RANGE[0] && f.phi <= PHI_RANGE[1], at);
      assert.ok(
        f.sse <= dampedTrendAt(y, alpha, beta, phi).sse + 1e-9,
        `${at}: SSE above the true parameters'`,
      );
    }
  });

  it('φ → 1 behaves like Holt: the forecasts converge to the linear trend, which extends a line exactly', () => {
    const y = dampedSeries(200, 0.3, 0.1, 0.95, 4);
    const holt = dampedTrendAt(y, 0.3, 0.1, 1);
    const near = dampedTrendAt(y, 0.3, 0.1, 1 - 1e-7);
    const hf = dampedTrendForecast(holt, 12);
    dampedTrendForecast(near, 12).forEach((v, i) =>
      assert.ok(Math.abs(v - hf[i]) < 1e-3, `${i}: ${v} vs ${hf[i]}`),
    );
    // Holt's increments are constant; a damped trend's shrink by φ each step.
    const inc = hf.slice(1).map((v, i) => v - hf[i]);
    inc.forEach((d) => assert.ok(Math.abs(d - holt.trend) < 1e-9));
    const damped = dampedTrendForecast(dampedTrendAt(y, 0.3, 0.1, 0.9), 5);
    const dInc = damped.slice(1).map((v, i) => v - damped[i]);
    dInc.slice(1).forEach((d, i) => assert.ok(Math.abs(d / dInc[i] - 0.9) < 1e-9));
    // Holt fitted with φ fixed at 1 continues a noiseless line exactly.
    const line = Array.from({ length: 30 }, (_, t) => 7 + 2.5 * t);
    const lineFit = fitDampedTrend(line, { phi: 1 });
    dampedTrendForecast(lineFit, 4).forEach((v, i) =>
      assert.ok(Math.abs(v - (7 + 2.5 * (30 + i))) < 1e-6, `${v}`),
    );
  });

  it('refuses fewer than 4 points', () => {
    assert.throws(() => fitDampedTrend([1, 2, 3]), /at least 4 points/);
  });
});

describe('damped trend as a candidate', () => {
  it('is a candidate; its backtest forecasts depend on nothing after their origin', async () => {
    assert.ok(CANDIDATES.includes('damped'));
    const v = growing(120, 5);
    const plan = planFolds(v.length, 12, 4, 6, 24);
    const fns = new Map([['damped', candidateFns(12, net).damped]]);
    const a = await backtestCandidates(v, 12, 12, plan, fns);
    // Change every point after each origin in turn: that fold's forecast must not move.
    for (const [k, o] of plan.origins.entries()) {
      const changed = v.map((x, t) => (t >= o ? x * 3 + 1000 : x));
      const b = await backtestCandidates(changed, 12, 12, plan, fns);
      assert.deepEqual(b.results.get('damped')!.forecasts[k], a.results.get('damped')!.forecasts[k]);
    }
  });

  it('works inside Box-Cox: finite, positive and close to a multiplicative growing series', async () => {
    const v = growing(132, 6);
    const train = v.slice(0, 120);
    const f = await withTransform(
      (t, h) => Promise.resolve(dampedForecast(t, h, 12)),
      'box-cox',
      12,
    )(train, 12);
    assert.equal(f.length, 12);
    assert.ok(f.every((x) => Number.isFinite(x) && x > 0));
    const mape = f.reduce((s, x, i) => s + Math.abs(x - v[120 + i]) / v[120 + i], 0) / 12;
    assert.ok(mape < 0.06, `MAPE ${mape}`);
    // And auto backtests its Box-Cox variant beside the plain one.
    const r = await autoForecast(train, {
      horizon: 12,
      season: 12,
      method: 'auto',
      candidates: ['damped', 'seasonal naive'],
      folds: 3,
      levels: [0.8],
      network: net,
      transform: 'auto',
    });
    assert.ok(r.backtest!.results.has('damped (box-cox)') && r.backtest!.results.has('damped'));
    assert.ok(
      r.backtest!.results.get('damped')!.mean.mase < r.backtest!.results.get('seasonal naive')!.mean.mase,
    );
  });

  it("auto takes the backtest's best, the combination included", async () => {
    // A line: two extras 5 above and 5 below its extrapolation, and seasonal naive (12 behind): their mean is off by
    // 4, so the combination beats every member, and auto must choose it.
    const line = Array.from({ length: 96 }, (_, t) => 10 + t);
    const shifted =
      (by: number): ((t: readonly number[], h: number) => Promise<number[]>) =>
      (t, h) =>
        Promise.resolve(Array.from({ length: h }, (_, i) => t[t.length - 1] + i + 1 + by));
    const r = await autoForecast(line, {
      horizon: 12,
      season: 12,
      method: 'auto',
      candidates: ['seasonal naive'],
      extra: new Map([
        ['high', shifted(5)],
        ['low', shifted(-5)],
      ]),
      folds: 3,
      levels: [0.8],
      network: net,
    });
    assert.equal(r.backtest!.best, 'combination');
    assert.equal(r.chosen, 'combination');
    r.point.forEach((v, i) => assert.ok(Math.abs(v - (106 + i - 4)) < 1e-9, `${i}: ${v}`));
  });
});
