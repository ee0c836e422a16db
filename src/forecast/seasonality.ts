/**
 * Whether a series is seasonal, and its classical decomposition — the pieces of the M3 competition's Naive2 and Theta.
 * Both only ever see the training part they are given: callers pass the data before the forecast origin.
 */

/** Autocorrelations r_1 … r_maxLag (sample ACF, as R's acf()). */
export function acf(values: readonly number[], maxLag: number): number[] {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  let c0 = 0;
  for (const v of values) c0 += (v - mean) ** 2;
  const out: number[] = [];
  for (let k = 1; k <= maxLag; k++) {
    let c = 0;
    for (let t = k; t < n; t++) c += (values[t] - mean) * (values[t - k] - mean);
    out.push(c0 === 0 ? 0 : c / c0);
  }
  return out;
}

/**
 * The 90% seasonality test of the M3 competition's Naive2 and of Theta (Hyndman's thetaf): |r_m| is above 1.645
 * standard errors, the standard error by Bartlett's formula sqrt((1 + 2 Σ_{k<m} r_k²) / n). Needs more than two
 * seasons of data and a season ≥ 2; otherwise the series is treated as not seasonal.
 */
export function isSeasonal(train: readonly number[], season: number): boolean {
  const n = train.length;
  if (season < 2 || n <= 2 * season) return false;
  const r = acf(train, season);
  if (r.every((v) => v === 0)) return false;
  let sum = 1;
  for (let k = 0; k < season - 1; k++) sum += 2 * r[k] ** 2;
  return Math.abs(r[season - 1]) > (1.645 * Math.sqrt(sum)) / Math.sqrt(n);
}

/**
 * Seasonal indices of a classical decomposition (R's decompose()): the ratio (multiplicative) or the difference
 * (additive) of each value to its centred moving average of one season, averaged per position in the season, then
 * normalised (mean 1 or mean 0). Index p belongs to the points t with t mod season = p.
 */
export function seasonalIndices(
  train: readonly number[],
  season: number,
  kind: 'multiplicative' | 'additive',
): number[] {
  const n = train.length;
  const m = season;
  const half = Math.floor(m / 2);
  const sums = new Array<number>(m).fill(0);
  const counts = new Array<number>(m).fill(0);
  for (let t = half; t < n - half; t++) {
    // Centred moving average: an m-term mean for odd m, a 2×m mean (half weights at the ends) for even m.
    let s = 0;
    if (m % 2 === 1) {
      for (let k = -half; k <= half; k++) s += train[t + k];
      s /= m;
    } else {
      for (let k = -half + 1; k <= half - 1; k++) s += train[t + k];
      s = (s + 0.5 * (train[t - half] + train[t + half])) / m;
    }
    sums[t % m] += kind === 'multiplicative' ? train[t] / s : train[t] - s;
    counts[t % m]++;
  }
  const idx = sums.map((s, p) => (counts[p] > 0 ? s / counts[p] : kind === 'multiplicative' ? 1 : 0));
  const mean = idx.reduce((a, b) => a + b, 0) / m;
  return kind === 'multiplicative' ? idx.map((v) => v / mean) : idx.map((v) => v - mean);
}

/** A seasonal adjustment fitted on a training part: remove it from the data, put it back on forecasts. */
export interface SeasonalAdjustment {
  kind: 'none' | 'multiplicative' | 'additive';
  season: number;
  indices: number[];
}

/**
 * The M3 convention: adjust only if the 90% test finds the season, multiplicatively when every value is > 0
 * (additively otherwise, where ratios mean nothing).
 */
export function fitSeasonalAdjustment(train: readonly number[], season: number): SeasonalAdjustment {
  if (!isSeasonal(train, season)) return { kind: 'none', season, indices: [] };
  const kind = train.every((v) => v > 0) ? 'multiplicative' : 'additive';
  return { kind, season, indices: seasonalIndices(train, season, kind) };
}

/** The adjusted value of point t (0-based index into the series the adjustment was fitted on, or beyond it). */
export function adjust(a: SeasonalAdjustment, values: readonly number[]): number[] {
  if (a.kind === 'none') return [...values];
  return values.map((v, t) =>
    a.kind === 'multiplicative' ? v / a.indices[t % a.season] : v - a.indices[t % a.season],
  );
}

/** Puts the season back on forecasts of the points n, n+1, … (n = the training length). */
export function reseasonalize(a: SeasonalAdjustment, n: number, forecast: readonly number[]): number[] {
  if (a.kind === 'none') return [...forecast];
  return forecast.map((f, h) => {
    const s = a.indices[(n + h) % a.season];
    return a.kind === 'multiplicative' ? f * s : f + s;
  });
}
