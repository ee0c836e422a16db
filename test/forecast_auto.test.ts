/**
 * Forecasting v2 (issue #16, first stage): the seasonality test and classical decomposition, Theta, conformal
 * intervals (coverage near nominal on a series with known noise), rolling-origin plans, selection by backtest that
 * never sees the test window, and the CLI around them (season from the dates, undated series, short series, --seed,
 * interval columns, bad input).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import '../src/node/forecast.js'; // the Node loaders of the baselines' wasm
import {
  averageForecasts,
  backtestCandidates,
  COMBINATION,
  lookbackFor,
  MIN_WINDOWS,
  planFolds,
  type ForecastFn,
} from '../src/forecast/auto.js';
import { seasonalNaive } from '../src/forecast/baselines.js';
import { boxCox, guerreroLambda, invBoxCox, withTransform } from '../src/forecast/boxcox.js';
import {
  CalibrationError,
  conformalHalfWidths,
  conformalRank,
  foldCoverage,
  pooledHalfWidths,
  intervalAround,
  winkler,
} from '../src/forecast/conformal.js';
import { maseScale } from '../src/forecast/metrics.js';
import { FORECAST_DEFAULTS, RNNForecaster, type NetworkOptions } from '../src/forecast/network.js';
import { acf, isSeasonal, seasonalIndices } from '../src/forecast/seasonality.js';
import { fitSes, linearSlope, thetaForecast } from '../src/forecast/theta.js';
import { loadForecaster } from '../src/node/forecaster_io.js';
import { saveV1Forecaster } from './forecaster_v1.js';
import { runCli, type CliResult } from './cli_helpers.js';

const pad = (n: number): string => String(n).padStart(2, '0');
const monthly = (t: number): string => `${1990 + Math.floor(t / 12)}-${pad((t % 12) + 1)}`;
const csv = (dates: string[], values: number[]): string =>
  'month,value\n' + dates.map((d, i) => `${d},${values[i].toFixed(4)}`).join('\n') + '\n';
const SEASON12 = [0.8, 0.85, 1.0, 1.1, 1.2, 1.25, 1.2, 1.1, 1.0, 0.9, 0.8, 0.8];

/** Trend × a fixed monthly pattern × (1 + noise). */
function multiplicative(n: number, seed: number, noise = 0.02): number[] {
  const rng = new Random(seed);
  const mean = SEASON12.reduce((a, b) => a + b, 0) / 12;
  return Array.from(
    { length: n },
    (_, t) => (100 + 0.5 * t) * (SEASON12[t % 12] / mean) * (1 + noise * rng.normal()),
  );
}

describe('seasonality: ACF test and classical decomposition', () => {
  it('acf matches the definition on a hand-checked series', () => {
    const r = acf([1, 2, 3, 4], 2);
    // mean 2.5; c0 = 5; c1 = (-0.5)(-1.5) + (0.5)(-0.5) + (1.5)(0.5) = 1.25; c2 = (0.5)(-1.5) + (1.5)(-0.5) = -1.5
    assert.ok(Math.abs(r[0] - 0.25) < 1e-12 && Math.abs(r[1] + 0.3) < 1e-12, String(r));
  });
  it('finds the season of a seasonal series, none in white noise or in two seasons of data', () => {
    assert.equal(isSeasonal(multiplicative(120, 1), 12), true);
    const rng = new Random(2);
    assert.equal(
      isSeasonal(
        Array.from({ length: 120 }, () => 100 + rng.normal()),
        12,
      ),
      false,
    );
    assert.equal(isSeasonal(multiplicative(24, 1), 12), false, 'n ≤ 2m: not tested');
    assert.equal(isSeasonal(multiplicative(120, 1), 1), false);
  });
  it('additive indices of trend + a zero-mean pattern are the pattern exactly (the 2×12 MA keeps a line)', () => {
    const pattern = SEASON12.map((s) => 10 * (s - 1));
    const mean = pattern.reduce((a, b) => a + b, 0) / 12;
    const values = Array.from({ length: 72 }, (_, t) => 5 + 0.7 * t + pattern[t % 12]);
    const idx = seasonalIndices(values, 12, 'additive');
    idx.forEach((v, p) => assert.ok(Math.abs(v - (pattern[p] - mean)) < 1e-9, `${p}: ${v}`));
    // Odd season: a plain centred mean.
    const odd = Array.from({ length: 35 }, (_, t) => 3 * t + [2, -1, -1][t % 3] * 4);
    seasonalIndices(odd, 3, 'additive').forEach((v, p) =>
      assert.ok(Math.abs(v - [8, -4, -4][p]) < 1e-9, `${p}: ${v}`),
    );
  });
});

