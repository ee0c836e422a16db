/**
 * `npm run bench:forecast` — the single-series quality goal of issue #16 and the daily multi-season check:
 *
 *   (default)   the default pipeline (`recur forecast`'s auto: backtest choice among every candidate, conformal
 *               intervals) re-run from 5 outer origins a year apart on milk (../shared, when present) and monthly US
 *               births, scored on the 12 months after each origin against ETS, SARIMA, Theta and the damped trend fitted
 *               on the same training parts; the intervals' coverage of those points; CPU time.
 *               Two bars: the best of ETS/SARIMA/Theta on those windows (hindsight) and the one with the lowest AIC on each
 *               origin's training part (forecast_aic.ts: the issue's bar). --folds N, --step S: the inner backtest;
 *               --outer N, --outer-step S: more (overlapping) outer origins; --series milk|births; --dump FILE: one
 *               JSON line per origin (actuals, forecasts, the chosen method's backtest residuals, AICs).
 *   --aic-from FILE    from such a dump: the AIC bar recomputed (nothing else refitted).
 *   --intervals FILE   from such a dump: the 80/95% coverage of the outer points under three conformal rules (the
 *               default's, always pooling ±2 steps, one quantile of errors standardised per step).
 *   --daily     daily US births (weekly and yearly seasons): every statistical candidate's backtest and test-window
 *               MASE with ETS's MSTL on the weekly season alone and on weekly + yearly.
 *   --legacy    the former table: the fixed hybrid and network against seasonal naive, ETS and SARIMA (RMSE).
 */
import '../src/node/index.js';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '../src/core/random.js';
import { autoForecast, CANDIDATES, type CandidateName } from '../src/forecast/auto.js';
import { etsSeasons } from '../src/forecast/baselines.js';
import { conformalHalfWidths, conformalRank } from '../src/forecast/conformal.js';
import { maseScale, metrics } from '../src/forecast/metrics.js';
import { FORECAST_DEFAULTS, type NetworkOptions } from '../src/forecast/network.js';
import { backtest, evaluateSplit } from '../src/forecast/pipeline.js';
import { parseMonthlyCsv } from '../src/forecast/series.js';
import { usBirthsDaily, usBirthsMonthly } from '../src/node/text_file.js';
import { statisticalAics } from './forecast_aic.js';

const here = dirname(fileURLToPath(import.meta.url));
// ../shared beside the checkout (a git worktree elsewhere gives the file with --milk FILE).
const milkFlag = process.argv.indexOf('--milk');
const MILK =
  milkFlag > 0 ? process.argv[milkFlag + 1] : join(here, '..', '..', '..', 'shared', 'data', 'milk.csv');
const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function networkOptions(season: number, horizon: number): NetworkOptions {
  return {
    ...FORECAST_DEFAULTS,
    method: 'network',
    season,
    lookback: 2 * season,
    horizon,
    seeds: [1, 2, 3, 4, 5],
  };
}

interface GoalOptions {
  /** Inner backtest folds and step (the default's: 5, a third of the horizon). */
  folds: number;
  step?: number;
  /** Outer origins and the points between them (default 5, a horizon apart: disjoint test windows). */
  outer: number;
  outerStep?: number;
  /** Appends one JSON line per outer origin (actuals, forecasts, the chosen method's backtest residuals, AICs). */
  dump?: string;
}

/** Mean and standard error of the per-origin differences a − b. */
function meanDiff(a: readonly number[], b: readonly number[]): { mean: number; se: number } {
  const diff = a.map((v, k) => v - b[k]);
  const mu = mean(diff);
  const se = Math.sqrt(diff.reduce((s, d) => s + (d - mu) ** 2, 0) / (diff.length - 1) / diff.length);
  return { mean: mu, se };
}
const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;

/**
 * The default from `o.outer` origins `o.outerStep` apart (default a horizon: disjoint windows; the last window ends the
 * series); every fit sees only its past.
 * Two bars: the best of ETS/SARIMA/Theta on these windows (hindsight), and the one of them with the lowest AIC on each
 * origin's training part (forecast_aic.ts: the issue's bar).
 */
