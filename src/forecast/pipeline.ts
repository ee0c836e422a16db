/**
 * Forecast evaluation: the network (an ensemble over seeds) next to the baselines on the same split — a hold-out of
 * the last `horizon` points — and a rolling-origin backtest. Everything is fitted on data before the forecast
 * origin only.
 */
import { BASELINES, baselineForecasts, type BaselineName, type OnBaseline } from './baselines.js';
import { metrics, type Metrics } from './metrics.js';
import { RNNForecaster, type EnsembleForecast, type NetworkOptions } from './network.js';

export interface SplitResult {
  trainEnd: number;
  actual: number[];
  network: EnsembleForecast;
  baselines: Map<BaselineName, number[]>;
  /** Baselines that failed or were refused on this split, with the reason. */
  skipped: Map<BaselineName, string>;
  metrics: Map<string, Metrics>;
  forecaster: RNNForecaster;
}

/**
 * Fits on values[0, trainEnd) and forecasts the next `horizon` points. Aborting `signal` stops the networks' training
 * after its current batch (or a SARIMA fit the loaders run elsewhere, at once) and rejects with the signal's reason.
 * `onBaseline` is told of each baseline as it starts, after the networks (baselineForecasts').
 */
export async function evaluateSplit(
  values: readonly number[],
  trainEnd: number,
  opts: NetworkOptions,
  which: readonly BaselineName[] = BASELINES,
  threads = 1,
  signal?: AbortSignal,
  onBaseline?: OnBaseline,
): Promise<SplitResult> {
  const train = values.slice(0, trainEnd);
  const actual = values.slice(trainEnd, trainEnd + opts.horizon);
  const forecaster = new RNNForecaster(opts);
  await forecaster.fit(train, threads, signal);
  const network = await forecaster.predict(train);
  signal?.throwIfAborted();
  const { forecasts: baselines, skipped } = await baselineForecasts(
    train,
    opts.horizon,
    opts.season,
    which,
    signal,
    onBaseline,
  );
  const m = new Map<string, Metrics>();
  if (actual.length === opts.horizon) {
    m.set('network', metrics(actual, network.mean, train, opts.season));
    for (const [name, f] of baselines) m.set(name, metrics(actual, f, train, opts.season));
  }
  return { trainEnd, actual, network, baselines, skipped, metrics: m, forecaster };
}

export interface BacktestResult {
  /** Start index of each forecast (the origin). */
  origins: number[];
  /** RMSE per method per origin. */
  rmse: Map<string, number[]>;
  /** Mean of each metric per method over the origins (methods skipped at any origin are left out). */
  mean: Map<string, Metrics>;
  /** Baselines skipped at some origin, with the first reason. */
  skipped: Map<BaselineName, string>;
}

/** Rolling origin: `count` forecasts of `horizon` points, the last one ending at the end of the series. */
export async function backtest(
  values: readonly number[],
  count: number,
  opts: NetworkOptions,
  which: readonly BaselineName[] = BASELINES,
  threads = 1,
  onOrigin?: (i: number, r: SplitResult) => void,
): Promise<BacktestResult> {
  const H = opts.horizon;
  const origins = Array.from({ length: count }, (_, i) => values.length - (count - i) * H);
  if (origins[0] < opts.lookback + 2 * Math.max(1, opts.season) + H) {
    throw new Error(`the series is too short for ${count} backtest origins of ${H} points each`);
  }
  const rmse = new Map<string, number[]>();
  const sums = new Map<string, Metrics>();
  const skipped = new Map<BaselineName, string>();
  for (const [i, o] of origins.entries()) {
    const r = await evaluateSplit(values, o, opts, which, threads);
    onOrigin?.(i, r);
    for (const [name, why] of r.skipped) if (!skipped.has(name)) skipped.set(name, why);
    for (const [name, m] of r.metrics) {
      (rmse.get(name) ?? rmse.set(name, []).get(name)!).push(m.rmse);
      const s = sums.get(name) ?? { rmse: 0, mae: 0, mape: 0, smape: 0, mase: 0 };
      for (const k of Object.keys(s) as (keyof Metrics)[]) s[k] += m[k] / count;
      sums.set(name, s);
    }
  }
  // A mean over fewer origins than the others would not be comparable.
  for (const name of skipped.keys()) {
    rmse.delete(name);
    sums.delete(name);
  }
  return { origins, rmse, mean: sums, skipped };
}