describe('Theta', () => {
  it('SES: its α minimises the squared one-step errors (checked against a fine grid with its own ℓ0 search)', () => {
    const rng = new Random(3);
    let level = 50;
    const x = Array.from({ length: 60 }, () => (level += rng.normal()) + 2 * rng.normal());
    const fit = fitSes(x);
    const sse = (a: number, l0: number): number => {
      let l = l0;
      let s = 0;
      for (const v of x) {
        s += (v - l) ** 2;
        l = a * v + (1 - a) * l;
      }
      return s;
    };
    assert.ok(Math.abs(sse(fit.alpha, fit.level0) - fit.sse) < 1e-6 * fit.sse);
    let best = Infinity;
    for (let a = 0.01; a < 1; a += 0.01)
      for (let l0 = 40; l0 <= 60; l0 += 0.05) best = Math.min(best, sse(a, l0));
    assert.ok(fit.sse <= best + 1e-9, `${fit.sse} vs grid ${best}`);
  });
  it('a purely seasonal multiplicative series is forecast exactly: level × its indices', () => {
    const values = Array.from({ length: 96 }, (_, t) => 100 * SEASON12[t % 12]);
    const f = thetaForecast(values, 18, 12);
    const mean = SEASON12.reduce((a, b) => a + b, 0) / 12;
    f.forEach((v, h) =>
      assert.ok(Math.abs(v - 100 * SEASON12[(96 + h) % 12]) < 1e-6 * 100 * mean, `${h}: ${v}`),
    );
  });
  it('drift is half the fitted slope: on a line (α → 1) the forecast climbs at half its rate', () => {
    const line = Array.from({ length: 40 }, (_, t) => 10 + 2 * t);
    assert.ok(Math.abs(linearSlope(line) - 2) < 1e-12);
    const f = thetaForecast(line, 5, 1);
    for (let h = 1; h < 5; h++) assert.ok(Math.abs(f[h] - f[h - 1] - 1) < 1e-6, String(f));
  });
  it('beats seasonal naive on a growing multiplicative series', () => {
    const v = multiplicative(150, 4);
    const train = v.slice(0, 132);
    const mae = (f: number[]): number => f.reduce((s, x, i) => s + Math.abs(x - v[132 + i]), 0) / 18;
    assert.ok(mae(thetaForecast(train, 18, 12)) < mae(seasonalNaive(train, 18, 12)));
  });
});

