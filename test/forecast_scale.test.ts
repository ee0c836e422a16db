/**
 * Forecasts do not depend on the units (QA): a series around 1e-100 got ETS forecasts of a third of its level (augurs
 * found a level near 0), SARIMA chose other orders below ~1e-4, and around 1e-200 the seasonality test's, SES's and
 * the network's sums of squares underflowed (Theta and the damped trend lost their season and trend, the network and
 * the hybrid were far off) and the conformal intervals and RMSEs were 0. Every method now fits on the series' own
 * scale (transforms.onOwnScale) and sums squares relative to the largest term (metrics.rootMeanSquare), so x and c·x
 * get the same forecasts, intervals and scores up to c.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import '../src/node/forecast.js'; // the Node loaders of the baselines' wasm
import { candidateFns } from '../src/forecast/auto.js';
import { conformalHalfWidths } from '../src/forecast/conformal.js';
import { globalOptions, panelGlobalForecasts } from '../src/forecast/global.js';
import { metrics } from '../src/forecast/metrics.js';
import { FORECAST_DEFAULTS, type NetworkOptions } from '../src/forecast/network.js';
import { runCli } from './cli_helpers.js';

const SEASON = 12;
const H = 6;
/** A trending monthly series with a season and noise. */
function series(seed: number, n = 72): number[] {
  const rng = new Random(seed);
  return Array.from(
    { length: n },
    (_, t) => 100 + 0.5 * t + 10 * Math.sin((2 * Math.PI * t) / SEASON) + 3 * rng.normal(),
  );
}
const X = series(1);
const NETWORK: NetworkOptions = {
  ...FORECAST_DEFAULTS,
  season: SEASON,
  horizon: H,
  lookback: 12,
  units: 8,
  epochs: 3,
  seeds: [1],
};

/** Largest relative difference between a forecast of c·x divided by c and the forecast of x. */
function relativeGap(scaled: readonly number[], c: number, base: readonly number[]): number {
  return scaled.reduce((m, v, i) => Math.max(m, Math.abs(v / c - base[i]) / Math.abs(base[i])), 0);
}

describe('forecasts up to the scale of the series', () => {
  const fns = candidateFns(SEASON, NETWORK);
  for (const [name, fn] of Object.entries(fns))
    it(`${name}: x, 1e-100·x, 1e-200·x and 1e20·x`, async () => {
      const base = await fn(X, H);
      for (const c of [1e-100, 1e-200, 1e20]) {
        const f = await fn(
          X.map((v) => v * c),
          H,
        );
        const gap = relativeGap(f, c, base);
        assert.ok(gap < 1e-6, `${name} at ${c}: relative gap ${gap}`);
      }
    });

  it('the global network', async () => {
    const items = [1, 2, 3].map((seed) => {
      const train = series(seed, 60);
      return { train, origins: [train.length - H] };
    });
    const o = globalOptions(SEASON, H, { units: 8, epochs: 2, seeds: [1], lookback: 24, minHistory: 12 });
    const base = await panelGlobalForecasts(items, o);
    const c = 1e-200;
    const tiny = await panelGlobalForecasts(
      items.map((s) => ({ ...s, train: s.train.map((v) => v * c) })),
      o,
    );
    tiny.forecasts.forEach((f, i) => {
      const gap = relativeGap(f.final, c, base.forecasts[i].final);
      assert.ok(gap < 1e-6, `series ${i + 1}: relative gap ${gap}`);
    });
  });

  it('RMSE and conformal widths of errors around 1e-200 (their squares underflow)', () => {
    const c = 1e-200;
    const actual = X.slice(60);
    const forecast = actual.map((v, i) => v + (i % 2 ? 2 : -1));
    const m = metrics(actual, forecast, X.slice(0, 60), SEASON);
    const tiny = metrics(
      actual.map((v) => v * c),
      forecast.map((v) => v * c),
      X.slice(0, 60).map((v) => v * c),
      SEASON,
    );
    assert.ok(Math.abs(tiny.rmse / c / m.rmse - 1) < 1e-12, `${tiny.rmse} vs ${m.rmse}`);
    const residuals = [0, 1, 2, 3, 4].map((k) => Array.from({ length: H }, (_, h) => Math.sin(k * 7 + h)));
    const widths = conformalHalfWidths(residuals, 0.8);
    const tinyWidths = conformalHalfWidths(
      residuals.map((r) => r.map((v) => v * c)),
      0.8,
    );
    assert.ok(relativeGap(tinyWidths, c, widths) < 1e-12, `${tinyWidths.join(', ')}`);
  });

  describe('recur forecast on a file in other units', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-forecast-scale-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const month = (t: number): string =>
      `${2000 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}`;

    it('the same choice, forecast and intervals up to the scale', () => {
      const run = (suffix: string): { stdout: string; rows: number[][] } => {
        const file = join(dir, `s${suffix}.csv`);
        const out = join(dir, `f${suffix}.csv`);
        writeFileSync(
          file,
          ['month,v', ...X.map((v, t) => `${month(t)},${v.toFixed(4)}${suffix}`)].join('\n'),
        );
        const r = runCli(['forecast', file, '--candidates', 'ets,theta,damped', '--output', out, '--quiet']);
        assert.equal(r.code, 0, r.stderr);
        const rows = readFileSync(out, 'utf8')
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.split(',').slice(1).map(Number));
        return { stdout: r.stdout, rows };
      };
      const base = run('');
      const tiny = run('e-100');
      const chosen = (s: string): string | undefined => /^(\S.*?) \*/m.exec(s)?.[1];
      assert.equal(chosen(tiny.stdout), chosen(base.stdout));
      tiny.rows.forEach((row, i) => assert.ok(relativeGap(row, 1e-100, base.rows[i]) < 1e-6, `row ${i + 1}`));
    });
  });
});
