/**
 * The forecast library's entry points on bad options (QA): autoForecast names a bad horizon, season, fold count,
 * level, candidate list or a non-finite point before any fit (a negative horizon reached the wasm and panicked), and
 * seasonal naive refuses a series shorter than its season (it forecast `undefined`s).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../src/node/forecast.js'; // the Node loaders of the baselines' wasm
import { InvalidInputError } from '../src/core/errors.js';
import { autoForecast, type AutoOptions } from '../src/forecast/auto.js';
import { baselineForecasts, seasonalNaive, type BaselineName } from '../src/forecast/baselines.js';
import { FORECAST_DEFAULTS, type NetworkOptions } from '../src/forecast/network.js';
import { evaluateSplit } from '../src/forecast/pipeline.js';
import { forecastSaved, savedSeriesOf } from '../src/forecast/saved.js';

const Y = Array.from({ length: 80 }, (_, t) => 100 + t + 10 * Math.sin((t * Math.PI) / 6));
const NET: NetworkOptions = {
  ...FORECAST_DEFAULTS,
  method: 'network',
  horizon: 12,
  lookback: 24,
  season: 12,
  seeds: [1],
  epochs: 1,
};
const BASE: AutoOptions = {
  horizon: 12,
  season: 12,
  method: 'auto',
  candidates: ['theta', 'damped'],
  folds: 3,
  levels: [0.8],
  network: NET,
};

describe('autoForecast: bad options are InvalidInputError, named, before any fit', () => {
  for (const [what, train, o, pattern] of [
    ['horizon 0', Y, { horizon: 0 }, /horizon must be an integer ≥ 1, got 0/],
    ['horizon -3', Y, { horizon: -3 }, /horizon must be an integer ≥ 1, got -3/],
    ['horizon 2.5', Y, { horizon: 2.5 }, /horizon must be an integer ≥ 1, got 2.5/],
    ['season 0', Y, { season: 0, seasons: [0] }, /season must be an integer ≥ 1, got 0/],
    ['folds 0', Y, { folds: 0 }, /folds must be an integer ≥ 1, got 0/],
    ['step 0', Y, { step: 0 }, /step must be an integer ≥ 1, got 0/],
    ['level 80', Y, { levels: [80] }, /a level must be in \(0, 1\), got 80/],
    ['no candidates', Y, { candidates: [] }, /method 'auto' needs at least one candidate/],
    ['a NaN point', [...Y.slice(0, 40), NaN, ...Y.slice(41)], {}, /point 41 of the training part is NaN/],
    // Near ±1e308 it failed inside the methods (ETS found no model, Theta's forecast was not finite).
    [
      'a point beyond ±1e30',
      [...Y.slice(0, 5), -1e300, ...Y.slice(6)],
      {},
      /point 6 of the training part, -1e\+300, is beyond ±1e30/,
    ],
  ] as [string, number[], Partial<AutoOptions>, RegExp][])
    it(what, async () => {
      await assert.rejects(
        autoForecast(train, { ...BASE, ...o }),
        (e: Error) => e instanceof InvalidInputError && pattern.test(e.message),
      );
    });

  it('good options still forecast', async () => {
    const r = await autoForecast(Y, BASE);
    assert.equal(r.point.length, 12);
    assert.ok(r.point.every(Number.isFinite));
  });
});

describe('forecastSaved: a history value beyond ±1e30', () => {
  it('is InvalidInputError naming it (recur serve answered with the method failing inside)', async () => {
    const res = await autoForecast(Y, { ...BASE, method: 'theta', candidates: [] });
    const { series } = savedSeriesOf('s', res, Y, { season: 12, horizon: 12 });
    await assert.rejects(
      forecastSaved(series, [...Y.slice(0, 5), 1e300, ...Y.slice(6)], new Map()),
      (e: Error) => e instanceof InvalidInputError && /value 6, 1e\+300, is beyond ±1e30/.test(e.message),
    );
  });
});

describe('seasonal naive shorter than its season', () => {
  it('is refused, not a forecast of undefined; the baselines list it as skipped', async () => {
    assert.throws(() => seasonalNaive([1, 2, 3, 4, 5], 3, 12), /needs a full season \(12 points\), got 5/);
    assert.deepEqual(seasonalNaive([1, 2, 3, 4], 3, 2), [3, 4, 3]);
    const r = await baselineForecasts([1, 2, 3, 4, 5], 3, 12, ['naive', 'seasonal naive']);
    assert.deepEqual(r.forecasts.get('naive'), [5, 5, 5]);
    assert.match(r.skipped.get('seasonal naive') ?? '', /needs a full season/);
  });
});

describe("transform 'auto' on a series with a value ≤ 0", () => {
  it('says that no Box-Cox variant was backtested, naming the point (it would quietly mean none)', async () => {
    const withZero = [...Y.slice(0, 30), 0, ...Y.slice(31)];
    const r = await autoForecast(withZero, { ...BASE, transform: 'auto' });
    assert.ok(
      r.notes.some((n) => /no Box-Cox variant: it needs values > 0, and point 31 .* is 0/.test(n)),
      r.notes.join('\n'),
    );
    assert.ok(![...(r.backtest?.results.keys() ?? [])].some((name) => name.includes('box-cox')));
    // A positive series backtests the variants and needs no such note.
    const positive = await autoForecast(Y, { ...BASE, transform: 'auto' });
    assert.ok([...(positive.backtest?.results.keys() ?? [])].some((name) => name.includes('box-cox')));
    assert.ok(!positive.notes.some((n) => /Box-Cox/.test(n)));
  });
});

describe('evaluateSplit with an abort signal (the page’s Stop of a forecast)', () => {
  it('stops the networks’ training when the signal aborts, rejecting with its reason', async () => {
    const abort = new AbortController();
    // Aborted at the fit's first turn of the event loop: 400 epochs would otherwise all run (and resolve).
    setTimeout(() => abort.abort(), 0);
    await assert.rejects(
      evaluateSplit(Y, Y.length - 12, { ...NET, epochs: 400, seeds: [1, 2] }, [], 1, abort.signal),
      (e: Error) => e.name === 'AbortError',
    );
    // Aborted before it starts: nothing is fitted.
    await assert.rejects(
      evaluateSplit(Y, Y.length - 12, NET, [], 1, AbortSignal.abort()),
      (e: Error) => e.name === 'AbortError',
    );
  });

  it('tells onBaseline of each baseline as it starts, in order, and stops between baselines', async () => {
    const which: BaselineName[] = ['naive', 'drift', 'seasonal naive', 'theta'];
    const started: [BaselineName, number][] = [];
    const r = await evaluateSplit(Y, Y.length - 12, NET, which, 1, undefined, (b, i) => started.push([b, i]));
    assert.deepEqual(started, [
      ['naive', 0],
      ['drift', 1],
      ['seasonal naive', 2],
      ['theta', 3],
    ]);
    assert.deepEqual([...r.metrics.keys()], ['network', ...which]);
    // Stopped while drift runs (the page's Stop during a baseline): seasonal naive and theta never start.
    const abort = new AbortController();
    const told: BaselineName[] = [];
    await assert.rejects(
      evaluateSplit(Y, Y.length - 12, NET, which, 1, abort.signal, (b) => {
        told.push(b);
        if (b === 'drift') abort.abort();
      }),
      (e: Error) => e.name === 'AbortError',
    );
    assert.deepEqual(told, ['naive', 'drift']);
    // A stop during the last baseline rejects too, not results returned after it.
    const last = new AbortController();
    await assert.rejects(
      baselineForecasts(Y, 12, 12, ['naive', 'drift'], last.signal, (b) => {
        if (b === 'drift') last.abort();
      }),
      (e: Error) => e.name === 'AbortError',
    );
  });
});