async function singleSeriesGoal(
  name: string,
  values: readonly number[],
  o: GoalOptions,
  season = 12,
  horizon = 12,
) {
  const outer = o.outer;
  const outerStep = o.outerStep ?? horizon;
  const baselines: CandidateName[] = ['ets', 'sarima', 'theta', 'damped'];
  const mase = new Map<string, number[]>();
  const inside = { 0.8: 0, 0.95: 0 };
  let points = 0;
  const chosen: string[] = [];
  const aicPicks: string[] = [];
  let cpu = 0;
  for (let k = outer - 1; k >= 0; k--) {
    const origin = values.length - horizon - k * outerStep;
    const train = values.slice(0, origin);
    const actual = values.slice(origin, origin + horizon);
    const t0 = cpuSeconds();
    const r = await autoForecast(train, {
      horizon,
      season,
      method: 'auto',
      candidates: CANDIDATES,
      folds: o.folds,
      ...(o.step ? { step: o.step } : {}),
      levels: [0.8, 0.95],
      network: networkOptions(season, horizon),
      transform: 'none',
      fitAll: true,
    });
    cpu += cpuSeconds() - t0;
    chosen.push(r.chosen);
    const score = (key: string, f: readonly number[]): void => {
      mase.set(key, [...(mase.get(key) ?? []), metrics(actual, f, train, season).mase]);
    };
    score('default', r.point);
    for (const b of baselines) {
      const f = r.forecasts.get(b);
      if (f) score(b, f);
    }
    // The issue's bar: the statistical method with the lowest AIC on this training part (not timed: not the default's).
    const aics = await statisticalAics(train, season);
    const pick = [...aics.fits].filter(([n]) => r.forecasts.has(n)).sort((a, b) => a[1].aic - b[1].aic)[0][0];
    aicPicks.push(pick);
    score('aic', r.forecasts.get(pick)!);
    for (const iv of r.intervals)
      inside[iv.level as 0.8 | 0.95] += actual.filter((a, i) => a >= iv.lower[i] && a <= iv.upper[i]).length;
    points += actual.length;
    console.error(
      `${name}: origin ${origin} done, chose ${r.chosen}; AIC ${[...aics.fits].map(([n, f]) => `${n} ${f.aic.toFixed(1)} (${f.model}, k ${f.k})`).join(', ')}${[...aics.failed].map(([n, why]) => `; ${n} failed: ${why}`).join('')}`,
    );
    if (o.dump)
      appendFileSync(
        o.dump,
        JSON.stringify({
          series: name,
          origin,
          folds: o.folds,
          step: r.plan?.step,
          chosen: r.chosen,
          actual,
          point: r.point,
          forecasts: Object.fromEntries(r.forecasts),
          residuals: r.backtest?.results.get(r.chosen)?.residuals,
          scale: maseScale(train, season),
          aic: Object.fromEntries(aics.fits),
          aicPick: pick,
        }) + '\n',
      );
  }
  const m = (key: string): number => mean(mase.get(key) ?? [NaN]);
  const statistical = ['ets', 'sarima', 'theta'].filter((b) => (mase.get(b)?.length ?? 0) === outer);
  const best = statistical.sort((a, b) => m(a) - m(b))[0];
  // The default minus each bar, origin by origin: its mean and standard error say what noise is.
  const vsBest = meanDiff(mase.get('default')!, mase.get(best)!);
  const vsAic = meanDiff(mase.get('default')!, mase.get('aic')!);
  console.error(
    `${name}: MASE per origin: ${[...mase].map(([k, v]) => `${k} ${v.map((x) => x.toFixed(3)).join(' ')}`).join('; ')}`,
  );
  console.log(
    `| ${name} | ${o.folds}${o.step ? `, step ${o.step}` : ''} | ${m('default').toFixed(3)} | ${baselines.map((b) => m(b).toFixed(3)).join(' | ')} | ${best} ${m(best).toFixed(3)} | ${signed(vsBest.mean)} ± ${vsBest.se.toFixed(3)} | ${m('aic').toFixed(3)} (${aicPicks.join(', ')}) | ${signed(vsAic.mean)} ± ${vsAic.se.toFixed(3)} | ${((100 * inside[0.8]) / points).toFixed(1)}% | ${((100 * inside[0.95]) / points).toFixed(1)}% | ${chosen.join(', ')} | ${cpu.toFixed(0)} |`,
  );
}