describe('conformal intervals', () => {
  it('rank, half-widths with neighbouring steps pooled, and a clear error when there are too few errors', () => {
    assert.equal(conformalRank(4, 0.8), 4);
    assert.equal(conformalRank(3, 0.8), null);
    assert.equal(conformalRank(19, 0.95), 19);
    // The per-step rule (the fallback for one fold). 4 folds × 3 steps; 80% needs 4 errors: each step alone
    // suffices (the 4th smallest = the largest).
    const r = [
      [1, -2, 3],
      [-4, 5, -6],
      [7, -8, 9],
      [-10, 11, -12],
    ];
    assert.deepEqual(pooledHalfWidths(r, 0.8), [10, 11, 12]);
    // 95% needs 19: only all 12 would do, and they are too few (either rule).
    assert.throws(() => pooledHalfWidths(r, 0.95), CalibrationError);
    assert.throws(() => conformalHalfWidths(r, 0.95), CalibrationError);
    // 2 folds: 80% pools steps h−1…h+1 (6 errors, rank 6 = the largest of them; the ends get the next step too).
    assert.deepEqual(pooledHalfWidths(r.slice(0, 2), 0.8), [5, 6, 6]);
    assert.deepEqual(conformalHalfWidths([[1, -2, 3]], 0.5), pooledHalfWidths([[1, -2, 3]], 0.5));
    assert.throws(() => conformalHalfWidths([[1, NaN]], 0.8), /finite/);
  });
  it("normalised scores: each fold against the other folds' scale, ranked by blocks", () => {
    // 3 folds, 1 step (3 blocks). Scores: 1/RMS(2, 3), 2/RMS(1, 3), 3/RMS(1, 2) = 0.39, 0.89, 1.90; 50% takes block
    // ⌈4·0.5⌉ = 2 of 3, the 2nd score, 2/√5; the scale of all three is √(14/3): the half-width is 2·√(14/15).
    const [w] = conformalHalfWidths([[1], [-2], [3]], 0.5);
    assert.ok(Math.abs(w - 2 * Math.sqrt(14 / 15)) < 1e-12, `${w}`);
    // The width follows each step's scale (its RMS with w = H/6 neighbours): errors twice as large, twice as wide.
    const grow = Array.from({ length: 5 }, (_, k) =>
      Array.from({ length: 18 }, (_, h) => (k % 2 ? -1 : 1) * (1 + h / 4) * (1 + k / 10)),
    );
    const ws = conformalHalfWidths(grow, 0.8);
    assert.ok(
      ws.every((x, h) => h === 0 || x > ws[h - 1]),
      'wider with the horizon',
    );
    const doubled = conformalHalfWidths(
      grow.map((row) => row.map((e) => 2 * e)),
      0.8,
    );
    doubled.forEach((x, h) => assert.ok(Math.abs(x - 2 * ws[h]) < 1e-9));
    // Other folds exact where this one is not: no scale to score against, so the per-step rule.
    const exact = [
      [0, 0],
      [0, 0],
      [0, 0],
      [5, 5],
    ];
    assert.deepEqual(conformalHalfWidths(exact, 0.8), [5, 5]);
  });
  it('95% intervals of 5 folds cover the next horizon of random walks (the per-step rule: 89%)', () => {
    // Random walks, forecast by their last value; 5 folds a third of the horizon apart, as recur's default. The
    // folds' errors and the future's come from one process, so only the rule's treatment of 5 overlapping folds
    // stands between it and nominal coverage. 400 walks × 18 steps.
    const rng = new Random(1);
    const H = 18;
    const tally = { pooled: 0, normalised: 0 };
    let points = 0;
    for (let s = 0; s < 400; s++) {
      const y = [0];
      for (let t = 1; t < 96; t++) y.push(y[t - 1] + rng.normal());
      const n = 78;
      const residuals = Array.from({ length: 5 }, (_, k) => {
        const o = n - H - (4 - k) * 6;
        return Array.from({ length: H }, (_, h) => y[o + h] - y[o - 1]);
      });
      const wp = pooledHalfWidths(residuals, 0.95);
      const wn = conformalHalfWidths(residuals, 0.95);
      for (let h = 0; h < H; h++) {
        const e = Math.abs(y[n + h] - y[n - 1]);
        if (e <= wp[h]) tally.pooled++;
        if (e <= wn[h]) tally.normalised++;
        points++;
      }
    }
    assert.ok(tally.pooled / points < 0.91, `the per-step rule covered ${tally.pooled / points}`);
    assert.ok(tally.normalised / points >= 0.93, `covered ${tally.normalised / points}`);
    const iv = intervalAround([10, 20], [1, 2], 0.8);
    assert.deepEqual(
      [iv.lower, iv.upper],
      [
        [9, 18],
        [11, 22],
      ],
    );
    assert.equal(winkler(9, 11, 10, 0.8), 2);
    assert.ok(Math.abs(winkler(9, 11, 12, 0.8) - (2 + 10 * 1)) < 1e-12);
  });
  it('covers near nominal on a series with known noise, over many folds; widths match the noise', async () => {
    // Seasonal pattern + N(0, 4²): the seasonal naive error is e_t − e_{t−12}, sd 4√2, so the 80% and 95%
    // half-widths should be about 1.2816·5.66 = 7.25 and 1.96·5.66 = 11.09.
    const rng = new Random(11);
    const n = 24 + 60 * 6 + 200 * 6;
    const values = Array.from(
      { length: n },
      (_, t) => 100 + 10 * Math.sin((2 * Math.PI * t) / 12) + 4 * rng.normal(),
    );
    const H = 6;
    const snaive: ForecastFn = (t, h) => Promise.resolve(seasonalNaive(t, h, 12));
    const calibration = values.slice(0, 24 + 60 * H);
    const plan = planFolds(calibration.length, H, 60, H, 24);
    assert.equal(plan.origins.length, 60);
    const bt = await backtestCandidates(calibration, H, 12, plan, new Map([['seasonal naive', snaive]]));
    const res = bt.results.get('seasonal naive')!.residuals;
    for (const [level, expected] of [
      [0.8, 7.25],
      [0.95, 11.09],
    ] as const) {
      const w = conformalHalfWidths(res, level);
      const meanW = w.reduce((a, b) => a + b, 0) / H;
      assert.ok(Math.abs(meanW - expected) / expected < 0.2, `${level}: width ${meanW} vs ${expected}`);
      const c = foldCoverage(res, level);
      assert.ok(Math.abs(c.coverage - level) < 0.06, `fold coverage ${c.coverage} at ${level}`);
      // Out of sample: 200 later origins, never used for calibration.
      let inside = 0;
      let total = 0;
      for (let o = calibration.length; o + H <= n; o += H) {
        const f = seasonalNaive(values.slice(0, o), H, 12);
        f.forEach((x, h) => {
          if (Math.abs(values[o + h] - x) <= w[h]) inside++;
          total++;
        });
      }
      assert.equal(total, 1200);
      assert.ok(Math.abs(inside / total - level) < 0.04, `new-data coverage ${inside / total} at ${level}`);
    }
  });
});

