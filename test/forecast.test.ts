/** Forecasting: CSV parsing and its errors, transforms, metrics, baselines, the network, saving, and the CLI. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import {
  drift,
  etsForecast,
  exactDifferencedContinuation,
  naive,
  sarimaForecast,
  seasonalNaive,
} from '../src/forecast/baselines.js';
import { metrics } from '../src/forecast/metrics.js';
import { FORECAST_DEFAULTS, RNNForecaster, type NetworkOptions } from '../src/forecast/network.js';
import { checkSeries, parseMonthlyCsv } from '../src/forecast/series.js';
import { applyTransform, detectSeason, fitTransform, invertForecast } from '../src/forecast/transforms.js';
import '../src/node/forecast.js'; // the Node loaders of the baselines' wasm
import { loadForecaster, saveForecaster } from '../src/node/forecaster_io.js';
import { runCli, type CliResult } from './cli_helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const MILK = join(here, '..', '..', '..', 'shared', 'data', 'milk.csv');

/** Trend + yearly season + noise, monthly from 1990-01. */
function synthetic(n: number, seed: number): { dates: string[]; values: number[] } {
  const rng = new Random(seed);
  const values = Array.from(
    { length: n },
    (_, t) =>
      200 +
      0.8 * t +
      25 * Math.sin((2 * Math.PI * t) / 12) +
      10 * Math.cos((4 * Math.PI * t) / 12) +
      rng.normal() * 4,
  );
  const dates = values.map((_, t) => `${1990 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}`);
  return { dates, values };
}

function csv(s: { dates: string[]; values: number[] }): string {
  return 'month,value\n' + s.dates.map((d, i) => `${d},${s.values[i].toFixed(3)}`).join('\n') + '\n';
}

describe('monthly CSV', () => {
  it('detects the header, date and value columns; accepts 1962-01 and 1962-01-31', () => {
    const s = parseMonthlyCsv('date,station,value\n1962-01-31,a,1\n1962-02-28,a,2\n1962-03-31,a,3\n');
    assert.deepEqual(s.dates, ['1962-01', '1962-02', '1962-03']);
    assert.deepEqual(s.values, [1, 2, 3]);
    assert.equal(s.name, 'value');
    const t = parseMonthlyCsv('1962-01,5,7\n1962-02,6,8\n', { valueColumn: 1 });
    assert.deepEqual(t.values, [5, 6]);
  });
  it('reports non-numeric cells, bad dates, duplicates and gaps with line numbers; interpolates when asked', () => {
    assert.throws(
      () => parseMonthlyCsv('m,v\n2000-01,1\n2000-02,abc\n', { source: 's.csv' }),
      /s\.csv, line 3: value "abc" in column 'v' is not a number/,
    );
    assert.throws(
      () => parseMonthlyCsv('m,v\n2000-01,1\n2000-13,2\n', { source: 's.csv', dateColumn: 'm' }),
      /s\.csv: 1 date\(s\) in column .m. are not dates like .*: line 3 "2000-13"/,
    );
    assert.throws(
      () => parseMonthlyCsv('m,v\n2000-01,1\n2000-01,2\n', { source: 's.csv' }),
      /duplicate date 2000-01 on lines 2 and 3/,
    );
    assert.throws(
      () => parseMonthlyCsv('m,v\n2000-01,1\n2000-02,2\n2000-05,5\n', { source: 's.csv' }),
      /2 missing month\(s\) in 1 gap\(s\): 2000-02 … 2000-05 \(line 4\).*--interpolate/,
    );
    assert.deepEqual(
      parseMonthlyCsv('m,v\n2000-01,1\n2000-02,2\n2000-05,5\n', { interpolate: true }).values,
      [1, 2, 3, 4, 5],
    );
    assert.throws(() => parseMonthlyCsv('', { source: 'e.csv' }), /e\.csv is empty/);
    assert.throws(
      () => parseMonthlyCsv('name\nalice\nbob\n', { source: 't.csv' }),
      /found no numeric column/,
    );
    assert.throws(
      () => parseMonthlyCsv('m,v\n2000-01,1\n', { valueColumn: 'x', source: 't.csv' }),
      /no value column named 'x' \(columns: m, v\)/,
    );
  });
  it('rejects constant and too-short series', () => {
    assert.throws(
      () => checkSeries({ dates: [], values: Array(50).fill(3), name: 'v' }, 10, 'c.csv'),
      /c\.csv: the series is constant \(3\)/,
    );
    assert.throws(
      () => checkSeries({ dates: [], values: [1, 2, 3], name: 'v' }, 10, 's.csv'),
      /s\.csv has 3 points; at least 10 are needed/,
    );
  });
});

