/**
 * SARIMA alone on the M3 monthly sample (forecast_m3.ts's 100 series, or --all): fitted on each training part
 * (everything but the last 18 points), scored on the last 18 — sMAPE, MASE (seasonal naive scale, m = 12) and the
 * bias: the mean of (forecast − actual) / MASE scale over the 18 points, whose mean over the series is 0 for an
 * unbiased method. Seasonal naive is scored beside it as the reference. BENCHMARKS.md, "SARIMA's drift".
 *
 * --train N fits on the last N points of each training part only (36: exactly three seasons; 30: fewer, so without
 * the seasonal terms), as the shorter backtest folds of `recur forecast` do.
 *
 *   node dist/bench/forecast_sarima_m3.js [--all] [--limit N] [--train N]
 */
import '../src/node/index.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sarimaForecast, seasonalNaive } from '../src/forecast/baselines.js';
import { maseScale, metrics } from '../src/forecast/metrics.js';
import { readM3 } from './m3_data.js';

const here = dirname(fileURLToPath(import.meta.url));
const M3 = process.env.M3_DIR ?? join(here, '..', '..', '..', 'shared', 'eval', 'm3');
const H = 18;
const SEASON = 12;

async function main(): Promise<void> {
  const m3 = readM3(M3, process.argv.includes('--all'));
  if (!m3) return;
  const byId = new Map(m3.panel.series.map((s) => [s.id, s.series?.values ?? []]));
  let ids = m3.ids;
  const at = process.argv.indexOf('--limit');
  if (at >= 0) ids = ids.slice(0, Number(process.argv[at + 1]));
  const trainAt = process.argv.indexOf('--train');
  const trainLength = trainAt >= 0 ? Number(process.argv[trainAt + 1]) : Infinity;
  const sums = { sarima: { smape: 0, mase: 0, bias: 0 }, 'seasonal naive': { smape: 0, mase: 0, bias: 0 } };
  const failed: string[] = [];
  let scored = 0;
  for (const id of ids) {
    const values = byId.get(id)!;
    const train = values.slice(0, -H).slice(-trainLength);
    const actual = values.slice(-H);
    const scale = maseScale(train, SEASON);
    let sarima: number[];
    try {
      sarima = await sarimaForecast(train, H, SEASON);
    } catch (e) {
      failed.push(`${id}: ${(e as Error).message}`);
      continue;
    }
    scored++;
    for (const [name, f] of [
      ['sarima', sarima],
      ['seasonal naive', seasonalNaive(train, H, SEASON)],
    ] as const) {
      const m = metrics(actual, f, train, SEASON, scale);
      sums[name].smape += m.smape;
      sums[name].mase += m.mase;
      sums[name].bias += f.reduce((s, v, h) => s + (v - actual[h]) / scale, 0) / H;
    }
  }
  console.log(
    `${scored} of ${ids.length} M3 monthly series scored, h = ${H}${Number.isFinite(trainLength) ? `, trained on the last ${trainLength} points` : ''}; SARIMA failed on ${failed.length}`,
  );
  for (const [name, s] of Object.entries(sums))
    console.log(
      `${name.padEnd(15)} sMAPE ${(s.smape / scored).toFixed(2)}  MASE ${(s.mase / scored).toFixed(3)}  bias ${(s.bias / scored).toFixed(3)}`,
    );
  for (const f of failed) console.log(`  failed ${f}`);
}

await main();
process.exit(0);
