/** Point-forecast accuracy measures. MASE scales by the in-sample MAE of the seasonal naive forecast (Hyndman). */
export interface Metrics {
  rmse: number;
  mae: number;
  mape: number;
  smape: number;
  mase: number;
}

export function metrics(
  actual: readonly number[],
  forecast: readonly number[],
  train: readonly number[],
  season: number,
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
    ape += Math.abs(e) / Math.abs(actual[i]);
    sape += (2 * Math.abs(e)) / (Math.abs(actual[i]) + Math.abs(forecast[i]));
  }
  const m = Math.max(1, season);
  let scale = 0;
  for (let t = m; t < train.length; t++) scale += Math.abs(train[t] - train[t - m]);
  scale /= Math.max(1, train.length - m);
  return {
    rmse: Math.sqrt(se / n),
    mae: ae / n,
    mape: (100 * ape) / n,
    smape: (100 * sape) / n,
    mase: ae / n / scale,
  };
}