describe('transforms, metrics, baselines', () => {
  const { values } = synthetic(120, 1);
  it('seasonal differencing + scaling inverts exactly; season 12 is detected', () => {
    for (const spec of [
      { log: false, differencing: 'seasonal', season: 12, scaling: 'standard' },
      { log: true, differencing: 'first', season: 12, scaling: 'minmax' },
      { log: false, differencing: 'none', season: 12, scaling: 'standard' },
    ] as const) {
      const train = values.slice(0, 100);
      const { t } = fitTransform(train, spec);
      const zAll = applyTransform(values, t);
      const zFuture = zAll.slice(zAll.length - 20);
      const back = invertForecast(train, zFuture, t);
      back.forEach((v, i) =>
        assert.ok(Math.abs(v - values[100 + i]) < 1e-8, `${spec.differencing}: ${v} vs ${values[100 + i]}`),
      );
    }
    assert.equal(detectSeason(values), 12);
  });
  it('metrics against hand computations', () => {
    const m = metrics([10, 20], [12, 18], [1, 2, 4, 7], 1);
    assert.equal(m.rmse, 2);
    assert.equal(m.mae, 2);
    assert.ok(Math.abs(m.mape - 15) < 1e-12);
    assert.ok(Math.abs(m.mase - 1) < 1e-12);
  });
  it('baselines: naive, seasonal naive, drift by hand; ETS and SARIMA finite and sensible', async () => {
    assert.deepEqual(naive([1, 2, 3], 2), [3, 3]);
    assert.deepEqual(seasonalNaive([1, 2, 3, 4, 5], 3, 2), [4, 5, 4]);
    assert.deepEqual(drift([1, 3, 5], 2), [7, 9]);
    const train = values.slice(0, 108);
    const actual = values.slice(108);
    const sn = metrics(actual, seasonalNaive(train, 12, 12), train, 12).rmse;
    const ets = await etsForecast(train, 12, 12);
    const sarima = await sarimaForecast(train, 12, 12);
    assert.ok(ets.every(Number.isFinite) && sarima.every(Number.isFinite));
    assert.ok(metrics(actual, ets, train, 12).rmse < sn, 'ETS should beat seasonal naive on trend + season');
  });
  it('SARIMA on a noise-free series continues it exactly (the arima package returned uninitialised memory)', async () => {
    // A seasonal pattern on a trend, no noise: differenced once and by the season, every value is 0.
    const pattern = (t: number): number => 125 + 0.5 * t + 10 * Math.sin((2 * Math.PI * t) / 12);
    const train = Array.from({ length: 60 }, (_, t) => pattern(t));
    const due = Array.from({ length: 12 }, (_, k) => pattern(60 + k));
    const seasonal = await sarimaForecast(train, 12, 12);
    seasonal.forEach((v, k) => assert.ok(Math.abs(v - due[k]) < 1e-9, `step ${k + 1}: ${v}, due ${due[k]}`));
    // Too short for the seasonal terms (fewer than three seasons): differenced once, a straight line continues.
    const line = Array.from({ length: 20 }, (_, t) => 3 + 2 * t);
    assert.deepEqual(await sarimaForecast(line, 3, 12), [43, 45, 47]);
    // A series that varies after differencing is the package's to fit.
    assert.equal(exactDifferencedContinuation(values.slice(0, 108), 12, 12, true), null);
  });
});