describe('rolling origins and selection', () => {
  it('plans folds: as asked, a shorter step, fewer folds, a fallback minimum, or a clear error', () => {
    assert.deepEqual(planFolds(100, 10, 3, 5, 24).origins, [80, 85, 90]);
    const shorter = planFolds(60, 18, 5, 6, 24);
    assert.deepEqual([shorter.origins, shorter.step], [[26, 30, 34, 38, 42], 4]);
    assert.match(shorter.note!, /step shortened from 6 to 4/);
    const fewer = planFolds(45, 18, 5, 6, 25);
    assert.deepEqual(fewer.origins, [25, 26, 27]);
    assert.match(fewer.note!, /only 3 fold/);
    // A list of minimums: 24 would leave one fold, 13 leaves room for all five.
    assert.deepEqual(planFolds(36, 12, 5, 4, [24, 13]).origins, [16, 18, 20, 22, 24]);
    assert.deepEqual(planFolds(40, 12, 3, 2, [24, 13]).origins, [24, 26, 28]);
    assert.throws(() => planFolds(30, 18, 5, 6, 24), /30 points are too short for a backtest/);
  });
  it('the network lookback shrinks to keep MIN_WINDOWS windows, and refuses when even 1 would not', () => {
    const o: NetworkOptions = {
      ...FORECAST_DEFAULTS,
      method: 'network',
      season: 12,
      lookback: 24,
      horizon: 18,
      seeds: [1],
    };
    assert.equal(lookbackFor(200, o), 24);
    // 50 points − 12 (seasonal lag) − 18 + 1 − 8 windows = 13
    assert.equal(lookbackFor(50, o), 50 - 12 - 18 + 1 - MIN_WINDOWS);
    assert.equal(lookbackFor(50, { ...o, method: 'hybrid' }), 24);
    assert.equal(lookbackFor(38, o), 1);
    assert.throws(() => lookbackFor(37, o), /37 training points are too few for the network/);
  });
  it('picks the lowest mean MASE, skips a failing candidate with its reason, scores the mean of the best 3', async () => {
    const values = Array.from({ length: 96 }, (_, t) => 50 + 10 * SEASON12[t % 12] + 0.1 * t);
    const seen: number[] = [];
    const exact: ForecastFn = (t, h) => {
      seen.push(t.length);
      return Promise.resolve(Array.from({ length: h }, (_, i) => values[t.length + i]));
    };
    const offBy =
      (d: number): ForecastFn =>
      (t, h) =>
        Promise.resolve(Array.from({ length: h }, (_, i) => values[t.length + i] + d));
    const broken: ForecastFn = () => Promise.reject(new Error('no can do'));
    const plan = planFolds(96, 12, 4, 3, 24);
    const bt = await backtestCandidates(
      values,
      12,
      12,
      plan,
      new Map([
        ['off by 3', offBy(3)],
        ['exact', exact],
        ['broken', broken],
        ['off by -1', offBy(-1)],
        ['off by 5', offBy(5)],
      ]),
    );
    assert.equal(bt.best, 'exact');
    assert.equal(bt.results.get('exact')!.mean.mase, 0);
    assert.equal(bt.skipped.get('broken'), 'no can do');
    assert.deepEqual(bt.combination, ['exact', 'off by -1', 'off by 3']);
    // The combination's error: mean of 0, −1, +3 = +2/3 at every point.
    const scale = maseScale(values, 12);
    assert.ok(Math.abs(bt.results.get(COMBINATION)!.mean.mase - 2 / 3 / scale) < 1e-9);
    assert.deepEqual(
      averageForecasts([
        [1, 2],
        [3, 6],
      ]),
      [2, 4],
    );
    assert.deepEqual(seen, plan.origins);
  });
});

