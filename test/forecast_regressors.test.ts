/**
 * Exogenous regressors (issue #16, item 6): β estimated on each training part only, every candidate forecast with and
 * without the covariates and the backtest choosing, a useless covariate doing no harm, no leak across a fold origin,
 * the known-future rows of a CSV and every way they can be wrong (exit 2, one line), and many series.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import '../src/node/forecast.js'; // the Node loaders of the baselines' wasm
import {
  autoForecast,
  backtestCandidates,
  COMBINATION,
  planFolds,
  type CandidateName,
  type ForecastFn,
} from '../src/forecast/auto.js';
import { seasonalNaive } from '../src/forecast/baselines.js';
import { metrics } from '../src/forecast/metrics.js';
import { FORECAST_DEFAULTS, type NetworkOptions } from '../src/forecast/network.js';
import { globalInput, panelSeriesPlan, parsePanelCsv, type PanelSettings } from '../src/forecast/panel.js';
import { fitRegression, withRegressors } from '../src/forecast/regressors.js';
import { parseSeriesCsv, SeriesInputError } from '../src/forecast/series.js';
import { DATA_KEYED, expectSnakeKeys, runCli } from './cli_helpers.js';
import { JUNK_CELLS, damageCells } from './fuzz_helpers.js';

const pad = (n: number): string => String(n).padStart(2, '0');
const monthly = (t: number): string => `${2000 + Math.floor(t / 12)}-${pad((t % 12) + 1)}`;

/** Seasonal + trend + effect·x + noise, with x random (known for the future too). */
function synthetic(n: number, seed: number, effect: number): { y: number[]; x: number[]; useless: number[] } {
  const rng = new Random(seed);
  const x = Array.from({ length: n }, () => rng.normal());
  const useless = Array.from({ length: n }, () => rng.normal());
  const y = x.map(
    (xi, t) => 100 + 0.2 * t + 10 * Math.sin((2 * Math.PI * t) / 12) + effect * xi + 0.5 * rng.normal(),
  );
  return { y, x, useless };
}

const NET: NetworkOptions = {
  method: 'network',
  cell: 'lstm',
  units: 4,
  layers: 1,
  dropout: 0,
  lookback: 24,
  horizon: 12,
  strategy: 'direct',
  epochs: 2,
  batchSize: FORECAST_DEFAULTS.batchSize,
  learningRate: FORECAST_DEFAULTS.learningRate,
  seeds: [1],
  log: false,
  differencing: 'seasonal',
  season: 12,
  scaling: 'standard',
};
const STATS: CandidateName[] = ['ets', 'theta', 'seasonal naive'];

