/**
 * The bench's AIC bar (bench/forecast_aic.ts): each method's AIC from its one-step in-sample errors on one footing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import '../src/node/forecast.js'; // the Node loaders of the baselines' wasm
import {
  etsAic,
  firstCommonPoint,
  gaussianAic,
  sarimaAic,
  statisticalAics,
  thetaAic,
} from '../bench/forecast_aic.js';

/** The airline model (0,1,1)(0,1,1)12 with θ = 0.4, Θ = 0.6, unit innovations, from a seasonal start. */
function airline(n: number, seed: number): number[] {
  const rng = new Random(seed);
  const e: number[] = [];
  const y: number[] = [];
  for (let t = 0; t < n; t++) {
    e.push(rng.normal());
    if (t < 13) {
      y.push(100 + 10 * Math.sin((2 * Math.PI * t) / 12) + e[t]);
      continue;
    }
    y.push(y[t - 1] + y[t - 12] - y[t - 13] + e[t] - 0.4 * e[t - 1] - 0.6 * e[t - 12] + 0.24 * e[t - 13]);
  }
  return y;
}

describe('the AIC bar of bench:forecast', () => {
  it('is the Gaussian AIC with σ² concentrated out and counted', () => {
    const e = [1, -1, 1, -1];
    assert.ok(Math.abs(gaussianAic(e, 2) - (4 * Math.log(2 * Math.PI) + 4 + 6)) < 1e-12);
    // Larger errors, or more parameters, cost more.
    assert.ok(gaussianAic([2, -2, 2, -2], 2) > gaussianAic(e, 2));
    assert.ok(gaussianAic(e, 3) - gaussianAic(e, 2) === 2);
  });

  it("recomputes SARIMA's one-step errors: the package's σ² reproduced, the true σ² on its own model", async () => {
    const y = airline(144, 7);
    const s = sarimaAic(y, 12);
    assert.match(s.model, /^ARIMA\(\d,\d,\d\)\(\d,\d,\d\)12/);
    const ratio = Number(/σ² ratio ([\d.]+)/.exec(s.model)![1]);
    assert.ok(ratio > 0.8 && ratio < 1.25, `σ² ratio ${ratio}`);
    // σ² back from the AIC over the common points (unit innovations were simulated).
    const n = y.length - firstCommonPoint(12);
    const sigma2 = Math.exp((s.aic - 2 * (s.k + 1) - n) / n) / (2 * Math.PI);
    assert.ok(sigma2 > 0.7 && sigma2 < 1.4, `σ² ${sigma2}`);
    const { fits, failed } = await statisticalAics(y, 12);
    assert.equal(failed.size, 0, [...failed.values()].join('; '));
    // The series is SARIMA's own model: it has the lowest AIC (ETS's in-sample errors, whose STL season is smoothed
    // over the points scored, won by 30 before its errors were made one-step).
    const best = [...fits].sort((a, b) => a[1].aic - b[1].aic)[0][0];
    assert.equal(best, 'sarima', [...fits].map(([name, f]) => `${name} ${f.aic.toFixed(1)}`).join(', '));
  });

  // The bench fitted SARIMA as recur once did (the package's own differences, with the drift it fits as 0), not as
  // sarimaForecast fits it: on a random walk with drift 1 its one-step errors had a mean of 1, σ² about 2.
  it('fits SARIMA as sarimaForecast does: the drift of a random walk estimated', () => {
    for (const seed of [1, 2, 3]) {
      const rng = new Random(seed);
      const y = [0];
      for (let t = 1; t < 120; t++) y.push(y[t - 1] + 1 + rng.normal());
      const s = sarimaAic(y, 1);
      assert.match(s.model, /^ARIMA\(\d,1,\d\)\(0,0,0\)1 \+ drift/);
      const n = y.length - firstCommonPoint(1);
      const sigma2 = Math.exp((s.aic - 2 * (s.k + 1) - n) / n) / (2 * Math.PI);
      assert.ok(sigma2 > 0.7 && sigma2 < 1.4, `σ² ${sigma2.toFixed(3)} (1 simulated), ${s.model}`);
    }
  });

  it("counts Theta's seasonal indices only when it adjusts, and reads ETS's trend off its forecast", async () => {
    const rng = new Random(3);
    const seasonal = Array.from(
      { length: 120 },
      (_, t) => (200 + t) * (1 + 0.2 * Math.sin((2 * Math.PI * t) / 12)) + rng.normal(),
    );
    const flat = Array.from({ length: 120 }, () => 50 + rng.normal());
    assert.equal(thetaAic(seasonal, 12).k, 3 + 11);
    assert.equal(thetaAic(flat, 12).k, 3);
    const trending = await etsAic(seasonal, 12);
    assert.match(trending.model, /ETS\(·,(A|Ad),N\)/);
    // One-step errors refitted at every point: only σ² is counted.
    assert.equal(trending.k, 0);
  });
});
