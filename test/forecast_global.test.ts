/**
 * The global network (issue #16): one model trained across a panel. On a generated panel of seasonal series it must
 * beat seasonal naive on held-out points; it is deterministic for a seed; the backtest never sees a fold's targets or
 * a series' test window (the no-leak rule); a series as short as two seasons plus the horizon is forecast, not
 * refused; and the real M3 file (../shared, skipped when absent) runs through it. Small and fast: a few thousand
 * windows, a few epochs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import '../src/node/index.js';
import { Random } from '../src/core/random.js';
import { seasonalNaive } from '../src/forecast/baselines.js';
import {
  GlobalForecaster,
  globalOptions,
  globalWindows,
  panelGlobalForecasts,
  type GlobalSeriesInput,
} from '../src/forecast/global.js';
import { metrics } from '../src/forecast/metrics.js';
import { forecastPanelSeries, parsePanelCsv, type PanelSettings } from '../src/forecast/panel.js';
import type { TimeSeries } from '../src/forecast/series.js';
import { globalStage } from '../src/node/forecast_panel.js';

const here = dirname(fileURLToPath(import.meta.url));
const M3 = join(here, '..', '..', '..', 'shared', 'eval', 'm3', 'monthly.csv');

const H = 6;
const M = 12;

/**
 * A panel of multiplicative seasonal series: each its own level, growth, season shape and AR(1) noise, and its own
 * length (the shortest two seasons plus the horizon).
 */
function panel(count: number, seed: number): number[][] {
  const rng = new Random(seed);
  const u = (): number => rng.nextUint32() / 2 ** 32;
  return Array.from({ length: count }, (_, k) => {
    const n = k === 0 ? 2 * M + H : 60 + Math.floor(u() * 48);
    const level = 50 + 500 * u();
    const growth = 0.002 + 0.01 * u();
    const amp = 0.1 + 0.3 * u();
    const shift = Math.floor(u() * M);
    let e = 0;
    return Array.from({ length: n }, (_, t) => {
      e = 0.5 * e + 0.04 * (u() - 0.5);
      return level * Math.exp(growth * t + e) * (1 + amp * Math.sin((2 * Math.PI * (t + shift)) / M));
    });
  });
}

const SERIES = panel(24, 7);
const FAST = { units: 16, epochs: 12, batchSize: 32, learningRate: 0.01, seeds: [3] };
/** Per-series network options a PanelSettings needs (no per-series network runs in these tests). */
const NETWORK: PanelSettings['network'] = {
  method: 'network',
  cell: 'lstm',
  units: 4,
  layers: 1,
  dropout: 0,
  strategy: 'direct',
  epochs: 1,
  batchSize: 16,
  learningRate: 0.01,
  seeds: [1],
  log: false,
  differencing: 'seasonal',
  scaling: 'standard',
};

