/**
 * Whether a series is seasonal, and its classical decomposition — the pieces of the M3 competition's Naive2 and Theta.
 * Both only ever see the training part they are given: callers pass the data before the forecast origin.
 */
import { onOwnScale } from './transforms.js';

/** Autocorrelations r_1 … r_maxLag (sample ACF, as R's acf()). */
export function acf(values: readonly number[], maxLag: number): number[] {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  // Deviations relative to the largest one: their squares underflowed to 0 on a series around 1e-160.
  const largest = values.reduce((m, v) => Math.max(m, Math.abs(v - mean)), 0) || 1;
  const dev = values.map((v) => (v - mean) / largest);
  let c0 = 0;
  for (const d of dev) c0 += d ** 2;
  const out: number[] = [];
  for (let k = 1; k <= maxLag; k++) {
    let c = 0;
    for (let t = k; t < n; t++) c += dev[t] * dev[t - k];
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
  const m = season;
  const sums = new Array<number>(m).fill(0);
  const counts = new Array<number>(m).fill(0);
  const { start, trend } = centredMovingAverage(train, m);
  trend.forEach((s, i) => {
    const t = start + i;
    sums[t % m] += kind === 'multiplicative' ? train[t] / s : train[t] - s;
    counts[t % m]++;
  });
  const idx = sums.map((s, p) => (counts[p] > 0 ? s / counts[p] : kind === 'multiplicative' ? 1 : 0));
  const mean = idx.reduce((a, b) => a + b, 0) / m;
  return kind === 'multiplicative' ? idx.map((v) => v / mean) : idx.map((v) => v - mean);
}

/**
 * The centred moving average of one season at the points start … n−1−start (start = ⌊m/2⌋): an m-term mean for odd
 * m, a 2×m mean (half weights at the ends) for even m — the trend of a classical decomposition.
 */
export function centredMovingAverage(x: readonly number[], m: number): { start: number; trend: number[] } {
  const half = Math.floor(m / 2);
  const trend: number[] = [];
  // A running sum of the m − 1 (even m) or m (odd m) inner terms.
  const inner = m % 2 === 1 ? half : half - 1;
  let s = 0;
  for (let k = 0; k < 2 * inner + 1 && k < x.length; k++) s += x[k + half - inner];
  for (let t = half; t < x.length - half; t++) {
    if (t > half) s += x[t + inner] - x[t - inner - 1];
    trend.push(m % 2 === 1 ? s / m : (s + 0.5 * (x[t - half] + x[t + half])) / m);
  }
  return { start: half, trend };
}

/**
 * The stable-seasonality F test (as X-11's): one-way analysis of variance of the detrended values (each minus its
 * centred moving average of one season) grouped by position in the season. Unlike the ACF test it keeps its power for
 * long, smooth seasons (a yearly cycle in daily data, whose neighbouring autocorrelations swamp Bartlett's standard
 * error). Returns the F statistic, its degrees of freedom and the upper-tail probability (Paulson's normal
 * approximation of the F distribution). Needs two full seasons and a season ≥ 2; otherwise p = 1.
 */
export function seasonalFTest(
  train: readonly number[],
  season: number,
): { f: number; df1: number; df2: number; p: number } {
  const m = season;
  const none = { f: 0, df1: Math.max(0, m - 1), df2: 0, p: 1 };
  if (m < 2 || train.length < 2 * m) return none;
  const { start, trend } = centredMovingAverage(train, m);
  const sums = new Array<number>(m).fill(0);
  const counts = new Array<number>(m).fill(0);
  const d = trend.map((s, i) => train[start + i] - s);
  d.forEach((v, i) => {
    sums[(start + i) % m] += v;
    counts[(start + i) % m]++;
  });
  const mean = d.reduce((a, b) => a + b, 0) / d.length;
  let between = 0;
  let within = 0;
  d.forEach((v, i) => {
    const p = (start + i) % m;
    within += (v - sums[p] / counts[p]) ** 2;
  });
  for (let p = 0; p < m; p++) if (counts[p] > 0) between += counts[p] * (sums[p] / counts[p] - mean) ** 2;
  const groups = counts.filter((c) => c > 0).length;
  const df1 = groups - 1;
  const df2 = d.length - groups;
  if (df1 < 1 || df2 < 1) return none;
  if (within === 0) return { f: between > 0 ? Infinity : 0, df1, df2, p: between > 0 ? 0 : 1 };
  const f = between / df1 / (within / df2);
  // Neighbouring positions are not independent (a persistent series wanders smoothly within a cycle, and with two or
  // three cycles that wander looks like a season): shrink both degrees of freedom by the Greenhouse–Geisser ε of
  // the residuals' autocorrelation across positions (estimated from the within-position residuals, stationary).
  const e = d.map((v, i) => v - sums[(start + i) % m] / counts[(start + i) % m]);
  const eps = greenhouseGeisser(autocorrelations(e, m - 1));
  return { f, df1: eps * df1, df2: eps * df2, p: fUpperTail(f, eps * df1, eps * df2) };
}

/** ρ_0 … ρ_maxLag of a zero-mean series (the biased estimator; 0 beyond the data). */
function autocorrelations(e: readonly number[], maxLag: number): number[] {
  const n = e.length;
  let c0 = 0;
  for (const v of e) c0 += v * v;
  const out = [1];
  for (let k = 1; k <= maxLag; k++) {
    let c = 0;
    for (let t = k; t < n; t++) c += e[t] * e[t - k];
    out.push(c0 === 0 ? 0 : c / c0);
  }
  return out;
}

/**
 * Greenhouse–Geisser ε = tr(A)² / ((m−1) tr(A²)) for A = C R C, R the m×m Toeplitz correlation matrix of ρ and C
 * the centring matrix: 1 for independent positions, down to 1/(m−1) for perfectly correlated ones.
 */
export function greenhouseGeisser(rho: readonly number[]): number {
  const m = rho.length;
  if (m < 2) return 1;
  const r = (i: number, j: number): number => rho[Math.abs(i - j)];
  // Row means of R (= column means, R is symmetric) and the grand mean.
  const rowMean = Array.from({ length: m }, (_, i) => {
    let s = 0;
    for (let j = 0; j < m; j++) s += r(i, j);
    return s / m;
  });
  const grand = rowMean.reduce((a, b) => a + b, 0) / m;
  let trace = 0;
  let trace2 = 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < m; j++) {
      const a = r(i, j) - rowMean[i] - rowMean[j] + grand;
      if (i === j) trace += a;
      trace2 += a * a;
    }
  if (trace2 === 0) return 1;
  return Math.min(1, Math.max(1 / (m - 1), (trace * trace) / ((m - 1) * trace2)));
}

