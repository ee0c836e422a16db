/**
 * Preprocessing fitted on the training part only, and its exact inverse for forecasts:
 *   optional log → seasonal difference (lag s) or first difference → scaling (standard or min-max).
 * Forecasting differences makes the network learn changes (year-over-year growth) rather than levels, which is what
 * lets it beat the seasonal naive forecast on trending seasonal data.
 */
import { rootMeanSquare } from './metrics.js';

export type Scaling = 'standard' | 'minmax';
export type Differencing = 'none' | 'first' | 'seasonal';

export interface TransformSpec {
  log: boolean;
  differencing: Differencing;
  season: number;
  scaling: Scaling;
}

export interface FittedTransform extends TransformSpec {
  /** Scaling parameters: z = (x − center) / scale. */
  center: number;
  scale: number;
}

/** The points differencing takes off the start of a series (its lag). */
export function lag(spec: TransformSpec): number {
  return spec.differencing === 'seasonal' ? spec.season : spec.differencing === 'first' ? 1 : 0;
}

/** The natural log of every value; an error naming the first one that is not > 0 (0-based index). */
export function logValues(values: readonly number[]): number[] {
  const i = values.findIndex((v) => !(v > 0));
  if (i >= 0) throw new Error(`--log needs values > 0; value ${i + 1} of the series is ${values[i]}`);
  return values.map(Math.log);
}

function pre(values: readonly number[], spec: TransformSpec): number[] {
  const v = spec.log ? logValues(values) : [...values];
  const l = lag(spec);
  return l === 0 ? v : v.slice(l).map((x, i) => x - v[i]);
}

/**
 * The smallest and largest of `values` (±Infinity for none), by a loop: Math.min(...values) overflows the call stack
 * on a long series (hourly data for years).
 */
export function valueExtent(values: Iterable<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/**
 * The series divided by the size of its changes (the mean absolute first difference, at least 1e-12 of its largest
 * |value|; 1 for a series of zeros), and `back`, which multiplies a forecast of it back. A method fitted this way
 * gives x and c·x the same forecast up to c: the wasm libraries' and the optimisers' absolute tolerances otherwise
 * depend on the units (around 1e-100 ETS found a level of 0 and the seasonality tests' sums underflowed; below 1e-4
 * SARIMA chose other orders).
 */
export function onOwnScale(values: readonly number[]): {
  scaled: number[];
  back: (forecast: readonly number[]) => number[];
} {
  let change = 0;
  for (let t = 1; t < values.length; t++) change += Math.abs(values[t] - values[t - 1]);
  change /= Math.max(1, values.length - 1);
  const { min, max } = valueExtent(values);
  const largest = Math.max(Math.abs(min), Math.abs(max));
  const scale = Math.max(change, 1e-12 * largest) || 1;
  return { scaled: values.map((v) => v / scale), back: (f) => f.map((v) => v * scale) };
}

/** Fits the scaling on the training values; returns the transform and the transformed training series. */
export function fitTransform(
  train: readonly number[],
  spec: TransformSpec,
): { t: FittedTransform; z: number[] } {
  const d = pre(train, spec);
  if (d.length < 2) throw new Error('too few points left after differencing');
  let center: number;
  let scale: number;
  if (spec.scaling === 'minmax') {
    const { min, max } = valueExtent(d);
    center = min;
    scale = max - min || 1;
  } else {
    center = d.reduce((a, b) => a + b, 0) / d.length;
    scale = rootMeanSquare(d.map((x) => x - center)) || 1;
  }
  const t = { ...spec, center, scale };
  return { t, z: d.map((x) => (x - center) / scale) };
}

/** The transformed series of any history (with the fitted parameters). */
export function applyTransform(values: readonly number[], t: FittedTransform): number[] {
  return pre(values, t).map((x) => (x - t.center) / t.scale);
}

/** Turns forecasts of the transformed series (steps 1…H after history) back into values. */
export function invertForecast(
  history: readonly number[],
  zf: readonly number[],
  t: FittedTransform,
): number[] {
  const base = t.log ? history.map(Math.log) : [...history];
  const l = lag(t);
  const out = [...base];
  for (const z of zf) {
    const d = z * t.scale + t.center;
    out.push(l === 0 ? d : out[out.length - l] + d);
  }
  const f = out.slice(base.length);
  return t.log ? f.map(Math.exp) : f;
}

/** Season length by autocorrelation of the first differences (lags 2…24); 1 when nothing stands out. */
export function detectSeason(values: readonly number[]): number {
  const d = values.slice(1).map((v, i) => v - values[i]);
  const n = d.length;
  const mean = d.reduce((a, b) => a + b, 0) / n;
  const c0 = d.reduce((a, b) => a + (b - mean) ** 2, 0);
  if (c0 === 0) return 1;
  let best = 1;
  let bestAcf = 0.3;
  for (let lagK = 2; lagK <= Math.min(24, Math.floor(n / 3)); lagK++) {
    let c = 0;
    for (let t = lagK; t < n; t++) c += (d[t] - mean) * (d[t - lagK] - mean);
    const acf = c / c0;
    if (acf > bestAcf) {
      bestAcf = acf;
      best = lagK;
    }
  }
  return best;
}