describe('the regression', () => {
  it('recovers β on a trending seasonal series (estimated on seasonal differences)', () => {
    const { y, x, useless } = synthetic(120, 3, 3);
    const fit = fitRegression(
      y,
      x.map((v, t) => [v, useless[t]]),
      12,
    );
    assert.equal(fit.lag, 12);
    assert.ok(Math.abs(fit.perUnit[0] - 3) < 0.2, `β ${fit.perUnit[0]}`);
    assert.ok(Math.abs(fit.perUnit[1]) < 0.2, `useless β ${fit.perUnit[1]}`);
    // Per standard deviation: per unit × the covariate's spread.
    assert.ok(Math.abs(fit.standardised[0] - fit.perUnit[0] * fit.sds[0]) < 1e-12);
    // On levels (lag 1 is not levels, but a series too short for lag 12 falls back to it).
    assert.equal(
      fitRegression(
        y.slice(0, 14),
        x.slice(0, 14).map((v) => [v]),
        12,
      ).lag,
      1,
    );
  });

  it('gives a covariate without spread on the training part β = 0, and collinear ones a finite split', () => {
    const { y, x } = synthetic(60, 4, 3);
    const fit = fitRegression(
      y,
      x.map((v) => [v, 7, 2 * v]),
      12,
    );
    assert.equal(fit.perUnit[1], 0);
    assert.ok(fit.perUnit.every(Number.isFinite));
    // The collinear pair shares the effect: v + 2·(2v) weights sum to ≈ 3.
    assert.ok(Math.abs(fit.perUnit[0] + 2 * fit.perUnit[2] - 3) < 0.3, String(fit.perUnit));
    assert.throws(() => fitRegression([1, 2, 3], [[1], [2], [3]]), /too few/);
  });

  it('does not leak: a fold forecast depends only on the data before its origin and the covariates to its end', async () => {
    const { y, x } = synthetic(96, 5, 3);
    const rows = x.map((v) => [v]);
    const plan = planFolds(96, 12, 4, 4, 24);
    const fn = withRegressors((t, h) => Promise.resolve(seasonalNaive(t, h, 12)), rows, 12);
    const bt1 = await backtestCandidates(y, 12, 12, plan, new Map([['snaive + x', fn]]));
    // Change the target and the covariates after the first fold's window: that fold's forecast is unchanged.
    const cut = plan.origins[0] + 12;
    const y2 = y.map((v, t) => (t >= plan.origins[0] ? v + 50 * Math.sin(t) : v));
    const rows2 = rows.map((r, t) => (t >= cut ? [r[0] + 9] : r));
    const fn2 = withRegressors((t, h) => Promise.resolve(seasonalNaive(t, h, 12)), rows2, 12);
    const bt2 = await backtestCandidates(y2, 12, 12, plan, new Map([['snaive + x', fn2]]));
    assert.deepEqual(
      bt2.results.get('snaive + x')!.forecasts[0],
      bt1.results.get('snaive + x')!.forecasts[0],
    );
    // …while a covariate inside the fold's window does change it (the known future is used).
    const rows3 = rows.map((r, t) => (t === plan.origins[0] + 3 ? [r[0] + 1] : r));
    const f3 = await withRegressors(
      (t, h) => Promise.resolve(seasonalNaive(t, h, 12)),
      rows3,
      12,
    )(y.slice(0, plan.origins[0]), 12);
    const f1 = bt1.results.get('snaive + x')!.forecasts[0];
    // Only step 3 moves, by β (the fit itself saw nothing after the origin).
    const beta = fitRegression(y.slice(0, plan.origins[0]), rows, 12).perUnit[0];
    f3.forEach((v, h) => assert.ok(Math.abs(v - f1[h] - (h === 3 ? beta : 0)) < 1e-9, `step ${h}`));
  });
});

