/**
 * Additive damped-trend exponential smoothing (Gardner & McKenzie 1985; ETS(A,Ad,N)), the M3 competition's "DAMPED"
 * benchmark, on the seasonally adjusted series (the classical multiplicative decomposition Theta uses, applied only
 * when the 90% test finds the season; seasonality.ts), reseasonalised afterwards. In error-correction form:
 *
 *   ŷ_t = ℓ_{t−1} + φ b_{t−1},  e_t = y_t − ŷ_t,  ℓ_t = ŷ_t + α e_t,  b_t = φ b_{t−1} + β e_t,
 *   forecast h steps ahead: ℓ_n + (φ + φ² + … + φ^h) b_n.
 *
 * α, β (0 < β < α) and φ ∈ [0.8, 0.98] minimise the in-sample one-step squared errors (Nelder–Mead from the best
 * point of a coarse grid); for given (α, β, φ) the one-step forecasts are linear in the initial state (ℓ0, b0), so
 * the best initial state is an exact least-squares fit. Only the training part it is given is ever seen.
 */
import { onSeasonallyAdjusted } from './seasonality.js';

export interface DampedTrendFit {
  alpha: number;
  beta: number;
  phi: number;
  /** Initial level and trend ℓ0, b0. */
  level0: number;
  trend0: number;
  /** State after the last point. */
  level: number;
  trend: number;
  /** In-sample sum of squared one-step errors. */
  sse: number;
}

/** φ's range: the M3 damped benchmark's usual bounds (below 0.8 the trend is gone within a few steps). */
export const PHI_RANGE: readonly [number, number] = [0.8, 0.98];
const UNIT: readonly [number, number] = [1e-4, 0.9999];

/** The SSE-optimal initial state and the resulting fit for one (α, β, φ). */
export function dampedTrendAt(
  x: readonly number[],
  alpha: number,
  beta: number,
  phi: number,
): DampedTrendFit {
  // Three runs of the same linear recursion: on the data from a zero state (c), and on zeros from the unit states
  // (1, 0) and (0, 1) (w1, w2). The one-step forecast for any initial state is then c + ℓ0·w1 + b0·w2.
  const n = x.length;
  const c = new Float64Array(n);
  const w1 = new Float64Array(n);
  const w2 = new Float64Array(n);
  let [l0, b0, l1, b1, l2, b2] = [0, 0, 1, 0, 0, 1];
  for (let t = 0; t < n; t++) {
    const f0 = l0 + phi * b0;
    const f1 = l1 + phi * b1;
    const f2 = l2 + phi * b2;
    c[t] = f0;
    w1[t] = f1;
    w2[t] = f2;
    const e0 = x[t] - f0;
    [l0, b0] = [f0 + alpha * e0, phi * b0 + beta * e0];
    [l1, b1] = [f1 - alpha * f1, phi * b1 - beta * f1];
    [l2, b2] = [f2 - alpha * f2, phi * b2 - beta * f2];
  }
  // Normal equations of min Σ (x − c − ℓ0 w1 − b0 w2)², a 2×2 system (a tiny ridge keeps it solvable).
  let s11 = 0;
  let s12 = 0;
  let s22 = 0;
  let r1 = 0;
  let r2 = 0;
  for (let t = 0; t < n; t++) {
    const y = x[t] - c[t];
    s11 += w1[t] * w1[t];
    s12 += w1[t] * w2[t];
    s22 += w2[t] * w2[t];
    r1 += w1[t] * y;
    r2 += w2[t] * y;
  }
  const ridge = 1e-10 * (s11 + s22 + 1);
  s11 += ridge;
  s22 += ridge;
  const det = s11 * s22 - s12 * s12;
  const level0 = (s22 * r1 - s12 * r2) / det;
  const trend0 = (s11 * r2 - s12 * r1) / det;
  let sse = 0;
  for (let t = 0; t < n; t++) sse += (x[t] - c[t] - level0 * w1[t] - trend0 * w2[t]) ** 2;
  return {
    alpha,
    beta,
    phi,
    level0,
    trend0,
    level: l0 + level0 * l1 + trend0 * l2,
    trend: b0 + level0 * b1 + trend0 * b2,
    sse,
  };
}

/**
 * Nelder–Mead minimisation of f from x0 (standard coefficients: reflection 1, expansion 2, contraction and shrink
 * ½), stopping when the simplex's values differ by less than `tol` (relative) or after `maxIter` iterations.
 */
