/**
 * Exogenous regressors ("regression with time-series errors"): the target is regressed on covariates whose future
 * values are known (a price, a promotion, a temperature forecast), any forecasting method forecasts what the
 * regression leaves, and the regression's part is added back over the horizon:
 *
 *   r_t = y_t − (x_t − x̄)·β,   ŷ_{T+h} = (the method's forecast of r at T+h) + (x_{T+h} − x̄)·β
 *
 * with x̄ the covariates' training means. β is estimated by ridge-stabilised least squares (intercept, standardised
 * covariates) on the seasonally differenced training part (fitRegression says why), on the training part only, so
 * wrapping a candidate (withRegressors) keeps the backtest honest: each fold fits its own β on the data before its
 * origin. The residual keeps the target's level (only the covariates' deviation from their training mean is removed),
 * so methods that need positive values (Theta's multiplicative decomposition) still work.
 * Browser-safe.
 */
import type { ForecastFn } from './auto.js';
import { SeriesInputError, type TimeSeries } from './series.js';

/** A fitted regression: what it removes from the target and adds back to a forecast. */
export interface RegressionFit {
  /** Training mean and standard deviation of each covariate. */
  means: number[];
  sds: number[];
  /** Effect of one standard deviation of each covariate, in target units. */
  standardised: number[];
  /** Effect of one unit of each covariate (0 for a covariate that does not vary). */
  perUnit: number[];
  /** The differencing lag β was estimated at (0: on levels). */
  lag: number;
}

/**
 * Ridge penalty on the standardised covariates, relative to the number of points: tiny (0.1% shrinkage), only there
 * to keep the solve finite when covariates are collinear.
 */
export const RIDGE = 1e-3;

/** Solves the symmetric positive-definite system A·b = v (Cholesky). */
function solveSpd(a: number[][], v: number[]): number[] {
  const k = v.length;
  const l = a.map(() => new Array<number>(k).fill(0));
  for (let i = 0; i < k; i++)
    for (let j = 0; j <= i; j++) {
      let s = a[i][j];
      for (let p = 0; p < j; p++) s -= l[i][p] * l[j][p];
      l[i][j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j][j];
    }
  const y = new Array<number>(k).fill(0);
  for (let i = 0; i < k; i++) {
    let s = v[i];
    for (let p = 0; p < i; p++) s -= l[i][p] * y[p];
    y[i] = s / l[i][i];
  }
  const b = new Array<number>(k).fill(0);
  for (let i = k - 1; i >= 0; i--) {
    let s = y[i];
    for (let p = i + 1; p < k; p++) s -= l[p][i] * b[p];
    b[i] = s / l[i][i];
  }
  return b;
}

/** Mean and (population) standard deviation of f(0) … f(count − 1). */
function meanSd(count: number, f: (t: number) => number): { mean: number; sd: number } {
  let s = 0;
  for (let t = 0; t < count; t++) s += f(t);
  const mean = s / count;
  let v = 0;
  for (let t = 0; t < count; t++) v += (f(t) - mean) ** 2;
  return { mean, sd: Math.sqrt(v / count) };
}

/**
 * β of `y` (n points) on the covariates `x` (their first n rows), estimated on the `lag`-differenced series (the
 * season, or 1) — as a regression with ARIMA errors is when its errors need differencing: on levels, a trend or a
 * season the covariates do not explain swamps their effect. Measured (npm run bench:forecast:regressors, BENCHMARKS.md):
 * over 12 kinds of synthetic monthly series, β's error on levels was the largest in 11 (up to 37× that at the seasonal
 * lag); first differences do best on random-walk levels but fail on a seasonal covariate (4.3 vs 1.8): the seasonal lag
 * has the smallest worst case. Least squares with an intercept (the
 * drift) on the standardised differenced covariates, ridge-stabilised. Too few points for the lag: lag 1; lag 0: on
 * levels.
 */
export function fitRegression(
  y: readonly number[],
  x: readonly (readonly number[])[],
  lag = 1,
): RegressionFit {
  const n = y.length;
  const k = x[0]?.length ?? 0;
  if (x.length < n) throw new Error(`the covariates have ${x.length} rows for ${n} points`);
  if (n - 1 < k + 2) throw new Error(`${n} points are too few to fit ${k} regressor(s) (it needs ${k + 3})`);
  const d = lag === 0 ? 0 : n - lag >= k + 3 ? lag : 1;
  const m = n - d;
  // Lag 0: on levels (what the bench compares against).
  const dx = (t: number, j: number): number => (d === 0 ? x[t][j] : x[t + d][j] - x[t][j]);
  const dy = (t: number): number => (d === 0 ? y[t] : y[t + d] - y[t]);
  const diffs = Array.from({ length: k }, (_, j) => meanSd(m, (t) => dx(t, j)));
  // Columns whose differences have no spread on this part (a promotion never run before a fold's origin): β = 0.
  const live = diffs.map((c) => c.sd > 1e-12);
  const z = (t: number, j: number): number => (live[j] ? (dx(t, j) - diffs[j].mean) / diffs[j].sd : 0);
  const yMean = meanSd(m, dy).mean;
  const a = Array.from({ length: k }, (_, i) =>
    Array.from({ length: k }, (_, j) => {
      let s = i === j ? RIDGE * m : 0;
      for (let t = 0; t < m; t++) s += z(t, i) * z(t, j);
      return s;
    }),
  );
  const v = Array.from({ length: k }, (_, j) => {
    let s = 0;
    for (let t = 0; t < m; t++) s += z(t, j) * (dy(t) - yMean);
    return s;
  });
  const perUnit = solveSpd(a, v).map((b, j) => (live[j] ? b / diffs[j].sd : 0));
  const levels = Array.from({ length: k }, (_, j) => meanSd(n, (t) => x[t][j]));
  return {
    means: levels.map((c) => c.mean),
    sds: levels.map((c) => c.sd),
    standardised: perUnit.map((b, j) => b * levels[j].sd),
    perUnit,
    lag: d,
  };
}

