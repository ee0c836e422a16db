/**
 * Interval rules on the M3 monthly sample, without networks: each of the bench's 100 series (forecast_m3.ts's
 * selection) goes through `autoForecast` with the statistical candidates, and the chosen method's backtest errors are
 * turned into 80% and 95% intervals by the per-step rule (`pooledHalfWidths`, the rule before 2026-12-06) and by the
 * normalised one (`conformalHalfWidths`); both are scored on the same 18 points after the training part. The point
 * forecasts are the same for both: only the calibration differs.
 *
 *   node dist/bench/forecast_intervals_m3.js               the test window (each series' last 18 points)
 *   node dist/bench/forecast_intervals_m3.js --shift 18    the last 18 points of each TRAINING part instead (the rule
 *                                                          was designed on these; the test points were not looked at)
 *   --candidates a,b,c    default ets,theta,seasonal naive,damped,sarima     --limit N   the first N series
 */
import '../src/node/index.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { autoForecast, type CandidateName } from '../src/forecast/auto.js';
import { conformalHalfWidths, pooledHalfWidths, winkler } from '../src/forecast/conformal.js';
import { FORECAST_DEFAULTS } from '../src/forecast/network.js';
import { parsePanelCsv } from '../src/forecast/panel.js';

const here = dirname(fileURLToPath(import.meta.url));
const M3 = process.env.M3_DIR ?? join(here, '..', '..', '..', 'shared', 'eval', 'm3');
const H = 18;
const LEVELS = [0.8, 0.95];

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  if (!existsSync(join(M3, 'monthly.csv'))) {
    console.error(`M3 data not found at ${M3} (../shared/eval/m3, or M3_DIR): nothing to run`);
    return;
  }
  const shift = Number(flag('--shift') ?? 0);
  const candidates = (flag('--candidates') ?? 'ets,theta,seasonal naive,damped,sarima').split(
    ',',
  ) as CandidateName[];
  const ids = readFileSync(join(M3, 'series.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',')[0]);
  let sample = Array.from({ length: 100 }, (_, i) => ids[Math.floor((i * ids.length) / 100)]);
  const limit = flag('--limit');
  if (limit) sample = sample.slice(0, Number(limit));
  const panel = parsePanelCsv(readFileSync(join(M3, 'monthly.csv'), 'utf8'), {
    idColumn: 'id',
    source: 'monthly.csv',
  });
  const byId = new Map(panel.series.map((s) => [s.id, s.series]));
  const rules = { 'per step (before)': pooledHalfWidths, normalised: conformalHalfWidths } as const;
  const scores = new Map<string, { coverage: number[]; winkler: number[] }>();
  let done = 0;
  for (const id of sample) {
    const values = byId.get(id)!.values;
    const all = values.slice(0, values.length - shift);
    const train = all.slice(0, all.length - H);
    const test = all.slice(all.length - H);
    const r = await autoForecast(train, {
      horizon: H,
      season: 12,
      method: 'auto',
      candidates,
      folds: 5,
      levels: LEVELS,
      // Unused: the candidates are statistical.
      network: { ...FORECAST_DEFAULTS, method: 'network', lookback: 24, horizon: H, seeds: [1], season: 12 },
    });
    const residuals = r.backtest?.results.get(r.chosen)?.residuals;
    done++;
    process.stderr.write(`\r${done}/${sample.length} series   `);
    if (!residuals) continue;
    for (const [name, rule] of Object.entries(rules))
      for (const level of LEVELS) {
        const w = rule(residuals, level);
        const key = `${name}|${level}`;
        const s = scores.get(key) ?? { coverage: [], winkler: [] };
        let inside = 0;
        let score = 0;
        test.forEach((a, h) => {
          const lower = r.point[h] - w[h];
          const upper = r.point[h] + w[h];
          if (a >= lower && a <= upper) inside++;
          score += winkler(lower, upper, a, level);
        });
        s.coverage.push(inside / H);
        s.winkler.push(score / H);
        scores.set(key, s);
      }
  }
  process.stderr.write('\n');
  console.log(
    `${sample.length} M3 monthly series, ${shift ? `the last 18 points of each training part (shift ${shift})` : 'the test window'}; auto over ${candidates.join(', ')}`,
  );
  console.log('| rule | series | 80% coverage | 80% Winkler | 95% coverage | 95% Winkler |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const name of Object.keys(rules)) {
    const [a, b] = LEVELS.map((l) => scores.get(`${name}|${l}`)!);
    console.log(
      `| ${name} | ${a.coverage.length} | ${(100 * mean(a.coverage)).toFixed(1)}% | ${mean(a.winkler).toFixed(0)} | ${(100 * mean(b.coverage)).toFixed(1)}% | ${mean(b.winkler).toFixed(0)} |`,
    );
  }
}

await main();
