/**
 * SARIMA's drift (QA): given a seasonal series with D = 1, the arima package chose d = 0 "with drift" and fitted and
 * forecast it with a drift of 0, so on a series rising 6 a year its forecasts fell about 17 below the last season
 * instead of 6 above it (and on M3 monthly it failed on 4 of 100 series). recur now differences by the season itself
 * and the package fits the differences, whose mean it does estimate (baselines.sarimaHere; BENCHMARKS.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import '../src/node/forecast.js'; // the Node loaders of the baselines' wasm
import { sarimaForecast } from '../src/forecast/baselines.js';

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('SARIMA on a seasonal series with a trend', () => {
  for (const seed of [1, 2, 3])
    it(`forecasts the next year a year's trend above the last (seed ${seed})`, async () => {
      const rng = new Random(seed);
      // 0.5 a month: each year 6 above the one before, plus a season and unit noise.
      const y = Array.from(
        { length: 96 },
        (_, t) => 100 + 0.5 * t + 10 * Math.sin((2 * Math.PI * t) / 12) + rng.normal(),
      );
      const f = await sarimaForecast(y, 12, 12);
      const rise = mean(f) - mean(y.slice(-12));
      assert.ok(rise > 3 && rise < 9, `the forecast year is ${rise.toFixed(2)} above the last (6 expected)`);
    });
});
