/**
 * Point-forecast accuracy measures. MASE scales by the in-sample MAE of the seasonal naive forecast (Hyndman), or of
 * the naive one where that is 0 (maseScale). MAPE and sMAPE count an exact forecast of 0 as no error, not 0/0.
 */
export interface Metrics {
  rmse: number;
  mae: number;
  mape: number;
  smape: number;
  mase: number;
}

/**
 * The MASE denominator of a training part: the in-sample MAE of the seasonal naive forecast, or of the naive forecast
 * when the seasonal one is 0 or undefined (fewer than season + 1 points, a seasonally constant stretch); 0 only for
 * a constant series.
 */
export function maseScale(train: readonly number[], season: number): number {
  for (const m of [Math.max(1, season), 1]) {
    if (train.length <= m) continue;
    let s = 0;
    for (let t = m; t < train.length; t++) s += Math.abs(train[t] - train[t - m]);
    if (s > 0) return s / (train.length - m);
  }
  return 0;
}

/**
 * RMSE of errors whose squares overflow (above ~1e154, from a series of huge but finite values): the squares are
 * summed relative to the largest error, so the result is finite — not Infinity, a null in --json and a dash in tables.
 */
function rootMeanSquareOfHuge(actual: readonly number[], forecast: readonly number[]): number {
  const errors = actual.map((a, i) => Math.abs(forecast[i] - a));
  // reduce, not Math.max(...): a long hold-out's errors would overflow the call stack.
  const largest = errors.reduce((m, e) => Math.max(m, e), 0);
  if (!Number.isFinite(largest)) return largest;
  return largest * Math.sqrt(errors.reduce((s, e) => s + (e / largest) ** 2, 0) / errors.length);
}

export function metrics(
  actual: readonly number[],
  forecast: readonly number[],
  train: readonly number[],
  season: number,
  /** The MASE denominator, when the caller fixes it (else: maseScale of `train`). */
  fixedScale?: number,
): Metrics {
  const n = actual.length;
  let se = 0;
  let ae = 0;
  let ape = 0;
  let sape = 0;
  for (let i = 0; i < n; i++) {
    const e = forecast[i] - actual[i];
    se += e * e;
    ae += Math.abs(e);
    // An exact forecast of 0 is no error, not 0/0 (a NaN would drop the whole series from an aggregate); any other
    // forecast of an actual 0 leaves MAPE infinite, as it is.
    if (e !== 0) {
      ape += Math.abs(e) / Math.abs(actual[i]);
      sape += (2 * Math.abs(e)) / (Math.abs(actual[i]) + Math.abs(forecast[i]));
    }
  }
  // The same scale as the backtest's (auto.ts): a training part whose seasonal naive is exact (a repeating season)
  // would otherwise give an infinite MASE to every method on the hold-out.
  const scale = fixedScale ?? maseScale(train, season);
  return {
    rmse: Number.isFinite(se) ? Math.sqrt(se / n) : rootMeanSquareOfHuge(actual, forecast),
    mae: ae / n,
    mape: (100 * ape) / n,
    smape: (100 * sape) / n,
    mase: ae / n / scale,
  };
}
