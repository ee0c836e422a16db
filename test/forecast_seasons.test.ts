/**
 * Several seasons (issue #16 item 4): the stable-seasonality F test and its pieces, which seasons ETS's MSTL takes on a
 * training part, multi-season ETS beating single-season ETS on a daily series with weekly and yearly patterns, and
 * `--season 7,365` / the daily default on the command line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import '../src/node/forecast.js'; // the Node loaders of the baselines' wasm
import { autoForecast } from '../src/forecast/auto.js';
import { etsForecast, etsSeasons } from '../src/forecast/baselines.js';
import { metrics } from '../src/forecast/metrics.js';
import { FORECAST_DEFAULTS, type NetworkOptions } from '../src/forecast/network.js';
import {
  centredMovingAverage,
  fUpperTail,
  greenhouseGeisser,
  normalCdf,
  seasonalFTest,
} from '../src/forecast/seasonality.js';
import { seasonsOfFrequency } from '../src/forecast/series.js';
import { expectSnakeKeys, runCli } from './cli_helpers.js';

const WEEK = [-6, 3, 4, 3, 2, 1, -7];
/** A daily series: slow trend + weekly pattern + a yearly wave with a sharp mid-year bump + AR(0.5) noise. */
function daily(n: number, seed: number, yearly = 1): number[] {
  const rng = new Random(seed);
  let ar = 0;
  return Array.from({ length: n }, (_, t) => {
    ar = 0.5 * ar + rng.normal();
    const day = t % 365;
    const year = 15 * Math.sin((2 * Math.PI * day) / 365) + (day >= 180 && day < 195 ? 12 : 0);
    return 200 + 0.01 * t + WEEK[t % 7] + yearly * year + 2 * ar;
  });
}

/** A persistent series without any season: a random walk. */
function randomWalk(n: number, seed: number): number[] {
  const rng = new Random(seed);
  let x = 0;
  return Array.from({ length: n }, () => (x += rng.normal()));
}

describe('the stable-seasonality F test', () => {
  it('normalCdf and Paulson’s F tail match tabulated values', () => {
    assert.ok(Math.abs(normalCdf(1.959964) - 0.975) < 1e-6);
    assert.ok(Math.abs(normalCdf(-1.281552) - 0.1) < 1e-6);
    // Upper 10% and 5% points of F (tables): F(5,10) 2.5216, F(10,20) 1.9367, F(3,30) 2.9223 (5%).
    assert.ok(Math.abs(fUpperTail(2.5216, 5, 10) - 0.1) < 0.005);
    assert.ok(Math.abs(fUpperTail(1.9367, 10, 20) - 0.1) < 0.005);
    assert.ok(Math.abs(fUpperTail(2.9223, 3, 30) - 0.05) < 0.005);
  });

  it('the centred moving average matches its definition (odd and even seasons)', () => {
    const x = Array.from({ length: 30 }, (_, t) => Math.sin(t) * 10 + t);
    for (const m of [5, 12]) {
      const { start, trend } = centredMovingAverage(x, m);
      assert.equal(start, Math.floor(m / 2));
      assert.equal(trend.length, x.length - 2 * start);
      trend.forEach((v, i) => {
        const t = start + i;
        let s = 0;
        if (m % 2 === 1) for (let k = -start; k <= start; k++) s += x[t + k] / m;
        else {
          for (let k = -start + 1; k < start; k++) s += x[t + k] / m;
          s += (x[t - start] + x[t + start]) / (2 * m);
        }
        assert.ok(Math.abs(v - s) < 1e-9, `m ${m}, t ${t}`);
      });
    }
  });

  it('Greenhouse–Geisser ε is 1 for independent positions and 1/(m−1) for perfectly correlated ones', () => {
    assert.ok(Math.abs(greenhouseGeisser([1, 0, 0, 0, 0]) - 1) < 1e-12);
    const e = greenhouseGeisser([1, 0.9, 0.81, 0.73, 0.66]);
    assert.ok(e > 0.25 && e < 1, String(e));
    // ρ linear in the lag (a perfectly smooth wander): the centred matrix has rank ≤ 2, ε near its floor.
    assert.ok(greenhouseGeisser(Array.from({ length: 50 }, (_, k) => 1 - k / 100)) < 0.1);
  });

  it('finds a yearly season in three years of daily data, and rarely in random walks', () => {
    assert.ok(seasonalFTest(daily(1100, 1), 365).p < 1e-4);
    let found = 0;
    for (let seed = 1; seed <= 40; seed++) if (seasonalFTest(randomWalk(1100, seed), 365).p < 0.01) found++;
    // Without the ε correction about three in four of these passed (the wander looks like a season); the nominal 1%.
    assert.ok(found <= 4, `${found} of 40 random walks`);
    assert.equal(seasonalFTest(daily(600, 1), 365).p, 1, 'fewer than two cycles: not tested');
  });
});

