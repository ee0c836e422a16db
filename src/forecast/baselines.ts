/**
 * The forecasts users compare a network against, fitted on the training part only: naive, seasonal naive, drift,
 * ETS (augurs: MSTL decomposition + AutoETS for seasonal series, AutoETS otherwise), SARIMA (the `arima`
 * package's AutoARIMA, which chooses the orders by information criterion) and Theta (theta.ts).
 *
 * The two libraries are wasm. How their wasm is loaded differs between the browser (fetched next to the module) and
 * Node (read from node_modules), so the loaders are replaceable: src/node/forecast.ts installs the Node ones. This
 * file stays browser-safe. A baseline that fails, or whose cost is out of range, is skipped with its reason.
 */
import type * as AugursEts from '@bsull/augurs/ets';
import type * as AugursMstl from '@bsull/augurs/mstl';
import { InvalidInputError } from '../core/errors.js';
import { seasonalFTest, seasonalIndices } from './seasonality.js';
import { thetaForecast } from './theta.js';
import { onOwnScale } from './transforms.js';

export type BaselineName = 'naive' | 'seasonal naive' | 'drift' | 'ets' | 'sarima' | 'theta';
export const BASELINES: BaselineName[] = ['naive', 'seasonal naive', 'drift', 'ets', 'sarima', 'theta'];

/**
 * The largest season SARIMA is fitted with. AutoARIMA's seasonal search grows roughly with the fourth power of the
 * season: about 0.2 s at 12, 0.7 s at 24, 10 s at 52 (weekly), and it ran 555 s and then ran out of wasm memory at
 * 132. Above this, SARIMA is skipped (the fit runs synchronously in wasm and cannot be interrupted).
 */
export const SARIMA_MAX_SEASON = 52;

export function naive(train: readonly number[], h: number): number[] {
  return Array(h).fill(train[train.length - 1]);
}

export function seasonalNaive(train: readonly number[], h: number, season: number): number[] {
  const s = Math.max(1, season);
  // Shorter than a season it would forecast `undefined`s.
  if (train.length < s)
    throw new InvalidInputError(`seasonal naive needs a full season (${s} points), got ${train.length}`);
  return Array.from({ length: h }, (_, i) => train[train.length - s + (i % s)]);
}

export function drift(train: readonly number[], h: number): number[] {
  const n = train.length;
  const slope = (train[n - 1] - train[0]) / Math.max(1, n - 1);
  return Array.from({ length: h }, (_, i) => train[n - 1] + slope * (i + 1));
}

export interface AugursModules {
  mstl: typeof AugursMstl;
  ets: typeof AugursEts;
}

export interface ArimaInstance {
  train(ts: number[]): ArimaInstance;
  predict(n: number): [number[], number[]];
  destroy(): void;
}

/** The model the arima package's AutoARIMA chose: its orders, and its mean (used at d = 0; 0 without one). */
export interface ArimaChosenModel {
  p: number;
  d: number;
  q: number;
  P: number;
  Q: number;
  mean: number;
}

export type ArimaConstructor = (new (o: Record<string, unknown>) => ArimaInstance) & {
  /**
   * The model a trained instance chose, read from the package's wasm memory (arima_model.ts; the Node loader and the
   * page's SARIMA worker build the package so). Absent where that memory cannot be reached (the package's index.js).
   */
  chosenModel?(m: ArimaInstance): ArimaChosenModel;
};

/** Where the baseline libraries come from; replaced in Node by src/node/forecast.ts. */
export interface BaselineLoaders {
  /** augurs' MSTL and ETS modules with their wasm initialised. */
  augurs(): Promise<AugursModules>;
  /** The `arima` package's constructor, with everything its wasm prints sent to stderr (never stdout). */
  arima(): Promise<ArimaConstructor>;
  /**
   * Runs a SARIMA fit elsewhere (Node: in a worker thread; the page: in a Web Worker), terminated when it runs past
   * its time budget or when `signal` aborts, rejecting with its reason. Without it the fit runs here, synchronously,
   * and cannot be interrupted.
   */
  sarima?(train: readonly number[], h: number, season: number, signal?: AbortSignal): Promise<number[]>;
}