describe('global network', () => {
  it('beats seasonal naive on the held-out points of a generated seasonal panel', async () => {
    const o = globalOptions(M, H, FAST);
    const f = new GlobalForecaster(o);
    await f.fit(SERIES.map((s) => ({ values: s.slice(0, -H) })));
    assert.ok(f.windows > 500, `windows: ${f.windows}`);
    const fc = f.predict(SERIES.map((s) => ({ values: s.slice(0, -H) })));
    let g = 0;
    let sn = 0;
    SERIES.forEach((s, i) => {
      const train = s.slice(0, -H);
      const actual = s.slice(-H);
      assert.equal(fc[i].length, H);
      g += metrics(actual, fc[i], train, M).mase / SERIES.length;
      sn += metrics(actual, seasonalNaive(train, H, M), train, M).mase / SERIES.length;
    });
    assert.ok(g < 0.8 * sn, `global MASE ${g.toFixed(3)} vs seasonal naive ${sn.toFixed(3)}`);
  });

  it('is deterministic for a seed, and another seed gives another model', async () => {
    const parts = SERIES.slice(0, 8).map((s) => ({ values: s.slice(0, -H) }));
    const run = async (seed: number): Promise<number[][]> => {
      const f = new GlobalForecaster(globalOptions(M, H, { ...FAST, epochs: 3, seeds: [seed] }));
      await f.fit(parts);
      return f.predict(parts);
    };
    const a = await run(5);
    assert.deepEqual(await run(5), a);
    assert.notDeepEqual(await run(6), a);
  });

  it('windows: targets relative to the last input value, short histories left-padded and marked', () => {
    const o = globalOptions(M, H, { lookback: 8, minHistory: 3, windowsPerSeries: 100 });
    const values = Array.from({ length: 12 }, (_, t) => 10 + t);
    const { x, y, count } = globalWindows([{ values }], o);
    // Origins 3 … 12 − H = 6: four windows (the series is too short for the seasonality test: no adjustment).
    assert.equal(count, 4);
    const F = 4;
    // First window: origin 3, history 10, 11, 12 at the end of 8 steps, the first 5 padding.
    for (let k = 0; k < 5; k++) assert.deepEqual([x.data[k * F], x.data[k * F + 1]], [0, 0]);
    assert.equal(x.data[5 * F + 1], 1);
    assert.ok(Math.abs(x.data[7 * F] - 0) < 1e-7, 'the last input is 0 (relative to itself)');
    assert.ok(Math.abs(x.data[5 * F] - (Math.log(10) - Math.log(12))) < 1e-6);
    // Its targets: log(13 … 18) − log(12).
    for (let h = 0; h < H; h++) assert.ok(Math.abs(y.data[h] - (Math.log(13 + h) - Math.log(12))) < 1e-6);
    // No position features without dates.
    assert.deepEqual([x.data[2], x.data[3]], [0, 0]);
    // With the season position of the first point (phase 3: April), each step's month on the unit circle.
    const dated = globalWindows([{ values, phase: 3 }], o).x.data;
    for (const k of [0, 5, 7]) {
      const month = (3 - 8 + k + 3 + 12) % 12;
      assert.ok(Math.abs(dated[k * F + 2] - Math.sin((2 * Math.PI * month) / 12)) < 1e-6, `step ${k}`);
      assert.ok(Math.abs(dated[k * F + 3] - Math.cos((2 * Math.PI * month) / 12)) < 1e-6, `step ${k}`);
    }
  });

  it('no leak: changing the last fold targets of a series changes no backtest forecast (only the final model)', async () => {
    const items: GlobalSeriesInput[] = SERIES.slice(0, 10).map((s) => {
      const train = s.slice(0, -H);
      const last = train.length - H;
      return { train, origins: [last - 4, last - 2, last] };
    });
    const o = globalOptions(M, H, { ...FAST, epochs: 4 });
    const a = await panelGlobalForecasts(items, o);
    const changed = items.map((it, i) =>
      i === 2 ? { ...it, train: it.train.map((v, t) => (t >= it.origins[2] ? v * 3 : v)) } : it,
    );
    const b = await panelGlobalForecasts(changed, o);
    for (let i = 0; i < items.length; i++)
      assert.deepEqual(b.forecasts[i].folds, a.forecasts[i].folds, `series ${i}`);
    assert.equal(a.forecasts[2].folds.length, 3);
    // The final model does see them: the test above would fail if the backtest model were the final one.
    assert.notDeepEqual(b.forecasts[2].final, a.forecasts[2].final);
  });

  it('no leak through the panel: a changed test window changes neither the backtest nor the forecast', async () => {
    const settings: PanelSettings = {
      season: M,
      horizon: H,
      method: 'ets+theta+global',
      candidates: ['ets', 'theta', 'global'],
      folds: 3,
      levels: [0.8],
      transform: 'none',
      network: NETWORK,
      baselines: [],
      global: { ...FAST, epochs: 3 },
    };
    const items = SERIES.slice(0, 6).map((values, i) => ({
      id: `s${i}`,
      series: { dates: values.map((_, t) => String(t + 1)), values } as TimeSeries,
    }));
    const a = await globalStage(items, settings);
    const changed = items.map((it, i) =>
      i === 1
        ? {
            ...it,
            series: {
              ...it.series,
              values: it.series.values.map((v, t, all) => (t >= all.length - H ? -v : v)),
            },
          }
        : it,
    );
    const b = await globalStage(changed, settings);
    assert.deepEqual(b.forecasts, a.forecasts);
    const one = await forecastPanelSeries('s1', items[1].series, settings, a.forecasts[1]);
    const two = await forecastPanelSeries('s1', changed[1].series, settings, b.forecasts[1]);
    assert.equal(one.method, 'ets+theta+global');
    assert.deepEqual(two.forecast, one.forecast);
    assert.deepEqual(two.intervals, one.intervals);
    assert.deepEqual(two.backtest, one.backtest);
    assert.notDeepEqual(two.metrics, one.metrics, 'the hold-out scores do see the test window');
  });

  it('forecasts a series of two seasons plus the horizon (left-padded), never refusing it', async () => {
    const items = SERIES.slice(0, 8).map((s) => ({ train: s.slice(0, -H), origins: [] as number[] }));
    assert.equal(items[0].train.length, 2 * M);
    const r = await panelGlobalForecasts(items, globalOptions(M, H, { ...FAST, epochs: 2 }));
    assert.equal(r.forecasts[0].final.length, H);
    assert.ok(r.forecasts[0].final.every((v) => Number.isFinite(v) && v > 0));
    assert.equal(r.forecasts[0].noBacktest, 'no series has a backtest');
  });

  it('a panel too short for the network: the default mean falls back to auto over the rest, and says so', async () => {
    const short = SERIES[0];
    assert.equal(short.length, 2 * M + H);
    const settings = {
      season: M,
      horizon: H,
      method: 'ets+theta+global',
      candidates: ['ets', 'theta', 'global'],
      folds: 2,
      levels: [0.8],
      transform: 'none',
      network: { ...NETWORK },
      baselines: [],
      global: { ...FAST, epochs: 1, minHistory: 12, lookback: 24 },
    } as PanelSettings;
    const series = { dates: short.map((_, t) => String(t + 1)), values: short } as TimeSeries;
    // With a horizon of 6 and 12 points of history at least, a training part of 24 has windows: ask for more.
    const stage = await globalStage([{ id: 'short', series }], {
      ...settings,
      global: { ...settings.global, minHistory: 20 },
    });
    assert.match(stage.errors[0]!, /no series is long enough for a training window/);
    const r = await forecastPanelSeries('short', series, settings, stage.forecasts[0], stage.errors[0]);
    assert.ok(r.method === 'ets' || r.method === 'theta' || r.method === 'combination', r.method);
    assert.ok(
      r.notes.some((n) => /ets\+theta\+global falls back to auto over the rest/.test(n)),
      r.notes.join('; '),
    );
    await assert.rejects(
      forecastPanelSeries('short', series, { ...settings, method: 'global' }, undefined, stage.errors[0]),
      /the global network has no forecast for this series/,
    );
  });

  it('a panel too short for the backtest model: no fold forecasts, and it says why', async () => {
    const items = SERIES.slice(1, 5).map((s) => ({ train: s.slice(0, 30), origins: [14, 18, 24] }));
    const r = await panelGlobalForecasts(items, globalOptions(M, H, { ...FAST, epochs: 2 }));
    assert.equal(r.backtestWindows, 0);
    for (const f of r.forecasts) {
      assert.deepEqual(f.folds, []);
      assert.match(f.noBacktest!, /no series has 18 points before its first backtest origin/);
      assert.equal(f.final.length, H);
    }
  });

  if (existsSync(M3))
    it('the real M3 monthly file (../shared): 40 series of every length get finite forecasts', async () => {
      const p = parsePanelCsv(readFileSync(M3, 'utf8'), { idColumn: 'id', source: M3 });
      // Series 0-19 are the shortest (MICRO, 68-69 points); 1000-1019 among the longest.
      const chosen = [...p.series.slice(0, 20), ...p.series.slice(1000, 1020)];
      const items = chosen.map((s) => ({ train: s.series!.values.slice(0, -18), origins: [] as number[] }));
      const r = await panelGlobalForecasts(
        items,
        globalOptions(12, 18, { units: 16, epochs: 2, seeds: [1] }),
      );
      assert.ok(r.finalWindows > 1000, `windows: ${r.finalWindows}`);
      for (const f of r.forecasts) {
        assert.equal(f.final.length, 18);
        assert.ok(f.final.every((v) => Number.isFinite(v) && v > 0));
      }
    });
});