describe('which seasons ETS uses, and what they are worth', () => {
  it('the frequency defaults: daily 7 and 365, hourly 24 and 168, monthly 12 alone', () => {
    assert.deepEqual(seasonsOfFrequency('daily'), [7, 365]);
    assert.deepEqual(seasonsOfFrequency('hourly'), [24, 168]);
    assert.deepEqual(seasonsOfFrequency('monthly'), [12]);
  });

  it('takes a further season only with two full cycles of it and when it is significant', () => {
    assert.deepEqual(etsSeasons(daily(1100, 2), [7, 365]).used, [7, 365]);
    const short = etsSeasons(daily(700, 2), [7, 365]);
    assert.deepEqual(short.used, [7]);
    assert.match(short.dropped[0].why, /fewer than two full cycles \(700 points\)/);
    const flat = etsSeasons(daily(1100, 2, 0), [7, 365]);
    assert.deepEqual(flat.used, [7]);
    assert.match(flat.dropped[0].why, /not significant/);
    // The primary season alone, as before: used with two cycles, with no test.
    assert.deepEqual(etsSeasons(daily(1100, 2), [7]).used, [7]);
    assert.deepEqual(etsSeasons(daily(10, 2), [7]).used, []);
  });

  it('a weekly season in hourly data must add to the daily one (168 is a multiple of 24)', () => {
    const rng = new Random(3);
    const day = (t: number): number => 10 * Math.sin((2 * Math.PI * (t % 24)) / 24);
    const dailyOnly = Array.from({ length: 24 * 7 * 5 }, (_, t) => 100 + day(t) + rng.normal());
    assert.deepEqual(etsSeasons(dailyOnly, [24, 168]).used, [24]);
    const weekend = dailyOnly.map((v, t) => v + (Math.floor(t / 24) % 7 >= 5 ? -8 : 0));
    assert.deepEqual(etsSeasons(weekend, [24, 168]).used, [24, 168]);
  });

  it('multi-season ETS beats weekly-only ETS on three years of daily data (28-day forecasts from 6 origins)', async () => {
    const v = daily(3 * 365 + 200, 4);
    let single = 0;
    let multi = 0;
    for (let k = 0; k < 6; k++) {
      const origin = 3 * 365 + 20 + 28 * k;
      const train = v.slice(0, origin);
      const actual = v.slice(origin, origin + 28);
      single += metrics(actual, await etsForecast(train, 28, 7, [7]), train, 7).mase;
      multi += metrics(actual, await etsForecast(train, 28, 7, [7, 365]), train, 7).mase;
    }
    assert.ok(multi < 0.9 * single, `MASE multi ${multi / 6} vs single ${single / 6}`);
  });

  it('autoForecast passes the seasons to ETS only; the first must be the primary season', async () => {
    const v = daily(3 * 365 + 28, 5);
    const net: NetworkOptions = {
      ...FORECAST_DEFAULTS,
      method: 'network',
      season: 7,
      lookback: 14,
      horizon: 28,
      seeds: [1],
    };
    const run = (seasons: number[]) =>
      autoForecast(v, {
        horizon: 28,
        season: 7,
        seasons,
        method: 'auto',
        candidates: ['ets', 'theta'],
        folds: 4,
        step: 28,
        levels: [0.8],
        network: net,
      });
    const one = await run([7]);
    const two = await run([7, 365]);
    const mase = (r: typeof one, c: string): number => r.backtest!.results.get(c)!.mean.mase;
    assert.ok(mase(two, 'ets') < mase(one, 'ets'), `${mase(two, 'ets')} vs ${mase(one, 'ets')}`);
    assert.equal(mase(two, 'theta'), mase(one, 'theta'));
    await assert.rejects(() => run([365, 7]), /first of the seasons \(365, 7\) must be 7/);
  });
});

describe('recur forecast --season a,b (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-fseasons-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const v = daily(3 * 365 + 14, 6);
  const start = Date.UTC(2001, 0, 1);
  const dates = v.map((_, t) => new Date(start + t * 86_400_000).toISOString().slice(0, 10));
  const file = join(dir, 'daily.csv');
  writeFileSync(file, 'date,value\n' + v.map((x, i) => `${dates[i]},${x.toFixed(3)}`).join('\n') + '\n');
  const stats = ['--candidates', 'ets,theta', '--baselines', 'none', '--json'];

  it('daily dates default to seasons 7 and 365, reported with the ones ETS used', () => {
    const r = runCli(['forecast', file, ...stats]);
    assert.equal(r.code, 0, r.stderr);
    expectSnakeKeys(r.stdout);
    const out = JSON.parse(r.stdout) as { season: number; seasons: number[]; ets_seasons: number[] };
    assert.equal(out.season, 7);
    assert.deepEqual(out.seasons, [7, 365]);
    assert.deepEqual(out.ets_seasons, [7, 365]);
    const text = runCli(['forecast', file, ...stats.filter((a) => a !== '--json')]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stderr, /seasons 7, 365 \(from the daily dates\)/);
    assert.match(text.stderr, /ets: MSTL on the training part with season\(s\) 7, 365/);
  });

  it('--season 7 keeps one season; bad lists are usage errors (exit 2)', () => {
    const one = runCli(['forecast', file, ...stats, '--season', '7']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal((JSON.parse(one.stdout) as { seasons?: number[] }).seasons, undefined);
    for (const bad of ['7,7', '7,0', '7,x', '7,']) {
      const r = runCli(['forecast', file, ...stats, '--season', bad]);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--season/);
    }
  });
});