/** Daily births: the statistical candidates with ETS on the weekly season alone, then on weekly + yearly. */
async function dailyBirths(horizon = 28, folds = 12, step = 28) {
  const { values } = usBirthsDaily();
  const train = values.slice(0, values.length - horizon);
  const actual = values.slice(values.length - horizon);
  const candidates: CandidateName[] = ['ets', 'theta', 'damped', 'seasonal naive'];
  console.log(
    `| seasons | ETS's MSTL used | ${candidates.map((c) => `${c} backtest / test`).join(' | ')} | CPU s |`,
  );
  console.log(`|---|---|${candidates.map(() => '---:').join('|')}|---:|`);
  for (const seasons of [[7], [7, 365]]) {
    const t0 = cpuSeconds();
    const r = await autoForecast(train, {
      horizon,
      season: 7,
      seasons,
      method: 'auto',
      candidates,
      folds,
      step,
      levels: [0.8, 0.95],
      network: networkOptions(7, horizon),
      transform: 'none',
      fitAll: true,
    });
    const cells = candidates.map((c) => {
      const bt = r.backtest?.results.get(c)?.mean.mase;
      const f = r.forecasts.get(c);
      const test = f ? metrics(actual, f, train, 7).mase : NaN;
      return `${bt?.toFixed(3) ?? '—'} / ${test.toFixed(3)}`;
    });
    console.log(
      `| ${seasons.join(', ')} | ${etsSeasons(train, seasons).used.join(', ')} | ${cells.join(' | ')} | ${(cpuSeconds() - t0).toFixed(1)} |`,
    );
  }
}

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

async function legacyTable() {
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
}

/** Half-widths per step by one quantile of all the folds' errors, each divided by its step's smoothed RMS. */
function standardisedHalfWidths(residuals: readonly (readonly number[])[], level: number): number[] {
  const H = residuals[0].length;
  const rms = Array.from({ length: H }, (_, h) => Math.sqrt(mean(residuals.map((r) => r[h] ** 2))));
  const scale = rms.map((_, h) => mean(rms.slice(Math.max(0, h - 1), h + 2)));
  const z = residuals.flatMap((r) => r.map((v, h) => Math.abs(v) / scale[h])).sort((a, b) => a - b);
  const k = conformalRank(z.length, level) ?? z.length;
  return scale.map((s) => s * z[k - 1]);
}

/** Half-widths per step from the errors of steps h−2 … h+2 (every fold), rank ⌈(n+1)·level⌉. */
function pooledHalfWidths(residuals: readonly (readonly number[])[], level: number): number[] {
  const H = residuals[0].length;
  return Array.from({ length: H }, (_, h) => {
    const e = residuals
      .flatMap((r) => r.slice(Math.max(0, h - 2), h + 3).map(Math.abs))
      .sort((a, b) => a - b);
    return e[(conformalRank(e.length, level) ?? e.length) - 1];
  });
}

/** `--intervals FILE`: the outer points' coverage under each rule, per series of a `--dump` file. */
function intervalRules(file: string): void {
  interface Dumped {
    series: string;
    actual: number[];
    point: number[];
    residuals: number[][];
  }
  const rows = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Dumped);
  const rules: [string, (r: readonly (readonly number[])[], level: number) => number[]][] = [
    ['default rule', conformalHalfWidths],
    ['pooled ±2 steps', pooledHalfWidths],
    ['standardised', standardisedHalfWidths],
  ];
  console.log('| series | folds | rule | 80% coverage | 95% coverage |');
  console.log('|---|---:|---|---:|---:|');
  for (const series of new Set(rows.map((r) => r.series))) {
    const mine = rows.filter((r) => r.series === series);
    for (const [name, rule] of rules) {
      const cov = [0.8, 0.95].map((level) => {
        let inside = 0;
        let points = 0;
        for (const r of mine) {
          const w = rule(r.residuals, level);
          r.actual.forEach((a, h) => {
            if (Math.abs(a - r.point[h]) <= w[h]) inside++;
            points++;
          });
        }
        return `${((100 * inside) / points).toFixed(1)}%`;
      });
      console.log(`| ${series} | ${mine[0].residuals.length} | ${name} | ${cov.join(' | ')} |`);
    }
  }
}

