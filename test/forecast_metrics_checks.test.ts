/**
 * Hold-out scores on awkward series (QA): sMAPE where the actual and the forecast are both 0, and MASE on a training
 * part whose seasonal naive is exact — the same scale as the backtest's, never an infinite MASE for every method; a
 * conformal level with a fraction named as given.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { autoForecast } from '../src/forecast/auto.js';
import { CalibrationError, conformalHalfWidths } from '../src/forecast/conformal.js';
import { FORECAST_DEFAULTS } from '../src/forecast/network.js';
import { maseScale, metrics } from '../src/forecast/metrics.js';
import { summarizePanel, type SeriesForecast } from '../src/forecast/panel.js';

describe('metrics: zeros and exact seasons', () => {
  it('MAPE and sMAPE count a point where the actual and the forecast are both 0 as no error', () => {
    const m = metrics([0, 2], [0, 1], [0, 1, 3, 0], 1);
    assert.ok(Number.isFinite(m.smape) && Number.isFinite(m.mape));
    assert.ok(Math.abs(m.mape - 50 / 2) < 1e-12, String(m.mape));
    // Point 1: 0; point 2: 2·1/(2+1).
    assert.ok(Math.abs(m.smape - (100 * (2 / 3)) / 2) < 1e-12, String(m.smape));
  });

  it('MASE falls back to the naive scale when the training part repeats its season exactly, as the backtest does', () => {
    const season = [5, 3, 8, 9];
    const train = Array.from({ length: 16 }, (_, t) => season[t % 4]);
    const actual = [6, 3, 8, 10];
    const m = metrics(actual, season, train, 4);
    assert.ok(Number.isFinite(m.mase), String(m.mase));
    assert.ok(Math.abs(m.mase - 0.5 / maseScale(train, 4)) < 1e-12);
  });

  it('a panel aggregate keeps a series whose seasonal naive forecast of zeros is exact', () => {
    const train = [0, 0, 1, 3, 0, 0, 2, 3];
    const one = (id: string, actual: number[], f: number[]): SeriesForecast => ({
      id,
      points: train.length + actual.length,
      season: 4,
      horizon: 4,
      method: 'seasonal naive',
      dates: ['t9', 't10', 't11', 't12'],
      forecast: f,
      intervals: [],
      actual,
      metrics: { 'seasonal naive': metrics(actual, f, train, 4) },
      notes: [],
      seconds: 0,
    });
    const s = summarizePanel([one('a', [0, 0, 2, 3], [0, 0, 2, 3]), one('b', [1, 0, 1, 3], [0, 0, 2, 3])]);
    assert.equal(s.rows[0].series, 2);
  });
});

describe('conformal intervals: a level with a fraction', () => {
  it('too few errors for 99.9% names 99.9%, not 100%', () => {
    const residuals = Array.from({ length: 5 }, (_, k) => Array.from({ length: 12 }, (_, h) => k - h / 3));
    assert.throws(
      () => conformalHalfWidths(residuals, 0.999),
      (e: Error) => e instanceof CalibrationError && /too few for a 99\.9% interval/.test(e.message),
    );
  });
});

describe('conformal intervals: too few folds to score one on the others', () => {
  it('keeps the interval and says only that its coverage on the folds could not be measured', async () => {
    // 2 folds of 12: 24 errors make a 95% interval; leaving one fold out leaves 12, too few to score it on the folds.
    const train = Array.from(
      { length: 60 },
      (_, t) => 100 + t + 10 * Math.sin((2 * Math.PI * t) / 12) + (t % 5),
    );
    const r = await autoForecast(train, {
      horizon: 12,
      season: 12,
      method: 'theta',
      candidates: [],
      folds: 2,
      levels: [0.8, 0.95],
      network: { ...FORECAST_DEFAULTS, method: 'network', lookback: 24, horizon: 12, seeds: [1], season: 12 },
    });
    assert.deepEqual(
      r.intervals.map((i) => i.level),
      [0.8, 0.95],
    );
    assert.deepEqual(
      r.coverage.map((c) => c.level),
      [0.8],
    );
    assert.ok(!r.notes.some((n) => n.startsWith('no 95% interval')), r.notes.join('; '));
    assert.ok(
      r.notes.some((n) => n.startsWith('no 95% coverage on the backtest folds')),
      r.notes.join('; '),
    );
  });
});