const browserLoaders: BaselineLoaders = {
  async augurs() {
    const mstl = await import('@bsull/augurs/mstl');
    const ets = await import('@bsull/augurs/ets');
    // wasm-bindgen's default init fetches the .wasm beside the module (a bundler or a static server provides it).
    await mstl.default();
    await ets.default();
    return { mstl, ets };
  },
  async arima() {
    // The emscripten module binds console.log for its output when it is created: point it at console.error then.
    const log = console.log;
    console.log = console.error;
    try {
      return (await import('arima')).default as unknown as ArimaConstructor;
    } finally {
      console.log = log;
    }
  },
};

let loaders: BaselineLoaders = browserLoaders;
let augurs: Promise<AugursModules> | null = null;
let arima: Promise<ArimaConstructor> | null = null;

/** How the wasm libraries are loaded now. */
export function baselineLoaders(): BaselineLoaders {
  return loaders;
}

/** Replaces how the wasm libraries are loaded (Node does this on import of recur/node). */
export function setBaselineLoaders(l: BaselineLoaders): void {
  loaders = l;
  augurs = null;
  arima = null;
}

/** The libraries throw strings and other non-Errors: make every failure an Error with a readable message. */
function asError(e: unknown, what: string): Error {
  if (e instanceof Error) return e;
  const text = typeof e === 'string' ? e : e === undefined ? 'failed with no message' : String(e);
  return new Error(`${what}: ${text}`);
}

async function loadAugurs(): Promise<AugursModules> {
  augurs ??= loaders.augurs();
  return augurs;
}

function fitPredict(
  m: { fit(y: Float64Array): void; predict(h: number): { point: number[] }; free(): void },
  train: readonly number[],
  h: number,
): number[] {
  try {
    m.fit(Float64Array.from(train));
    return Array.from(m.predict(h).point);
  } finally {
    m.free();
  }
}

/** The significance level of the F test a further season must pass before MSTL uses it (1%: on random walks and AR(0.95) noise, 4.5% and 2.5% of 200 series of three years passed at 365). */
export const EXTRA_SEASON_P = 0.01;

/**
 * The periods MSTL-ETS decomposes this training part with: the primary season (`seasons[0]`) whenever there are two
 * full cycles of it; each further season (shortest first) when there are two full cycles of it and it is significant
 * on the training part (the stable-seasonality F test at EXTRA_SEASON_P, on the series with the patterns of the
 * seasons already taken removed — so a weekly season in hourly data must add to the daily one). `dropped` says why a
 * season was left out.
 */
export function etsSeasons(
  train: readonly number[],
  seasons: readonly number[],
): { used: number[]; dropped: { season: number; why: string }[] } {
  const n = train.length;
  const [primary, ...extra] = seasons;
  const used = primary > 1 && n >= 2 * primary ? [primary] : [];
  const dropped: { season: number; why: string }[] = [];
  let rest = [...train];
  const remove = (m: number): void => {
    const idx = seasonalIndices(rest, m, 'additive');
    rest = rest.map((v, t) => v - idx[t % m]);
  };
  if (used.length && extra.length) remove(primary);
  for (const m of [...new Set(extra)].sort((a, b) => a - b)) {
    if (m <= 1 || m === primary) continue;
    if (n < 2 * m) {
      dropped.push({ season: m, why: `fewer than two full cycles (${n} points)` });
      continue;
    }
    const test = seasonalFTest(rest, m);
    if (!(test.p < EXTRA_SEASON_P)) {
      dropped.push({ season: m, why: `not significant (F test p = ${test.p.toPrecision(2)})` });
      continue;
    }
    used.push(m);
    remove(m);
  }
  return { used: used.sort((a, b) => a - b), dropped };
}

/**
 * ETS: augurs' MSTL decomposition (the periods of `etsSeasons`) with AutoETS on the seasonally adjusted series, or
 * AutoETS alone when no season applies.
 */
