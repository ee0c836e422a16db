/**
 * The global network's members on worker threads (src/node/global_pool.ts): a panel's backtest and final models
 * trained there give exactly the forecasts and weights of the same models trained in this thread — the thread count
 * changes the wall time, never a forecast — a member that fails rejects with its reason without taking the pool
 * down, and stopping the pool stops its members.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../src/node/index.js';
import { Random } from '../src/core/random.js';
import {
  globalOptions,
  globalWindows,
  panelGlobalForecasts,
  type GlobalProgress,
  type GlobalSeriesInput,
} from '../src/forecast/global.js';
import { FORECAST_DEFAULTS } from '../src/forecast/network.js';
import type { PanelSettings } from '../src/forecast/panel.js';
import type { TimeSeries } from '../src/forecast/series.js';
import { globalMemberPool } from '../src/node/global_pool.js';
import { globalStage } from '../src/node/forecast_panel.js';

const H = 4;
const M = 12;
const FAST = { units: 8, epochs: 3, batchSize: 32, learningRate: 0.01, seeds: [3, 4] };

function seasonalPanel(count: number, seed: number): number[][] {
  const rng = new Random(seed);
  const u = (): number => rng.nextUint32() / 2 ** 32;
  return Array.from({ length: count }, () => {
    const n = 40 + Math.floor(u() * 30);
    const level = 20 + 100 * u();
    const amp = 0.1 + 0.3 * u();
    return Array.from(
      { length: n },
      (_, t) => level * (1 + amp * Math.sin((2 * Math.PI * t) / M)) * (1 + 0.05 * u()),
    );
  });
}

const SERIES = seasonalPanel(8, 11);
const ITEMS: GlobalSeriesInput[] = SERIES.map((s) => {
  const train = s.slice(0, -H);
  const last = train.length - H;
  return { train, origins: [last - 2, last] };
});
const PARTS = ITEMS.map((s) => ({ values: s.train }));

describe('global network on worker threads', () => {
  it('gives the forecasts and weights of the in-thread training, with every epoch reported', async () => {
    const o = globalOptions(M, H, FAST);
    const here = await panelGlobalForecasts(ITEMS, o);
    const pool = globalMemberPool(2);
    const events: Parameters<GlobalProgress>[0][] = [];
    try {
      const there = await panelGlobalForecasts(ITEMS, o, (p) => events.push(p), pool.train);
      assert.deepEqual(there.forecasts, here.forecasts);
      assert.equal(there.backtestWindows, here.backtestWindows);
      assert.equal(there.model.models.length, 2);
      there.model.models.forEach((m, k) =>
        assert.deepEqual(
          m.getWeights().map((w) => Array.from(w.data)),
          here.model.models[k].getWeights().map((w) => Array.from(w.data)),
          `member ${k}`,
        ),
      );
    } finally {
      await pool.close();
    }
    // Both models × 2 members × 3 epochs, each member's epochs in order.
    assert.equal(events.length, 2 * 2 * 3);
    for (const stage of ['backtest', 'final'])
      for (const member of [0, 1])
        assert.deepEqual(
          events.filter((e) => e.stage === stage && e.member === member).map((e) => e.epoch),
          [1, 2, 3],
          `${stage} member ${member}`,
        );
  });

  it('a panel run with two threads forecasts exactly what it does with one', async () => {
    const settings: PanelSettings = {
      season: M,
      horizon: H,
      method: 'ets+theta+global',
      candidates: ['ets', 'theta', 'global'],
      folds: 2,
      levels: [0.8],
      transform: 'none',
      // No per-series network runs here: its settings are the defaults.
      network: { ...FORECAST_DEFAULTS, method: 'network', seeds: [1] },
      baselines: [],
      global: FAST,
    };
    const items = SERIES.map((values, i) => ({
      id: `s${i}`,
      series: { dates: values.map((_, t) => String(t + 1)), values } as TimeSeries,
    }));
    const one = await globalStage(items, settings, undefined, 1);
    const two = await globalStage(items, settings, undefined, 2);
    assert.deepEqual(two.forecasts, one.forecasts);
    assert.deepEqual(two.errors, one.errors);
    assert.equal(two.stages[0].error, undefined);
  });

  it('a failing member rejects with its reason; the pool trains the next one', async () => {
    const o = globalOptions(M, H, { ...FAST, seeds: [1] });
    const { x, y, count } = globalWindows(PARTS, o);
    const poisoned = y.data.slice();
    poisoned[0] = Number.NaN;
    const pool = globalMemberPool(1);
    try {
      await assert.rejects(
        pool.train({ options: o, seed: 1, x: x.data, y: poisoned, count }, () => undefined),
        /targets contains NaN at index \[0, 0\]/,
      );
      const m = await pool.train({ options: o, seed: 1, x: x.data, y: y.data, count }, () => undefined);
      assert.ok(m.getWeights().every((w) => w.data.every(Number.isFinite)));
    } finally {
      await pool.close();
    }
  });

  it('stopping the pool (its abort signal) rejects the members still training', async () => {
    const o = globalOptions(M, H, { ...FAST, epochs: 200, seeds: [1] });
    const { x, y, count } = globalWindows(PARTS, o);
    const stop = new AbortController();
    const pool = globalMemberPool(1, stop.signal);
    const training = pool.train({ options: o, seed: 1, x: x.data, y: y.data, count }, (epoch) => {
      if (epoch === 2) stop.abort();
    });
    await assert.rejects(training, /stopped/);
    await assert.rejects(
      pool.train({ options: o, seed: 1, x: x.data, y: y.data, count }, () => undefined),
      /stopped/,
    );
  });
});