describe('autoForecast with covariates', () => {
  it('forecasts every candidate with and without them; with a real effect the covariate versions win by far', async () => {
    const { y, x } = synthetic(132, 7, 3);
    const train = y.slice(0, 120);
    const res = await autoForecast(train, {
      horizon: 12,
      season: 12,
      method: 'auto',
      candidates: [...STATS, 'network'],
      folds: 4,
      levels: [0.8],
      network: NET,
      fitAll: true,
      regressors: x.map((v) => [v]),
    });
    const bt = res.backtest!;
    for (const c of [...STATS, 'network']) {
      assert.ok(bt.results.has(c) && bt.results.has(`${c} + x`), c);
      assert.ok(
        bt.results.get(`${c} + x`)!.mean.mase < 0.6 * bt.results.get(c)!.mean.mase,
        `${c}: ${bt.results.get(`${c} + x`)!.mean.mase} vs ${bt.results.get(c)!.mean.mase}`,
      );
    }
    assert.match(res.chosen, /\+ x$|^combination$/);
    const actual = y.slice(120);
    const withX = metrics(actual, res.point, train, 12).mase;
    const plain = Math.min(...STATS.map((c) => metrics(actual, res.forecasts.get(c)!, train, 12).mase));
    assert.ok(withX < 0.6 * plain, `test window MASE ${withX} vs the best plain ${plain}`);
    const fit = res.regressions.get('ets + x')!;
    assert.ok(Math.abs(fit.perUnit[0] - 3) < 0.3, `β ${fit.perUnit[0]}`);
    assert.equal(res.intervals.length, 1);
  });

  it('a useless covariate does no harm beyond noise', async () => {
    const { y, useless } = synthetic(132, 8, 0);
    const train = y.slice(0, 120);
    const base = {
      horizon: 12,
      season: 12,
      method: 'auto' as const,
      candidates: STATS,
      folds: 4,
      levels: [0.8],
      network: NET,
    };
    const plain = await autoForecast(train, base);
    const withX = await autoForecast(train, { ...base, regressors: useless.map((v) => [v]) });
    const actual = y.slice(120);
    const a = metrics(actual, plain.point, train, 12).mase;
    const b = metrics(actual, withX.point, train, 12).mase;
    assert.ok(b < a * 1.1 + 0.02, `with the useless covariate ${b} vs without ${a}`);
    const bt = withX.backtest!;
    for (const c of STATS) {
      const ratio = bt.results.get(`${c} + x`)!.mean.mase / bt.results.get(c)!.mean.mase;
      assert.ok(ratio > 0.9, `${c}: a useless covariate cannot help much (${ratio})`);
    }
  });

  it('auto keeps the backtest best even when it is the combination', async () => {
    const values = synthetic(96, 9, 0).y;
    const off =
      (d: number): ForecastFn =>
      (t, h) =>
        Promise.resolve(Array.from({ length: h }, (_, i) => values[t.length + i] + d));
    const res = await autoForecast(values.slice(0, 84), {
      horizon: 12,
      season: 12,
      method: 'auto',
      candidates: [],
      folds: 3,
      levels: [0.8],
      network: NET,
      extra: new Map([
        ['high', off(1)],
        ['low', off(-1)],
      ]),
    });
    assert.equal(res.backtest!.best, COMBINATION);
    assert.equal(res.chosen, COMBINATION);
  });

  it('needs covariates over the horizon', async () => {
    const { y, x } = synthetic(60, 10, 3);
    await assert.rejects(
      autoForecast(y, {
        horizon: 12,
        season: 12,
        method: 'auto',
        candidates: ['theta'],
        folds: 2,
        levels: [0.8],
        network: NET,
        regressors: x.map((v) => [v]),
      }),
      /covariates have 60 rows; 60 training points and a horizon of 12 need 72/,
    );
  });
});