/** fitRegression, or null when the points are too few for it (the global network then sees the series itself). */
export function regressionIfFits(
  y: readonly number[],
  x: readonly (readonly number[])[],
  lag: number,
): RegressionFit | null {
  try {
    return fitRegression(y, x, lag);
  } catch {
    return null;
  }
}

/** The regression's part of point t: the covariates' deviation from their training means times β. */
export function regressionPart(fit: RegressionFit, row: readonly number[]): number {
  let s = 0;
  for (let j = 0; j < row.length; j++) s += (row[j] - fit.means[j]) * fit.perUnit[j];
  return s;
}

/** What the regression leaves of `values` (x: their covariate rows). */
export function regressionResidual(
  fit: RegressionFit,
  values: readonly number[],
  x: readonly (readonly number[])[],
): number[] {
  return values.map((v, t) => v - regressionPart(fit, x[t]));
}

/** A forecast of the residual from point n on, with the regression's part of those points (x[n + h]) added back. */
export function withRegressionPart(
  fit: RegressionFit,
  forecast: readonly number[],
  x: readonly (readonly number[])[],
  n: number,
): number[] {
  return forecast.map((v, h) => v + regressionPart(fit, x[n + h]));
}

/**
 * `fn` with the covariates: fitted on a training part of n points, it regresses those points on x[0, n) (β at
 * differencing lag `lag`), forecasts
 * the residual series with `fn` and adds the regression's part of x[n, n + h) back. The training part must be a
 * prefix of the series `x` was given for (the backtest's folds and the final fit are), and x must reach n + h.
 * `onFit` receives each fit (the final one is what is reported).
 */
export function withRegressors(
  fn: ForecastFn,
  x: readonly (readonly number[])[],
  lag: number,
  onFit?: (fit: RegressionFit) => void,
): ForecastFn {
  return async (train, h) => {
    const n = train.length;
    if (x.length < n + h)
      throw new Error(`the covariates reach point ${x.length}; forecasting ${h} after ${n} needs ${n + h}`);
    const fit = fitRegression(train, x, lag);
    onFit?.(fit);
    return withRegressionPart(fit, await fn(regressionResidual(fit, train, x), h), x, n);
  };
}

/** The differencing lag β is estimated at for a series of this season (fitRegression says why): the season, or 1. */
export const regressionLag = (season: number): number => (season >= 2 ? season : 1);

/** The name of a candidate forecast with the covariates. */
export const withRegressorsName = (name: string): string => `${name} + x`;

/** What a forecast reports of its regressions: which methods used the covariates, and their β. */
export interface RegressionSummary {
  names: string[];
  /** The chosen method, or the members of the chosen mean, that forecast with the covariates. */
  usedBy: string[];
  /** β per covariate of each method in usedBy — or, when none, of the best method with covariates, for reference. */
  fits: Record<string, Record<string, { perUnit: number; standardised: number; lag: number }>>;
}

/**
 * The regressions behind a forecast: those of `members` (the chosen method, or what its mean averages) that used the
 * covariates; when none did, the one of the method with covariates whose backtest MASE (`mase`) is lowest.
 */
export function regressionSummary(
  names: readonly string[],
  members: readonly string[],
  regressions: ReadonlyMap<string, RegressionFit>,
  mase: (method: string) => number,
): RegressionSummary {
  const usedBy = members.filter((m) => regressions.has(m));
  const shown =
    usedBy.length > 0 ? usedBy : [...regressions.keys()].sort((a, b) => mase(a) - mase(b)).slice(0, 1);
  return {
    names: [...names],
    usedBy,
    fits: Object.fromEntries(
      shown.map((m) => {
        const f = regressions.get(m)!;
        return [
          m,
          Object.fromEntries(
            names.map((n, j) => [n, { perUnit: f.perUnit[j], standardised: f.standardised[j], lag: f.lag }]),
          ),
        ];
      }),
    ),
  };
}

/**
 * The covariate rows a forecast of `horizon` points after a series' history uses (history, then known future); a
 * missing one is bad input naming the regressor and the first date without a value. `after` labels the points after
 * the history (for dates beyond the file's rows).
 */
export function knownFutureRows(
  series: TimeSeries,
  horizon: number,
  after: readonly string[],
  /** The horizon is a saved forecaster's (it cannot be shortened: `recur forecast predict`). */
  savedHorizon = false,
): number[][] {
  const cov = series.covariates;
  if (!cov) throw new Error('the series has no covariates');
  const n = series.values.length;
  const rows = cov.futureDates.length;
  for (const [j, name] of cov.names.entries())
    for (let h = 0; h < horizon; h++)
      if (!Number.isFinite(cov.x[n + h]?.[j]))
        throw new SeriesInputError(
          `a forecast of ${horizon} point(s) needs the regressors' values on the ${horizon} row(s) after the last value (${series.dates[n - 1]}), with the value cell empty; regressor '${name}' has none for ${cov.futureDates[h] ?? after[h]}${cov.futureLines[h] ? ` (line ${cov.futureLines[h]})` : ''}${rows < horizon ? `; there are ${rows} such row(s): ${savedHorizon ? `add rows (the forecaster was saved with horizon ${horizon})` : `add rows or give --horizon ${rows}`}` : ''}`,
        );
  return cov.x.slice(0, n + horizon);
}