/**
 * `--aic-from FILE`: the AIC bar recomputed for every origin of a `--dump` file (the default and the baselines are not
 * refitted: their dumped forecasts are scored), for when the AIC's footing changes.
 */
async function aicFromDump(file: string): Promise<void> {
  interface Dumped {
    series: string;
    origin: number;
    actual: number[];
    point: number[];
    forecasts: Record<string, number[]>;
  }
  const rows = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Dumped);
  const values = (series: string): readonly number[] =>
    series === 'milk' ? parseMonthlyCsv(readFileSync(MILK, 'utf8')).values : usBirthsMonthly().values;
  console.log('| series | origins | default | AIC pick (per origin) | default − AIC pick (± s.e.) |');
  console.log('|---|---:|---:|---|---:|');
  for (const series of new Set(rows.map((r) => r.series))) {
    const v = values(series);
    const own: number[] = [];
    const bar: number[] = [];
    const picks: string[] = [];
    for (const r of rows.filter((x) => x.series === series)) {
      const train = v.slice(0, r.origin);
      const aics = await statisticalAics(train, 12);
      const pick = [...aics.fits].filter(([n]) => r.forecasts[n]).sort((a, b) => a[1].aic - b[1].aic)[0][0];
      picks.push(pick);
      own.push(metrics(r.actual, r.point, train, 12).mase);
      bar.push(metrics(r.actual, r.forecasts[pick], train, 12).mase);
      console.error(
        `${series}: origin ${r.origin}: ${[...aics.fits].map(([n, f]) => `${n} ${f.aic.toFixed(1)}`).join(', ')} → ${pick}`,
      );
    }
    const d = meanDiff(own, bar);
    const counts = [...new Set(picks)].map((p) => `${p} ×${picks.filter((x) => x === p).length}`).join(', ');
    console.log(
      `| ${series} | ${own.length} | ${mean(own).toFixed(3)} | ${mean(bar).toFixed(3)} (${counts}) | ${signed(d.mean)} ± ${d.se.toFixed(3)} |`,
    );
  }
}

if (process.argv.includes('--aic-from'))
  await aicFromDump(process.argv[process.argv.indexOf('--aic-from') + 1]);
else if (process.argv.includes('--intervals'))
  intervalRules(process.argv[process.argv.indexOf('--intervals') + 1]);
else if (process.argv.includes('--legacy')) await legacyTable();
else if (process.argv.includes('--daily')) await dailyBirths();
else {
  const flag = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const step = flag('--step');
  const o: GoalOptions = {
    folds: Number(flag('--folds') ?? 5),
    outer: Number(flag('--outer') ?? 5),
    ...(flag('--outer-step') ? { outerStep: Number(flag('--outer-step')) } : {}),
    ...(step ? { step: Number(step) } : {}),
    ...(flag('--dump') ? { dump: flag('--dump') } : {}),
  };
  const only = flag('--series');
  console.log(
    '| series | inner folds | default | ETS | SARIMA | Theta | damped | best of ETS/SARIMA/Theta (hindsight) | default − best (± s.e.) | lowest AIC of ETS/SARIMA/Theta (pick per origin) | default − AIC pick (± s.e.) | 80% coverage | 95% coverage | chosen per origin | CPU s |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---|---:|');
  if (existsSync(MILK) && only !== 'births')
    await singleSeriesGoal('milk', parseMonthlyCsv(readFileSync(MILK, 'utf8')).values, o);
  if (only !== 'milk') await singleSeriesGoal('US births (monthly)', usBirthsMonthly().values, o);
}
