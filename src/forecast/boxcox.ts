/**
 * Box-Cox transforms for multiplicative and non-stationary series: y = (x^λ − 1)/λ (log x at λ = 0), λ chosen on the
 * training part by Guerrero's method (the λ that makes the spread of each season-long block most nearly proportional
 * to its level^(1−λ)), as R's forecast::BoxCox.lambda. `withTransform` wraps any forecaster so that it fits and
 * forecasts the transformed series and its forecast is turned back — inside every backtest fold, on that fold's data.
 */
import type { ForecastFn } from './auto.js';

export type TransformKind = 'none' | 'log' | 'box-cox';

export function boxCox(x: readonly number[], lambda: number): number[] {
  return x.map((v) => (lambda === 0 ? Math.log(v) : (v ** lambda - 1) / lambda));
}

/**
 * The inverse; where λy + 1 ≤ 0 (a forecast below the transform's range) the value is the limit 0, never NaN.
 */
export function invBoxCox(y: readonly number[], lambda: number): number[] {
  return y.map((v) => (lambda === 0 ? Math.exp(v) : Math.max(0, lambda * v + 1) ** (1 / lambda)));
}

/** Guerrero's λ in [lower, upper]: minimises the coefficient of variation of sd_block / mean_block^(1−λ). */
export function guerreroLambda(x: readonly number[], season: number, lower = -1, upper = 2): number {
  if (x.some((v) => !(v > 0))) throw new Error('Box-Cox needs values > 0');
  const m = Math.max(2, season);
  const blocks = Math.floor(x.length / m);
  if (blocks < 2) return 1;
  // The last `blocks` full seasons, as R does (it drops the first incomplete part).
  const start = x.length - blocks * m;
  const means: number[] = [];
  const sds: number[] = [];
  for (let b = 0; b < blocks; b++) {
    const part = x.slice(start + b * m, start + (b + 1) * m);
    const mu = part.reduce((a, c) => a + c, 0) / m;
    const sd = Math.sqrt(part.reduce((a, c) => a + (c - mu) ** 2, 0) / (m - 1));
    means.push(mu);
    sds.push(sd);
  }
  const cv = (lambda: number): number => {
    const r = sds.map((s, i) => s / means[i] ** (1 - lambda));
    const mu = r.reduce((a, c) => a + c, 0) / r.length;
    const sd = Math.sqrt(r.reduce((a, c) => a + (c - mu) ** 2, 0) / (r.length - 1));
    return mu === 0 ? Infinity : sd / mu;
  };
  // A grid, then golden section in the best cell.
  let best = lower;
  let bestCv = cv(lower);
  const steps = 60;
  for (let i = 1; i <= steps; i++) {
    const l = lower + ((upper - lower) * i) / steps;
    const c = cv(l);
    if (c < bestCv) [best, bestCv] = [l, c];
  }
  let a = Math.max(lower, best - (upper - lower) / steps);
  let b = Math.min(upper, best + (upper - lower) / steps);
  const g = (Math.sqrt(5) - 1) / 2;
  for (let i = 0; i < 40; i++) {
    const x1 = b - g * (b - a);
    const x2 = a + g * (b - a);
    if (cv(x1) < cv(x2)) b = x2;
    else a = x1;
  }
  const l = (a + b) / 2;
  return cv(l) < bestCv ? l : best;
}

/** The λ `withTransform` fits on a training part: 0 for the log, Guerrero's for Box-Cox. */
export function lambdaFor(kind: 'log' | 'box-cox', train: readonly number[], season: number): number {
  return kind === 'log' ? 0 : guerreroLambda(train, season);
}

/** `fn` on the transformed series (λ fitted on each training part it is given), its forecast transformed back. */
export function withTransform(fn: ForecastFn, kind: TransformKind, season: number): ForecastFn {
  if (kind === 'none') return fn;
  return async (train, h) => {
    const i = train.findIndex((v) => !(v > 0));
    if (i >= 0) throw new Error(`the ${kind} transform needs values > 0; value ${i + 1} is ${train[i]}`);
    const lambda = lambdaFor(kind, train, season);
    const f = invBoxCox(await fn(boxCox(train, lambda), h), lambda);
    if (f.some((v) => !Number.isFinite(v)))
      throw new Error(`a non-finite forecast after the ${kind} transform`);
    return f;
  };
}
