/**
 * Model selection by rolling-origin backtest (never by the final test window): every candidate — the network, the
 * hybrid, ETS, SARIMA, Theta, seasonal naive — forecasts `horizon` points from several origins inside the training
 * part, each fitted only on the data before its origin; each is scored by MASE; a simple average of the best few is
 * scored on the same folds; `auto` takes the lowest mean MASE. The chosen method's backtest errors then calibrate its
 * prediction intervals (conformal.ts).
 */
import { InvalidInputError } from '../core/errors.js';
import { etsForecast, hybridPossible, sarimaForecast, seasonalNaive } from './baselines.js';
import { maseScale, metrics, type Metrics } from './metrics.js';
import {
  CalibrationError,
  conformalHalfWidths,
  foldCoverage,
  intervalAround,
  type CoverageResult,
  type Interval,
} from './conformal.js';
import { RNNForecaster, type NetworkOptions } from './network.js';
import { withTransform, type TransformKind } from './boxcox.js';
import { thetaForecast } from './theta.js';
import { valueRangeProblem } from './series.js';
import { dampedForecast } from './damped.js';
import { regressionLag, withRegressors, withRegressorsName, type RegressionFit } from './regressors.js';

export type CandidateName = 'network' | 'hybrid' | 'ets' | 'sarima' | 'theta' | 'damped' | 'seasonal naive';
export const CANDIDATES: CandidateName[] = [
  'network',
  'hybrid',
  'ets',
  'sarima',
  'theta',
  'damped',
  'seasonal naive',
];
/** The name of the combination candidate: the mean of the best few single methods' forecasts. */
export const COMBINATION = 'combination';
/** How many of the best single methods the combination averages. */
export const COMBINATION_SIZE = 3;

/** Forecasts the `h` points after `train`, fitted on `train` only. */
export type ForecastFn = (train: readonly number[], h: number) => Promise<number[]>;

/** The fewest training windows the network is fitted on; the lookback is shortened to keep at least these. */
export const MIN_WINDOWS = 8;

/**
 * The network's lookback for a training part of n points: the requested one, shortened so that at least MIN_WINDOWS
 * training windows remain after differencing. Throws when even a lookback of 1 leaves too few.
 */
export function lookbackFor(n: number, o: NetworkOptions): number {
  const lag =
    o.method === 'hybrid' ? 0 : o.differencing === 'seasonal' ? o.season : o.differencing === 'first' ? 1 : 0;
  const out = o.strategy === 'direct' ? o.horizon : 1;
  const longest = n - lag - out + 1 - MIN_WINDOWS;
  if (longest < 1)
    throw new Error(
      `${n} training points are too few for the ${o.method} (horizon ${o.horizon}${lag ? `, differencing lag ${lag}` : ''}: it needs ${lag + out + MIN_WINDOWS})`,
    );
  return Math.min(o.lookback, longest);
}

/** The network (or hybrid) as a candidate; `onFit` receives each fitted forecaster (to save the final one). */
export function networkCandidate(
  base: NetworkOptions,
  threads = 1,
  onFit?: (f: RNNForecaster) => void,
): ForecastFn {
  return async (train, h) => {
    if (base.method === 'hybrid' && !hybridPossible(train.length, base.season))
      throw new Error(
        `the hybrid needs a season ≥ 2 and two full seasons of data (season ${base.season}, ${train.length} points)`,
      );
    const opts = { ...base, horizon: h };
    const f = new RNNForecaster({ ...opts, lookback: lookbackFor(train.length, opts) });
    await f.fit(train, threads);
    onFit?.(f);
    return (await f.predict(train)).mean;
  };
}

/**
 * The candidates' forecasting functions. `seasons` (first = `season`) are the periods ETS's MSTL may use beside the
 * primary one; the other methods use `season` alone. `signal` stops a SARIMA fit (the one that can take minutes).
 */