export function nelderMead(
  f: (x: readonly number[]) => number,
  x0: readonly number[],
  { step = 0.5, maxIter = 500, tol = 1e-10 }: { step?: number; maxIter?: number; tol?: number } = {},
): { x: number[]; value: number } {
  const d = x0.length;
  let simplex = [x0.slice(), ...x0.map((_, i) => x0.map((v, j) => (i === j ? v + step : v)))];
  let values = simplex.map(f);
  const towards = (a: readonly number[], b: readonly number[], t: number): number[] =>
    a.map((v, j) => v + t * (b[j] - v));
  for (let it = 0; it < maxIter; it++) {
    const order = values.map((_, i) => i).sort((i, j) => values[i] - values[j]);
    simplex = order.map((i) => simplex[i]);
    values = order.map((i) => values[i]);
    if (Math.abs(values[d] - values[0]) <= tol * (Math.abs(values[0]) + tol)) break;
    const centroid = simplex[0].map((_, j) => simplex.slice(0, d).reduce((s, p) => s + p[j], 0) / d);
    const worst = simplex[d];
    const reflected = towards(centroid, worst, -1);
    const fr = f(reflected);
    if (fr < values[0]) {
      const expanded = towards(centroid, worst, -2);
      const fe = f(expanded);
      [simplex[d], values[d]] = fe < fr ? [expanded, fe] : [reflected, fr];
    } else if (fr < values[d - 1]) {
      [simplex[d], values[d]] = [reflected, fr];
    } else {
      const inside = fr < values[d];
      const contracted = towards(centroid, inside ? reflected : worst, 0.5);
      const fc = f(contracted);
      if (fc < (inside ? fr : values[d])) [simplex[d], values[d]] = [contracted, fc];
      else
        for (let i = 1; i <= d; i++) {
          simplex[i] = towards(simplex[0], simplex[i], 0.5);
          values[i] = f(simplex[i]);
        }
    }
  }
  const best = values.indexOf(Math.min(...values));
  return { x: simplex[best], value: values[best] };
}

const logistic = (u: number): number => 1 / (1 + Math.exp(-u));
const logit = (p: number): number => Math.log(p / (1 - p));
/** u ∈ ℝ ↦ [lo, hi], and back: the optimiser searches an unbounded space. */
const toRange = (u: number, [lo, hi]: readonly [number, number]): number => lo + (hi - lo) * logistic(u);
const fromRange = (v: number, [lo, hi]: readonly [number, number]): number =>
  logit(Math.min(1 - 1e-9, Math.max(1e-9, (v - lo) / (hi - lo))));

/**
 * Fits α, β = α·β* (β* ∈ (0, 1), so 0 < β < α) and φ (in PHI_RANGE unless `phi` fixes it: 1 gives Holt's linear
 * trend) by least squares, the initial state exact for each.
 */
export function fitDampedTrend(x: readonly number[], { phi }: { phi?: number } = {}): DampedTrendFit {
  if (x.length < 4) throw new Error(`the damped trend needs at least 4 points, got ${x.length}`);
  const at = (a: number, bStar: number, p: number): DampedTrendFit => dampedTrendAt(x, a, a * bStar, p);
  const free = phi === undefined;
  const decode = (u: readonly number[]): [number, number, number] => [
    toRange(u[0], UNIT),
    toRange(u[1], UNIT),
    free ? toRange(u[2], PHI_RANGE) : phi,
  ];
  const encode = ([a, b, p]: readonly number[]): number[] =>
    free
      ? [fromRange(a, UNIT), fromRange(b, UNIT), fromRange(p, PHI_RANGE)]
      : [fromRange(a, UNIT), fromRange(b, UNIT)];
  const sse = (u: readonly number[]): number => at(...decode(u)).sse;
  // Starts from a coarse interior grid (the SSE surface has several basins: a trend carried by β or by a high α);
  // Nelder–Mead from the best three, then once more from the best end point (a simplex can collapse early).
  const grid: { u: number[]; sse: number }[] = [];
  for (const a of [0.05, 0.2, 0.4, 0.6, 0.8, 0.95])
    for (const b of [0.02, 0.1, 0.3, 0.6])
      for (const p of free ? [0.82, 0.9, 0.96] : [phi]) {
        const u = encode([a, b, p]);
        grid.push({ u, sse: sse(u) });
      }
  grid.sort((a, b) => a.sse - b.sse);
  let best = { x: grid[0].u, value: grid[0].sse };
  for (const g of grid.slice(0, 3)) {
    const r = nelderMead(sse, g.u);
    if (r.value < best.value) best = r;
  }
  const again = nelderMead(sse, best.x, { step: 0.2 });
  if (again.value < best.value) best = again;
  return at(...decode(best.x));
}

/** h-step forecasts of a fitted damped trend: ℓ_n + (φ + … + φ^h) b_n. */
export function dampedTrendForecast(fit: DampedTrendFit, h: number): number[] {
  const out: number[] = [];
  let sum = 0;
  let p = 1;
  for (let i = 0; i < h; i++) {
    p *= fit.phi;
    sum += p;
    out.push(fit.level + sum * fit.trend);
  }
  return out;
}

/** The damped-trend forecast of the `h` points after `train`, on the seasonally adjusted series. */
export function dampedForecast(train: readonly number[], h: number, season: number): number[] {
  const out = onSeasonallyAdjusted(train, h, season, (x) => dampedTrendForecast(fitDampedTrend(x), h));
  if (out.some((v) => !Number.isFinite(v)))
    throw new Error('the damped trend produced a non-finite forecast');
  return out;
}
