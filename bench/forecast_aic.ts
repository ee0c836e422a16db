/**
 * The issue's bar for the single-series goal: the statistical baseline a statistician would pick for a series without
 * looking at its future — ETS, SARIMA or Theta, whichever has the lowest AIC on the training part.
 *
 * The three are fitted by three libraries, and only one (the `arima` package, in its verbose report) gives a
 * likelihood, on its differenced series. AICs on different data (differenced or not, seasonally adjusted or not) are
 * not comparable, so every method is put on one footing here: the Gaussian likelihood of its own one-step-ahead
 * errors on the original scale (in-sample for Theta and SARIMA, refitted at every point for ETS), over the same points (every point after the first 2m + 3, the most
 * SARIMA's conditional likelihood sets aside: d + Dm + p + Pm with d, D, P ≤ 1, p ≤ 2), with the parameters it estimated:
 *
 *   Theta   the one-step forecasts of the fitted thetaf model (SES level plus its drift term, on the seasonally
 *           adjusted series, reseasonalised); k = α, ℓ0, the drift, and m − 1 seasonal indices when adjusted.
 *   ETS     augurs' MSTL-ETS gives no likelihood, and its in-sample fit is not one-step (STL smooths the season over
 *           the points it is scored on): its one-step forecasts refitted at every point stand in, σ² the only
 *           parameter counted (refitting pays for the rest) — −2 log-likelihood + 2 estimates the same expected
 *           out-of-sample −2 log-likelihood that AIC does, a little pessimistically (earlier fits see less data).
 *   SARIMA  the orders and coefficients AutoARIMA chose (parsed from its verbose report), its one-step errors
 *           recomputed by the conditional-sum-of-squares recursion; k = p + q + P + Q (+1 with a drift). The recursion
 *           is checked against the package's own σ² (it must agree within 20%, else this throws).
 *
 * AIC = N log(2π SSE / N) + N + 2(k + 1) (σ² counted), N the common points.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as AugursMstl from '@bsull/augurs/mstl';
import { baselineLoaders, sarimaPlan } from '../src/forecast/baselines.js';
import { adjust, fitSeasonalAdjustment } from '../src/forecast/seasonality.js';
import { fitSes, linearSlope } from '../src/forecast/theta.js';

export interface AicFit {
  aic: number;
  /** Estimated parameters counted (σ² not included; 0 for ETS, whose refits pay for theirs). */
  k: number;
  /** What was fitted, for the log: 'ETS(·,A,N) on STL season 12 …', 'ARIMA(2,0,0)(0,1,1)12 …', … */
  model: string;
}

/** Gaussian AIC of one-step errors, σ² concentrated out and counted. */
export function gaussianAic(errors: readonly number[], k: number): number {
  const n = errors.length;
  const sse = errors.reduce((s, e) => s + e * e, 0);
  return n * Math.log((2 * Math.PI * sse) / n) + n + 2 * (k + 1);
}

/** The first point whose one-step error every method's likelihood includes. */
export const firstCommonPoint = (season: number): number => 2 * season + 3;

/** Theta (thetaf): one-step forecasts of the fitted model, as thetaForecast would give them at step 1. */
export function thetaAic(train: readonly number[], season: number): AicFit {
  const sa = fitSeasonalAdjustment(train, season);
  const x = adjust(sa, train);
  const ses = fitSes(x);
  const drift = linearSlope(x) / 2;
  const a = ses.alpha;
  const errors: number[] = [];
  let level = ses.level0;
  for (let t = 0; t < x.length; t++) {
    // From the origin t (points 0 … t−1 seen): ℓ_t + b/2 · (1 − (1−α)^t)/α, i = 0 in thetaf's formula.
    const fx = level + drift * ((1 - (1 - a) ** t) / a);
    const idx = sa.kind === 'none' ? 0 : sa.indices[t % season];
    const f = sa.kind === 'multiplicative' ? fx * idx : fx + idx;
    if (t >= firstCommonPoint(season)) errors.push(train[t] - f);
    level += a * (x[t] - level);
  }
  const seasonal = sa.kind === 'none' ? 0 : season - 1;
  return {
    aic: gaussianAic(errors, 3 + seasonal),
    k: 3 + seasonal,
    model: `SES + drift${seasonal ? ` on ${sa.kind}ly adjusted` : ''}`,
  };
}

/**
 * ETS as etsForecast fits it for one season (augurs MSTL + AutoETS). Its in-sample fit is not one-step: the STL season
 * is smoothed over the very points it is scored on (on simulated airline-model series of unit variance its in-sample σ²
 * was 0.54–0.82, SARIMA's 0.93–1.21), so its errors here are honest one-step forecasts instead, refitted at every
 * point; refitting already pays for the estimated parameters, so only σ² is counted.
 */