export function candidateFns(
  season: number,
  network: NetworkOptions,
  threads = 1,
  onNetworkFit?: (f: RNNForecaster) => void,
  seasons: readonly number[] = [season],
  signal?: AbortSignal,
): Record<CandidateName, ForecastFn> {
  return {
    network: networkCandidate({ ...network, method: 'network' }, threads, onNetworkFit),
    hybrid: networkCandidate({ ...network, method: 'hybrid' }, threads, onNetworkFit),
    ets: (t, h) => etsForecast(t, h, season, seasons),
    sarima: (t, h) => sarimaForecast(t, h, season, signal),
    theta: (t, h) => Promise.resolve(thetaForecast(t, h, season)),
    damped: (t, h) => Promise.resolve(dampedForecast(t, h, season)),
    'seasonal naive': (t, h) => {
      if (t.length < season) throw new Error(`seasonal naive needs a full season (${season} points)`);
      return Promise.resolve(seasonalNaive(t, h, season));
    },
  };
}

export interface FoldPlan {
  /** Forecast origins: fold k is fitted on values[0, origins[k]) and scored on the next `horizon` points. */
  origins: number[];
  step: number;
  /** Why the plan differs from what was asked, if it does. */
  note?: string;
}

/**
 * Rolling origins inside a training part of n points, the last fold ending at its end. When the part is too short for
 * `folds` origins `step` apart with at least `minTrain` points before the first, the step is shortened, then the
 * number of folds.
 */
export function planFolds(
  n: number,
  horizon: number,
  folds: number,
  step: number,
  minTrain: number | readonly number[],
): FoldPlan {
  // Several minimum training lengths, most comfortable first: the first that leaves room for a fold is used.
  // The first that leaves room for every fold (at step ≥ 1), else the last that leaves room for one.
  if (typeof minTrain !== 'number') {
    const last = n - horizon;
    const fits =
      minTrain.find((m) => last - m >= folds - 1) ??
      [...minTrain].reverse().find((m) => last >= m) ??
      minTrain[minTrain.length - 1];
    return planFolds(n, horizon, folds, step, fits);
  }
  const last = n - horizon;
  if (last < minTrain)
    throw new Error(
      `${n} points are too short for a backtest: one fold of ${horizon} points needs ${minTrain + horizon} (at least ${minTrain} to fit on)`,
    );
  const make = (k: number, s: number): number[] =>
    Array.from({ length: k }, (_, i) => last - (k - 1 - i) * s);
  if (last - (folds - 1) * step >= minTrain) return { origins: make(folds, step), step };
  const s = folds > 1 ? Math.floor((last - minTrain) / (folds - 1)) : step;
  if (s >= 1)
    return {
      origins: make(folds, s),
      step: s,
      note: `step shortened from ${step} to ${s} so that ${folds} folds fit`,
    };
  const k = last - minTrain + 1;
  return { origins: make(k, 1), step: 1, note: `only ${k} fold(s) of step 1 fit (asked: ${folds})` };
}

export interface CandidateResult {
  /** Forecast of each fold (horizon points). */
  forecasts: number[][];
  /** actual − forecast, per fold and step. */
  residuals: number[][];
  /** Metrics per fold. */
  folds: Metrics[];
  /** Mean of each metric over the folds. */
  mean: Metrics;
}

export interface BacktestOutcome {
  plan: FoldPlan;
  results: Map<string, CandidateResult>;
  /** Candidates that failed on some fold (so have no comparable mean), with the first reason. */
  skipped: Map<string, string>;
  /** The single methods the combination averages (best mean MASE first), if there is a combination. */
  combination: string[];
  /** Lowest mean MASE (ties: the earlier candidate). */
  best: string;
}

function meanMetrics(ms: readonly Metrics[]): Metrics {
  const s: Metrics = { rmse: 0, mae: 0, mape: 0, smape: 0, mase: 0 };
  for (const m of ms) for (const k of Object.keys(s) as (keyof Metrics)[]) s[k] += m[k] / ms.length;
  return s;
}

