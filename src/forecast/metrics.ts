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
 * The root mean square of `values`, summed relative to the largest |value| so that the squares neither overflow
 * (errors above ~1e154) nor underflow to 0 (a series around 1e-200): a plain sum of squares made the RMSE, the
 * conformal widths and the network's standard scaling Infinity or 0 there.
 */
export function rootMeanSquare(values: readonly number[]): number {
  // reduce, not Math.max(...): a long series would overflow the call stack.
  const largest = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  if (!Number.isFinite(largest) || largest === 0) return largest;
  return largest * Math.sqrt(values.reduce((s, v) => s + (v / largest) ** 2, 0) / values.length);
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
  let ae = 0;
  let ape = 0;
  let sape = 0;
  for (let i = 0; i < n; i++) {
    const e = forecast[i] - actual[i];
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
    rmse: rootMeanSquare(actual.map((a, i) => forecast[i] - a)),
    mae: ae / n,
    mape: (100 * ape) / n,
    smape: (100 * sape) / n,
    mase: ae / n / scale,
  };
}