export async function etsForecast(
  train: readonly number[],
  h: number,
  season: number,
  seasons: readonly number[] = [season],
): Promise<number[]> {
  const a = await loadAugurs();
  const { scaled, back } = onOwnScale(train);
  const periods = etsSeasons(scaled, [season, ...seasons.filter((s) => s !== season)]).used;
  try {
    const f = back(
      periods.length > 0
        ? fitPredict(a.mstl.MSTL.ets(periods, {}), scaled, h)
        : fitPredict(new a.ets.AutoETS(1, 'ZZN'), scaled, h),
    );
    if (f.some((v) => !Number.isFinite(v))) throw new Error('ETS produced a non-finite forecast');
    return f;
  } catch (e) {
    throw asError(e, 'ETS');
  }
}

/** Whether the hybrid's seasonal ETS decomposition can be fitted: a season and two full seasons of data. */
export function hybridPossible(n: number, season: number): boolean {
  return season > 1 && n >= 2 * season;
}

/** Seasonal ETS forecast plus its in-sample fitted values (for the hybrid: the network then models the residuals). */
export async function etsWithFitted(
  train: readonly number[],
  h: number,
  season: number,
): Promise<{ forecast: number[]; fitted: number[] }> {
  // augurs' MSTL needs at least one period; AutoETS alone gives no in-sample fitted values.
  if (!hybridPossible(train.length, season))
    throw new Error(
      `the hybrid method needs a season ≥ 2 and two full seasons of data (season ${season}, ${train.length} points); use --method network`,
    );
  const a = await loadAugurs();
  const { scaled, back } = onOwnScale(train);
  const m = a.mstl.MSTL.ets([season], {});
  try {
    m.fit(Float64Array.from(scaled));
    return { forecast: back(m.predict(h).point), fitted: back(m.predictInSample().point) };
  } catch (e) {
    throw asError(e, 'ETS (hybrid)');
  } finally {
    m.free();
  }
}

export async function sarimaForecast(
  train: readonly number[],
  h: number,
  season: number,
  signal?: AbortSignal,
): Promise<number[]> {
  // Refused whether or not this training part is long enough for the seasonal terms: across backtest folds and the
  // final fit the method must stay the same one.
  if (season > SARIMA_MAX_SEASON)
    throw new Error(
      `season ${season} is above SARIMA's limit of ${SARIMA_MAX_SEASON} (its fit time grows with the fourth power of the season)`,
    );
  const { scaled, back } = onOwnScale(train);
  return back(
    loaders.sarima ? await loaders.sarima(scaled, h, season, signal) : await sarimaHere(scaled, h, season),
  );
}

/**
 * The KPSS statistic of level stationarity (Kwiatkowski et al. 1992) with the Bartlett window of
 * trunc(3√n / 13) lags, as R's forecast::ndiffs computes it; above KPSS_5_PERCENT the series is taken to need a
 * difference.
 */
export function kpssLevel(x: readonly number[]): number {
  const n = x.length;
  const mu = x.reduce((a, b) => a + b, 0) / n;
  const e = x.map((v) => v - mu);
  let partial = 0;
  let eta = 0;
  for (const v of e) {
    partial += v;
    eta += partial * partial;
  }
  const lags = Math.trunc((3 * Math.sqrt(n)) / 13);
  let longRun = e.reduce((a, v) => a + v * v, 0);
  for (let l = 1; l <= lags; l++) {
    let c = 0;
    for (let t = l; t < n; t++) c += e[t] * e[t - l];
    longRun += 2 * (1 - l / (lags + 1)) * c;
  }
  // A constant series (no variation to test) is stationary.
  return longRun > 0 ? eta / (n * longRun) : 0;
}
/** KPSS's 5 % critical value for level stationarity. */
export const KPSS_5_PERCENT = 0.463;

/** The `arima` package's shortest series for AutoARIMA (its load.js refuses shorter ones before any fit). */
const arimaAutoMinLength = (season: number, maxD: number): number => Math.max(2 * season + maxD, 20);