function score(
  values: readonly number[],
  origins: readonly number[],
  horizon: number,
  season: number,
  forecasts: number[][],
): CandidateResult {
  // One MASE scale for every fold, from the whole training part: a fold's own short history can have none (a
  // seasonally constant start), and a constant scale keeps the folds' MASE comparable.
  const scale = maseScale(values, season);
  const folds: Metrics[] = [];
  const residuals: number[][] = [];
  origins.forEach((o, k) => {
    const actual = values.slice(o, o + horizon);
    folds.push(metrics(actual, forecasts[k], values.slice(0, o), season, scale));
    residuals.push(actual.map((a, h) => a - forecasts[k][h]));
  });
  return { forecasts, residuals, folds, mean: meanMetrics(folds) };
}

/** Element-wise mean of several forecasts. */
export function averageForecasts(fs: readonly (readonly number[])[]): number[] {
  return fs[0].map((_, h) => fs.reduce((s, f) => s + f[h], 0) / fs.length);
}

/**
 * Backtests `candidates` on `values` (the training part only: the caller keeps its test window out) and adds the
 * combination of the best COMBINATION_SIZE. `onFold` reports progress (candidate, fold index).
 */
export async function backtestCandidates(
  values: readonly number[],
  horizon: number,
  season: number,
  plan: FoldPlan,
  candidates: ReadonlyMap<string, ForecastFn>,
  onFold?: (name: string, fold: number) => void,
  /** Fixed means scored beside the combination: name → members (scored when every member ran). */
  means: Readonly<Record<string, readonly string[]>> = {},
): Promise<BacktestOutcome> {
  const results = new Map<string, CandidateResult>();
  const skipped = new Map<string, string>();
  for (const [name, fn] of candidates) {
    const forecasts: number[][] = [];
    try {
      for (const [k, o] of plan.origins.entries()) {
        const f = await fn(values.slice(0, o), horizon);
        if (f.length !== horizon || f.some((v) => !Number.isFinite(v)))
          throw new Error(`a non-finite or short forecast at fold ${k + 1}`);
        forecasts.push(f);
        onFold?.(name, k);
      }
    } catch (e) {
      skipped.set(name, e instanceof Error ? e.message : String(e));
      continue;
    }
    results.set(name, score(values, plan.origins, horizon, season, forecasts));
  }
  const ranked = [...results.entries()].sort((a, b) => a[1].mean.mase - b[1].mean.mase).map(([n]) => n);
  const combination = ranked.slice(0, COMBINATION_SIZE);
  if (combination.length >= 2) {
    const fs = plan.origins.map((_, k) =>
      averageForecasts(combination.map((n) => results.get(n)!.forecasts[k])),
    );
    results.set(COMBINATION, score(values, plan.origins, horizon, season, fs));
  }
  for (const [name, members] of Object.entries(means))
    if (members.length > 0 && members.every((n) => results.has(n))) {
      const fs = plan.origins.map((_, k) =>
        averageForecasts(members.map((n) => results.get(n)!.forecasts[k])),
      );
      results.set(name, score(values, plan.origins, horizon, season, fs));
    }
  if (results.size === 0)
    throw new Error(
      `every candidate failed in the backtest: ${[...skipped].map(([n, why]) => `${n}: ${why}`).join('; ')}`,
    );
  let best = '';
  for (const [name, r] of results) if (!best || r.mean.mase < results.get(best)!.mean.mase) best = name;
  return { plan, results, skipped, combination: combination.length >= 2 ? combination : [], best };
}

export type MethodChoice = 'auto' | CandidateName | typeof COMBINATION;