describe('network forecaster', () => {
  const opts = (o: Partial<NetworkOptions> = {}): NetworkOptions => ({
    ...FORECAST_DEFAULTS,
    season: 12,
    lookback: 24,
    horizon: 12,
    seeds: [1, 2],
    epochs: 40,
    ...o,
  });
  const { values } = synthetic(120, 2);
  const train = values.slice(0, 108);
  const actual = values.slice(108);
  for (const method of ['network', 'hybrid'] as const) {
    for (const strategy of ['direct', 'recursive'] as const) {
      it(`${method}, ${strategy}: finite forecasts that beat the naive forecast`, async () => {
        const f = new RNNForecaster(opts({ method, strategy }));
        await f.fit(train);
        const p = await f.predict(train);
        assert.equal(p.mean.length, 12);
        assert.ok(p.mean.every(Number.isFinite));
        assert.equal(p.members.length, 2);
        p.mean.forEach((m, h) => assert.ok(p.lower[h] <= m + 1e-9 && m <= p.upper[h] + 1e-9));
        assert.ok(
          metrics(actual, p.mean, train, 12).rmse < metrics(actual, naive(train, 12), train, 12).rmse,
        );
      });
    }
  }
  it('saves and loads: the same forecast without retraining', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-fc-'));
    try {
      const f = new RNNForecaster(opts({ cell: 'gru' }));
      await f.fit(train);
      const before = await f.predict(train);
      saveForecaster(f, { dates: [], values: train, name: 'v' }, dir);
      const { forecaster, history } = loadForecaster(dir);
      assert.deepEqual((await forecaster.predict(history.values)).mean, before.mean);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('rejects a zero horizon and a non-positive lookback', () => {
    assert.throws(() => new RNNForecaster(opts({ horizon: 0 })), /horizon must be ≥ 1/);
    assert.throws(() => new RNNForecaster(opts({ lookback: -3 })), /lookback must be ≥ 1/);
  });
});

describe('recur forecast (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-fcli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[]): CliResult => runCli(['forecast', ...args]);
  it('forecasts a CSV: metrics table, JSON, CSV output, SVG chart, saved forecaster', () => {
    const file = join(dir, 'series.csv');
    writeFileSync(file, csv(synthetic(132, 3)));
    const r = run([
      file,
      '--epochs',
      '30',
      '--seeds',
      '2',
      '--json',
      '--output',
      join(dir, 'f.csv'),
      '--chart',
      join(dir, 'c.svg'),
      '--save',
      join(dir, 'fc'),
      '--baselines',
      'seasonal naive,ets,sarima',
      '--method',
      'hybrid',
      '--folds',
      '3',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      metrics: Record<string, { rmse: number }>;
      forecast: number[];
      season: number;
      intervals: { level: number; lower: number[] }[];
    };
    assert.equal(j.season, 12);
    assert.deepEqual(Object.keys(j.metrics).sort(), ['ets', 'hybrid', 'sarima', 'seasonal naive']);
    assert.equal(j.forecast.length, 12);
    assert.match(
      readFileSync(join(dir, 'f.csv'), 'utf8'),
      /^date,forecast,lower_80,upper_80,lower_95,upper_95,actual\n2000-01,/,
    );
    assert.match(readFileSync(join(dir, 'c.svg'), 'utf8'), /^<svg[^>]*>.*<path/s);
    const again = run(['--model', join(dir, 'fc'), '--json']);
    assert.equal(again.code, 0, again.stderr);
    const k = JSON.parse(again.stdout) as typeof j & { intervals: { level: number; lower: number[] }[] };
    assert.deepEqual(
      k.forecast.map((v) => v.toFixed(6)),
      j.forecast.map((v) => v.toFixed(6)),
    );
    // The calibrated intervals are saved with the forecaster.
    assert.deepEqual(
      k.intervals.map((iv) => iv.level),
      [80, 95],
    );
    assert.deepEqual(
      k.intervals[0].lower.map((v) => v.toFixed(6)),
      j.intervals[0].lower.map((v) => v.toFixed(6)),
    );
  });
  it('forecasts the embedded default (US births) with no file', () => {
    const r = run([
      '--epochs',
      '5',
      '--seeds',
      '1',
      '--candidates',
      'ets,theta',
      '--baselines',
      'seasonal naive',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /US births/);
  });
  it('bad input: clear messages and non-zero exits', () => {
    const write = (name: string, text: string): string => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const s = synthetic(60, 4);
    const bad = (args: string[], pattern: RegExp): void => {
      const r = run(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, pattern);
    };
    bad([write('empty.csv', '')], /empty\.csv is empty/);
    bad([write('text.csv', 'name\nann\nbob\n')], /found no numeric column/);
    bad([write('header.csv', 'month,value\n')], /header\.csv has no data rows under a header$/m);
    bad(
      [write('short.csv', csv({ dates: s.dates.slice(0, 20), values: s.values.slice(0, 20) }))],
      /has 20 points/,
    );
    bad(
      [write('const.csv', csv({ dates: s.dates, values: s.values.map(() => 5) })), '--season', '12'],
      /the series is constant/,
    );
    bad(
      [write('gap.csv', 'm,v\n2000-01,1\n2000-02,2\n2000-04,3\n')],
      /1 missing month\(s\) in 1 gap\(s\): 2000-02 … 2000-04/,
    );
    bad([write('dup.csv', 'm,v\n2000-01,1\n2000-01,3\n')], /duplicate date 2000-01/);
    bad([write('ok.csv', csv(s)), '--horizon', '0'], /--horizon must be an integer from 1 to/);
    bad([join(dir, 'ok.csv'), '--lookback', '-2'], /--lookback must be an integer from 1 to/);
    bad([join(dir, 'missing.csv')], /missing\.csv: no such file/);
  });
});

if (existsSync(MILK)) {
  describe('reference data: milk production (../shared)', () => {
    it('seasonal naive on the 1975 hold-out reproduces the reference RMSE 13.23', () => {
      const s = parseMonthlyCsv(readFileSync(MILK, 'utf8'), { source: MILK });
      assert.equal(s.values.length, 168);
      const train = s.values.slice(0, 156);
      assert.equal(
        metrics(s.values.slice(156), seasonalNaive(train, 12, 12), train, 12).rmse.toFixed(2),
        '13.23',
      );
    });
  });
}