export async function etsAic(train: readonly number[], season: number): Promise<AicFit> {
  const { mstl } = (await baselineLoaders().augurs()) as { mstl: typeof AugursMstl };
  const errors: number[] = [];
  for (let t = firstCommonPoint(season); t < train.length; t++) {
    const m = mstl.MSTL.ets([season], {});
    try {
      m.fit(Float64Array.from(train.slice(0, t)));
      errors.push(train[t] - m.predict(1).point[0]);
    } finally {
      m.free();
    }
  }
  // Which trend the fit on the whole part has, for the log: its change over a season, f(h+m) − f(h) (the season
  // cancels), is 0 for none, constant for a linear trend, shrinking for a damped one.
  const m = mstl.MSTL.ets([season], {});
  let f: number[];
  try {
    m.fit(Float64Array.from(train));
    f = Array.from(m.predict(3 * season).point);
  } finally {
    m.free();
  }
  const d0 = f[season] - f[0];
  const d1 = f[2 * season] - f[season];
  const scale = Math.max(...train.map(Math.abs));
  const trend =
    Math.abs(d0) < 1e-9 * scale && Math.abs(d1) < 1e-9 * scale
      ? 'N'
      : Math.abs(d1 - d0) < 1e-6 * scale
        ? 'A'
        : 'Ad';
  return {
    aic: gaussianAic(errors, 0),
    k: 0,
    model: `ETS(·,${trend},N) on STL season ${season}, one-step forecasts refitted at each point`,
  };
}

interface ArimaReport {
  p: number;
  d: number;
  q: number;
  P: number;
  D: number;
  Q: number;
  ar: number[];
  ma: number[];
  sar: number[];
  sma: number[];
  /** The mean (drift) of the differenced series: printed as 0 even when estimated, so re-estimated here. */
  meanEstimated: boolean;
  trend: number;
  sigma2: number;
}

function parseReport(text: string): ArimaReport {
  const block = text.slice(text.lastIndexOf('AutoARIMA summary'));
  const order = /Seasonal Order : \(\s*(\d+),\s*(\d+),\s*(\d+)\)\s*\*\s*\(\s*(\d+),\s*(\d+),\s*(\d+)\)/.exec(
    block,
  );
  if (!order) throw new Error(`no order in the ARIMA report: ${block.slice(0, 200)}`);
  const [p, d, q, P, D, Q] = order.slice(1).map(Number);
  const coef = (name: string): number[] => {
    const out: number[] = [];
    for (let i = 1; ; i++) {
      const m = new RegExp(`^${name}${i}\\s+(\\S+)`, 'm').exec(block);
      if (!m) return out;
      out.push(Number(m[1]));
    }
  };
  const one = (name: string): number => {
    const m = new RegExp(`^${name.replace('^', '\\^')}\\s+(\\S+)`, 'm').exec(block);
    return m ? Number(m[1]) : 0;
  };
  return {
    p,
    d,
    q,
    P,
    D,
    Q,
    ar: coef('AR'),
    ma: coef('MA'),
    sar: coef('SAR'),
    sma: coef('SMA'),
    meanEstimated: /^MEAN\s+\S+\s+\S+/m.test(block),
    trend: one('TREND'),
    sigma2: one('SIGMA^2'),
  };
}

/** Coefficients of a(B)·b(B^s), both given as 1 + Σ c_i B^i. */
function multiply(a: readonly number[], b: readonly number[], s: number): number[] {
  const out = new Array<number>(a.length + s * (b.length - 1)).fill(0);
  a.forEach((x, i) => b.forEach((y, j) => (out[i + s * j] += x * y)));
  return out;
}

/** One-step errors of the fitted SARIMA by the CSS recursion (errors before the differenced series starts: 0). */
function sarimaErrors(
  y: readonly number[],
  r: ArimaReport,
  season: number,
  maSign: 1 | -1,
  mean: number,
): number[] {
  let w = [...y];
  for (let i = 0; i < r.d; i++) w = w.map((v, t) => (t >= 1 ? v - w[t - 1] : NaN));
  for (let i = 0; i < r.D; i++) w = w.map((v, t) => (t >= season ? v - w[t - season] : NaN));
  const start = r.d + r.D * season;
  // φ(B)Φ(B^s) = 1 − …, θ(B)Θ(B^s) = 1 ± … (the package's MA sign is checked by the caller).
  const phi = multiply([1, ...r.ar.map((c) => -c)], [1, ...r.sar.map((c) => -c)], season);
  const theta = multiply([1, ...r.ma.map((c) => maSign * c)], [1, ...r.sma.map((c) => maSign * c)], season);
  const e = new Array<number>(y.length).fill(0);
  const mu = (t: number): number => mean + r.trend * (t - start);
  for (let t = start; t < y.length; t++) {
    let pred = mu(t);
    for (let i = 1; i < phi.length; i++) if (t - i >= start) pred -= phi[i] * (w[t - i] - mu(t - i));
    for (let j = 1; j < theta.length; j++) if (t - j >= start) pred += theta[j] * e[t - j];
    e[t] = w[t] - pred;
  }
  return e;
}