export interface AutoOptions {
  horizon: number;
  /** The primary season: seasonal naive, Theta, the damped trend, SARIMA, the networks and MASE use it. */
  season: number;
  /** Every season ETS's MSTL may use (first = `season`; each used where the fold's data supports it). */
  seasons?: readonly number[];
  /** 'auto': the lowest mean backtest MASE among `candidates` and their combination. */
  method: MethodChoice;
  candidates: readonly CandidateName[];
  folds: number;
  /** Points between origins (default: a third of the horizon). */
  step?: number;
  /** Interval levels in (0, 1). */
  levels: readonly number[];
  network: NetworkOptions;
  /**
   * Transform applied inside every candidate (fitted on each fold's training data): 'auto' backtests each candidate
   * both as is and on the Box-Cox transformed series (λ by Guerrero) and lets the backtest choose. Default 'none'.
   */
  transform?: TransformKind | 'auto';
  threads?: number;
  /** Also fit every backtested candidate on the whole training part (to score them all on a hold-out). */
  fitAll?: boolean;
  onFold?: (name: string, fold: number) => void;
  /**
   * Candidates beyond the per-series ones, by name (the panel's global network, whose forecasts are computed for the
   * whole panel beforehand); backtested as they are (no transform variants).
   */
  extra?: ReadonlyMap<string, ForecastFn>;
  /** Fixed means of candidates (name → members), scored and forecast like the combination. */
  means?: Readonly<Record<string, readonly string[]>>;
  /** Use this candidate, extra one or mean rather than the backtest's best (`method` must be 'auto'). */
  fixed?: string;
  /** Called once the folds are planned (before the backtest runs). */
  onPlan?: (plan: FoldPlan) => void;
  /**
   * Covariates with known values (regressors.ts), one row per point of the training part and then of the horizon:
   * every candidate is then backtested both without and with them ('ets' and 'ets + x').
   */
  regressors?: readonly (readonly number[])[];
}

export interface AutoResult {
  plan: FoldPlan | null;
  /** Why there is no backtest (the training part is too short), if there is none. */
  noBacktest?: string;
  backtest: BacktestOutcome | null;
  /** The method used: the best by backtest for auto; Theta for auto without a backtest. */
  chosen: string;
  point: number[];
  /** Forecasts of the `horizon` points after the training part: the chosen method's (and, with fitAll, the rest). */
  forecasts: Map<string, number[]>;
  /** Methods that failed on the whole training part (fitAll), with the reason. */
  failed: Map<string, string>;
  intervals: Interval[];
  /** The conformal half-widths behind `intervals`, per level. */
  widths: { level: number; halfWidths: number[] }[];
  /** Each level's coverage on the backtest folds (leave one fold out). */
  coverage: CoverageResult[];
  /** Levels without an interval, and why. */
  notes: string[];
  /** The single methods whose mean is `point` (the chosen one alone, or the members of its combination or mean). */
  members: string[];
  /** The fitted network forecasters of the final fit, by candidate variant ('network', 'hybrid (box-cox)', …). */
  fitted: Map<string, RNNForecaster>;
  /** The regressions of the final fit of each method with covariates ('ets + x'), by method. */
  regressions: Map<string, RegressionFit>;
}

/** Points between backtest origins unless --step says: a third of the horizon. */
export function defaultFoldStep(horizon: number): number {
  return Math.max(1, Math.floor(horizon / 3));
}

/** The minimum training lengths the folds are planned with: two seasons (and SARIMA's orders), else one season. */
export function minTrainLengths(season: number): number[] {
  return [Math.max(2 * season, 24), Math.max(season + 1, 6)];
}

/**
 * Bad options or data, named before any fit: a library caller's horizon of -3 would otherwise reach the wasm
 * libraries (a Rust panic on stderr) or give an empty forecast.
 */
function checkAutoOptions(train: readonly number[], o: AutoOptions): void {
  const positiveInt = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1))
      throw new InvalidInputError(`autoForecast: ${name} must be an integer ≥ 1, got ${v}`);
  };
  positiveInt('horizon', o.horizon);
  positiveInt('season', o.season);
  for (const s of o.seasons ?? []) positiveInt('each of seasons', s);
  positiveInt('folds', o.folds);
  positiveInt('step', o.step);
  for (const l of o.levels)
    if (!(l > 0 && l < 1)) throw new InvalidInputError(`autoForecast: a level must be in (0, 1), got ${l}`);
  const i = train.findIndex((v) => !Number.isFinite(v));
  if (i >= 0)
    throw new InvalidInputError(
      `autoForecast: point ${i + 1} of the training part is ${train[i]}, not a finite number`,
    );
  const far = train.findIndex((v) => valueRangeProblem(v) !== null);
  if (far >= 0)
    throw new InvalidInputError(
      `autoForecast: point ${far + 1} of the training part, ${train[far]}, is ${valueRangeProblem(train[far])}`,
    );
  if (
    (o.method === 'auto' || o.method === COMBINATION) &&
    o.candidates.length === 0 &&
    (o.extra?.size ?? 0) === 0
  )
    throw new InvalidInputError(`autoForecast: method '${o.method}' needs at least one candidate`);
}