const dir = mkdtempSync(join(tmpdir(), 'recur-regressors-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

/** A monthly CSV: month, promo, noise, sales; the last `future` rows leave sales empty. */
function salesCsv(n: number, future: number, seed = 11): string {
  const { y, x, useless } = synthetic(n + future, seed, 3);
  return (
    'month,promo,noise,sales\n' +
    y
      .map((v, t) => `${monthly(t)},${x[t].toFixed(4)},${useless[t].toFixed(4)},${t < n ? v.toFixed(3) : ''}`)
      .join('\n') +
    '\n'
  );
}

describe('recur forecast --regressors', () => {
  const QUICK = [
    '--value-column',
    'sales',
    '--candidates',
    'ets,theta,seasonal naive',
    '--folds',
    '3',
    '--baselines',
    'none',
  ];

  it('forecasts the rows after the last value with the covariates and reports β', () => {
    const file = write('sales.csv', salesCsv(108, 12));
    const out = join(dir, 'sales.out.csv');
    const r = runCli(['forecast', file, '--regressors', 'promo', ...QUICK, '--json', '--output', out]);
    assert.equal(r.code, 0, r.stderr);
    expectSnakeKeys(r.stdout);
    const j = JSON.parse(r.stdout) as {
      horizon: number;
      dates: string[];
      forecast: number[];
      method: string;
      actual?: number[];
      regressors: {
        names: string[];
        used_by: string[];
        fits: Record<string, Record<string, { per_unit: number }>>;
      };
      backtest: { mean: Record<string, { mase: number }> };
    };
    assert.equal(j.horizon, 12);
    assert.equal(j.dates[0], monthly(108));
    assert.equal(j.actual, undefined, 'the future, not a hold-out');
    assert.deepEqual(j.regressors.names, ['promo']);
    assert.ok(
      j.regressors.used_by.length > 0 && j.regressors.used_by.every((m) => m.endsWith('+ x')),
      j.method,
    );
    for (const fit of Object.values(j.regressors.fits)) assert.ok(Math.abs(fit.promo.per_unit - 3) < 0.4);
    assert.ok(j.backtest.mean['ets + x'].mase < j.backtest.mean.ets.mase);
    assert.ok(existsSync(out));
    // Text mode names the regressors and their effect.
    const t = runCli(['forecast', file, '--regressors', 'promo', ...QUICK]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stderr, /regressors promo \(12 row\(s\) of known future/);
    assert.match(t.stderr, /Regressors promo: used by .*promo \d\.\d+ per unit/s);
  });

  it('scores on a hold-out whose covariates are the known future; a shorter --horizon uses the first rows', () => {
    const file = write('hold.csv', salesCsv(120, 0));
    const r = runCli(['forecast', file, '--regressors', 'promo,noise', ...QUICK, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { metrics: Record<string, { mase: number }>; actual: number[] };
    assert.equal(j.actual.length, 12);
    assert.ok(j.metrics['ets + x'].mase < 0.7 * j.metrics.ets.mase, JSON.stringify(j.metrics));
    const short = runCli([
      'forecast',
      write('f.csv', salesCsv(108, 12)),
      '--regressors',
      'promo',
      '--horizon',
      '6',
      ...QUICK,
      '--json',
    ]);
    assert.equal(short.code, 0, short.stderr);
    assert.equal((JSON.parse(short.stdout) as { dates: string[] }).dates.length, 6);
  });

  it('bad input: one clear line and exit 2', () => {
    const good = salesCsv(108, 12).split('\n');
    const edit = (line: number, f: (cells: string[]) => void): string =>
      good
        .map((l, i) => {
          if (i !== line) return l;
          const c = l.split(',');
          f(c);
          return c.join(',');
        })
        .join('\n');
    const cases: [string, string, string[], RegExp][] = [
      [
        'too-long.csv',
        salesCsv(108, 12),
        ['--horizon', '14'],
        /regressor 'promo' has none for 2010-01; there are 12 such row\(s\): add rows or give --horizon 12/,
      ],
      [
        'no-future.csv',
        salesCsv(120, 0),
        ['--holdout', '0'],
        /needs the regressors' values on the 12 row\(s\) after the last value \(2009-12\).*none for 2010-01/,
      ],
      [
        'future-gap.csv',
        edit(115, (c) => (c[1] = '')),
        [],
        /regressor 'promo' has none for 2009-07 \(line 116\)/,
      ],
      [
        'history-gap.csv',
        edit(5, (c) => (c[1] = '')),
        [],
        /regressor 'promo' is missing on 1 row\(s\) of the history: line 6/,
      ],
      ['text.csv', edit(7, (c) => (c[1] = 'high')), [], /line 8: regressor 'promo' has "high", not a number/],
      ['hole.csv', edit(50, (c) => (c[3] = '')), [], /empty value\(s\) before the last value \(line 51\)/],
      [
        'unknown.csv',
        salesCsv(108, 12),
        ['--regressors', 'price'],
        /no regressor column named 'price' \(columns: month, promo, noise, sales\)/,
      ],
      ['twice.csv', salesCsv(108, 12), ['--regressors', 'promo,promo'], /'promo' is named twice/],
      ['empty-name.csv', salesCsv(108, 12), ['--regressors', 'promo,'], /--regressors takes column names/],
      ['wide.csv', salesCsv(108, 12), ['--wide'], /--regressors needs one row per series and date/],
    ];
    for (const [name, text, flags, message] of cases) {
      const args = flags.includes('--regressors') ? flags : ['--regressors', 'promo', ...flags];
      const output = join(dir, `${name}.out.csv`);
      const r = runCli(['forecast', write(name, text), ...args, ...QUICK, '--output', output]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message, name);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line\n${r.stderr}`);
      assert.ok(!existsSync(output), name);
    }
  });

  it("the values' own column given as a regressor is named as such, for one series and many (exit 2)", () => {
    const one = write('own.csv', salesCsv(108, 12));
    const long = write(
      'own-long.csv',
      'id,month,sales\n' +
        Array.from({ length: 48 }, (_, t) => `a,${monthly(t)},${100 + (t % 12)}`).join('\n') +
        '\n',
    );
    for (const [file, flags, names] of [
      [one, ['--regressors', 'promo,noise,sales'], "'promo', 'noise', 'sales'"],
      [long, ['--id-column', 'id', '--regressors', 'sales'], "'sales'"],
    ] as const) {
      const r = runCli(['forecast', file, ...flags, '--candidates', 'ets,theta', '-q']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `found no numeric column to forecast besides the regressors \\(${names}\\); the column to forecast cannot be one of --regressors`,
        ),
      );
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  it('many series (long format): per-series regressions, a series without enough known future fails alone', () => {
    const rows = ['id,month,promo,sales'];
    for (const [id, effect, future] of [
      ['a', 3, 12],
      ['b', 0, 12],
      ['c', 3, 6],
    ] as const) {
      const { y, x } = synthetic(108 + 12, id.charCodeAt(0), effect);
      for (let t = 0; t < 108 + future; t++)
        rows.push(`${id},${monthly(t)},${x[t].toFixed(4)},${t < 108 ? y[t].toFixed(3) : ''}`);
    }
    const file = write('panel.csv', rows.join('\n') + '\n');
    const r = runCli([
      'forecast',
      file,
      '--id-column',
      'id',
      '--regressors',
      'promo',
      '--horizon',
      '12',
      '--candidates',
      'ets,theta',
      '--folds',
      '3',
      '--threads',
      '1',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    expectSnakeKeys(r.stdout, [...DATA_KEYED, 'backtest']);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const byId = new Map(lines.filter((l) => 'id' in l).map((l) => [l.id as string, l]));
    const a = byId.get('a') as { method: string; regressors: { used_by: string[] }; dates: string[] };
    assert.match(a.method, /\+ x$|combination/);
    assert.equal(a.dates[0], monthly(108));
    assert.ok(a.regressors.used_by.length > 0);
    const b = byId.get('b') as { backtest: Record<string, { mase: number }> };
    assert.ok(b.backtest['ets + x'].mase > 0.9 * b.backtest.ets.mase, 'no effect, no gain');
    assert.match(byId.get('c')!.error as string, /regressor 'promo' has none for 2009-07/);
  });
});

describe('the global network with covariates', () => {
  const settings: PanelSettings = {
    method: 'auto',
    candidates: ['ets', 'global'],
    folds: 3,
    levels: [0.8],
    transform: 'none',
    network: { ...NET },
    baselines: [],
  };
  const panelOf = (y: readonly number[], x: readonly number[]): string =>
    'id,month,promo,sales\n' + y.map((v, t) => `a,${monthly(t)},${x[t]},${v}`).join('\n') + '\n';

  it('forecasts a residual: the backtest model sees a regression fitted before the first origin only', () => {
    const { y, x } = synthetic(120, 12, 3);
    const series = parsePanelCsv(panelOf(y, x), { idColumn: 'id', regressors: ['promo'] }).series[0].series!;
    const plan = panelSeriesPlan('a', series, { ...settings, horizon: 12 });
    const g = globalInput(series, plan);
    const o = plan.origins[0];
    const y2 = y.map((v, t) => (t >= o ? v + 40 * Math.cos(t) : v));
    const series2 = parsePanelCsv(panelOf(y2, x), { idColumn: 'id', regressors: ['promo'] }).series[0]
      .series!;
    const g2 = globalInput(series2, panelSeriesPlan('a', series2, { ...settings, horizon: 12 }));
    assert.deepEqual(g2.input.backtestTrain!.slice(0, o), g.input.backtestTrain!.slice(0, o));
    assert.notDeepEqual(g2.input.train, g.input.train);
    // Restoring adds the regression's part: about 3·(x − x̄) on the forecast rows of a zero forecast.
    const zero = {
      origins: plan.origins,
      folds: plan.origins.map(() => new Array<number>(12).fill(0)),
      final: new Array<number>(12).fill(0),
    };
    const r = g.restore(zero);
    const n = plan.train.length;
    const mean = x.slice(0, n).reduce((a, b) => a + b, 0) / n;
    r.final.forEach((v, h) => assert.ok(Math.abs(v - 3 * (x[n + h] - mean)) < 0.5, `final ${h}: ${v}`));
    r.folds[1].forEach((v, h) =>
      assert.ok(Math.abs(v - 3 * (x[plan.origins[1] + h] - mean)) < 1, `fold ${h}: ${v}`),
    );
  });

  it('runs as global + x in a panel', () => {
    const rows = ['id,month,promo,sales'];
    for (const id of ['a', 'b']) {
      const { y, x } = synthetic(120, id.charCodeAt(0) + 40, 3);
      for (let t = 0; t < 120; t++) rows.push(`${id},${monthly(t)},${x[t].toFixed(4)},${y[t].toFixed(3)}`);
    }
    const r = runCli([
      'forecast',
      write('global.csv', rows.join('\n') + '\n'),
      '--id-column',
      'id',
      '--regressors',
      'promo',
      '--horizon',
      '12',
      '--holdout',
      '12',
      '--epochs',
      '2',
      '--seeds',
      '1',
      '--threads',
      '1',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const a = JSON.parse(r.stdout.split('\n')[1]) as {
      backtest: Record<string, unknown>;
      metrics: Record<string, unknown>;
    };
    assert.ok('global + x' in a.backtest && !('global' in a.backtest), Object.keys(a.backtest).join(', '));
    assert.ok('ets+theta+global + x' in a.backtest && 'global + x' in a.metrics);
  });
});

describe('the CSV readers with regressors (seeded fuzz of cells)', () => {
  it('read a file or throw SeriesInputError naming it', () => {
    const rng = new Random(61);
    const junk = [...JUNK_CELLS, 'promo'];
    const one = salesCsv(40, 6).split('\n');
    const long = [
      'id,month,promo,sales',
      ...one
        .slice(1)
        .filter(Boolean)
        .flatMap((l) => [
          `a,${l
            .split(',')
            .filter((_, i) => i !== 2)
            .join(',')}`,
          `b,${l
            .split(',')
            .filter((_, i) => i !== 2)
            .join(',')}`,
        ]),
    ];
    for (let i = 0; i < 300; i++) {
      const panel = i % 2 === 1;
      const text = damageCells(panel ? long : one, rng, junk).join('\n');
      const interpolate = rng.int(2) === 0;
      try {
        if (panel) {
          const p = parsePanelCsv(text, {
            idColumn: 'id',
            regressors: ['promo'],
            interpolate,
            source: 'f.csv',
          });
          for (const s of p.series) {
            assert.ok(
              (s.series === undefined) !== (s.error === undefined),
              `case ${i}: a series or a reason`,
            );
            if (s.series) {
              assert.ok(s.series.values.every(Number.isFinite), `case ${i}: finite values`);
              const cov = s.series.covariates!;
              assert.equal(cov.x.length, s.series.values.length + cov.futureDates.length, `case ${i}`);
              assert.ok(
                cov.x.slice(0, s.series.values.length).every((r) => r.every(Number.isFinite)),
                `case ${i}`,
              );
            }
          }
        } else {
          const s = parseSeriesCsv(text, { regressors: ['promo', 'noise'], interpolate, source: 'f.csv' });
          assert.ok(s.values.every(Number.isFinite), `case ${i}: finite values`);
          const cov = s.covariates!;
          assert.equal(cov.x.length, s.values.length + cov.futureDates.length, `case ${i}`);
          assert.ok(
            cov.x.slice(0, s.values.length).every((r) => r.every(Number.isFinite)),
            `case ${i}`,
          );
        }
      } catch (e) {
        assert.ok(e instanceof SeriesInputError, `case ${i}: ${(e as Error).stack}\n${text.slice(0, 300)}`);
        assert.match(e.message, /^f\.csv/, `case ${i}`);
        assert.doesNotMatch(e.message, /[\n\r]/, `case ${i}: one line`);
      }
    }
  });
});