interface ArimaNative {
  train(ts: number[]): unknown;
  destroy(): void;
}
type ArimaNativeConstructor = new (o: Record<string, unknown>) => ArimaNative;

let printed: string[] = [];
let nativeArima: ArimaNativeConstructor | null = null;

/** The `arima` package's AutoARIMA in a module instance of its own, whose printed report is captured. */
function capturingArima(): ArimaNativeConstructor {
  if (nativeArima) return nativeArima;
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('arima'));
  const makeModule = require(join(root, 'wasm', 'native-sync.js')) as (o: object) => object;
  const bin = require(join(root, 'wrapper', 'native.bin.js')) as Uint8Array;
  const load = require(join(root, 'load.js')) as (m: object) => ArimaNativeConstructor;
  const print = (line: string): void => void printed.push(line);
  nativeArima = load(makeModule({ wasmBinary: bin, print, printErr: print }));
  return nativeArima;
}

/**
 * SARIMA as sarimaForecast fits it: the series differenced by recur as sarimaPlan says, AutoARIMA with its options on
 * the differences. A one-step error of the differences is the series' own (the value a lag before is known), so the
 * errors are computed on the differences and the first `lag` points, before them, are 0.
 */
export function sarimaAic(train: readonly number[], season: number): AicFit {
  const ARIMA = capturingArima();
  const plan = sarimaPlan(train, season);
  const w = plan.differences;
  printed = [];
  const m = new ARIMA({ ...plan.options, verbose: true });
  try {
    m.train(w);
  } finally {
    m.destroy();
  }
  const r = parseReport(printed.join('\n'));
  // Which MA sign convention reproduces the package's σ² (over its conditional points of the differences: after its
  // own differencing and the first p + Pm, whose lags are missing).
  const start = r.d + r.D * season + r.p + r.P * season;
  const sigma2 = (e: number[]): number => {
    const tail = e.slice(start);
    return tail.reduce((s, v) => s + v * v, 0) / tail.length;
  };
  const candidates = ([1, -1] as const).map((sign) => {
    if (!r.meanEstimated) return sarimaErrors(w, r, season, sign, 0);
    // The errors are affine in the mean: e(μ) = e(0) + μ g; the CSS mean is the least-squares μ.
    const e0 = sarimaErrors(w, r, season, sign, 0);
    const g = sarimaErrors(w, r, season, sign, 1).map((v, t) => v - e0[t]);
    let num = 0;
    let den = 0;
    for (let t = start; t < w.length; t++) {
      num -= e0[t] * g[t];
      den += g[t] * g[t];
    }
    const mu = den > 0 ? num / den : 0;
    return e0.map((v, t) => v + mu * g[t]);
  });
  const ratios = candidates.map((e) => sigma2(e) / r.sigma2);
  const best = Math.abs(Math.log(ratios[0])) <= Math.abs(Math.log(ratios[1])) ? 0 : 1;
  if (!(Math.abs(Math.log(ratios[best])) < Math.log(1.2)))
    throw new Error(
      `the SARIMA recursion does not reproduce the package's σ² ${r.sigma2} (ratios ${ratios.map((x) => x.toFixed(3)).join(', ')})`,
    );
  const errors = [...new Array<number>(plan.lag).fill(0), ...candidates[best]].slice(
    firstCommonPoint(season),
  );
  if (plan.lag + start > firstCommonPoint(season))
    throw new Error(`the ARIMA's conditioning (${start} points) is longer than assumed`);
  const k = r.p + r.q + r.P + r.Q + (r.meanEstimated ? 1 : 0) + (r.trend !== 0 ? 1 : 0);
  return {
    aic: gaussianAic(errors, k),
    k,
    model: `ARIMA(${r.p},${r.d + (plan.difference ? 1 : 0)},${r.q})(${r.P},${plan.seasonalDifference ? 1 : 0},${r.Q})${season}${r.meanEstimated ? (plan.lag > 0 ? ' + drift' : ' + mean') : ''} MA sign ${best === 0 ? '+' : '−'}, σ² ratio ${ratios[best].toFixed(3)}`,
  };
}

/** The AIC of each of ETS, SARIMA and Theta on one training part (a method that fails is left out, with why). */
export async function statisticalAics(
  train: readonly number[],
  season: number,
): Promise<{ fits: Map<string, AicFit>; failed: Map<string, string> }> {
  const fits = new Map<string, AicFit>();
  const failed = new Map<string, string>();
  const tries: [string, () => Promise<AicFit> | AicFit][] = [
    ['ets', () => etsAic(train, season)],
    ['sarima', () => sarimaAic(train, season)],
    ['theta', () => thetaAic(train, season)],
  ];
  for (const [name, fit] of tries) {
    try {
      fits.set(name, await fit());
    } catch (e) {
      failed.set(name, e instanceof Error ? e.message : String(e));
    }
  }
  return { fits, failed };
}