/**
 * How sarimaHere differences a series and which terms the arima package searches on the differences. The package
 * fits a mean to an undifferenced series but, given d = 1 or D = 1, picks "with drift" and fits it with a drift of
 * 0 (BENCHMARKS.md, "SARIMA's drift"), so recur takes the differences that carry a drift itself and the package fits
 * their mean:
 * - with a season and three seasons of data, the seasonal difference; the package then chooses d ≤ 1 (a drift is no
 *   part of a model differenced twice), and searches the seasonal terms P, Q ≤ 1 when the differences are as long as
 *   its minimum for them (2·season + 1: on exactly three seasons they are one short, so (p,d,q)(0,1,0));
 * - otherwise one difference when KPSS rejects level stationarity at 5 % (auto.arima's choice of d), none when not
 *   (differencing a stationary series always would over-difference it).
 */
export interface SarimaPlan {
  seasonalDifference: boolean;
  difference: boolean;
  seasonalTerms: boolean;
  /** The lag of the difference taken (the season, 1, or 0 for none). */
  lag: number;
  /** The series differenced at that lag: what the package fits. */
  differences: number[];
  /** The package's AutoARIMA options (the maximum orders it searches; verbose left to the caller). */
  options: { auto: true; p: number; d: number; q: number; P?: number; D?: number; Q?: number; s?: number };
}

export function sarimaPlan(train: readonly number[], season: number): SarimaPlan {
  const seasonalDifference = season > 1 && train.length >= 3 * season;
  const difference = !seasonalDifference && kpssLevel(train) > KPSS_5_PERCENT;
  const seasonalTerms = seasonalDifference && train.length - season >= arimaAutoMinLength(season, 1);
  const lag = seasonalDifference ? season : difference ? 1 : 0;
  return {
    seasonalDifference,
    difference,
    seasonalTerms,
    lag,
    differences: lag > 0 ? train.slice(lag).map((v, t) => v - train[t]) : [...train],
    options: {
      auto: true,
      p: 2,
      d: seasonalDifference ? 1 : 0,
      q: 2,
      ...(seasonalTerms ? { P: 1, D: 0, Q: 1, s: season } : {}),
    },
  };
}

/**
 * The forecast when the series, differenced as the SARIMA below differences it (once, and once by the season when
 * seasonal), is constant — a noise-free trend or seasonal pattern. The model then has no noise to fit, and the arima
 * package's solver fails without an error, returning uninitialised memory (denormals and zeros where 130 was due);
 * every ARIMA with these differences continues such a series exactly, so that continuation is the forecast. Null when
 * the differenced series varies.
 */
export function exactDifferencedContinuation(
  train: readonly number[],
  h: number,
  season: number,
  seasonal: boolean,
): number[] | null {
  const s = seasonal ? season : 0;
  const y = [...train];
  const diff = (t: number): number => y[t] - y[t - 1] - (s > 0 ? y[t - s] - y[t - s - 1] : 0);
  const first = s + 1;
  if (y.length <= first) return null;
  const c = diff(first);
  // reduce, not Math.max(...): spreading a long (hourly) series overflows the call stack.
  const scale = train.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
  for (let t = first + 1; t < y.length; t++) if (Math.abs(diff(t) - c) > 1e-9 * scale) return null;
  for (let k = 0; k < h; k++) {
    const t = y.length;
    y.push(c + y[t - 1] + (s > 0 ? y[t - s] - y[t - s - 1] : 0));
  }
  return y.slice(train.length);
}

/**
 * The forecast of a model without AR or MA terms, which the arima package cannot give: its predictor (AS 182's forkal)
 * refuses such a model (p = q = P = Q = 0) before writing anything, so the package returns memory it never wrote — at
 * d = 0 plus the mean (white noise around 50 was forecast 50.2 five times, then 101, 99, …), at d = 1 nothing else
 * (denormals and zeros; on exactly three seasons of 22 of 100 M3 series). That model's forecast of `x`, the series the
 * package was given: at d = 0 its mean at every step, at d = 1 the last value of x (the package fits no drift at
 * d = 1 — BENCHMARKS.md, "SARIMA's drift" — and after recur's seasonal difference, d + D = 2 has none in auto.arima
 * either).
 */
export function noTermsForecast(x: readonly number[], h: number, model: ArimaChosenModel): number[] {
  if (model.d === 0) return Array<number>(h).fill(model.mean);
  if (model.d === 1) return Array<number>(h).fill(x[x.length - 1]);
  throw new Error(`SARIMA: the arima package chose d = ${model.d}, above the 1 it was allowed`);
}