describe('recur forecast: auto, intervals, dates (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-fauto-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const run = (args: string[]): CliResult => runCli(['forecast', ...args]);
  const stats = ['--candidates', 'ets,theta,seasonal naive', '--baselines', 'naive'];
  interface Out {
    method: string;
    season: number;
    forecast: number[];
    intervals: { level: number; lower: number[]; upper: number[] }[];
    backtest: { mean: Record<string, { mase: number }>; coverage: { level: number; coverage: number }[] };
    metrics: Record<string, unknown>;
  }

  it('monthly dates: season 12, the lowest-MASE method chosen, 80/95% intervals in the JSON and CSV', () => {
    const v = multiplicative(120, 5);
    const file = write(
      'mult.csv',
      csv(
        v.map((_, t) => monthly(t)),
        v,
      ),
    );
    const out = join(dir, 'f.csv');
    const r = run([file, ...stats, '--json', '--output', out]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Out;
    assert.equal(j.season, 12);
    const means = Object.entries(j.backtest.mean);
    const best = means.sort((a, b) => a[1].mase - b[1].mase)[0][0];
    assert.equal(j.method, best);
    assert.deepEqual(Object.keys(j.backtest.mean).sort(), ['combination', 'ets', 'seasonal naive', 'theta']);
    assert.deepEqual(
      j.intervals.map((i) => i.level),
      [80, 95],
    );
    j.forecast.forEach((f, h) => {
      assert.ok(j.intervals[0].lower[h] <= f && f <= j.intervals[0].upper[h]);
      assert.ok(
        j.intervals[1].lower[h] <= j.intervals[0].lower[h] &&
          j.intervals[0].upper[h] <= j.intervals[1].upper[h],
      );
    });
    assert.deepEqual(
      j.backtest.coverage.map((c) => c.level),
      [80, 95],
    );
    assert.match(
      readFileSync(out, 'utf8'),
      /^date,forecast,lower_80,upper_80,lower_95,upper_95,actual\n1999-01,/,
    );
    assert.ok('naive' in j.metrics && best in j.metrics);
  });

  it('the choice never sees the held-out window: changing it changes neither the backtest nor the method', () => {
    const v = multiplicative(120, 6);
    const w = [...v.slice(0, 108), ...v.slice(108).map((x) => x * 3)];
    const a = run([
      write(
        'a.csv',
        csv(
          v.map((_, t) => monthly(t)),
          v,
        ),
      ),
      ...stats,
      '--json',
    ]);
    const b = run([
      write(
        'b.csv',
        csv(
          w.map((_, t) => monthly(t)),
          w,
        ),
      ),
      ...stats,
      '--json',
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const ja = JSON.parse(a.stdout) as Out;
    const jb = JSON.parse(b.stdout) as Out;
    assert.deepEqual(jb.backtest, ja.backtest);
    assert.equal(jb.method, ja.method);
    assert.deepEqual(jb.forecast, ja.forecast);
  });

  it('an undated series needs --season (exit 2, file named); with it, it runs', () => {
    const v = multiplicative(80, 7);
    const file = write('undated.csv', 't,value\n' + v.map((x, i) => `${i + 1},${x}`).join('\n') + '\n');
    const bad = run([file, ...stats]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /undated\.csv: the series has no dates .*give --season N/);
    const ok = run([file, ...stats, '--season', '12', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as Out).season, 12);
  });

  it('short series: two seasons + the horizon run (the network with a shorter lookback); one point less is refused', () => {
    const v = multiplicative(36, 8);
    const file = write(
      'short.csv',
      csv(
        v.map((_, t) => monthly(t)),
        v,
      ),
    );
    const r = run([file, '--epochs', '2', '--seeds', '1', '--units', '4', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Out;
    assert.equal(j.forecast.length, 12);
    assert.ok(j.forecast.every(Number.isFinite));
    const tooShort = run([
      write(
        'shorter.csv',
        csv(
          v.slice(1).map((_, t) => monthly(t)),
          v.slice(1),
        ),
      ),
      ...stats,
    ]);
    assert.equal(tooShort.code, 2);
    assert.match(tooShort.stderr, /shorter\.csv has 35 points; at least 36 are needed/);
  });

  it('a season too long for SARIMA (132) is skipped with its reason; the rest run', () => {
    const v = Array.from(
      { length: 300 },
      (_, t) => 100 + 20 * Math.sin((2 * Math.PI * t) / 132) + Math.sin(t * 2.3),
    );
    const file = write('long.csv', 't,value\n' + v.map((x, i) => `${i + 1},${x}`).join('\n') + '\n');
    const r = run([
      file,
      '--season',
      '132',
      '--candidates',
      'sarima,theta,seasonal naive',
      '--baselines',
      'none',
      '-H',
      '12',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /sarima: skipped: season 132 is above SARIMA's limit of 52/);
  });

  it('--seed N: one reproducible network; another seed gives another forecast', () => {
    const v = multiplicative(72, 9);
    const file = write(
      'seed.csv',
      csv(
        v.map((_, t) => monthly(t)),
        v,
      ),
    );
    const go = (seed: string): number[] => {
      const r = run([
        file,
        '--method',
        'network',
        '--seed',
        seed,
        '--epochs',
        '3',
        '--units',
        '4',
        '--folds',
        '2',
        '--json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as Out).forecast;
    };
    const a = go('7');
    assert.deepEqual(go('7'), a);
    assert.notDeepEqual(go('8'), a);
  });

  it('bad flags: exit 2 with one line naming the flag', () => {
    const v = multiplicative(60, 10);
    const file = write(
      'ok.csv',
      csv(
        v.map((_, t) => monthly(t)),
        v,
      ),
    );
    for (const [args, pattern] of [
      [['--level', '120'], /--level takes percentages between 0 and 100.*got '120'/],
      [['--level', '80,'], /--level takes percentages/],
      // R's forecast() reads 0.8 as 80%; here it was a 0.8% interval, silently.
      [['--level', '0.8,0.95'], /--level takes percentages \(80,95\), got '0\.8': .*for 80% write 80/],
      [['--method', 'magic'], /--method must be one of auto, network/],
      [['--candidates', 'ets,prophet'], /--candidates must be one of .*got 'prophet'/],
      [['--folds', '0'], /--folds must be an integer from 1/],
    ] as [string[], RegExp][]) {
      const r = run([file, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, pattern);
    }
  });
});

describe('saved forecaster: calibrated intervals (seeded fuzz of forecaster.json)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-fcio-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  it('round-trips the half-widths; every damaged intervals field is an error naming it, never a bad band', async () => {
    const values = multiplicative(40, 12);
    const f = new RNNForecaster({
      ...FORECAST_DEFAULTS,
      method: 'network',
      units: 2,
      epochs: 1,
      lookback: 4,
      horizon: 3,
      season: 12,
      seeds: [1],
    });
    await f.fit(values);
    const fc = join(dir, 'fc');
    const saved = [
      { level: 0.8, halfWidths: [1, 2, 3] },
      { level: 0.95, halfWidths: [2, 3, 4] },
    ];
    saveV1Forecaster(f, { dates: values.map((_, i) => `t${i + 1}`), values, name: 'v' }, fc, saved);
    assert.deepEqual(loadForecaster(fc).intervals, saved);
    const file = join(fc, 'forecaster.json');
    const good = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const rng = new Random(16);
    for (let i = 0; i < 40; i++) {
      const bad = JSON.parse(JSON.stringify(good)) as { intervals: unknown };
      const ivs = bad.intervals as { level: unknown; halfWidths: unknown[] }[];
      const k = Math.floor(rng.next() * 4);
      if (k === 0) bad.intervals = ['none', { level: 0.8 }, 5, null, [{ level: 0.8 }]][i % 5];
      else if (k === 1) ivs[i % 2].level = [null, 'x', -1, 1.5, 0, 1][i % 6];
      else if (k === 2)
        ivs[i % 2].halfWidths = [[1, 2], [1, 2, 3, 4], [1, -2, 3], [1, 'a', 3], null][i % 5] as unknown[];
      else ivs[i % 2].halfWidths[i % 3] = [null, 'x', -1, {}][i % 4];
      writeFileSync(file, JSON.stringify(bad));
      assert.throws(
        () => loadForecaster(fc),
        (e: Error) => e.message.includes('forecaster.json') && /intervals/.test(e.message),
        `mutation ${i} (kind ${k}): ${JSON.stringify(bad.intervals)}`,
      );
    }
  });
});

describe('Box-Cox inside every method', () => {
  it('transforms and inverts exactly; λ = 0 is the log, λ = 1 a shift', () => {
    const x = [0.5, 1, 2, 10, 123.4];
    for (const l of [-0.5, 0, 0.5, 1, 2])
      invBoxCox(boxCox(x, l), l).forEach((v, i) => assert.ok(Math.abs(v - x[i]) < 1e-9 * x[i], `${l}`));
    assert.deepEqual(boxCox([1, Math.E], 0), [0, 1]);
    assert.deepEqual(boxCox([3, 5], 1), [2, 4]);
    assert.deepEqual(invBoxCox([-3], 0.5), [0], 'below the range: the limit 0, not NaN');
  });
  it("Guerrero's λ: near 0 when the spread grows with the level, near 1 when it does not", () => {
    const mult = multiplicative(144, 13, 0.05).map((v, t) => v * Math.exp(0.01 * t));
    const rng = new Random(14);
    const add = Array.from(
      { length: 144 },
      (_, t) => 100 + 3 * t + 10 * Math.sin((2 * Math.PI * t) / 12) + 2 * rng.normal(),
    );
    const lm = guerreroLambda(mult, 12);
    const la = guerreroLambda(add, 12);
    assert.ok(Math.abs(lm) < 0.35, `multiplicative: λ ${lm}`);
    assert.ok(la > 0.6, `additive: λ ${la}`);
    assert.throws(() => guerreroLambda([1, 0, 2, 3], 2), /values > 0/);
  });
  it('wraps a forecaster: seasonal naive commutes with the transform; non-positive data is refused', async () => {
    const v = multiplicative(60, 15);
    const snaive: ForecastFn = (t, h) => Promise.resolve(seasonalNaive(t, h, 12));
    const plain = await snaive(v, 12);
    for (const kind of ['log', 'box-cox'] as const) {
      const f = await withTransform(snaive, kind, 12)(v, 12);
      f.forEach((x, i) => assert.ok(Math.abs(x - plain[i]) < 1e-9 * plain[i], kind));
    }
    await assert.rejects(withTransform(snaive, 'log', 12)([1, 2, 0, 4], 2), /value 3 is 0/);
  });
  it('CLI --transform auto: each candidate with and without Box-Cox in the backtest; --transform log refuses a 0', () => {
    const v = multiplicative(120, 16, 0.03).map((x, t) => x * Math.exp(0.008 * t));
    const dir = mkdtempSync(join(tmpdir(), 'recur-fbc-'));
    try {
      const file = join(dir, 'm.csv');
      writeFileSync(
        file,
        csv(
          v.map((_, t) => monthly(t)),
          v,
        ),
      );
      const r = runCli([
        'forecast',
        file,
        '--candidates',
        'ets,theta',
        '--baselines',
        'none',
        '--transform',
        'auto',
        '--json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as {
        method: string;
        transform: string;
        backtest: { mean: Record<string, unknown> };
      };
      assert.equal(j.transform, 'auto');
      assert.deepEqual(Object.keys(j.backtest.mean).sort(), [
        'combination',
        'ets',
        'ets (box-cox)',
        'theta',
        'theta (box-cox)',
      ]);
      assert.ok(j.method in j.backtest.mean);
      const zero = [...v];
      zero[10] = 0;
      writeFileSync(
        file,
        csv(
          v.map((_, t) => monthly(t)),
          zero,
        ),
      );
      const bad = runCli(['forecast', file, '--transform', 'log']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /m\.csv, line 12: --transform log needs values > 0, got 0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
