/**
 * `npm run bench:forecast` — forecast accuracy of the default forecaster (hybrid: ETS + LSTM on its residuals) and
 * of the plain network, next to seasonal naive, ETS and SARIMA, on several monthly series: milk production
 * (../shared, when present), US births (embedded) and three generated series. For each: the hold-out of the last 12
 * months and a 5-origin rolling backtest. Networks are 5-seed ensembles; the spread of the single seeds is reported.
 */
import '../src/node/index.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '../src/core/random.js';
import { FORECAST_DEFAULTS, type NetworkOptions } from '../src/forecast/network.js';
import { backtest, evaluateSplit } from '../src/forecast/pipeline.js';
import { parseMonthlyCsv } from '../src/forecast/series.js';
import { usBirthsMonthly } from '../src/node/text_file.js';

const here = dirname(fileURLToPath(import.meta.url));
const MILK = join(here, '..', '..', '..', 'shared', 'data', 'milk.csv');

function generated(kind: number, n = 180): number[] {
  const rng = new Random(100 + kind);
  let ar = 0;
  return Array.from({ length: n }, (_, t) => {
    ar = 0.6 * ar + rng.normal();
    const s = Math.sin((2 * Math.PI * t) / 12);
    if (kind === 0) return 300 + 1.2 * t + 30 * s + 6 * rng.normal(); // linear trend, additive season
    if (kind === 1) return (100 + 0.8 * t) * (1 + 0.15 * s) + 4 * ar; // growing, multiplicative season, AR noise
    return 500 + 40 * s + 15 * Math.cos((2 * Math.PI * t) / 6) + 8 * ar + (t > 120 ? 20 : 0); // level shift
  });
}

const series: [string, number[]][] = [];
if (existsSync(MILK)) series.push(['milk (1962–1975)', parseMonthlyCsv(readFileSync(MILK, 'utf8')).values]);
series.push(['US births (1969–1988)', usBirthsMonthly().values]);
series.push(
  ['generated: trend + season', generated(0)],
  ['generated: growth × season + AR', generated(1)],
  ['generated: level shift + AR', generated(2)],
);

const base = (method: 'hybrid' | 'network'): NetworkOptions => ({
  ...FORECAST_DEFAULTS,
  method,
  season: 12,
  lookback: 24,
  horizon: 12,
  seeds: [1, 2, 3, 4, 5],
});
const baselines = ['seasonal naive', 'ets', 'sarima'] as const;
const f = (x: number): string => x.toFixed(2);

console.log('| series | split | hybrid (default) | network | seasonal naive | ETS | SARIMA |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const [name, values] of series) {
  const t0 = Date.now();
  const hold: Record<string, string> = {};
  for (const method of ['hybrid', 'network'] as const) {
    const r = await evaluateSplit(
      values,
      values.length - 12,
      base(method),
      method === 'hybrid' ? baselines : [],
    );
    const seedRmse = r.network.members.map((m) =>
      Math.sqrt(m.reduce((s, v, i) => s + (v - r.actual[i]) ** 2, 0) / 12),
    );
    const mu = seedRmse.reduce((a, b) => a + b, 0) / seedRmse.length;
    const sd = Math.sqrt(seedRmse.reduce((a, b) => a + (b - mu) ** 2, 0) / seedRmse.length);
    hold[method] = `${f(r.metrics.get('network')!.rmse)} (seeds ${f(mu)} ± ${f(sd)})`;
    if (method === 'hybrid') for (const b of baselines) hold[b] = f(r.metrics.get(b)!.rmse);
  }
  console.log(
    `| ${name} | hold-out, last 12 | ${hold.hybrid} | ${hold.network} | ${hold['seasonal naive']} | ${hold.ets} | ${hold.sarima} |`,
  );
  const bt: Record<string, string> = {};
  for (const method of ['hybrid', 'network'] as const) {
    const r = await backtest(values, 5, base(method), method === 'hybrid' ? baselines : []);
    bt[method] = f(r.mean.get('network')!.rmse);
    if (method === 'hybrid') for (const b of baselines) bt[b] = f(r.mean.get(b)!.rmse);
  }
  console.log(
    `| ${name} | backtest, 5 origins | ${bt.hybrid} | ${bt.network} | ${bt['seasonal naive']} | ${bt.ets} | ${bt.sarima} |`,
  );
  console.error(`${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