/**
 * SARIMA in this thread (the worker of src/node runs this): the series differenced as sarimaPlan says, the arima
 * package's AutoARIMA fitted to the differences (p, q ≤ 2, d ≤ 1 when seasonally differenced and 0 otherwise,
 * P, Q ≤ 1), its forecast differences added back.
 */
export async function sarimaHere(train: readonly number[], h: number, season: number): Promise<number[]> {
  const plan = sarimaPlan(train, season);
  const exact = exactDifferencedContinuation(train, h, season, plan.seasonalDifference);
  if (exact) return exact;
  const ARIMA = await (arima ??= loaders.arima());
  let m: ArimaInstance | null = null;
  try {
    m = new ARIMA({ ...plan.options, verbose: false });
    m.train(plan.differences);
    const chosen = ARIMA.chosenModel?.(m);
    const pred =
      chosen && chosen.p + chosen.q + chosen.P + chosen.Q === 0
        ? noTermsForecast(plan.differences, h, chosen)
        : m.predict(h)[0];
    if (pred.some((v) => !Number.isFinite(v))) throw new Error('SARIMA produced a non-finite forecast');
    // A denormal is no forecast of real data: the package's solver failed and returned memory it never wrote.
    if (pred.some((v) => v !== 0 && Math.abs(v) < 1e-300))
      throw new Error('SARIMA failed in the arima package (its solver returned values it never computed)');
    if (plan.lag === 0) return pred;
    // Undifferenced: each forecast adds its difference to the value a lag before it (a forecast, past the lag).
    const path = [...train];
    for (const d of pred) path.push(path[path.length - plan.lag] + d);
    return path.slice(train.length);
  } catch (e) {
    const err = asError(e, 'SARIMA');
    // The wasm's own errors ("offset is out of bounds" on a long series) do not say what failed.
    if (err.message.startsWith('SARIMA')) throw err;
    throw new Error(`SARIMA failed on ${train.length} points in the arima package: ${err.message}`);
  } finally {
    m?.destroy();
  }
}

export interface BaselineResults {
  forecasts: Map<BaselineName, number[]>;
  /** Baselines that failed or were refused, with the reason. */
  skipped: Map<BaselineName, string>;
}

/**
 * Called with each baseline's name and its index in `which` just before it runs (once the abort check before it
 * passed), so a caller can say which one runs: SARIMA's fit can take seconds.
 */
export type OnBaseline = (name: BaselineName, index: number) => void;

/**
 * All baselines (or the chosen ones) on one split, in the order of `which`; one that fails is skipped with its
 * reason, the rest go on. Aborting `signal` rejects with its reason, between baselines, after the last one or (where
 * the loaders run it elsewhere) during SARIMA's fit. `onBaseline` is told of each baseline as it starts.
 */
export async function baselineForecasts(
  train: readonly number[],
  h: number,
  season: number,
  which: readonly BaselineName[] = BASELINES,
  signal?: AbortSignal,
  onBaseline?: OnBaseline,
): Promise<BaselineResults> {
  const forecasts = new Map<BaselineName, number[]>();
  const skipped = new Map<BaselineName, string>();
  for (const [i, b] of which.entries()) {
    signal?.throwIfAborted();
    onBaseline?.(b, i);
    try {
      if (b === 'naive') forecasts.set(b, naive(train, h));
      else if (b === 'seasonal naive') forecasts.set(b, seasonalNaive(train, h, season));
      else if (b === 'drift') forecasts.set(b, drift(train, h));
      else if (b === 'ets') forecasts.set(b, await etsForecast(train, h, season));
      else if (b === 'theta') forecasts.set(b, thetaForecast(train, h, season));
      else forecasts.set(b, await sarimaForecast(train, h, season, signal));
    } catch (e) {
      // A stop is no failure of the baseline: the whole call stops.
      signal?.throwIfAborted();
      skipped.set(b, asError(e, b).message);
    }
  }
  // A stop during the last baseline (an await in ETS, say) is a stop too, not results returned after it.
  signal?.throwIfAborted();
  return { forecasts, skipped };
}