/** P(F_{d1,d2} > f) by Paulson's (1942) normal approximation (good to about 0.01 for d2 ≥ 3). */
export function fUpperTail(f: number, d1: number, d2: number): number {
  const a = 2 / (9 * d1);
  const b = 2 / (9 * d2);
  const c = Math.cbrt(f);
  const z = ((1 - b) * c - (1 - a)) / Math.sqrt(b * c * c + a);
  return 1 - normalCdf(z);
}

/** Φ(z), by the complementary error function (Numerical Recipes' erfc, relative error below 1.2e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const poly = ERFC_COEFFICIENTS.reduceRight((acc, c) => c + t * acc, 0);
  const erfc = t * Math.exp(-x * x + poly);
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}
const ERFC_COEFFICIENTS = [
  -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
  -0.82215223, 0.17087277,
];

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

/**
 * `forecast` (h points of a non-seasonal method) run on the seasonally adjusted training part, its forecast
 * reseasonalised: the M3 way of giving Theta, the damped trend and the like a season.
 */
export function onSeasonallyAdjusted(
  train: readonly number[],
  h: number,
  season: number,
  forecast: (adjusted: number[]) => number[],
): number[] {
  // On the series' own scale: the seasonality test's and the methods' sums underflow near 1e-160.
  const { scaled, back } = onOwnScale(train);
  const sa = fitSeasonalAdjustment(scaled, season);
  return back(reseasonalize(sa, train.length, forecast(adjust(sa, scaled))));
}