/**
 * The whole default pipeline on one training part: backtest, choice, final fit, conformal intervals. Everything is
 * fitted on `train` or on parts of it; nothing after it is seen.
 */
export async function autoForecast(train: readonly number[], o: AutoOptions): Promise<AutoResult> {
  checkAutoOptions(train, o);
  const { horizon, season } = o;
  const threads = o.threads ?? 1;
  const names: CandidateName[] =
    o.method === 'auto' || o.method === COMBINATION ? [...o.candidates] : [o.method];
  const tf = o.transform ?? 'none';
  const means = o.means ?? {};
  if (o.fixed !== undefined && o.method !== 'auto')
    throw new Error(`a fixed choice (${o.fixed}) needs method 'auto', got '${o.method}'`);
  const positive = train.every((v) => v > 0);
  if (tf !== 'none' && tf !== 'auto' && !positive) throw new Error(`the ${tf} transform needs values > 0`);
  const x = o.regressors;
  if (x && x.length < train.length + horizon)
    throw new Error(
      `the covariates have ${x.length} rows; ${train.length} training points and a horizon of ${horizon} need ${train.length + horizon}`,
    );
  // Each candidate as is and/or on the transformed series, without and with the covariates, by name: 'ets',
  // 'ets (box-cox)', 'ets + x', 'ets (box-cox) + x', … (the transform is applied first, the regression inside it).
  const variants = (
    fns: Record<CandidateName, ForecastFn>,
    fits?: Map<string, RegressionFit>,
  ): Map<string, ForecastFn> => {
    const m = new Map<string, ForecastFn>();
    const kind = tf === 'auto' ? 'box-cox' : tf;
    const kinds: TransformKind[] = [
      ...(tf === 'none' || tf === 'auto' ? (['none'] as const) : []),
      ...(kind !== 'none' && positive ? [kind] : []),
    ];
    for (const c of names)
      for (const covariates of x ? [false, true] : [false])
        for (const k of kinds) {
          const plain = k === 'none' ? c : `${c} (${k})`;
          const name = covariates ? withRegressorsName(plain) : plain;
          const fn =
            covariates && x
              ? withRegressors(fns[c], x, regressionLag(season), (f) => fits?.set(name, f))
              : fns[c];
          m.set(name, withTransform(fn, k, season));
        }
    for (const [name, fn] of o.extra ?? []) m.set(name, fn);
    return m;
  };
  const seasons = o.seasons ?? [season];
  if (seasons[0] !== season)
    throw new Error(`the first of the seasons (${seasons.join(', ')}) must be ${season}`);
  const fns = variants(candidateFns(season, o.network, threads, undefined, seasons));
  let plan: FoldPlan | null = null;
  let noBacktest: string | undefined;
  try {
    plan = planFolds(
      train.length,
      horizon,
      o.folds,
      o.step ?? defaultFoldStep(horizon),
      minTrainLengths(season),
    );
  } catch (e) {
    noBacktest = (e as Error).message;
  }
  let bt: BacktestOutcome | null = null;
  if (plan) {
    o.onPlan?.(plan);
    bt = await backtestCandidates(train, horizon, season, plan, fns, o.onFold, means);
  }
  // A fixed method with several transforms: the best of its variants; auto without a backtest: Theta as is.
  let chosen: string = fns.size === 1 ? [...fns.keys()][0] : o.method;
  if (o.method === 'auto') chosen = bt ? bt.best : 'theta';
  // A fixed choice holds when it ran in the backtest; without a backtest a single candidate can still be fitted.
  if (o.fixed !== undefined && (!bt || bt.results.has(o.fixed))) chosen = o.fixed;
  // (auto keeps the backtest's best, the combination or a mean included).
  else if (o.method !== 'auto' && o.method !== COMBINATION && fns.size > 1 && bt) {
    const ran = [...bt.results.keys()].filter((n) => n !== COMBINATION);
    if (ran.length > 0)
      chosen = ran.sort((a, b) => bt.results.get(a)!.mean.mase - bt.results.get(b)!.mean.mase)[0];
  }
  if (o.method === COMBINATION && !bt?.results.has(COMBINATION))
    throw new Error('the combination needs a backtest in which at least two candidates ran');

  const notes: string[] = [];
  // Otherwise 'auto' would quietly mean 'none': the Box-Cox variants were never in the backtest.
  if (tf === 'auto' && !positive) {
    const i = train.findIndex((v) => !(v > 0));
    notes.push(
      `transform auto backtested no Box-Cox variant: it needs values > 0, and point ${i + 1} of the training part is ${train[i]}`,
    );
  }
  const widths: { level: number; halfWidths: number[] }[] = [];
  const coverage: CoverageResult[] = [];
  const residuals = bt?.results.get(chosen)?.residuals;
  if (!residuals) notes.push(`${chosen} has no backtest, so no intervals`);
  else
    for (const level of o.levels) {
      const percent = `${Math.round(level * 1000) / 10}%`;
      try {
        widths.push({ level, halfWidths: conformalHalfWidths(residuals, level) });
      } catch (e) {
        if (!(e instanceof CalibrationError)) throw e;
        notes.push(`no ${percent} interval: ${e.message}`);
        continue;
      }
      // Apart: the interval stands even when one fold fewer is too few to score it on the folds.
      try {
        if (residuals.length >= 2) coverage.push(foldCoverage(residuals, level));
      } catch (e) {
        if (!(e instanceof CalibrationError)) throw e;
        notes.push(
          `no ${percent} coverage on the backtest folds (each fold's interval calibrated on the others): ${e.message}`,
        );
      }
    }

  // By the variant being fitted ('network', 'network (box-cox)', …): a saved forecaster needs the chosen one's.
  const fitted = new Map<string, RNNForecaster>();
  let fitting = '';
  const regressions = new Map<string, RegressionFit>();
  const finalFns = variants(
    candidateFns(season, o.network, threads, (f) => fitted.set(fitting, f), seasons),
    regressions,
  );
  if (o.method === 'auto' && !bt && !finalFns.has('theta'))
    finalFns.set('theta', candidateFns(season, o.network).theta);
  const members = chosen === COMBINATION ? bt!.combination : chosen in means ? [...means[chosen]] : [chosen];
  const others = o.fitAll && bt ? [...bt.results.keys()].filter((n) => finalFns.has(n)) : [];
  const forecasts = new Map<string, number[]>();
  const failed = new Map<string, string>();
  for (const name of new Set([...members, ...others])) {
    try {
      fitting = name;
      forecasts.set(name, await finalFns.get(name)!(train, horizon));
    } catch (e) {
      failed.set(name, e instanceof Error ? e.message : String(e));
    }
  }
  for (const m of members)
    if (!forecasts.has(m)) throw new Error(`${m} failed on the training part: ${failed.get(m)}`);
  if (bt && bt.combination.length >= 2 && bt.combination.every((n) => forecasts.has(n)))
    forecasts.set(COMBINATION, averageForecasts(bt.combination.map((n) => forecasts.get(n)!)));
  for (const [name, ms] of Object.entries(means))
    if ((bt?.results.has(name) || chosen === name) && ms.every((n) => forecasts.has(n)))
      forecasts.set(name, averageForecasts(ms.map((n) => forecasts.get(n)!)));
  const point = forecasts.get(chosen)!;
  return {
    plan,
    ...(noBacktest ? { noBacktest } : {}),
    backtest: bt,
    chosen,
    point,
    forecasts,
    failed,
    intervals: widths.map((w) => intervalAround(point, w.halfWidths, w.level)),
    widths,
    coverage,
    notes,
    members,
    fitted,
    regressions,
  };
}
