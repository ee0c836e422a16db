/**
 * The Theta method (Assimakopoulos & Nikolopoulos 2000), winner of the M3 competition, in the form Hyndman & Billah
 * (2003) showed it to be and R's forecast::thetaf implements: on the seasonally adjusted series (90% seasonality test,
 * classical multiplicative decomposition — seasonality.ts), simple exponential smoothing plus a drift of half the
 * slope of the linear trend; the forecast is then reseasonalised.
 */
import { onSeasonallyAdjusted } from './seasonality.js';

export interface SesFit {
  alpha: number;
  /** Initial level ℓ0. */
  level0: number;
  /** Level after the last point: the flat SES forecast. */
  level: number;
  sse: number;
}

/**
 * SES for one α, with the initial level that minimises the squared one-step errors. The one-step forecast of x_t is
 * (1−α)^t ℓ0 + c_t, linear in ℓ0, so the best ℓ0 is a least-squares fit.
 */
function sesAt(x: readonly number[], alpha: number): SesFit {
  const n = x.length;
  // c_t: the one-step forecast with ℓ0 = 0; w_t = (1−α)^t.
  let c = 0;
  let w = 1;
  let num = 0;
  let den = 0;
  const cs: number[] = [];
  const ws: number[] = [];
  for (let t = 0; t < n; t++) {
    cs.push(c);
    ws.push(w);
    num += (x[t] - c) * w;
    den += w * w;
    c = alpha * x[t] + (1 - alpha) * c;
    w *= 1 - alpha;
  }
  const level0 = num / den;
  let sse = 0;
  for (let t = 0; t < n; t++) sse += (x[t] - cs[t] - ws[t] * level0) ** 2;
  return { alpha, level0, level: c + w * level0, sse };
}

/** Simple exponential smoothing with α ∈ [0.0001, 0.9999] chosen by least squares (a grid, then golden section). */
export function fitSes(x: readonly number[]): SesFit {
  if (x.length < 2) throw new Error('SES needs at least 2 points');
  const lo = 1e-4;
  const hi = 0.9999;
  let best = sesAt(x, lo);
  const grid = 40;
  for (let i = 1; i <= grid; i++) {
    const f = sesAt(x, lo + ((hi - lo) * i) / grid);
    if (f.sse < best.sse) best = f;
  }
  // Refine inside the best grid cell's neighbourhood.
  let a = Math.max(lo, best.alpha - (hi - lo) / grid);
  let b = Math.min(hi, best.alpha + (hi - lo) / grid);
  const g = (Math.sqrt(5) - 1) / 2;
  for (let i = 0; i < 40; i++) {
    const x1 = b - g * (b - a);
    const x2 = a + g * (b - a);
    if (sesAt(x, x1).sse < sesAt(x, x2).sse) b = x2;
    else a = x1;
  }
  const f = sesAt(x, (a + b) / 2);
  return f.sse < best.sse ? f : best;
}

/** Least-squares slope of x against 0, 1, …, n−1. */
export function linearSlope(x: readonly number[]): number {
  const n = x.length;
  const tm = (n - 1) / 2;
  const xm = x.reduce((s, v) => s + v, 0) / n;
  let num = 0;
  let den = 0;
  for (let t = 0; t < n; t++) {
    num += (t - tm) * (x[t] - xm);
    den += (t - tm) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Theta forecast of the `h` points after `train`; `season` is used only if the seasonality test finds it. */
export function thetaForecast(train: readonly number[], h: number, season: number): number[] {
  if (train.length < 3) throw new Error(`Theta needs at least 3 points, got ${train.length}`);
  const out = onSeasonallyAdjusted(train, h, season, (x) => {
    const n = x.length;
    const ses = fitSes(x);
    const drift = linearSlope(x) / 2;
    const a = ses.alpha;
    // thetaf: ℓ_n + b/2 · (i + (1 − (1−α)^n) / α), i = 0 … h−1.
    const offset = (1 - (1 - a) ** n) / a;
    return Array.from({ length: h }, (_, i) => ses.level + drift * (i + offset));
  });
  if (out.some((v) => !Number.isFinite(v))) throw new Error('Theta produced a non-finite forecast');
  return out;
}
