/**
 * `node dist/bench/brainjs_forecast.js [--outer N]` — forecasting the way a brain.js user would (its LSTMTimeStep, the
 * usual recipe: the series scaled to [0, 1], trained with brain.js's defaults — two hidden layers of 20, up to 20,000
 * iterations or an error of 0.005 — then `forecast`) against recur's default forecaster and recur's LSTM network
 * alone, on milk (../shared/data/milk.csv, when present) and monthly US births: the 12 months after each of N origins a
 * year apart (default 5, the last window ends the series), each fit seeing only its past, scored by MASE against the
 * training part's seasonal naive errors. Seasonal naive itself is the floor. brain.js's own training `timeout` is set
 * to 120 s a fit. Prints a Markdown table (per-origin scores on stderr); brain.js is installed on first run
 * (./brainjs_install.ts).
 */
import '../src/node/index.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { autoForecast, CANDIDATES } from '../src/forecast/auto.js';
import { metrics } from '../src/forecast/metrics.js';
import { FORECAST_DEFAULTS } from '../src/forecast/network.js';
import { parseMonthlyCsv } from '../src/forecast/series.js';
import { usBirthsMonthly } from '../src/node/text_file.js';
import { loadBrain } from './brainjs_install.js';

const SEASON = 12;
const HORIZON = 12;
const { values: flags } = parseArgs({ options: { outer: { type: 'string', default: '5' } } });
const OUTER = Number(flags.outer);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const milk = join(root, '..', 'shared', 'data', 'milk.csv');
const brain = loadBrain(root);

const series: [string, number[]][] = [];
if (existsSync(milk)) series.push(['milk (1962–1975)', parseMonthlyCsv(readFileSync(milk, 'utf8')).values]);
series.push(['US births (1969–1988)', usBirthsMonthly().values]);

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** brain.js LSTMTimeStep on the min–max scaled training part, with its own training defaults. */
function brainForecast(train: readonly number[]): {
  forecast: number[];
  seconds: number;
  iterations: number;
} {
  const lo = Math.min(...train);
  const hi = Math.max(...train);
  const scaled = train.map((v) => (v - lo) / (hi - lo));
  const net = new brain.recurrent.LSTMTimeStep({ inputSize: 1, outputSize: 1 });
  const t0 = performance.now();
  const r = net.train([scaled], { timeout: 120_000 });
  const forecast = net.forecast(scaled, HORIZON).map((v) => lo + v * (hi - lo));
  return { forecast, seconds: (performance.now() - t0) / 1000, iterations: r.iterations };
}

console.log(
  '| series | origins | recur default | recur network (LSTM) | brain.js LSTMTimeStep | seasonal naive | brain.js s / fit (iterations) | recur default s / fit |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const [name, values] of series) {
  const mase = {
    default: [] as number[],
    network: [] as number[],
    brain: [] as number[],
    naive: [] as number[],
  };
  const brainSeconds: number[] = [];
  const brainIterations: number[] = [];
  const recurSeconds: number[] = [];
  for (let k = OUTER - 1; k >= 0; k--) {
    const origin = values.length - HORIZON - k * HORIZON;
    const train = values.slice(0, origin);
    const actual = values.slice(origin, origin + HORIZON);
    const score = (f: readonly number[]): number => metrics(actual, f, train, SEASON).mase;
    const t0 = performance.now();
    const r = await autoForecast(train, {
      horizon: HORIZON,
      season: SEASON,
      method: 'auto',
      candidates: CANDIDATES,
      folds: 5, // `recur forecast`'s default
      levels: [0.8, 0.95],
      network: {
        ...FORECAST_DEFAULTS,
        method: 'network',
        season: SEASON,
        lookback: 2 * SEASON,
        horizon: HORIZON,
        seeds: [1, 2, 3, 4, 5],
      },
      transform: 'none',
      fitAll: true,
    });
    recurSeconds.push((performance.now() - t0) / 1000);
    mase.default.push(score(r.point));
    mase.network.push(score(r.forecasts.get('network')!));
    mase.naive.push(score(actual.map((_, i) => train[train.length - SEASON + (i % SEASON)])));
    const b = brainForecast(train);
    brainSeconds.push(b.seconds);
    brainIterations.push(b.iterations);
    mase.brain.push(score(b.forecast));
    console.error(
      `${name}, origin ${origin}: MASE default ${mase.default.at(-1)!.toFixed(3)}, network ${mase.network.at(-1)!.toFixed(3)}, ` +
        `brain.js ${mase.brain.at(-1)!.toFixed(3)} (${b.iterations} iterations, ${b.seconds.toFixed(1)} s), naive ${mase.naive.at(-1)!.toFixed(3)}`,
    );
  }
  console.log(
    `| ${name} | ${OUTER} | ${mean(mase.default).toFixed(3)} | ${mean(mase.network).toFixed(3)} | ${mean(mase.brain).toFixed(3)} | ` +
      `${mean(mase.naive).toFixed(3)} | ${mean(brainSeconds).toFixed(1)} (${brainIterations.join(', ')}) | ${mean(recurSeconds).toFixed(1)} |`,
  );
}
